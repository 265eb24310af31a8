/* test-backup.c: online backups, with writers at work and disks that fill up
 *
 * The test binary re-runs itself as other processes:
 *   test-backup --child-writer PATH
 *     inserts rows 1, 2, 3... into tables a and b, one transaction each,
 *     prints "A n" after every 100th acknowledged one, and on "stop" (stdin)
 *     prints "END n" (the last acknowledged) and exits.
 *   test-backup --child-backup PATH DEST LIMIT_BYTES
 *     under setrlimit(RLIMIT_FSIZE) (SIGXFSZ ignored: writes past the limit
 *     fail with EFBIG), backs PATH up into DEST and prints "OK" or
 *     "E message".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

/* A database of about @megabytes MiB. */
static void
fill (MsbDbPools *pools,
      guint       megabytes)
{
  g_autofree char *sql = g_strdup_printf (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %u) "
    "INSERT INTO filler (data) SELECT randomblob(4000) FROM c", megabytes * 256);

  test_write_ok (pools, "CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, data BLOB)", NULL);
  test_write_ok (pools, sql, NULL);
}

static char *
integrity (const char *path)
{
  return raw_string (path, "PRAGMA integrity_check");
}

/* Names in @dir other than @keep: no temporary file may be left. */
static guint
count_other_files (const char *dir,
                   const char *keep)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (keep == NULL || !g_str_has_prefix (name, keep))
      {
        g_test_message ("left in %s: %s", dir, name);
        n++;
      }
  return n;
}

