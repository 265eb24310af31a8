/* msb-db-writer.c: the one thread that writes
 *
 * The writer thread owns the only write connection of the process and
 * takes jobs from a GAsyncQueue in order. Jobs that are already waiting
 * when it starts a transaction join it (group commit): a transaction or a
 * write of many rows runs inside its own SAVEPOINT, a write of one
 * statement needs none (SQLite undoes a failed statement), so a job that
 * fails is rolled back alone, and nobody hears of success before the
 * COMMIT. A lone job never waits for company.
 *
 * SQLite sometimes ends the whole transaction because of one statement
 * (OR ROLLBACK, RAISE(ROLLBACK), an interrupted write, a full disk): that
 * job fails alone, and the others of its batch, which did nothing wrong,
 * run again in a new transaction.
 *
 * A blocking single-statement write that finds the writer idle and its
 * queue empty does not wait for the thread: two thread hand-offs cost far
 * more than the write. Its caller runs it itself, on its own thread, with
 * the write connection, which `conn_lock` gives to one user at a time (the
 * writer thread holds it for a whole batch). It is still run in queue
 * order: only when nothing is queued and nothing runs. Transaction bodies
 * always run on the writer thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-connection-private.h"
#include "msb-db-error.h"
#include "msb-db-writer.h"

/* A batch stops growing at this many jobs or after this long, so that a
 * flood of writes still commits (and lets checkpoints run) regularly. */
#define MAX_BATCH_JOBS 256
#define MAX_BATCH_TIME (20 * G_TIME_SPAN_MILLISECOND)

/* WAL policy. SQLite's autocheckpoint is passive: it cannot finish while
 * readers hold older snapshots, and a log that never finishes a checkpoint
 * never restarts, so with readers always active it grows without bound.
 * Instead, after a batch that left the log at CHECKPOINT_FRAMES pages or
 * more, the writer runs a RESTART checkpoint that waits for readers of
 * older snapshots to finish, at most CHECKPOINT_WAIT (readers that start
 * once the log is fully copied read the database file and do not stand in
 * the way). Readers in a tight loop can still beat its lock attempts; so
 * if that fails, the next attempt holds this process's new reads while it
 * waits for the running ones to finish, as long as the reader judges
 * reasons (twice its typical read).
 *
 * A reader that holds a snapshot for long (a long query, a slow snapshot
 * callback, a reader in another process) cannot be helped: the log cannot
 * restart before it ends. Holding everybody else's reads for it would only
 * stall them. So the reader declines to hold when one of its reads is
 * already a long one; and after a held attempt failed anyway (a reader in
 * another process), the next held attempt comes GATE_BACKOFF later,
 * doubling up to GATE_BACKOFF_MAX while it keeps failing. Meanwhile the
 * writer retries the plain checkpoint every CHECKPOINT_RETRY; the log
 * grows until the reader ends (counted in checkpoints_blocked).
 * journal_size_limit trims the file after a restart; close truncates it. */
#define CHECKPOINT_FRAMES 1000
#define CHECKPOINT_WAIT (10 * G_TIME_SPAN_MILLISECOND)
#define CHECKPOINT_RETRY (100 * G_TIME_SPAN_MILLISECOND)
#define GATE_BACKOFF (250 * G_TIME_SPAN_MILLISECOND)
#define GATE_BACKOFF_MAX (8 * G_TIME_SPAN_SECOND)
#define WAL_SIZE_SAMPLE_INTERVAL (100 * G_TIME_SPAN_MILLISECOND)

struct _MsbDbWriter
{
  MsbDbBackendConn *conn;
  MsbDbCounters *counters;
  MsbDbRetryPolicy policy;
  MsbDbReaderGate gate;
  gpointer gate_data;
  GDestroyNotify gate_data_free;

  GAsyncQueue *queue;         /* of MsbDbJob; the writer itself marks the end */
  GThread *thread;
  /* Under the queue's lock (GAsyncQueue's own length counts the threads
   * waiting in it too): */
  guint queued;               /* items in the queue */
  gboolean running;           /* the thread took a job and has not finished
                               * its batch */
  GMutex conn_lock;           /* whoever uses `conn` holds it */

