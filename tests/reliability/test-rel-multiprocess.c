/* test-rel-multiprocess.c: many processes, each with its own MsbDbPools, on one file
 *
 * - N worker processes (this executable, `--child worker`) write single
 *   statements, bursts of async writes (group commit) and multi-statement
 *   transactions that all bump one shared counter row, while they read
 *   (read-your-writes, snapshots, a reader thread checking that the
 *   committed count never goes back). No error may reach a caller; every
 *   row must be there afterwards; integrity_check must pass. Busy retries
 *   are counted and reported.
 * - A process holding the write lock (raw sqlite3 BEGIN IMMEDIATE) longer
 *   than the retry budget: callers with a 20 ms busy_timeout get
 *   MSB_DB_ERROR_BUSY after 8 attempts (7 retries, backoff 10 ms doubling,
 *   capped at 500 ms), reads keep working, and writes succeed again once
 *   the lock is released.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA \
  "CREATE TABLE IF NOT EXISTS items (" \
  "  proc INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL," \
  "  payload BLOB, PRIMARY KEY (proc, seq));" \
  "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);" \
  "INSERT OR IGNORE INTO counters VALUES ('txns', 0);"

static void
wait_for_line (const char *expected)
{
  char buf[256];

  if (fgets (buf, sizeof buf, stdin) == NULL)
    _exit (97);
  g_strchomp (buf);
  if (strcmp (buf, expected) != 0)
    _exit (96);
}

/* Worker ------------------------------------------------------------------ */

typedef struct {
  MsbDbPools *pools;
  gint64 proc;
  gint64 first_seq;
  gint64 k;
  guint calls;
} TxnData;

/* Inserts K rows and bumps the shared counter. Safe to run again: the
 * library rolls back before it retries, and nothing here lives outside the
 * database except the call count. */
static gboolean
txn_body (MsbDbConnection  *connection,
          gpointer          user_data,
          GError          **error)
{
  TxnData *d = user_data;
  g_autoptr(MsbDbRows) before = NULL;
  g_autoptr(MsbDbRows) bump = NULL;

  d->calls++;
  before = msb_db_connection_execute (connection,
                                      "SELECT count(*) FROM items WHERE proc = ? AND seq >= ?",
                                      g_variant_new ("(xx)", d->proc, d->first_seq), error);
  if (before == NULL)
    return FALSE;
  if (msb_db_rows_get_int64 (before, 0, 0) != 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "transaction saw %" G_GINT64_FORMAT " rows of its own before inserting them",
                   msb_db_rows_get_int64 (before, 0, 0));
      return FALSE;
    }
  for (gint64 i = 0; i < d->k; i++)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_connection_execute (connection,
                                   "INSERT INTO items (proc, seq, kind, payload) VALUES (?, ?, 'txn', randomblob(64))",
                                   g_variant_new ("(xx)", d->proc, d->first_seq + i), error);
      if (rows == NULL)
        return FALSE;
    }
  bump = msb_db_connection_execute (connection,
                                    "UPDATE counters SET n = n + 1 WHERE name = 'txns'",
                                    NULL, error);
  return bump != NULL;
}

typedef struct {
  MsbDbPools *pools;
  gint stop;
  gint64 reads;
  char *failure;
} ReaderData;

/* Reads in a loop on the read pool: the number of committed rows only grows. */
static gpointer
reader_thread (gpointer data)
{
  ReaderData *r = data;
  gint64 last = 0;

  while (!g_atomic_int_get (&r->stop))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = msb_db_pools_read (r->pools, "SELECT count(*) FROM items",
                                                     NULL, NULL, &error);
      gint64 n;

      if (rows == NULL)
        {
          r->failure = g_strdup_printf ("reader thread: %s", error->message);
          return NULL;
        }
      n = msb_db_rows_get_int64 (rows, 0, 0);
      if (n < last)
        {
          r->failure = g_strdup_printf ("committed row count went back from %" G_GINT64_FORMAT
                                        " to %" G_GINT64_FORMAT, last, n);
          return NULL;
        }
      last = n;
      r->reads++;
      g_usleep (500);
    }
  return NULL;
}

typedef struct {
  guint pending;
  GError *error;
} Burst;

static void
on_burst_write (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Burst *burst = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL && burst->error == NULL)
    burst->error = g_steal_pointer (&error);
  burst->pending--;
}

