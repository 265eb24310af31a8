/* msb-db-reader.c: the read connections, and the threads that read on them
 *
 * The reader owns a fixed set of read-only connections (one "slot" each)
 * and a private GThreadPool with one thread per connection, so reads never
 * tie up GLib's shared pool and no thread is made per call.
 *
 * A blocking read takes an idle connection and runs on its caller's
 * thread: no hand-off at all. Everything else, and a blocking read that
 * finds no idle connection, is a job: it gets a connection now, or waits
 * for one in `waiting` (holding no thread), and then runs on a worker. A
 * worker that finishes a job and finds another waiting runs it next with
 * the same connection, without going back to the pool; a connection
 * given back otherwise goes to the oldest waiter, or idle.
 *
 * Snapshot callbacks, like every callback, run on a worker, never on the
 * caller's thread, even when the caller blocks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-connection-private.h"
#include "msb-db-error.h"
#include "msb-db-reader.h"

typedef struct
{
  MsbDbBackendConn *conn;     /* NULL once closed */
  MsbDbJob *job;              /* the job a worker is to run with it */
  gint64 since;               /* when its current read started */
  gboolean lent;
} Slot;

struct _MsbDbReader
{
  MsbDbTarget *target;
  MsbDbCounters *counters;
  MsbDbRetryPolicy policy;
  gboolean has_writer;
  GThreadPool *workers;

  GMutex lock;
  GCond all_back;             /* signalled when a slot comes back after close */
  guint n_slots;
  Slot *slots;
  GQueue idle;                /* of Slot */
  guint n_lent;
  GQueue waiting;             /* of MsbDbJob, a reference each, oldest first */
  guint holds;                /* > 0: lend nothing (a checkpoint runs) */
  GTimeSpan typical_read;     /* how long reads take lately (see hold()) */
  gboolean closed;
  gboolean tidy_when_back;    /* the last slot back after close tidies */
};

static void worker_run (gpointer data,
                        gpointer user_data);

static GError *
closed_error (void)
{
  return g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_CLOSED, "The database pools are closed");
}

/* Lifetime --------------------------------------------------------------- */

static void
reader_clear (MsbDbReader *self)
{
  g_assert (self->n_lent == 0 && g_queue_is_empty (&self->waiting));
  if (self->workers != NULL)
    g_thread_pool_free (self->workers, FALSE, FALSE);
  for (guint i = 0; i < self->n_slots; i++)
    msb_db_backend_close (self->slots[i].conn);
  g_free (self->slots);
  g_queue_clear (&self->idle);
  msb_db_counters_unref (self->counters);
  msb_db_target_free (self->target);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->all_back);
}

MsbDbReader *
msb_db_reader_ref (MsbDbReader *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
msb_db_reader_unref (MsbDbReader *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) reader_clear);
}

/* Opens @n_connections read-only connections to @target. Read-only pools
 * (no @has_writer) also tidy the -wal and -shm files when they close. */
