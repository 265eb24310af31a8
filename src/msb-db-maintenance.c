/* msb-db-maintenance.c: VACUUM and checkpoints, run by the writer between batches
 *
 * Both need the write connection outside any transaction, which a write
 * or a transaction never has (the writer runs them inside its own): they
 * are maintenance jobs, which the writer runs in queue order between two
 * batches. Reads go on meanwhile, on their own connections.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-columns.h"
#include "msb-db-error.h"
#include "msb-db-maintenance.h"
#include "msb-db-pools-private.h"
#include "msb-db-rows-private.h"

static MsbDbJob *
new_maintenance_job (MsbDbPools           *self,
                     MsbDbMaintenanceFunc  func,
                     gpointer              data,
                     GDestroyNotify        data_free,
                     GCancellable         *cancellable)
{
  return msb_db_job_new_maintenance (func, data, data_free, cancellable,
                                     msb_db_pools_get_connect_timeout (self));
}

/* A blocking maintenance call: checks, queues, waits. */
static gboolean
run_blocking (MsbDbPools    *self,
              const char    *function,
              MsbDbJob      *job,
              MsbDbRows    **rows,
              GCancellable  *cancellable,
              GError       **error)
{
  if (!msb_db_pools_check_may_block (self, function, error) ||
      !msb_db_pools_check_writable (self, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return msb_db_pools_submit_and_wait (self, job, rows, error);
}

/* vacuum ------------------------------------------------------------------ */

static MsbDbRows *
vacuum_on_writer (MsbDbBackendConn  *conn,
                  gpointer           data,
                  GError           **error)
{
  GCancellable *cancellable = data;

  if (!msb_db_backend_vacuum (conn, cancellable, error))
    return NULL;
  return msb_db_backend_execute (conn, "PRAGMA page_count", NULL, NULL, error);
}

static MsbDbJob *
new_vacuum_job (MsbDbPools   *self,
                GCancellable *cancellable)
{
  return new_maintenance_job (self, vacuum_on_writer,
                              cancellable ? g_object_ref (cancellable) : NULL,
                              cancellable ? g_object_unref : NULL, cancellable);
}

/**
 * msb_db_pools_vacuum:
 * @self: a #MsbDbPools
 * @cancellable: (nullable): a #GCancellable; cancelling interrupts the
 *   VACUUM, which then changes nothing
 * @error: return location for a #GError
 *
 * Rebuilds the database file with SQLite's `VACUUM`: the free pages go,
 * the file shrinks, tables and indexes are stored in order again.
 *
 * `VACUUM` cannot run inside a transaction, so it fails when sent through
 * [method@MsbDb.Pools.write]. This runs it on the writer thread outside any
 * transaction, between two batches of writes, in queue order: writes
 * queued after it wait until it is done; reads go on meanwhile, on their
 * own snapshots. It needs free disk space of about twice the size of the
 * database, and holds the write lock of the database for as long as it
 * runs: other processes' writes wait (up to their busy timeout).
 *
 * Returns: %TRUE once the database was rebuilt
 */
gboolean
msb_db_pools_vacuum (MsbDbPools    *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(MsbDbJob) job = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  job = new_vacuum_job (self, cancellable);
  return run_blocking (self, "msb_db_pools_vacuum", job, &rows, cancellable, error);
}

/**
 * msb_db_pools_vacuum_async:
 * @self: a #MsbDbPools
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the database was rebuilt, or not
 * @user_data: (closure callback): data for @callback
 *
 * Queues a `VACUUM` for the writer thread, as [method@MsbDb.Pools.vacuum]
 * does. Finish with [method@MsbDb.Pools.vacuum_finish].
 */
void
msb_db_pools_vacuum_async (MsbDbPools          *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MsbDbJob) job = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = msb_db_pools_new_task (self, cancellable, callback, user_data,
                                msb_db_pools_vacuum_async, "[msb-db] vacuum");
  job = new_vacuum_job (self, cancellable);
  msb_db_pools_submit_async (self, job, task);
}

/**
 * msb_db_pools_vacuum_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.vacuum_async].
 *
 * Returns: %TRUE once the database was rebuilt
 */
gboolean
msb_db_pools_vacuum_finish (MsbDbPools    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_vacuum_async, FALSE);

  rows = g_task_propagate_pointer (G_TASK (result), error);
  return rows != NULL;
}

/* checkpoint -------------------------------------------------------------- */

typedef struct
{
  MsbDbCheckpointMode mode;
  GTimeSpan max_wait;
} Checkpoint;

/* The outcome travels as a result of one row: log_frames, checkpointed_frames. */
static MsbDbRows *
frames_result (gint log_frames,
               gint checkpointed_frames)
{
  static const char * const names[] = { "log_frames", "checkpointed_frames" };
  g_autoptr(MsbDbColumns) columns = msb_db_columns_new (G_N_ELEMENTS (names), names);
  MsbDbRows *rows = msb_db_rows_new (columns);

  msb_db_rows_append_int64 (rows, log_frames);
  msb_db_rows_append_int64 (rows, checkpointed_frames);
  msb_db_rows_seal (rows, 0, 0);
  return rows;
}