static gboolean
snapshot_body (MsbDbConnection  *connection,
               gpointer          user_data,
               GError          **error)
{
  gint64 *expected = user_data;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;

  a = msb_db_connection_execute (connection, "SELECT count(*) FROM items WHERE proc = ?",
                                 g_variant_new ("(x)", expected[0]), error);
  if (a == NULL)
    return FALSE;
  g_usleep (1000);
  b = msb_db_connection_execute (connection, "SELECT count(*) FROM items WHERE proc = ?",
                                 g_variant_new ("(x)", expected[0]), error);
  if (b == NULL)
    return FALSE;
  if (msb_db_rows_get_int64 (a, 0, 0) != msb_db_rows_get_int64 (b, 0, 0) ||
      msb_db_rows_get_int64 (a, 0, 0) != expected[1])
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "snapshot saw %" G_GINT64_FORMAT " then %" G_GINT64_FORMAT
                   " rows, expected %" G_GINT64_FORMAT,
                   msb_db_rows_get_int64 (a, 0, 0), msb_db_rows_get_int64 (b, 0, 0), expected[1]);
      return FALSE;
    }
  return TRUE;
}

/* worker PATH PROC N_OPS K BUSY_TIMEOUT_MS */
static int
child_worker (int    argc,
              char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  const char *path;
  gint64 proc, n_ops, k, busy_ms;
  gint64 seq = 0;
  guint64 txn_calls = 0, txns = 0, bursts = 0;
  ReaderData reader = { 0 };
  GThread *thread;

  g_assert_cmpint (argc, ==, 5);
  path = argv[0];
  proc = g_ascii_strtoll (argv[1], NULL, 10);
  n_ops = g_ascii_strtoll (argv[2], NULL, 10);
  k = g_ascii_strtoll (argv[3], NULL, 10);
  busy_ms = g_ascii_strtoll (argv[4], NULL, 10);

  g_main_context_push_thread_default (context);
  pools = msb_db_pools_open (path, 2, 60 * G_TIME_SPAN_SECOND,
                             busy_ms * G_TIME_SPAN_MILLISECOND, NULL, &error);
  if (pools == NULL)
    rel_child_fail ("open", error);

  rel_say ("READY");
  wait_for_line ("GO");

  reader.pools = pools;
  thread = g_thread_new ("reader", reader_thread, &reader);

  for (gint64 op = 0; op < n_ops; op++)
    {
      if (op % 4 == 1)
        {
          TxnData d = { pools, proc, seq, k, 0 };

          if (!msb_db_pools_transaction (pools, txn_body, &d, NULL, &error))
            rel_child_fail ("transaction", error);
          txn_calls += d.calls;
          txns++;
          seq += k;
        }
      else if (op % 4 == 3)
        {
          /* A burst of async writes: they queue up and commit in groups. */
          Burst burst = { 0 };

          for (int i = 0; i < 16; i++)
            {
              burst.pending++;
              msb_db_pools_write_async (pools,
                                        "INSERT INTO items (proc, seq, kind) VALUES (?, ?, 'async')",
                                        g_variant_new ("(xx)", proc, seq++), NULL,
                                        on_burst_write, &burst);
            }
          while (burst.pending > 0)
            g_main_context_iteration (context, TRUE);
          if (burst.error != NULL)
            rel_child_fail ("async write", burst.error);
          bursts++;
        }
      else
        {
          g_autoptr(MsbDbRows) rows =
            msb_db_pools_write (pools, "INSERT INTO items (proc, seq, kind) VALUES (?, ?, 'single')",
                                g_variant_new ("(xx)", proc, seq), NULL, &error);
          if (rows == NULL)
            rel_child_fail ("write", error);
          if (msb_db_rows_get_changes (rows) != 1)
            rel_child_fail ("write changed no row", NULL);
          seq++;
        }

      /* Read-your-writes on the read pool, and a consistent snapshot. */
      {
        g_autoptr(MsbDbRows) rows =
          msb_db_pools_read (pools, "SELECT count(*) FROM items WHERE proc = ?",
                             g_variant_new ("(x)", proc), NULL, &error);
        gint64 expected[2] = { proc, seq };

        if (rows == NULL)
          rel_child_fail ("read", error);
        if (msb_db_rows_get_int64 (rows, 0, 0) != seq)
          {
            rel_say ("ERROR read saw %" G_GINT64_FORMAT " rows, %" G_GINT64_FORMAT " committed",
                 msb_db_rows_get_int64 (rows, 0, 0), seq);
            _exit (1);
          }
        if (op % 8 == 0 && !msb_db_pools_snapshot (pools, snapshot_body, expected, NULL, &error))
          rel_child_fail ("snapshot", error);
      }
    }

  g_atomic_int_set (&reader.stop, TRUE);
  g_thread_join (thread);
  if (reader.failure != NULL)
    {
      rel_say ("ERROR %s", reader.failure);
      return 1;
    }

  stats = msb_db_pools_get_stats (pools);
  rel_say ("STATS rows=%" G_GINT64_FORMAT " txns=%" G_GUINT64_FORMAT " txn_calls=%" G_GUINT64_FORMAT
       " bursts=%" G_GUINT64_FORMAT " busy_retries=%" G_GUINT64_FORMAT
       " retries_exhausted=%" G_GUINT64_FORMAT " writes=%" G_GUINT64_FORMAT
       " reads=%" G_GUINT64_FORMAT " write_batches=%" G_GUINT64_FORMAT " reader_reads=%" G_GINT64_FORMAT,
       seq, txns, txn_calls, bursts, stats->busy_retries, stats->retries_exhausted,
       stats->writes, stats->reads, stats->write_batches, reader.reads);
  if (!msb_db_pools_close (pools, NULL, &error))
    rel_child_fail ("close", error);
  g_main_context_pop_thread_default (context);
  rel_say ("DONE");
  return 0;
}

