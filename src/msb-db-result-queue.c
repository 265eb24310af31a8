/* msb-db-result-queue.c: finished calls, collected in batches through one file descriptor
 *
 * The async calls of MsbDbPools report in a GLib main context. A program
 * that runs another event loop (Python's asyncio) would need a thread
 * running that context and a hop from it for every call. Here a call
 * finishing on a worker thread appends its outcome, already turned into
 * plain values, to a queue and makes a file descriptor readable if the
 * queue was empty; the program's loop watches the descriptor and takes
 * everything that finished meanwhile in one drain() call.
 *
 * The state shared with the worker threads is a Core, reference-counted
 * apart from the GObject: calls in flight keep the Core, not the queue, so
 * the queue is finalized when its owner drops it, and whatever finishes
 * afterwards is dropped without being reported. The Core has one thread of
 * its own, which runs its GMainContext: there the deadlines of waiting
 * calls are watched (MsbDbCompletions), opening and closing report (they
 * are GTasks), and results nobody will drain any more are freed, so that
 * the last reference to the pools they hold is never dropped on a pools
 * thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "msb-db-body-private.h"
#include "msb-db-completions.h"
#include "msb-db-cursor.h"
#include "msb-db-error.h"
#include "msb-db-job.h"
#include "msb-db-pools-private.h"
#include "msb-db-result-queue.h"
#include "msb-db-rows-private.h"
#include "msb-db-values-private.h"

/**
 * MsbDbResultQueue:
 *
 * Collects the outcome of async calls, to be taken in batches by a program
 * that does not run a GLib main loop, through one file descriptor.
 *
 * Calls are started with a number of your choosing, the tag:
 * [method@MsbDb.ResultQueue.read], [method@MsbDb.ResultQueue.write],
 * [method@MsbDb.ResultQueue.transaction], [method@MsbDb.ResultQueue.snapshot],
 * [method@MsbDb.ResultQueue.open], [method@MsbDb.ResultQueue.close],
 * [method@MsbDb.ResultQueue.open_cursor] and [method@MsbDb.ResultQueue.fetch].
 * They
 * take no callback: each reports exactly once, success or failure
 * (including wrong parameters and closed pools), by appending its outcome
 * to the queue, already converted to plain values on the thread that
 * finished it. The descriptor of [method@MsbDb.ResultQueue.get_fd] is
 * readable while the queue holds any outcome; watch it with poll(),
 * g_unix_fd_add() or asyncio's `loop.add_reader()`, and take everything
 * with [method@MsbDb.ResultQueue.drain] when it is.
 *
 * This is the shape an event loop of another language wants: one wake-up
 * and one call for any number of finished calls, and no native callback
 * per call. Python's asyncio support in MsbDb is built on it.
 *
 * [method@MsbDb.ResultQueue.cancel] cancels a call by its tag. A call
 * that still waits for its turn never runs; a running read is
 * interrupted; a write or transaction that runs finishes and reports its
 * outcome (it is committed or not, never half).
 *
 * The queue has one thread of its own, which watches the deadlines of the
 * calls waiting for their turn (#MsbDbPools:connect-timeout) and runs
 * opening and closing. Dropping the last reference to the queue drops the
 * outcomes it holds, and those of the calls still in flight when they
 * finish; the calls themselves still run.
 *
 * Every method may be called from any thread; drain() from one thread at
 * a time.
 */

typedef struct
{
  GMutex lock;
  GHashTable *in_flight;       /* &Entry.tag -> Entry, for cancel() */
  guint n_in_flight;           /* started, not finished */
  guint n_alive;               /* entries not freed yet */
  GQueue finished;             /* of Entry, in the order they finished */
  gboolean signalled;          /* the descriptor is readable, or will be */
  gboolean abandoned;          /* the MsbDbResultQueue was finalized */
  int read_fd;
  int write_fd;                /* the same as read_fd for an eventfd */
  GMainContext *context;       /* run by the Core's thread */
  GQueue tasks;                /* of CoreTask, for that thread */
  gboolean tasks_scheduled;    /* an idle source will run them */
  gint stop;                   /* atomic: the Core's thread should end */
  pid_t pid;                   /* the process whose thread that is */
  MsbDbCompletions *completions;
} Core;

/* A function for the Core's thread, and its data. */
typedef struct
{
  GSourceFunc func;
  gpointer data;
} CoreTask;

typedef struct
{
  Core *core;                  /* a reference */
  guint64 tag;
  gboolean by_tag;             /* in core->in_flight */
  MsbDbJob *job;               /* NULL for open and close */
  MsbDbPools *pools;           /* a reference; NULL for open */
  GCancellable *cancellable;   /* the call's own, fired by cancel() */
  GCancellable *user_cancellable;
  gulong user_handler;
  MsbDbResultKind kind;
  GPtrArray *payload;          /* the outcome, once finished */

  /* open_cursor() and fetch() */
  char *sql;
  GVariant *params;
  MsbDbCursor *cursor;
  guint max_rows;

  /* open() only */
  char *path;
  guint max_read_connections;
  GTimeSpan connect_timeout;
  GTimeSpan busy_timeout;
} Entry;

struct _MsbDbResultQueue
{
  GObject parent_instance;