  GMutex lock;
  gint accepting;             /* atomic */

  MsbDbWriterHook hook;       /* set before the first job */
  gpointer hook_data;
  GDestroyNotify hook_data_free;

  gint64 next_checkpoint;     /* not before this, after a failed one */
  gint64 next_gate;           /* no held attempt before this */
  GTimeSpan gate_backoff;     /* after a held attempt failed */
  gint64 last_wal_sample;
};

static void
writer_clear (MsbDbWriter *self)
{
  g_assert (self->conn == NULL);
  if (self->gate_data_free != NULL)
    self->gate_data_free (self->gate_data);
  if (self->hook_data_free != NULL)
    self->hook_data_free (self->hook_data);
  g_async_queue_unref (self->queue);
  msb_db_counters_unref (self->counters);
  g_mutex_clear (&self->conn_lock);
  g_mutex_clear (&self->lock);
}

void
msb_db_writer_unref (MsbDbWriter *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) writer_clear);
}

/* Around each unit of work (see MsbDbWriterHook). */
static void
call_hook (MsbDbWriter *self,
           gboolean     done)
{
  if (self->hook != NULL)
    self->hook (self->hook_data, self->conn, done);
}

/* Running one job ------------------------------------------------------- */

static gboolean
run_transaction_callback (MsbDbWriter *self,
                          MsbDbJob    *job)
{
  g_autoptr(MsbDbConnection) connection = NULL;
  GError *error = NULL;
  gboolean ok;

  connection = msb_db_connection_new (self->conn, msb_db_job_get_cancellable (job));
  ok = msb_db_job_run_callback (job, connection, &error);
  msb_db_connection_invalidate (connection);

  if (!ok && error == NULL)
    error = g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                                 "The transaction callback returned FALSE without setting an error");
  if (ok && error != NULL)
    {
      g_warning ("A transaction callback returned TRUE but set an error: %s", error->message);
      g_clear_error (&error);
    }
  if (error != NULL)
    msb_db_job_set_error (job, error);
  return ok;
}

static gboolean
run_job (MsbDbWriter *self,
         MsbDbJob    *job)
{
  GError *error = NULL;
  MsbDbRows *rows;

  if (msb_db_job_get_kind (job) == MSB_DB_JOB_TRANSACTION)
    return run_transaction_callback (self, job);

  if (msb_db_job_get_kind (job) == MSB_DB_JOB_WRITE_MANY)
    rows = msb_db_backend_execute_many (self->conn, msb_db_job_get_sql (job),
                                        msb_db_job_get_params (job),
                                        msb_db_job_get_cancellable (job), &error);
  else
    rows = msb_db_backend_execute (self->conn, msb_db_job_get_sql (job),
                                   msb_db_job_get_params (job),
                                   msb_db_job_get_cancellable (job), &error);
  if (rows == NULL)
    {
      msb_db_job_set_error (job, error);
      return FALSE;
    }
  msb_db_job_set_rows (job, rows);
  return TRUE;
}

typedef enum {
  JOB_DONE,           /* the job succeeded or failed on its own */
  JOB_LOST_BATCH,     /* the job failed and SQLite rolled back the whole
                       * transaction with it: the job fails alone, the
                       * others must run again */
  BATCH_FAILED,       /* the whole transaction must be rolled back */
} JobOutcome;

/* After a job failed: the job keeps its error and the batch goes on without
 * it, unless busy (retry everything) or SQLite ended the transaction. */
static JobOutcome
undo_failed_job (MsbDbWriter  *self,
                 MsbDbJob     *job,
                 GError      **batch_error)
{
  const GError *error = msb_db_job_get_error (job);

  if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    {
      g_propagate_error (batch_error, g_error_copy (error));
      return BATCH_FAILED;
    }
  if (!msb_db_backend_in_transaction (self->conn))
    return JOB_LOST_BATCH;
  if (!msb_db_backend_control (self->conn, MSB_DB_TX_ROLLBACK_TO, batch_error) ||
      !msb_db_backend_control (self->conn, MSB_DB_TX_RELEASE, batch_error))
    return BATCH_FAILED;
  return JOB_DONE;
}

