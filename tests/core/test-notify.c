/* test-notify.c: MsbDbPools::changed, for this process's writes and for others'
 *
 * The test binary re-runs itself as the other process:
 *   test-notify --child-write PATH SQL
 * which opens PATH, runs SQL through its writer, prints "committed T"
 * (T: g_get_monotonic_time(), the same clock in every process) and exits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <stdio.h>
#include <string.h>
#include <gio/gio.h>

/* Signals are expected within this (multiplied under sanitizers) after a
 * commit of another process, with a poll interval of POLL_MS. */
#define POLL_MS 20
#define OTHER_PROCESS_BOUND (2 * G_TIME_SPAN_SECOND)

typedef struct {
  GPtrArray *tables;       /* as signalled, in order */
  GThread *thread;         /* where the last one ran */
  gint64 last_at;
} Recorder;

static void
recorder_init (Recorder *r)
{
  r->tables = g_ptr_array_new_with_free_func (g_free);
}

static void
recorder_clear (Recorder *r)
{
  g_ptr_array_unref (r->tables);
}

static void
on_changed (MsbDbPools *pools,
            const char *table,
            gpointer    data)
{
  Recorder *r = data;

  g_ptr_array_add (r->tables, g_strdup (table));
  r->thread = g_thread_self ();
  r->last_at = g_get_monotonic_time ();
}

static guint
count_of (Recorder   *r,
          const char *table)
{
  guint n = 0;

  for (guint i = 0; i < r->tables->len; i++)
    n += g_str_equal (g_ptr_array_index (r->tables, i), table);
  return n;
}

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the thread-default context until @r saw @table @n times. */
static void
wait_for_count (Recorder   *r,
                const char *table,
                guint       n,
                GTimeSpan   timeout)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean timed_out = FALSE;
  GSource *timer = g_timeout_source_new ((guint) (SLOW (timeout) / 1000));

  g_source_set_callback (timer, timed_out_cb, &timed_out, NULL);
  g_source_attach (timer, context);
  while (count_of (r, table) < n && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  if (count_of (r, table) < n)
    g_error ("no change of “%s” was signalled", table);
}

static void
wait_for (Recorder   *r,
          const char *table,
          GTimeSpan   timeout)
{
  wait_for_count (r, table, 1, timeout);
}

/* Iterates the thread-default context for @span. */
static void
spin (GTimeSpan span)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean done = FALSE;
  GSource *timer = g_timeout_source_new ((guint) (span / 1000));

  g_source_set_callback (timer, timed_out_cb, &done, NULL);
  g_source_attach (timer, context);
  while (!done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
}

/* Every change before this one has been delivered when it is: deliveries
 * keep the order of commits. */
static void
sync_changes (MsbDbPools *pools,
              Recorder   *all)
{
  static guint n;
  g_autofree char *sql = g_strdup_printf ("INSERT INTO sync VALUES (%u)", ++n);
  guint before = count_of (all, "sync");

  test_write_ok (pools, sql, NULL);
  wait_for_count (all, "sync", before + 1, 10 * G_TIME_SPAN_SECOND);
}

static void
create_tables (MsbDbPools *pools)
{
  test_write_ok (pools, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)", NULL);
  test_write_ok (pools, "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT)", NULL);
  test_write_ok (pools, "CREATE TABLE sync (n INTEGER)", NULL);
}

