/* test-multiprocess.c: several processes on the same file at the same time
 *
 * The test binary re-runs itself as the other processes:
 *   test-multiprocess --child-writer PATH ID N BUSY_TIMEOUT_MS
 *   test-multiprocess --child-reader PATH N BUSY_TIMEOUT_MS
 * A child prints "ready" on stdout, waits for "go" on stdin, works, prints
 * "done <numbers>" and exits 0 only if no error surfaced.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <gio/gio.h>

#define N_CHILD_WRITERS 2
#define N_WORK 150

/* ---- child side -------------------------------------------------------- */

static void
child_wait_go (void)
{
  char line[64];

  printf ("ready\n");
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL || strncmp (line, "go", 2) != 0)
    exit (3);
}

static gboolean
child_txn (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  guint id = GPOINTER_TO_UINT (user_data);
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  g_autoptr(MsbDbRows) c = NULL;

  /* Read-modify-write of a shared counter: a lost update shows at the end. */
  a = msb_db_connection_execute (connection, "SELECT n FROM counter", NULL, error);
  if (a == NULL)
    return FALSE;
  b = msb_db_connection_execute (connection, "UPDATE counter SET n = ?",
                                 g_variant_new ("(x)", msb_db_rows_get_int64 (a, 0, 0) + 1), error);
  if (b == NULL)
    return FALSE;
  c = msb_db_connection_execute (connection, "INSERT INTO t(writer, kind) VALUES (?, 'txn')",
                                 g_variant_new ("(u)", id), error);
  return c != NULL;
}

static int
run_writer (const char *path,
            guint       id,
            guint       n,
            guint       busy_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  guint errors = 0;

  pools = msb_db_pools_open (path, 2, 0, busy_ms * G_TIME_SPAN_MILLISECOND, NULL, &error);
  if (pools == NULL)
    {
      g_printerr ("writer %u: open: %s\n", id, error->message);
      return 1;
    }
  child_wait_go ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_write (pools, "INSERT INTO t(writer, kind) VALUES (?, 'write')",
                                 g_variant_new ("(u)", id), NULL, &error);
      if (rows == NULL)
        {
          g_printerr ("writer %u: write: %s\n", id, error->message);
          g_clear_error (&error);
          errors++;
        }
      if (!msb_db_pools_transaction (pools, child_txn, GUINT_TO_POINTER (id), NULL, &error))
        {
          g_printerr ("writer %u: transaction: %s\n", id, error->message);
          g_clear_error (&error);
          errors++;
        }
      g_clear_object (&rows);
      rows = msb_db_pools_read (pools, "SELECT count(*) FROM t WHERE writer = ?",
                                g_variant_new ("(u)", id), NULL, &error);
      if (rows == NULL)
        {
          g_printerr ("writer %u: read: %s\n", id, error->message);
          g_clear_error (&error);
          errors++;
        }
      else if (msb_db_rows_get_int64 (rows, 0, 0) != 2 * (i + 1))
        {
          g_printerr ("writer %u: read-your-writes: %" G_GINT64_FORMAT " != %u\n", id,
                      msb_db_rows_get_int64 (rows, 0, 0), 2 * (i + 1));
          errors++;
        }
    }

  {
    g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (pools);
    printf ("done %u %" G_GUINT64_FORMAT "\n", errors, stats->busy_retries);
    fflush (stdout);
  }
  if (!msb_db_pools_close (pools, NULL, &error))
    {
      g_printerr ("writer %u: close: %s\n", id, error->message);
      errors++;
    }
  return errors == 0 ? 0 : 1;
}