  Core *core;                  /* NULL until initialized */
  GThread *thread;
  GError *init_error;
};

static void msb_db_result_queue_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MsbDbResultQueue, msb_db_result_queue, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      msb_db_result_queue_initable_iface_init))

static void entry_free (Entry *entry);

/* The descriptor ------------------------------------------------------- */

static gboolean
open_fds (Core    *core,
          GError **error)
{
#ifdef __linux__
  core->read_fd = core->write_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core->read_fd >= 0)
    return TRUE;
#endif
  {
    int fds[2];

    if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
      return FALSE;
    if (!g_unix_set_fd_nonblocking (fds[0], TRUE, error) ||
        !g_unix_set_fd_nonblocking (fds[1], TRUE, error))
      {
        close (fds[0]);
        close (fds[1]);
        return FALSE;
      }
    core->read_fd = fds[0];
    core->write_fd = fds[1];
    return TRUE;
  }
}

/* Makes the descriptor readable. A full pipe or a counter near its limit
 * is readable already, so EAGAIN is fine. */
static void
raise_signal (Core *core)
{
  static const guint64 one = 1;
  ssize_t written;

  do
    written = write (core->write_fd, &one, core->read_fd == core->write_fd ? sizeof one : 1);
  while (written < 0 && errno == EINTR);
}

/* Makes the descriptor not readable (until the next raise_signal()). */
static void
clear_signal (Core *core)
{
  guint64 buffer[16];
  ssize_t got;

  do
    got = read (core->read_fd, buffer, sizeof buffer);
  while (got > 0 || (got < 0 && errno == EINTR));
}

/* The Core -------------------------------------------------------------- */

static void
core_clear (Core *core)
{
  msb_db_completions_shutdown (core->completions);
  g_clear_pointer (&core->completions, msb_db_completions_unref);
  g_clear_pointer (&core->context, g_main_context_unref);
  g_clear_pointer (&core->in_flight, g_hash_table_destroy);
  g_queue_clear_full (&core->tasks, g_free);
  if (core->write_fd != core->read_fd && core->write_fd >= 0)
    close (core->write_fd);
  if (core->read_fd >= 0)
    close (core->read_fd);
  g_mutex_clear (&core->lock);
}

static Core *
core_ref (Core *core)
{
  return g_atomic_rc_box_acquire (core);
}

static void
core_unref (Core *core)
{
  g_atomic_rc_box_release_full (core, (GDestroyNotify) core_clear);
}

static Core *
core_new (GError **error)
{
  Core *core = g_atomic_rc_box_new0 (Core);

  g_mutex_init (&core->lock);
  core->pid = getpid ();
  core->read_fd = core->write_fd = -1;
  core->in_flight = g_hash_table_new (g_int64_hash, g_int64_equal);
  core->context = g_main_context_new ();
  core->completions = msb_db_completions_new ();
  if (!open_fds (core, error))
    {
      core_unref (core);
      return NULL;
    }
  return core;
}

/* On the Core's thread: runs the tasks queued so far. */
static gboolean
run_core_tasks (gpointer data)
{
  Core *core = data;
  GQueue tasks;
  CoreTask *task;

  g_mutex_lock (&core->lock);
  tasks = core->tasks;
  g_queue_init (&core->tasks);
  core->tasks_scheduled = FALSE;
  g_mutex_unlock (&core->lock);

  while ((task = g_queue_pop_head (&tasks)) != NULL)
    {
      task->func (task->data);
      g_free (task);
    }
  return G_SOURCE_REMOVE;
}

/* Schedules @func (@data) on the Core's thread. Always later, never from
 * inside this call, even on that thread: callers may hold things that
 * @func would wait for. The data changes hands under the Core's lock, so
 * whatever the caller wrote before is seen there (an idle source alone
 * orders it too, but inside GLib, where ThreadSanitizer cannot see). */
static void
run_on_core (Core        *core,
             GSourceFunc  func,
             gpointer     data)
{
  CoreTask *task = g_new (CoreTask, 1);
  gboolean schedule;

  task->func = func;
  task->data = data;
  g_mutex_lock (&core->lock);
  g_queue_push_tail (&core->tasks, task);
  schedule = !core->tasks_scheduled;
  core->tasks_scheduled = TRUE;
  g_mutex_unlock (&core->lock);

  if (schedule)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, run_core_tasks, core, NULL);
      g_source_set_static_name (source, "[msb-db] result queue");
      g_source_attach (source, core->context);
      g_source_unref (source);
    }
}

/* From any thread. (A GMainLoop would not do: a quit that comes before
 * the thread starts running it is lost.) */
static void
stop_core_thread (Core *core)
{
  g_atomic_int_set (&core->stop, TRUE);
  g_main_context_wakeup (core->context);
}

/* On the Core's thread: stops it once its queue is gone and every entry
 * was freed. */
static void
maybe_quit (Core *core)
{
  gboolean done;

  g_mutex_lock (&core->lock);
  done = core->abandoned && core->n_alive == 0;
  g_mutex_unlock (&core->lock);
  if (done)
    stop_core_thread (core);
}