MsbDbReader *
msb_db_reader_new (const MsbDbTarget        *target,
                   guint                     n_connections,
                   const MsbDbConnSettings  *settings,
                   MsbDbCounters            *counters,
                   const MsbDbRetryPolicy   *policy,
                   gboolean                  has_writer,
                   GCancellable             *cancellable,
                   GError                  **error)
{
  g_autoptr(MsbDbReader) self = g_atomic_rc_box_new0 (MsbDbReader);

  self->target = msb_db_target_copy (target);
  self->counters = msb_db_counters_ref (counters);
  self->policy = *policy;
  self->has_writer = has_writer;
  g_mutex_init (&self->lock);
  g_cond_init (&self->all_back);
  g_queue_init (&self->idle);
  g_queue_init (&self->waiting);
  self->n_slots = n_connections;
  self->slots = g_new0 (Slot, n_connections);

  for (guint i = 0; i < n_connections; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      self->slots[i].conn = msb_db_backend_open (target, MSB_DB_CONN_READ_ONLY, settings, error);
      if (self->slots[i].conn == NULL)
        return NULL;
      g_queue_push_tail (&self->idle, &self->slots[i]);
    }

  self->workers = g_thread_pool_new (worker_run, self, n_connections, FALSE, error);
  if (self->workers == NULL)
    {
      g_prefix_error (error, "Could not start the read workers: ");
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* Running reads and snapshots -------------------------------------------- */

typedef struct
{
  MsbDbBackendConn *conn;
  const char *sql;
  GVariant *params;
  GCancellable *cancellable;
  MsbDbRows *rows;
} ReadAttempt;

static gboolean
attempt_read (gpointer   data,
              guint      attempt,
              GError   **error)
{
  ReadAttempt *read = data;

  read->rows = msb_db_backend_execute (read->conn, read->sql, read->params, read->cancellable, error);
  return read->rows != NULL;
}

static MsbDbRows *
read_on (MsbDbReader       *self,
         MsbDbBackendConn  *conn,
         const char        *sql,
         GVariant          *params,
         GCancellable      *cancellable,
         GError           **error)
{
  ReadAttempt read = { conn, sql, params, cancellable, NULL };
  GError *local_error = NULL;

  if (msb_db_retry_run (&self->policy, MSB_DB_COUNTER (self->counters, busy_retries),
                        attempt_read, &read, &local_error))
    {
      MSB_DB_COUNT (self->counters, reads);
      return read.rows;
    }
  if (g_error_matches (local_error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    MSB_DB_COUNT (self->counters, retries_exhausted);
  g_propagate_error (error, local_error);
  return NULL;
}

typedef struct
{
  MsbDbBackendConn *conn;
  MsbDbJob *job;
} SnapshotAttempt;

/* One run of the callback inside one read transaction. */
static gboolean
attempt_snapshot (gpointer   data,
                  guint      attempt,
                  GError   **error)
{
  SnapshotAttempt *snapshot = data;
  g_autoptr(MsbDbConnection) connection = NULL;
  GError *local_error = NULL;
  gboolean ok;

  if (!msb_db_backend_control (snapshot->conn, MSB_DB_TX_BEGIN, error))
    return FALSE;

  connection = msb_db_connection_new (snapshot->conn, msb_db_job_get_cancellable (snapshot->job));
  ok = msb_db_job_run_callback (snapshot->job, connection, &local_error);
  msb_db_connection_invalidate (connection);

  if (!ok && local_error == NULL)
    local_error = g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                                       "The snapshot callback returned FALSE without setting an error");
  if (ok && local_error != NULL)
    {
      g_warning ("A snapshot callback returned TRUE but set an error: %s", local_error->message);
      g_clear_error (&local_error);
    }
  /* A read transaction has nothing to keep: end it either way. */
  msb_db_backend_control (snapshot->conn, MSB_DB_TX_ROLLBACK, NULL);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return ok;
}

static void
run_snapshot (MsbDbReader      *self,
              MsbDbBackendConn *conn,
              MsbDbJob         *job)
{
  SnapshotAttempt snapshot = { conn, job };
  GError *error = NULL;

  if (msb_db_retry_run (&self->policy, MSB_DB_COUNTER (self->counters, busy_retries),
                        attempt_snapshot, &snapshot, &error))
    {
      MSB_DB_COUNT (self->counters, snapshots);
      return;
    }
  if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
    MSB_DB_COUNT (self->counters, retries_exhausted);
  msb_db_job_set_error (job, error);
}

static void
run_job (MsbDbReader      *self,
         MsbDbBackendConn *conn,
         MsbDbJob         *job)
{
  GCancellable *cancellable = msb_db_job_get_cancellable (job);
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    msb_db_job_set_error (job, error);
  else if (msb_db_job_get_kind (job) == MSB_DB_JOB_SNAPSHOT)
    run_snapshot (self, conn, job);
  else
    {
      MsbDbRows *rows = read_on (self, conn, msb_db_job_get_sql (job), msb_db_job_get_params (job),
                                 cancellable, &error);

      if (rows != NULL)
        msb_db_job_set_rows (job, rows);
      else
        msb_db_job_set_error (job, error);
    }
}

/* Lending and taking back ------------------------------------------------ */

/* Lock held. An idle slot, now lent, or NULL if none may be lent. */
static Slot *
take_idle (MsbDbReader *self)
{
  Slot *slot;

  if (self->closed || self->holds > 0)
    return NULL;
  slot = g_queue_pop_head (&self->idle);
  if (slot != NULL)
    {
      slot->lent = TRUE;
      slot->since = g_get_monotonic_time ();
      self->n_lent++;
    }
  return slot;
}

/* Lock held. The oldest waiting job that is still ours to run, claimed;
 * the ones that gave up meanwhile are dropped. */
static MsbDbJob *
pop_claimable (MsbDbReader *self)
{
  MsbDbJob *job;

  while ((job = g_queue_pop_head (&self->waiting)) != NULL)
    {
      if (msb_db_job_claim (job))
        return job;
      msb_db_job_unref (job);
    }
  return NULL;
}

static void
dispatch (MsbDbReader *self,
          Slot        *slot)
{
  g_thread_pool_push (self->workers, slot, NULL);
}

/* Lock held. Keeps `typical_read` near the longest recent read: it jumps
 * up to a longer read at once and decays by a sixteenth per read. */
static void
note_read_duration (MsbDbReader *self,
                    GTimeSpan    duration)
{
  self->typical_read = MAX (duration, self->typical_read - self->typical_read / 16);
}

/* Takes @slot back after a read or a job. If a job is waiting, the slot
 * goes straight to it: returned with the job, for a worker (@may_run_next)
 * to run on its own thread, or dispatched to one. */
static Slot *
take_back (MsbDbReader *self,
           Slot        *slot,
           gboolean     was_read,
           gboolean     may_run_next)
{
  MsbDbJob *next = NULL;
  gboolean close_it = FALSE;
  gboolean tidy = FALSE;

  /* No transaction may outlive its user: roll back what a callback left. */
  if (!msb_db_backend_reset (slot->conn))
    g_warning ("A read connection could not be reset");

  g_mutex_lock (&self->lock);
  if (was_read)
    note_read_duration (self, g_get_monotonic_time () - slot->since);
  if (self->closed)
    {
      slot->lent = FALSE;
      self->n_lent--;
      close_it = TRUE;
      tidy = self->tidy_when_back && self->n_lent == 0;
      g_cond_broadcast (&self->all_back);
    }
  else if (self->holds == 0 && (next = pop_claimable (self)) != NULL)
    {
      slot->job = next;
      slot->since = g_get_monotonic_time ();
    }
  else
    {
      slot->lent = FALSE;
      self->n_lent--;
      g_queue_push_head (&self->idle, slot);
    }
  g_mutex_unlock (&self->lock);

  if (close_it)
    msb_db_backend_close (g_steal_pointer (&slot->conn));
  if (tidy)
    msb_db_backend_tidy (self->target);
  if (next == NULL)
    return NULL;
  if (may_run_next)
    return slot;
  dispatch (self, slot);
  return NULL;
}

/* A worker: runs the slot's job, then the next one that waits, with the
 * same connection. The connection goes back before the job reports, and
 * the reader is not touched after the last report (it may drop the last
 * reference to the pools). */
static void
worker_run (gpointer data,
            gpointer user_data)
{
  MsbDbReader *self = user_data;
  Slot *slot = data;

  while (slot != NULL)
    {
      MsbDbJob *job = g_steal_pointer (&slot->job);
      gboolean was_read = msb_db_job_get_kind (job) == MSB_DB_JOB_READ;

      if (msb_db_job_get_kind (job) == MSB_DB_JOB_LEND)
        {
          /* The slot goes to the waiter, who gives it back later. */
          msb_db_job_set_lent (job, slot);
          slot = NULL;
        }
      else
        {
          run_job (self, slot->conn, job);
          slot = take_back (self, slot, was_read, TRUE);
        }
      msb_db_job_complete (job);
      msb_db_job_unref (job);
    }
}

/* The error of a job that waited past its deadline. */
static GError *
timeout_error (gpointer  queue,
               MsbDbJob *job)
{
  MsbDbReader *self = queue;
  GError *error;
  guint idle, waiting;

  g_mutex_lock (&self->lock);
  idle = g_queue_get_length (&self->idle);
  waiting = g_queue_get_length (&self->waiting);
  if (self->holds > 0)
    error = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                         "read pool paused while the writer restarts the WAL: %u "
                         "connections, %u idle, %u waiting", self->n_slots, idle, waiting);
  else
    error = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                         "read pool exhausted: %u connections, %u idle, %u waiting",
                         self->n_slots, idle, waiting);
  g_mutex_unlock (&self->lock);

  MSB_DB_COUNT (self->counters, pool_timeouts);
  g_debug ("Read gave up waiting: %s", error->message);
  return error;
}

/* Calls ------------------------------------------------------------------- */

/* Runs @job (a read or a snapshot, async or blocking) on a worker as soon
 * as a connection is free; it completes there. */
void
msb_db_reader_submit (MsbDbReader *self,
                      MsbDbJob    *job)
{
  Slot *slot;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      if (msb_db_job_claim (job))
        msb_db_job_fail (job, closed_error ());
      return;
    }
  slot = take_idle (self);
  if (slot == NULL)
    {
      msb_db_job_start_waiting (job, timeout_error, self);
      g_queue_push_tail (&self->waiting, msb_db_job_ref (job));
    }
  g_mutex_unlock (&self->lock);

  if (slot == NULL)
    return;
  /* Not waiting anywhere yet, so nobody else can have given up on it. */
  if (!msb_db_job_claim (job))
    g_assert_not_reached ();
  slot->job = msb_db_job_ref (job);
  dispatch (self, slot);
}

