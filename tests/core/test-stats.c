/* test-stats.c: counters move as expected; the WAL stays bounded
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>
#include <glib/gstdio.h>

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, 0);
}

static gboolean
txn_cb (MsbDbConnection  *connection,
        gpointer          user_data,
        GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('t')",
                                                         NULL, error);
  return rows != NULL;
}

static gboolean
snap_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "SELECT count(*) FROM t",
                                                         NULL, error);
  return rows != NULL;
}

static gboolean
failing_cb (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no");
  return FALSE;
}

static void
test_fresh (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(MsbDbStats) s = msb_db_pools_get_stats (fx->pools);

  g_assert_nonnull (s);
  g_assert_cmpuint (s->reads, ==, 0);
  g_assert_cmpuint (s->writes, ==, 0);
  g_assert_cmpuint (s->transactions, ==, 0);
  g_assert_cmpuint (s->snapshots, ==, 0);
  g_assert_cmpuint (s->busy_retries, ==, 0);
  g_assert_cmpuint (s->retries_exhausted, ==, 0);
  g_assert_cmpuint (s->pool_timeouts, ==, 0);
}

static void
test_counts (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(MsbDbStats) s0 = NULL;
  g_autoptr(MsbDbStats) s1 = NULL;
  g_autoptr(MsbDbStats) s2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)", NULL);
  s0 = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (s0->writes, ==, 1);
  g_assert_cmpuint (s0->write_batches, >=, 1);

  /* Successes: 3 reads (+1 async), 2 writes (+1 async), 1 transaction, 1 snapshot. */
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (test_read_int (fx->pools, "SELECT 1"), ==, 1);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('a')", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('b')", NULL);
  g_assert_true (msb_db_pools_transaction (fx->pools, txn_cb, NULL, NULL, &error));
  g_assert_true (msb_db_pools_snapshot (fx->pools, snap_cb, NULL, NULL, &error));
  g_assert_no_error (error);
  msb_db_pools_read_async (fx->pools, "SELECT 2", NULL, NULL, test_async_result_cb, &r1);
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('c')", NULL, NULL,
                            test_async_result_cb, &r2);
  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  rows = msb_db_pools_read_finish (fx->pools, r1, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);
  rows = msb_db_pools_write_finish (fx->pools, r2, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);

  s1 = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (s1->reads - s0->reads, ==, 4);
  g_assert_cmpuint (s1->writes - s0->writes, ==, 3);
  g_assert_cmpuint (s1->transactions - s0->transactions, ==, 1);
  g_assert_cmpuint (s1->snapshots - s0->snapshots, ==, 1);
  g_assert_cmpuint (s1->write_batches - s0->write_batches, >=, 1);
  /* Each batch commits at least one job. */
  g_assert_cmpuint (s1->write_batches - s0->write_batches, <=, 4);
  g_assert_cmpuint (s1->busy_retries, ==, 0);
  g_assert_cmpuint (s1->pool_timeouts, ==, 0);

  /* Failures count nowhere. */
  rows = msb_db_pools_read (fx->pools, "SELEC", NULL, NULL, &error);
  g_assert_null (rows);
  g_clear_error (&error);
  rows = msb_db_pools_read (fx->pools, "DELETE FROM t", NULL, NULL, &error);
  g_assert_null (rows);
  g_clear_error (&error);
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('a')", NULL, NULL, &error);
  g_assert_null (rows);
  g_clear_error (&error);
  rows = msb_db_pools_write (fx->pools, "BEGIN", NULL, NULL, &error);
  g_assert_null (rows);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_transaction (fx->pools, failing_cb, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot (fx->pools, failing_cb, NULL, NULL, &error));
  g_clear_error (&error);

  s2 = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (s2->reads, ==, s1->reads);
  g_assert_cmpuint (s2->writes, ==, s1->writes);
  g_assert_cmpuint (s2->transactions, ==, s1->transactions);
  g_assert_cmpuint (s2->snapshots, ==, s1->snapshots);
  g_assert_cmpuint (s2->retries_exhausted, ==, 0);

  /* A copy is a copy: it does not move afterwards. */
  g_assert_cmpuint (s0->reads, ==, 0);
  g_assert_cmpuint (s0->writes, ==, 1);
}