static gboolean
check_quit (gpointer data)
{
  maybe_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
run_core_thread (gpointer data)
{
  Core *core = data;

  g_main_context_push_thread_default (core->context);
  while (!g_atomic_int_get (&core->stop))
    g_main_context_iteration (core->context, TRUE);
  g_main_context_pop_thread_default (core->context);
  core_unref (core);
  return NULL;
}

/* Outcomes --------------------------------------------------------------- */

static GValue *
push_value (GPtrArray *values,
            GType      type)
{
  return msb_db_rows_add_value (values, type);
}

static GPtrArray *
error_payload (const GError *error)
{
  GPtrArray *values = msb_db_rows_new_values (3);

  g_value_set_static_string (push_value (values, G_TYPE_STRING), g_quark_to_string (error->domain));
  g_value_set_int (push_value (values, G_TYPE_INT), error->code);
  g_value_set_string (push_value (values, G_TYPE_STRING), error->message);
  return values;
}

static GPtrArray *
boolean_payload (void)
{
  GPtrArray *values = msb_db_rows_new_values (1);

  g_value_set_boolean (push_value (values, G_TYPE_BOOLEAN), TRUE);
  return values;
}

static GPtrArray *
rows_payload (MsbDbRows *rows)
{
  GPtrArray *values = msb_db_rows_new_values (0);

  msb_db_rows_append_values (rows, values);
  return values;
}

/* Entries ---------------------------------------------------------------- */

static void
on_user_cancelled (GCancellable *cancellable,
                   gpointer      data);

static Entry *
entry_new (Core         *core,
           MsbDbPools   *pools,
           guint64        tag,
           GCancellable *user_cancellable)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->core = core_ref (core);
  entry->tag = tag;
  entry->pools = pools ? g_object_ref (pools) : NULL;
  entry->cancellable = g_cancellable_new ();
  entry->user_cancellable = user_cancellable ? g_object_ref (user_cancellable) : NULL;

  g_mutex_lock (&core->lock);
  core->n_alive++;
  core->n_in_flight++;
  if (!g_hash_table_contains (core->in_flight, &entry->tag))
    {
      g_hash_table_insert (core->in_flight, &entry->tag, entry);
      entry->by_tag = TRUE;
    }
  g_mutex_unlock (&core->lock);
  return entry;
}

/* Cancelling the user's cancellable cancels the call, as cancel() does. */
static void
watch_user_cancellable (Entry *entry)
{
  if (entry->user_cancellable != NULL)
    entry->user_handler = g_cancellable_connect (entry->user_cancellable,
                                                 G_CALLBACK (on_user_cancelled), entry, NULL);
}

static gboolean
free_on_core (gpointer data)
{
  Entry *entry = data;
  Core *core = core_ref (entry->core);

  entry_free (entry);
  maybe_quit (core);
  core_unref (core);
  return G_SOURCE_REMOVE;
}

/* From the thread that finished the call: the outcome is @payload (taken).
 * It waits in the queue for drain(), or, if the queue is gone, is freed on
 * the Core's thread. */
static void
entry_finish (Entry           *entry,
              MsbDbResultKind  kind,
              GPtrArray       *payload)
{
  /* Once the entry is in the queue, a drain() on another thread may free
   * it, and the queue's finalize the Core: keep the Core until done. */
  Core *core = core_ref (entry->core);
  MsbDbJob *job;
  GCancellable *cancellable;
  gboolean wake = FALSE;
  gboolean drop;

  entry->kind = kind;
  entry->payload = payload;

  g_mutex_lock (&core->lock);
  core->n_in_flight--;
  if (entry->by_tag)
    g_hash_table_remove (core->in_flight, &entry->tag);
  /* Out of the table, nothing can cancel it any more: the job and the
   * cancellable go here, on the thread that finished the call, rather
   * than on the thread that drains (usually the busiest). */
  job = g_steal_pointer (&entry->job);
  cancellable = g_steal_pointer (&entry->cancellable);
  drop = core->abandoned;
  if (!drop)
    {
      g_queue_push_tail (&core->finished, entry);
      wake = !core->signalled;
      core->signalled = TRUE;
    }
  g_mutex_unlock (&core->lock);

  if (wake)
    raise_signal (core);
  if (drop)
    run_on_core (core, free_on_core, entry);
  g_clear_pointer (&job, msb_db_job_unref);
  g_clear_object (&cancellable);
  core_unref (core);
}

static void
entry_fail (Entry  *entry,
            GError *error)
{
  entry_finish (entry, MSB_DB_RESULT_KIND_ERROR, error_payload (error));
  g_error_free (error);
}

/* Not on the thread of a pools the entry may hold the last reference to,
 * nor from inside on_user_cancelled(). */
static void
entry_free (Entry *entry)
{
  Core *core = entry->core;

  if (entry->user_handler != 0)
    g_cancellable_disconnect (entry->user_cancellable, entry->user_handler);
  g_clear_object (&entry->user_cancellable);
  g_clear_object (&entry->cancellable);
  g_clear_pointer (&entry->job, msb_db_job_unref);
  g_clear_object (&entry->pools);
  g_clear_pointer (&entry->payload, g_ptr_array_unref);
  g_clear_pointer (&entry->params, g_variant_unref);
  g_clear_object (&entry->cursor);
  g_free (entry->sql);
  g_free (entry->path);
  g_free (entry);

  g_mutex_lock (&core->lock);
  core->n_alive--;
  g_mutex_unlock (&core->lock);
  core_unref (core);
}

