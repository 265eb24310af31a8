/* test-rel-crash.c: writers killed with SIGKILL, and a writer whose disk fills up
 *
 * A child process (this executable, `--child crash-writer`) writes through
 * its own MsbDbPools and prints every acknowledged write on stdout, one
 * line each, written in one go, before it does anything else. The parent
 * kills it with SIGKILL at a random moment, reads what was acknowledged,
 * and checks with raw SQLite:
 *
 * - every acknowledged write is on disk;
 * - every transaction group (K rows with one group id) has 0 or K rows;
 * - integrity_check passes;
 * - a new process opens the file and writes (the next child, every time).
 *
 * The modes rotate: blocking single writes, 64 async writes kept in flight
 * (group commit batches), blocking transactions, a mix of async writes and
 * async transactions, and a deterministic kill inside a transaction
 * callback that runs in the middle of a group-commit batch.
 *
 * The disk-full tests run a child whose writes run out of space: under
 * setrlimit(RLIMIT_FSIZE) with SIGXFSZ ignored (EFBIG, SQLITE_IOERR_WRITE),
 * and, when the tests run as root and may mount, on a 768 KiB tmpfs
 * (ENOSPC, SQLITE_FULL). Its writes must start failing with an MsbDb
 * error, its reads keep working, and its pools must still close;
 * afterwards every acknowledged row is there.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define GROUP_ROWS 5

#define SCHEMA \
  "CREATE TABLE IF NOT EXISTS acks (id INTEGER PRIMARY KEY, payload BLOB);" \
  "CREATE TABLE IF NOT EXISTS grows (gid INTEGER NOT NULL, n INTEGER NOT NULL," \
  "  payload BLOB, PRIMARY KEY (gid, n));" \
  "CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"

/* Crash writer ------------------------------------------------------------ */

typedef struct {
  MsbDbPools *pools;
  GMainContext *context;
  gint64 next_id;
  gint64 next_gid;
  guint in_flight;
  gboolean mid_txn_armed;
  GRand *rand;
} Writer;

typedef struct {
  gint64 gid;
  guint sleep_us;
  gboolean announce_mid;
} Group;

/* K rows with one group id, with pauses in between so that kills land
 * inside callbacks. Safe to run again after a busy rollback. */
static gboolean
group_body (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  Group *g = user_data;

  for (gint64 i = 0; i < GROUP_ROWS; i++)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_connection_execute (connection,
                                   "INSERT INTO grows (gid, n, payload) VALUES (?, ?, randomblob(200))",
                                   g_variant_new ("(xx)", g->gid, i), error);
      if (rows == NULL)
        return FALSE;
      if (g->announce_mid && i == GROUP_ROWS / 2)
        {
          /* The parent kills us on this line: rows of this group are
           * written but not committed, and jobs queued before this one in
           * the same batch have run but are not committed either. */
          rel_say ("MID %" G_GINT64_FORMAT, g->gid);
          g_usleep (30 * G_TIME_SPAN_SECOND);
        }
      if (g->sleep_us > 0)
        g_usleep (g->sleep_us);
    }
  return TRUE;
}

typedef struct {
  Writer *w;
  gint64 id;
} Pending;

static void
on_async_write (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Pending *p = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    rel_child_fail ("async write", error);
  rel_say ("A %" G_GINT64_FORMAT, p->id);
  p->w->in_flight--;
  g_free (p);
}

typedef struct {
  Writer *w;
  gint64 gid;   /* a copy: the Group itself belongs to the library (freed by its notify) */
} PendingGroup;

static void
on_async_txn (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  PendingGroup *p = data;
  g_autoptr(GError) error = NULL;

  if (!msb_db_pools_transaction_finish (MSB_DB_POOLS (source), result, &error))
    rel_child_fail ("async transaction", error);
  rel_say ("T %" G_GINT64_FORMAT, p->gid);
  p->w->in_flight--;
  g_free (p);
}

