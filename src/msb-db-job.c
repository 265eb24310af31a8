/* msb-db-job.c: one call, from the moment it is queued until it reports
 *
 * A job is PENDING while it waits in a queue (the writer's, or the
 * reader's). Exactly one party moves it on, with a compare-and-swap: the
 * queue's consumer to CLAIMED (it will run it and complete it), or its
 * deadline, its cancellable or its waiter to ABANDONED (the job then
 * reports the reason at once and never runs; the consumer drops it when
 * it comes up). Nothing has to reach into the queue to take it out.
 *
 * A job reports its outcome once, in one of three ways chosen when it is
 * made: an async job returns its GTask in the task's main context (through
 * MsbDbCompletions, batched, when it finished on another thread); a
 * blocking job wakes the thread waiting in msb_db_job_wait(); a job with a
 * sink hands itself to the sink on the thread that finished it (an
 * MsbDbResultQueue, which has no main context to return a task in). Blocking
 * calls do not go through a GTask: a write that waits for the writer
 * thread would pay for the task, its context lookup and its reference
 * counting on every call, to wait the same way in the end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-callback-scope.h"
#include "msb-db-error.h"
#include "msb-db-job.h"

typedef enum {
  JOB_PENDING,
  JOB_CLAIMED,
  JOB_ABANDONED,
} JobState;

struct _MsbDbJob
{
  MsbDbJobKind kind;
  gint state;                     /* JobState, atomic */

  /* What to run. */
  char *sql;
  GVariant *params;
  MsbDbConnectionFunc func;
  MsbDbMaintenanceFunc maintenance;
  gpointer user_data;
  GDestroyNotify notify;
  gconstpointer owner;            /* whose callback @func is */
  GCancellable *cancellable;
  gint64 queued_at;               /* monotonic µs */
  gint64 deadline;                /* monotonic µs; G_MAXINT64: none */

  /* Where it waits. */
  MsbDbJobTimeoutFunc on_timeout;
  gpointer queue;

  /* The outcome. */
  MsbDbRows *rows;
  GError *error;
  gpointer lent;                  /* what a LEND job hands over */

  /* An async job: its task, and how it reaches the task's context. */
  GTask *task;
  MsbDbCompletions *completions;
  MsbDbDelivery delivery;
  MsbDbDeadline expiry;
  GSource *cancel_source;

  /* A job with a sink: the sink, and the context its deadline is watched
   * in (it also uses @completions). */
  MsbDbJobSinkFunc sink;
  gpointer sink_data;
  GMainContext *sink_context;

  /* A blocking job: its waiter. */
  GMutex mutex;
  GCond cond;
  gboolean done;
  gboolean wake;                  /* the waiter should look again */
};

static void
job_init (MsbDbJob     *job,
          MsbDbJobKind  kind,
          GCancellable *cancellable,
          GTimeSpan     timeout)
{
  job->kind = kind;
  job->state = JOB_PENDING;
  job->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  job->queued_at = g_get_monotonic_time ();
  if (timeout > 0 && timeout < G_MAXINT64 - job->queued_at)
    job->deadline = job->queued_at + timeout;
  else
    job->deadline = G_MAXINT64;
  g_mutex_init (&job->mutex);
  g_cond_init (&job->cond);
}

/* A read or a write of one statement. @params: a floating reference is
 * consumed. */
MsbDbJob *
msb_db_job_new_statement (MsbDbJobKind  kind,
                          const char   *sql,
                          GVariant     *params,
                          GCancellable *cancellable,
                          GTimeSpan     timeout)
{
  MsbDbJob *job = g_atomic_rc_box_new0 (MsbDbJob);

  job_init (job, kind, cancellable, timeout);
  job->sql = g_strdup (sql);
  job->params = params ? g_variant_ref_sink (params) : NULL;
  return job;
}

/* A transaction or a snapshot: @func runs with a connection, as a callback
 * of @owner (see msb-db-callback-scope.c). */
MsbDbJob *
msb_db_job_new_callback (MsbDbJobKind         kind,
                         MsbDbConnectionFunc  func,
                         gpointer             user_data,
                         GDestroyNotify       notify,
                         gconstpointer        owner,
                         GCancellable        *cancellable,
                         GTimeSpan            timeout)
{
  MsbDbJob *job = g_atomic_rc_box_new0 (MsbDbJob);

  job_init (job, kind, cancellable, timeout);
  job->func = func;
  job->user_data = user_data;
  job->notify = notify;
  job->owner = owner;
  return job;
}