/* A call still waiting never runs; a running one is interrupted where it
 * can be. */
static void
cancel_call (MsbDbJob     *job,
             GCancellable *cancellable)
{
  if (job == NULL || !msb_db_job_cancel (job))
    g_cancellable_cancel (cancellable);
}

static void
on_user_cancelled (GCancellable *cancellable,
                   gpointer      data)
{
  Entry *entry = data;

  cancel_call (entry->job, entry->cancellable);
}

/* Jobs ------------------------------------------------------------------- */

/* The job's sink, on the thread that finished it. */
static void
job_finished (MsbDbJob *job,
              gpointer  data)
{
  Entry *entry = data;
  const GError *error = msb_db_job_get_error (job);

  if (error != NULL)
    entry_finish (entry, MSB_DB_RESULT_KIND_ERROR, error_payload (error));
  else if (msb_db_job_get_kind (job) == MSB_DB_JOB_READ ||
           msb_db_job_get_kind (job) == MSB_DB_JOB_WRITE)
    entry_finish (entry, MSB_DB_RESULT_KIND_ROWS, rows_payload (msb_db_job_get_rows (job)));
  else
    entry_finish (entry, MSB_DB_RESULT_KIND_BOOLEAN, boolean_payload ());
}

/* Hands @job (taken) to the pools of @entry. */
static void
start_job (Entry    *entry,
           MsbDbJob *job)
{
  Core *core = entry->core;

  entry->job = job;
  msb_db_job_set_sink (job, job_finished, entry, core->completions, core->context);
  if (g_cancellable_is_cancelled (entry->user_cancellable))
    {
      if (msb_db_job_cancel (job))
        return;
    }
  watch_user_cancellable (entry);
  msb_db_pools_submit_job (entry->pools, job);
}

static void
submit_statement (MsbDbResultQueue   *self,
                  MsbDbJobKind        kind,
                  MsbDbPools         *pools,
                  const char         *sql,
                  const char * const *names,
                  const char         *types,
                  const char * const *values,
                  GCancellable       *cancellable,
                  guint64             tag)
{
  Entry *entry = entry_new (self->core, pools, tag, cancellable);
  GError *error = NULL;
  GVariant *params = msb_db_values_to_params (names, types, values, &error);

  if (error != NULL)
    {
      entry_fail (entry, error);
      return;
    }
  start_job (entry, msb_db_job_new_statement (kind, sql, params, entry->cancellable,
                                              msb_db_pools_get_connect_timeout (pools)));
}

static void
submit_body (MsbDbResultQueue *self,
             MsbDbJobKind      kind,
             MsbDbPools       *pools,
             guint64           body,
             GCancellable     *cancellable,
             guint64           tag)
{
  Entry *entry = entry_new (self->core, pools, tag, cancellable);
  GError *error = NULL;
  MsbDbConnectionFunc func;
  GDestroyNotify notify;
  gpointer data;

  if (!msb_db_body_bind (pools, body, &func, &data, &notify, &error))
    {
      entry_fail (entry, error);
      return;
    }
  start_job (entry, msb_db_job_new_callback (kind, func, data, notify, pools, entry->cancellable,
                                             msb_db_pools_get_connect_timeout (pools)));
}

/* GObject ---------------------------------------------------------------- */

static void
msb_db_result_queue_finalize (GObject *object)
{
  MsbDbResultQueue *self = MSB_DB_RESULT_QUEUE (object);
  Core *core = self->core;

  /* In a child of fork() the Core's thread does not exist, and the other
   * threads that share its state may have held its lock at the fork: leave
   * it all alone. */
  if (core != NULL && core->pid != getpid ())
    core = NULL;

  if (core != NULL)
    {
      GQueue left;
      Entry *entry;
      gboolean idle;

      g_mutex_lock (&core->lock);
      core->abandoned = TRUE;
      left = core->finished;
      g_queue_init (&core->finished);
      g_mutex_unlock (&core->lock);

      while ((entry = g_queue_pop_head (&left)) != NULL)
        entry_free (entry);

      g_mutex_lock (&core->lock);
      idle = core->n_alive == 0;
      g_mutex_unlock (&core->lock);

      /* Nothing in flight: stop the thread now. Otherwise it stops once
       * the last call finished and was freed there. */
      if (idle && self->thread != g_thread_self ())
        {
          stop_core_thread (core);
          g_thread_join (g_steal_pointer (&self->thread));
        }
      else
        run_on_core (core, check_quit, core);
      g_clear_pointer (&self->thread, g_thread_unref);
      core_unref (core);
    }
  g_clear_error (&self->init_error);

  G_OBJECT_CLASS (msb_db_result_queue_parent_class)->finalize (object);
}

static void
msb_db_result_queue_class_init (MsbDbResultQueueClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = msb_db_result_queue_finalize;

  /* Results are made on the pools' threads: set the class up first (see
   * msb_db_pools_class_init()). */
  g_type_class_unref (g_type_class_ref (MSB_DB_TYPE_POOLS));
}

static void
msb_db_result_queue_init (MsbDbResultQueue *self)
{
}