static void
test_local (Fixture       *fx,
            gconstpointer  data)
{
  Recorder notes, all;

  recorder_init (&notes);
  recorder_init (&all);
  create_tables (fx->pools);
  g_signal_connect (fx->pools, "changed::notes", G_CALLBACK (on_changed), &notes);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);

  test_write_ok (fx->pools, "INSERT INTO notes (body) VALUES ('a')", NULL);
  wait_for (&notes, "notes", 10 * G_TIME_SPAN_SECOND);
  g_assert_true (notes.thread == g_thread_self ());
  /* The change is committed when it is signalled. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM notes"), ==, 1);

  test_write_ok (fx->pools, "INSERT INTO tags (name) VALUES ('x')", NULL);
  sync_changes (fx->pools, &all);
  g_assert_cmpuint (notes.tables->len, ==, 1);
  g_assert_cmpuint (count_of (&all, "notes"), ==, 1);
  g_assert_cmpuint (count_of (&all, "tags"), ==, 1);

  /* Async writes and transactions too. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(MsbDbRows) rows = NULL;

    msb_db_pools_write_async (fx->pools, "UPDATE notes SET body = 'b'", NULL, NULL,
                              test_async_result_cb, &result);
    test_wait_result (&result, 10);
    rows = msb_db_pools_write_finish (fx->pools, result, NULL);
    g_assert_nonnull (rows);
    sync_changes (fx->pools, &all);
    g_assert_cmpuint (notes.tables->len, ==, 2);
  }

  g_signal_handlers_disconnect_by_data (fx->pools, &notes);
  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&notes);
  recorder_clear (&all);
}

static gboolean
insert_many (MsbDbConnection  *connection,
             gpointer          data,
             GError          **error)
{
  g_autoptr(MsbDbRows) many = NULL;
  g_autoptr(MsbDbRows) one = NULL;

  many = msb_db_connection_execute (connection,
                                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                                    "FROM c WHERE x < 1000) INSERT INTO notes (body) "
                                    "SELECT 'n' || x FROM c", NULL, error);
  if (many == NULL)
    return FALSE;
  one = msb_db_connection_execute (connection, "INSERT INTO tags (name) VALUES ('t')", NULL, error);
  return one != NULL;
}

static void
test_one_per_commit (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Recorder all;

  recorder_init (&all);
  create_tables (fx->pools);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);

  /* A thousand rows, one transaction: one signal per table. */
  g_assert_true (msb_db_pools_transaction (fx->pools, insert_many, NULL, NULL, &error));
  g_assert_no_error (error);
  sync_changes (fx->pools, &all);
  g_assert_cmpuint (count_of (&all, "notes"), ==, 1);
  g_assert_cmpuint (count_of (&all, "tags"), ==, 1);

  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&all);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, NULL);
  guint *pending = data;

  g_assert_nonnull (rows);
  (*pending)--;
}

static void
test_coalesced (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(MsbDbStats) before = NULL;
  g_autoptr(MsbDbStats) after = NULL;
  guint pending = 300, emissions;
  Recorder all;

  recorder_init (&all);
  create_tables (fx->pools);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);

  before = msb_db_pools_get_stats (fx->pools);
  for (guint i = 0; i < 300; i++)
    msb_db_pools_write_async (fx->pools, "INSERT INTO notes (body) VALUES (?)",
                              g_variant_new ("(u)", i), NULL, on_written, &pending);
  while (pending > 0)
    g_main_context_iteration (NULL, TRUE);
  after = msb_db_pools_get_stats (fx->pools);
  sync_changes (fx->pools, &all);

  emissions = count_of (&all, "notes");
  g_test_message ("300 writes in %" G_GUINT64_FORMAT " batches: %u signal(s) for notes",
                  after->write_batches - before->write_batches, emissions);
  g_assert_cmpuint (emissions, >=, 1);
  g_assert_cmpuint (emissions, <=, after->write_batches - before->write_batches);

  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&all);
}

static gboolean
insert_then_fail (MsbDbConnection  *connection,
                  gpointer          data,
                  GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection,
                                                         "INSERT INTO notes (body) VALUES ('gone')",
                                                         NULL, error);

  if (rows == NULL)
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "changed my mind");
  return FALSE;
}

