/* msb-db-notify.c: MsbDbPools::changed
 *
 * How a change is learnt:
 *
 * - Commits of this process's writer. While a handler is connected the
 *   write connection notes the tables its commits change (SQLite's update
 *   hook; see msb-db-change-log.c). The writer calls us around each unit
 *   of work (a batch, a maintenance job, a lone write): before it we turn
 *   that tracking on or off, after it we take what was committed.
 * - Commits of other processes. `PRAGMA data_version` on a connection
 *   changes when another connection committed. While a handler is
 *   connected, a timer in the pools' main context queues a maintenance job
 *   every change-poll-interval that reads the writer connection's, between
 *   two batches (reading it before every batch would cost each batch a
 *   statement). Read-only pools have no writer: a connection of their own
 *   is read, in a GTask thread. The tables such a change touched cannot be
 *   known: every table is signalled.
 *
 * Signals go out in the main context that was thread-default when the
 * pools were made, from one idle source at a time: a table changed by
 * several batches before it runs is signalled once.
 *
 * While no handler is connected nothing of this runs: the timer's source
 * stays attached but asks for no wake-up (its prepare() only looks for
 * handlers when the context runs anyway), and the writer's hook returns
 * after that same look.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-error.h"
#include "msb-db-notify.h"
#include "msb-db-notify-private.h"
#include "msb-db-pools-private.h"

/* Tables of the main database, without SQLite's own. */
#define LIST_TABLES_SQL \
  "SELECT name FROM sqlite_schema WHERE type = 'table' " \
  "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _MsbDbNotify
{
  GMutex lock;
  MsbDbPools *pools;          /* not a reference (the pools own us); NULL
                               * once stopped */
  GMainContext *context;      /* where ::changed is emitted */
  GSource *watch;             /* looks for handlers, polls other processes */
  GPtrArray *pending;         /* of char *: tables to signal */
  gboolean delivery_queued;
  gint64 interval;            /* of the polls, µs; under lock */

  /* Used by one thread at a time: the writer's, or a poll's (polls never
   * overlap, and read-only pools have no writer). */
  gboolean tracking;          /* the write connection notes changed tables */
  gboolean have_version;
  gint64 version;             /* PRAGMA data_version when last read */

  /* Read-only pools: the connection the polls read. */
  GMutex poll_lock;
  MsbDbBackendConn *poll_conn;
  gboolean poll_closed;

  /* The main context's own. */
  gboolean listening;         /* as last seen by the watch */
  gboolean polling;           /* a poll is running */
  gint64 last_poll;           /* monotonic µs; 0: poll at once */
};

/* Lifetime ------------------------------------------------------------------ */

MsbDbNotify *
msb_db_notify_new (MsbDbPools *pools)
{
  MsbDbNotify *self = g_atomic_rc_box_new0 (MsbDbNotify);

  g_mutex_init (&self->lock);
  g_mutex_init (&self->poll_lock);
  self->pools = pools;
  self->context = g_main_context_ref_thread_default ();
  self->pending = g_ptr_array_new_with_free_func (g_free);
  self->interval = MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC * G_TIME_SPAN_MILLISECOND;
  return self;
}

MsbDbNotify *
msb_db_notify_ref (MsbDbNotify *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
notify_clear (MsbDbNotify *self)
{
  g_assert (self->watch == NULL && self->poll_conn == NULL);
  g_ptr_array_unref (self->pending);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->poll_lock);
}

void
msb_db_notify_unref (MsbDbNotify *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) notify_clear);
}

GTimeSpan
msb_db_notify_get_poll_interval (MsbDbNotify *self)
{
  GTimeSpan interval;

  g_mutex_lock (&self->lock);
  interval = self->interval;
  g_mutex_unlock (&self->lock);
  return interval;
}

void
msb_db_notify_set_poll_interval (MsbDbNotify *self,
                                 GTimeSpan    interval)
{
  if (interval <= 0)
    interval = MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&self->lock);
  self->interval = interval;
  g_mutex_unlock (&self->lock);
  /* The watch computes its next wake-up from it. */
  g_main_context_wakeup (self->context);
}

