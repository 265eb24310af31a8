/* msb-db-connection.c: the connection handed to transaction and snapshot callbacks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-connection-private.h"
#include "msb-db-error.h"

/**
 * MsbDbConnection:
 *
 * The connection a [callback@MsbDb.ConnectionFunc] runs its statements on:
 * the writer's connection inside [method@MsbDb.Pools.transaction], a read
 * connection inside [method@MsbDb.Pools.snapshot].
 *
 * It is lent for the duration of the callback only. Keeping a reference is
 * allowed, but any use after the callback returned fails with
 * %MSB_DB_ERROR_CLOSED; it never reaches the database.
 */

struct _MsbDbConnection
{
  GObject parent_instance;

  GMutex lock;               /* held while a statement runs */
  MsbDbBackendConn *conn;    /* NULL once the callback returned */
  GCancellable *cancellable;
  gboolean read_only;
};

G_DEFINE_FINAL_TYPE (MsbDbConnection, msb_db_connection, G_TYPE_OBJECT)

static void
msb_db_connection_finalize (GObject *object)
{
  MsbDbConnection *self = MSB_DB_CONNECTION (object);

  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (msb_db_connection_parent_class)->finalize (object);
}

static void
msb_db_connection_class_init (MsbDbConnectionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = msb_db_connection_finalize;
}

static void
msb_db_connection_init (MsbDbConnection *self)
{
  g_mutex_init (&self->lock);
}

MsbDbConnection *
msb_db_connection_new (MsbDbBackendConn *conn,
                       GCancellable     *cancellable)
{
  MsbDbConnection *self = g_object_new (MSB_DB_TYPE_CONNECTION, NULL);

  self->conn = conn;
  self->read_only = conn->mode == MSB_DB_CONN_READ_ONLY;
  self->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  return self;
}

/* Ends the loan: waits for a statement still running on another thread
 * (a misuse, but not a crash), then cuts the link. */
void
msb_db_connection_invalidate (MsbDbConnection *self)
{
  g_mutex_lock (&self->lock);
  self->conn = NULL;
  g_mutex_unlock (&self->lock);
}

/* For the library's own callbacks: runs @func with the backend connection
 * lent to @self, under the same lock and checks as execute(). */
gboolean
msb_db_connection_run (MsbDbConnection  *self,
                       gboolean        (*func) (MsbDbBackendConn *conn,
                                                gpointer          data,
                                                GError          **error),
                       gpointer          data,
                       GError          **error)
{
  gboolean ok = FALSE;

  g_mutex_lock (&self->lock);
  if (self->conn == NULL)
    g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                         "This connection was lent to a transaction or snapshot "
                         "callback that has returned; it can no longer be used");
  else
    ok = func (self->conn, data, error);
  g_mutex_unlock (&self->lock);
  return ok;
}

GCancellable *
msb_db_connection_get_cancellable (MsbDbConnection *self)
{
  return self->cancellable;
}

/**
 * msb_db_connection_execute:
 * @self: a #MsbDbConnection
 * @sql: one SQL statement
 * @params: (nullable): a tuple for positional parameters, an `a{sv}` for
 *   named ones, or %NULL; a floating reference is consumed
 * @error: return location for a #GError
 *
 * Runs one statement inside the transaction or snapshot of the callback
 * that received @self, and returns its result.
 *
 * Transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`, ...) is refused:
 * the library owns the transaction. Inside a snapshot, statements that
 * write fail with %MSB_DB_ERROR_READ_ONLY.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
MsbDbRows *
msb_db_connection_execute (MsbDbConnection  *self,
                           const char       *sql,
                           GVariant         *params,
                           GError          **error)
{
  g_autoptr(GVariant) owned_params = NULL;
  MsbDbRows *rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (params != NULL)
    owned_params = g_variant_ref_sink (params);

  g_mutex_lock (&self->lock);
  if (self->conn == NULL)
    g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                         "This connection was lent to a transaction or snapshot "
                         "callback that has returned; it can no longer be used");
  else
    rows = msb_db_backend_execute (self->conn, sql, owned_params, self->cancellable, error);
  g_mutex_unlock (&self->lock);

  return rows;
}

/**
 * msb_db_connection_is_read_only:
 * @self: a #MsbDbConnection
 *
 * Tells whether statements that write are refused on this connection.
 *
 * Returns: %TRUE inside a snapshot (a read connection), %FALSE inside a
 *   transaction
 */
gboolean
msb_db_connection_is_read_only (MsbDbConnection *self)
{
  g_return_val_if_fail (MSB_DB_IS_CONNECTION (self), TRUE);

  return self->read_only;
}