/* The library's own work on the writer, outside any transaction. */
MsbDbJob *
msb_db_job_new_maintenance (MsbDbMaintenanceFunc  func,
                            gpointer              data,
                            GDestroyNotify        notify,
                            GCancellable         *cancellable,
                            GTimeSpan             timeout)
{
  MsbDbJob *job = g_atomic_rc_box_new0 (MsbDbJob);

  job_init (job, MSB_DB_JOB_MAINTENANCE, cancellable, timeout);
  job->maintenance = func;
  job->user_data = data;
  job->notify = notify;
  return job;
}

/* A wait for a read connection, which the waiter then keeps (a cursor):
 * the reader hands it over with msb_db_job_set_lent(). */
MsbDbJob *
msb_db_job_new_lend (GCancellable *cancellable,
                     GTimeSpan     timeout)
{
  MsbDbJob *job = g_atomic_rc_box_new0 (MsbDbJob);

  job_init (job, MSB_DB_JOB_LEND, cancellable, timeout);
  return job;
}

MsbDbJob *
msb_db_job_ref (MsbDbJob *job)
{
  return g_atomic_rc_box_acquire (job);
}

/* Runs the destroy notify of the callback's data, if it has not run yet.
 * It runs on the thread that ran the callback: it counts as part of the
 * callback, so a blocking call of the same pools from it fails at once. */
static void
release_callback_data (MsbDbJob *job)
{
  GDestroyNotify notify = g_steal_pointer (&job->notify);
  gconstpointer previous;

  if (notify == NULL)
    return;
  previous = msb_db_callback_scope_enter (job->owner);
  notify (job->user_data);
  msb_db_callback_scope_leave (previous);
}

static void
job_clear (MsbDbJob *job)
{
  g_assert (job->task == NULL && job->cancel_source == NULL);
  release_callback_data (job);
  g_free (job->sql);
  g_clear_pointer (&job->params, g_variant_unref);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->rows);
  g_clear_error (&job->error);
  g_clear_pointer (&job->completions, msb_db_completions_unref);
  g_clear_pointer (&job->sink_context, g_main_context_unref);
  g_mutex_clear (&job->mutex);
  g_cond_clear (&job->cond);
}

void
msb_db_job_unref (MsbDbJob *job)
{
  g_atomic_rc_box_release_full (job, (GDestroyNotify) job_clear);
}

/* Makes @job an async one: it reports by returning @task in the task's
 * context, through @completions when it finishes on another thread. */
void
msb_db_job_set_task (MsbDbJob         *job,
                     GTask            *task,
                     MsbDbCompletions *completions)
{
  g_assert (job->task == NULL);
  job->task = g_object_ref (task);
  job->completions = g_atomic_rc_box_acquire (completions);
}

/* Makes @job an async one that reports by calling @sink (@sink_data) on
 * the thread that finishes it, instead of returning a task: for callers
 * that run no GLib main context. While it waits in a queue, its deadline
 * is watched through @completions in @context (someone must iterate it);
 * its cancellable is not: the caller calls msb_db_job_cancel(). */
void
msb_db_job_set_sink (MsbDbJob         *job,
                     MsbDbJobSinkFunc  sink,
                     gpointer          sink_data,
                     MsbDbCompletions *completions,
                     GMainContext     *context)
{
  g_assert (job->task == NULL && job->sink == NULL);
  job->sink = sink;
  job->sink_data = sink_data;
  job->completions = g_atomic_rc_box_acquire (completions);
  job->sink_context = g_main_context_ref (context);
}

MsbDbJobKind
msb_db_job_get_kind (MsbDbJob *job)
{
  return job->kind;
}

const char *
msb_db_job_get_sql (MsbDbJob *job)
{
  return job->sql;
}

GVariant *
msb_db_job_get_params (MsbDbJob *job)
{
  return job->params;
}

GCancellable *
msb_db_job_get_cancellable (MsbDbJob *job)
{
  return job->cancellable;
}

gint64
msb_db_job_get_queued_at (MsbDbJob *job)
{
  return job->queued_at;
}

gint64
msb_db_job_get_deadline (MsbDbJob *job)
{
  return job->deadline;
}

gboolean
msb_db_job_is_async (MsbDbJob *job)
{
  return job->completions != NULL;
}

/* The outcome ------------------------------------------------------------ */

/* Takes @rows (transfer full). */
void
msb_db_job_set_rows (MsbDbJob  *job,
                     MsbDbRows *rows)
{
  g_clear_object (&job->rows);
  job->rows = rows;
}

/* Takes @error (transfer full). */
void
msb_db_job_set_error (MsbDbJob *job,
                      GError   *error)
{
  g_clear_error (&job->error);
  job->error = error;
}

void
msb_db_job_reset_outcome (MsbDbJob *job)
{
  g_clear_object (&job->rows);
  g_clear_error (&job->error);
}

