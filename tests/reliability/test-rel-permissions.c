/* test-rel-permissions.c: file modes, and pools on files the process may
 * only read or may not read at all
 *
 * Permission checks do not apply to root, so when the tests run as root the
 * checks that need an ordinary user run in a child process (this
 * executable, `--child as-user`) that drops to nobody (65534) before it does
 * anything else. As an ordinary user, the same child runs without
 * dropping anything.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#define NOBODY 65534

static guint
file_mode (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    g_error ("stat %s: %s", path, g_strerror (errno));
  return st.st_mode & 07777;
}

static void
test_owner_only (void)
{
  g_autofree char *dir = rel_make_tmpdir ("perm");
  g_autofree char *path = g_build_filename (dir, "private.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  mode_t old_umask;

  /* Even with a umask that lets everything through. */
  old_umask = umask (0);
  {
    g_autoptr(MsbDbPools) pools = rel_open (path, 2, 0, 0);

    rel_write_ok (pools, "CREATE TABLE secrets (v TEXT)", NULL);
    rel_write_ok (pools, "INSERT INTO secrets VALUES ('hunter2')", NULL);
    g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM secrets", NULL), ==, 1);

    g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (shm, G_FILE_TEST_EXISTS));
    g_assert_cmpuint (file_mode (path), ==, 0600);
    g_assert_cmpuint (file_mode (wal), ==, 0600);
    g_assert_cmpuint (file_mode (shm), ==, 0600);
    g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  }
  umask (old_umask);
  g_assert_cmpuint (file_mode (path), ==, 0600);

  /* A second open of the existing file keeps it that way. */
  {
    g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);

    rel_write_ok (pools, "INSERT INTO secrets VALUES ('again')", NULL);
    g_assert_cmpuint (file_mode (path), ==, 0600);
    g_assert_cmpuint (file_mode (wal), ==, 0600);
    g_assert_cmpuint (file_mode (shm), ==, 0600);
    g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  }

  /* A read-only pools object never creates the file. */
  {
    g_autofree char *missing = g_build_filename (dir, "missing.db", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbPools) pools = msb_db_pools_open_read_only (missing, 1, 0, 0, NULL, &error);

    g_assert_null (pools);
    rel_assert_db_error (error, MSB_DB_ERROR_CANT_OPEN, -1);
    g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  }
  rel_rm_rf (dir);
}

/* The child --------------------------------------------------------------- */

static void
report (const char   *what,
        gboolean      ok,
        const GError *error)
{
  if (ok)
    rel_say ("%s OK", what);
  else
    rel_say ("%s ERR %s %d %s", what, g_quark_to_string (error->domain), error->code, error->message);
}

/* as-user MODE PATH: MODE is "read-only" (try a read-only pools object) or
 * "read-write" (try a read-write one). */
static int
child_as_user (int    argc,
               char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  const char *mode, *path;

  g_assert_cmpint (argc, ==, 2);
  mode = argv[0];
  path = argv[1];

  if (getuid () == 0)
    {
      if (setgroups (0, NULL) != 0 || setgid (NOBODY) != 0 || setuid (NOBODY) != 0)
        {
          rel_say ("DROP-FAILED %s", g_strerror (errno));
          return 1;
        }
      if (setuid (0) == 0)
        {
          rel_say ("DROP-FAILED could get root back");
          return 1;
        }
    }
  rel_say ("UID %u", (guint) getuid ());

  if (g_str_equal (mode, "read-only"))
    pools = msb_db_pools_open_read_only (path, 2, 0, 0, NULL, &error);
  else
    pools = msb_db_pools_open (path, 2, 0, 0, NULL, &error);
  report ("OPEN", pools != NULL, error);
  if (pools == NULL)
    return 0;

  {
    g_autoptr(MsbDbRows) rows = msb_db_pools_read (pools, "SELECT count(*) FROM secrets", NULL, NULL, &error);

    report ("READ", rows != NULL, error);
    if (rows != NULL)
      rel_say ("COUNT %" G_GINT64_FORMAT, msb_db_rows_get_int64 (rows, 0, 0));
    g_clear_error (&error);
  }
  {
    g_autoptr(MsbDbRows) rows = msb_db_pools_write (pools, "INSERT INTO secrets VALUES ('from the reader')",
                                                    NULL, NULL, &error);

    report ("WRITE", rows != NULL, error);
    g_clear_error (&error);
  }
  {
    g_autoptr(MsbDbRows) rows = msb_db_pools_read (pools, "SELECT count(*) FROM secrets", NULL, NULL, &error);

    report ("READ-AGAIN", rows != NULL, error);
    g_clear_error (&error);
  }
  report ("CLOSE", msb_db_pools_close (pools, NULL, &error), error);
  return 0;
}