static void
test_basic (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *out_dir = g_build_filename (fx->dir, "out", NULL);
  g_autofree char *dest = g_build_filename (out_dir, "copy.db", NULL);
  g_autofree char *dest_wal = g_strconcat (dest, "-wal", NULL);
  g_autofree char *check = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  g_assert_cmpint (g_mkdir (out_dir, 0700), ==, 0);
  test_write_ok (fx->pools, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", NULL);
  test_write_ok (fx->pools, "INSERT INTO notes (body) VALUES ('one'), ('two'), ('three')", NULL);
  fill (fx->pools, 2);

  g_assert_true (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, NULL, NULL,
                                      &error));
  g_assert_no_error (error);

  /* One complete, owner-only file, nothing beside it. */
  g_assert_cmpint (g_stat (dest, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_false (test_file_exists (dest_wal));
  g_assert_cmpuint (count_other_files (out_dir, "copy.db"), ==, 0);
  check = integrity (dest);
  g_assert_cmpstr (check, ==, "ok");
  g_assert_cmpint (raw_int (dest, "SELECT count(*) FROM notes"), ==, 3);

  /* It opens with the library, and is a database of its own. */
  {
    g_autoptr(MsbDbPools) copy = test_open (dest, 1, 0, 0);

    g_assert_cmpint (test_read_int (copy, "SELECT count(*) FROM filler"), ==, 512);
    test_write_ok (copy, "INSERT INTO notes (body) VALUES ('copy only')", NULL);
    g_assert_true (msb_db_pools_close (copy, NULL, NULL));
  }
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM notes"), ==, 3);
}

static void
test_destination_exists (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autofree char *wal = g_strconcat (dest, "-wal", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t (x)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t VALUES (42)", NULL);
  g_assert_true (g_file_set_contents (dest, "precious", -1, NULL));

  g_assert_false (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, NULL, NULL,
                                       &error));
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "exists");
  g_assert_true (g_file_get_contents (dest, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");
  g_assert_cmpuint (count_other_files (fx->dir, "test.db"), ==, 1);
  g_clear_error (&error);

  /* Asked for, it is replaced, in one step. */
  g_assert_true (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_REPLACE, NULL, NULL, NULL,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (dest, "SELECT x FROM t"), ==, 42);

  /* A -wal beside the destination would be mixed into the copy. */
  g_assert_true (g_file_set_contents (wal, "not ours", -1, NULL));
  g_assert_false (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_REPLACE, NULL, NULL, NULL,
                                       &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "-wal");
  g_clear_error (&error);
  g_unlink (wal);

  /* No directory, or a directory as destination. */
  {
    g_autofree char *nowhere = g_build_filename (fx->dir, "missing", "copy.db", NULL);

    g_assert_false (msb_db_pools_backup (fx->pools, nowhere, MSB_DB_BACKUP_NONE, NULL, NULL,
                                         NULL, &error));
    assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
    g_clear_error (&error);
    g_assert_false (msb_db_pools_backup (fx->pools, fx->dir, MSB_DB_BACKUP_REPLACE, NULL, NULL,
                                         NULL, &error));
    assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
  }
}

typedef struct {
  GThread *thread;
  guint calls;
  goffset last;
  goffset total;
  gboolean decreased;
  gboolean wrong_thread;
  gboolean after_ready;
  gboolean ready;
  MsbDbPools *pools;        /* write a mark from the first report */
  gboolean marked;
  GCancellable *cancel;     /* cancel from the first report */
} Progress;

static void
on_progress (goffset  current,
             goffset  total,
             gpointer data)
{
  Progress *p = data;

  if (g_thread_self () != p->thread)
    p->wrong_thread = TRUE;
  if (p->ready)
    p->after_ready = TRUE;
  if (current < p->last)
    p->decreased = TRUE;
  p->calls++;
  p->last = current;
  p->total = total;
  if (p->pools != NULL && !p->marked)
    {
      /* The copy has started: its snapshot is taken, this is not in it.
       * The write completes while the backup runs. */
      test_write_ok (p->pools, "INSERT INTO marks VALUES ('after the snapshot')", NULL);
      p->marked = TRUE;
    }
  if (p->cancel != NULL)
    g_cancellable_cancel (p->cancel);
}

static void
test_progress (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autoptr(GError) error = NULL;
  Progress p = { g_thread_self () };
  gint64 bytes;

  fill (fx->pools, 16);
  bytes = test_read_int (fx->pools, "PRAGMA page_count") * test_read_int (fx->pools, "PRAGMA page_size");
  g_assert_true (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, on_progress, &p,
                                      &error));
  g_assert_no_error (error);
  g_test_message ("%u progress reports, the last %" G_GOFFSET_FORMAT " of %" G_GOFFSET_FORMAT,
                  p.calls, p.last, p.total);
  /* 16 MiB in steps of 4 MiB: several reports, on this thread, the last
   * one complete. */
  g_assert_cmpuint (p.calls, >=, 2);
  g_assert_false (p.wrong_thread);
  g_assert_false (p.decreased);
  g_assert_cmpint (p.total, ==, bytes);
  g_assert_cmpint (p.last, ==, p.total);
}

static void
on_async_ready (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Progress *p = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_backup_finish (MSB_DB_POOLS (source), result, &error));
  g_assert_no_error (error);
  p->ready = TRUE;
}

static void
free_progress_data (gpointer data)
{
  Progress *p = data;

  /* Freed once no more report comes, before the outcome. */
  g_assert_false (p->ready);
  p->marked = TRUE;
}

static void
test_async (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  Progress p = { g_thread_self () };

  fill (fx->pools, 12);
  msb_db_pools_backup_async (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, on_progress, &p,
                             free_progress_data, on_async_ready, &p);
  test_wait_flag (&p.ready, 60);
  g_assert_true (p.marked);             /* the data was freed */
  g_assert_cmpuint (p.calls, >=, 1);
  g_assert_false (p.wrong_thread);
  g_assert_false (p.after_ready);
  g_assert_cmpint (p.last, ==, p.total);
  g_assert_cmpint (raw_int (dest, "SELECT count(*) FROM filler"), ==, 12 * 256);
}

static void
test_cancelled (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Progress p = { g_thread_self () };

  /* Big enough (12 steps) that the copy is far from done when the first
   * report comes back to this thread. */
  fill (fx->pools, 48);
  p.cancel = cancellable;
  g_assert_false (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, cancellable,
                                       on_progress, &p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (p.calls, >=, 1);
  g_assert_false (test_file_exists (dest));
  g_assert_cmpuint (count_other_files (fx->dir, "test.db"), ==, 0);
}

/* Cancelled while it waits for a read connection: it never starts. */
static void
test_cancelled_queued (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = test_open (fx->path, 1, 0, 0);
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Blocker *reader;

  test_write_ok (pools, "CREATE TABLE t (x)", NULL);
  reader = blocker_start (pools, FALSE);
  msb_db_pools_backup_async (pools, dest, MSB_DB_BACKUP_NONE, cancellable, NULL, NULL, NULL,
                             test_async_result_cb, &result);
  g_cancellable_cancel (cancellable);
  test_wait_result (&result, 30);
  g_assert_false (msb_db_pools_backup_finish (pools, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  blocker_finish (reader);
  g_assert_false (test_file_exists (dest));
  g_assert_cmpuint (count_other_files (fx->dir, "test.db"), ==, 0);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

static void
test_read_only_pools (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autoptr(MsbDbPools) reader = NULL;
  g_autoptr(GError) error = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t (x)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t VALUES (7)", NULL);
  reader = msb_db_pools_open_read_only (fx->path, 1, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (msb_db_pools_backup (reader, dest, MSB_DB_BACKUP_NONE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (dest, "SELECT x FROM t"), ==, 7);
}

/* A writer in another process -------------------------------------------- */

static gboolean
child_insert (MsbDbConnection  *connection,
              gpointer          data,
              GError          **error)
{
  gint64 id = *(gint64 *) data;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;

  a = msb_db_connection_execute (connection, "INSERT INTO a (id) VALUES (?)",
                                 g_variant_new ("(x)", id), error);
  if (a == NULL)
    return FALSE;
  b = msb_db_connection_execute (connection, "INSERT INTO b (id, data) VALUES (?, randomblob(200))",
                                 g_variant_new ("(x)", id), error);
  return b != NULL;
}

static int
child_writer (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = msb_db_pools_open (path, 1, 0, 0, NULL, &error);
  GPollFD in = { 0, G_IO_IN, 0 };
  gint64 id = 0;

  if (pools == NULL)
    {
      printf ("ERROR %s\n", error->message);
      return 1;
    }
  for (;;)
    {
      gint64 next = id + 1;

      if (!msb_db_pools_transaction (pools, child_insert, &next, NULL, &error))
        {
          printf ("ERROR %s\n", error->message);
          return 1;
        }
      id = next;
      if (id % 100 == 0)
        {
          printf ("A %" G_GINT64_FORMAT "\n", id);
          fflush (stdout);
        }
      /* "stop", or the parent gone. */
      if (g_poll (&in, 1, 0) > 0)
        break;
    }
  printf ("END %" G_GINT64_FORMAT "\n", id);
  fflush (stdout);
  return msb_db_pools_close (pools, NULL, NULL) ? 0 : 1;
}

static char *
read_line (GDataInputStream *in)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (line);
  if (g_str_has_prefix (line, "ERROR"))
    g_error ("writer process: %s", line);
  return line;
}

static void
test_consistent_under_writes (Fixture       *fx,
                              gconstpointer  data)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dest = g_build_filename (fx->dir, "copy.db", NULL);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) writer = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *check = NULL;
  Progress p = { g_thread_self () };
  gint64 acked_before = 0, acked_after = 0, last = 0, copied;

  test_write_ok (fx->pools, "CREATE TABLE a (id INTEGER PRIMARY KEY)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE marks (what TEXT)", NULL);
  fill (fx->pools, 48);

  writer = g_subprocess_launcher_spawn (launcher, &error, self, "--child-writer", fx->path, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (writer));

  /* The writer is at work. */
  while (acked_before < 1000)
    {
      g_autofree char *line = read_line (out);

      acked_before = g_ascii_strtoll (line + 2, NULL, 10);
    }

  p.pools = fx->pools;
  g_assert_true (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, on_progress, &p,
                                      &error));
  g_assert_no_error (error);

  /* Stop the writer; its last line says how far it got. */
  g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (writer), "stop\n", 5,
                                            NULL, NULL, &error));
  for (;;)
    {
      g_autofree char *line = read_line (out);

      if (g_str_has_prefix (line, "END "))
        {
          last = g_ascii_strtoll (line + 4, NULL, 10);
          break;
        }
      acked_after = g_ascii_strtoll (line + 2, NULL, 10);
    }
  g_assert_true (g_subprocess_wait_check (writer, NULL, &error));
  g_assert_no_error (error);

  /* One committed state: every transaction whole (a and b agree), the
   * rows 1..n without a gap, at least what was acknowledged before the
   * backup began, and nothing written after its snapshot was taken. */
  check = integrity (dest);
  g_assert_cmpstr (check, ==, "ok");
  copied = raw_int (dest, "SELECT count(*) FROM a");
  g_test_message ("acknowledged before the backup: %" G_GINT64_FORMAT ", in the backup: %"
                  G_GINT64_FORMAT ", acknowledged by the end: %" G_GINT64_FORMAT
                  " (the writer went on during the backup: %" G_GINT64_FORMAT " more by "
                  "the time it was stopped)", acked_before, copied, MAX (acked_after, last),
                  last - acked_before);
  g_assert_cmpint (copied, >=, acked_before);
  g_assert_cmpint (copied, <=, last);
  g_assert_cmpint (raw_int (dest, "SELECT count(*) FROM b"), ==, copied);
  g_assert_cmpint (raw_int (dest, "SELECT max(id) FROM a"), ==, copied);
  g_assert_cmpint (raw_int (dest, "SELECT max(id) FROM b"), ==, copied);
  g_assert_cmpint (raw_int (dest, "SELECT count(*) FROM filler"), ==, 48 * 256);
  g_assert_true (p.marked);
  g_assert_cmpint (raw_int (dest, "SELECT count(*) FROM marks"), ==, 0);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM marks"), ==, 1);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM a"), ==, last);
}