static void
test_boxed (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(MsbDbStats) s = NULL;
  g_autoptr(MsbDbStats) copy = NULL;
  MsbDbStats *boxed;

  test_write_ok (fx->pools, "CREATE TABLE t(v)", NULL);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 3"), ==, 3);
  s = msb_db_pools_get_stats (fx->pools);
  copy = msb_db_stats_copy (s);
  g_assert_true (copy != s);
  g_assert_cmpmem (copy, sizeof *copy, s, sizeof *s);

  g_assert_true (G_TYPE_IS_BOXED (MSB_DB_TYPE_STATS));
  boxed = g_boxed_copy (MSB_DB_TYPE_STATS, s);
  g_assert_cmpuint (boxed->reads, ==, 1);
  g_assert_cmpuint (boxed->writes, ==, 1);
  g_boxed_free (MSB_DB_TYPE_STATS, boxed);
}

/* Counters only grow, even read while other threads work. */
typedef struct {
  MsbDbPools *pools;
  gboolean    stop;
  guint       regressions;
  gint        samples;    /* atomic */
} Watcher;

static gpointer
watcher_thread (gpointer data)
{
  Watcher *w = data;
  g_autoptr(MsbDbStats) last = msb_db_pools_get_stats (w->pools);

  while (!g_atomic_int_get (&w->stop))
    {
      g_autoptr(MsbDbStats) now = msb_db_pools_get_stats (w->pools);

      if (now->reads < last->reads || now->writes < last->writes ||
          now->write_batches < last->write_batches || now->transactions < last->transactions)
        w->regressions++;
      g_clear_pointer (&last, msb_db_stats_free);
      last = g_steal_pointer (&now);
      g_atomic_int_inc (&w->samples);
      g_usleep (100);
    }
  return NULL;
}

static void
test_monotonic (Fixture       *fx,
                gconstpointer  data)
{
  Watcher w = { fx->pools, FALSE, 0, 0 };
  GThread *thread;
  g_autoptr(MsbDbStats) s = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t(v)", NULL);
  thread = g_thread_new ("watcher", watcher_thread, &w);
  for (guint i = 0; i < 300; i++)
    {
      test_write_ok (fx->pools, "INSERT INTO t VALUES (1)", NULL);
      g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, i + 1);
    }
  /* The writes may all be over before the watcher first looked. */
  while (g_atomic_int_get (&w.samples) < 2)
    g_usleep (1000);
  g_atomic_int_set (&w.stop, TRUE);
  g_thread_join (thread);
  g_assert_cmpuint (w.regressions, ==, 0);
  s = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (s->writes, ==, 301);
  g_assert_cmpuint (s->reads, ==, 300);
}

/* ---- WAL stays bounded ------------------------------------------------- */

#define N_WAL_WRITES 2500
#define PAYLOAD 3000
#define WAL_BOUND (8 * 1024 * 1024)

typedef struct {
  MsbDbPools *pools;
  gint        stop;
  guint       reads;
  guint       failures;
} ReaderLoop;

static gpointer
reader_loop (gpointer data)
{
  ReaderLoop *r = data;

  while (!g_atomic_int_get (&r->stop))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows =
        msb_db_pools_read (r->pools, "SELECT count(*), sum(length(b)) FROM t", NULL, NULL, &error);

      if (rows == NULL)
        {
          g_printerr ("reader: %s\n", error->message);
          r->failures++;
        }
      r->reads++;
    }
  return NULL;
}

static goffset
file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return 0;
  return st.st_size;
}

