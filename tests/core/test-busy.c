/* test-busy.c: another connection holds the write lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

#define BUSY_TIMEOUT (20 * G_TIME_SPAN_MILLISECOND)

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, BUSY_TIMEOUT);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
}

static gint64
count_v (Fixture    *fx,
         const char *v)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM t WHERE v = '%s'", v);
  return raw_int (fx->path, sql);
}

static void
test_write_waits (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  LockHolder *holder;
  gint64 done_at, released_at;

  holder = lock_holder_start (fx->path, 100 * G_TIME_SPAN_MILLISECOND,
                              "INSERT INTO t(v) VALUES ('holder')");
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('mine')", NULL, NULL, &error);
  done_at = g_get_monotonic_time ();
  released_at = lock_holder_join (holder);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_cmpint (done_at, >=, released_at);
  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->busy_retries, >, before->busy_retries);
  g_assert_cmpuint (after->retries_exhausted, ==, before->retries_exhausted);
  g_assert_cmpuint (after->writes, ==, before->writes + 1);
  g_assert_cmpint (count_v (fx, "mine"), ==, 1);
  g_assert_cmpint (count_v (fx, "holder"), ==, 1);
}

static void
check_exhausted (Fixture    *fx,
                 GError     *error,
                 gint64      elapsed,
                 MsbDbStats *before)
{
  g_autoptr(MsbDbStats) after = msb_db_pools_get_stats (fx->pools);

  g_test_message ("exhausted after %" G_GINT64_FORMAT " ms: %s; busy_retries +%" G_GUINT64_FORMAT,
                  elapsed / 1000, error ? error->message : "(success)",
                  after->busy_retries - before->busy_retries);
  assert_msb_error (error, MSB_DB_ERROR_BUSY);
  assert_message_contains (error, "SQLITE_BUSY");
  /* 8 attempts with a 10 ms backoff doubling to 500 ms: well over 0.5 s,
   * and nowhere near the 30 s connect timeout. */
  g_assert_cmpint (elapsed, >=, 500 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, SLOW (10 * G_TIME_SPAN_SECOND));
  g_assert_cmpuint (after->retries_exhausted, ==, before->retries_exhausted + 1);
  g_assert_cmpuint (after->busy_retries, >=, before->busy_retries + 7);
  /* Never confused with a pool timeout. */
  g_assert_cmpuint (after->pool_timeouts, ==, before->pool_timeouts);
}

static void
test_write_exhausted (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  LockHolder *holder;
  gint64 t0, elapsed;

  holder = lock_holder_start (fx->path, -1, "INSERT INTO t(v) VALUES ('holder')");
  t0 = g_get_monotonic_time ();
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('mine')", NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  lock_holder_join (holder);

  g_assert_null (rows);
  check_exhausted (fx, error, elapsed, before);
  /* It changed nothing; the holder's commit is intact. */
  g_assert_cmpint (count_v (fx, "mine"), ==, 0);
  g_assert_cmpint (count_v (fx, "holder"), ==, 1);

  /* The writer recovers once the lock is gone. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('later')", NULL);
  g_assert_cmpint (count_v (fx, "later"), ==, 1);
}

static gboolean
txn_cb (MsbDbConnection  *connection,
        gpointer          user_data,
        GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('txn')", NULL, error);
  return rows != NULL;
}

static void
test_transaction_exhausted (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  LockHolder *holder;
  gint64 t0, elapsed;
  gboolean ok;

  holder = lock_holder_start (fx->path, -1, NULL);
  t0 = g_get_monotonic_time ();
  ok = msb_db_pools_transaction (fx->pools, txn_cb, NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  lock_holder_join (holder);

  g_assert_false (ok);
  check_exhausted (fx, error, elapsed, before);
  g_assert_cmpint (count_v (fx, "txn"), ==, 0);
  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->transactions, ==, before->transactions);
}

static void
test_async_exhausted (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  LockHolder *holder;
  gint64 t0, elapsed;

  holder = lock_holder_start (fx->path, -1, NULL);
  t0 = g_get_monotonic_time ();
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('async')", NULL, NULL,
                            test_async_result_cb, &result);
  test_wait_result (&result, 60);
  elapsed = g_get_monotonic_time () - t0;
  rows = msb_db_pools_write_finish (fx->pools, result, &error);
  lock_holder_join (holder);

  g_assert_null (rows);
  check_exhausted (fx, error, elapsed, before);
  g_assert_cmpint (count_v (fx, "async"), ==, 0);
}

/* Readers are not blocked by a writer elsewhere, and see only commits. */
static gboolean
snapshot_count_cb (MsbDbConnection  *connection,
                   gpointer          user_data,
                   GError          **error)
{
  gint64 *out = user_data;
  g_autoptr(MsbDbRows) rows =
    msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);

  if (rows == NULL)
    return FALSE;
  *out = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

static void
test_readers_not_blocked (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  LockHolder *holder;
  gint64 t0, count = -1;

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('committed')", NULL);
  holder = lock_holder_start (fx->path, -1, "INSERT INTO t(v) VALUES ('uncommitted')");

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < 20; i++)
    g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 1);
  g_assert_true (msb_db_pools_snapshot (fx->pools, snapshot_count_cb, &count, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, SLOW (1 * G_TIME_SPAN_SECOND));

  lock_holder_join (holder);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 2);
  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->busy_retries, ==, before->busy_retries);
}

