/* test-open-errors.c: opening targets, good and bad
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

static guint
dir_entries (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

static void
test_creates_0600 (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (fx->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (fx->path, "-shm", NULL);
  mode_t old_umask;
  GStatBuf st;

  /* With no umask help at all, the library itself must restrict the mode. */
  old_umask = umask (0);
  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(x)", NULL);
  umask (old_umask);

  g_assert_cmpint (g_stat (fx->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  if (g_stat (wal, &st) == 0)
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  if (g_stat (shm, &st) == 0)
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_sqlite_uri (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *uri = g_strconcat ("sqlite://", fx->path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) plain = NULL;

  g_assert_true (g_path_is_absolute (fx->path));
  fx->pools = msb_db_pools_open (uri, 0, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->pools);
  test_write_ok (fx->pools, "CREATE TABLE t(x)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t VALUES (7)", NULL);

  /* The very same file as the plain path. */
  g_assert_true (test_file_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT x FROM t"), ==, 7);
  plain = test_open (fx->path, 0, 0, 0);
  g_assert_cmpint (test_read_int (plain, "SELECT x FROM t"), ==, 7);
  g_assert_true (msb_db_pools_close (plain, NULL, NULL));
  /* Only the database (and its WAL files) in the directory. */
  g_assert_cmpuint (dir_entries (fx->dir), <=, 3);
}

static void
test_unsupported_scheme (Fixture       *fx,
                         gconstpointer  data)
{
  static const char *targets[] = {
    "mysql://h:1/x",
    "redis://10.0.0.1:9001,10.0.0.2:9001/app",
    "http://x",
    "postgres://user@host/db",
    "file:///tmp/msb-db-should-not-exist.db",
    "SQLITE3://x",
  };
  g_autofree char *cwd = g_get_current_dir ();

  /* Work inside the empty temp dir: nothing may be created here. */
  g_assert_cmpint (g_chdir (fx->dir), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbPools) pools = NULL;
      g_autoptr(MsbDbPools) ro = NULL;

      pools = msb_db_pools_open (targets[i], 0, 0, 0, NULL, &error);
      g_test_message ("%s -> %s", targets[i], error ? error->message : "(opened)");
      g_assert_null (pools);
      assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
      assert_message_contains (error, "not a supported");
      g_clear_error (&error);

      ro = msb_db_pools_open_read_only (targets[i], 0, 0, 0, NULL, &error);
      g_assert_null (ro);
      assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
    }
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_cmpuint (dir_entries (fx->dir), ==, 0);
  g_assert_false (test_file_exists ("/tmp/msb-db-should-not-exist.db"));
}

static void
expect_cant_open (const char *path,
                  MsbDbError  code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) ro = NULL;

  pools = msb_db_pools_open (path, 0, 0, 0, NULL, &error);
  g_test_message ("open %s -> %s", path, error ? error->message : "(opened)");
  g_assert_null (pools);
  assert_msb_error (error, code);
  g_clear_error (&error);

  ro = msb_db_pools_open_read_only (path, 0, 0, 0, NULL, &error);
  g_test_message ("open read-only %s -> %s", path, error ? error->message : "(opened)");
  g_assert_null (ro);
  assert_msb_error (error, code);
}

static void
test_directory (Fixture       *fx,
                gconstpointer  data)
{
  expect_cant_open (fx->dir, MSB_DB_ERROR_CANT_OPEN);
  g_assert_cmpuint (dir_entries (fx->dir), ==, 0);
}

static void
test_missing_directory (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fx->dir, "no", "such", "dir", NULL);
  g_autofree char *path = g_build_filename (missing, "x.db", NULL);

  expect_cant_open (path, MSB_DB_ERROR_CANT_OPEN);
  g_assert_false (test_file_exists (missing));
  g_assert_cmpuint (dir_entries (fx->dir), ==, 0);
}