/* A full disk ---------------------------------------------------------------- */

static int
child_backup (const char *path,
              const char *dest,
              const char *limit_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  struct rlimit limit;

  signal (SIGXFSZ, SIG_IGN);
  limit.rlim_cur = limit.rlim_max = g_ascii_strtoull (limit_text, NULL, 10);
  if (setrlimit (RLIMIT_FSIZE, &limit) != 0)
    {
      printf ("ERROR setrlimit\n");
      return 1;
    }
  pools = msb_db_pools_open_read_only (path, 1, 0, 0, NULL, &error);
  if (pools == NULL)
    {
      printf ("ERROR %s\n", error->message);
      return 1;
    }
  if (msb_db_pools_backup (pools, dest, MSB_DB_BACKUP_NONE, NULL, NULL, NULL, &error))
    printf ("OK\n");
  else
    printf ("E %s %d %s\n", g_quark_to_string (error->domain), error->code, error->message);
  /* The pools still work. */
  if (test_read_int (pools, "SELECT count(*) FROM filler") != 8 * 256)
    printf ("ERROR count\n");
  return msb_db_pools_close (pools, NULL, NULL) ? 0 : 1;
}

static void
assert_full_error (const char *message,
                   gboolean    enospc)
{
  g_test_message ("%s", message);
  g_assert_nonnull (strstr (message, "Could not write the backup"));
  if (enospc)
    g_assert_nonnull (strstr (message, "SQLITE_FULL"));
  else
    g_assert_true (strstr (message, "SQLITE_FULL") != NULL || strstr (message, "SQLITE_IOERR") != NULL);
}