/* Is anybody listening, to any table? Any thread. (Not
 * g_signal_has_handler_pending(): with no detail, it only counts handlers
 * connected without one.) */
static gboolean
has_listeners (MsbDbNotify *self)
{
  gboolean listening;

  g_mutex_lock (&self->lock);
  listening = self->pools != NULL &&
              g_signal_handler_find (self->pools, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_UNBLOCKED,
                                     signals[CHANGED], 0, NULL, NULL, NULL) != 0;
  g_mutex_unlock (&self->lock);
  return listening;
}

/* Emitting ------------------------------------------------------------------ */

static gboolean
holds (GPtrArray  *tables,
       const char *table)
{
  for (guint i = 0; i < tables->len; i++)
    if (strcmp (g_ptr_array_index (tables, i), table) == 0)
      return TRUE;
  return FALSE;
}

/* In the pools' context: one emission per table noted since the last. */
static gboolean
deliver (gpointer data)
{
  MsbDbNotify *self = data;
  g_autoptr(GPtrArray) tables = NULL;
  g_autoptr(MsbDbPools) pools = NULL;

  g_mutex_lock (&self->lock);
  tables = g_steal_pointer (&self->pending);
  self->pending = g_ptr_array_new_with_free_func (g_free);
  self->delivery_queued = FALSE;
  if (self->pools != NULL)
    pools = g_object_ref (self->pools);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; pools != NULL && i < tables->len; i++)
    {
      const char *table = g_ptr_array_index (tables, i);

      /* A table name nobody connected to as a detail has no quark yet:
       * then only handlers without a detail can want it. Table names are
       * not interned for nothing. */
      g_signal_emit (pools, signals[CHANGED], g_quark_try_string (table), table);
    }
  return G_SOURCE_REMOVE;
}

/* Any thread: notes @tables, and makes sure a delivery is on its way. */
static void
queue_tables (MsbDbNotify *self,
              GPtrArray   *tables)
{
  gboolean schedule;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < tables->len; i++)
    if (!holds (self->pending, g_ptr_array_index (tables, i)))
      g_ptr_array_add (self->pending, g_strdup (g_ptr_array_index (tables, i)));
  schedule = self->pools != NULL && !self->delivery_queued && self->pending->len > 0;
  if (schedule)
    self->delivery_queued = TRUE;
  g_mutex_unlock (&self->lock);

  if (schedule)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, deliver, msb_db_notify_ref (self),
                             (GDestroyNotify) msb_db_notify_unref);
      g_source_set_static_name (source, "[msb-db] changed");
      g_source_attach (source, self->context);
    }
}

/* Reading what changed ------------------------------------------------------ */

static GPtrArray *
list_tables (MsbDbBackendConn *conn)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_backend_execute (conn, LIST_TABLES_SQL, NULL, NULL, &error);
  GPtrArray *tables;

  if (rows == NULL)
    {
      g_debug ("Could not list the tables that may have changed: %s", error->message);
      return NULL;
    }
  tables = g_ptr_array_new_full (msb_db_rows_get_n_rows (rows), g_free);
  for (guint r = 0; r < msb_db_rows_get_n_rows (rows); r++)
    g_ptr_array_add (tables, g_strdup (msb_db_rows_get_string (rows, r, 0)));
  return tables;
}

/* Reads @conn's data_version: if another connection committed since the
 * last read, returns every table (they may all have changed). */
static GPtrArray *
read_foreign_changes (MsbDbNotify      *self,
                      MsbDbBackendConn *conn)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_backend_execute (conn, "PRAGMA data_version", NULL, NULL, &error);
  gint64 version;
  gboolean changed;

  if (rows == NULL)
    {
      g_debug ("Could not read data_version: %s", error->message);
      return NULL;
    }
  version = msb_db_rows_get_int64 (rows, 0, 0);
  changed = self->have_version && version != self->version;
  self->version = version;
  self->have_version = TRUE;
  return changed ? list_tables (conn) : NULL;
}

/* At open, before the writer thread owns the connection: changes other
 * processes commit from now on are the ones reported. */
