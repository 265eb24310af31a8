/* msb-db-write-script.c: msb_db_pools_write_script(), several statements in
 * one transaction
 *
 * The script is the body of an ordinary transaction job: the backend runs
 * its statements one by one, through the same authorizer as every write,
 * and the writer commits them together or rolls them all back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-backend.h"
#include "msb-db-connection-private.h"
#include "msb-db-job.h"
#include "msb-db-pools-private.h"

typedef struct
{
  char *sql;
  GCancellable *cancellable;
} Script;

static void
script_free (gpointer data)
{
  Script *script = data;

  g_free (script->sql);
  g_clear_object (&script->cancellable);
  g_free (script);
}

static gboolean
run_script_on (MsbDbBackendConn  *conn,
               gpointer           data,
               GError           **error)
{
  Script *script = data;

  return msb_db_backend_execute_script (conn, script->sql, script->cancellable, error);
}

static gboolean
script_body (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  return msb_db_connection_run (connection, run_script_on, user_data, error);
}

/* A transaction whose body is the script: it commits, or leaves nothing. */
static MsbDbJob *
new_script_job (MsbDbPools   *self,
                const char   *sql,
                GCancellable *cancellable)
{
  Script *script = g_new0 (Script, 1);

  script->sql = g_strdup (sql);
  script->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  return msb_db_job_new_callback (MSB_DB_JOB_TRANSACTION, script_body, script, script_free, self,
                                  cancellable, msb_db_pools_get_connect_timeout (self));
}

/**
 * msb_db_pools_write_script:
 * @self: a #MsbDbPools
 * @sql: one or more SQL statements, separated by semicolons
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs every statement of @sql in turn, in one transaction on the writer
 * thread, and waits for the outcome: all of them are committed, or, if one
 * fails, none (the error names the statement). Rows that statements
 * return are dropped. Made for setting up a schema; transaction control
 * (`BEGIN`, `COMMIT`, ...) is refused as in [method@MsbDb.Pools.write].
 *
 * Returns: %TRUE if every statement ran and was committed
 */
gboolean
msb_db_pools_write_script (MsbDbPools    *self,
                           const char    *sql,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(MsbDbJob) job = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (sql != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!msb_db_pools_check_may_block (self, "msb_db_pools_write_script", error) ||
      !msb_db_pools_check_writable (self, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  job = new_script_job (self, sql, cancellable);
  return msb_db_pools_submit_and_wait (self, job, NULL, error);
}

/**
 * msb_db_pools_write_script_async:
 * @self: a #MsbDbPools
 * @sql: one or more SQL statements, separated by semicolons
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the script is committed or failed
 * @user_data: (closure callback): data for @callback
 *
 * Queues [method@MsbDb.Pools.write_script] for the writer thread. Finish
 * with [method@MsbDb.Pools.write_script_finish].
 */
void
msb_db_pools_write_script_async (MsbDbPools          *self,
                                 const char          *sql,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MsbDbJob) job = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (sql != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = msb_db_pools_new_task (self, cancellable, callback, user_data,
                                msb_db_pools_write_script_async, "[msb-db] write_script");
  job = new_script_job (self, sql, cancellable);
  msb_db_pools_submit_async (self, job, task);
}

/**
 * msb_db_pools_write_script_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.write_script_async].
 *
 * Returns: %TRUE if every statement ran and was committed
 */
gboolean
msb_db_pools_write_script_finish (MsbDbPools    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_write_script_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