static gboolean
msb_db_result_queue_initable_init (GInitable     *initable,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  MsbDbResultQueue *self = MSB_DB_RESULT_QUEUE (initable);
  Core *core;

  if (self->core != NULL)
    return TRUE;
  if (self->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return FALSE;
    }

  core = core_new (&self->init_error);
  if (core != NULL)
    {
      self->thread = g_thread_try_new ("msb-db-results", run_core_thread, core_ref (core),
                                       &self->init_error);
      if (self->thread == NULL)
        {
          core_unref (core);   /* the thread's */
          core_unref (core);
          core = NULL;
        }
    }
  if (core == NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return FALSE;
    }
  self->core = core;
  return TRUE;
}

static void
msb_db_result_queue_initable_iface_init (GInitableIface *iface)
{
  iface->init = msb_db_result_queue_initable_init;
}

/* Public API -------------------------------------------------------------- */

#define CHECK_QUEUE(self, val)                                        \
  G_STMT_START {                                                      \
    g_return_val_if_fail (MSB_DB_IS_RESULT_QUEUE (self), (val));      \
    g_return_val_if_fail ((self)->core != NULL, (val));               \
  } G_STMT_END

#define CHECK_CALL(self, pools, cancellable)                                    \
  G_STMT_START {                                                                \
    g_return_if_fail (MSB_DB_IS_RESULT_QUEUE (self));                           \
    g_return_if_fail ((self)->core != NULL);                                    \
    g_return_if_fail (MSB_DB_IS_POOLS (pools));                                 \
    g_return_if_fail ((cancellable) == NULL || G_IS_CANCELLABLE (cancellable)); \
  } G_STMT_END

/**
 * msb_db_result_queue_new:
 * @error: return location for a #GError
 *
 * Makes an empty queue, with its file descriptor and its thread.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set (no file
 *   descriptor or thread could be made)
 */
MsbDbResultQueue *
msb_db_result_queue_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MSB_DB_TYPE_RESULT_QUEUE, NULL, error, NULL);
}

/**
 * msb_db_result_queue_get_fd:
 * @self: a #MsbDbResultQueue
 *
 * Gets the file descriptor to watch: it is readable while @self holds
 * outcomes that [method@MsbDb.ResultQueue.drain] has not taken, and only
 * drain() makes it not readable again. It belongs to @self: do not read,
 * write or close it.
 *
 * Returns: the file descriptor
 */
int
msb_db_result_queue_get_fd (MsbDbResultQueue *self)
{
  CHECK_QUEUE (self, -1);

  return self->core->read_fd;
}

/**
 * msb_db_result_queue_get_n_in_flight:
 * @self: a #MsbDbResultQueue
 *
 * Gets the number of calls started and not finished yet (their outcome is
 * not in the queue yet).
 *
 * Returns: the number of calls in flight
 */
guint
msb_db_result_queue_get_n_in_flight (MsbDbResultQueue *self)
{
  guint n;

  CHECK_QUEUE (self, 0);

  g_mutex_lock (&self->core->lock);
  n = self->core->n_in_flight;
  g_mutex_unlock (&self->core->lock);
  return n;
}

/* Moves the values of @from (emptied) to the end of @to. */
static void
move_values (GPtrArray *to,
             GPtrArray *from)
{
  gsize n;
  gpointer *items = g_ptr_array_steal (from, &n);

  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (to, items[i]);
  g_free (items);
}

/**
 * msb_db_result_queue_drain:
 * @self: a #MsbDbResultQueue
 *
 * Takes every outcome the queue holds, in the order the calls finished,
 * and makes the file descriptor not readable (until the next call
 * finishes). Each outcome is a record of values (#GValue), one after the
 * other in one flat array:
 *
 * 1. the tag the call was given (`G_TYPE_UINT64`);
 * 2. what it reported, an [enum@MsbDb.ResultKind] (as a `G_TYPE_INT`);
 * 3. how many values follow for it (`G_TYPE_UINT`);
 * 4. those values: a result as [method@MsbDb.Rows.dup_values] gives it
 *    (reads and writes), one boolean (transactions, snapshots, close), the
 *    pools (open), or the error's domain, code and message.
 *
 * A transaction or snapshot whose body returned %FALSE reports the
 * error the body set.
 *
 * Returns: (transfer full) (element-type GValue): the outcomes, flat;
 *   empty if there are none
 */
GPtrArray *
msb_db_result_queue_drain (MsbDbResultQueue *self)
{
  Core *core;
  GPtrArray *values;
  GQueue batch;
  Entry *entry;

  CHECK_QUEUE (self, NULL);
  core = self->core;

  /* Clear first: an outcome added after this either is in the batch taken
   * below or raises the signal again. */
  clear_signal (core);
  g_mutex_lock (&core->lock);
  batch = core->finished;
  g_queue_init (&core->finished);
  core->signalled = FALSE;
  g_mutex_unlock (&core->lock);

  values = msb_db_rows_new_values (batch.length * 8);
  while ((entry = g_queue_pop_head (&batch)) != NULL)
    {
      g_value_set_uint64 (push_value (values, G_TYPE_UINT64), entry->tag);
      g_value_set_int (push_value (values, G_TYPE_INT), entry->kind);
      g_value_set_uint (push_value (values, G_TYPE_UINT), entry->payload->len);
      move_values (values, entry->payload);
      entry_free (entry);
    }
  return values;
}

