/* test-async.c: the _async variants, and where their callbacks run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)", NULL);
}

/* ---- open_async -------------------------------------------------------- */

static void
test_open_async (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) none = NULL;

  msb_db_pools_open_async (fx->path, 2, 0, 0, NULL, test_async_result_cb, &result);
  test_wait_result (&result, 30);
  pools = msb_db_pools_open_finish (result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pools);
  g_assert_cmpuint (msb_db_pools_get_max_read_connections (pools), ==, 2);
  test_write_ok (pools, "CREATE TABLE t(x)", NULL);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM t"), ==, 0);

  msb_db_pools_open_async ("mysql://127.0.0.1:9001/x", 0, 0, 0, NULL,
                           test_async_result_cb, &bad);
  test_wait_result (&bad, 30);
  none = msb_db_pools_open_finish (bad, &error);
  g_assert_null (none);
  assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);

  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

static void
initable_new_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GObject **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  g_assert_no_error (error);
  g_main_context_wakeup (NULL);
}

static void
test_async_initable (Fixture       *fx,
                     gconstpointer  data)
{
  GObject *obj = NULL;
  MsbDbPools *pools;

  g_async_initable_new_async (MSB_DB_TYPE_POOLS, G_PRIORITY_DEFAULT, NULL,
                              initable_new_cb, &obj,
                              "path", fx->path,
                              "max-read-connections", 3,
                              "busy-timeout", (gint64) (250 * G_TIME_SPAN_MILLISECOND),
                              NULL);
  while (obj == NULL)
    g_main_context_iteration (NULL, TRUE);
  pools = MSB_DB_POOLS (obj);
  g_assert_cmpuint (msb_db_pools_get_max_read_connections (pools), ==, 3);
  g_assert_cmpint (msb_db_pools_get_busy_timeout (pools), ==, 250 * G_TIME_SPAN_MILLISECOND);
  /* dqlite: MsbDb waits for the lock itself (see test-readonly.c). */
  if (!test_is_cluster_target (fx->path))
    g_assert_cmpint (test_read_int (pools, "PRAGMA busy_timeout"), ==, 250);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_object_unref (pools);
}

/* ---- callbacks run in the caller's thread-default context -------------- */

typedef struct {
  GMainContext *context;
  GThread      *thread;
  MsbDbPools   *pools;
  char         *path;
  guint         done;
  guint         wrong_place;
  guint         failures;
  GThread      *func_threads[2];
} PlaceData;

static void
check_place (PlaceData *p)
{
  GMainContext *current = g_main_context_ref_thread_default ();

  if (current != p->context || g_thread_self () != p->thread)
    p->wrong_place++;
  g_main_context_unref (current);
  p->done++;
}

static void
place_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL || msb_db_rows_get_int64 (rows, 0, 0) != 11)
    p->failures++;
  check_place (p);
}

static void
place_write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    p->failures++;
  check_place (p);
}

static void
place_txn_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!msb_db_pools_transaction_finish (MSB_DB_POOLS (source), result, &error))
    p->failures++;
  check_place (p);
}

static void
place_snapshot_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!msb_db_pools_snapshot_finish (MSB_DB_POOLS (source), result, &error))
    p->failures++;
  check_place (p);
}

static void
place_close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!msb_db_pools_close_finish (MSB_DB_POOLS (source), result, &error))
    p->failures++;
  check_place (p);
}

static void
place_open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PlaceData *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = msb_db_pools_open_finish (result, &error);

  if (pools == NULL)
    p->failures++;
  else
    msb_db_pools_close (pools, NULL, NULL);
  check_place (p);
}

static gboolean
place_func (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  GThread **slot = user_data;
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "SELECT 1", NULL, error);

  *slot = g_thread_self ();
  return rows != NULL;
}

static void
run_everything_async (MsbDbPools *pools,
                      const char *path,
                      PlaceData  *p)
{
  g_autofree char *v = g_strdup_printf ("%p", (void *) p);

  msb_db_pools_open_async (path, 1, 0, 0, NULL, place_open_cb, p);
  msb_db_pools_read_async (pools, "SELECT 11", NULL, NULL, place_read_cb, p);
  msb_db_pools_write_async (pools, "INSERT INTO t(v) VALUES (?)", g_variant_new ("(s)", v),
                            NULL, place_write_cb, p);
  msb_db_pools_transaction_async (pools, place_func, &p->func_threads[0], NULL, NULL,
                                  place_txn_cb, p);
  msb_db_pools_snapshot_async (pools, place_func, &p->func_threads[1], NULL, NULL,
                               place_snapshot_cb, p);
  while (p->done < 5)
    g_main_context_iteration (p->context, TRUE);
}

