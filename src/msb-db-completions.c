/* msb-db-completions.c: async calls' deadlines and reports, per context
 *
 * Each main context with async calls of one MsbDbPools in flight gets one
 * GSource, which does two jobs for all of them:
 *
 * - Reports. A call finished on the writer thread or a read worker must be
 *   reported in the caller's context. Returning its GTask from there costs
 *   one idle GSource and one wake-up of that context per call. Instead the
 *   worker appends the finished job to this source's queue and wakes the
 *   context only if the queue was empty; one dispatch then reports every
 *   job queued meanwhile (a GTask returned from inside its own context
 *   calls back at once).
 *
 * - Deadlines. A queued call gives up after connect-timeout. Rather than
 *   one timeout GSource per call (which every iteration of the context
 *   would walk), the source keeps the waiting jobs in deadline order and
 *   sets its ready time to the earliest. A job that finishes leaves the
 *   list; the ready time is not moved back for it, so the source may wake
 *   once for nothing, and then re-arms.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-completions.h"
#include "msb-db-job.h"

struct _MsbDbCompletions
{
  gatomicrefcount ref_count;
  GMutex lock;
  GHashTable *sources;   /* GMainContext -> CompletionSource, both unowned */
  gboolean shut_down;
};

typedef struct
{
  GSource source;
  MsbDbCompletions *owner;     /* owned */
  GMainContext *context;       /* unowned: it owns this source */
  GMutex lock;
  GQueue finished;             /* of MsbDbJob, owned: to report */
  gboolean reporting;          /* in report_finished(): no wake-up needed */
  GQueue watched;              /* links embedded in the jobs, owned: by deadline */
} CompletionSource;