/**
 * msb_db_result_queue_cancel:
 * @self: a #MsbDbResultQueue
 * @tag: the tag of a call in flight
 *
 * Cancels the call started with @tag, as cancelling its #GCancellable
 * would: if it still waits for its turn it never runs and reports
 * %G_IO_ERROR_CANCELLED; a running read is interrupted; a running write
 * or transaction finishes. Either way the call reports once, as usual.
 * If several calls in flight have @tag, one of them is cancelled.
 *
 * Returns: %TRUE if a call with @tag was in flight
 */
gboolean
msb_db_result_queue_cancel (MsbDbResultQueue *self,
                            guint64           tag)
{
  Core *core;
  Entry *entry;
  g_autoptr(MsbDbJob) job = NULL;
  g_autoptr(GCancellable) cancellable = NULL;

  CHECK_QUEUE (self, FALSE);
  core = self->core;

  g_mutex_lock (&core->lock);
  entry = g_hash_table_lookup (core->in_flight, &tag);
  if (entry != NULL)
    {
      job = entry->job ? msb_db_job_ref (entry->job) : NULL;
      cancellable = g_object_ref (entry->cancellable);
    }
  g_mutex_unlock (&core->lock);

  if (entry == NULL)
    return FALSE;
  cancel_call (job, cancellable);
  return TRUE;
}

/**
 * msb_db_result_queue_read:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to read from
 * @sql: one SQL statement that only reads
 * @names: (nullable) (array zero-terminated=1): the names of the
 *   parameters, as for [method@MsbDb.Pools.read_values]
 * @types: (nullable): their types, as for [method@MsbDb.Pools.read_values]
 * @values: (nullable) (array zero-terminated=1): their values
 * @cancellable: (nullable): a #GCancellable; cancelling it cancels the
 *   call, as [method@MsbDb.ResultQueue.cancel] does
 *
 * Runs @sql on a read connection of @pools in a worker thread, as
 * [method@MsbDb.Pools.read_async] does; its outcome goes to @self, a result
 * as [method@MsbDb.Rows.dup_values] gives it, or the error.
 */
void
msb_db_result_queue_read (MsbDbResultQueue   *self,
                          guint64             tag,
                          MsbDbPools         *pools,
                          const char         *sql,
                          const char * const *names,
                          const char         *types,
                          const char * const *values,
                          GCancellable       *cancellable)
{
  CHECK_CALL (self, pools, cancellable);
  g_return_if_fail (sql != NULL);

  submit_statement (self, MSB_DB_JOB_READ, pools, sql, names, types, values, cancellable, tag);
}

/**
 * msb_db_result_queue_write:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to write with
 * @sql: one SQL statement
 * @names: (nullable) (array zero-terminated=1): the names of the
 *   parameters, as for [method@MsbDb.Pools.read_values]
 * @types: (nullable): their types, as for [method@MsbDb.Pools.read_values]
 * @values: (nullable) (array zero-terminated=1): their values
 * @cancellable: (nullable): a #GCancellable; a write cancelled while it
 *   waits for the writer never runs
 *
 * Queues @sql for the writer thread of @pools, as
 * [method@MsbDb.Pools.write_async] does; its outcome goes to @self, once
 * committed or failed.
 */
void
msb_db_result_queue_write (MsbDbResultQueue   *self,
                           guint64             tag,
                           MsbDbPools         *pools,
                           const char         *sql,
                           const char * const *names,
                           const char         *types,
                           const char * const *values,
                           GCancellable       *cancellable)
{
  CHECK_CALL (self, pools, cancellable);
  g_return_if_fail (sql != NULL);

  submit_statement (self, MSB_DB_JOB_WRITE, pools, sql, names, types, values, cancellable, tag);
}

/**
 * msb_db_result_queue_transaction:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to write with
 * @body: the number of the body, given to the function registered with
 *   [method@MsbDb.Pools.set_body_func]
 * @cancellable: (nullable): a #GCancellable
 *
 * Runs a transaction on the writer thread of @pools, as
 * [method@MsbDb.Pools.transaction_async] does, whose body is the function
 * registered on @pools called with @body; its outcome goes to @self.
 */
void
msb_db_result_queue_transaction (MsbDbResultQueue *self,
                                 guint64           tag,
                                 MsbDbPools       *pools,
                                 guint64           body,
                                 GCancellable     *cancellable)
{
  CHECK_CALL (self, pools, cancellable);

  submit_body (self, MSB_DB_JOB_TRANSACTION, pools, body, cancellable, tag);
}

/**
 * msb_db_result_queue_snapshot:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to read from
 * @body: the number of the body, given to the function registered with
 *   [method@MsbDb.Pools.set_body_func]
 * @cancellable: (nullable): a #GCancellable
 *
 * Runs a snapshot on a read worker of @pools, as
 * [method@MsbDb.Pools.snapshot_async] does, whose body is the function
 * registered on @pools called with @body; its outcome goes to @self.
 */