/* Runs @job inside its own savepoint. A job that fails, or that leaves a
 * deferred constraint violated (the backend refuses to release its
 * savepoint then), is rolled back to the savepoint and keeps its error. */
static JobOutcome
run_job_in_savepoint (MsbDbWriter  *self,
                      MsbDbJob     *job,
                      GError      **batch_error)
{
  GError *release_error = NULL;

  msb_db_job_reset_outcome (job);

  if (!msb_db_backend_control (self->conn, MSB_DB_TX_SAVEPOINT, batch_error))
    return BATCH_FAILED;

  if (run_job (self, job))
    {
      if (msb_db_backend_control (self->conn, MSB_DB_TX_RELEASE, &release_error))
        return JOB_DONE;
      /* A body that said TRUE after SQLite rolled its transaction back,
       * or a deferred violation: the job fails after all. */
      msb_db_job_reset_outcome (job);
      msb_db_job_set_error (job, release_error);
    }
  return undo_failed_job (self, job, batch_error);
}

/* Runs @job, one statement, with no savepoint of its own: SQLite undoes a
 * failed statement by itself. When it cannot (the transaction is gone, a
 * failed statement's earlier changes stayed, a deferred constraint is left
 * violated: the backend says so at END_JOB), the job fails and the batch
 * is run again without it. Two statements fewer per write. */
static JobOutcome
run_statement_job (MsbDbWriter  *self,
                   MsbDbJob     *job,
                   GError      **batch_error)
{
  GError *end_error = NULL;
  gboolean ok;

  msb_db_job_reset_outcome (job);
  ok = run_job (self, job);
  if (!ok && g_error_matches (msb_db_job_get_error (job), MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    {
      g_propagate_error (batch_error, g_error_copy (msb_db_job_get_error (job)));
      return BATCH_FAILED;
    }
  if (!msb_db_backend_in_transaction (self->conn))
    return JOB_LOST_BATCH;
  if (!msb_db_backend_control (self->conn, MSB_DB_TX_END_JOB, &end_error))
    {
      if (ok)
        {
          msb_db_job_reset_outcome (job);
          msb_db_job_set_error (job, end_error);
        }
      else
        g_error_free (end_error);
      return JOB_LOST_BATCH;
    }
  return JOB_DONE;
}

static JobOutcome
run_batched_job (MsbDbWriter  *self,
                 MsbDbJob     *job,
                 GError      **batch_error)
{
  if (msb_db_job_get_kind (job) == MSB_DB_JOB_WRITE)
    return run_statement_job (self, job, batch_error);
  return run_job_in_savepoint (self, job, batch_error);
}

/* Claiming from the queue ----------------------------------------------- */

/* The error of a job that waited past its deadline. */
static GError *
timeout_error (gpointer  queue,
               MsbDbJob *job)
{
  MsbDbWriter *self = queue;
  GError *error;

  error = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                       "writer queue timeout: waited %" G_GINT64_FORMAT
                       " ms for the writer, %d jobs queued",
                       (g_get_monotonic_time () - msb_db_job_get_queued_at (job)) / 1000,
                       MAX (g_async_queue_length (self->queue), 0));
  MSB_DB_COUNT (self->counters, pool_timeouts);
  g_debug ("%s", error->message);
  return error;
}

/* TRUE if @job is ours to run. A job that waited past its deadline, or was
 * cancelled while queued, is answered here and never runs. */
static gboolean
claim_job (MsbDbWriter *self,
           MsbDbJob    *job)
{
  if (!msb_db_job_claim (job))
    return FALSE;

  if (g_get_monotonic_time () > msb_db_job_get_deadline (job))
    {
      msb_db_job_fail (job, timeout_error (self, job));
      return FALSE;
    }
  if (g_cancellable_is_cancelled (msb_db_job_get_cancellable (job)))
    {
      msb_db_job_fail (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 "The write was cancelled before it started"));
      return FALSE;
    }
  return TRUE;
}

static void
queue_push (MsbDbWriter *self,
            gpointer     item)
{
  g_async_queue_lock (self->queue);
  g_async_queue_push_unlocked (self->queue, item);
  self->queued++;
  g_async_queue_unlock (self->queue);
}

