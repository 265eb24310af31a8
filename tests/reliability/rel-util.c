/* rel-util.c: helpers shared by the reliability suites
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"
#include "../core/test-common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define HAVE_VALGRIND_H 1
# endif
#endif

#if defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#  define UNDER_SANITIZER 1
# endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define UNDER_SANITIZER 1
#endif

static char *self_path;

/* Children ------------------------------------------------------------- */

gboolean
rel_dispatch_child (int                  argc,
                    char               **argv,
                    const RelChildMode  *modes,
                    int                 *status)
{
  if (g_path_is_absolute (argv[0]))
    self_path = g_strdup (argv[0]);
  else
    {
      g_autofree char *cwd = g_get_current_dir ();
      self_path = g_canonicalize_filename (argv[0], cwd);
    }

  if (argc < 3 || strcmp (argv[1], "--child") != 0)
    return FALSE;

  for (const RelChildMode *m = modes; m->name != NULL; m++)
    if (strcmp (m->name, argv[2]) == 0)
      {
        *status = m->func (argc - 3, argv + 3);
        return TRUE;
      }
  g_printerr ("unknown child mode %s\n", argv[2]);
  *status = 99;
  return TRUE;
}

const char *
rel_self_path (void)
{
  g_assert_nonnull (self_path);
  return self_path;
}

GSubprocess *
rel_spawn_childv (const char          *mode,
                  const char * const  *args,
                  GError             **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  g_ptr_array_add (argv, (gpointer) rel_self_path ());
  g_ptr_array_add (argv, (gpointer) "--child");
  g_ptr_array_add (argv, (gpointer) mode);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  return g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
}

GSubprocess *
rel_spawn_child (GError     **error,
                 const char  *mode,
                 ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  const char *arg;

  va_start (ap, mode);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return rel_spawn_childv (mode, (const char * const *) args->pdata, error);
}

struct _RelLines
{
  int fd;
  GString *buffer;
  gboolean eof;
};

RelLines *
rel_lines_new (GSubprocess *child)
{
  RelLines *lines = g_new0 (RelLines, 1);
  GInputStream *stream = g_subprocess_get_stdout_pipe (child);

  g_assert_true (G_IS_UNIX_INPUT_STREAM (stream));
  lines->fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));
  lines->buffer = g_string_new (NULL);
  return lines;
}

void
rel_lines_free (RelLines *lines)
{
  if (lines == NULL)
    return;
  g_string_free (lines->buffer, TRUE);
  g_free (lines);
}

static char *
take_line (RelLines *lines)
{
  char *nl = memchr (lines->buffer->str, '\n', lines->buffer->len);
  char *line;

  if (nl == NULL)
    return NULL;
  line = g_strndup (lines->buffer->str, nl - lines->buffer->str);
  g_string_erase (lines->buffer, 0, nl - lines->buffer->str + 1);
  return line;
}

