/* test-fork.c: pools after fork()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <sys/wait.h>
#include <unistd.h>

/* What the child checks; it reports through a pipe (0: all held), since
 * assertions in a forked GTest child would confuse the parent's output,
 * and a memory checker may give the child an exit status of its own: the
 * child's copy of the parent's threads' memory looks lost to it. */
static int
child_checks (const char *path,
              MsbDbPools *inherited)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) read = NULL;
  g_autoptr(MsbDbRows) written = NULL;
  g_autoptr(MsbDbPools) own = NULL;
  g_autoptr(MsbDbRows) mine = NULL;
  gint64 start = g_get_monotonic_time ();

  /* The parent's pools fail at once, saying why. */
  read = msb_db_pools_read (inherited, "SELECT count(*) FROM t", NULL, NULL, &error);
  if (read != NULL || !g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED) ||
      strstr (error->message, "fork") == NULL)
    return 1;
  g_clear_error (&error);
  written = msb_db_pools_write (inherited, "INSERT INTO t(v) VALUES ('child')", NULL, NULL, &error);
  if (written != NULL || !g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED))
    return 2;
  g_clear_error (&error);
  if (g_get_monotonic_time () - start > 5 * G_TIME_SPAN_SECOND)
    return 3;

  /* Dropping them neither hangs nor touches the parent's connections. */
  if (!msb_db_pools_close (inherited, NULL, &error))
    return 4;
  g_object_unref (inherited);

  /* The child opens its own pools on the same file. */
  own = msb_db_pools_open (path, 1, 0, 0, NULL, &error);
  if (own == NULL)
    return 5;
  mine = msb_db_pools_write (own, "INSERT INTO t(v) VALUES ('child') RETURNING id", NULL, NULL, &error);
  if (mine == NULL)
    return 6;
  if (!msb_db_pools_close (own, NULL, &error))
    return 7;
  return 0;
}

static void
test_pools_after_fork (Fixture       *fx,
                       gconstpointer  data)
{
  pid_t pid;
  int status = 0;
  int fds[2];
  guint8 result = 255;

  fx->pools = test_open (fx->path, 2, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('parent')", NULL);

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      result = (guint8) child_checks (fx->path, g_object_ref (fx->pools));
      if (write (fds[1], &result, 1) != 1)
        _exit (1);
      _exit (0);
    }

  close (fds[1]);
  g_assert_cmpint (read (fds[0], &result, 1), ==, 1);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_cmpint (result, ==, 0);

  /* The parent's pools go on, and see the child's row. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('parent again')", NULL);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/fork/pools-after-fork", Fixture, NULL, fixture_setup, test_pools_after_fork,
              fixture_teardown);
  return g_test_run ();
}