/* A blocking read: on the calling thread if a connection is idle; else it
 * waits for one (at most @timeout) as a job, and runs on a worker. */
MsbDbRows *
msb_db_reader_read (MsbDbReader   *self,
                    const char    *sql,
                    GVariant      *params,
                    GCancellable  *cancellable,
                    GTimeSpan      timeout,
                    GError       **error)
{
  MsbDbRows *rows = NULL;
  Slot *slot;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, closed_error ());
      return NULL;
    }
  slot = take_idle (self);
  g_mutex_unlock (&self->lock);

  if (slot == NULL)
    {
      g_autoptr(MsbDbJob) job = msb_db_job_new_statement (MSB_DB_JOB_READ, sql, params,
                                                          cancellable, timeout);

      msb_db_reader_submit (self, job);
      msb_db_job_wait (job, &rows, error);
      return rows;
    }

  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    rows = read_on (self, slot->conn, sql, params, cancellable, error);
  take_back (self, slot, TRUE, FALSE);
  return rows;
}

/* Lends a read connection to the caller (a cursor), waiting for one at most
 * @timeout; give it back with msb_db_reader_give_back(). */
MsbDbBackendConn *
msb_db_reader_lend (MsbDbReader   *self,
                    GCancellable  *cancellable,
                    GTimeSpan      timeout,
                    GError       **error)
{
  g_autoptr(MsbDbJob) job = NULL;
  Slot *slot;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, closed_error ());
      return NULL;
    }
  slot = take_idle (self);
  g_mutex_unlock (&self->lock);
  if (slot != NULL)
    return slot->conn;

  job = msb_db_job_new_lend (cancellable, timeout);
  msb_db_reader_submit (self, job);
  if (!msb_db_job_wait (job, NULL, error))
    return NULL;
  slot = msb_db_job_get_lent (job);
  return slot->conn;
}