static MsbDbRows *
checkpoint_on_writer (MsbDbBackendConn  *conn,
                      gpointer           data,
                      GError           **error)
{
  Checkpoint *checkpoint = data;
  gint log_frames = 0, checkpointed_frames = 0;

  if (!msb_db_backend_checkpoint_counted (conn, checkpoint->mode, checkpoint->max_wait,
                                          &log_frames, &checkpointed_frames, error))
    return NULL;
  return frames_result (log_frames, checkpointed_frames);
}

static MsbDbJob *
new_checkpoint_job (MsbDbPools          *self,
                    MsbDbCheckpointMode  mode,
                    GCancellable        *cancellable)
{
  Checkpoint *checkpoint = g_new0 (Checkpoint, 1);

  checkpoint->mode = mode;
  /* Waiting for other processes' readers and writers is what the busy
   * timeout is for. */
  checkpoint->max_wait = msb_db_pools_get_busy_timeout (self);
  return new_maintenance_job (self, checkpoint_on_writer, checkpoint, g_free, cancellable);
}

static void
frames_from_result (MsbDbRows *rows,
                    gint      *log_frames,
                    gint      *checkpointed_frames)
{
  if (log_frames != NULL)
    *log_frames = (gint) msb_db_rows_get_int64 (rows, 0, 0);
  if (checkpointed_frames != NULL)
    *checkpointed_frames = (gint) msb_db_rows_get_int64 (rows, 0, 1);
}

/**
 * msb_db_pools_checkpoint:
 * @self: a #MsbDbPools
 * @mode: how far to go, as SQLite's checkpoint modes
 * @log_frames: (out) (optional): the number of pages (frames) in the
 *   write-ahead log
 * @checkpointed_frames: (out) (optional): how many of them are now in the
 *   database file
 * @cancellable: (nullable): a #GCancellable; a checkpoint cancelled while
 *   it waits for its turn never runs
 * @error: return location for a #GError
 *
 * Copies the pages of the write-ahead log (the `-wal` file) back into the
 * database file, on the writer thread between two batches of writes.
 * `PRAGMA wal_checkpoint` sent through [method@MsbDb.Pools.write] cannot
 * do this (it fails with `SQLITE_LOCKED`: the writer's own transaction is
 * open).
 *
 * The writer already checkpoints by itself, so that the log stays
 * bounded; call this to make the database file complete now (before
 * copying it with a tool that ignores the `-wal` file) or to give the
 * log's disk space back (%MSB_DB_CHECKPOINT_TRUNCATE).
 *
 * Every mode but %MSB_DB_CHECKPOINT_PASSIVE waits for the locks it needs
 * up to #MsbDbPools:busy-timeout, with the usual retries; a reader (in any
 * process) still reading an old snapshot of the log makes
 * %MSB_DB_CHECKPOINT_RESTART and %MSB_DB_CHECKPOINT_TRUNCATE fail with
 * %MSB_DB_ERROR_BUSY in the end, after copying what it could.
 *
 * Returns: %TRUE if the checkpoint did all its @mode asks
 */
gboolean
msb_db_pools_checkpoint (MsbDbPools           *self,
                         MsbDbCheckpointMode   mode,
                         gint                 *log_frames,
                         gint                 *checkpointed_frames,
                         GCancellable         *cancellable,
                         GError              **error)
{
  g_autoptr(MsbDbJob) job = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (mode <= MSB_DB_CHECKPOINT_TRUNCATE, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  job = new_checkpoint_job (self, mode, cancellable);
  if (!run_blocking (self, "msb_db_pools_checkpoint", job, &rows, cancellable, error))
    return FALSE;
  frames_from_result (rows, log_frames, checkpointed_frames);
  return TRUE;
}

/**
 * msb_db_pools_checkpoint_async:
 * @self: a #MsbDbPools
 * @mode: how far to go, as SQLite's checkpoint modes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the checkpoint is done, or failed
 * @user_data: (closure callback): data for @callback
 *
 * Queues a checkpoint for the writer thread, as
 * [method@MsbDb.Pools.checkpoint] does. Finish with
 * [method@MsbDb.Pools.checkpoint_finish].
 */
void
msb_db_pools_checkpoint_async (MsbDbPools          *self,
                               MsbDbCheckpointMode  mode,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MsbDbJob) job = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (mode <= MSB_DB_CHECKPOINT_TRUNCATE);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = msb_db_pools_new_task (self, cancellable, callback, user_data,
                                msb_db_pools_checkpoint_async, "[msb-db] checkpoint");
  job = new_checkpoint_job (self, mode, cancellable);
  msb_db_pools_submit_async (self, job, task);
}

/**
 * msb_db_pools_checkpoint_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @log_frames: (out) (optional): the number of pages (frames) in the
 *   write-ahead log
 * @checkpointed_frames: (out) (optional): how many of them are now in the
 *   database file
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.checkpoint_async].
 *
 * Returns: %TRUE if the checkpoint did all its mode asks
 */
gboolean
msb_db_pools_checkpoint_finish (MsbDbPools    *self,
                                GAsyncResult  *result,
                                gint          *log_frames,
                                gint          *checkpointed_frames,
                                GError       **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_checkpoint_async,
                        FALSE);

  rows = g_task_propagate_pointer (G_TASK (result), error);
  if (rows == NULL)
    return FALSE;
  frames_from_result (rows, log_frames, checkpointed_frames);
  return TRUE;
}