void
msb_db_notify_take_baseline (MsbDbNotify      *self,
                             MsbDbBackendConn *writer_conn)
{
  GPtrArray *tables = read_foreign_changes (self, writer_conn);

  g_clear_pointer (&tables, g_ptr_array_unref);
}

/* The writer's hook -------------------------------------------------------- */

static void
before_unit (MsbDbNotify      *self,
             MsbDbBackendConn *conn)
{
  gboolean listening = has_listeners (self);

  if (listening != self->tracking)
    {
      msb_db_backend_track_changes (conn, listening);
      self->tracking = listening;
    }
}

static void
after_unit (MsbDbNotify      *self,
            MsbDbBackendConn *conn)
{
  g_autoptr(GPtrArray) tables = NULL;

  if (!self->tracking || !msb_db_backend_take_changes (conn, &tables))
    return;
  /* A change the connection could not name: any table may have changed. */
  if (tables->len == 0)
    {
      g_ptr_array_unref (tables);
      tables = list_tables (conn);
    }
  if (tables != NULL)
    queue_tables (self, tables);
}

static void
on_writer_unit (gpointer          data,
                MsbDbBackendConn *conn,
                gboolean          done)
{
  MsbDbNotify *self = data;

  if (done)
    after_unit (self, conn);
  else
    before_unit (self, conn);
}

/* Polls of other processes ------------------------------------------------- */

static void
poll_finished (MsbDbNotify *self)
{
  self->polling = FALSE;
  self->last_poll = g_get_monotonic_time ();
}

/* On the writer thread, between batches. */
static MsbDbRows *
poll_on_writer (MsbDbBackendConn  *conn,
                gpointer           data,
                GError           **error)
{
  MsbDbNotify *self = data;
  g_autoptr(GPtrArray) tables = read_foreign_changes (self, conn);

  if (tables != NULL)
    queue_tables (self, tables);
  return msb_db_backend_execute (conn, "SELECT 1", NULL, NULL, error);
}

static void
on_writer_polled (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(MsbDbNotify) self = data;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;

  rows = g_task_propagate_pointer (G_TASK (result), &error);
  if (rows == NULL)
    g_debug ("Looking for changes of other processes failed: %s", error->message);
  poll_finished (self);
}

/* Read-only pools: on a GTask thread, with the connection of the polls. */
static void
poll_in_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  MsbDbNotify *self = task_data;
  MsbDbPools *pools = source_object;
  GPtrArray *tables = NULL;
  GError *error = NULL;

  g_mutex_lock (&self->poll_lock);
  if (!self->poll_closed && self->poll_conn == NULL)
    {
      MsbDbConnSettings settings;

      msb_db_pools_get_conn_settings (pools, &settings);
      self->poll_conn = msb_db_backend_open (msb_db_pools_get_target (pools),
                                             MSB_DB_CONN_READ_ONLY, &settings, &error);
    }
  if (self->poll_conn != NULL)
    tables = read_foreign_changes (self, self->poll_conn);
  g_mutex_unlock (&self->poll_lock);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, tables, (GDestroyNotify) g_ptr_array_unref);
}

static void
on_thread_polled (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(MsbDbNotify) self = data;
  g_autoptr(GPtrArray) tables = NULL;
  g_autoptr(GError) error = NULL;

  tables = g_task_propagate_pointer (G_TASK (result), &error);
  if (error != NULL)
    g_debug ("Looking for changes of other processes failed: %s", error->message);
  if (tables != NULL)
    queue_tables (self, tables);
  poll_finished (self);
}