static int
run_reader (const char *path,
            guint       n,
            guint       busy_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  guint errors = 0;
  gint64 last = -1;

  pools = msb_db_pools_open_read_only (path, 2, 0, busy_ms * G_TIME_SPAN_MILLISECOND, NULL, &error);
  if (pools == NULL)
    {
      g_printerr ("reader: open: %s\n", error->message);
      return 1;
    }
  child_wait_go ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_pools_read (pools, "SELECT count(*) FROM t", NULL, NULL, &error);

      if (rows == NULL)
        {
          g_printerr ("reader: read: %s\n", error->message);
          g_clear_error (&error);
          errors++;
          continue;
        }
      /* Committed data only grows. */
      if (msb_db_rows_get_int64 (rows, 0, 0) < last)
        {
          g_printerr ("reader: count went back\n");
          errors++;
        }
      last = msb_db_rows_get_int64 (rows, 0, 0);
      g_usleep (1000);
    }
  printf ("done %u %" G_GINT64_FORMAT "\n", errors, last);
  fflush (stdout);
  if (!msb_db_pools_close (pools, NULL, &error))
    errors++;
  return errors == 0 ? 0 : 1;
}

/* ---- parent side ------------------------------------------------------- */

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
  GOutputStream    *in;
} Child;

static void
child_spawn (Child       *child,
             const char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  child->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  child->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->process));
  child->in = g_subprocess_get_stdin_pipe (child->process);
}

static char *
child_line (Child *child)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (child->out, NULL, NULL, &error);

  g_assert_no_error (error);
  return line;
}

static void
child_expect_ready (Child *child)
{
  g_autofree char *line = child_line (child);

  g_assert_cmpstr (line, ==, "ready");
}

static void
child_go (Child *child)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (child->in, "go\n", 3, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_flush (child->in, NULL, &error));
}

static char *
child_finish (Child *child)
{
  g_autoptr(GError) error = NULL;
  char *done = child_line (child);

  g_assert_true (g_subprocess_wait (child->process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (child->process));
  g_assert_cmpint (g_subprocess_get_exit_status (child->process), ==, 0);
  g_clear_object (&child->out);
  g_clear_object (&child->process);
  return done;
}

static gboolean
parent_txn (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  return child_txn (connection, user_data, error);
}

static void
test_processes (Fixture       *fx,
                gconstpointer  data)
{
  guint busy_ms = GPOINTER_TO_UINT (data);
  g_autofree char *busy = g_strdup_printf ("%u", busy_ms);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  Child writers[N_CHILD_WRITERS];
  Child reader;
  g_autofree char *n = g_strdup_printf ("%u", N_WORK);
  g_autofree char *n_reads = g_strdup_printf ("%u", N_WORK * 2);
  guint64 child_busy_retries = 0;
  g_autoptr(MsbDbStats) stats = NULL;
  const guint parent_id = 99;

  g_assert_nonnull (self);
  fx->pools = test_open (fx->path, 2, 0, busy_ms * G_TIME_SPAN_MILLISECOND);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, writer INTEGER, kind TEXT)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE counter(n INTEGER)", NULL);
  test_write_ok (fx->pools, "INSERT INTO counter VALUES (0)", NULL);

  for (guint i = 0; i < N_CHILD_WRITERS; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i + 1);
      const char *argv[] = { self, "--child-writer", fx->path, id, n, busy, NULL };
      child_spawn (&writers[i], argv);
    }
  {
    const char *argv[] = { self, "--child-reader", fx->path, n_reads, busy, NULL };
    child_spawn (&reader, argv);
  }
  for (guint i = 0; i < N_CHILD_WRITERS; i++)
    child_expect_ready (&writers[i]);
  child_expect_ready (&reader);

  /* Everyone starts together; the parent works too. */
  for (guint i = 0; i < N_CHILD_WRITERS; i++)
    child_go (&writers[i]);
  child_go (&reader);

  for (guint i = 0; i < N_WORK; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_write (fx->pools, "INSERT INTO t(writer, kind) VALUES (?, 'write')",
                                 g_variant_new ("(u)", parent_id), NULL, &error);
      g_assert_no_error (error);
      g_assert_true (msb_db_pools_transaction (fx->pools, parent_txn,
                                               GUINT_TO_POINTER (parent_id), NULL, &error));
      g_assert_no_error (error);
    }

  for (guint i = 0; i < N_CHILD_WRITERS; i++)
    {
      g_autofree char *done = child_finish (&writers[i]);
      guint errors = 1;
      guint64 retries = 0;

      g_test_message ("writer %u: %s", i + 1, done);
      g_assert_nonnull (done);
      g_assert_cmpint (sscanf (done, "done %u %" G_GUINT64_FORMAT, &errors, &retries), ==, 2);
      g_assert_cmpuint (errors, ==, 0);
      child_busy_retries += retries;
    }
  {
    g_autofree char *done = child_finish (&reader);
    guint errors = 1;

    g_test_message ("reader: %s", done);
    g_assert_nonnull (done);
    g_assert_cmpint (sscanf (done, "done %u", &errors), ==, 1);
    g_assert_cmpuint (errors, ==, 0);
  }

  stats = msb_db_pools_get_stats (fx->pools);
  g_test_message ("busy retries: parent %" G_GUINT64_FORMAT ", children %" G_GUINT64_FORMAT,
                  stats->busy_retries, child_busy_retries);
  g_assert_cmpuint (stats->retries_exhausted, ==, 0);

  /* Every success of every process is in the file, exactly once. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==,
                   (N_CHILD_WRITERS + 1) * N_WORK * 2);
  for (guint i = 0; i < N_CHILD_WRITERS; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM t WHERE writer = %u", i + 1);
      g_assert_cmpint (test_read_int (fx->pools, sql), ==, N_WORK * 2);
    }
  /* No lost update across processes. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT n FROM counter"), ==,
                   (N_CHILD_WRITERS + 1) * N_WORK);

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT n FROM counter"), ==, (N_CHILD_WRITERS + 1) * N_WORK);
}

/* A child that crashes (killed) right after a reported success: the data
 * is still there (success means committed). */
