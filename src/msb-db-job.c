/* msb-db-job.c: one call waiting for, or holding, a connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-job.h"

static GPrivate callback_owner;

static void release_callback_data (MsbDbJob *job);

MsbDbJob *
msb_db_job_new (MsbDbJobKind  kind,
                GCancellable *cancellable,
                GTimeSpan     timeout)
{
  MsbDbJob *job = g_new0 (MsbDbJob, 1);

  g_atomic_ref_count_init (&job->ref_count);
  job->kind = kind;
  job->state = MSB_DB_JOB_PENDING;
  job->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  job->queued_at = g_get_monotonic_time ();
  if (timeout > 0 && timeout < G_MAXINT64 - job->queued_at)
    job->deadline = job->queued_at + timeout;
  else
    job->deadline = G_MAXINT64;
  g_mutex_init (&job->mutex);
  g_cond_init (&job->cond);
  return job;
}

MsbDbJob *
msb_db_job_ref (MsbDbJob *job)
{
  g_atomic_ref_count_inc (&job->ref_count);
  return job;
}

void
msb_db_job_unref (MsbDbJob *job)
{
  if (!g_atomic_ref_count_dec (&job->ref_count))
    return;

  g_assert (job->cancel_source == NULL && job->watcher == NULL);
  g_assert (job->task == NULL);
  release_callback_data (job);
  g_free (job->sql);
  g_clear_pointer (&job->params, g_variant_unref);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->rows);
  g_clear_error (&job->error);
  g_mutex_clear (&job->mutex);
  g_cond_clear (&job->cond);
  g_free (job);
}

/* The consumer's side of the race: TRUE if the job is now ours to run. */
gboolean
msb_db_job_claim (MsbDbJob *job)
{
  return g_atomic_int_compare_and_exchange (&job->state, MSB_DB_JOB_PENDING, MSB_DB_JOB_CLAIMED);
}

/* The waiter's side of the race, for queues that need no lock to drop a
 * job (the writer skips abandoned jobs when it pops them). */
gboolean
msb_db_job_try_abandon (MsbDbJob *job)
{
  return g_atomic_int_compare_and_exchange (&job->state, MSB_DB_JOB_PENDING, MSB_DB_JOB_ABANDONED);
}

void
msb_db_job_take_error (MsbDbJob *job,
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

static void
give_up (MsbDbJob              *job,
         MsbDbJobAbandonReason  reason)
{
  if (job->abandon != NULL && job->abandon (job->queue, job, reason))
    msb_db_job_complete (job);
}

/* The job's deadline passed (see msb_db_completions_watch()). */
void
msb_db_job_expire (MsbDbJob *job)
{
  give_up (job, MSB_DB_JOB_EXPIRED);
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  give_up (data, MSB_DB_JOB_CANCELLED);
  return G_SOURCE_REMOVE;
}

/* For an async job about to wait in a queue: give up at its deadline or
 * when it is cancelled, from the caller's own main context. Must be called
 * before the job becomes visible to the queue's consumer. */
void
msb_db_job_watch (MsbDbJob *job)
{
  GMainContext *context;

  g_assert (job->task != NULL && job->completions != NULL);
  context = g_task_get_context (job->task);

  if (job->deadline != G_MAXINT64)
    msb_db_completions_watch (job->completions, context, job);
  if (job->cancellable != NULL)
    {
      GSource *source = g_cancellable_source_new (job->cancellable);

      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_cancelled,
                             msb_db_job_ref (job), (GDestroyNotify) msb_db_job_unref);
      g_source_set_static_name (source, "[msb-db] job cancelled");
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_mutex_lock (&job->mutex);
      job->cancel_source = source;
      g_mutex_unlock (&job->mutex);
      g_source_attach (source, context);
    }
}

static void
wake_waiter (GCancellable *cancellable,
             gpointer      data)
{
  MsbDbJob *job = data;

  g_mutex_lock (&job->mutex);
  job->wake = TRUE;
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->mutex);
}

/* For a blocking call: waits until the job completes. While the job is
 * still PENDING, its deadline and its cancellable make the waiter give up
 * (and the job then completes with the reason). */
