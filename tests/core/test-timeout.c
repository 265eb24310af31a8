/* test-timeout.c: connect-timeout on the read pool and on the writer queue
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <stdlib.h>
#include <string.h>

/* Short enough to keep the suite quick, long enough that an idle writer
 * or a free connection is always reached in time on a loaded machine. */
#define SHORT (200 * G_TIME_SPAN_MILLISECOND)

static void
setup_one_reader (Fixture       *fx,
                  gconstpointer  data)
{
  MsbDbPools *setup;

  fixture_setup (fx, data);
  setup = test_open (fx->path, 0, 0, 0);
  test_write_ok (setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  g_assert_true (msb_db_pools_close (setup, NULL, NULL));
  g_object_unref (setup);
  fx->pools = test_open (fx->path, 1, SHORT, 0);
}

static gboolean
flag_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  gint *ran = user_data;

  g_atomic_int_inc (ran);
  return TRUE;
}

static void
test_read_pool_exhausted (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(MsbDbStats) before = NULL;
  g_autoptr(MsbDbStats) after = NULL;
  Blocker *blocker;
  gint64 t0, elapsed;
  gint ran = 0;

  g_assert_cmpuint (msb_db_pools_get_max_read_connections (fx->pools), ==, 1);
  g_assert_cmpint (msb_db_pools_get_connect_timeout (fx->pools), ==, SHORT);

  blocker = blocker_start (fx->pools, FALSE);
  before = msb_db_pools_get_stats (fx->pools);

  t0 = g_get_monotonic_time ();
  rows = msb_db_pools_read (fx->pools, "SELECT 1", NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  g_test_message ("read after %" G_GINT64_FORMAT " us: %s", elapsed,
                  error ? error->message : "(success)");
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  assert_message_contains (error, "read pool exhausted: 1 connections, 0 idle, ");
  assert_message_contains (error, " waiting");
  g_assert_cmpint (elapsed, >=, SHORT - 5 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, SLOW (2 * G_TIME_SPAN_SECOND));
  g_clear_error (&error);

  /* A snapshot waits for the same pool: its callback never runs. */
  g_assert_false (msb_db_pools_snapshot (fx->pools, flag_cb, &ran, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  g_clear_error (&error);

  /* And asynchronously. */
  msb_db_pools_read_async (fx->pools, "SELECT 1", NULL, NULL, test_async_result_cb, &result);
  test_wait_result (&result, 30);
  rows = msb_db_pools_read_finish (fx->pools, result, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  g_clear_error (&error);

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->pool_timeouts, ==, before->pool_timeouts + 3);
  g_assert_cmpuint (after->reads, ==, before->reads);
  g_assert_cmpuint (after->snapshots, ==, before->snapshots);
  g_assert_cmpuint (after->retries_exhausted, ==, before->retries_exhausted);

  blocker_finish (blocker);
  g_assert_cmpint (ran, ==, 0);

  /* The connection is back: reads work again. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 42"), ==, 42);
}

/* A read that gets its turn within the timeout just waits. */
typedef struct {
  MsbDbPools *pools;
  gboolean    ok;
  GError     *error;
  gint64      elapsed;
} WaiterData;

static gpointer
reader_thread (gpointer data)
{
  WaiterData *w = data;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(MsbDbRows) rows = msb_db_pools_read (w->pools, "SELECT 1", NULL, NULL, &w->error);

  w->elapsed = g_get_monotonic_time () - t0;
  w->ok = rows != NULL;
  return NULL;
}

static gpointer
writer_thread (gpointer data)
{
  WaiterData *w = data;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(MsbDbRows) rows = msb_db_pools_write (w->pools, "INSERT INTO t(v) VALUES ('waited')",
                                                  NULL, NULL, &w->error);

  w->elapsed = g_get_monotonic_time () - t0;
  w->ok = rows != NULL;
  return NULL;
}

static void
test_waits_its_turn (Fixture       *fx,
                     gconstpointer  data)
{
  gboolean writer = GPOINTER_TO_INT (data);
  Blocker *blocker;
  WaiterData w = { 0 };
  GThread *thread;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  fx->pools = test_open (fx->path, 1, 10 * G_TIME_SPAN_SECOND, 0);
  w.pools = fx->pools;

  blocker = blocker_start (fx->pools, writer);
  thread = g_thread_new ("waiter", writer ? writer_thread : reader_thread, &w);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  blocker_finish (blocker);
  g_thread_join (thread);

  g_assert_no_error (w.error);
  g_assert_true (w.ok);
  g_assert_cmpint (w.elapsed, >=, 150 * G_TIME_SPAN_MILLISECOND);
  if (writer)
    g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'waited'"), ==, 1);
}

/* Several waiters at once: each fails with the pool's occupancy. */
static void
test_occupancy_message (Fixture       *fx,
                        gconstpointer  data)
{
  Blocker *b1, *b2;
  WaiterData w[3] = { { 0 } };
  GThread *threads[3];
  guint64 max_waiting = 0;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  fx->pools = test_open (fx->path, 2, 300 * G_TIME_SPAN_MILLISECOND, 0);

  b1 = blocker_start (fx->pools, FALSE);
  b2 = blocker_start (fx->pools, FALSE);
  for (guint i = 0; i < 3; i++)
    {
      w[i].pools = fx->pools;
      threads[i] = g_thread_new ("waiter", reader_thread, &w[i]);
    }
  for (guint i = 0; i < 3; i++)
    g_thread_join (threads[i]);
  blocker_finish (b1);
  blocker_finish (b2);

  for (guint i = 0; i < 3; i++)
    {
      const char *p;

      g_test_message ("waiter %u: %s", i, w[i].error ? w[i].error->message : "(success)");
      g_assert_false (w[i].ok);
      assert_msb_error (w[i].error, MSB_DB_ERROR_POOL_TIMEOUT);
      assert_message_contains (w[i].error, "read pool exhausted: 2 connections, 0 idle, ");
      p = strstr (w[i].error->message, "0 idle, ");
      g_assert_nonnull (p);
      max_waiting = MAX (max_waiting, g_ascii_strtoull (p + strlen ("0 idle, "), NULL, 10));
      g_clear_error (&w[i].error);
    }
  /* Three callers were waiting together: someone saw at least two. */
  g_assert_cmpuint (max_waiting, >=, 2);
}

static void
test_writer_queue (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbStats) before = NULL;
  g_autoptr(MsbDbStats) after = NULL;
  Blocker *blocker;
  gint64 t0, elapsed;
  gint ran = 0;
  g_autofree char *lower = NULL;

  blocker = blocker_start (fx->pools, TRUE);
  before = msb_db_pools_get_stats (fx->pools);

  t0 = g_get_monotonic_time ();
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('timed out')", NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  g_test_message ("write after %" G_GINT64_FORMAT " us: %s", elapsed,
                  error ? error->message : "(success)");
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  lower = g_ascii_strdown (error->message, -1);
  if (strstr (lower, "writer") == NULL)
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,
                         "write pool timeout message does not name the writer");
  g_assert_cmpint (elapsed, >=, SHORT - 5 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, SLOW (2 * G_TIME_SPAN_SECOND));
  g_clear_error (&error);

  g_assert_false (msb_db_pools_transaction (fx->pools, flag_cb, &ran, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  g_clear_error (&error);

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->pool_timeouts, ==, before->pool_timeouts + 2);
  g_assert_cmpuint (after->writes, ==, before->writes);
  g_assert_cmpuint (after->retries_exhausted, ==, before->retries_exhausted);

  /* Reads are not affected by a busy writer. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 0);

  blocker_finish (blocker);

  /* The writer is free; this write is queued after the timed-out ones, so
   * once it is done they would have run if they were going to. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('after')", NULL);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'timed out'"), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'after'"), ==, 1);
  g_assert_cmpint (ran, ==, 0);
}

/* Many async calls queued at different times behind a busy connection or
 * writer: each gives up at its own deadline, in order, and calls queued
 * later still run once the way is free. */
#define N_EARLY 6
#define N_LATE 6

typedef struct {
  gboolean writer;
  gint64   queued_at;
  gint64   done_at;
  gboolean done;
  gboolean ok;
  GError  *error;
} AsyncCall;

static void
async_call_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  AsyncCall *call = data;
  g_autoptr(MsbDbRows) rows = NULL;

  if (call->writer)
    rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &call->error);
  else
    rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &call->error);
  call->ok = rows != NULL;
  call->done_at = g_get_monotonic_time ();
  call->done = TRUE;
}