static MsbDbCompletions *
completions_ref (MsbDbCompletions *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
msb_db_completions_unref (MsbDbCompletions *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_hash_table_destroy (self->sources);
  g_mutex_clear (&self->lock);
  g_free (self);
}

MsbDbCompletions *
msb_db_completions_new (void)
{
  MsbDbCompletions *self = g_new0 (MsbDbCompletions, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->sources = g_hash_table_new (NULL, NULL);
  return self;
}

/* The source ------------------------------------------------------------ */

static gboolean
source_has_finished (GSource *source)
{
  CompletionSource *cs = (CompletionSource *) source;
  gboolean has_finished;

  g_mutex_lock (&cs->lock);
  has_finished = !g_queue_is_empty (&cs->finished);
  g_mutex_unlock (&cs->lock);
  return has_finished;
}

static gboolean
source_prepare (GSource *source,
                gint    *timeout)
{
  *timeout = -1;   /* the ready time covers deadlines */
  return source_has_finished (source);
}

static void
report_finished (CompletionSource *cs)
{
  GQueue jobs;
  MsbDbJob *job;

  g_mutex_lock (&cs->lock);
  jobs = cs->finished;
  g_queue_init (&cs->finished);
  cs->reporting = TRUE;
  g_mutex_unlock (&cs->lock);

  while ((job = g_queue_pop_head (&jobs)) != NULL)
    {
      msb_db_job_report (job);
      msb_db_job_unref (job);
    }

  /* Jobs that finished meanwhile did not wake the context: the source's
   * prepare() finds them before the context polls again. */
  g_mutex_lock (&cs->lock);
  cs->reporting = FALSE;
  g_mutex_unlock (&cs->lock);
}

/* Lock held. */
static void
arm_deadline (CompletionSource *cs)
{
  MsbDbJob *first = g_queue_peek_head (&cs->watched);

  g_source_set_ready_time (&cs->source, first != NULL ? first->deadline : -1);
}

/* Gives up on every watched job whose deadline has passed; a job that was
 * claimed meanwhile runs on and reports as usual. */
static void
expire_overdue (CompletionSource *cs)
{
  gint64 now = g_get_monotonic_time ();
  GQueue overdue = G_QUEUE_INIT;
  MsbDbJob *job;

  g_mutex_lock (&cs->lock);
  while ((job = g_queue_peek_head (&cs->watched)) != NULL && job->deadline <= now)
    {
      g_queue_unlink (&cs->watched, &job->watch_link);
      g_atomic_pointer_set (&job->watcher, NULL);
      g_queue_push_tail (&overdue, job);   /* the watch's reference */
    }
  arm_deadline (cs);
  g_mutex_unlock (&cs->lock);

  while ((job = g_queue_pop_head (&overdue)) != NULL)
    {
      msb_db_job_expire (job);
      msb_db_job_unref (job);
    }
}

static gboolean
source_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  CompletionSource *cs = (CompletionSource *) source;
  gint64 ready_time = g_source_get_ready_time (source);

  report_finished (cs);
  if (ready_time != -1 && ready_time <= g_source_get_time (source))
    expire_overdue (cs);
  return G_SOURCE_CONTINUE;
}

/* Runs when the context is destroyed or the owner shut down. A context
 * cannot go away while one of its calls is in flight (GTask holds it), nor
 * the owner (each call holds the pools), so both queues are empty. */
static void
source_finalize (GSource *source)
{
  CompletionSource *cs = (CompletionSource *) source;
  MsbDbCompletions *owner = cs->owner;

  g_mutex_lock (&owner->lock);
  if (g_hash_table_lookup (owner->sources, cs->context) == cs)
    g_hash_table_remove (owner->sources, cs->context);
  g_mutex_unlock (&owner->lock);

  g_warn_if_fail (g_queue_is_empty (&cs->finished) && g_queue_is_empty (&cs->watched));
  g_mutex_clear (&cs->lock);
  msb_db_completions_unref (owner);
}

static GSourceFuncs source_funcs = {
  .prepare = source_prepare,
  .check = source_has_finished,
  .dispatch = source_dispatch,
  .finalize = source_finalize,
};

/* The owner's lock held. */
static CompletionSource *
source_for_context (MsbDbCompletions *self,
                    GMainContext     *context)
{
  CompletionSource *cs = g_hash_table_lookup (self->sources, context);

  if (cs != NULL)
    return cs;

  g_assert (!self->shut_down);
  cs = (CompletionSource *) g_source_new (&source_funcs, sizeof *cs);
  cs->owner = completions_ref (self);
  cs->context = context;
  g_mutex_init (&cs->lock);
  g_queue_init (&cs->finished);
  g_queue_init (&cs->watched);
  g_source_set_priority (&cs->source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (&cs->source, "[msb-db] completions");
  g_hash_table_insert (self->sources, context, cs);
  g_source_attach (&cs->source, context);
  g_source_unref (&cs->source);   /* the context keeps it */
  return cs;
}

static CompletionSource *
lookup_source (MsbDbCompletions *self,
               GMainContext     *context)
{
  CompletionSource *cs;

  g_mutex_lock (&self->lock);
  cs = source_for_context (self, context);
  g_mutex_unlock (&self->lock);
  return cs;
}

/* Deadlines ------------------------------------------------------------- */

/* Before @job becomes visible to its queue's consumer: give up on it at
 * its deadline, in @context (its task's). */
void
msb_db_completions_watch (MsbDbCompletions *self,
                          GMainContext     *context,
                          MsbDbJob         *job)
{
  CompletionSource *cs = lookup_source (self, context);
  GList *before;

  g_assert (job->watcher == NULL && job->deadline != G_MAXINT64);
  job->watch_link.data = msb_db_job_ref (job);

  g_mutex_lock (&cs->lock);
  /* Calls of one pools share a timeout, so this is almost always the tail. */
  for (before = cs->watched.tail; before != NULL; before = before->prev)
    if (((MsbDbJob *) before->data)->deadline <= job->deadline)
      break;
  if (before != NULL)
    g_queue_insert_after_link (&cs->watched, before, &job->watch_link);
  else
    g_queue_push_head_link (&cs->watched, &job->watch_link);
  g_atomic_pointer_set (&job->watcher, cs);
  if (cs->watched.head == &job->watch_link)
    arm_deadline (cs);
  g_mutex_unlock (&cs->lock);
}

/* When @job completes, from any thread: its deadline no longer matters. */
void
msb_db_completions_unwatch (MsbDbJob *job)
{
  CompletionSource *cs = g_atomic_pointer_get (&job->watcher);
  gboolean unlinked = FALSE;

  if (cs == NULL)
    return;

  g_mutex_lock (&cs->lock);
  if (g_atomic_pointer_get (&job->watcher) == cs)
    {
      g_queue_unlink (&cs->watched, &job->watch_link);
      g_atomic_pointer_set (&job->watcher, NULL);
      unlinked = TRUE;
    }
  g_mutex_unlock (&cs->lock);

  if (unlinked)
    msb_db_job_unref (job);
}

/* Reports --------------------------------------------------------------- */

/* From any thread: reports @job in @context soon. */
void
msb_db_completions_push (MsbDbCompletions *self,
                         GMainContext     *context,
                         MsbDbJob         *job)
{
  CompletionSource *cs = lookup_source (self, context);
  gboolean wake;

  g_mutex_lock (&cs->lock);
  wake = g_queue_is_empty (&cs->finished) && !cs->reporting;
  g_queue_push_tail (&cs->finished, msb_db_job_ref (job));
  g_mutex_unlock (&cs->lock);

  if (wake)
    g_main_context_wakeup (context);
}

/* Detaches every source; called when the pools go away (no call is in
 * flight then: each holds a reference to the pools). */
void
msb_db_completions_shutdown (MsbDbCompletions *self)
{
  g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  self->shut_down = TRUE;
  g_hash_table_iter_init (&iter, self->sources);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sources, g_source_ref (value));
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < sources->len; i++)
    g_source_destroy (g_ptr_array_index (sources, i));
}