static gpointer
place_thread (gpointer data)
{
  PlaceData *p = data;
  p->thread = g_thread_self ();
  g_main_context_push_thread_default (p->context);
  run_everything_async (p->pools, p->path, p);
  g_main_context_pop_thread_default (p->context);
  return NULL;
}

static void
check_place_data (PlaceData *p)
{
  g_assert_cmpuint (p->failures, ==, 0);
  g_assert_cmpuint (p->wrong_place, ==, 0);
  /* The bodies ran elsewhere. */
  g_assert_nonnull (p->func_threads[0]);
  g_assert_nonnull (p->func_threads[1]);
  g_assert_true (p->func_threads[0] != p->thread);
  g_assert_true (p->func_threads[1] != p->thread);
}

static void
test_callback_context (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *other_path = g_build_filename (fx->dir, "other.db", NULL);
  PlaceData main_p = { 0 };
  PlaceData thread_p[2] = { { 0 } };
  GThread *threads[2];

  /* Main thread, global default context. */
  main_p.context = g_main_context_ref_thread_default ();
  main_p.thread = g_thread_self ();
  run_everything_async (fx->pools, other_path, &main_p);
  check_place_data (&main_p);
  g_main_context_unref (main_p.context);

  /* Two threads, each with its own context; the main context is not
   * iterated meanwhile, so a callback sent there would never arrive. */
  for (guint i = 0; i < 2; i++)
    {
      thread_p[i].context = g_main_context_new ();
      thread_p[i].pools = fx->pools;
      thread_p[i].path = g_strdup_printf ("%s/thread%u.db", fx->dir, i);
    }
  for (guint i = 0; i < 2; i++)
    {
      threads[i] = g_thread_new ("ctx-thread", place_thread, &thread_p[i]);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_thread_join (threads[i]);
      check_place_data (&thread_p[i]);
      g_main_context_unref (thread_p[i].context);
      g_free (thread_p[i].path);
    }

  /* close_async too. */
  {
    PlaceData p = { 0 };
    p.context = g_main_context_ref_thread_default ();
    p.thread = g_thread_self ();
    msb_db_pools_close_async (fx->pools, NULL, place_close_cb, &p);
    while (p.done < 1)
      g_main_context_iteration (p.context, TRUE);
    g_assert_cmpuint (p.failures, ==, 0);
    g_assert_cmpuint (p.wrong_place, ==, 0);
    g_main_context_unref (p.context);
  }
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 3);
}

/* ---- GDestroyNotify of transaction/snapshot user data ------------------ */

typedef struct {
  gint notified;
  gint calls;
  gboolean fail;
} NotifyData;

static void
notify_cb (gpointer data)
{
  NotifyData *n = data;

  g_atomic_int_inc (&n->notified);
}

static gboolean
notify_func (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  NotifyData *n = user_data;

  g_atomic_int_inc (&n->calls);
  if (n->fail)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "nope");
      return FALSE;
    }
  return TRUE;
}

