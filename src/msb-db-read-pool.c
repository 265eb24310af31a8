/* msb-db-read-pool.c: a bounded pool of read-only connections
 *
 * Waiting reads are kept here, not in threads: a read only gets a worker
 * thread once it has a connection, so a thousand reads queued behind four
 * connections tie up no thread. A connection that comes back is handed
 * straight to the oldest waiter.
 *
 * Dispatch wakes as few threads as the load needs. Waking a sleeping
 * worker costs more CPU than a point read, so an async read that arrives
 * while another async read runs waits for that one's worker, which takes
 * it next without sleeping, even if a connection is idle. The waiters
 * spread to idle connections as soon as the oldest has waited
 * SPREAD_AFTER: when the running worker falls behind (checked on each
 * submit and each hand-on), or runs a long statement (checked by the
 * connection's progress hook every thousand SQLite steps). So a
 * steady trickle of reads, the usual load from one main loop, runs on one
 * warm thread, and a backlog or a slow query still keeps every connection
 * busy. A worker that finds no read waiting stays awake for LINGER before
 * it gives its connection back, yielding the CPU meanwhile: a main loop
 * issuing reads one callback at a time keeps it from sleeping between
 * them. Snapshots and blocking reads never wait behind a running read:
 * their callers may block, so they take an idle connection at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-error.h"
#include "msb-db-read-pool.h"

/* How long a read may wait for a busy worker while a connection is idle:
 * about what waking another thread costs. */
#define SPREAD_AFTER ((GTimeSpan) 50)   /* microseconds */

/* How long a worker that ran out of reads waits for the next one before
 * it sleeps: a few reads' worth, less than a sleep and wake-up cost. */
#define LINGER ((GTimeSpan) 20)         /* microseconds */

struct _MsbDbReadPool
{
  gatomicrefcount ref_count;
  MsbDbCounters *counters;

  GMutex lock;
  GCond all_back;            /* signalled when a connection returns */
  guint n_conns;
  GQueue idle;               /* of MsbDbBackendConn */
  GArray *loans;             /* of Loan: the connections lent out */
  GQueue waiting;            /* of MsbDbJob, oldest first */
  guint streaming;           /* connections lent to async reads: their
                              * worker takes the next waiter when done */
  gint spread_wanted;        /* atomic: reads wait while a connection idles */
  gint has_waiting;          /* atomic: `waiting` may be non-empty */
  guint holds;               /* > 0: lend nothing (a checkpoint runs) */
  gboolean closed;
  MsbDbTarget *tidy_target;  /* tidied when the last late connection closes */
};

/* A connection lent out, and since when (the start of its current read). */
typedef struct
{
  MsbDbBackendConn *conn;
  gint64 since;
} Loan;

static void on_conn_progress (gpointer data);

/* Lock held. */
static void
loans_add (MsbDbReadPool    *self,
           MsbDbBackendConn *conn)
{
  Loan loan = { conn, g_get_monotonic_time () };

  g_array_append_val (self->loans, loan);
}

/* Lock held. */
static Loan *
loans_find (MsbDbReadPool    *self,
            MsbDbBackendConn *conn)
{
  for (guint i = 0; i < self->loans->len; i++)
    if (g_array_index (self->loans, Loan, i).conn == conn)
      return &g_array_index (self->loans, Loan, i);
  g_assert_not_reached ();
}

/* Lock held. */
static void
loans_remove (MsbDbReadPool    *self,
              MsbDbBackendConn *conn)
{
  Loan *loan = loans_find (self, conn);

  g_array_remove_index_fast (self->loans, loan - (Loan *) (gpointer) self->loans->data);
}

MsbDbReadPool *
msb_db_read_pool_new (MsbDbBackendConn **conns,
                      guint              n_conns,
                      MsbDbCounters     *counters)
{
  MsbDbReadPool *self = g_new0 (MsbDbReadPool, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->counters = msb_db_counters_ref (counters);
  g_mutex_init (&self->lock);
  g_cond_init (&self->all_back);
  self->n_conns = n_conns;
  g_queue_init (&self->idle);
  g_queue_init (&self->waiting);
  self->loans = g_array_sized_new (FALSE, FALSE, sizeof (Loan), n_conns);
  for (guint i = 0; i < n_conns; i++)
    {
      msb_db_backend_set_progress (conns[i], on_conn_progress, self);
      g_queue_push_tail (&self->idle, conns[i]);
    }
  return self;
}

MsbDbReadPool *
msb_db_read_pool_ref (MsbDbReadPool *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
msb_db_read_pool_unref (MsbDbReadPool *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  /* Closing is the owner's job; here only leftovers of a failed open. */
  g_queue_clear_full (&self->idle, (GDestroyNotify) msb_db_backend_close);
  g_assert (self->loans->len == 0);
  g_assert (g_queue_is_empty (&self->waiting));
  g_array_unref (self->loans);
  g_clear_pointer (&self->tidy_target, msb_db_target_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->all_back);
  msb_db_counters_unref (self->counters);
  g_free (self);
}

/* Lock held. */
static GError *
exhausted_error (MsbDbReadPool *self)
{
  if (self->holds > 0)
    return g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                        "read pool paused while the writer restarts the WAL: %u "
                        "connections, %u idle, %u waiting",
                        self->n_conns, g_queue_get_length (&self->idle),
                        g_queue_get_length (&self->waiting));
  return g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT,
                      "read pool exhausted: %u connections, %u idle, %u waiting",
                      self->n_conns, g_queue_get_length (&self->idle),
                      g_queue_get_length (&self->waiting));
}