void
msb_db_job_wait (MsbDbJob *job)
{
  gulong handler = 0;
  gboolean may_give_up = TRUE;

  if (job->cancellable != NULL)
    handler = g_cancellable_connect (job->cancellable, G_CALLBACK (wake_waiter), job, NULL);

  g_mutex_lock (&job->mutex);
  while (!job->done)
    {
      gboolean expired = FALSE;

      if (may_give_up && g_cancellable_is_cancelled (job->cancellable))
        {
          g_mutex_unlock (&job->mutex);
          give_up (job, MSB_DB_JOB_CANCELLED);
          g_mutex_lock (&job->mutex);
          may_give_up = FALSE;
          continue;
        }

      if (may_give_up && job->deadline != G_MAXINT64)
        expired = !g_cond_wait_until (&job->cond, &job->mutex, job->deadline) &&
                  !job->done && !job->wake;
      else
        g_cond_wait (&job->cond, &job->mutex);
      job->wake = FALSE;

      if (expired)
        {
          g_mutex_unlock (&job->mutex);
          give_up (job, MSB_DB_JOB_EXPIRED);
          g_mutex_lock (&job->mutex);
          may_give_up = FALSE;
        }
    }
  g_mutex_unlock (&job->mutex);

  if (handler != 0)
    g_cancellable_disconnect (job->cancellable, handler);
}

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

/* Runs the callback's destroy notify, if it has not run yet. It runs on
 * the thread that ran the callback, which a blocking call of the same
 * pools would wait for: it counts as inside the callback, so such a call
 * fails at once, as it does from the callback itself. */
static void
release_callback_data (MsbDbJob *job)
{
  GDestroyNotify notify = g_steal_pointer (&job->notify);
  gconstpointer previous;

  if (notify == NULL)
    return;
  previous = msb_db_job_enter_callback (job->pools);
  notify (job->user_data);
  msb_db_job_leave_callback (previous);
}

/* Reports the job's outcome (job->rows or job->error) to its caller now: for
 * an async job, in its task's context (or through GTask's own idle). Only
 * through msb_db_job_complete(), which has ended its deadline watch. */
void
msb_db_job_report (MsbDbJob *job)
{
  GSource *cancel_source;
  g_autoptr(GTask) task = NULL;

  g_mutex_lock (&job->mutex);
  cancel_source = g_steal_pointer (&job->cancel_source);
  task = g_steal_pointer (&job->task);
  g_mutex_unlock (&job->mutex);

  destroy_source (&cancel_source);

  /* The callback's data is released before the caller hears back, on the
   * thread that ran it: after this point the caller may drop its last
   * reference and wait for that thread (a binding's lock held meanwhile
   * must not be needed to free the data). */
  release_callback_data (job);

  if (task == NULL)
    {
      g_mutex_lock (&job->mutex);
      job->done = TRUE;
      g_cond_broadcast (&job->cond);
      g_mutex_unlock (&job->mutex);
      return;
    }

  if (job->error != NULL)
    g_task_return_error (task, g_steal_pointer (&job->error));
  else if (job->kind == MSB_DB_JOB_READ || job->kind == MSB_DB_JOB_WRITE)
    g_task_return_pointer (task, g_steal_pointer (&job->rows), g_object_unref);
  else
    g_task_return_boolean (task, TRUE);
}

/* Reports the job's outcome to its caller. Called exactly once, by the
 * party that claimed or abandoned it. An async job finished off its
 * context's thread goes through the completions source, which reports
 * many jobs per wake-up of the context; GTask alone would add one idle
 * source, and one wake-up, per call. */
void
msb_db_job_complete (MsbDbJob *job)
{
  GMainContext *context;

  if (job->task == NULL)
    {
      msb_db_job_report (job);
      return;
    }

  msb_db_completions_unwatch (job);

  context = g_task_get_context (job->task);
  if (g_main_context_is_owner (context))
    {
      msb_db_job_report (job);
      return;
    }

  /* The callback's data is released on the thread that ran the job, as
   * msb_db_job_report() does, before the caller can hear back. */
  release_callback_data (job);
  msb_db_completions_push (job->completions, context, job);
}

gconstpointer
msb_db_job_enter_callback (gconstpointer pools)
{
  gconstpointer previous = g_private_get (&callback_owner);

  g_private_set (&callback_owner, (gpointer) pools);
  return previous;
}

void
msb_db_job_leave_callback (gconstpointer previous)
{
  g_private_set (&callback_owner, (gpointer) previous);
}

gboolean
msb_db_job_in_callback_of (gconstpointer pools)
{
  return g_private_get (&callback_owner) == pools;
}