static void
wait_notified (NotifyData *n)
{
  gint64 deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);

  while (g_atomic_int_get (&n->notified) == 0 && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  /* And never a second time. */
  for (guint i = 0; i < 20; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
test_notify (Fixture       *fx,
             gconstpointer  data)
{
  gboolean snapshot = GPOINTER_TO_INT (data);

  for (guint round = 0; round < 3; round++)
    {
      NotifyData n = { 0, 0, round == 1 };
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      gboolean ok;

      if (round == 2)
        g_cancellable_cancel (cancellable);
      if (snapshot)
        msb_db_pools_snapshot_async (fx->pools, notify_func, &n, notify_cb, cancellable,
                                     test_async_result_cb, &result);
      else
        msb_db_pools_transaction_async (fx->pools, notify_func, &n, notify_cb, cancellable,
                                        test_async_result_cb, &result);
      test_wait_result (&result, 30);
      ok = snapshot ? msb_db_pools_snapshot_finish (fx->pools, result, &error)
                    : msb_db_pools_transaction_finish (fx->pools, result, &error);
      g_clear_object (&result);
      wait_notified (&n);
      g_assert_cmpint (g_atomic_int_get (&n.notified), ==, 1);

      switch (round)
        {
        case 0:
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (n.calls, ==, 1);
          break;
        case 1:
          g_assert_false (ok);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
          break;
        case 2:
          g_assert_false (ok);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_cmpint (n.calls, ==, 0);
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

/* Notify also on closed pools. */
static void
test_notify_closed (Fixture       *fx,
                    gconstpointer  data)
{
  NotifyData n1 = { 0 }, n2 = { 0 };
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  msb_db_pools_transaction_async (fx->pools, notify_func, &n1, notify_cb, NULL,
                                  test_async_result_cb, &r1);
  msb_db_pools_snapshot_async (fx->pools, notify_func, &n2, notify_cb, NULL,
                               test_async_result_cb, &r2);
  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  g_assert_false (msb_db_pools_transaction_finish (fx->pools, r1, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot_finish (fx->pools, r2, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_object (&r1);
  g_clear_object (&r2);
  wait_notified (&n1);
  wait_notified (&n2);
  g_assert_cmpint (n1.notified, ==, 1);
  g_assert_cmpint (n2.notified, ==, 1);
  g_assert_cmpint (n1.calls + n2.calls, ==, 0);
}

/* ---- results and errors ------------------------------------------------ */

static void
test_results_and_errors (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GAsyncResult) r4 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('a'), ('b') RETURNING id",
                            NULL, NULL, test_async_result_cb, &r1);
  test_wait_result (&r1, 30);
  rows = msb_db_pools_write_finish (fx->pools, r1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 2);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 2);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (rows), ==, 2);
  g_clear_object (&rows);

  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('a')", NULL, NULL,
                            test_async_result_cb, &r2);
  test_wait_result (&r2, 30);
  rows = msb_db_pools_write_finish (fx->pools, r2, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  assert_message_contains (error, "SQLITE_CONSTRAINT_UNIQUE");
  assert_message_contains (error, "INSERT INTO t(v) VALUES ('a')");
  g_clear_error (&error);

  msb_db_pools_read_async (fx->pools, "SELECT v FROM t ORDER BY id", NULL, NULL,
                           test_async_result_cb, &r3);
  test_wait_result (&r3, 30);
  rows = msb_db_pools_read_finish (fx->pools, r3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 2);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 1, 0), ==, "b");
  g_clear_object (&rows);

  msb_db_pools_read_async (fx->pools, "DELETE FROM t", NULL, NULL, test_async_result_cb, &r4);
  test_wait_result (&r4, 30);
  rows = msb_db_pools_read_finish (fx->pools, r4, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 2);
}

/* ---- group commit keeps each write's own fate -------------------------- */

typedef struct {
  guint index;
  guint *ok;
  guint *constraint;
  guint *other;
  guint *done;
} BatchItem;

static void
batch_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  BatchItem *item = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);
  gboolean should_fail = item->index % 10 == 9;

  if (rows != NULL && !should_fail)
    (*item->ok)++;
  else if (rows == NULL && should_fail &&
           g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT))
    (*item->constraint)++;
  else
    {
      g_test_message ("write %u: %s", item->index, error ? error->message : "unexpected success");
      (*item->other)++;
    }
  (*item->done)++;
  g_free (item);
}

static void
test_batch_isolates_failures (Fixture       *fx,
                              gconstpointer  data)
{
  guint ok = 0, constraint = 0, other = 0, done = 0;
  g_autoptr(MsbDbStats) before = NULL;
  g_autoptr(MsbDbStats) after = NULL;

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('dup')", NULL);
  before = msb_db_pools_get_stats (fx->pools);
  for (guint i = 0; i < 200; i++)
    {
      BatchItem *item = g_new0 (BatchItem, 1);
      g_autofree char *v = (i % 10 == 9) ? g_strdup ("dup") : g_strdup_printf ("v%u", i);

      *item = (BatchItem) { i, &ok, &constraint, &other, &done };
      msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES (?)",
                                g_variant_new ("(s)", v), NULL, batch_cb, item);
    }
  test_wait_count (&done, 200, 60);
  after = msb_db_pools_get_stats (fx->pools);

  g_assert_cmpuint (other, ==, 0);
  g_assert_cmpuint (ok, ==, 180);
  g_assert_cmpuint (constraint, ==, 20);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 181);
  g_assert_cmpuint (after->writes, ==, before->writes + 180);
  g_test_message ("write_batches +%" G_GUINT64_FORMAT " for 200 queued writes",
                  after->write_batches - before->write_batches);
  g_assert_cmpuint (after->write_batches, >, before->write_batches);
  g_assert_cmpuint (after->write_batches - before->write_batches, <=, 200);
}