static void
queue_push_front (MsbDbWriter *self,
                  gpointer     item)
{
  g_async_queue_lock (self->queue);
  g_async_queue_push_front_unlocked (self->queue, item);
  self->queued++;
  g_async_queue_unlock (self->queue);
}

static gpointer
queue_try_pop (MsbDbWriter *self)
{
  gpointer item;

  g_async_queue_lock (self->queue);
  item = g_async_queue_try_pop_unlocked (self->queue);
  if (item != NULL)
    self->queued--;
  g_async_queue_unlock (self->queue);
  return item;
}

/* Pops the next job that is ours to run, without waiting; NULL when the
 * queue is empty or the end came up (then *stopping is set). */
static MsbDbJob *
try_pop_runnable (MsbDbWriter *self,
                  gboolean    *stopping)
{
  gpointer item;

  while ((item = queue_try_pop (self)) != NULL)
    {
      if (item == self)
        {
          *stopping = TRUE;
          return NULL;
        }
      if (msb_db_job_get_kind (item) == MSB_DB_JOB_MAINTENANCE)
        {
          /* It runs outside any transaction: the batch ends before it. */
          queue_push_front (self, item);
          return NULL;
        }
      if (claim_job (self, item))
        return item;
      msb_db_job_unref (item);
    }
  return NULL;
}

/* Batches --------------------------------------------------------------- */

typedef struct
{
  MsbDbWriter *self;
  GPtrArray *batch;
  gboolean *stopping;
} Batch;

static gboolean
batch_may_grow (GPtrArray *batch,
                gint64     started)
{
  return batch->len < MAX_BATCH_JOBS &&
         g_get_monotonic_time () - started < MAX_BATCH_TIME;
}

/* The job at @index failed and SQLite rolled back the whole transaction
 * with it. Nothing of the batch was committed: the job reports its own
 * error and leaves; the others did nothing wrong and will run again. */
static void
drop_job_that_lost_batch (MsbDbWriter *self,
                          GPtrArray   *batch,
                          guint        index)
{
  MsbDbJob *job = g_ptr_array_index (batch, index);

  msb_db_backend_control (self->conn, MSB_DB_TX_ROLLBACK, NULL);
  g_debug ("A write failed and took its transaction with it; %u other job(s) run again: %s",
           batch->len - 1, msb_db_job_get_error (job)->message);
  msb_db_job_complete (job);
  g_ptr_array_remove_index (batch, index);
}

typedef enum {
  BATCH_COMMITTED,
  BATCH_RUN_AGAIN,       /* a job lost the transaction and left the batch */
  BATCH_NOT_COMMITTED,
} BatchOutcome;

/* BEGIN IMMEDIATE, every job in its savepoint, COMMIT. The first time the
 * batch takes in the jobs that are already queued (@may_grow); after that
 * it runs exactly the same jobs again. */
static BatchOutcome
run_batch_once (Batch     *run,
                gboolean   may_grow,
                GError   **error)
{
  MsbDbWriter *self = run->self;
  GPtrArray *batch = run->batch;
  gint64 started = g_get_monotonic_time ();

  if (!msb_db_backend_control (self->conn, MSB_DB_TX_BEGIN_IMMEDIATE, error))
    return BATCH_NOT_COMMITTED;

  for (guint i = 0; ; i++)
    {
      if (i == batch->len)
        {
          MsbDbJob *next = NULL;

          if (may_grow && !*run->stopping && batch_may_grow (batch, started))
            next = try_pop_runnable (self, run->stopping);
          if (next == NULL)
            break;
          g_ptr_array_add (batch, next);
        }
      switch (run_batched_job (self, g_ptr_array_index (batch, i), error))
        {
        case JOB_DONE:
          break;
        case JOB_LOST_BATCH:
          drop_job_that_lost_batch (self, batch, i);
          return BATCH_RUN_AGAIN;
        case BATCH_FAILED:
          msb_db_backend_control (self->conn, MSB_DB_TX_ROLLBACK, NULL);
          return BATCH_NOT_COMMITTED;
        }
    }

  if (!msb_db_backend_control (self->conn, MSB_DB_TX_COMMIT, error))
    {
      msb_db_backend_control (self->conn, MSB_DB_TX_ROLLBACK, NULL);
      return BATCH_NOT_COMMITTED;
    }
  return BATCH_COMMITTED;
}