static int
run_crasher (const char *path)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = msb_db_pools_open (path, 1, 0, 0, NULL, &error);
  g_autoptr(MsbDbRows) rows = NULL;

  if (pools == NULL)
    return 1;
  rows = msb_db_pools_write (pools, "INSERT INTO t(writer, kind) VALUES (7, 'before crash')",
                             NULL, NULL, &error);
  if (rows == NULL)
    return 1;
  printf ("committed\n");
  fflush (stdout);
  /* Die like a crash: no cleanup, no close, no core file. */
  kill (getpid (), SIGKILL);
  return 2;
}

static void
test_crash_after_success (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { self, "--child-crasher", fx->path, NULL };
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  raw_exec (fx->path, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, writer INTEGER, kind TEXT)");
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_subprocess_get_if_exited (process) && g_subprocess_get_exit_status (process) == 0);
  g_assert_cmpstr (out, ==, "committed\n");

  fx->pools = test_open (fx->path, 0, 0, 0);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t WHERE kind = 'before crash'"),
                   ==, 1);
}

int
main (int argc, char **argv)
{
  if (argc >= 6 && strcmp (argv[1], "--child-writer") == 0)
    return run_writer (argv[2], (guint) atoi (argv[3]), (guint) atoi (argv[4]),
                       (guint) atoi (argv[5]));
  if (argc >= 5 && strcmp (argv[1], "--child-reader") == 0)
    return run_reader (argv[2], (guint) atoi (argv[3]), (guint) atoi (argv[4]));
  if (argc >= 3 && strcmp (argv[1], "--child-crasher") == 0)
    return run_crasher (argv[2]);

  g_test_init (&argc, &argv, NULL);

  /* 0: the default 5 s busy timeout absorbs the contention. */
  g_test_add ("/multiprocess/writers-and-reader", Fixture, GUINT_TO_POINTER (0),
              fixture_setup, test_processes, fixture_teardown);
  /* 1 ms: the application-level retry with backoff has to do the work. */
  g_test_add ("/multiprocess/writers-and-reader/short-busy-timeout", Fixture, GUINT_TO_POINTER (1),
              fixture_setup, test_processes, fixture_teardown);
  g_test_add ("/multiprocess/crash-after-success", Fixture, NULL, fixture_setup,
              test_crash_after_success, fixture_teardown);

  return g_test_run ();
}