/* hold-lock PATH: takes the write lock with raw SQLite and keeps it until
 * told to let go on stdin. */
static int
child_hold_lock (int    argc,
                 char **argv)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (argc, ==, 1);
  if (sqlite3_open_v2 (argv[0], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    {
      rel_say ("ERROR open: %s", sqlite3_errmsg (db));
      return 1;
    }
  sqlite3_busy_timeout (db, 10000);
  if (sqlite3_exec (db, "BEGIN IMMEDIATE; "
                        "INSERT INTO items (proc, seq, kind) VALUES (-1, 0, 'holder');",
                    NULL, NULL, &message) != SQLITE_OK)
    {
      rel_say ("ERROR lock: %s", message);
      return 1;
    }
  rel_say ("LOCKED");
  wait_for_line ("release");
  if (sqlite3_exec (db, "COMMIT", NULL, NULL, &message) != SQLITE_OK)
    {
      rel_say ("ERROR commit: %s", message);
      return 1;
    }
  sqlite3_close (db);
  rel_say ("RELEASED");
  return 0;
}

/* Parent side --------------------------------------------------------------- */

static void
create_schema (const char *path)
{
  g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);
  g_auto(GStrv) statements = g_strsplit (SCHEMA, ";", -1);

  for (guint i = 0; statements[i] != NULL; i++)
    if (*g_strstrip (statements[i]) != '\0')
      rel_write_ok (pools, statements[i], NULL);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

static guint64
stat_field (const char *line,
            const char *key)
{
  g_autofree char *needle = g_strconcat (" ", key, "=", NULL);
  const char *p = strstr (line, needle);

  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen (needle), NULL, 10);
}