static GError *
closed_error (void)
{
  return g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                              "The database pools are closed");
}

/* An async read: its worker hands the connection straight on to the next
 * waiter, so reads may wait for it (see the top of this file). */
static gboolean
is_streamed (MsbDbJob *job)
{
  return job != NULL && job->task != NULL && job->kind == MSB_DB_JOB_READ;
}

/* Lock held. Marks @conn as lent to @job (NULL: a blocking acquire). */
static void
lend (MsbDbReadPool    *self,
      MsbDbBackendConn *conn,
      MsbDbJob         *job)
{
  loans_add (self, conn);
  if (is_streamed (job))
    self->streaming++;
}

/* Lock held. Lends an idle connection to @job, unless a checkpoint holds
 * the pool, or @job is an async read that can wait for a running one's
 * worker. Anybody waiting while a connection is idle is waiting for such
 * a worker, by choice, so taking the idle connection jumps no queue. */
static MsbDbBackendConn *
take_idle (MsbDbReadPool *self,
           MsbDbJob      *job)
{
  MsbDbBackendConn *conn;

  if (self->holds > 0 || (is_streamed (job) && self->streaming > 0))
    return NULL;
  conn = g_queue_pop_head (&self->idle);
  if (conn != NULL)
    lend (self, conn, job);
  return conn;
}

/* Lock held. Gives idle connections to the waiters that should not wait
 * any longer for a running worker: all of them if no async read runs,
 * else those that have waited SPREAD_AFTER. Appends job, connection pairs
 * to @grants, for grant_all() once the lock is dropped. */
static void
spread (MsbDbReadPool *self,
        GQueue        *grants)
{
  gint64 now = 0;

  while (self->holds == 0 && !self->closed &&
         !g_queue_is_empty (&self->idle) && !g_queue_is_empty (&self->waiting))
    {
      MsbDbJob *job = g_queue_peek_head (&self->waiting);
      MsbDbBackendConn *conn;

      if (self->streaming > 0)
        {
          if (now == 0)
            now = g_get_monotonic_time ();
          if (now - job->queued_at < SPREAD_AFTER)
            break;
        }
      g_queue_pop_head (&self->waiting);
      if (!msb_db_job_claim (job))
        {
          msb_db_job_unref (job);
          continue;
        }
      conn = g_queue_pop_head (&self->idle);
      lend (self, conn, job);
      g_queue_push_tail (grants, job);
      g_queue_push_tail (grants, conn);
    }
  g_atomic_int_set (&self->spread_wanted,
                    self->holds == 0 && !self->closed &&
                    !g_queue_is_empty (&self->idle) && !g_queue_is_empty (&self->waiting));
  g_atomic_int_set (&self->has_waiting, !g_queue_is_empty (&self->waiting));
}

/* Without the lock, on a worker whose async read just finished: waits at
 * most LINGER for another read to be queued. The worker still counts as
 * running a read meanwhile, so new reads queue for it. */
static void
linger (MsbDbReadPool *self)
{
  gint64 until;

  if (g_atomic_int_get (&self->has_waiting))
    return;
  until = g_get_monotonic_time () + LINGER;
  while (!g_atomic_int_get (&self->has_waiting) && g_get_monotonic_time () < until)
    g_thread_yield ();
}

static gboolean
abandon_waiting_job (gpointer               queue,
                     MsbDbJob              *job,
                     MsbDbJobAbandonReason  reason)
{
  MsbDbReadPool *self = queue;
  GError *error = NULL;

  g_mutex_lock (&self->lock);
  if (msb_db_job_try_abandon (job))
    {
      if (reason == MSB_DB_JOB_EXPIRED)
        {
          error = exhausted_error (self);
          MSB_DB_COUNT (self->counters, pool_timeouts);
          g_debug ("Read gave up waiting: %s", error->message);
        }
      else
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     "The read was cancelled before it started");
      if (g_queue_remove (&self->waiting, job))
        msb_db_job_unref (job);
    }
  g_mutex_unlock (&self->lock);

  if (error == NULL)
    return FALSE;
  msb_db_job_take_error (job, error);
  return TRUE;
}