void
msb_db_job_set_lent (MsbDbJob *job,
                     gpointer  lent)
{
  job->lent = lent;
}

gpointer
msb_db_job_get_lent (MsbDbJob *job)
{
  return job->lent;
}

const GError *
msb_db_job_get_error (MsbDbJob *job)
{
  return job->error;
}

MsbDbRows *
msb_db_job_get_rows (MsbDbJob *job)
{
  return job->rows;
}

/* Runs a transaction or snapshot callback with @connection, as a callback
 * of the job's owner. */
gboolean
msb_db_job_run_callback (MsbDbJob         *job,
                         MsbDbConnection  *connection,
                         GError          **error)
{
  gconstpointer previous = msb_db_callback_scope_enter (job->owner);
  gboolean ok = job->func (connection, job->user_data, error);

  msb_db_callback_scope_leave (previous);
  return ok;
}

MsbDbRows *
msb_db_job_run_maintenance (MsbDbJob          *job,
                            MsbDbBackendConn  *conn,
                            GError           **error)
{
  return job->maintenance (conn, job->user_data, error);
}

/* Reporting -------------------------------------------------------------- */

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}

/* In the task's context: returns the task. */
static void
return_task (MsbDbJob *job)
{
  g_autoptr(GTask) task = NULL;
  GSource *cancel_source;

  g_mutex_lock (&job->mutex);
  cancel_source = g_steal_pointer (&job->cancel_source);
  task = g_steal_pointer (&job->task);
  g_mutex_unlock (&job->mutex);
  destroy_source (&cancel_source);

  /* The callback's data goes before the caller hears back, on the thread
   * that ran the callback when it ran on another one: after this the
   * caller may drop its last reference and wait for that thread (a
   * binding's lock held meanwhile must not be needed to free the data). */
  release_callback_data (job);

  if (job->error != NULL)
    g_task_return_error (task, g_steal_pointer (&job->error));
  else if (job->kind == MSB_DB_JOB_READ || job->kind == MSB_DB_JOB_WRITE ||
           job->kind == MSB_DB_JOB_WRITE_MANY || job->kind == MSB_DB_JOB_MAINTENANCE)
    g_task_return_pointer (task, g_steal_pointer (&job->rows), g_object_unref);
  else
    g_task_return_boolean (task, TRUE);
}

static void
return_delivered_task (gpointer data)
{
  MsbDbJob *job = data;

  return_task (job);
  msb_db_job_unref (job);
}

static void
wake_waiter (MsbDbJob *job)
{
  g_mutex_lock (&job->mutex);
  job->done = TRUE;
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->mutex);
}

/* Reports the job's outcome (its rows, or its error) to its caller. Called
 * exactly once, by the party that claimed or abandoned it. */
void
msb_db_job_complete (MsbDbJob *job)
{
  GMainContext *context;

  if (job->completions == NULL)
    {
      release_callback_data (job);
      wake_waiter (job);
      return;
    }

  if (msb_db_completions_unwatch (&job->expiry))
    msb_db_job_unref (job);   /* the deadline's reference */

  if (job->sink != NULL)
    {
      release_callback_data (job);
      job->sink (job, job->sink_data);
      return;
    }

  context = g_task_get_context (job->task);
  if (g_main_context_is_owner (context))
    {
      return_task (job);
      return;
    }

  release_callback_data (job);
  job->delivery.func = return_delivered_task;
  job->delivery.data = msb_db_job_ref (job);
  msb_db_completions_deliver (job->completions, context, &job->delivery);
}

/* Completes @job with @error (transfer full) and nothing else. */
void
msb_db_job_fail (MsbDbJob *job,
                 GError   *error)
{
  msb_db_job_reset_outcome (job);
  msb_db_job_set_error (job, error);
  msb_db_job_complete (job);
}

/* Claiming and giving up ------------------------------------------------- */

/* The consumer's side of the race: TRUE if the job is now ours to run. */
gboolean
msb_db_job_claim (MsbDbJob *job)
{
  return g_atomic_int_compare_and_exchange (&job->state, JOB_PENDING, JOB_CLAIMED);
}

static const char *
kind_name (MsbDbJobKind kind)
{
  switch (kind)
    {
    case MSB_DB_JOB_READ:
      return "read";
    case MSB_DB_JOB_WRITE:
    case MSB_DB_JOB_WRITE_MANY:
      return "write";
    case MSB_DB_JOB_TRANSACTION:
      return "transaction";
    case MSB_DB_JOB_SNAPSHOT:
      return "snapshot";
    case MSB_DB_JOB_LEND:
      return "cursor";
    case MSB_DB_JOB_MAINTENANCE:
    default:
      return "call";
    }
}