static void
queue_write (Writer *w)
{
  Pending *p = g_new0 (Pending, 1);

  p->w = w;
  p->id = w->next_id++;
  w->in_flight++;
  msb_db_pools_write_async (w->pools, "INSERT INTO acks (id, payload) VALUES (?, randomblob(?))",
                            g_variant_new ("(xx)", p->id, (gint64) g_rand_int_range (w->rand, 0, 2000)),
                            NULL, on_async_write, p);
}

static void
queue_group (Writer   *w,
             gboolean  announce_mid)
{
  PendingGroup *p = g_new0 (PendingGroup, 1);
  Group *g = g_new0 (Group, 1);

  g->gid = w->next_gid++;
  g->sleep_us = g_rand_int_range (w->rand, 0, 300);
  g->announce_mid = announce_mid;
  p->w = w;
  p->gid = g->gid;
  w->in_flight++;
  msb_db_pools_transaction_async (w->pools, group_body, g, g_free, NULL, on_async_txn, p);
}

/* crash-writer PATH MODE FIRST_ID SEED */
static int
child_crash_writer (int    argc,
                    char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  Writer w = { 0 };
  const char *path, *mode;

  g_assert_cmpint (argc, ==, 4);
  path = argv[0];
  mode = argv[1];
  w.next_id = g_ascii_strtoll (argv[2], NULL, 10);
  w.next_gid = w.next_id;
  w.rand = g_rand_new_with_seed ((guint32) g_ascii_strtoull (argv[3], NULL, 10));
  w.context = context;
  g_main_context_push_thread_default (context);

  w.pools = msb_db_pools_open (path, 2, 60 * G_TIME_SPAN_SECOND, 0, NULL, &error);
  if (w.pools == NULL)
    rel_child_fail ("open", error);
  rel_say ("READY");

  if (g_str_equal (mode, "single"))
    {
      for (;;)
        {
          gint64 id = w.next_id++;
          g_autoptr(MsbDbRows) rows =
            msb_db_pools_write (w.pools, "INSERT INTO acks (id, payload) VALUES (?, randomblob(?))",
                                g_variant_new ("(xx)", id, (gint64) g_rand_int_range (w.rand, 0, 4000)),
                                NULL, &error);
          if (rows == NULL)
            rel_child_fail ("write", error);
          rel_say ("A %" G_GINT64_FORMAT, id);
        }
    }
  else if (g_str_equal (mode, "batch"))
    {
      for (;;)
        {
          while (w.in_flight < 64)
            queue_write (&w);
          g_main_context_iteration (context, TRUE);
        }
    }
  else if (g_str_equal (mode, "txn"))
    {
      for (;;)
        {
          Group g = { w.next_gid++, g_rand_int_range (w.rand, 0, 500), FALSE };

          if (!msb_db_pools_transaction (w.pools, group_body, &g, NULL, &error))
            rel_child_fail ("transaction", error);
          rel_say ("T %" G_GINT64_FORMAT, g.gid);
        }
    }
  else if (g_str_equal (mode, "mixed"))
    {
      for (;;)
        {
          while (w.in_flight < 48)
            {
              if (g_rand_int_range (w.rand, 0, 4) == 0)
                queue_group (&w, FALSE);
              else
                queue_write (&w);
            }
          g_main_context_iteration (context, TRUE);
        }
    }
  else if (g_str_equal (mode, "mid-txn"))
    {
      /* Let a few batches commit, then queue writes, a transaction that
       * stops in the middle, and more writes behind it. */
      for (int round = 0; round < 3; round++)
        {
          for (int i = 0; i < 40; i++)
            queue_write (&w);
          while (w.in_flight > 0)
            g_main_context_iteration (context, TRUE);
        }
      for (int i = 0; i < 40; i++)
        queue_write (&w);
      queue_group (&w, TRUE);
      for (int i = 0; i < 40; i++)
        queue_write (&w);
      for (;;)
        g_main_context_iteration (context, TRUE);
    }
  rel_child_fail ("unknown mode", NULL);
}