/* Before an attempt after the first, nothing of the batch is committed: a
 * job cancelled meanwhile has not run, so it leaves the batch and reports
 * so. */
static void
drop_cancelled_jobs (GPtrArray *batch)
{
  for (guint i = batch->len; i > 0; i--)
    {
      MsbDbJob *job = g_ptr_array_index (batch, i - 1);

      if (!g_cancellable_is_cancelled (msb_db_job_get_cancellable (job)))
        continue;
      msb_db_job_fail (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 "The write was cancelled before it could run"));
      g_ptr_array_remove_index (batch, i - 1);
    }
}

/* One attempt, in the retry loop's sense: runs until the batch commits,
 * is empty, or fails as a whole. Jobs that lost the transaction leave on
 * the way, and the others run again at once (that is no busy retry). */
static gboolean
attempt_batch (gpointer   data,
               guint      attempt,
               GError   **error)
{
  Batch *run = data;
  gboolean may_grow = attempt == 0;

  if (attempt > 0)
    drop_cancelled_jobs (run->batch);
  while (run->batch->len > 0)
    {
      switch (run_batch_once (run, may_grow, error))
        {
        case BATCH_COMMITTED:
          return TRUE;
        case BATCH_RUN_AGAIN:
          may_grow = FALSE;
          drop_cancelled_jobs (run->batch);
          break;
        case BATCH_NOT_COMMITTED:
          return FALSE;
        }
    }
  return TRUE;
}

static void
report_committed (MsbDbWriter *self,
                  GPtrArray   *batch)
{
  if (batch->len == 0)
    return;
  MSB_DB_COUNT (self->counters, write_batches);
  for (guint i = 0; i < batch->len; i++)
    {
      MsbDbJob *job = g_ptr_array_index (batch, i);

      if (msb_db_job_get_error (job) == NULL && msb_db_job_get_kind (job) != MSB_DB_JOB_TRANSACTION)
        MSB_DB_COUNT (self->counters, writes);
      else if (msb_db_job_get_error (job) == NULL)
        MSB_DB_COUNT (self->counters, transactions);
      msb_db_job_complete (job);
    }
}

static void
report_failed (MsbDbWriter  *self,
               GPtrArray    *batch,
               const GError *error)
{
  gboolean exhausted = g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY);

  for (guint i = 0; i < batch->len; i++)
    {
      if (exhausted)
        MSB_DB_COUNT (self->counters, retries_exhausted);
      msb_db_job_fail (g_ptr_array_index (batch, i), g_error_copy (error));
    }
}

/* Runs a batch to its end: committed, or failed after the retry budget.
 * Every job in it is completed. */
static void
run_batch (MsbDbWriter *self,
           GPtrArray   *batch,
           gboolean    *stopping)
{
  Batch run = { self, batch, stopping };
  g_autoptr(GError) error = NULL;
  gboolean ok;

  call_hook (self, FALSE);
  ok = msb_db_retry_run (&self->policy, MSB_DB_COUNTER (self->counters, busy_retries),
                         attempt_batch, &run, &error);
  call_hook (self, TRUE);
  if (ok)
    report_committed (self, batch);
  else
    report_failed (self, batch, error);
}

/* Maintenance ----------------------------------------------------------- */

typedef struct
{
  MsbDbWriter *self;
  MsbDbJob *job;
  MsbDbRows *rows;
} MaintenanceAttempt;

static gboolean
attempt_maintenance (gpointer   data,
                     guint      attempt,
                     GError   **error)
{
  MaintenanceAttempt *run = data;

  run->rows = msb_db_job_run_maintenance (run->job, run->self->conn, error);
  return run->rows != NULL;
}