/* ---- many in flight ---------------------------------------------------- */

typedef struct {
  guint done;
  guint failures;
} FlightData;

static void
flight_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FlightData *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    {
      g_test_message ("read: %s", error->message);
      f->failures++;
    }
  f->done++;
}

static void
flight_write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FlightData *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    {
      g_test_message ("write: %s", error->message);
      f->failures++;
    }
  f->done++;
}

static void
test_many_in_flight (Fixture       *fx,
                     gconstpointer  data)
{
  FlightData f = { 0 };

  for (guint i = 0; i < 500; i++)
    {
      msb_db_pools_read_async (fx->pools, "SELECT count(*) FROM t", NULL, NULL, flight_read_cb, &f);
      msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES (?)",
                                g_variant_new ("(u)", i), NULL, flight_write_cb, &f);
    }
  test_wait_count (&f.done, 1000, 120);
  g_assert_cmpuint (f.failures, ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 500);
}

/* ---- dispatch: an async read may wait for a running read's worker ------ */

/* Reads queued behind a read that does not end still run, on the other
 * connections: a read that waits for a busy worker spreads to an idle
 * connection once the running statement notices it (its progress hook). */
static void
test_dispatch_past_long_read (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) long_result = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  FlightData f = { 0 };

  msb_db_pools_read_async (fx->pools, LONG_READ_SQL, NULL, cancellable,
                           test_async_result_cb, &long_result);
  for (guint i = 0; i < 20; i++)
    msb_db_pools_read_async (fx->pools, "SELECT count(*) FROM t", NULL, NULL, flight_read_cb, &f);
  test_wait_count (&f.done, 20, 60);
  g_assert_cmpuint (f.failures, ==, 0);
  g_assert_null (long_result);

  g_cancellable_cancel (cancellable);
  test_wait_result (&long_result, 60);
  rows = msb_db_pools_read_finish (fx->pools, long_result, &error);
  g_assert_null (rows);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
count_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  guint *done = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  g_assert_null (rows);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  (*done)++;
}

/* A backlog of long reads gets every connection, though each read arrives
 * while another runs: seen from a blocking read, which finds no idle
 * connection left and gives up after the connect timeout. */
static void
test_dispatch_backlog_spreads (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(MsbDbPools) pools = test_open (fx->path, 4, SLOW (100 * G_TIME_SPAN_MILLISECOND), 0);
  gint64 give_up = g_get_monotonic_time () + SLOW (30 * G_TIME_SPAN_SECOND);
  gboolean all_busy = FALSE;
  guint done = 0;

  for (guint i = 0; i < 4; i++)
    msb_db_pools_read_async (pools, LONG_READ_SQL, NULL, cancellable, count_result_cb, &done);

  while (!all_busy && g_get_monotonic_time () < give_up)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = msb_db_pools_read (pools, "SELECT 1", NULL, NULL, &error);

      if (rows == NULL)
        {
          assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
          all_busy = TRUE;
        }
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_true (all_busy);
  g_assert_cmpuint (done, ==, 0);

  g_cancellable_cancel (cancellable);
  test_wait_count (&done, 4, 60);
}

/* ---- a chain of calls driven by a GMainLoop ---------------------------- */

typedef struct {
  GMainLoop  *loop;
  char       *path;
  MsbDbPools *pools;
  GThread    *main_thread;
  guint       step;
  guint       wrong_thread;
  GError     *error;
} Chain;

static void chain_next (Chain *c);

static gboolean
chain_fail (Chain  *c,
            GError *error)
{
  if (error == NULL)
    return FALSE;
  c->error = error;
  g_main_loop_quit (c->loop);
  return TRUE;
}

static gboolean
chain_txn_func (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  g_autoptr(MsbDbRows) a = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('in txn')",
                                                      NULL, error);
  return a != NULL;
}

static gboolean
chain_snap_func (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  gint64 *count = user_data;
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "SELECT count(*) FROM t",
                                                         NULL, error);
  if (rows == NULL)
    return FALSE;
  *count = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

static gint64 chain_snapshot_count = -1;