static void
test_many_processes (void)
{
  g_autofree char *dir = rel_make_tmpdir ("procs");
  g_autofree char *path = g_build_filename (dir, "shared.db", NULL);
  guint n_procs = rel_long_tests () ? 8 : (guint) rel_env_int ("MSB_DB_REL_PROCS", 4);
  gint64 n_ops = rel_long_tests () ? 6000 : rel_env_int ("MSB_DB_REL_OPS", 1500);
  const gint64 k = 5;
  /* Most workers rely on the busy_timeout; two use a short one so that the
   * library's own retry with backoff has to do the work. */
  const gint64 busy_ms[] = { 5000, 5000, 50, 1, 5000, 1000, 100, 1 };
  GSubprocess *children[8];
  RelLines *lines[8];
  guint64 expected_rows = 0, expected_txns = 0;
  guint64 busy_retries = 0, exhausted = 0, txn_calls = 0, txns = 0, reads = 0, batches = 0, writes = 0;
  gint64 started = g_get_monotonic_time ();
  g_autofree char *report = NULL;
  sqlite3 *db;

  n_procs = CLAMP (n_procs, 4, G_N_ELEMENTS (children));
  create_schema (path);

  for (guint p = 0; p < n_procs; p++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *proc = g_strdup_printf ("%u", p);
      g_autofree char *ops = g_strdup_printf ("%" G_GINT64_FORMAT, n_ops);
      g_autofree char *ks = g_strdup_printf ("%" G_GINT64_FORMAT, k);
      g_autofree char *busy = g_strdup_printf ("%" G_GINT64_FORMAT, busy_ms[p]);

      children[p] = rel_spawn_child (&error, "worker", path, proc, ops, ks, busy, NULL);
      g_assert_no_error (error);
      lines[p] = rel_lines_new (children[p]);
    }
  for (guint p = 0; p < n_procs; p++)
    {
      g_autofree char *line = rel_lines_next_timeout (lines[p], 60 * G_TIME_SPAN_SECOND);
      g_assert_cmpstr (line, ==, "READY");
    }
  for (guint p = 0; p < n_procs; p++)
    rel_child_send (children[p], "GO");

  for (guint p = 0; p < n_procs; p++)
    {
      gboolean done = FALSE;
      char *line;

      while ((line = rel_lines_next (lines[p])) != NULL)
        {
          g_test_message ("worker %u: %s", p, line);
          if (g_str_has_prefix (line, "ERROR"))
            g_error ("worker %u (busy_timeout %" G_GINT64_FORMAT " ms) reported: %s",
                     p, busy_ms[p], line);
          if (g_str_has_prefix (line, "STATS"))
            {
              guint64 rows = stat_field (line, "rows");

              expected_rows += rows;
              txns += stat_field (line, "txns");
              txn_calls += stat_field (line, "txn_calls");
              busy_retries += stat_field (line, "busy_retries");
              exhausted += stat_field (line, "retries_exhausted");
              reads += stat_field (line, "reads") + stat_field (line, "reader_reads");
              batches += stat_field (line, "write_batches");
              writes += stat_field (line, "writes");
            }
          if (g_str_equal (line, "DONE"))
            done = TRUE;
          g_free (line);
        }
      g_assert_true (done);
      g_assert_cmpint (rel_child_wait (children[p], 120 * G_TIME_SPAN_SECOND), ==, 0);
      rel_lines_free (lines[p]);
      g_object_unref (children[p]);
    }
  expected_txns = txns;

  /* Every acknowledged row is there, the counter saw every transaction
   * exactly once (retried callbacks were rolled back), the file is sound. */
  db = rel_raw_open (path, SQLITE_OPEN_READONLY);
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM items"), ==, (gint64) expected_rows);
  g_assert_cmpint (rel_raw_int (db, "SELECT n FROM counters WHERE name = 'txns'"), ==,
                   (gint64) expected_txns);
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM items WHERE kind = 'txn'"), ==,
                   (gint64) (expected_txns * k));
  /* Per process, the sequence has no hole: nothing was lost or doubled. */
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM (SELECT proc FROM items GROUP BY proc "
                                    "HAVING max(seq) + 1 != count(*))"), ==, 0);
  sqlite3_close (db);
  g_assert_true (rel_integrity_ok (path, &report));
  g_assert_cmpuint (exhausted, ==, 0);
  g_assert_cmpuint (txn_calls, >=, txns);

  rel_figure ("multiprocess.processes", "%u", n_procs);
  rel_figure ("multiprocess.rows", "%" G_GUINT64_FORMAT, expected_rows);
  rel_figure ("multiprocess.transactions", "%" G_GUINT64_FORMAT, txns);
  rel_figure ("multiprocess.transaction_callback_runs", "%" G_GUINT64_FORMAT, txn_calls);
  rel_figure ("multiprocess.single_writes", "%" G_GUINT64_FORMAT, writes);
  rel_figure ("multiprocess.write_batches", "%" G_GUINT64_FORMAT, batches);
  rel_figure ("multiprocess.reads", "%" G_GUINT64_FORMAT, reads);
  rel_figure ("multiprocess.busy_retries", "%" G_GUINT64_FORMAT, busy_retries);
  rel_figure ("multiprocess.retries_exhausted", "%" G_GUINT64_FORMAT, exhausted);
  rel_figure ("multiprocess.seconds", "%.1f", (g_get_monotonic_time () - started) / 1e6);
  rel_rm_rf (dir);
}

/* The lock holder ------------------------------------------------------------ */

typedef struct {
  MsbDbPools *pools;
  GError *error;
  gint64 elapsed;
} BlockedWrite;