static void
test_garbage_file (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GString *garbage = g_string_new (NULL);
  g_autofree char *after = NULL;
  gsize after_len = 0;

  while (garbage->len < 16384)
    g_string_append (garbage, "this is definitely not an SQLite database file. ");
  g_assert_true (g_file_set_contents (fx->path, garbage->str, garbage->len, &error));
  g_assert_no_error (error);

  expect_cant_open (fx->path, MSB_DB_ERROR_CORRUPT);

  /* Left exactly as it was. */
  g_assert_true (g_file_get_contents (fx->path, &after, &after_len, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (after, after_len, garbage->str, garbage->len);
  g_string_free (garbage, TRUE);
}

/* A file with a valid header but a broken schema page. */
static void
test_corrupt_schema (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(MsbDbPools) pools = NULL;

  raw_exec (fx->path,
            "PRAGMA journal_mode=DELETE; PRAGMA page_size=4096;"
            "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
  g_assert_true (g_file_get_contents (fx->path, &contents, &len, &error));
  g_assert_cmpuint (len, >=, 8192);
  /* Scribble over page 1 after the 100-byte header (the schema b-tree). */
  memset (contents + 100, 0xff, 4096 - 100);
  g_assert_true (g_file_set_contents (fx->path, contents, len, &error));
  g_assert_no_error (error);

  pools = msb_db_pools_open (fx->path, 0, 0, 0, NULL, &error);
  g_test_message ("open corrupt schema -> %s", error ? error->message : "(opened)");
  if (pools != NULL)
    {
      /* If opening did not touch the schema, the first query must. */
      g_autoptr(MsbDbRows) rows = msb_db_pools_read (pools, "SELECT x FROM t", NULL, NULL, &error);
      g_assert_null (rows);
    }
  assert_msb_error (error, MSB_DB_ERROR_CORRUPT);
}

static void
test_empty_file (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *mode = NULL;

  /* SQLite treats an empty file as an empty database. */
  g_assert_true (g_file_set_contents (fx->path, "", 0, &error));
  fx->pools = test_open (fx->path, 0, 0, 0);
  mode = test_read_string (fx->pools, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  test_write_ok (fx->pools, "CREATE TABLE t(x)", NULL);
}

static void
test_permission_denied (Fixture       *fx,
                        gconstpointer  data)
{
  if (geteuid () == 0)
    {
      g_test_skip ("running as root: file permissions do not apply, "
                   "and dropping privileges is not possible here");
      return;
    }

  raw_exec (fx->path, "CREATE TABLE t(x)");
  g_assert_cmpint (g_chmod (fx->path, 0000), ==, 0);
  expect_cant_open (fx->path, MSB_DB_ERROR_CANT_OPEN);
  g_assert_cmpint (g_chmod (fx->path, 0600), ==, 0);
}

static void
test_empty_path (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;

  /* "" would be a private temporary database for SQLite: refused. */
  pools = msb_db_pools_open ("", 0, 0, 0, NULL, &error);
  g_assert_null (pools);
  g_assert_nonnull (error);
  g_test_message ("\"\" -> %s", error->message);
  g_assert_true (error->domain == MSB_DB_ERROR);
  g_assert_true (error->code == MSB_DB_ERROR_CANT_OPEN ||
                 error->code == MSB_DB_ERROR_INVALID_ARGUMENT);
}

static void
test_properties (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) defaults = NULL;
  g_autofree char *path = NULL;
  guint max_read = 0;
  gint64 connect_timeout = 0, busy_timeout = 0;
  gboolean read_only = TRUE;

  pools = g_initable_new (MSB_DB_TYPE_POOLS, NULL, &error,
                          "path", fx->path,
                          "max-read-connections", 2,
                          "connect-timeout", (gint64) (3 * G_TIME_SPAN_SECOND),
                          "busy-timeout", (gint64) (1500 * G_TIME_SPAN_MILLISECOND),
                          NULL);
  g_assert_no_error (error);
  g_assert_nonnull (pools);
  g_object_get (pools,
                "path", &path,
                "max-read-connections", &max_read,
                "connect-timeout", &connect_timeout,
                "busy-timeout", &busy_timeout,
                "read-only", &read_only,
                NULL);
  g_assert_cmpstr (path, ==, fx->path);
  g_assert_cmpstr (msb_db_pools_get_path (pools), ==, fx->path);
  g_assert_cmpuint (max_read, ==, 2);
  g_assert_cmpint (connect_timeout, ==, 3 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (busy_timeout, ==, 1500 * G_TIME_SPAN_MILLISECOND);
  g_assert_false (read_only);
  g_assert_cmpint (test_read_int (pools, "PRAGMA busy_timeout"), ==, 1500);
  g_assert_cmpint (test_write_int (pools, "PRAGMA busy_timeout"), ==, 1500);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));

  defaults = g_initable_new (MSB_DB_TYPE_POOLS, NULL, &error, "path", fx->path, NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_pools_get_max_read_connections (defaults), ==, 4);
  g_assert_cmpint (msb_db_pools_get_connect_timeout (defaults), ==, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (msb_db_pools_get_busy_timeout (defaults), ==, 5 * G_TIME_SPAN_SECOND);
  g_assert_false (msb_db_pools_get_read_only (defaults));
  g_assert_true (msb_db_pools_close (defaults, NULL, NULL));
}

/* Several openers of one fresh file at the same moment (two processes
 * starting together): all succeed. */
typedef struct {
  const char *path;
  GMutex     *mutex;
  GCond      *cond;
  guint      *ready;
  guint       index;
  GError     *error;
} Opener;

#define N_OPENERS 4

static gpointer
opener_thread (gpointer data)
{
  Opener *o = data;
  MsbDbPools *pools;
  g_autoptr(MsbDbRows) rows = NULL;

  g_mutex_lock (o->mutex);
  (*o->ready)++;
  g_cond_broadcast (o->cond);
  while (*o->ready < N_OPENERS)
    g_cond_wait (o->cond, o->mutex);
  g_mutex_unlock (o->mutex);

  pools = msb_db_pools_open (o->path, 1, 0, 0, NULL, &o->error);
  if (pools == NULL)
    return NULL;
  rows = msb_db_pools_write (pools, "CREATE TABLE IF NOT EXISTS t(x)", NULL, NULL, &o->error);
  if (rows != NULL)
    {
      g_clear_object (&rows);
      rows = msb_db_pools_write (pools, "INSERT INTO t VALUES (?)",
                                 g_variant_new ("(u)", o->index), NULL, &o->error);
    }
  msb_db_pools_close (pools, NULL, NULL);
  g_object_unref (pools);
  return NULL;
}

static void
test_concurrent_create (Fixture       *fx,
                        gconstpointer  data)
{
  for (guint round = 0; round < 10; round++)
    {
      g_autofree char *path = g_strdup_printf ("%s/fresh%u.db", fx->dir, round);
      GMutex mutex;
      GCond cond;
      guint ready = 0;
      Opener openers[N_OPENERS];
      GThread *threads[N_OPENERS];
      g_autofree char *mode = NULL;

      g_mutex_init (&mutex);
      g_cond_init (&cond);
      for (guint i = 0; i < N_OPENERS; i++)
        {
          openers[i] = (Opener) { path, &mutex, &cond, &ready, i, NULL };
          threads[i] = g_thread_new ("opener", opener_thread, &openers[i]);
        }
      for (guint i = 0; i < N_OPENERS; i++)
        {
          g_thread_join (threads[i]);
          if (openers[i].error)
            g_test_message ("round %u opener %u: %s", round, i, openers[i].error->message);
          g_assert_no_error (openers[i].error);
        }
      g_mutex_clear (&mutex);
      g_cond_clear (&cond);
      g_assert_cmpint (raw_int (path, "SELECT count(*) FROM t"), ==, N_OPENERS);
      mode = raw_string (path, "PRAGMA journal_mode");
      g_assert_cmpstr (mode, ==, "wal");
    }
}

/* `file:` names are URIs to SQLite: they are refused, so that every check
 * applies to what SQLite opens and no URI parameter changes the settings.
 * A file whose name starts with "file:" is still reachable as ./file:... */
static gboolean
dir_has_entry_with_prefix (const char *path,
                           const char *prefix)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;
  gboolean found = FALSE;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    found |= g_str_has_prefix (name, prefix);
  g_dir_close (dir);
  return found;
}

static void
test_file_uri (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *fifo = g_build_filename (fx->dir, "fifo", NULL);
  g_autofree char *fifo_uri = g_strconcat ("file:", fifo, NULL);
  g_autofree char *immutable = g_strdup_printf ("file:%s?immutable=1", fx->path);
  g_autofree char *memory = g_strdup_printf ("file:%s?mode=memory", fx->path);
  g_autofree char *cwd = g_get_current_dir ();
  const char *relative[] = { "file:x.db?immutable=1", "file:y.db", "FILE:z.db?mode=rwc" };
  g_autoptr(MsbDbPools) literal = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  raw_exec (fx->path, "CREATE TABLE t(x)");

  {
    const char *absolute[] = { fifo_uri, immutable, memory };

    for (guint i = 0; i < G_N_ELEMENTS (absolute); i++)
      for (guint ro = 0; ro < 2; ro++)
        {
          g_autoptr(MsbDbPools) pools = NULL;

          pools = ro ? msb_db_pools_open_read_only (absolute[i], 0, 0, 0, NULL, &error)
                     : msb_db_pools_open (absolute[i], 0, 0, 0, NULL, &error);
          g_test_message ("%s -> %s", absolute[i], error ? error->message : "(opened)");
          g_assert_null (pools);
          assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
          assert_message_contains (error, "file:");
          g_clear_error (&error);
        }
  }

  /* Relative ones leave no stray files named after the URI. */
  g_assert_cmpint (g_chdir (fx->dir), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (relative); i++)
    {
      g_autoptr(MsbDbPools) pools = msb_db_pools_open (relative[i], 0, 0, 0, NULL, &error);

      g_assert_null (pools);
      assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
      g_clear_error (&error);
    }
  g_assert_false (dir_has_entry_with_prefix (fx->dir, "file:"));
  g_assert_false (dir_has_entry_with_prefix (fx->dir, "FILE:"));

  /* The escape hatch: a path that does not start with "file:". */
  literal = msb_db_pools_open ("./file:literal.db", 0, 0, 0, NULL, &error);
  g_assert_no_error (error);
  test_write_ok (literal, "CREATE TABLE t(x)", NULL);
  g_assert_true (msb_db_pools_close (literal, NULL, NULL));
  g_assert_true (test_file_exists ("file:literal.db"));
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

/* A read pool larger than the limit is refused clearly, not replaced by
 * the default with a GLib warning. */
static void
test_too_many_read_connections (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) by_property = NULL;
  g_autoptr(MsbDbPools) largest = NULL;

  pools = msb_db_pools_open (fx->path, 5000, 0, 0, NULL, &error);
  g_assert_null (pools);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "1024");
  g_clear_error (&error);

  by_property = g_initable_new (MSB_DB_TYPE_POOLS, NULL, &error, "path", fx->path,
                                "max-read-connections", 1025, NULL);
  g_assert_null (by_property);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  largest = msb_db_pools_open (fx->path, 1024, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_pools_get_max_read_connections (largest), ==, 1024);
  g_assert_true (msb_db_pools_close (largest, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/open/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("creates-0600", test_creates_0600);
  ADD ("sqlite-uri", test_sqlite_uri);
  ADD ("unsupported-scheme", test_unsupported_scheme);
  ADD ("directory", test_directory);
  ADD ("missing-directory", test_missing_directory);
  ADD ("garbage-file", test_garbage_file);
  ADD ("corrupt-schema", test_corrupt_schema);
  ADD ("empty-file", test_empty_file);
  ADD ("permission-denied", test_permission_denied);
  ADD ("empty-path", test_empty_path);
  ADD ("properties", test_properties);
  ADD ("concurrent-create", test_concurrent_create);
  ADD ("file-uri", test_file_uri);
  ADD ("too-many-read-connections", test_too_many_read_connections);

  return g_test_run ();
}
