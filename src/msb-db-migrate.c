/* msb-db-migrate.c: schema migrations, numbered by PRAGMA user_version
 *
 * A migration is one maintenance job on the writer thread. It first reads
 * the version without taking the write lock, which is all a program
 * starting against an up-to-date database pays. Then each pending step
 * runs in its own `BEGIN IMMEDIATE` transaction, which reads the version
 * again once it holds the write lock, runs the step and sets the next
 * version: when several processes migrate the same file at once, each
 * waits for the lock in turn and finds the work of the one before done.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-error.h"
#include "msb-db-migrate.h"
#include "msb-db-pools-private.h"

typedef struct
{
  char **steps;
  guint n_steps;
  GCancellable *cancellable;
} Migration;

static void
migration_free (Migration *migration)
{
  g_strfreev (migration->steps);
  g_clear_object (&migration->cancellable);
  g_free (migration);
}

static gboolean
read_version (MsbDbBackendConn  *conn,
              gint              *version,
              GError           **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_backend_execute (conn, "PRAGMA user_version", NULL, NULL, error);

  if (rows == NULL)
    return FALSE;
  *version = (gint) msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

/* The version the steps reach, or an error if the database is outside
 * what they know. */
static gboolean
check_version (Migration  *migration,
               gint        version,
               GError    **error)
{
  if (version < 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "The database's user_version is %d: its schema was not made by "
                   "migration steps (they count up from 0); nothing was changed", version);
      return FALSE;
    }
  if ((guint) version > migration->n_steps)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SCHEMA_TOO_NEW,
                   "The database's schema is at version %d, newer than the %u migration "
                   "step(s) this program knows: it was last migrated by a newer version "
                   "of the program; nothing was changed", version, migration->n_steps);
      return FALSE;
    }
  return TRUE;
}

/* Inside the transaction: the step that takes @version to @version + 1,
 * and the version bump with it. */
static gboolean
apply_step (MsbDbBackendConn  *conn,
            Migration         *migration,
            gint               version,
            GError           **error)
{
  g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
  g_autoptr(MsbDbRows) rows = NULL;

  if (!msb_db_backend_execute_script (conn, migration->steps[version], migration->cancellable,
                                      error))
    {
      g_prefix_error (error, "Migration step %d of %u (schema version %d to %d) failed and was "
                      "rolled back; the steps before it stay applied: ",
                      version + 1, migration->n_steps, version, version + 1);
      return FALSE;
    }
  rows = msb_db_backend_execute (conn, bump, NULL, NULL, error);
  return rows != NULL;
}

/* One transaction: the next pending step, if any. *@reached is the version
 * found, or the one reached. */
static gboolean
migrate_one (MsbDbBackendConn  *conn,
             Migration         *migration,
             gint              *reached,
             GError           **error)
{
  gint version = 0;

  if (!msb_db_backend_control (conn, MSB_DB_TX_BEGIN_IMMEDIATE, error))
    return FALSE;
  if (!read_version (conn, &version, error) ||
      !check_version (migration, version, error) ||
      ((guint) version < migration->n_steps && !apply_step (conn, migration, version, error)))
    {
      msb_db_backend_control (conn, MSB_DB_TX_ROLLBACK, NULL);
      return FALSE;
    }
  /* Another process may have done every step meanwhile: then this
   * transaction wrote nothing, and its COMMIT costs nothing. */
  if (!msb_db_backend_control (conn, MSB_DB_TX_COMMIT, error))
    {
      msb_db_backend_control (conn, MSB_DB_TX_ROLLBACK, NULL);
      return FALSE;
    }
  *reached = (guint) version < migration->n_steps ? version + 1 : version;
  return TRUE;
}

/* The maintenance job. On busy the writer runs it again from the start,
 * which is safe: each step is applied by the transaction that bumps the
 * version. */
static MsbDbRows *
migrate_on_writer (MsbDbBackendConn  *conn,
                   gpointer           data,
                   GError           **error)
{
  Migration *migration = data;
  gint version = 0;

  if (!read_version (conn, &version, error) || !check_version (migration, version, error))
    return NULL;
  while ((guint) version < migration->n_steps)
    {
      if (g_cancellable_set_error_if_cancelled (migration->cancellable, error))
        {
          g_prefix_error (error, "The migration stopped at schema version %d: ", version);
          return NULL;
        }
      if (!migrate_one (conn, migration, &version, error))
        return NULL;
    }
  return msb_db_backend_execute (conn, "PRAGMA user_version", NULL, NULL, error);
}