static gpointer
blocked_write_thread (gpointer data)
{
  BlockedWrite *w = data;
  gint64 t0 = g_get_monotonic_time ();
  MsbDbRows *rows =
    msb_db_pools_write (w->pools, "INSERT INTO items (proc, seq, kind) VALUES (7, 2, 'after-wait')",
                        NULL, NULL, &w->error);

  g_clear_object (&rows);
  w->elapsed = g_get_monotonic_time () - t0;
  return NULL;
}

static gboolean
count_calls (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  (*(guint *) user_data)++;
  rows = msb_db_connection_execute (connection,
                                    "INSERT INTO items (proc, seq, kind) VALUES (7, 1, 'txn')",
                                    NULL, error);
  return rows != NULL;
}

static void
test_lock_holder (void)
{
  g_autofree char *dir = rel_make_tmpdir ("lock");
  g_autofree char *path = g_build_filename (dir, "locked.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) holder = NULL;
  g_autoptr(RelLines) lines = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbStats) s0 = NULL;
  g_autoptr(MsbDbStats) s1 = NULL;
  g_autoptr(MsbDbStats) s2 = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autofree char *line = NULL;
  BlockedWrite blocked = { 0 };
  GThread *thread;
  guint calls = 0;
  gint64 t0, elapsed;
  /* Backoff after attempts 1..7: 10, 20, 40, 80, 160, 320, 500 ms. */
  const gint64 backoff_total = (10 + 20 + 40 + 80 + 160 + 320 + 500) * G_TIME_SPAN_MILLISECOND;

  create_schema (path);
  pools = rel_open (path, 2, 30 * G_TIME_SPAN_SECOND, 20 * G_TIME_SPAN_MILLISECOND);
  rel_write_ok (pools, "INSERT INTO items (proc, seq, kind) VALUES (7, 0, 'before')", NULL);

  holder = rel_spawn_child (&error, "hold-lock", path, NULL);
  g_assert_no_error (error);
  lines = rel_lines_new (holder);
  line = rel_lines_next_timeout (lines, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpstr (line, ==, "LOCKED");

  /* A write gives up with BUSY after the whole budget: 8 attempts. */
  s0 = msb_db_pools_get_stats (pools);
  t0 = g_get_monotonic_time ();
  rows = msb_db_pools_write (pools, "INSERT INTO items (proc, seq, kind) VALUES (7, 1, 'blocked')",
                             NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  g_assert_null (rows);
  rel_assert_db_error (error, MSB_DB_ERROR_BUSY, -1);
  g_clear_error (&error);
  s1 = msb_db_pools_get_stats (pools);
  g_test_message ("write gave up after %.3f s; busy_retries +%" G_GUINT64_FORMAT
                  ", retries_exhausted +%" G_GUINT64_FORMAT, elapsed / 1e6,
                  s1->busy_retries - s0->busy_retries, s1->retries_exhausted - s0->retries_exhausted);
  g_assert_cmpuint (s1->busy_retries - s0->busy_retries, ==, 7);
  g_assert_cmpuint (s1->retries_exhausted - s0->retries_exhausted, ==, 1);
  g_assert_cmpuint (s1->writes, ==, s0->writes);
  g_assert_cmpint (elapsed, >=, backoff_total);
  g_assert_cmpint (elapsed, <=, backoff_total + 8 * 20 * G_TIME_SPAN_MILLISECOND
                                + 3 * G_TIME_SPAN_SECOND * rel_time_factor ());
  rel_figure ("lock_holder.busy_after_seconds", "%.2f", elapsed / 1e6);

  /* So does a transaction; nothing of it stays. */
  g_assert_false (msb_db_pools_transaction (pools, count_calls, &calls, NULL, &error));
  rel_assert_db_error (error, MSB_DB_ERROR_BUSY, -1);
  g_clear_error (&error);
  s2 = msb_db_pools_get_stats (pools);
  g_assert_cmpuint (s2->retries_exhausted - s1->retries_exhausted, ==, 1);
  g_assert_cmpuint (s2->busy_retries - s1->busy_retries, ==, 7);
  g_test_message ("transaction callback ran %u time(s) while the lock was held", calls);

  /* Readers are not blocked by a writer in WAL mode. */
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items WHERE proc = 7", NULL), ==, 1);

  /* A write that starts while the lock is held and outlasts it succeeds. */
  blocked.pools = pools;
  thread = g_thread_new ("blocked-write", blocked_write_thread, &blocked);
  g_usleep (300 * G_TIME_SPAN_MILLISECOND);
  rel_child_send (holder, "release");
  g_thread_join (thread);
  g_assert_no_error (blocked.error);
  g_clear_pointer (&line, g_free);
  line = rel_lines_next_timeout (lines, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpstr (line, ==, "RELEASED");
  g_assert_cmpint (rel_child_wait (holder, 30 * G_TIME_SPAN_SECOND), ==, 0);

  {
    g_autoptr(MsbDbStats) s3 = msb_db_pools_get_stats (pools);

    g_assert_cmpuint (s3->busy_retries, >, s2->busy_retries);
    g_assert_cmpuint (s3->retries_exhausted, ==, s2->retries_exhausted);
    rel_figure ("lock_holder.recovered_after_retries", "%" G_GUINT64_FORMAT,
                s3->busy_retries - s2->busy_retries);
  }

  /* Everything recovers: the holder's row, ours, and new writes. */
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items WHERE proc = -1", NULL), ==, 1);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items WHERE proc = 7", NULL), ==, 2);
  g_assert_true (msb_db_pools_transaction (pools, count_calls, &calls, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items WHERE proc = 7", NULL), ==, 3);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (rel_integrity_ok (path, NULL));
  rel_rm_rf (dir);
}

/* A write cancelled while it waits for another process's lock has not
 * started: it must never run (the documented cancellation rule), even if the lock
 * is released while the library is still retrying it. */
typedef struct {
  MsbDbPools *pools;
  GCancellable *cancellable;
  GError *error;
  gboolean wrote;
  gint64 elapsed;
} CancelledWrite;

static gpointer
cancelled_write_thread (gpointer data)
{
  CancelledWrite *w = data;
  gint64 t0 = g_get_monotonic_time ();
  MsbDbRows *rows =
    msb_db_pools_write (w->pools, "INSERT INTO items (proc, seq, kind) VALUES (8, 1, 'cancelled')",
                        NULL, w->cancellable, &w->error);

  w->wrote = rows != NULL;
  g_clear_object (&rows);
  w->elapsed = g_get_monotonic_time () - t0;
  return NULL;
}

static void
test_cancel_while_locked (void)
{
  g_autofree char *dir = rel_make_tmpdir ("cancel-locked");
  g_autofree char *path = g_build_filename (dir, "locked.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) holder = NULL;
  g_autoptr(RelLines) lines = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autofree char *line = NULL;
  CancelledWrite w = { 0 };
  GThread *thread;
  gint64 rows_written;

  create_schema (path);
  pools = rel_open (path, 1, 30 * G_TIME_SPAN_SECOND, 20 * G_TIME_SPAN_MILLISECOND);
  holder = rel_spawn_child (&error, "hold-lock", path, NULL);
  g_assert_no_error (error);
  lines = rel_lines_new (holder);
  line = rel_lines_next_timeout (lines, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpstr (line, ==, "LOCKED");

  w.pools = pools;
  w.cancellable = g_cancellable_new ();
  thread = g_thread_new ("cancelled-write", cancelled_write_thread, &w);
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  g_cancellable_cancel (w.cancellable);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  rel_child_send (holder, "release");
  g_thread_join (thread);
  g_assert_cmpint (rel_child_wait (holder, 30 * G_TIME_SPAN_SECOND), ==, 0);

  rows_written = rel_read_int (pools, "SELECT count(*) FROM items WHERE proc = 8", NULL);
  g_test_message ("cancelled write returned after %.2f s: %s; rows written: %" G_GINT64_FORMAT,
                  w.elapsed / 1e6, w.wrote ? "success" : w.error->message, rows_written);
  if (w.wrote || rows_written != 0)
    g_test_fail_printf ("a write cancelled while it waited for another process's lock ran "
                        "once the lock was released (reported %s)", w.wrote ? "success" : "failure");
  else
    g_assert_error (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&w.error);
  g_object_unref (w.cancellable);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  rel_rm_rf (dir);
}

static const RelChildMode modes[] = {
  { "worker", child_worker },
  { "hold-lock", child_hold_lock },
  { NULL, NULL }
};

int
main (int    argc,
      char **argv)
{
  int status;

  if (rel_dispatch_child (argc, argv, modes, &status))
    return status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/multiprocess/many-processes", test_many_processes);
  g_test_add_func ("/reliability/multiprocess/lock-holder", test_lock_holder);
  g_test_add_func ("/reliability/multiprocess/cancel-while-locked", test_cancel_while_locked);
  return g_test_run ();
}