char *
rel_lines_next_timeout (RelLines  *lines,
                        GTimeSpan  timeout)
{
  gint64 deadline = timeout < 0 ? G_MAXINT64 : g_get_monotonic_time () + timeout;

  for (;;)
    {
      char *line = take_line (lines);
      char chunk[4096];
      struct pollfd pfd = { .fd = lines->fd, .events = POLLIN };
      gint64 now;
      ssize_t n;
      int ms, rc;

      if (line != NULL)
        return line;
      if (lines->eof)
        {
          /* A last line without newline (the child died mid-line) is
           * dropped: it was never acknowledged completely. */
          return NULL;
        }

      now = g_get_monotonic_time ();
      if (now >= deadline)
        return NULL;
      ms = deadline == G_MAXINT64 ? -1 : (int) MIN ((deadline - now + 999) / 1000, G_MAXINT);
      rc = poll (&pfd, 1, ms);
      if (rc < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (rc, >=, 0);
      if (rc == 0)
        continue;

      n = read (lines->fd, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        lines->eof = TRUE;
      else
        g_string_append_len (lines->buffer, chunk, n);
    }
}

char *
rel_lines_next (RelLines *lines)
{
  return rel_lines_next_timeout (lines, -1);
}

void
rel_child_send (GSubprocess *child,
                const char  *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  GOutputStream *in = g_subprocess_get_stdin_pipe (child);

  g_output_stream_write_all (in, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (in, NULL, &error);
  g_assert_no_error (error);
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  gboolean *done = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

int
rel_child_wait (GSubprocess *child,
                GTimeSpan    timeout)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint64 deadline = g_get_monotonic_time () + timeout;
  gboolean done = FALSE;

  g_main_context_push_thread_default (context);
  g_subprocess_wait_async (child, NULL, on_waited, &done);
  while (!done && g_get_monotonic_time () < deadline)
    {
      GSource *tick = g_timeout_source_new (50);

      g_source_set_dummy_callback (tick);
      g_source_attach (tick, context);
      g_main_context_iteration (context, TRUE);
      g_source_destroy (tick);
      g_source_unref (tick);
    }
  if (!done)
    {
      g_subprocess_force_exit (child);
      while (!done)
        g_main_context_iteration (context, TRUE);
      g_main_context_pop_thread_default (context);
      g_error ("child process %s did not exit within %" G_GINT64_FORMAT " s",
               g_subprocess_get_identifier (child) ? g_subprocess_get_identifier (child) : "?",
               timeout / G_TIME_SPAN_SECOND);
    }
  g_main_context_pop_thread_default (context);
  return g_subprocess_get_status (child);
}

/* Files ------------------------------------------------------------------ */

char *
rel_make_tmpdir (const char *tag)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *templ = g_strdup_printf ("msb-db-rel-%s-XXXXXX", tag);
  char *dir = g_dir_make_tmp (templ, &error);

  g_assert_no_error (error);
  return dir;
}

/* The core suites' helpers, under the names these suites use. */
void
rel_rm_rf (const char *path)
{
  test_rm_rf (path);
}

static char *
subprocess_dir_name (const char *tag,
                     pid_t       parent)
{
  g_autofree char *name = g_strdup_printf ("msb-db-rel-%s-%d", tag, (int) parent);

  return g_build_filename (g_get_tmp_dir (), name, NULL);
}

char *
rel_subprocess_dir (const char *tag)
{
  char *dir = subprocess_dir_name (tag, g_test_subprocess () ? getppid () : getpid ());

  rel_rm_rf (dir);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  return dir;
}

void
rel_subprocess_dir_remove (const char *tag)
{
  g_autofree char *dir = subprocess_dir_name (tag, getpid ());

  rel_rm_rf (dir);
}

/* Raw SQLite ------------------------------------------------------------- */

sqlite3 *
rel_raw_open (const char *path,
              int         flags)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db, flags, NULL);

  if (rc != SQLITE_OK)
    g_error ("raw open of %s failed: %s", path, db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  sqlite3_busy_timeout (db, 10000);
  return db;
}

void
rel_raw_exec (sqlite3    *db,
              const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("raw SQL failed: %s: %s", sql, message);
}

static sqlite3_stmt *
raw_step_one (sqlite3    *db,
              const char *sql)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("raw prepare failed: %s: %s", sql, sqlite3_errmsg (db));
  if (sqlite3_step (stmt) != SQLITE_ROW)
    g_error ("raw query returned no row: %s: %s", sql, sqlite3_errmsg (db));
  return stmt;
}

gint64
rel_raw_int (sqlite3    *db,
             const char *sql)
{
  sqlite3_stmt *stmt = raw_step_one (db, sql);
  gint64 value = sqlite3_column_int64 (stmt, 0);

  sqlite3_finalize (stmt);
  return value;
}

char *
rel_raw_text (sqlite3    *db,
              const char *sql)
{
  sqlite3_stmt *stmt = raw_step_one (db, sql);
  char *value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));

  sqlite3_finalize (stmt);
  return value;
}

gboolean
rel_integrity_ok (const char  *path,
                  char       **report)
{
  sqlite3 *db = rel_raw_open (path, SQLITE_OPEN_READWRITE);
  g_autoptr(GString) text = g_string_new (NULL);
  sqlite3_stmt *stmt = NULL;
  gboolean ok;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          if (text->len > 0)
            g_string_append_c (text, '\n');
          g_string_append (text, (const char *) sqlite3_column_text (stmt, 0));
        }
    }
  if (rc != SQLITE_DONE)
    g_string_append_printf (text, "[error %d: %s]", rc, sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  ok = g_str_equal (text->str, "ok");
  if (report != NULL)
    *report = g_strdup (text->str);
  return ok;
}

/* Library helpers -------------------------------------------------------- */

MsbDbPools *
rel_open (const char *path,
          guint       max_read,
          GTimeSpan   connect_timeout,
          GTimeSpan   busy_timeout)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = msb_db_pools_open (path, max_read, connect_timeout, busy_timeout,
                                         NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pools);
  return pools;
}

