/* msb-db-body.c: transaction and snapshot bodies named by a number, for bindings
 *
 * A binding that hands [method@MsbDb.Pools.transaction] a function of its
 * language makes a native closure for every call; PyGObject 3.42 leaks one
 * (about 130 bytes) each time. Instead the binding registers one function
 * per pools, for their lifetime, and each call names its body by a number
 * that the function looks up.
 *
 * The registered function lives in the pools' qdata, in a reference-counted
 * holder: a call in flight keeps the holder it started with, so replacing
 * the function never pulls it from under a running body.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-body.h"
#include "msb-db-body-private.h"
#include "msb-db-error.h"

typedef struct
{
  MsbDbBodyFunc func;
  gpointer user_data;
  GDestroyNotify notify;
} Holder;

typedef struct
{
  Holder *holder;       /* a reference */
  guint64 body;
} BoundBody;

G_DEFINE_QUARK (msb-db-body-func, msb_db_body_func)

static void
holder_clear (Holder *holder)
{
  if (holder->notify != NULL)
    holder->notify (holder->user_data);
}

static void
holder_unref (gpointer holder)
{
  g_atomic_rc_box_release_full (holder, (GDestroyNotify) holder_clear);
}

static gpointer
holder_ref (gpointer holder,
            gpointer unused)
{
  return holder != NULL ? g_atomic_rc_box_acquire (holder) : NULL;
}

static void
bound_body_free (gpointer data)
{
  BoundBody *bound = data;

  holder_unref (bound->holder);
  g_free (bound);
}

static gboolean
run_bound_body (MsbDbConnection  *connection,
                gpointer          data,
                GError          **error)
{
  BoundBody *bound = data;

  return bound->holder->func (connection, bound->body, bound->holder->user_data, error);
}

/**
 * msb_db_pools_set_body_func:
 * @self: a #MsbDbPools
 * @func: (scope notified) (closure user_data) (destroy notify): runs the
 *   bodies named by a number
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once @func will not run again
 *
 * Registers the function that runs the transaction and snapshot bodies
 * named by a number ([method@MsbDb.Pools.transaction_body] and the
 * others), for as long as @self lives. Meant for language bindings:
 * registered once, it costs no native closure per call.
 *
 * Setting another function replaces it for the calls made afterwards;
 * calls already started finish with the old one, and @notify runs for the
 * old @user_data when the last of them is done (on the thread that ran
 * it), or at once. It also runs when @self is finalized.
 */
void
msb_db_pools_set_body_func (MsbDbPools     *self,
                            MsbDbBodyFunc   func,
                            gpointer        user_data,
                            GDestroyNotify  notify)
{
  Holder *holder;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (func != NULL);

  holder = g_atomic_rc_box_new0 (Holder);
  holder->func = func;
  holder->user_data = user_data;
  holder->notify = notify;
  g_object_set_qdata_full (G_OBJECT (self), msb_db_body_func_quark (), holder, holder_unref);
}

/* The MsbDbConnectionFunc, its data and their destroy notify that run
 * body @body of @pools; FALSE with @error set if @pools have no body
 * function yet. */
gboolean
msb_db_body_bind (MsbDbPools           *pools,
                  guint64               body,
                  MsbDbConnectionFunc  *func,
                  gpointer             *data,
                  GDestroyNotify       *notify,
                  GError              **error)
{
  Holder *holder = g_object_dup_qdata (G_OBJECT (pools), msb_db_body_func_quark (), holder_ref, NULL);
  BoundBody *bound;

  if (holder == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "A body was named by a number, but these pools have no "
                           "function to run it: call msb_db_pools_set_body_func() first");
      return FALSE;
    }
  bound = g_new (BoundBody, 1);
  bound->holder = holder;
  bound->body = body;
  *func = run_bound_body;
  *data = bound;
  *notify = bound_body_free;
  return TRUE;
}

typedef gboolean (*RunFunc) (MsbDbPools *, MsbDbConnectionFunc, gpointer,
                             GCancellable *, GError **);

static gboolean
run_numbered (MsbDbPools    *self,
              RunFunc        run,
              guint64        body,
              GCancellable  *cancellable,
              GError       **error)
{
  MsbDbConnectionFunc func;
  GDestroyNotify notify;
  gpointer data;
  gboolean ok;

  if (!msb_db_body_bind (self, body, &func, &data, &notify, error))
    return FALSE;
  ok = run (self, func, data, cancellable, error);
  notify (data);
  return ok;
}

/**
 * msb_db_pools_transaction_body:
 * @self: a #MsbDbPools
 * @body: the number of the body, given to the function registered with
 *   [method@MsbDb.Pools.set_body_func]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a transaction as [method@MsbDb.Pools.transaction] does, whose body
 * is the registered function called with @body. Without a registered
 * function it fails with %MSB_DB_ERROR_FAILED.
 *
 * Returns: %TRUE if the transaction committed
 */
gboolean
msb_db_pools_transaction_body (MsbDbPools    *self,
                               guint64        body,
                               GCancellable  *cancellable,
                               GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_numbered (self, msb_db_pools_transaction, body, cancellable, error);
}

/**
 * msb_db_pools_snapshot_body:
 * @self: a #MsbDbPools
 * @body: the number of the body, given to the function registered with
 *   [method@MsbDb.Pools.set_body_func]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a snapshot as [method@MsbDb.Pools.snapshot] does, whose body is the
 * registered function called with @body. Without a registered function it
 * fails with %MSB_DB_ERROR_FAILED.
 *
 * Returns: %TRUE if the body returned %TRUE
 */
gboolean
msb_db_pools_snapshot_body (MsbDbPools    *self,
                            guint64        body,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_numbered (self, msb_db_pools_snapshot, body, cancellable, error);
}
