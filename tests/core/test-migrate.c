/* test-migrate.c: schema migrations, in one process and in several at once
 *
 * The test binary re-runs itself as the migrating processes:
 *   test-migrate --child-migrate PATH
 * A child opens the file, prints "ready", waits for "go" on stdin, runs
 * the migration of race_steps and prints "done VERSION" (or "error
 * MESSAGE"), then exits 0 only on success.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>

/* Each step leaves a row behind: a step applied twice shows. */
static const char * const three_steps[] = {
  "CREATE TABLE applied (step INTEGER NOT NULL, pid INTEGER);"
  "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
  "INSERT INTO applied (step) VALUES (1)",
  "ALTER TABLE notes ADD COLUMN created TEXT;"
  "INSERT INTO applied (step) VALUES (2)",
  "CREATE INDEX notes_created ON notes (created);"
  "INSERT INTO applied (step) VALUES (3)",
  NULL
};

static void
assert_applied_once (MsbDbPools *pools,
                     gint        n_steps)
{
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM applied"), ==, n_steps);
  g_assert_cmpint (test_read_int (pools, "SELECT count(DISTINCT step) FROM applied"), ==, n_steps);
  g_assert_cmpint (test_read_int (pools, "SELECT max(step) FROM applied"), ==, n_steps);
}

static void
test_fresh (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, &error), ==, 0);
  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, &error), ==, 3);
  assert_applied_once (fx->pools, 3);
  test_write_ok (fx->pools, "INSERT INTO notes (body, created) VALUES ('a', 'today')", NULL);

  /* Again: nothing to do, nothing done. */
  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  g_assert_no_error (error);
  assert_applied_once (fx->pools, 3);
  g_assert_cmpint (raw_int (fx->path, "PRAGMA user_version"), ==, 3);
}

static void
test_incremental (Fixture       *fx,
                  gconstpointer  data)
{
  const char *two[] = { three_steps[0], three_steps[1], NULL };
  const char *none[] = { NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_migrate (fx->pools, none, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, NULL), ==, 0);

  g_assert_true (msb_db_pools_migrate (fx->pools, two, NULL, &error));
  g_assert_no_error (error);
  assert_applied_once (fx->pools, 2);
  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  g_assert_no_error (error);
  assert_applied_once (fx->pools, 3);
}

static void
test_too_new (Fixture       *fx,
              gconstpointer  data)
{
  const char *two[] = { three_steps[0], three_steps[1], NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  g_assert_false (msb_db_pools_migrate (fx->pools, two, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_SCHEMA_TOO_NEW);
  assert_message_contains (error, "version 3");
  g_test_message ("%s", error->message);
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, NULL), ==, 3);
  assert_applied_once (fx->pools, 3);
}

static void
test_failing_step (Fixture       *fx,
                   gconstpointer  data)
{
  const char *steps[] = {
    three_steps[0],
    three_steps[1],
    "INSERT INTO applied (step) VALUES (3); INSERT INTO no_such_table VALUES (1)",
    NULL
  };
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_migrate (fx->pools, steps, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "step 3");
  assert_message_contains (error, "no such table: no_such_table");
  g_test_message ("%s", error->message);

  /* Steps 1 and 2 stay; nothing of step 3 (its first statement ran). */
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, NULL), ==, 2);
  assert_applied_once (fx->pools, 2);

  /* Fixed, it goes on from there. */
  g_clear_error (&error);
  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  g_assert_no_error (error);
  assert_applied_once (fx->pools, 3);
}

static void
test_refused_sql (Fixture       *fx,
                  gconstpointer  data)
{
  const char *steps[] = { "CREATE TABLE a (x); COMMIT; CREATE TABLE b (x)", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_migrate (fx->pools, steps, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "step 1");
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, NULL), ==, 0);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM sqlite_schema"), ==, 0);
}