/* disk-full PATH LIMIT_BYTES */
static int
child_disk_full (int    argc,
                 char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GBytes) blob = NULL;
  struct rlimit limit;
  gint64 id = 0;
  guint failures = 0;
  guint8 *data;

  g_assert_cmpint (argc, ==, 2);
  signal (SIGXFSZ, SIG_IGN);
  limit.rlim_cur = limit.rlim_max = g_ascii_strtoull (argv[1], NULL, 10);
  /* 0: no limit of our own (the file system itself is small). */
  if (limit.rlim_cur > 0 && setrlimit (RLIMIT_FSIZE, &limit) != 0)
    {
      rel_say ("ERROR setrlimit failed");
      return 1;
    }

  pools = msb_db_pools_open (argv[0], 2, 30 * G_TIME_SPAN_SECOND, 0, NULL, &error);
  if (pools == NULL)
    rel_child_fail ("open", error);
  rel_say ("READY");

  data = g_malloc (16 * 1024);
  for (gsize i = 0; i < 16 * 1024; i++)
    data[i] = (guint8) (i * 31 + 7);
  blob = g_bytes_new_take (data, 16 * 1024);

  /* Write until the file size limit refuses; then a few more, which must
   * fail (or succeed) cleanly, never crash or hang. */
  while (failures < 20 && id < 100000)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_pools_write (pools, "INSERT INTO blobs (id, data) VALUES (?, ?)",
                            g_variant_new ("(x@ay)", id,
                                           g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, blob, TRUE)),
                            NULL, &error);
      if (rows != NULL)
        {
          rel_say ("A %" G_GINT64_FORMAT, id);
          id++;
          continue;
        }
      rel_say ("E %s %d %s", g_quark_to_string (error->domain), error->code, error->message);
      g_clear_error (&error);
      failures++;
      id++;
    }

  /* A transaction that needs space fails, and leaves nothing behind. */
  {
    Group g = { 999999999, 0, FALSE };
    g_autoptr(MsbDbRows) rows = NULL;
    for (int i = 0; i < 200 && msb_db_pools_transaction (pools, group_body, &g, NULL, &error); i++)
      {
        rel_say ("T %" G_GINT64_FORMAT, g.gid);
        g.gid++;
      }
    if (error != NULL)
      rel_say ("TE %s %d %s", g_quark_to_string (error->domain), error->code, error->message);
    g_clear_error (&error);

    /* Reads still work. */
    rows = msb_db_pools_read (pools, "SELECT count(*) FROM blobs", NULL, NULL, &error);
    if (rows == NULL)
      rel_child_fail ("read after disk full", error);
    rel_say ("COUNT %" G_GINT64_FORMAT, msb_db_rows_get_int64 (rows, 0, 0));
  }

  if (!msb_db_pools_close (pools, NULL, &error))
    rel_child_fail ("close", error);
  rel_say ("CLOSED");
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

typedef struct {
  GArray *acked_ids;     /* gint64 */
  GArray *acked_groups;  /* gint64 */
  guint kills;
  guint kills_mid_txn;
  guint64 acked_total;
  guint64 groups_total;
} CrashTally;

/* Checks the file after a kill: all acknowledged, nothing half. */
static void
verify_after_kill (const char *path,
                   CrashTally *tally,
                   gboolean    integrity)
{
  sqlite3 *db = rel_raw_open (path, SQLITE_OPEN_READWRITE);
  g_autoptr(GHashTable) ids = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) groups = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GArray) id_values = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) gid_values = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM acks", -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 v = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (id_values, v);
    }
  sqlite3_finalize (stmt);
  for (guint i = 0; i < id_values->len; i++)
    g_hash_table_add (ids, &g_array_index (id_values, gint64, i));

  /* Multi-row transactions are all or nothing. */
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM (SELECT gid FROM grows GROUP BY gid "
                                    "HAVING count(*) != " G_STRINGIFY (GROUP_ROWS) ")"), ==, 0);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT DISTINCT gid FROM grows", -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 v = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (gid_values, v);
    }
  sqlite3_finalize (stmt);
  for (guint i = 0; i < gid_values->len; i++)
    g_hash_table_add (groups, &g_array_index (gid_values, gint64, i));
  sqlite3_close (db);

  for (guint i = 0; i < tally->acked_ids->len; i++)
    if (!g_hash_table_contains (ids, &g_array_index (tally->acked_ids, gint64, i)))
      g_error ("acknowledged write %" G_GINT64_FORMAT " is not in the file after kill %u",
               g_array_index (tally->acked_ids, gint64, i), tally->kills);
  for (guint i = 0; i < tally->acked_groups->len; i++)
    if (!g_hash_table_contains (groups, &g_array_index (tally->acked_groups, gint64, i)))
      g_error ("acknowledged transaction %" G_GINT64_FORMAT " is not in the file after kill %u",
               g_array_index (tally->acked_groups, gint64, i), tally->kills);

  if (integrity)
    {
      g_autofree char *report = NULL;

      if (!rel_integrity_ok (path, &report))
        g_error ("integrity_check after kill %u: %s", tally->kills, report);
    }
}

