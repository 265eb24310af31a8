/* msb-db-writer.c: the one thread that writes
 *
 * The writer thread owns the only write connection of the process and
 * takes jobs from a GAsyncQueue in order. Jobs that are already waiting
 * when it starts a transaction join it (group commit): each runs inside
 * its own SAVEPOINT, so a job that fails is rolled back alone, and nobody
 * hears of success before the COMMIT. A lone job never waits for company.
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
 * waits, at most CHECKPOINT_GATED_WAIT, for the running ones to finish.
 *
 * A reader that holds a snapshot for long (a long query, a slow snapshot
 * callback, a reader in another process) cannot be helped: the log cannot
 * restart before it ends. Holding everybody else's reads for it would only
 * stall them. So the reads are not held when one of this process's reads
 * has already run longer than the gated wait; and after a gated attempt
 * failed anyway (the reader is in another process), the next one waits
 * GATE_BACKOFF, doubling up to GATE_BACKOFF_MAX while it keeps failing.
 * Meanwhile the writer retries the plain checkpoint every CHECKPOINT_RETRY;
 * the log grows until the reader ends (counted in checkpoints_blocked).
 * journal_size_limit trims the file after a restart; close truncates it. */
#define CHECKPOINT_FRAMES 1000
#define CHECKPOINT_WAIT (10 * G_TIME_SPAN_MILLISECOND)
#define CHECKPOINT_GATED_WAIT (20 * G_TIME_SPAN_MILLISECOND)
#define CHECKPOINT_RETRY (100 * G_TIME_SPAN_MILLISECOND)
#define GATE_BACKOFF (250 * G_TIME_SPAN_MILLISECOND)
#define GATE_BACKOFF_MAX (8 * G_TIME_SPAN_SECOND)
#define WAL_SIZE_SAMPLE_INTERVAL (100 * G_TIME_SPAN_MILLISECOND)

struct _MsbDbWriter
{
  gatomicrefcount ref_count;
  MsbDbBackendConn *conn;
  MsbDbCounters *counters;
  MsbDbRetryPolicy policy;
  gconstpointer pools;
  MsbDbReaderGate gate;
  gpointer gate_data;
  GDestroyNotify gate_data_free;

  GAsyncQueue *queue;      /* of MsbDbJob */
  GThread *thread;

  GMutex lock;
  gboolean accepting;

  gint64 next_checkpoint;     /* not before this, after a failed one */
  gint64 next_gate;           /* no gated attempt before this */
  GTimeSpan gate_backoff;     /* after a gated attempt failed */
  gint64 last_wal_sample;
};

static MsbDbWriter *
msb_db_writer_ref (MsbDbWriter *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
msb_db_writer_unref (MsbDbWriter *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_assert (self->conn == NULL);
  if (self->gate_data_free != NULL)
    self->gate_data_free (self->gate_data);
  g_async_queue_unref (self->queue);
  msb_db_counters_unref (self->counters);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Running one job ------------------------------------------------------- */

static gboolean
run_transaction_callback (MsbDbWriter *self,
                          MsbDbJob    *job)
{
  g_autoptr(MsbDbConnection) connection = msb_db_connection_new (self->conn, job->cancellable);
  gconstpointer previous = msb_db_job_enter_callback (self->pools);
  GError *error = NULL;
  gboolean ok;

  ok = job->func (connection, job->user_data, &error);
  msb_db_job_leave_callback (previous);
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
    msb_db_job_take_error (job, error);
  return ok;
}

static gboolean
run_job (MsbDbWriter *self,
         MsbDbJob    *job)
{
  GError *error = NULL;

  if (job->kind == MSB_DB_JOB_TRANSACTION)
    return run_transaction_callback (self, job);

  job->rows = msb_db_backend_execute (self->conn, job->sql, job->params, job->cancellable, &error);
  if (job->rows == NULL)
    msb_db_job_take_error (job, error);
  return job->rows != NULL;
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
  if (g_error_matches (job->error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    {
      g_propagate_error (batch_error, g_error_copy (job->error));
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
      g_clear_object (&job->rows);
      msb_db_job_take_error (job, release_error);
    }
  return undo_failed_job (self, job, batch_error);
}

/* Claiming from the queue ----------------------------------------------- */

static void
fail_job (MsbDbJob *job,
          GError   *error)
{
  msb_db_job_reset_outcome (job);
  msb_db_job_take_error (job, error);
  msb_db_job_complete (job);
}

/* TRUE if @job is ours to run. A job that waited past its deadline, or was
 * cancelled while queued, is answered here and never runs. */
static gboolean
claim_job (MsbDbWriter *self,
           MsbDbJob    *job)
{
  gint64 now;

  if (!msb_db_job_claim (job))
    return FALSE;

  now = g_get_monotonic_time ();
  if (now > job->deadline)
    {
      GError *error = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                                   "writer queue timeout: waited %" G_GINT64_FORMAT
                                   " ms for the writer, %d jobs still queued",
                                   (now - job->queued_at) / 1000,
                                   MAX (g_async_queue_length (self->queue), 0));
      MSB_DB_COUNT (self->counters, pool_timeouts);
      g_debug ("%s", error->message);
      fail_job (job, error);
      return FALSE;
    }
  if (g_cancellable_is_cancelled (job->cancellable))
    {
      fail_job (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "The write was cancelled before it started"));
      return FALSE;
    }
  return TRUE;
}

/* Pops the next job that is ours to run, without waiting; NULL when the
 * queue is empty or the stop marker came up (then *stopping is set). */
static MsbDbJob *
try_pop_runnable (MsbDbWriter *self,
                  gboolean    *stopping)
{
  MsbDbJob *job;

  while ((job = g_async_queue_try_pop (self->queue)) != NULL)
    {
      if (job->kind == MSB_DB_JOB_STOP)
        {
          *stopping = TRUE;
          msb_db_job_unref (job);
          return NULL;
        }
      if (claim_job (self, job))
        return job;
      msb_db_job_unref (job);
    }
  return NULL;
}

/* Batches --------------------------------------------------------------- */

static gboolean
batch_may_grow (GPtrArray *batch,
                gint64     started)
{
  return batch->len < MAX_BATCH_JOBS &&
         g_get_monotonic_time () - started < MAX_BATCH_TIME;
}

typedef enum {
  BATCH_COMMITTED,
  BATCH_RETRY_WITHOUT,   /* a job lost the transaction and left the batch */
  BATCH_NOT_COMMITTED,
} BatchOutcome;

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
           batch->len - 1, job->error->message);
  msb_db_job_complete (job);
  g_ptr_array_remove_index (batch, index);
}