void
msb_db_result_queue_snapshot (MsbDbResultQueue *self,
                              guint64           tag,
                              MsbDbPools       *pools,
                              guint64           body,
                              GCancellable     *cancellable)
{
  CHECK_CALL (self, pools, cancellable);

  submit_body (self, MSB_DB_JOB_SNAPSHOT, pools, body, cancellable, tag);
}

/* The outcome of an open: the pools (transfer full), as the one value of
 * the payload, so that the last reference goes with the payload. */
static void
entry_finish_pools (Entry      *entry,
                    MsbDbPools *pools)
{
  GPtrArray *payload = msb_db_rows_new_values (1);

  g_value_take_object (push_value (payload, MSB_DB_TYPE_POOLS), pools);
  entry_finish (entry, MSB_DB_RESULT_KIND_OBJECT, payload);
}

static void
opened (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Entry *entry = data;
  GError *error = NULL;
  MsbDbPools *pools = msb_db_pools_open_finish (result, &error);

  if (pools == NULL)
    entry_fail (entry, error);
  else
    entry_finish_pools (entry, pools);
}

static gboolean
start_open (gpointer data)
{
  Entry *entry = data;

  msb_db_pools_open_async (entry->path, entry->max_read_connections, entry->connect_timeout,
                           entry->busy_timeout, entry->cancellable, opened, entry);
  return G_SOURCE_REMOVE;
}

/**
 * msb_db_result_queue_open:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @path: the database target: a file path or `sqlite:///absolute/path`
 * @max_read_connections: the size of the read pool, 0 for the default
 * @connect_timeout: how long a call waits for its turn, in microseconds;
 *   0 for the default
 * @busy_timeout: the `busy_timeout` of every connection, in microseconds;
 *   0 for the default
 * @cancellable: (nullable): a #GCancellable
 *
 * Opens pools as [func@MsbDb.Pools.open_async] does. The outcome, the
 * pools or the error, goes to @self.
 */
void
msb_db_result_queue_open (MsbDbResultQueue *self,
                          guint64           tag,
                          const char       *path,
                          guint             max_read_connections,
                          GTimeSpan         connect_timeout,
                          GTimeSpan         busy_timeout,
                          GCancellable     *cancellable)
{
  Entry *entry;

  g_return_if_fail (MSB_DB_IS_RESULT_QUEUE (self));
  g_return_if_fail (self->core != NULL);
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  entry = entry_new (self->core, NULL, tag, cancellable);
  entry->path = g_strdup (path);
  entry->max_read_connections = max_read_connections;
  entry->connect_timeout = connect_timeout;
  entry->busy_timeout = busy_timeout;
  watch_user_cancellable (entry);
  /* On the Core's thread, whose context the GTask reports in. */
  run_on_core (self->core, start_open, entry);
}

static void
initialized (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Entry *entry = data;
  GError *error = NULL;

  if (!g_async_initable_init_finish (G_ASYNC_INITABLE (source), result, &error))
    entry_fail (entry, error);
  else
    entry_finish_pools (entry, g_object_ref (MSB_DB_POOLS (source)));
}

static gboolean
start_init (gpointer data)
{
  Entry *entry = data;

  g_async_initable_init_async (G_ASYNC_INITABLE (entry->pools), G_PRIORITY_DEFAULT,
                               entry->cancellable, initialized, entry);
  return G_SOURCE_REMOVE;
}

/**
 * msb_db_result_queue_init_pools:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: pools made with g_object_new() and their construct properties,
 *   not initialized yet
 * @cancellable: (nullable): a #GCancellable
 *
 * Opens @pools as g_async_initable_init_async() does, for pools with
 * construct properties that [method@MsbDb.ResultQueue.open] does not take
 * (#MsbDbPools:read-only, #MsbDbPools:trusted-schema). The outcome, @pools
 * or the error, goes to @self.
 */
void
msb_db_result_queue_init_pools (MsbDbResultQueue *self,
                                guint64           tag,
                                MsbDbPools       *pools,
                                GCancellable     *cancellable)
{
  Entry *entry;

  CHECK_CALL (self, pools, cancellable);

  entry = entry_new (self->core, pools, tag, cancellable);
  watch_user_cancellable (entry);
  run_on_core (self->core, start_init, entry);
}

static void
closed (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Entry *entry = data;
  GError *error = NULL;

  if (msb_db_pools_close_finish (MSB_DB_POOLS (source), result, &error))
    entry_finish (entry, MSB_DB_RESULT_KIND_BOOLEAN, boolean_payload ());
  else
    entry_fail (entry, error);
}

static gboolean
start_close (gpointer data)
{
  Entry *entry = data;

  msb_db_pools_close_async (entry->pools, NULL, closed, entry);
  return G_SOURCE_REMOVE;
}

/**
 * msb_db_result_queue_close:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to close
 *
 * Closes @pools as [method@MsbDb.Pools.close_async] does: @pools refuse
 * every call made after this returns (with %MSB_DB_ERROR_CLOSED), while
 * what was queued before still runs and reports. The outcome goes to
 * @self once everything is closed.
 */
void
msb_db_result_queue_close (MsbDbResultQueue *self,
                           guint64           tag,
                           MsbDbPools       *pools)
{
  Entry *entry;

  CHECK_CALL (self, pools, NULL);

  entry = entry_new (self->core, pools, tag, NULL);
  msb_db_pools_begin_close (pools);
  run_on_core (self->core, start_close, entry);
}