/* Lock held. Queues @job until a connection comes back. */
static void
enqueue_waiting (MsbDbReadPool *self,
                 MsbDbJob      *job)
{
  job->abandon = abandon_waiting_job;
  job->queue = self;
  if (job->task != NULL)
    msb_db_job_watch (job);
  g_queue_push_tail (&self->waiting, msb_db_job_ref (job));
  g_atomic_int_set (&self->has_waiting, TRUE);
}

/* Blocks until a connection is free, at most @timeout (0: forever). */
MsbDbBackendConn *
msb_db_read_pool_acquire (MsbDbReadPool  *self,
                          GTimeSpan       timeout,
                          GCancellable   *cancellable,
                          GError        **error)
{
  g_autoptr(MsbDbJob) job = NULL;
  MsbDbBackendConn *conn;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, closed_error ());
      return NULL;
    }
  conn = take_idle (self, NULL);
  if (conn == NULL)
    {
      job = msb_db_job_new (MSB_DB_JOB_READ, cancellable, timeout);
      enqueue_waiting (self, job);
    }
  g_mutex_unlock (&self->lock);

  if (conn != NULL)
    return conn;

  msb_db_job_wait (job);
  if (job->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&job->error));
      return NULL;
    }
  return job->conn;
}

static void
grant (MsbDbJob         *job,
       MsbDbBackendConn *conn)
{
  job->conn = conn;
  if (job->granted != NULL)
    job->granted (job);
  else
    msb_db_job_complete (job);   /* a blocking acquire: wake it */
  msb_db_job_unref (job);
}

/* Without the lock: runs the grants spread() collected. */
static void
grant_all (GQueue *grants)
{
  while (!g_queue_is_empty (grants))
    {
      MsbDbJob *job = g_queue_pop_head (grants);

      grant (job, g_queue_pop_head (grants));
    }
}

/* Hands @job a connection now, or queues it. When it gets one, its
 * `granted` function runs (on this thread or the releasing one). */
gboolean
msb_db_read_pool_submit (MsbDbReadPool  *self,
                         MsbDbJob       *job,
                         GError        **error)
{
  GQueue grants = G_QUEUE_INIT;
  MsbDbBackendConn *conn;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, closed_error ());
      return FALSE;
    }
  conn = take_idle (self, job);
  if (conn == NULL)
    {
      enqueue_waiting (self, job);
      spread (self, &grants);
    }
  g_mutex_unlock (&self->lock);

  if (conn != NULL && msb_db_job_claim (job))
    {
      job->conn = conn;
      job->granted (job);
    }
  grant_all (&grants);
  return TRUE;
}

/* Runs on the thread of a long statement on one of the connections. */
static void
on_conn_progress (gpointer data)
{
  MsbDbReadPool *self = data;
  GQueue grants = G_QUEUE_INIT;

  if (!g_atomic_int_get (&self->spread_wanted))
    return;
  g_mutex_lock (&self->lock);
  spread (self, &grants);
  g_mutex_unlock (&self->lock);
  grant_all (&grants);
}

/* Takes back a connection lent to @finished (NULL: a blocking acquire):
 * the oldest waiter gets it, or it goes idle (or, once the pool is closed,
 * it is closed). If the waiter is an async job and @next is not NULL, the
 * job is not dispatched but returned in @next, holding the connection: a
 * worker thread that just finished a read runs the next one itself
 * instead of waking another thread. */
static void
release_or_pass_on (MsbDbReadPool     *self,
                    MsbDbBackendConn  *conn,
                    MsbDbJob          *finished,
                    MsbDbJob         **next_out)
{
  GQueue grants = G_QUEUE_INIT;
  MsbDbJob *next = NULL;
  gboolean close_it = FALSE;
  g_autoptr(MsbDbTarget) tidy_target = NULL;

  /* No transaction may outlive its user: roll back what a callback left. */
  if (!msb_db_backend_reset (conn))
    g_warning ("A read connection could not be reset");

  g_mutex_lock (&self->lock);
  if (is_streamed (finished))
    self->streaming--;
  if (self->closed)
    {
      loans_remove (self, conn);
      close_it = TRUE;
      if (self->loans->len == 0)
        tidy_target = g_steal_pointer (&self->tidy_target);
      g_cond_broadcast (&self->all_back);
    }
  else if (self->holds == 0)
    {
      while ((next = g_queue_pop_head (&self->waiting)) != NULL)
        {
          if (msb_db_job_claim (next))
            break;
          msb_db_job_unref (next);
        }
      if (next == NULL)
        {
          loans_remove (self, conn);
          g_queue_push_head (&self->idle, conn);
        }
      else
        {
          loans_find (self, conn)->since = g_get_monotonic_time ();
          if (is_streamed (next))
            self->streaming++;
        }
      spread (self, &grants);
    }
  else
    {
      loans_remove (self, conn);
      g_queue_push_head (&self->idle, conn);
    }
  g_mutex_unlock (&self->lock);

  if (close_it)
    msb_db_backend_close (conn);
  if (tidy_target != NULL)
    msb_db_backend_tidy (tidy_target);
  else if (next != NULL && next_out != NULL && next->task != NULL)
    {
      next->conn = conn;
      *next_out = next;   /* the pool's reference passes to the caller */
    }
  else if (next != NULL)
    grant (next, conn);
  grant_all (&grants);
}