static void
test_read_only (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(MsbDbPools) reader = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_migrate (fx->pools, three_steps, NULL, &error));
  reader = msb_db_pools_open_read_only (fx->path, 1, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_pools_get_schema_version (reader, NULL, &error), ==, 3);
  g_assert_false (msb_db_pools_migrate (reader, three_steps, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
}

static void
test_cancelled (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  g_assert_false (msb_db_pools_migrate (fx->pools, three_steps, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (msb_db_pools_get_schema_version (fx->pools, NULL, NULL), ==, 0);
}

static void
test_async (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *two[] = { three_steps[0], three_steps[1], NULL };

  msb_db_pools_migrate_async (fx->pools, three_steps, NULL, test_async_result_cb, &result);
  test_wait_result (&result, 30);
  g_assert_true (msb_db_pools_migrate_finish (fx->pools, result, &error));
  g_assert_no_error (error);
  assert_applied_once (fx->pools, 3);

  g_clear_object (&result);
  msb_db_pools_migrate_async (fx->pools, two, NULL, test_async_result_cb, &result);
  test_wait_result (&result, 30);
  g_assert_false (msb_db_pools_migrate_finish (fx->pools, result, &error));
  assert_msb_error (error, MSB_DB_ERROR_SCHEMA_TOO_NEW);
}

/* Several processes ------------------------------------------------------- */

/* Steps that take a while, so that the processes really overlap; each
 * records which process applied it. */
#define RACE_STEPS 6

static char **
race_steps (void)
{
  char **steps = g_new0 (char *, RACE_STEPS + 1);

  steps[0] = g_strdup ("CREATE TABLE applied (step INTEGER NOT NULL, pid INTEGER);"
                       "CREATE TABLE filler (x);"
                       "INSERT INTO applied VALUES (1, $pid)");
  for (guint i = 2; i <= RACE_STEPS; i++)
    steps[i - 1] = g_strdup_printf (
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
      "INSERT INTO filler SELECT randomblob(16) FROM c;"
      "INSERT INTO applied VALUES (%u, $pid)", i);
  return steps;
}

/* $pid: which process applied the step (a step's SQL takes no parameters,
 * so it is spelled into the text). */
static char **
race_steps_for (long pid)
{
  g_auto(GStrv) steps = race_steps ();
  g_autofree char *spelled = g_strdup_printf ("%ld", pid);
  char **out = g_new0 (char *, g_strv_length (steps) + 1);

  for (guint i = 0; steps[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (steps[i], "$pid", -1);
      out[i] = g_strjoinv (spelled, parts);
    }
  return out;
}

static int
child_migrate (const char *path)
{
  g_auto(GStrv) steps = race_steps_for ((long) getpid ());
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = msb_db_pools_open (path, 1, 0, 0, NULL, &error);
  char line[64];

  if (pools == NULL)
    {
      printf ("error %s\n", error->message);
      return 1;
    }
  printf ("ready\n");
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL || strncmp (line, "go", 2) != 0)
    return 3;

  if (!msb_db_pools_migrate (pools, (const char * const *) steps, NULL, &error))
    {
      printf ("error %s\n", error->message);
      fflush (stdout);
      return 1;
    }
  printf ("done %d\n", msb_db_pools_get_schema_version (pools, NULL, NULL));
  fflush (stdout);
  return msb_db_pools_close (pools, NULL, NULL) ? 0 : 1;
}

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
} Child;

static char *
child_line (Child *child)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (child->out, NULL, NULL, &error);

  g_assert_no_error (error);
  return line;
}

static void
race_once (const char *path,
           guint       n_processes)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  Child children[4];
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (n_processes, <=, G_N_ELEMENTS (children));
  for (guint i = 0; i < n_processes; i++)
    {
      g_autofree char *line = NULL;

      children[i].process = g_subprocess_launcher_spawn (launcher, &error, self, "--child-migrate",
                                                          path, NULL);
      g_assert_no_error (error);
      children[i].out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (children[i].process));
      line = child_line (&children[i]);
      g_assert_cmpstr (line, ==, "ready");
    }
  /* Every process has the file open; all start at once. */
  for (guint i = 0; i < n_processes; i++)
    {
      GOutputStream *in = g_subprocess_get_stdin_pipe (children[i].process);

      g_assert_true (g_output_stream_write_all (in, "go\n", 3, NULL, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < n_processes; i++)
    {
      g_autofree char *line = child_line (&children[i]);
      g_autofree char *expected = g_strdup_printf ("done %d", RACE_STEPS);

      g_test_message ("process %u: %s", i + 1, line);
      g_assert_cmpstr (line, ==, expected);
      g_assert_true (g_subprocess_wait_check (children[i].process, NULL, &error));
      g_assert_no_error (error);
      g_clear_object (&children[i].out);
      g_clear_object (&children[i].process);
    }
}

static void
test_processes (Fixture       *fx,
                gconstpointer  data)
{
  guint n_processes = GPOINTER_TO_UINT (data);

  /* A few rounds on fresh files: the race is between the processes. */
  for (guint round = 0; round < 3; round++)
    {
      g_autofree char *path = g_strdup_printf ("%s.%u", fx->path, round);
      g_autofree char *check = NULL;

      race_once (path, n_processes);

      g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, RACE_STEPS);
      g_assert_cmpint (raw_int (path, "SELECT count(*) FROM applied"), ==, RACE_STEPS);
      g_assert_cmpint (raw_int (path, "SELECT count(DISTINCT step) FROM applied"), ==, RACE_STEPS);
      g_assert_cmpint (raw_int (path, "SELECT count(*) FROM filler"), ==, (RACE_STEPS - 1) * 20000);
      g_test_message ("round %u: the steps were applied by %" G_GINT64_FORMAT " process(es)",
                      round, raw_int (path, "SELECT count(DISTINCT pid) FROM applied"));
      check = raw_string (path, "PRAGMA integrity_check");
      g_assert_cmpstr (check, ==, "ok");
    }
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "--child-migrate") == 0)
    return child_migrate (argv[2]);

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/migrate/fresh", Fixture, NULL, fixture_setup_open, test_fresh, fixture_teardown);
  g_test_add ("/migrate/incremental", Fixture, NULL, fixture_setup_open, test_incremental,
              fixture_teardown);
  g_test_add ("/migrate/too-new", Fixture, NULL, fixture_setup_open, test_too_new,
              fixture_teardown);
  g_test_add ("/migrate/failing-step", Fixture, NULL, fixture_setup_open, test_failing_step,
              fixture_teardown);
  g_test_add ("/migrate/refused-sql", Fixture, NULL, fixture_setup_open, test_refused_sql,
              fixture_teardown);
  g_test_add ("/migrate/read-only", Fixture, NULL, fixture_setup_open, test_read_only,
              fixture_teardown);
  g_test_add ("/migrate/cancelled", Fixture, NULL, fixture_setup_open, test_cancelled,
              fixture_teardown);
  g_test_add ("/migrate/async", Fixture, NULL, fixture_setup_open, test_async, fixture_teardown);
  g_test_add ("/migrate/processes/2", Fixture, GUINT_TO_POINTER (2), fixture_setup,
              test_processes, fixture_teardown);
  g_test_add ("/migrate/processes/4", Fixture, GUINT_TO_POINTER (4), fixture_setup,
              test_processes, fixture_teardown);

  return g_test_run ();
}
