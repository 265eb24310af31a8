/* msb-db-completions.c: run functions in a main context, batched, and at deadlines
 *
 * Worker threads finish calls whose callers wait in a main context. Each
 * such context gets one GSource per MsbDbCompletions, which does two jobs
 * for everything queued to it:
 *
 * - Deliveries. Returning a GTask from another thread costs one idle
 *   GSource and one wake-up of the context per call. Instead a delivery is
 *   appended to the source's queue, which wakes the context only if the
 *   queue was empty; one dispatch then runs every delivery queued
 *   meanwhile.
 *
 * - Deadlines. Rather than one timeout GSource per waiting call (which every
 *   iteration of the context would walk), the source keeps the deadlines in
 *   order and sets its ready time to the earliest. A deadline that is
 *   unwatched leaves the list; the ready time is not moved back for it, so
 *   the source may wake once for nothing, and then re-arms.
 *
 * Nothing here knows what is delivered: callers embed an MsbDbDelivery or
 * MsbDbDeadline in their own structures and keep them alive until their
 * function runs (or, for a deadline, until it is unwatched).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-completions.h"

struct _MsbDbCompletions
{
  GMutex lock;
  GHashTable *sources;   /* GMainContext -> CompletionSource, both unowned */
  gboolean shut_down;
};

typedef struct
{
  GSource source;
  MsbDbCompletions *owner;     /* a reference */
  GMainContext *context;       /* unowned: it owns this source */
  GMutex lock;
  GQueue queued;               /* of MsbDbDelivery, by their links */
  gboolean dispatching;        /* running deliveries: no wake-up needed */
  GQueue deadlines;            /* of MsbDbDeadline, by their links, earliest first */
} CompletionSource;

static void
completions_free (MsbDbCompletions *self)
{
  g_hash_table_destroy (self->sources);
  g_mutex_clear (&self->lock);
}

MsbDbCompletions *
msb_db_completions_new (void)
{
  MsbDbCompletions *self = g_atomic_rc_box_new0 (MsbDbCompletions);

  g_mutex_init (&self->lock);
  self->sources = g_hash_table_new (NULL, NULL);
  return self;
}

void
msb_db_completions_unref (MsbDbCompletions *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) completions_free);
}

/* The source ------------------------------------------------------------ */

static gboolean
source_has_deliveries (GSource *source)
{
  CompletionSource *cs = (CompletionSource *) source;
  gboolean any;

  g_mutex_lock (&cs->lock);
  any = !g_queue_is_empty (&cs->queued);
  g_mutex_unlock (&cs->lock);
  return any;
}

static gboolean
source_prepare (GSource *source,
                gint    *timeout)
{
  *timeout = -1;   /* the ready time covers deadlines */
  return source_has_deliveries (source);
}

static void
run_deliveries (CompletionSource *cs)
{
  GQueue batch;
  GList *link;

  g_mutex_lock (&cs->lock);
  batch = cs->queued;
  g_queue_init (&cs->queued);
  cs->dispatching = TRUE;
  g_mutex_unlock (&cs->lock);

  while ((link = g_queue_pop_head_link (&batch)) != NULL)
    {
      MsbDbDelivery *delivery = link->data;

      delivery->func (delivery->data);
    }

  /* Deliveries queued meanwhile did not wake the context: prepare() finds
   * them before the context polls again. */
  g_mutex_lock (&cs->lock);
  cs->dispatching = FALSE;
  g_mutex_unlock (&cs->lock);
}

/* Lock held. */
static void
arm (CompletionSource *cs)
{
  MsbDbDeadline *first = g_queue_peek_head (&cs->deadlines);

  g_source_set_ready_time (&cs->source, first != NULL ? first->when : -1);
}

static void
run_due_deadlines (CompletionSource *cs)
{
  gint64 now = g_get_monotonic_time ();
  GQueue due = G_QUEUE_INIT;
  MsbDbDeadline *deadline;
  GList *link;

  g_mutex_lock (&cs->lock);
  while ((deadline = g_queue_peek_head (&cs->deadlines)) != NULL && deadline->when <= now)
    {
      link = g_queue_pop_head_link (&cs->deadlines);
      g_atomic_pointer_set (&deadline->watcher, NULL);
      g_queue_push_tail_link (&due, link);
    }
  arm (cs);
  g_mutex_unlock (&cs->lock);

  while ((link = g_queue_pop_head_link (&due)) != NULL)
    {
      deadline = link->data;
      deadline->func (deadline->data);
    }
}

static gboolean
source_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  CompletionSource *cs = (CompletionSource *) source;
  gint64 ready_time = g_source_get_ready_time (source);

  run_deliveries (cs);
  if (ready_time != -1 && ready_time <= g_source_get_time (source))
    run_due_deadlines (cs);
  return G_SOURCE_CONTINUE;
}