/* The library's own work outside any transaction, between batches. */
static void
run_maintenance (MsbDbWriter *self,
                 MsbDbJob    *job)
{
  MaintenanceAttempt run = { self, job, NULL };
  GError *error = NULL;
  gboolean ok;

  call_hook (self, FALSE);
  ok = msb_db_retry_run (&self->policy, MSB_DB_COUNTER (self->counters, busy_retries),
                         attempt_maintenance, &run, &error);
  call_hook (self, TRUE);
  if (ok)
    msb_db_job_set_rows (job, run.rows);
  else
    {
      if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
        MSB_DB_COUNT (self->counters, retries_exhausted);
      msb_db_job_set_error (job, error);
    }
  msb_db_job_complete (job);
}

/* WAL ------------------------------------------------------------------- */

static void
sample_wal_size (MsbDbWriter *self,
                 gboolean     now)
{
  gint64 t = g_get_monotonic_time ();

  if (!now && t - self->last_wal_sample < WAL_SIZE_SAMPLE_INTERVAL)
    return;
  self->last_wal_sample = t;
  MSB_DB_COUNTER_SET (self->counters, wal_bytes, msb_db_backend_wal_size (self->conn));
}

static gboolean
try_checkpoint (MsbDbWriter          *self,
                MsbDbCheckpointMode   mode,
                GError              **error)
{
  return msb_db_backend_checkpoint (self->conn, mode, CHECKPOINT_WAIT, error);
}

/* The second attempt, with this process's new reads held (see the WAL
 * policy at the top). */
static gboolean
try_gated_checkpoint (MsbDbWriter          *self,
                      MsbDbCheckpointMode   mode,
                      GError              **error)
{
  GTimeSpan wait = 0;
  gboolean ok;

  if (self->gate == NULL || g_get_monotonic_time () < self->next_gate)
    return FALSE;
  if (!self->gate (self->gate_data, TRUE, &wait))
    return FALSE;
  ok = msb_db_backend_checkpoint (self->conn, mode, wait, error);
  self->gate (self->gate_data, FALSE, NULL);

  if (ok)
    self->gate_backoff = 0;
  else
    {
      self->gate_backoff = CLAMP (self->gate_backoff * 2, GATE_BACKOFF, GATE_BACKOFF_MAX);
      self->next_gate = g_get_monotonic_time () + self->gate_backoff;
    }
  return ok;
}

static void
checkpoint (MsbDbWriter         *self,
            MsbDbCheckpointMode  mode)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = try_checkpoint (self, mode, &error);

  if (!ok && mode != MSB_DB_CHECKPOINT_PASSIVE)
    {
      g_clear_error (&error);
      ok = try_gated_checkpoint (self, mode, &error);
    }

  if (ok)
    {
      MSB_DB_COUNT (self->counters, checkpoints);
      self->next_checkpoint = 0;
    }
  else
    {
      g_debug ("Checkpoint could not restart the log: %s",
               error ? error->message : "a reader holds an old snapshot");
      MSB_DB_COUNT (self->counters, checkpoints_blocked);
      self->next_checkpoint = g_get_monotonic_time () + CHECKPOINT_RETRY;
    }
  sample_wal_size (self, TRUE);
}

static void
maybe_checkpoint (MsbDbWriter *self)
{
  if (msb_db_backend_wal_frames (self->conn) >= CHECKPOINT_FRAMES &&
      g_get_monotonic_time () >= self->next_checkpoint)
    checkpoint (self, MSB_DB_CHECKPOINT_RESTART);
  else
    sample_wal_size (self, FALSE);
}

/* The thread ------------------------------------------------------------ */

/* Waits for the next job (or the end), marks the thread running, and
 * takes the connection (after a blocking write its caller runs, if any). */
static gpointer
take_next (MsbDbWriter *self)
{
  gpointer item;

  g_async_queue_lock (self->queue);
  item = g_async_queue_pop_unlocked (self->queue);
  self->queued--;
  self->running = TRUE;
  g_async_queue_unlock (self->queue);
  g_mutex_lock (&self->conn_lock);
  return item;
}

static void
finish_running (MsbDbWriter *self)
{
  g_mutex_unlock (&self->conn_lock);
  g_async_queue_lock (self->queue);
  self->running = FALSE;
  g_async_queue_unlock (self->queue);
}