/* In the pools' context, from the watch. */
static void
start_poll (MsbDbNotify *self)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GTask) task = NULL;

  g_mutex_lock (&self->lock);
  if (self->pools != NULL)
    pools = g_object_ref (self->pools);
  g_mutex_unlock (&self->lock);
  if (pools == NULL)
    return;

  self->polling = TRUE;
  /* The task reports in the context that runs the watch, even when the
   * program iterates it without making it thread-default. */
  g_main_context_push_thread_default (self->context);
  if (msb_db_pools_get_writer (pools) != NULL)
    {
      g_autoptr(MsbDbJob) job = msb_db_job_new_maintenance (poll_on_writer, msb_db_notify_ref (self),
                                                            (GDestroyNotify) msb_db_notify_unref,
                                                            NULL, 0);

      task = msb_db_pools_new_task (pools, NULL, on_writer_polled, msb_db_notify_ref (self),
                                    start_poll, "[msb-db] look for changes of other processes");
      msb_db_pools_submit_async (pools, job, task);
    }
  else
    {
      task = msb_db_pools_new_task (pools, NULL, on_thread_polled, msb_db_notify_ref (self),
                                    start_poll, "[msb-db] look for changes of other processes");
      g_task_set_task_data (task, msb_db_notify_ref (self), (GDestroyNotify) msb_db_notify_unref);
      g_task_run_in_thread (task, poll_in_thread);
    }
  g_main_context_pop_thread_default (self->context);
}

/* The watch ------------------------------------------------------------------ */

typedef struct
{
  GSource source;
  MsbDbNotify *notify;  /* (atomic) */
} Watch;

/* The watch may be made in a worker thread (msb_db_pools_open_async() runs
 * the open there) and is then run by the context's thread. GMainContext's
 * own lock orders the two, but it lives inside GLib where thread checkers
 * cannot see it; handing the pointer over atomically makes the order
 * visible without changing it. */
static MsbDbNotify *
watch_get_notify (GSource *source)
{
  return g_atomic_pointer_get (&((Watch *) source)->notify);
}

/* How long until the next poll; -1: none (nobody listens, or one runs). */
static gint64
until_next_poll (MsbDbNotify *self,
                 gint64       now)
{
  if (!self->listening || self->polling)
    return -1;
  return MAX (self->last_poll + msb_db_notify_get_poll_interval (self) - now, 0);
}

static gboolean
watch_prepare (GSource *source,
               gint    *timeout)
{
  MsbDbNotify *self = watch_get_notify (source);
  gboolean listening = has_listeners (self);
  gint64 wait;

  /* Someone started listening: look at once, then every interval. */
  if (listening && !self->listening)
    self->last_poll = 0;
  self->listening = listening;

  wait = until_next_poll (self, g_source_get_time (source));
  if (wait < 0)
    *timeout = -1;
  else
    *timeout = (gint) MIN ((wait + 999) / 1000, G_MAXINT);
  return wait == 0;
}

static gboolean
watch_check (GSource *source)
{
  MsbDbNotify *self = watch_get_notify (source);

  return until_next_poll (self, g_source_get_time (source)) == 0;
}

static gboolean
watch_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     data)
{
  start_poll (watch_get_notify (source));
  return G_SOURCE_CONTINUE;
}

static void
watch_finalize (GSource *source)
{
  msb_db_notify_unref (watch_get_notify (source));
}

static GSourceFuncs watch_funcs = {
  .prepare = watch_prepare,
  .check = watch_check,
  .dispatch = watch_dispatch,
  .finalize = watch_finalize,
};

/* Starting and stopping ------------------------------------------------------ */

/* Once the pools are open. */
void
msb_db_notify_start (MsbDbNotify *self)
{
  MsbDbWriter *writer = msb_db_pools_get_writer (self->pools);
  GSource *source;

  if (writer != NULL)
    msb_db_writer_set_hook (writer, on_writer_unit, msb_db_notify_ref (self),
                            (GDestroyNotify) msb_db_notify_unref);

  source = g_source_new (&watch_funcs, sizeof (Watch));
  g_atomic_pointer_set (&((Watch *) source)->notify, msb_db_notify_ref (self));
  g_source_set_static_name (source, "[msb-db] changes of other processes");
  g_mutex_lock (&self->lock);
  self->watch = source;
  g_mutex_unlock (&self->lock);
  g_source_attach (source, self->context);
}

/* When the pools close (any thread): no signal from now on. */
void
msb_db_notify_stop (MsbDbNotify *self)
{
  GSource *watch;
  MsbDbBackendConn *conn;

  g_mutex_lock (&self->lock);
  self->pools = NULL;
  watch = g_steal_pointer (&self->watch);
  g_mutex_unlock (&self->lock);
  if (watch != NULL)
    {
      g_source_destroy (watch);
      g_source_unref (watch);
    }

  g_mutex_lock (&self->poll_lock);
  self->poll_closed = TRUE;
  conn = g_steal_pointer (&self->poll_conn);
  g_mutex_unlock (&self->poll_lock);
  msb_db_backend_close (conn);
}