/* Runs one child in @mode, kills it (after @delay_us, or when it says MID),
 * and collects what it acknowledged. */
static void
run_and_kill (const char *path,
              const char *mode,
              gint64      first_id,
              guint32     seed,
              gint64      delay_us,
              CrashTally *tally)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *first = g_strdup_printf ("%" G_GINT64_FORMAT, first_id);
  g_autofree char *seed_s = g_strdup_printf ("%u", seed);
  g_autoptr(GSubprocess) child = rel_spawn_child (&error, "crash-writer", path, mode, first, seed_s, NULL);
  g_autoptr(RelLines) lines = NULL;
  gboolean wait_mid = g_str_equal (mode, "mid-txn");
  gboolean killed = FALSE;
  gint64 deadline;
  char *line;
  int status;

  g_assert_no_error (error);
  lines = rel_lines_new (child);
  line = rel_lines_next_timeout (lines, 60 * G_TIME_SPAN_SECOND);
  if (line == NULL || !g_str_equal (line, "READY"))
    g_error ("crash writer (%s) did not start: %s", mode, line ? line : "(EOF)");
  g_free (line);

  deadline = g_get_monotonic_time () + delay_us;
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();

      if (!killed && !wait_mid && now >= deadline)
        {
          g_subprocess_send_signal (child, SIGKILL);
          killed = TRUE;
        }
      line = rel_lines_next_timeout (lines, killed ? -1 : wait_mid ? 60 * G_TIME_SPAN_SECOND
                                                                   : MAX (deadline - now, 0));
      if (line == NULL)
        {
          if (killed)
            break;
          if (wait_mid)
            g_error ("the mid-transaction child never reached the middle of its callback");
          continue;
        }
      if (g_str_has_prefix (line, "ERROR"))
        g_error ("crash writer (%s) failed before it was killed: %s", mode, line);
      else if (g_str_has_prefix (line, "A "))
        {
          gint64 id = g_ascii_strtoll (line + 2, NULL, 10);
          g_array_append_val (tally->acked_ids, id);
          tally->acked_total++;
        }
      else if (g_str_has_prefix (line, "T "))
        {
          gint64 gid = g_ascii_strtoll (line + 2, NULL, 10);
          g_array_append_val (tally->acked_groups, gid);
          tally->groups_total++;
        }
      else if (g_str_has_prefix (line, "MID ") && !killed)
        {
          g_subprocess_send_signal (child, SIGKILL);
          killed = TRUE;
          tally->kills_mid_txn++;
        }
      g_free (line);
    }

  status = rel_child_wait (child, 60 * G_TIME_SPAN_SECOND);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  tally->kills++;
}