void
msb_db_reader_give_back (MsbDbReader      *self,
                         MsbDbBackendConn *conn)
{
  Slot *slot = NULL;

  for (guint i = 0; i < self->n_slots && slot == NULL; i++)
    if (self->slots[i].conn == conn)
      slot = &self->slots[i];
  g_assert (slot != NULL && slot->lent);
  take_back (self, slot, FALSE, FALSE);
}

/* Checkpoints ------------------------------------------------------------- */

/* While held, the reader lends no connection: reads already running
 * finish, new ones wait (their deadline still counts). The writer holds it
 * for a checkpoint that must see no reader on the log: without it, readers
 * in a tight loop re-take their locks between the checkpointer's attempts,
 * and the log never restarts.
 *
 * How long to hold is judged from how long reads take lately: twice the
 * typical read (within 20 ms and 1 s), returned in @wait. A read already
 * running four times that long (at least 100 ms) is a long reader, which
 * no hold can help: then nothing is held and FALSE is returned, so that
 * one long reader does not make every other read wait. */
#define HOLD_MIN (20 * G_TIME_SPAN_MILLISECOND)
#define HOLD_MAX (G_TIME_SPAN_SECOND)
#define LONG_READER_MIN (100 * G_TIME_SPAN_MILLISECOND)

gboolean
msb_db_reader_hold (MsbDbReader *self,
                    GTimeSpan   *wait)
{
  gint64 now = g_get_monotonic_time ();
  GTimeSpan long_reader;
  gboolean held = TRUE;

  g_mutex_lock (&self->lock);
  *wait = CLAMP (2 * self->typical_read, HOLD_MIN, HOLD_MAX);
  long_reader = MAX (4 * self->typical_read, LONG_READER_MIN);
  for (guint i = 0; i < self->n_slots && held; i++)
    held = !self->slots[i].lent || now - self->slots[i].since < long_reader;
  if (held)
    self->holds++;
  g_mutex_unlock (&self->lock);
  return held;
}