void
rel_write_ok (MsbDbPools *pools,
              const char *sql,
              GVariant   *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write (pools, sql, params, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
}

gint64
rel_read_int (MsbDbPools *pools,
              const char *sql,
              GVariant   *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read (pools, sql, params, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

void
rel_assert_pools_usable (MsbDbPools *pools)
{
  static gint counter;
  gint64 token = g_get_real_time () * 100 + g_atomic_int_add (&counter, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rel_write_ok (pools, "CREATE TABLE IF NOT EXISTS rel_usable (token INTEGER)", NULL);
  rel_write_ok (pools, "INSERT INTO rel_usable (token) VALUES (?)",
                g_variant_new ("(x)", token));
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM rel_usable WHERE token = ?",
                                 g_variant_new ("(x)", token)), ==, 1);
  rows = msb_db_pools_read (pools, "SELECT 40 + 2", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 42);
}

void
rel_assert_db_error (const GError *error,
                     ...)
{
  va_list ap;
  int code;
  gboolean matched = FALSE;
  g_autoptr(GString) wanted = g_string_new (NULL);

  if (error == NULL)
    g_error ("expected an MsbDb error, got success");

  va_start (ap, error);
  while ((code = va_arg (ap, int)) != -1)
    {
      GEnumClass *klass = g_type_class_ref (msb_db_error_get_type ());
      GEnumValue *value = g_enum_get_value (klass, code);

      g_string_append_printf (wanted, "%s%s", wanted->len ? "|" : "",
                              value ? value->value_nick : "?");
      g_type_class_unref (klass);
      if (error->domain == MSB_DB_ERROR && error->code == code)
        matched = TRUE;
    }
  va_end (ap);

  if (!matched)
    g_error ("expected MSB_DB_ERROR %s, got %s #%d: %s", wanted->str,
             g_quark_to_string (error->domain), error->code, error->message);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  {
    g_autofree char *shown = rel_printable (error->message, 300);
    g_test_message ("  -> %s", shown);
  }
}

/* Environment ----------------------------------------------------------- */

gboolean
rel_under_valgrind (void)
{
#ifdef HAVE_VALGRIND_H
  return RUNNING_ON_VALGRIND != 0;
#else
  return FALSE;
#endif
}

guint
rel_time_factor (void)
{
  const char *env = g_getenv ("MSB_DB_TEST_TIME_FACTOR");

  if (env != NULL && g_ascii_strtoull (env, NULL, 10) > 0)
    return (guint) g_ascii_strtoull (env, NULL, 10);
  if (rel_under_valgrind ())
    return 20;
#ifdef UNDER_SANITIZER
  return 4;
#else
  return 1;
#endif
}

gboolean
rel_long_tests (void)
{
#ifdef MSB_DB_LONG_TESTS
  return TRUE;
#else
  return rel_env_int ("MSB_DB_LONG_TESTS", 0) != 0;
#endif
}

gint64
rel_env_int (const char *name,
             gint64      fallback)
{
  const char *env = g_getenv (name);

  if (env == NULL || *env == '\0')
    return fallback;
  return g_ascii_strtoll (env, NULL, 10);
}

void
rel_figure (const char *key,
            const char *format,
            ...)
{
  g_autofree char *value = NULL;
  g_autofree char *line = NULL;
  const char *file = g_getenv ("MSB_DB_FIGURES_FILE");
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);

  line = g_strdup_printf ("FIGURE %s = %s", key, value);
  if (g_test_initialized ())
    g_test_message ("%s", line);
  else
    g_printerr ("%s\n", line);

  if (file != NULL && *file != '\0')
    {
      int fd = g_open (file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

      if (fd >= 0)
        {
          g_autofree char *text = g_strconcat (line, "\n", NULL);
          if (write (fd, text, strlen (text)) < 0)
            g_warning ("could not record a figure: %s", g_strerror (errno));
          close (fd);
        }
    }
}

char *
rel_printable (const char *text,
               gsize       max)
{
  gsize length = strlen (text);
  char *valid = g_utf8_make_valid (text, MIN (length, max));

  for (char *p = valid; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return valid;
}

guint
rel_count_fds (void)
{
  return test_count_fds ();
}

guint
rel_count_threads (void)
{
  return test_count_threads ();
}

static char *marker_dir;

static void
remove_marker_dir (void)
{
  rel_rm_rf (marker_dir);
}

void
rel_setup_evil_marker (void)
{
  g_autofree char *marker = NULL;

  /* One private directory per test process, removed at exit. Subprocesses
   * (g_test_trap_subprocess) inherit their parent's. */
  if (g_getenv ("MSB_DB_REL_EVIL_MARKER") != NULL)
    return;
  marker_dir = g_dir_make_tmp ("msb-db-rel-marker-XXXXXX", NULL);
  g_assert_nonnull (marker_dir);
  marker = g_build_filename (marker_dir, "evil-extension-was-loaded", NULL);
  g_setenv ("MSB_DB_REL_EVIL_MARKER", marker, TRUE);
  atexit (remove_marker_dir);
}

void
rel_say (const char *format,
         ...)
{
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  line = g_strconcat (text, "\n", NULL);
  if (write (STDOUT_FILENO, line, strlen (line)) < 0)
    _exit (98);
}

void
rel_child_fail (const char   *what,
                const GError *error)
{
  rel_say ("ERROR %s: %s #%d: %s", what, error ? g_quark_to_string (error->domain) : "-",
           error ? error->code : 0, error ? error->message : "(no error)");
  _exit (1);
}