static void
test_sigkill (void)
{
  static const char * const mode_names[] = { "single", "batch", "txn", "mixed", "mid-txn" };
  g_autofree char *dir = rel_make_tmpdir ("kill");
  g_autofree char *path = g_build_filename (dir, "crash.db", NULL);
  guint n_kills = rel_long_tests () ? 1000 : (guint) rel_env_int ("MSB_DB_REL_KILLS", 150);
  guint32 seed = g_test_rand_int ();
  GRand *rand = g_rand_new_with_seed (seed);
  CrashTally tally = { 0 };
  guint per_mode[G_N_ELEMENTS (mode_names)] = { 0 };
  gint64 started = g_get_monotonic_time ();

  if (rel_under_valgrind ())
    n_kills = MIN (n_kills, 10);
  g_test_message ("seed %u, %u kills", seed, n_kills);
  tally.acked_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  tally.acked_groups = g_array_new (FALSE, FALSE, sizeof (gint64));
  create_schema (path);

  for (guint i = 0; i < n_kills; i++)
    {
      guint m = i % G_N_ELEMENTS (mode_names);
      /* Mostly early kills (the first batches, the WAL still small), some
       * right after open, some later. */
      gint64 delay = g_rand_int_range (rand, 0, 4) == 0 ? g_rand_int_range (rand, 0, 3000)
                                                        : g_rand_int_range (rand, 5000, 120000);

      run_and_kill (path, mode_names[m], (gint64) (i + 1) * 10000000, g_rand_int (rand),
                    delay, &tally);
      per_mode[m]++;
      verify_after_kill (path, &tally, i % 10 == 9 || i + 1 == n_kills);
    }

  /* A new process opens the file and writes. */
  {
    g_autoptr(MsbDbPools) pools = rel_open (path, 2, 0, 0);

    rel_write_ok (pools, "INSERT INTO acks (id) VALUES (1)", NULL);
    g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM acks WHERE id = 1", NULL), ==, 1);
    rel_assert_pools_usable (pools);
    g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  }
  g_assert_true (rel_integrity_ok (path, NULL));
  g_assert_cmpuint (tally.kills_mid_txn, ==, per_mode[4]);
  g_assert_cmpuint (tally.acked_total, >, 0);
  g_assert_cmpuint (tally.groups_total, >, 0);

  rel_figure ("crash.kills", "%u", tally.kills);
  rel_figure ("crash.kills_inside_transaction_callback", "%u", tally.kills_mid_txn);
  rel_figure ("crash.acknowledged_writes", "%" G_GUINT64_FORMAT, tally.acked_total);
  rel_figure ("crash.acknowledged_transactions", "%" G_GUINT64_FORMAT, tally.groups_total);
  rel_figure ("crash.seconds", "%.1f", (g_get_monotonic_time () - started) / 1e6);

  g_array_unref (tally.acked_ids);
  g_array_unref (tally.acked_groups);
  g_rand_free (rand);
  rel_rm_rf (dir);
}