static gpointer
writer_main (gpointer data)
{
  MsbDbWriter *self = data;
  gboolean stopping = FALSE;

  /* Each turn ends holding the connection only when the end came up (as
   * the next item, or while a batch took in queued jobs). */
  for (;;)
    {
      g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func ((GDestroyNotify) msb_db_job_unref);
      gpointer item = take_next (self);

      if (item == self)
        break;
      if (!claim_job (self, item))
        msb_db_job_unref (item);
      else if (msb_db_job_get_kind (item) == MSB_DB_JOB_MAINTENANCE)
        {
          run_maintenance (self, item);
          msb_db_job_unref (item);
        }
      else
        {
          g_ptr_array_add (batch, item);
          run_batch (self, batch, &stopping);
        }
      maybe_checkpoint (self);
      if (stopping)
        break;
      finish_running (self);
    }

  /* Jobs are only queued before the end marker, so none is left. Fold the
   * WAL back into the database and close: when this is the last connection
   * to the file, SQLite removes the -wal and -shm files. */
  checkpoint (self, MSB_DB_CHECKPOINT_TRUNCATE);
  msb_db_backend_close (g_steal_pointer (&self->conn));
  g_mutex_unlock (&self->conn_lock);
  msb_db_writer_unref (self);
  return NULL;
}

/* Starts the writer thread with @conn (which it takes). @gate pauses this
 * process's readers around a checkpoint that needs the log free of them;
 * @gate_data is freed with @gate_data_free when the writer goes. */
MsbDbWriter *
msb_db_writer_new (MsbDbBackendConn       *conn,
                   MsbDbCounters          *counters,
                   const MsbDbRetryPolicy *policy,
                   MsbDbReaderGate         gate,
                   gpointer                gate_data,
                   GDestroyNotify          gate_data_free,
                   GError                **error)
{
  MsbDbWriter *self = g_atomic_rc_box_new0 (MsbDbWriter);

  self->conn = conn;
  self->counters = msb_db_counters_ref (counters);
  self->policy = *policy;
  self->gate = gate;
  self->gate_data = gate_data;
  self->gate_data_free = gate_data_free;
  self->queue = g_async_queue_new ();
  g_mutex_init (&self->conn_lock);
  g_mutex_init (&self->lock);
  self->accepting = TRUE;

  self->thread = g_thread_try_new ("msb-db-writer", writer_main, g_atomic_rc_box_acquire (self), error);
  if (self->thread == NULL)
    {
      g_prefix_error (error, "Could not start the writer thread: ");
      msb_db_backend_close (g_steal_pointer (&self->conn));
      msb_db_writer_unref (self);   /* the thread's reference */
      msb_db_writer_unref (self);
      return NULL;
    }
  return self;
}

/* Queues @job (a write or a transaction, async or blocking); it completes
 * on the writer thread. Once the writer stopped accepting, it fails at
 * once with CLOSED. */
void
msb_db_writer_submit (MsbDbWriter *self,
                      MsbDbJob    *job)
{
  g_mutex_lock (&self->lock);
  if (!g_atomic_int_get (&self->accepting))
    {
      g_mutex_unlock (&self->lock);
      if (msb_db_job_claim (job))
        msb_db_job_fail (job, g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                                                   "The database pools are closed"));
      return;
    }
  msb_db_job_start_waiting (job, timeout_error, self);
  queue_push (self, msb_db_job_ref (job));
  g_mutex_unlock (&self->lock);
}

/* Takes the connection for the caller if nothing is queued and nothing
 * runs: its write is then next in queue order. */
static gboolean
take_idle_connection (MsbDbWriter *self)
{
  gboolean taken;

  g_async_queue_lock (self->queue);
  taken = !self->running && self->queued == 0 && g_mutex_trylock (&self->conn_lock);
  g_async_queue_unlock (self->queue);

  /* The writer may have stopped meanwhile: its thread closes the
   * connection under the same lock. */
  if (taken && (!g_atomic_int_get (&self->accepting) || self->conn == NULL))
    {
      g_mutex_unlock (&self->conn_lock);
      taken = FALSE;
    }
  return taken;
}