/* Gives back a connection from msb_db_read_pool_acquire() or one granted
 * to a blocking job. */
void
msb_db_read_pool_release (MsbDbReadPool    *self,
                          MsbDbBackendConn *conn)
{
  release_or_pass_on (self, conn, NULL, NULL);
}

/* Gives back the connection of the async job @finished, and hands back
 * the next async job (with the connection) for the caller to run on its
 * own thread. */
MsbDbJob *
msb_db_read_pool_pass_on (MsbDbReadPool    *self,
                          MsbDbBackendConn *conn,
                          MsbDbJob         *finished)
{
  MsbDbJob *next = NULL;

  if (is_streamed (finished))
    linger (self);
  release_or_pass_on (self, conn, finished, &next);
  return next;
}

/* While held, the pool lends no connection: reads already running finish,
 * new ones wait (their deadline still counts). The writer holds the pool
 * for the few milliseconds of a checkpoint that must see no reader on the
 * log: without it, readers in a tight loop re-take their locks between the
 * checkpointer's attempts, and the log never restarts. A hold only helps
 * if the running reads end soon: if one of them has already run for
 * @patience, the pool is not held (and FALSE returned), so that one long
 * reader does not make every other read wait. */
gboolean
msb_db_read_pool_hold (MsbDbReadPool *self,
                       GTimeSpan      patience)
{
  gint64 now = g_get_monotonic_time ();
  gboolean held = TRUE;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->loans->len && held; i++)
    held = now - g_array_index (self->loans, Loan, i).since < patience;
  if (held)
    self->holds++;
  g_mutex_unlock (&self->lock);
  return held;
}

void
msb_db_read_pool_unhold (MsbDbReadPool *self)
{
  GQueue grants = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  g_assert (self->holds > 0);
  self->holds--;
  spread (self, &grants);
  g_mutex_unlock (&self->lock);
  grant_all (&grants);
}

/* Stops lending: queued reads fail with CLOSED, running ones are
 * interrupted, and connections are closed as they come back. Does not
 * wait; see msb_db_read_pool_wait_closed(). */
void
msb_db_read_pool_shutdown (MsbDbReadPool *self)
{
  GQueue waiting = G_QUEUE_INIT;
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
  g_atomic_int_set (&self->has_waiting, FALSE);
  for (guint i = 0; i < self->loans->len; i++)
    msb_db_backend_interrupt (g_array_index (self->loans, Loan, i).conn);
  g_mutex_unlock (&self->lock);

  while ((job = g_queue_pop_head (&waiting)) != NULL)
    {
      if (msb_db_job_try_abandon (job))
        {
          msb_db_job_take_error (job, closed_error ());
          msb_db_job_complete (job);
        }
      msb_db_job_unref (job);
    }
}

/* After msb_db_read_pool_shutdown(): closes the idle connections and waits
 * at most @grace for the lent ones. A connection still out then (held by a
 * snapshot callback that does not return) is closed when it is released;
 * the last of them tidies @tidy_target (if not NULL), which the writer's
 * close could not do while it was open. Returns TRUE if every connection
 * is closed. */
gboolean
msb_db_read_pool_wait_closed (MsbDbReadPool     *self,
                              GTimeSpan          grace,
                              const MsbDbTarget *tidy_target)
{
  GQueue idle = G_QUEUE_INIT;
  gint64 deadline = g_get_monotonic_time () + grace;
  gboolean all_closed;

  g_mutex_lock (&self->lock);
  g_assert (self->closed);
  while (self->loans->len > 0)
    if (!g_cond_wait_until (&self->all_back, &self->lock, deadline))
      break;
  all_closed = self->loans->len == 0;
  if (!all_closed)
    {
      g_debug ("Closing with %u read connection(s) still lent to callbacks; "
               "they close when the callbacks return", self->loans->len);
      if (tidy_target != NULL && self->tidy_target == NULL)
        self->tidy_target = msb_db_target_copy (tidy_target);
    }
  idle = self->idle;
  g_queue_init (&self->idle);
  g_mutex_unlock (&self->lock);

  g_queue_clear_full (&idle, (GDestroyNotify) msb_db_backend_close);
  return all_closed;
}