static void
test_disk_full (gconstpointer data)
{
  gboolean tmpfs = g_str_equal (data, "tmpfs");
  g_autofree char *dir = rel_make_tmpdir ("full");
  g_autofree char *path = g_build_filename (dir, "full.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(RelLines) lines = NULL;
  g_autoptr(GArray) acked = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint errors = 0, txn_errors = 0;
  gboolean closed = FALSE;
  gint64 count_seen = -1;
  char *line;
  sqlite3 *db;

  if (tmpfs)
    {
      g_autofree char *mount = NULL;
      int status = -1;

      if (getuid () != 0)
        {
          g_test_skip ("mounting a small tmpfs needs root");
          rel_rm_rf (dir);
          return;
        }
      mount = g_strdup_printf ("mount -t tmpfs -o size=768k,mode=0700 msb-db-full %s", dir);
      if (!g_spawn_command_line_sync (mount, NULL, NULL, &status, NULL) || status != 0)
        {
          g_test_skip ("could not mount a tmpfs (no CAP_SYS_ADMIN?)");
          rel_rm_rf (dir);
          return;
        }
    }
  create_schema (path);
  child = rel_spawn_child (&error, "disk-full", path, tmpfs ? "0" : "1048576", NULL);
  g_assert_no_error (error);
  lines = rel_lines_new (child);

  while ((line = rel_lines_next_timeout (lines, 120 * G_TIME_SPAN_SECOND)) != NULL)
    {
      if (g_str_has_prefix (line, "ERROR"))
        g_error ("disk-full child: %s", line);
      else if (g_str_has_prefix (line, "A "))
        {
          gint64 id = g_ascii_strtoll (line + 2, NULL, 10);
          g_array_append_val (acked, id);
        }
      else if (g_str_has_prefix (line, "E ") || g_str_has_prefix (line, "TE "))
        {
          g_autofree char *domain = g_strdup_printf ("E %s ", g_quark_to_string (MSB_DB_ERROR));

          if (errors + txn_errors < 3 || g_str_has_prefix (line, "TE "))
            g_test_message ("%s", line);
          /* The error is the library's, with SQLite's reason in it. */
          g_assert_true (g_str_has_prefix (line + (line[0] == 'T'), domain));
          if (tmpfs)
            g_assert_nonnull (strstr (line, "SQLITE_FULL"));
          else
            g_assert_true (strstr (line, "SQLITE_FULL") != NULL || strstr (line, "SQLITE_IOERR") != NULL);
          if (line[0] == 'T')
            txn_errors++;
          else
            errors++;
        }
      else if (g_str_has_prefix (line, "COUNT "))
        count_seen = g_ascii_strtoll (line + 6, NULL, 10);
      else if (g_str_equal (line, "CLOSED"))
        closed = TRUE;
      g_free (line);
    }
  g_assert_cmpint (rel_child_wait (child, 60 * G_TIME_SPAN_SECOND), ==, 0);
  g_assert_true (closed);
  g_assert_cmpuint (errors, ==, 20);
  g_assert_cmpuint (txn_errors, ==, 1);
  g_assert_cmpuint (acked->len, >, 0);
  g_assert_cmpint (count_seen, >=, (gint64) acked->len);

  /* Every acknowledged row is there, and whole; nothing of a failed one. */
  db = rel_raw_open (path, SQLITE_OPEN_READWRITE);
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM blobs"), ==, (gint64) acked->len);
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM blobs WHERE length(data) != 16384"), ==, 0);
  g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM (SELECT gid FROM grows GROUP BY gid "
                                    "HAVING count(*) != " G_STRINGIFY (GROUP_ROWS) ")"), ==, 0);
  for (guint i = 0; i < acked->len; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM blobs WHERE id = %" G_GINT64_FORMAT,
                                              g_array_index (acked, gint64, i));
      g_assert_cmpint (rel_raw_int (db, sql), ==, 1);
    }
  sqlite3_close (db);
  g_assert_true (rel_integrity_ok (path, NULL));

  /* With room again, the next process writes again. */
  if (tmpfs)
    {
      g_autofree char *remount = g_strdup_printf ("mount -o remount,size=16m %s", dir);
      int status = -1;

      g_assert_true (g_spawn_command_line_sync (remount, NULL, NULL, &status, NULL));
      g_assert_cmpint (status, ==, 0);
    }
  {
    g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);

    rel_write_ok (pools, "INSERT INTO blobs (id, data) VALUES (-1, zeroblob(100000))", NULL);
    rel_assert_pools_usable (pools);
    g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  }
  rel_figure (tmpfs ? "diskfull.tmpfs.acknowledged_writes" : "diskfull.rlimit.acknowledged_writes", "%u", acked->len);
  rel_figure (tmpfs ? "diskfull.tmpfs.failed_writes" : "diskfull.rlimit.failed_writes", "%u", errors);
  if (tmpfs)
    {
      g_autofree char *umount = g_strdup_printf ("umount %s", dir);
      int status = -1;

      g_assert_true (g_spawn_command_line_sync (umount, NULL, NULL, &status, NULL));
      g_assert_cmpint (status, ==, 0);
    }
  rel_rm_rf (dir);
}

static const RelChildMode modes[] = {
  { "crash-writer", child_crash_writer },
  { "disk-full", child_disk_full },
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
  g_test_add_func ("/reliability/crash/sigkill", test_sigkill);
  g_test_add_data_func ("/reliability/crash/disk-full/rlimit", "rlimit", test_disk_full);
  g_test_add_data_func ("/reliability/crash/disk-full/tmpfs", "tmpfs", test_disk_full);
  return g_test_run ();
}