static void
test_disk_full_rlimit (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *out_dir = g_build_filename (fx->dir, "out", NULL);
  g_autofree char *dest = g_build_filename (out_dir, "copy.db", NULL);
  g_autofree char *output = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("E %s %d ", g_quark_to_string (MSB_DB_ERROR),
                                               MSB_DB_ERROR_FAILED);

  g_assert_cmpint (g_mkdir (out_dir, 0700), ==, 0);
  fill (fx->pools, 8);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self, "--child-backup",
                            fx->path, dest, "1048576", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (child, NULL, NULL, &output, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);
  g_assert_true (g_str_has_prefix (output, expected));
  g_assert_null (strstr (output, "ERROR"));
  assert_full_error (output, FALSE);

  /* Nothing at the destination, no temporary file, no journal. */
  g_assert_false (test_file_exists (dest));
  g_assert_cmpuint (count_other_files (out_dir, NULL), ==, 0);
}

static void
test_disk_full_tmpfs (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *small = g_build_filename (fx->dir, "small", NULL);
  g_autofree char *dest = g_build_filename (small, "copy.db", NULL);
  g_autofree char *mount = g_strdup_printf ("mount -t tmpfs -o size=768k,mode=0700 msb-db-full %s", small);
  g_autofree char *umount = g_strdup_printf ("umount %s", small);
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_cmpint (g_mkdir (small, 0700), ==, 0);
  if (getuid () != 0)
    {
      g_test_skip ("mounting a small tmpfs needs root");
      return;
    }
  if (!g_spawn_command_line_sync (mount, NULL, NULL, &status, NULL) || status != 0)
    {
      g_test_skip ("could not mount a tmpfs (no CAP_SYS_ADMIN?)");
      return;
    }

  fill (fx->pools, 8);
  g_assert_false (msb_db_pools_backup (fx->pools, dest, MSB_DB_BACKUP_NONE, NULL, NULL, NULL,
                                       &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_full_error (error->message, TRUE);
  g_assert_false (test_file_exists (dest));
  g_assert_cmpuint (count_other_files (small, NULL), ==, 0);

  /* The pools go on. */
  test_write_ok (fx->pools, "INSERT INTO filler (data) VALUES (x'00')", NULL);
  g_assert_true (g_spawn_command_line_sync (umount, NULL, NULL, &status, NULL));
  g_assert_cmpint (status, ==, 0);
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "--child-writer") == 0)
    return child_writer (argv[2]);
  if (argc >= 5 && strcmp (argv[1], "--child-backup") == 0)
    return child_backup (argv[2], argv[3], argv[4]);

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/backup/basic", Fixture, NULL, fixture_setup_open, test_basic, fixture_teardown);
  g_test_add ("/backup/destination", Fixture, NULL, fixture_setup_open, test_destination_exists,
              fixture_teardown);
  g_test_add ("/backup/progress", Fixture, NULL, fixture_setup_open, test_progress,
              fixture_teardown);
  g_test_add ("/backup/async", Fixture, NULL, fixture_setup_open, test_async, fixture_teardown);
  g_test_add ("/backup/cancelled", Fixture, NULL, fixture_setup_open, test_cancelled,
              fixture_teardown);
  g_test_add ("/backup/cancelled/queued", Fixture, NULL, fixture_setup, test_cancelled_queued,
              fixture_teardown);
  g_test_add ("/backup/read-only-pools", Fixture, NULL, fixture_setup_open, test_read_only_pools,
              fixture_teardown);
  g_test_add ("/backup/consistent-under-writes", Fixture, NULL, fixture_setup_open,
              test_consistent_under_writes, fixture_teardown);
  g_test_add ("/backup/disk-full/rlimit", Fixture, NULL, fixture_setup_open,
              test_disk_full_rlimit, fixture_teardown);
  g_test_add ("/backup/disk-full/tmpfs", Fixture, NULL, fixture_setup_open,
              test_disk_full_tmpfs, fixture_teardown);

  return g_test_run ();
}