static void
test_wal_bounded (Fixture       *fx,
                  gconstpointer  data)
{
  gboolean with_readers = GPOINTER_TO_INT (data);
  g_autofree char *wal = g_strconcat (fx->path, "-wal", NULL);
  g_autofree guint8 *payload = g_malloc (PAYLOAD);
  ReaderLoop readers[2];
  GThread *threads[2] = { NULL, NULL };
  g_autoptr(MsbDbStats) s = NULL;
  goffset max_wal = 0;

  memset (payload, 0xab, PAYLOAD);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", NULL);
  if (with_readers)
    for (guint i = 0; i < 2; i++)
      {
        readers[i] = (ReaderLoop) { fx->pools, 0, 0, 0 };
        threads[i] = g_thread_new ("reader-loop", reader_loop, &readers[i]);
      }

  for (guint i = 0; i < N_WAL_WRITES; i++)
    {
      payload[0] = (guint8) i;
      test_write_ok (fx->pools, "INSERT INTO t(b) VALUES (?)",
                     g_variant_new ("(@ay)",
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                               payload, PAYLOAD, 1)));
      if (i % 100 == 0)
        max_wal = MAX (max_wal, file_size (wal));
    }
  max_wal = MAX (max_wal, file_size (wal));

  if (with_readers)
    for (guint i = 0; i < 2; i++)
      {
        g_atomic_int_set (&readers[i].stop, TRUE);
        g_thread_join (threads[i]);
        g_test_message ("reader %u: %u reads", i, readers[i].reads);
        g_assert_cmpuint (readers[i].failures, ==, 0);
        g_assert_cmpuint (readers[i].reads, >, 0);
      }

  s = msb_db_pools_get_stats (fx->pools);
  g_test_message ("wal max %" G_GOFFSET_FORMAT " bytes, checkpoints %" G_GUINT64_FORMAT
                  ", stats wal_bytes %" G_GUINT64_FORMAT,
                  max_wal, s->checkpoints, s->wal_bytes);
  /* About 10 MB went through the WAL. */
  g_assert_cmpint (max_wal, <, WAL_BOUND);
  g_assert_cmpuint (s->checkpoints, >=, 1);
  g_assert_cmpuint (s->wal_bytes, <, WAL_BOUND);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, N_WAL_WRITES);
}

/* ---- the statement cache is bounded ------------------------------------ */

/* Thousands of distinct SQL texts must not keep thousands of prepared
 * statements alive. The library and this test share one libsqlite3, so
 * sqlite3_memory_used() sees the library's connections. */
static void
test_statement_cache_bounded (Fixture       *fx,
                              gconstpointer  data)
{
  sqlite3_int64 before, after;
  const guint n = 6000;

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  /* Warm every connection up. */
  for (guint i = 0; i < 50; i++)
    g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 0);
  before = sqlite3_memory_used ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *rsql = g_strdup_printf ("SELECT %u + count(*), '%u' FROM t WHERE id > %u", i, i, i);
      g_autofree char *wsql = g_strdup_printf ("UPDATE t SET v = '%u' WHERE id = %u", i, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) r = msb_db_pools_read (fx->pools, rsql, NULL, NULL, &error);
      g_autoptr(MsbDbRows) w = NULL;

      g_assert_no_error (error);
      g_assert_cmpint (msb_db_rows_get_int64 (r, 0, 0), ==, i);
      if (i % 2 == 0)
        {
          w = msb_db_pools_write (fx->pools, wsql, NULL, NULL, &error);
          g_assert_no_error (error);
        }
    }
  after = sqlite3_memory_used ();
  g_test_message ("sqlite3_memory_used: %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
                  " bytes after %u distinct reads and %u distinct writes",
                  (gint64) before, (gint64) after, n, n / 2);
  g_assert_cmpint (after - before, <, 4 * 1024 * 1024);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/stats/" name, Fixture, data, setup_table, func, fixture_teardown)

  ADD ("fresh", test_fresh, NULL);
  ADD ("counts", test_counts, NULL);
  ADD ("boxed", test_boxed, NULL);
  ADD ("monotonic", test_monotonic, NULL);
  ADD ("statement-cache-bounded", test_statement_cache_bounded, NULL);
  ADD ("wal-bounded", test_wal_bounded, GINT_TO_POINTER (FALSE));
  ADD ("wal-bounded-with-readers", test_wal_bounded, GINT_TO_POINTER (TRUE));

  return g_test_run ();
}