static void
test_rolled_back (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  Recorder all;

  recorder_init (&all);
  create_tables (fx->pools);
  test_write_ok (fx->pools, "INSERT INTO notes (body) VALUES ('taken')", NULL);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);

  g_assert_false (msb_db_pools_transaction (fx->pools, insert_then_fail, NULL, NULL, &error));
  g_clear_error (&error);
  rows = msb_db_pools_write (fx->pools, "INSERT INTO notes (body) VALUES ('taken')", NULL, NULL,
                             &error);
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);

  /* A queued write that fails after its first row: SQLite takes the row
   * back, and the rest of its batch commits. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(MsbDbRows) failed = NULL;

    msb_db_pools_write_async (fx->pools, "INSERT INTO notes (body) VALUES ('fresh'), ('taken')",
                              NULL, NULL, test_async_result_cb, &result);
    test_wait_result (&result, 10);
    failed = msb_db_pools_write_finish (fx->pools, result, &error);
    g_assert_null (failed);
    assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  }

  sync_changes (fx->pools, &all);
  g_assert_cmpuint (count_of (&all, "notes"), ==, 0);

  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&all);
}

/* Changes SQLite's update hook does not see are signalled for every table. */
static void
test_unnamed (Fixture       *fx,
              gconstpointer  data)
{
  Recorder notes, all;

  recorder_init (&notes);
  recorder_init (&all);
  create_tables (fx->pools);
  test_write_ok (fx->pools, "CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID", NULL);
  test_write_ok (fx->pools, "INSERT INTO notes (body) VALUES ('a'), ('b')", NULL);
  g_signal_connect (fx->pools, "changed::notes", G_CALLBACK (on_changed), &notes);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);

  /* DELETE without WHERE (SQLite's truncate optimization). */
  test_write_ok (fx->pools, "DELETE FROM notes", NULL);
  wait_for (&notes, "notes", 10 * G_TIME_SPAN_SECOND);
  sync_changes (fx->pools, &all);
  g_assert_cmpuint (count_of (&all, "tags"), ==, 1);

  /* A WITHOUT ROWID table. */
  test_write_ok (fx->pools, "INSERT INTO kv VALUES ('a', 1)", NULL);
  wait_for (&all, "kv", 10 * G_TIME_SPAN_SECOND);

  /* A schema change: the new table is among them. */
  test_write_ok (fx->pools, "CREATE TABLE later (x)", NULL);
  wait_for (&all, "later", 10 * G_TIME_SPAN_SECOND);

  /* A migration step. */
  {
    const char *steps[] = { "CREATE TABLE migrated (x)", NULL };
    g_autoptr(GError) error = NULL;

    g_assert_true (msb_db_pools_migrate (fx->pools, steps, NULL, &error));
    wait_for (&all, "migrated", 10 * G_TIME_SPAN_SECOND);
  }

  g_signal_handlers_disconnect_by_data (fx->pools, &notes);
  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&notes);
  recorder_clear (&all);
}

/* Nothing runs while nobody listens ------------------------------------- */

/* One iteration of @context that does not block; returns the timeout its
 * sources asked for (-1: none, they wait for nothing). */
static gint
iterate_once (GMainContext *context)
{
  GPollFD fds[32];
  gint priority = 0, timeout = -2, n;

  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &priority);
  n = g_main_context_query (context, priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, (gint) G_N_ELEMENTS (fds));
  g_main_context_check (context, priority, fds, n);
  g_main_context_dispatch (context);
  g_main_context_release (context);
  return timeout;
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    data)
{
  (*(guint *) data)++;
}