static void
cursor_opened (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Entry *entry = data;
  GError *error = NULL;
  MsbDbCursor *cursor = g_task_propagate_pointer (G_TASK (result), &error);
  GPtrArray *payload;

  if (cursor == NULL)
    {
      entry_fail (entry, error);
      return;
    }
  payload = msb_db_rows_new_values (1);
  g_value_take_object (push_value (payload, MSB_DB_TYPE_CURSOR), cursor);
  entry_finish (entry, MSB_DB_RESULT_KIND_OBJECT, payload);
}

static void
open_cursor_in_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  Entry *entry = task_data;
  GError *error = NULL;
  /* The entry keeps its reference to the parameters: not floating, they
   * are not taken. */
  MsbDbCursor *cursor = msb_db_pools_open_cursor (entry->pools, entry->sql, entry->params,
                                                  cancellable, &error);

  if (cursor != NULL)
    g_task_return_pointer (task, cursor, g_object_unref);
  else
    g_task_return_error (task, error);
}

/* On the Core's thread, so that the task reports there. */
static gboolean
start_open_cursor (gpointer data)
{
  Entry *entry = data;
  g_autoptr(GTask) task = g_task_new (NULL, entry->cancellable, cursor_opened, entry);

  g_task_set_source_tag (task, msb_db_result_queue_open_cursor);
  g_task_set_name (task, "[msb-db] result queue open_cursor");
  g_task_set_task_data (task, entry, NULL);
  g_task_run_in_thread (task, open_cursor_in_thread);
  return G_SOURCE_REMOVE;
}

/**
 * msb_db_result_queue_open_cursor:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @pools: the #MsbDbPools to read from
 * @sql: one SQL statement that only reads
 * @names: (nullable) (array zero-terminated=1): the names of the
 *   parameters, as for [method@MsbDb.Pools.read_values]
 * @types: (nullable): their types, as for [method@MsbDb.Pools.read_values]
 * @values: (nullable) (array zero-terminated=1): their values
 * @cancellable: (nullable): a #GCancellable
 *
 * Opens a cursor as [method@MsbDb.Pools.open_cursor] does, in a worker
 * thread (it may wait for a read connection). The outcome, the
 * #MsbDbCursor or the error, goes to @self; read it with
 * [method@MsbDb.ResultQueue.fetch].
 */
void
msb_db_result_queue_open_cursor (MsbDbResultQueue   *self,
                                 guint64             tag,
                                 MsbDbPools         *pools,
                                 const char         *sql,
                                 const char * const *names,
                                 const char         *types,
                                 const char * const *values,
                                 GCancellable       *cancellable)
{
  Entry *entry;
  GError *error = NULL;
  GVariant *params;

  CHECK_CALL (self, pools, cancellable);
  g_return_if_fail (sql != NULL);

  entry = entry_new (self->core, pools, tag, cancellable);
  params = msb_db_values_to_params (names, types, values, &error);
  if (error != NULL)
    {
      entry_fail (entry, error);
      return;
    }
  entry->sql = g_strdup (sql);
  entry->params = params ? g_variant_ref_sink (params) : NULL;
  watch_user_cancellable (entry);
  run_on_core (self->core, start_open_cursor, entry);
}

static void
fetched (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Entry *entry = data;
  GError *error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_cursor_fetch_finish (MSB_DB_CURSOR (source), result, &error);

  if (rows == NULL)
    entry_fail (entry, error);
  else
    entry_finish (entry, MSB_DB_RESULT_KIND_ROWS, rows_payload (rows));
}

static gboolean
start_fetch (gpointer data)
{
  Entry *entry = data;

  msb_db_cursor_fetch_async (entry->cursor, entry->max_rows, entry->cancellable, fetched, entry);
  return G_SOURCE_REMOVE;
}

/**
 * msb_db_result_queue_fetch:
 * @self: a #MsbDbResultQueue
 * @tag: the number that identifies the call in the queue
 * @cursor: a #MsbDbCursor
 * @max_rows: how many rows to read at most, at least 1
 * @cancellable: (nullable): a #GCancellable
 *
 * Reads the next rows of @cursor as [method@MsbDb.Cursor.fetch_async]
 * does; the outcome goes to @self: the rows as
 * [method@MsbDb.Rows.dup_values] gives them (fewer than @max_rows, or
 * none, at the end), or the error.
 */
void
msb_db_result_queue_fetch (MsbDbResultQueue *self,
                           guint64           tag,
                           MsbDbCursor      *cursor,
                           guint             max_rows,
                           GCancellable     *cancellable)
{
  Entry *entry;

  g_return_if_fail (MSB_DB_IS_RESULT_QUEUE (self));
  g_return_if_fail (self->core != NULL);
  g_return_if_fail (MSB_DB_IS_CURSOR (cursor));
  g_return_if_fail (max_rows > 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  entry = entry_new (self->core, NULL, tag, cancellable);
  entry->cursor = g_object_ref (cursor);
  entry->max_rows = max_rows;
  watch_user_cancellable (entry);
  run_on_core (self->core, start_fetch, entry);
}