static void
start_call (MsbDbPools *pools,
            AsyncCall  *call,
            gboolean    writer)
{
  call->writer = writer;
  call->queued_at = g_get_monotonic_time ();
  if (writer)
    msb_db_pools_write_async (pools, "INSERT INTO t(v) VALUES ('queued')", NULL, NULL,
                              async_call_cb, call);
  else
    msb_db_pools_read_async (pools, "SELECT 1", NULL, NULL, async_call_cb, call);
}

static void
wait_calls (AsyncCall *calls,
            guint      n)
{
  gint64 give_up = g_get_monotonic_time () + SLOW (10 * G_TIME_SPAN_SECOND);

  for (guint i = 0; i < n; i++)
    while (!calls[i].done)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, give_up);
        g_main_context_iteration (NULL, TRUE);
      }
}

static void
test_async_deadlines (Fixture       *fx,
                      gconstpointer  data)
{
  gboolean writer = GPOINTER_TO_INT (data);
  AsyncCall early[N_EARLY] = { 0 };
  AsyncCall late[N_LATE] = { 0 };
  Blocker *blocker = blocker_start (fx->pools, writer);

  for (guint i = 0; i < N_EARLY; i++)
    {
      start_call (fx->pools, &early[i], writer);
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  wait_calls (early, N_EARLY);

  for (guint i = 0; i < N_EARLY; i++)
    {
      gint64 waited = early[i].done_at - early[i].queued_at;

      g_test_message ("early call %u gave up after %" G_GINT64_FORMAT " us", i, waited);
      g_assert_false (early[i].ok);
      assert_msb_error (early[i].error, MSB_DB_ERROR_POOL_TIMEOUT);
      g_assert_cmpint (waited, >=, SHORT - 5 * G_TIME_SPAN_MILLISECOND);
      g_assert_cmpint (waited, <, SLOW (2 * G_TIME_SPAN_SECOND));
      if (i > 0)
        g_assert_cmpint (early[i].done_at, >=, early[i - 1].done_at);
      g_clear_error (&early[i].error);
    }

  for (guint i = 0; i < N_LATE; i++)
    start_call (fx->pools, &late[i], writer);
  blocker_finish (blocker);
  wait_calls (late, N_LATE);
  for (guint i = 0; i < N_LATE; i++)
    {
      g_assert_no_error (late[i].error);
      g_assert_true (late[i].ok);
    }

  if (writer)
    {
      g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, N_LATE);
      g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, N_LATE);
    }
}

static void
test_defaults (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = test_open (fx->path, 0, 0, 0);

  g_assert_cmpuint (msb_db_pools_get_max_read_connections (pools), ==,
                    MSB_DB_DEFAULT_MAX_READ_CONNECTIONS);
  g_assert_cmpint (msb_db_pools_get_connect_timeout (pools), ==,
                   MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND);
  g_assert_cmpint (msb_db_pools_get_busy_timeout (pools), ==,
                   MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/timeout/" name, Fixture, data, setup_one_reader, func, fixture_teardown)

  ADD ("read-pool-exhausted", test_read_pool_exhausted, NULL);
  ADD ("read-waits-its-turn", test_waits_its_turn, GINT_TO_POINTER (FALSE));
  ADD ("occupancy-message", test_occupancy_message, NULL);
  ADD ("writer-queue", test_writer_queue, NULL);
  ADD ("write-waits-its-turn", test_waits_its_turn, GINT_TO_POINTER (TRUE));
  ADD ("async-read-deadlines", test_async_deadlines, GINT_TO_POINTER (FALSE));
  ADD ("async-write-deadlines", test_async_deadlines, GINT_TO_POINTER (TRUE));
  g_test_add ("/timeout/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);

  return g_test_run ();
}