typedef struct
{
  MsbDbWriter *self;
  const char *sql;
  GVariant *params;
  GCancellable *cancellable;
  MsbDbRows *rows;
} LoneWrite;

static gboolean
attempt_lone_write (gpointer   data,
                    guint      attempt,
                    GError   **error)
{
  LoneWrite *write = data;

  /* Between attempts nothing was written: a cancelled write stops here. */
  if (attempt > 0 && g_cancellable_is_cancelled (write->cancellable))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "The write was cancelled before it could run");
      return FALSE;
    }
  write->rows = msb_db_backend_execute (write->self->conn, write->sql, write->params,
                                        write->cancellable, error);
  return write->rows != NULL;
}

/* Runs a blocking write of one statement and waits for its outcome. If the
 * writer is idle the caller runs it right here, as the only statement of
 * its transaction: SQLite makes one statement atomic by itself, deferred
 * constraints included, and the backend checks that its commit reaches
 * the file at the path. Otherwise it is queued as a job like any other
 * (and waits at most @timeout for its turn). */
MsbDbRows *
msb_db_writer_run (MsbDbWriter   *self,
                   const char    *sql,
                   GVariant      *params,
                   GCancellable  *cancellable,
                   GTimeSpan      timeout,
                   GError       **error)
{
  LoneWrite write = { self, sql, params, cancellable, NULL };
  GError *local_error = NULL;
  gboolean ok;

  if (!take_idle_connection (self))
    {
      g_autoptr(MsbDbJob) job = msb_db_job_new_statement (MSB_DB_JOB_WRITE, sql, params,
                                                          cancellable, timeout);
      MsbDbRows *rows = NULL;

      msb_db_writer_submit (self, job);
      msb_db_job_wait (job, &rows, error);
      return rows;
    }

  call_hook (self, FALSE);
  ok = msb_db_retry_run (&self->policy, MSB_DB_COUNTER (self->counters, busy_retries),
                         attempt_lone_write, &write, &local_error);
  call_hook (self, TRUE);
  if (ok)
    {
      MSB_DB_COUNT (self->counters, write_batches);
      MSB_DB_COUNT (self->counters, writes);
    }
  else if (g_error_matches (local_error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    MSB_DB_COUNT (self->counters, retries_exhausted);
  maybe_checkpoint (self);
  g_mutex_unlock (&self->conn_lock);

  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return write.rows;
}

/* Sets the hook called around each unit of work, once, before any job is
 * queued. The writer keeps @data until it goes, then frees it with
 * @data_free. */
void
msb_db_writer_set_hook (MsbDbWriter     *self,
                        MsbDbWriterHook  hook,
                        gpointer         data,
                        GDestroyNotify   data_free)
{
  g_mutex_lock (&self->lock);
  g_assert (self->hook == NULL);
  self->hook = hook;
  self->hook_data = data;
  self->hook_data_free = data_free;
  g_mutex_unlock (&self->lock);
}

/* Stops accepting jobs; the ones queued so far still run. Does not wait;
 * see msb_db_writer_join(). */
void
msb_db_writer_shutdown (MsbDbWriter *self)
{
  g_mutex_lock (&self->lock);
  g_atomic_int_set (&self->accepting, FALSE);
  g_mutex_unlock (&self->lock);
}

/* After msb_db_writer_shutdown(): lets the thread finish the queued jobs,
 * fold the log back and close its connection, and waits for it. The
 * connection closes only now, so that the caller can close every other
 * connection first: the last one to close removes the -wal and -shm files.
 * Called from the writer thread itself (the last reference to the pools
 * dropped there), it cannot wait for itself: the thread finishes on its
 * own. */
void
msb_db_writer_join (MsbDbWriter *self)
{
  GThread *thread;

  g_mutex_lock (&self->lock);
  g_assert (!g_atomic_int_get (&self->accepting));
  thread = g_steal_pointer (&self->thread);
  if (thread != NULL)
    queue_push (self, self);
  g_mutex_unlock (&self->lock);

  if (thread == NULL)
    return;
  if (thread == g_thread_self ())
    g_thread_unref (thread);
  else
    g_thread_join (thread);
}