/* The signal ---------------------------------------------------------------- */

void
msb_db_notify_class_init (GObjectClass *klass)
{
  /**
   * MsbDbPools::changed:
   * @self: the pools
   * @table: the name of a table that changed
   *
   * Emitted after a commit changed @table, once per table per commit
   * batch: a transaction that inserts a thousand rows is one emission,
   * and so are the writes the writer committed together. The detail is
   * the table name, so a handler can ask for one table:
   *
   * ```c
   * g_signal_connect (db, "changed::notes", G_CALLBACK (on_notes_changed), self);
   * ```
   *
   * The signal is emitted in the main context that was the thread-default
   * of the thread that created @self (called [func@MsbDb.Pools.open] or
   * began [func@MsbDb.Pools.open_async]), as [class@Gio.FileMonitor] does;
   * the change is committed when it runs, so a read then sees it. Emissions
   * stop when @self is closed.
   *
   * What is reported:
   *
   * - changes committed through @self name their tables: rows inserted,
   *   updated or deleted, by the statements themselves, their triggers and
   *   their foreign key actions;
   * - a change the library cannot name (a schema change, a `WITHOUT ROWID`
   *   table, `DELETE` without `WHERE`, a migration step), and every change
   *   committed by another process or connection, are reported as a change
   *   of every table of the database: one emission per table, after that
   *   commit. (A `WITHOUT ROWID` table changed only by a trigger may go
   *   unsignalled.)
   *
   * Changes of other processes are noticed by reading SQLite's
   * `PRAGMA data_version` every #MsbDbPools:change-poll-interval (100 ms by
   * default) while the main context runs: they are signalled within about
   * that interval. A change other processes made while no handler was
   * connected is reported when one is connected (read-only pools only look
   * from then on). Another process's checkpoint that empties the log may
   * be reported as a change too: a change is never missed, but an emission
   * does not prove one.
   *
   * Nothing is tracked or polled while no handler is connected: no timer,
   * no thread, no statement; each commit batch only looks whether a
   * handler is connected (a lookup under GLib's signal lock). With a
   * handler connected, each row changed through @self costs a call of
   * SQLite's update hook, each commit batch a hand-over of its table
   * names to the main context, and each poll
   * one maintenance job on the writer thread (a read on a connection of
   * their own, in a worker thread, for read-only pools) and a wake-up of
   * the main context. The benchmark scenarios `pools.notify.*` measure it
   * against the same writes without a handler.
   */
  signals[CHANGED] =
    g_signal_new (g_intern_static_string ("changed"),
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL,
                  g_cclosure_marshal_VOID__STRING,
                  G_TYPE_NONE, 1,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (signals[CHANGED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__STRINGv);
}

/**
 * msb_db_pools_get_change_poll_interval:
 * @self: a #MsbDbPools
 *
 * Gets #MsbDbPools:change-poll-interval.
 *
 * Returns: how often changes of other processes are looked for while a
 *   handler is connected to [signal@MsbDb.Pools::changed], in microseconds
 */
GTimeSpan
msb_db_pools_get_change_poll_interval (MsbDbPools *self)
{
  GTimeSpan interval = 0;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), 0);

  g_object_get (self, "change-poll-interval", &interval, NULL);
  return interval;
}

/**
 * msb_db_pools_set_change_poll_interval:
 * @self: a #MsbDbPools
 * @interval: in microseconds; 0 for the default
 *
 * Sets #MsbDbPools:change-poll-interval: how often changes committed by
 * other processes are looked for while a handler is connected to
 * [signal@MsbDb.Pools::changed].
 */
void
msb_db_pools_set_change_poll_interval (MsbDbPools *self,
                                       GTimeSpan   interval)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (interval >= 0);

  g_object_set (self, "change-poll-interval", interval, NULL);
}