/* Runs when the context is destroyed or the owner shut down. Both queues
 * are empty by then: whoever queued something keeps the context and the
 * owner alive until it has run. */
static void
source_finalize (GSource *source)
{
  CompletionSource *cs = (CompletionSource *) source;
  MsbDbCompletions *owner = cs->owner;

  g_mutex_lock (&owner->lock);
  if (g_hash_table_lookup (owner->sources, cs->context) == cs)
    g_hash_table_remove (owner->sources, cs->context);
  g_mutex_unlock (&owner->lock);

  g_warn_if_fail (g_queue_is_empty (&cs->queued) && g_queue_is_empty (&cs->deadlines));
  g_mutex_clear (&cs->lock);
  msb_db_completions_unref (owner);
}

static GSourceFuncs source_funcs = {
  .prepare = source_prepare,
  .check = source_has_deliveries,
  .dispatch = source_dispatch,
  .finalize = source_finalize,
};

static CompletionSource *
source_for_context (MsbDbCompletions *self,
                    GMainContext     *context)
{
  CompletionSource *cs;

  g_mutex_lock (&self->lock);
  cs = g_hash_table_lookup (self->sources, context);
  if (cs == NULL)
    {
      g_assert (!self->shut_down);
      cs = (CompletionSource *) g_source_new (&source_funcs, sizeof *cs);
      cs->owner = g_atomic_rc_box_acquire (self);
      cs->context = context;
      g_mutex_init (&cs->lock);
      g_queue_init (&cs->queued);
      g_queue_init (&cs->deadlines);
      g_source_set_priority (&cs->source, G_PRIORITY_DEFAULT);
      g_source_set_static_name (&cs->source, "[msb-db] completions");
      g_hash_table_insert (self->sources, context, cs);
      g_source_attach (&cs->source, context);
      g_source_unref (&cs->source);   /* the context keeps it */
    }
  g_mutex_unlock (&self->lock);
  return cs;
}

/* Deliveries ------------------------------------------------------------ */

/* From any thread: runs delivery->func (delivery->data) in @context soon,
 * with the other deliveries queued meanwhile. */
void
msb_db_completions_deliver (MsbDbCompletions *self,
                            GMainContext     *context,
                            MsbDbDelivery    *delivery)
{
  CompletionSource *cs = source_for_context (self, context);
  gboolean wake;

  delivery->link.data = delivery;
  g_mutex_lock (&cs->lock);
  wake = g_queue_is_empty (&cs->queued) && !cs->dispatching;
  g_queue_push_tail_link (&cs->queued, &delivery->link);
  g_mutex_unlock (&cs->lock);

  if (wake)
    g_main_context_wakeup (context);
}

/* Deadlines ------------------------------------------------------------- */

/* Runs deadline->func (deadline->data) in @context at deadline->when,
 * unless msb_db_completions_unwatch() comes first. */
void
msb_db_completions_watch (MsbDbCompletions *self,
                          GMainContext     *context,
                          MsbDbDeadline    *deadline)
{
  CompletionSource *cs = source_for_context (self, context);
  GList *before;

  g_assert (g_atomic_pointer_get (&deadline->watcher) == NULL);
  deadline->link.data = deadline;

  g_mutex_lock (&cs->lock);
  /* Calls of one pools share a timeout, so this is almost always the tail. */
  for (before = cs->deadlines.tail; before != NULL; before = before->prev)
    if (((MsbDbDeadline *) before->data)->when <= deadline->when)
      break;
  if (before != NULL)
    g_queue_insert_after_link (&cs->deadlines, before, &deadline->link);
  else
    g_queue_push_head_link (&cs->deadlines, &deadline->link);
  g_atomic_pointer_set (&deadline->watcher, cs);
  if (cs->deadlines.head == &deadline->link)
    arm (cs);
  g_mutex_unlock (&cs->lock);
}

/* From any thread. TRUE if the deadline was still watched, and now will
 * never run; FALSE if its function runs or ran (or it was not watched). */
gboolean
msb_db_completions_unwatch (MsbDbDeadline *deadline)
{
  CompletionSource *cs = g_atomic_pointer_get (&deadline->watcher);
  gboolean unwatched = FALSE;

  if (cs == NULL)
    return FALSE;

  g_mutex_lock (&cs->lock);
  if (g_atomic_pointer_get (&deadline->watcher) == cs)
    {
      g_queue_unlink (&cs->deadlines, &deadline->link);
      g_atomic_pointer_set (&deadline->watcher, NULL);
      unwatched = TRUE;
    }
  g_mutex_unlock (&cs->lock);
  return unwatched;
}

/* Detaches every source; called once nothing is queued or watched any more
 * (the owner of the completions is going away). */
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