static void
chain_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Chain *c = user_data;
  GError *error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  if (g_thread_self () != c->main_thread)
    c->wrong_thread++;

  switch (c->step)
    {
    case 0:
      c->pools = msb_db_pools_open_finish (result, &error);
      break;
    case 1:
    case 2:
      rows = msb_db_pools_write_finish (c->pools, result, &error);
      break;
    case 3:
      rows = msb_db_pools_read_finish (c->pools, result, &error);
      if (rows != NULL && msb_db_rows_get_int64 (rows, 0, 0) != 1)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "read saw a wrong count");
      break;
    case 4:
      msb_db_pools_transaction_finish (c->pools, result, &error);
      break;
    case 5:
      msb_db_pools_snapshot_finish (c->pools, result, &error);
      break;
    case 6:
      msb_db_pools_close_finish (c->pools, result, &error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (chain_fail (c, error))
    return;
  c->step++;
  chain_next (c);
}

static void
chain_next (Chain *c)
{
  switch (c->step)
    {
    case 0:
      msb_db_pools_open_async (c->path, 2, 0, 0, NULL, chain_cb, c);
      break;
    case 1:
      msb_db_pools_write_async (c->pools, "CREATE TABLE t(v TEXT)", NULL, NULL, chain_cb, c);
      break;
    case 2:
      msb_db_pools_write_async (c->pools, "INSERT INTO t(v) VALUES (?)",
                                g_variant_new ("(s)", "from the loop"), NULL, chain_cb, c);
      break;
    case 3:
      msb_db_pools_read_async (c->pools, "SELECT count(*) FROM t", NULL, NULL, chain_cb, c);
      break;
    case 4:
      msb_db_pools_transaction_async (c->pools, chain_txn_func, NULL, NULL, NULL, chain_cb, c);
      break;
    case 5:
      msb_db_pools_snapshot_async (c->pools, chain_snap_func, &chain_snapshot_count, NULL, NULL,
                                   chain_cb, c);
      break;
    case 6:
      msb_db_pools_close_async (c->pools, NULL, chain_cb, c);
      break;
    default:
      g_main_loop_quit (c->loop);
      break;
    }
}

static gboolean
chain_timeout (gpointer data)
{
  Chain *c = data;

  c->error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "chain stuck at step %u", c->step);
  g_main_loop_quit (c->loop);
  return G_SOURCE_REMOVE;
}

static void
test_main_loop_chain (Fixture       *fx,
                      gconstpointer  data)
{
  Chain c = { 0 };
  guint timeout_id;

  c.loop = g_main_loop_new (NULL, FALSE);
  c.path = g_build_filename (fx->dir, "chain.db", NULL);
  c.main_thread = g_thread_self ();
  chain_next (&c);
  timeout_id = g_timeout_add_seconds (30, chain_timeout, &c);
  g_main_loop_run (c.loop);
  g_source_remove (timeout_id);

  g_assert_no_error (c.error);
  g_assert_cmpuint (c.step, ==, 7);
  g_assert_cmpuint (c.wrong_thread, ==, 0);
  g_assert_cmpint (chain_snapshot_count, ==, 2);
  g_assert_true (msb_db_pools_is_closed (c.pools));
  g_assert_false (test_wal_or_shm_exists (c.path));
  g_assert_cmpint (raw_int (c.path, "SELECT count(*) FROM t"), ==, 2);
  g_clear_object (&c.pools);
  g_main_loop_unref (c.loop);
  g_free (c.path);
}

/* ---- a blocking call from a notify ------------------------------------- */

/* The destroy notify of an async transaction or snapshot runs on the
 * thread that ran the body; a blocking call of the same pools made from it
 * would wait for that very thread (with one read connection, forever). It
 * fails at once, as from inside the body. */
typedef struct {
  MsbDbPools *pools;
  gboolean snapshot;
  GError *error;
  gboolean returned;
  gint64 took;
} NotifyCall;

static gboolean
empty_body (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  return TRUE;
}

static void
notify_makes_blocking_call (gpointer data)
{
  NotifyCall *c = data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MsbDbRows) rows = NULL;

  if (c->snapshot)
    c->returned = msb_db_pools_snapshot (c->pools, empty_body, NULL, NULL, &c->error);
  else
    c->returned = (rows = msb_db_pools_write (c->pools, "INSERT INTO t(v) VALUES ('notify')",
                                              NULL, NULL, &c->error)) != NULL;
  c->took = g_get_monotonic_time () - start;
}