void
msb_db_reader_unhold (MsbDbReader *self)
{
  GQueue granted = G_QUEUE_INIT;
  Slot *slot;

  g_mutex_lock (&self->lock);
  g_assert (self->holds > 0);
  self->holds--;
  while (!g_queue_is_empty (&self->idle) && !g_queue_is_empty (&self->waiting))
    {
      MsbDbJob *job = pop_claimable (self);

      if (job == NULL)
        break;
      slot = take_idle (self);
      slot->job = job;
      g_queue_push_tail (&granted, slot);
    }
  g_mutex_unlock (&self->lock);

  while ((slot = g_queue_pop_head (&granted)) != NULL)
    dispatch (self, slot);
}

/* Closing ----------------------------------------------------------------- */

/* Stops lending: waiting jobs fail with CLOSED, running reads are
 * interrupted, connections close as they come back. Does not wait; see
 * msb_db_reader_wait_closed(). */
void
msb_db_reader_shutdown (MsbDbReader *self)
{
  GQueue waiting;
  MsbDbJob *job;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->closed = TRUE;
  waiting = self->waiting;
  g_queue_init (&self->waiting);
  for (guint i = 0; i < self->n_slots; i++)
    if (self->slots[i].lent)
      msb_db_backend_interrupt (self->slots[i].conn);
  g_mutex_unlock (&self->lock);

  while ((job = g_queue_pop_head (&waiting)) != NULL)
    {
      if (msb_db_job_claim (job))
        msb_db_job_fail (job, closed_error ());
      msb_db_job_unref (job);
    }
}

/* After msb_db_reader_shutdown(): closes the idle connections and waits at
 * most @grace for the lent ones. One still out then (held by a snapshot
 * callback that does not return) closes when it comes back, and the last
 * such one tidies the -wal and -shm files: the writer, closing meanwhile,
 * could not remove them while it was open. */
void
msb_db_reader_wait_closed (MsbDbReader *self,
                           GTimeSpan    grace)
{
  gint64 deadline = g_get_monotonic_time () + grace;
  GQueue idle;
  Slot *slot;
  gboolean all_back;

  g_mutex_lock (&self->lock);
  g_assert (self->closed);
  while (self->n_lent > 0)
    if (!g_cond_wait_until (&self->all_back, &self->lock, deadline))
      break;
  all_back = self->n_lent == 0;
  if (!all_back)
    {
      g_debug ("Closing with %u read connection(s) still lent to callbacks; "
               "they close when the callbacks return", self->n_lent);
      self->tidy_when_back = TRUE;
    }
  idle = self->idle;
  g_queue_init (&self->idle);
  g_mutex_unlock (&self->lock);

  while ((slot = g_queue_pop_head (&idle)) != NULL)
    msb_db_backend_close (g_steal_pointer (&slot->conn));
  /* Read-only pools have no writer whose close folds the log back. */
  if (all_back && !self->has_writer)
    msb_db_backend_tidy (self->target);
}