static MsbDbJob *
new_migration_job (MsbDbPools         *self,
                   const char * const *steps,
                   GCancellable       *cancellable)
{
  Migration *migration = g_new0 (Migration, 1);

  migration->steps = g_strdupv ((char **) steps);
  migration->n_steps = g_strv_length (migration->steps);
  migration->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  return msb_db_job_new_maintenance (migrate_on_writer, migration,
                                     (GDestroyNotify) migration_free, cancellable,
                                     msb_db_pools_get_connect_timeout (self));
}

/**
 * msb_db_pools_migrate:
 * @self: a #MsbDbPools
 * @steps: (array zero-terminated=1): the migration steps: `steps[i]` is
 *   the SQL (one or more statements) that takes the schema from version
 *   `i` to version `i + 1`
 * @cancellable: (nullable): a #GCancellable; checked before each step
 * @error: return location for a #GError
 *
 * Brings the database's schema to the version the program knows, the
 * number of @steps. The version is SQLite's `PRAGMA user_version` (0 in a
 * new database).
 *
 * Each pending step runs on the writer thread in one transaction together
 * with the version bump: it is applied completely or not at all. A step
 * that fails is rolled back, the steps before it stay applied, and the
 * error names the step (counted from 1) and the SQL error. Transaction
 * control and `VACUUM` cannot be used in a step. Since a step that fails
 * leaves the database at the version before it, the migration can be
 * tried again once the step is fixed.
 *
 * Several processes may migrate the same file at the same time: each
 * step is applied exactly once, by whichever process takes the write lock
 * first; the others wait for it (up to #MsbDbPools:busy-timeout, with the
 * usual retries), find the step done, and succeed too.
 *
 * A database whose version is higher than the number of @steps was
 * migrated by a newer program: the call fails with
 * %MSB_DB_ERROR_SCHEMA_TOO_NEW and changes nothing, so that an old program
 * never writes into a schema it does not know.
 *
 * Listeners of [signal@MsbDb.Pools::changed] hear of each step as a
 * change of every table.
 *
 * Returns: %TRUE once the schema is at version `g_strv_length (steps)`
 *   (see [method@MsbDb.Pools.get_schema_version])
 */
gboolean
msb_db_pools_migrate (MsbDbPools          *self,
                      const char * const  *steps,
                      GCancellable        *cancellable,
                      GError             **error)
{
  g_autoptr(MsbDbJob) job = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (steps != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!msb_db_pools_check_may_block (self, "msb_db_pools_migrate", error) ||
      !msb_db_pools_check_writable (self, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  job = new_migration_job (self, steps, cancellable);
  return msb_db_pools_submit_and_wait (self, job, &rows, error);
}

/**
 * msb_db_pools_migrate_async:
 * @self: a #MsbDbPools
 * @steps: (array zero-terminated=1): the migration steps, as for
 *   [method@MsbDb.Pools.migrate]; copied
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the schema is migrated, or not
 * @user_data: (closure callback): data for @callback
 *
 * Migrates the schema on the writer thread, as
 * [method@MsbDb.Pools.migrate] does. Finish with
 * [method@MsbDb.Pools.migrate_finish].
 */
void
msb_db_pools_migrate_async (MsbDbPools          *self,
                            const char * const  *steps,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MsbDbJob) job = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (steps != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = msb_db_pools_new_task (self, cancellable, callback, user_data,
                                msb_db_pools_migrate_async, "[msb-db] migrate");
  job = new_migration_job (self, steps, cancellable);
  msb_db_pools_submit_async (self, job, task);
}

/**
 * msb_db_pools_migrate_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.migrate_async].
 *
 * Returns: %TRUE once the schema is at the version of the last step
 */
gboolean
msb_db_pools_migrate_finish (MsbDbPools    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_migrate_async, FALSE);

  rows = g_task_propagate_pointer (G_TASK (result), error);
  return rows != NULL;
}

/**
 * msb_db_pools_get_schema_version:
 * @self: a #MsbDbPools
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the schema version, SQLite's `PRAGMA user_version`: the number of
 * migration steps applied by [method@MsbDb.Pools.migrate] (0 in a new
 * database). Works on read-only pools too.
 *
 * Returns: the version, or -1 with @error set
 */
gint
msb_db_pools_get_schema_version (MsbDbPools    *self,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  rows = msb_db_pools_read (self, "PRAGMA user_version", NULL, cancellable, error);
  if (rows == NULL)
    return -1;
  return (gint) msb_db_rows_get_int64 (rows, 0, 0);
}