/* Writes queued behind a busy one all go through, in order, once the lock
 * is released before the retry budget runs out. */
typedef struct {
  guint ok;
  guint failed;
  guint done;
} QueueData;

static void
queued_write_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  QueueData *d = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);
  if (rows != NULL)
    d->ok++;
  else
    {
      g_test_message ("queued write failed: %s", error->message);
      d->failed++;
    }
  d->done++;
}

static void
test_queue_behind_busy (Fixture       *fx,
                        gconstpointer  data)
{
  LockHolder *holder;
  QueueData d = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  test_write_ok (fx->pools, "CREATE TABLE q(n INTEGER)", NULL);
  holder = lock_holder_start (fx->path, 300 * G_TIME_SPAN_MILLISECOND, NULL);
  for (guint i = 0; i < 50; i++)
    msb_db_pools_write_async (fx->pools, "INSERT INTO q(n) VALUES (?)",
                              g_variant_new ("(u)", i + 1), NULL, queued_write_cb, &d);
  test_wait_count (&d.done, 50, 60);
  lock_holder_join (holder);

  g_assert_cmpuint (d.failed, ==, 0);
  g_assert_cmpuint (d.ok, ==, 50);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM q"), ==, 50);
  /* Queue order is execution order (rowids are handed out in order). */
  rows = msb_db_pools_read (fx->pools, "SELECT n FROM q ORDER BY rowid",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 50; i++)
    g_assert_cmpint (msb_db_rows_get_int64 (rows, i, 0), ==, i + 1);
}

/* ---- retries are logged, quietly --------------------------------------- */

static GMutex log_mutex;
static GPtrArray *log_records;   /* "LEVEL message" of the MsbDb domain */

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const char *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  if (g_strcmp0 (domain, "MsbDb") == 0 &&
      (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) != 0)
    {
      g_mutex_lock (&log_mutex);
      if (log_records != NULL)
        g_ptr_array_add (log_records,
                         g_strdup_printf ("%s %s",
                                          (level & G_LOG_LEVEL_DEBUG) ? "DEBUG" : "INFO",
                                          message ? message : ""));
      g_mutex_unlock (&log_mutex);
      return G_LOG_WRITER_HANDLED;
    }
  if (g_strcmp0 (domain, "MsbDb") == 0)
    {
      g_mutex_lock (&log_mutex);
      if (log_records != NULL)
        g_ptr_array_add (log_records, g_strdup_printf ("LOUD %s", message ? message : ""));
      g_mutex_unlock (&log_mutex);
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
test_retries_logged (Fixture       *fx,
                     gconstpointer  data)
{
  LockHolder *holder;
  guint quiet = 0, loud = 0;

  g_mutex_lock (&log_mutex);
  log_records = g_ptr_array_new_with_free_func (g_free);
  g_mutex_unlock (&log_mutex);
  g_log_set_debug_enabled (TRUE);

  holder = lock_holder_start (fx->path, 100 * G_TIME_SPAN_MILLISECOND, NULL);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('logged')", NULL);
  lock_holder_join (holder);

  g_log_set_debug_enabled (FALSE);
  g_mutex_lock (&log_mutex);
  for (guint i = 0; i < log_records->len; i++)
    {
      const char *r = g_ptr_array_index (log_records, i);

      g_test_message ("captured: %s", r);
      if (g_str_has_prefix (r, "LOUD "))
        loud++;
      else
        quiet++;
    }
  g_clear_pointer (&log_records, g_ptr_array_unref);
  g_mutex_unlock (&log_mutex);

  /* The retry was logged under the MsbDb domain, at debug/info level only. */
  g_assert_cmpuint (quiet, >=, 1);
  g_assert_cmpuint (loud, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);

#define ADD(name, func) \
  g_test_add ("/busy/" name, Fixture, NULL, setup_table, func, fixture_teardown)

  ADD ("write-waits-then-succeeds", test_write_waits);
  ADD ("write-exhausted", test_write_exhausted);
  ADD ("transaction-exhausted", test_transaction_exhausted);
  ADD ("async-exhausted", test_async_exhausted);
  ADD ("readers-not-blocked", test_readers_not_blocked);
  ADD ("queue-behind-busy", test_queue_behind_busy);
  ADD ("retries-logged-quietly", test_retries_logged);

  return g_test_run ();
}