static void
test_idle_without_handlers (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MsbDbPools) pools = NULL;
  guint threads;
  gulong handler;
  Recorder all;
  gint timeout;

  recorder_init (&all);
  g_main_context_push_thread_default (context);
  pools = test_open (fx->path, 1, 0, 0);
  create_tables (pools);
  {
    guint notified = 0;
    gulong id = g_signal_connect (pools, "notify::change-poll-interval",
                                  G_CALLBACK (count_notify), &notified);

    g_assert_cmpint (msb_db_pools_get_change_poll_interval (pools), ==,
                     MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC * G_TIME_SPAN_MILLISECOND);
    msb_db_pools_set_change_poll_interval (pools, POLL_MS * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpuint (notified, ==, 1);
    g_signal_handler_disconnect (pools, id);
  }
  g_assert_cmpint (msb_db_pools_get_change_poll_interval (pools), ==, POLL_MS * G_TIME_SPAN_MILLISECOND);

  /* No handler: the pools' sources ask for no wake-up at all, and no
   * thread is started, however long the context runs. */
  threads = test_count_threads ();
  for (guint i = 0; i < 5; i++)
    {
      g_assert_cmpint (iterate_once (context), ==, -1);
      g_usleep (2 * POLL_MS * 1000);
    }
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* A handler: a poll is due at once, then every interval. */
  handler = g_signal_connect (pools, "changed", G_CALLBACK (on_changed), &all);
  timeout = iterate_once (context);
  g_assert_cmpint (timeout, ==, 0);
  spin (5 * POLL_MS * G_TIME_SPAN_MILLISECOND);
  /* (-1 while a poll is under way: its end wakes the context.) */
  for (guint i = 0; i < 100 && (timeout = iterate_once (context)) < 0; i++)
    g_usleep (10000);
  g_assert_cmpint (timeout, >=, 0);
  g_assert_cmpint (timeout, <=, POLL_MS);

  /* Gone again: once the poll under way (if any) is back, no wake-up. */
  g_signal_handler_disconnect (pools, handler);
  spin (5 * POLL_MS * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (iterate_once (context), ==, -1);

  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_main_context_pop_thread_default (context);
  recorder_clear (&all);
}

/* Where the signal runs ---------------------------------------------------- */

typedef struct {
  const char *path;
  MsbDbPools *pools;
  GMutex lock;
  GCond cond;
  gboolean ready;
  gboolean quit;
  GThread *signalled_in;
} Elsewhere;

static gpointer
elsewhere_main (gpointer data)
{
  Elsewhere *e = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  Recorder notes;

  recorder_init (&notes);
  g_main_context_push_thread_default (context);
  e->pools = test_open (e->path, 1, 0, 0);
  g_signal_connect (e->pools, "changed::notes", G_CALLBACK (on_changed), &notes);
  g_mutex_lock (&e->lock);
  e->ready = TRUE;
  g_cond_broadcast (&e->cond);
  g_mutex_unlock (&e->lock);

  wait_for (&notes, "notes", 10 * G_TIME_SPAN_SECOND);
  e->signalled_in = notes.thread;
  g_signal_handlers_disconnect_by_data (e->pools, &notes);
  g_assert_true (msb_db_pools_close (e->pools, NULL, NULL));
  g_clear_object (&e->pools);
  g_main_context_pop_thread_default (context);
  recorder_clear (&notes);
  return NULL;
}

static void
test_context_of_open (Fixture       *fx,
                      gconstpointer  data)
{
  Elsewhere e = { fx->path };
  GThread *thread;

  create_tables (fx->pools);
  g_mutex_init (&e.lock);
  g_cond_init (&e.cond);
  thread = g_thread_new ("test-elsewhere", elsewhere_main, &e);
  g_mutex_lock (&e.lock);
  while (!e.ready)
    g_cond_wait (&e.cond, &e.lock);
  g_mutex_unlock (&e.lock);

  /* Written from this thread; signalled in the thread that opened them. */
  test_write_ok (e.pools, "INSERT INTO notes (body) VALUES ('from the main thread')", NULL);
  g_thread_join (thread);
  g_assert_true (e.signalled_in == thread);
  g_mutex_clear (&e.lock);
  g_cond_clear (&e.cond);
}

/* Other processes ------------------------------------------------------------ */

static int
child_write (const char *path,
             const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = msb_db_pools_open (path, 1, 0, 0, NULL, &error);
  g_autoptr(MsbDbRows) rows = NULL;

  if (pools != NULL)
    rows = msb_db_pools_write (pools, sql, NULL, NULL, &error);
  if (rows == NULL)
    {
      printf ("ERROR %s\n", error->message);
      return 1;
    }
  printf ("committed %" G_GINT64_FORMAT "\n", g_get_monotonic_time ());
  fflush (stdout);
  return msb_db_pools_close (pools, NULL, NULL) ? 0 : 1;
}

/* Runs @sql in another process; returns when it committed. */
static gint64
write_in_other_process (const char *path,
                        const char *sql)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self, "--child-write", path,
                            sql, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  if (!g_str_has_prefix (out, "committed "))
    g_error ("the other process did not commit “%s”: %s", sql, out);
  return g_ascii_strtoll (out + strlen ("committed "), NULL, 10);
}