/* Parent side --------------------------------------------------------------- */

typedef struct {
  char *open;
  char *read;
  char *write;
  char *read_again;
  char *close;
  gint64 count;
} ChildReport;

static void
child_report_clear (ChildReport *r)
{
  g_free (r->open);
  g_free (r->read);
  g_free (r->write);
  g_free (r->read_again);
  g_free (r->close);
}

static void
run_as_user (const char  *mode,
             const char  *path,
             ChildReport *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) child = rel_spawn_child (&error, "as-user", mode, path, NULL);
  g_autoptr(RelLines) lines = NULL;
  char *line;

  g_assert_no_error (error);
  memset (r, 0, sizeof *r);
  r->count = -1;
  lines = rel_lines_new (child);
  while ((line = rel_lines_next_timeout (lines, 60 * G_TIME_SPAN_SECOND)) != NULL)
    {
      g_test_message ("%s: %s", mode, line);
      if (g_str_has_prefix (line, "DROP-FAILED"))
        g_error ("could not drop privileges: %s", line);
      else if (g_str_has_prefix (line, "OPEN "))
        r->open = g_strdup (line + 5);
      else if (g_str_has_prefix (line, "READ "))
        r->read = g_strdup (line + 5);
      else if (g_str_has_prefix (line, "WRITE "))
        r->write = g_strdup (line + 6);
      else if (g_str_has_prefix (line, "READ-AGAIN "))
        r->read_again = g_strdup (line + 11);
      else if (g_str_has_prefix (line, "CLOSE "))
        r->close = g_strdup (line + 6);
      else if (g_str_has_prefix (line, "COUNT "))
        r->count = g_ascii_strtoll (line + 6, NULL, 10);
      g_free (line);
    }
  g_assert_cmpint (rel_child_wait (child, 60 * G_TIME_SPAN_SECOND), ==, 0);
  g_assert_nonnull (r->open);
}

static gboolean
is_error (const char *result,
          int         code)
{
  g_autofree char *prefix = g_strdup_printf ("ERR %s %d ", g_quark_to_string (MSB_DB_ERROR), code);

  return result != NULL && g_str_has_prefix (result, prefix);
}

/* A directory and a database the child may use: owned by @owner. */
static char *
prepare_database (const char *dir,
                  uid_t       owner,
                  guint       db_mode,
                  guint       dir_mode)
{
  char *path = g_build_filename (dir, "shared.db", NULL);
  g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);

  rel_write_ok (pools, "CREATE TABLE secrets (v TEXT)", NULL);
  rel_write_ok (pools, "INSERT INTO secrets VALUES ('one'), ('two')", NULL);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  }

  if (owner != getuid ())
    {
      g_assert_cmpint (chown (path, owner, owner), ==, 0);
      g_assert_cmpint (chown (dir, owner, owner), ==, 0);
    }
  g_assert_cmpint (g_chmod (path, db_mode), ==, 0);
  g_assert_cmpint (g_chmod (dir, dir_mode), ==, 0);
  return path;
}

static uid_t
child_uid (void)
{
  return getuid () == 0 ? NOBODY : getuid ();
}

/* The file is the user's, but read-only (0400), in a directory the user
 * may write (so SQLite can create the -shm it needs for WAL). */