/* The waiter's side: if the job is still pending, it never runs, and
 * reports why now. TRUE if it gave up. */
static gboolean
give_up (MsbDbJob *job,
         gboolean  expired)
{
  GError *error;

  if (!g_atomic_int_compare_and_exchange (&job->state, JOB_PENDING, JOB_ABANDONED))
    return FALSE;
  if (expired)
    error = job->on_timeout (job->queue, job);
  else
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         "The %s was cancelled before it started", kind_name (job->kind));
  msb_db_job_fail (job, error);
  return TRUE;
}

/* From any thread, for a job whose cancellable nobody watches (one with a
 * sink): if the job still waits in its queue, it never runs and reports
 * G_IO_ERROR_CANCELLED now. Cancelling its cancellable is still what
 * interrupts it once it runs. TRUE if it gave up. */
gboolean
msb_db_job_cancel (MsbDbJob *job)
{
  return give_up (job, FALSE);
}

static void
expire (gpointer data)
{
  MsbDbJob *job = data;

  give_up (job, TRUE);
  msb_db_job_unref (job);   /* the deadline's reference */
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  give_up (data, FALSE);
  return G_SOURCE_REMOVE;
}

/* Called by the queue @job enters, before its consumer can see it: the job
 * then gives up at its deadline (with the error @on_timeout builds) or
 * when cancelled. An async job watches both in its task's context; a
 * blocking job's waiter does. */
void
msb_db_job_start_waiting (MsbDbJob            *job,
                          MsbDbJobTimeoutFunc  on_timeout,
                          gpointer             queue)
{
  GMainContext *context;

  job->on_timeout = on_timeout;
  job->queue = queue;
  if (job->completions == NULL)
    return;

  context = job->task != NULL ? g_task_get_context (job->task) : job->sink_context;
  if (job->deadline != G_MAXINT64)
    {
      job->expiry.func = expire;
      job->expiry.data = msb_db_job_ref (job);
      job->expiry.when = job->deadline;
      msb_db_completions_watch (job->completions, context, &job->expiry);
    }
  if (job->cancellable != NULL && job->task != NULL)
    {
      GSource *source = g_cancellable_source_new (job->cancellable);

      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_cancelled,
                             msb_db_job_ref (job), (GDestroyNotify) msb_db_job_unref);
      g_source_set_static_name (source, "[msb-db] job cancelled");
      g_mutex_lock (&job->mutex);
      job->cancel_source = source;
      g_mutex_unlock (&job->mutex);
      g_source_attach (source, context);
    }
}

static void
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      data)
{
  MsbDbJob *job = data;

  g_mutex_lock (&job->mutex);
  job->wake = TRUE;
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->mutex);
}

/* Lock held. Waits until the job is done, or it is time to give up on it
 * (cancelled, or past its deadline); FALSE in the second case. */
static gboolean
wait_done_or_reason (MsbDbJob *job,
                     gboolean *expired)
{
  while (!job->done)
    {
      if (g_cancellable_is_cancelled (job->cancellable))
        return FALSE;
      if (job->deadline == G_MAXINT64)
        g_cond_wait (&job->cond, &job->mutex);
      else if (!g_cond_wait_until (&job->cond, &job->mutex, job->deadline) &&
               !job->done && !job->wake)
        {
          *expired = TRUE;
          return FALSE;
        }
      job->wake = FALSE;
    }
  return TRUE;
}

/* For a blocking job, once queued: waits for its outcome. While the job is
 * pending, its deadline and its cancellable make the waiter give up on it.
 * Returns TRUE with the rows (for reads and writes), or FALSE with the
 * error. */
gboolean
msb_db_job_wait (MsbDbJob   *job,
                 MsbDbRows **rows,
                 GError    **error)
{
  gulong handler = 0;
  gboolean expired = FALSE;

  g_assert (job->completions == NULL);
  if (job->cancellable != NULL)
    handler = g_cancellable_connect (job->cancellable, G_CALLBACK (on_waiter_cancelled), job, NULL);

  g_mutex_lock (&job->mutex);
  if (!wait_done_or_reason (job, &expired))
    {
      g_mutex_unlock (&job->mutex);
      give_up (job, expired);
      g_mutex_lock (&job->mutex);
      /* Either we gave up (and it is done now), or the consumer claimed it
       * first and runs it to its end: wait for that, however long. */
      while (!job->done)
        g_cond_wait (&job->cond, &job->mutex);
    }
  g_mutex_unlock (&job->mutex);

  if (handler != 0)
    g_cancellable_disconnect (job->cancellable, handler);

  if (job->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&job->error));
      return FALSE;
    }
  if (rows != NULL)
    *rows = g_steal_pointer (&job->rows);
  return TRUE;
}