static void
check_other_process (const char *path,
                     MsbDbPools *pools)
{
  Recorder notes, all;
  gint64 committed;

  recorder_init (&notes);
  recorder_init (&all);
  msb_db_pools_set_change_poll_interval (pools, POLL_MS * G_TIME_SPAN_MILLISECOND);
  g_signal_connect (pools, "changed::notes", G_CALLBACK (on_changed), &notes);
  g_signal_connect (pools, "changed", G_CALLBACK (on_changed), &all);
  /* Let the first poll happen (read-only pools start looking then). */
  spin (10 * POLL_MS * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (all.tables->len, ==, 0);

  /* The process is gone when this returns: the write is committed. */
  committed = write_in_other_process (path, "INSERT INTO notes (body) VALUES ('from afar')");
  wait_for (&notes, "notes", OTHER_PROCESS_BOUND);
  g_test_message ("signalled %.1f ms after the other process committed (poll interval %d ms)",
                  (notes.last_at - committed) / 1000.0, POLL_MS);
  g_assert_cmpint (notes.last_at - committed, <, SLOW (OTHER_PROCESS_BOUND));
  g_assert_true (notes.thread == g_thread_self ());
  /* Which table it was cannot be told: all of them are signalled. */
  wait_for (&all, "tags", OTHER_PROCESS_BOUND);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM notes WHERE body = 'from afar'"), ==, 1);

  /* A change to another table reaches the notes handler too. */
  g_ptr_array_set_size (notes.tables, 0);
  write_in_other_process (path, "INSERT INTO tags (name) VALUES ('far tag')");
  wait_for (&notes, "notes", OTHER_PROCESS_BOUND);

  g_signal_handlers_disconnect_by_data (pools, &notes);
  g_signal_handlers_disconnect_by_data (pools, &all);
  recorder_clear (&notes);
  recorder_clear (&all);
}

static void
test_other_process (Fixture       *fx,
                    gconstpointer  data)
{
  create_tables (fx->pools);
  check_other_process (fx->path, fx->pools);
}

static void
test_other_process_read_only (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(MsbDbPools) reader = NULL;
  g_autoptr(GError) error = NULL;

  create_tables (fx->pools);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  reader = msb_db_pools_open_read_only (fx->path, 1, 0, 0, NULL, &error);
  g_assert_no_error (error);
  check_other_process (fx->path, reader);
  g_assert_true (msb_db_pools_close (reader, NULL, NULL));
  /* The connection of the polls closed too: the last one tidies up. */
  g_assert_true (test_wait_files_gone (fx->path, 10 * G_TIME_SPAN_SECOND));
}

/* open_async() opens in a worker thread, and the context of the call then
 * runs what watches other processes. The context is iterated without
 * blocking while the open runs, so that it looks at the watch as soon as
 * the worker attaches it: that is the hand-over ThreadSanitizer checks. */
static void
test_other_process_opened_async (Fixture       *fx,
                                 gconstpointer  data)
{
  create_tables (fx->pools);
  for (guint round = 0; round < 5; round++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(MsbDbPools) pools = NULL;
      g_autoptr(GError) error = NULL;

      test_write_ok (fx->pools, "DELETE FROM notes", NULL);
      msb_db_pools_open_async (fx->path, 1, 0, 0, NULL, test_async_result_cb, &result);
      while (result == NULL)
        g_main_context_iteration (NULL, FALSE);
      pools = msb_db_pools_open_finish (result, &error);
      g_assert_no_error (error);
      check_other_process (fx->path, pools);
      g_assert_true (msb_db_pools_close (pools, NULL, NULL));
    }
}

static void
test_closed (Fixture       *fx,
             gconstpointer  data)
{
  Recorder all;

  recorder_init (&all);
  create_tables (fx->pools);
  msb_db_pools_set_change_poll_interval (fx->pools, POLL_MS * G_TIME_SPAN_MILLISECOND);
  g_signal_connect (fx->pools, "changed", G_CALLBACK (on_changed), &all);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));

  write_in_other_process (fx->path, "INSERT INTO notes (body) VALUES ('after close')");
  spin (10 * POLL_MS * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (all.tables->len, ==, 0);
  g_signal_handlers_disconnect_by_data (fx->pools, &all);
  recorder_clear (&all);
}

int
main (int argc, char **argv)
{
  if (argc >= 4 && strcmp (argv[1], "--child-write") == 0)
    return child_write (argv[2], argv[3]);

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/notify/local", Fixture, NULL, fixture_setup_open, test_local, fixture_teardown);
  g_test_add ("/notify/one-per-commit", Fixture, NULL, fixture_setup_open, test_one_per_commit,
              fixture_teardown);
  g_test_add ("/notify/coalesced", Fixture, NULL, fixture_setup_open, test_coalesced,
              fixture_teardown);
  g_test_add ("/notify/rolled-back", Fixture, NULL, fixture_setup_open, test_rolled_back,
              fixture_teardown);
  g_test_add ("/notify/unnamed", Fixture, NULL, fixture_setup_open, test_unnamed,
              fixture_teardown);
  g_test_add ("/notify/idle-without-handlers", Fixture, NULL, fixture_setup,
              test_idle_without_handlers, fixture_teardown);
  g_test_add ("/notify/context-of-open", Fixture, NULL, fixture_setup_open, test_context_of_open,
              fixture_teardown);
  g_test_add ("/notify/other-process", Fixture, NULL, fixture_setup_open, test_other_process,
              fixture_teardown);
  g_test_add ("/notify/other-process/read-only", Fixture, NULL, fixture_setup_open,
              test_other_process_read_only, fixture_teardown);
  g_test_add ("/notify/other-process/opened-async", Fixture, NULL, fixture_setup_open,
              test_other_process_opened_async, fixture_teardown);
  g_test_add ("/notify/closed", Fixture, NULL, fixture_setup_open, test_closed, fixture_teardown);

  return g_test_run ();
}