static void
test_read_only_file (void)
{
  g_autofree char *dir = rel_make_tmpdir ("ro");
  g_autofree char *path = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  ChildReport r;

  path = prepare_database (dir, child_uid (), 0400, 0700);
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));

  /* A read-only pools object reads; its writes are refused as READ_ONLY. */
  run_as_user ("read-only", path, &r);
  g_assert_cmpstr (r.open, ==, "OK");
  g_assert_cmpstr (r.read, ==, "OK");
  g_assert_cmpint (r.count, ==, 2);
  g_assert_true (is_error (r.write, MSB_DB_ERROR_READ_ONLY));
  g_assert_cmpstr (r.read_again, ==, "OK");
  g_assert_cmpstr (r.close, ==, "OK");
  child_report_clear (&r);

  /* A read-write pools object on it: refused at open, or every write
   * refused clearly; either way reads work and nothing changes. */
  run_as_user ("read-write", path, &r);
  if (g_str_equal (r.open, "OK"))
    {
      g_assert_cmpstr (r.read, ==, "OK");
      g_assert_true (is_error (r.write, MSB_DB_ERROR_READ_ONLY));
      g_assert_cmpstr (r.close, ==, "OK");
      rel_figure ("permissions.read_write_on_read_only_file", "opens; writes fail with READ_ONLY");
    }
  else
    {
      g_assert_true (is_error (r.open, MSB_DB_ERROR_CANT_OPEN) || is_error (r.open, MSB_DB_ERROR_READ_ONLY));
      rel_figure ("permissions.read_write_on_read_only_file", "refused at open");
    }
  child_report_clear (&r);

  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  rel_rm_rf (dir);
}

/* The file belongs to someone else and is private (0600): no access. */
static void
test_unreadable_file (void)
{
  g_autofree char *dir = rel_make_tmpdir ("noaccess");
  g_autofree char *path = NULL;
  ChildReport r;

  if (getuid () != 0)
    {
      /* An ordinary user can make a file it cannot read: mode 0000. */
      path = prepare_database (dir, getuid (), 0000, 0755);
    }
  else
    path = prepare_database (dir, 0, 0600, 0755);

  run_as_user ("read-only", path, &r);
  g_assert_true (is_error (r.open, MSB_DB_ERROR_CANT_OPEN));
  g_assert_nonnull (strstr (r.open, "shared.db"));
  child_report_clear (&r);

  run_as_user ("read-write", path, &r);
  g_assert_true (is_error (r.open, MSB_DB_ERROR_CANT_OPEN));
  child_report_clear (&r);

  g_chmod (path, 0600);
  rel_rm_rf (dir);
}

/* Readable (0444) in a directory the user may not write, with no -shm:
 * SQLite cannot set up WAL shared memory. */
static void
test_read_only_directory (void)
{
  g_autofree char *dir = rel_make_tmpdir ("rodir");
  g_autofree char *path = NULL;
  ChildReport r;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: an ordinary user can always write its own directory back");
      return;
    }
  path = prepare_database (dir, 0, 0444, 0755);
  run_as_user ("read-only", path, &r);
  if (g_str_equal (r.open, "OK"))
    {
      g_assert_cmpstr (r.read, ==, "OK");
      g_assert_cmpint (r.count, ==, 2);
      g_assert_true (is_error (r.write, MSB_DB_ERROR_READ_ONLY));
      rel_figure ("permissions.read_only_directory", "read-only pools read the file");
    }
  else
    {
      g_assert_true (g_str_has_prefix (r.open, "ERR "));
      g_assert_true (is_error (r.open, MSB_DB_ERROR_CANT_OPEN) || is_error (r.open, MSB_DB_ERROR_READ_ONLY));
      rel_figure ("permissions.read_only_directory", "refused at open: %s", r.open);
    }
  child_report_clear (&r);
  rel_rm_rf (dir);
}

static const RelChildMode modes[] = {
  { "as-user", child_as_user },
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
  g_test_add_func ("/reliability/permissions/owner-only", test_owner_only);
  g_test_add_func ("/reliability/permissions/read-only-file", test_read_only_file);
  g_test_add_func ("/reliability/permissions/unreadable-file", test_unreadable_file);
  g_test_add_func ("/reliability/permissions/read-only-directory", test_read_only_directory);
  return g_test_run ();
}