static void
test_notify_blocking_call (Fixture       *fx,
                           gconstpointer  data)
{
  gboolean snapshot = GPOINTER_TO_INT (data);
  g_autoptr(MsbDbPools) pools = test_open (fx->path, 1, 0, 0);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NotifyCall call = { pools, snapshot, NULL, FALSE, 0 };

  if (snapshot)
    msb_db_pools_snapshot_async (pools, empty_body, &call, notify_makes_blocking_call, NULL,
                                 test_async_result_cb, &result);
  else
    msb_db_pools_transaction_async (pools, empty_body, &call, notify_makes_blocking_call, NULL,
                                    test_async_result_cb, &result);
  test_wait_result (&result, 60);
  if (snapshot)
    g_assert_true (msb_db_pools_snapshot_finish (pools, result, &error));
  else
    g_assert_true (msb_db_pools_transaction_finish (pools, result, &error));
  g_assert_no_error (error);

  g_assert_false (call.returned);
  assert_msb_error (call.error, MSB_DB_ERROR_FAILED);
  assert_message_contains (call.error, "callback");
  /* At once, not after the connect timeout (30 s by default). */
  g_assert_cmpint (call.took, <, 10 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM t WHERE v = 'notify'"), ==, 0);
  g_clear_error (&call.error);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

/* ---- a blocking write keeps its place in the queue ---------------------- */

static gboolean
insert_seq_body (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection,
                                                         "INSERT INTO t(v) VALUES (NULL)",
                                                         NULL, error);

  return rows != NULL;
}

static void
count_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  guint *done = user_data;

  (*done)++;
}

/* A blocking write made after async writes and transactions of the same
 * thread runs after them, whether the writer thread or the caller itself
 * runs it: its row id is greater than all of theirs. */
static void
test_blocking_write_keeps_order (Fixture       *fx,
                                 gconstpointer  data)
{
  gint64 total = 0;

  for (guint round = 0; round < 50; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      guint done = 0;
      gint64 max_before;

      /* One queued job, the case where the writer thread may be waiting
       * for it, or several. */
      guint n = round % 2 == 0 ? 1 : 5;

      for (guint i = 0; i < n; i++)
        {
          msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES (NULL)", NULL, NULL,
                                    count_done, &done);
          msb_db_pools_transaction_async (fx->pools, insert_seq_body, NULL, NULL, NULL,
                                          count_done, &done);
        }
      rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES (NULL) RETURNING id",
                                 NULL, NULL, &error);
      g_assert_no_error (error);
      max_before = raw_int (fx->path, "SELECT max(id) FROM t WHERE id < (SELECT max(id) FROM t)");
      g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), >, max_before);
      /* Everything queued before it is already committed. */
      total += 2 * n + 1;
      g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, total);
      test_wait_count (&done, 2 * n, 30);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/async/" name, Fixture, data, setup_table, func, fixture_teardown)

  g_test_add ("/async/open", Fixture, NULL, fixture_setup, test_open_async, fixture_teardown);
  g_test_add ("/async/async-initable", Fixture, NULL, fixture_setup, test_async_initable,
              fixture_teardown);
  ADD ("callback-context", test_callback_context, NULL);
  g_test_add ("/async/main-loop-chain", Fixture, NULL, fixture_setup, test_main_loop_chain,
              fixture_teardown);
  ADD ("notify/transaction", test_notify, GINT_TO_POINTER (FALSE));
  ADD ("notify/snapshot", test_notify, GINT_TO_POINTER (TRUE));
  ADD ("notify/closed", test_notify_closed, NULL);
  ADD ("notify/blocking-call/transaction", test_notify_blocking_call, GINT_TO_POINTER (FALSE));
  ADD ("notify/blocking-call/snapshot", test_notify_blocking_call, GINT_TO_POINTER (TRUE));
  ADD ("results-and-errors", test_results_and_errors, NULL);
  ADD ("batch-isolates-failures", test_batch_isolates_failures, NULL);
  ADD ("many-in-flight", test_many_in_flight, NULL);
  ADD ("blocking-write-keeps-order", test_blocking_write_keeps_order, NULL);
  ADD ("dispatch/past-a-long-read", test_dispatch_past_long_read, NULL);
  ADD ("dispatch/backlog-spreads", test_dispatch_backlog_spreads, NULL);

  return g_test_run ();
}