/* One attempt at the batch: BEGIN IMMEDIATE, every job in its savepoint,
 * COMMIT. On the first attempt the batch takes in jobs that are already
 * queued; a retry runs exactly the same jobs again. */
static BatchOutcome
run_batch_once (MsbDbWriter  *self,
                GPtrArray    *batch,
                gboolean      may_grow,
                gboolean     *stopping,
                GError      **error)
{
  gint64 started = g_get_monotonic_time ();

  if (!msb_db_backend_control (self->conn, MSB_DB_TX_BEGIN_IMMEDIATE, error))
    return BATCH_NOT_COMMITTED;

  for (guint i = 0; ; i++)
    {
      if (i == batch->len)
        {
          MsbDbJob *next = NULL;

          if (may_grow && !*stopping && batch_may_grow (batch, started))
            next = try_pop_runnable (self, stopping);
          if (next == NULL)
            break;
          g_ptr_array_add (batch, next);
        }
      switch (run_job_in_savepoint (self, g_ptr_array_index (batch, i), error))
        {
        case JOB_DONE:
          break;
        case JOB_LOST_BATCH:
          drop_job_that_lost_batch (self, batch, i);
          return BATCH_RETRY_WITHOUT;
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

static void
report_committed (MsbDbWriter *self,
                  GPtrArray   *batch)
{
  MSB_DB_COUNT (self->counters, write_batches);
  for (guint i = 0; i < batch->len; i++)
    {
      MsbDbJob *job = g_ptr_array_index (batch, i);

      if (job->error == NULL && job->kind == MSB_DB_JOB_WRITE)
        MSB_DB_COUNT (self->counters, writes);
      else if (job->error == NULL)
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
      fail_job (g_ptr_array_index (batch, i), g_error_copy (error));
    }
}

/* Between two attempts nothing of the batch is committed: a job cancelled
 * meanwhile has not run, so it leaves the batch and reports so. */
static void
drop_cancelled_jobs (GPtrArray *batch)
{
  for (guint i = batch->len; i > 0; i--)
    {
      MsbDbJob *job = g_ptr_array_index (batch, i - 1);

      if (!g_cancellable_is_cancelled (job->cancellable))
        continue;
      fail_job (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "The write was cancelled before it could run"));
      g_ptr_array_remove_index (batch, i - 1);
    }
}

/* Runs a batch to its end: committed, or failed after the retry budget.
 * Every job in it is completed. */
static void
run_batch (MsbDbWriter *self,
           GPtrArray   *batch,
           gboolean    *stopping)
{
  gboolean may_grow = TRUE;
  guint attempt = 0;

  while (batch->len > 0)
    {
      g_autoptr(GError) error = NULL;
      GTimeSpan delay;

      switch (run_batch_once (self, batch, may_grow, stopping, &error))
        {
        case BATCH_COMMITTED:
          report_committed (self, batch);
          return;
        case BATCH_RETRY_WITHOUT:
          /* Not busy: run the innocent jobs again at once. */
          may_grow = FALSE;
          drop_cancelled_jobs (batch);
          continue;
        case BATCH_NOT_COMMITTED:
          break;
        }
      may_grow = FALSE;
      if (!msb_db_retry_should_retry (&self->policy, attempt, error))
        {
          if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
            g_debug ("Writer gave up after %u attempts: %s", attempt + 1, error->message);
          report_failed (self, batch, error);
          return;
        }
      delay = msb_db_retry_policy_delay (&self->policy, attempt);
      MSB_DB_COUNT (self->counters, busy_retries);
      g_debug ("Database busy (%s); retrying %u job(s) in %" G_GINT64_FORMAT " ms",
               error->message, batch->len, delay / 1000);
      g_usleep (delay);
      drop_cancelled_jobs (batch);
      attempt++;
    }
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

/* The second attempt, with this process's new reads held, if that may
 * help: not while a gated attempt failed recently, nor when a running read
 * is already a long one (the gate declines then). */
static gboolean
try_gated_checkpoint (MsbDbWriter          *self,
                      MsbDbCheckpointMode   mode,
                      GError              **error)
{
  gint64 now = g_get_monotonic_time ();
  gboolean ok;

  if (self->gate == NULL || now < self->next_gate)
    return FALSE;
  if (!self->gate (self->gate_data, TRUE, CHECKPOINT_GATED_WAIT))
    return FALSE;
  ok = msb_db_backend_checkpoint (self->conn, mode, CHECKPOINT_GATED_WAIT, error);
  self->gate (self->gate_data, FALSE, 0);

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

static gpointer
writer_main (gpointer data)
{
  MsbDbWriter *self = data;
  gboolean stopping = FALSE;

  while (!stopping)
    {
      g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func ((GDestroyNotify) msb_db_job_unref);
      MsbDbJob *job = g_async_queue_pop (self->queue);

      if (job->kind == MSB_DB_JOB_STOP)
        {
          msb_db_job_unref (job);
          break;
        }
      if (!claim_job (self, job))
        {
          msb_db_job_unref (job);
          continue;
        }
      g_ptr_array_add (batch, job);
      run_batch (self, batch, &stopping);
      maybe_checkpoint (self);
    }

  /* Jobs are only queued before the stop marker, so none is left. Fold the
   * WAL back into the database and close: when this is the last connection
   * to the file, SQLite removes the -wal and -shm files. */
  checkpoint (self, MSB_DB_CHECKPOINT_TRUNCATE);
  msb_db_backend_close (g_steal_pointer (&self->conn));
  msb_db_writer_unref (self);
  return NULL;
}

MsbDbWriter *
msb_db_writer_new (MsbDbBackendConn       *conn,
                   MsbDbCounters          *counters,
                   const MsbDbRetryPolicy *policy,
                   gconstpointer           pools,
                   MsbDbReaderGate         gate,
                   gpointer                gate_data,
                   GDestroyNotify          gate_data_free,
                   GError                **error)
{
  MsbDbWriter *self = g_new0 (MsbDbWriter, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->conn = conn;
  self->counters = msb_db_counters_ref (counters);
  self->policy = *policy;
  self->pools = pools;
  self->gate = gate;
  self->gate_data = gate_data;
  self->gate_data_free = gate_data_free;
  self->queue = g_async_queue_new ();
  g_mutex_init (&self->lock);
  self->accepting = TRUE;

  self->thread = g_thread_try_new ("msb-db-writer", writer_main, msb_db_writer_ref (self), error);
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

static gboolean
abandon_queued_job (gpointer               queue,
                    MsbDbJob              *job,
                    MsbDbJobAbandonReason  reason)
{
  MsbDbWriter *self = queue;
  GError *error;

  if (!msb_db_job_try_abandon (job))
    return FALSE;

  if (reason == MSB_DB_JOB_EXPIRED)
    {
      error = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                           "writer queue timeout: waited %" G_GINT64_FORMAT
                           " ms for the writer, %d jobs queued",
                           (g_get_monotonic_time () - job->queued_at) / 1000,
                           MAX (g_async_queue_length (self->queue), 0));
      MSB_DB_COUNT (self->counters, pool_timeouts);
      g_debug ("%s", error->message);
    }
  else
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "The write was cancelled before it started");
  msb_db_job_take_error (job, error);
  return TRUE;
}

/* Queues @job for the writer thread; fails with CLOSED once stopped. */
gboolean
msb_db_writer_submit (MsbDbWriter  *self,
                      MsbDbJob     *job,
                      GError      **error)
{
  g_mutex_lock (&self->lock);
  if (!self->accepting)
    {
      g_mutex_unlock (&self->lock);
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                           "The database pools are closed");
      return FALSE;
    }
  /* The writer holds no reference to the queue owner's memory beyond the
   * job: the writer outlives every job it was given. */
  job->abandon = abandon_queued_job;
  job->queue = self;
  if (job->task != NULL)
    msb_db_job_watch (job);
  g_async_queue_push (self->queue, msb_db_job_ref (job));
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Stops accepting jobs; the ones queued so far still run. Does not wait;
 * see msb_db_writer_join(). */
void
msb_db_writer_shutdown (MsbDbWriter *self)
{
  g_mutex_lock (&self->lock);
  self->accepting = FALSE;
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
  g_assert (!self->accepting);
  thread = g_steal_pointer (&self->thread);
  if (thread != NULL)
    g_async_queue_push (self->queue, msb_db_job_new (MSB_DB_JOB_STOP, NULL, 0));
  g_mutex_unlock (&self->lock);

  if (thread == NULL)
    return;
  if (thread == g_thread_self ())
    g_thread_unref (thread);
  else
    g_thread_join (thread);
}
