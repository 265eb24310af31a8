/* test-common.c: helpers shared by the core GTest suites
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp ("msb-db-core-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->dir);
  if (test_cluster_addresses () != NULL)
    fx->path = test_cluster_target_for (fx->dir);
  else
    fx->path = g_build_filename (fx->dir, "test.db", NULL);
  fx->pools = NULL;
}

void
fixture_setup_open (Fixture       *fx,
                    gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, 0);
}

void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  if (fx->pools != NULL)
    {
      /* Errors are irrelevant here (the test may have closed them). */
      msb_db_pools_close (fx->pools, NULL, NULL);
      g_clear_object (&fx->pools);
    }
  test_rm_rf (fx->dir);
  g_clear_pointer (&fx->dir, g_free);
  g_clear_pointer (&fx->path, g_free);
}

void
test_rm_rf (const char *path)
{
  GStatBuf st;

  if (path == NULL || g_lstat (path, &st) != 0)
    return;

  if (S_ISDIR (st.st_mode))
    {
      GDir *dir;
      const char *name;

      g_chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      if (dir != NULL)
        {
          while ((name = g_dir_read_name (dir)) != NULL)
            {
              g_autofree char *child = g_build_filename (path, name, NULL);
              test_rm_rf (child);
            }
          g_dir_close (dir);
        }
      g_rmdir (path);
    }
  else
    {
      g_unlink (path);
    }
}

MsbDbPools *
test_open (const char *path,
           guint       max_read,
           GTimeSpan   connect_timeout,
           GTimeSpan   busy_timeout)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools;

  pools = msb_db_pools_open (path, max_read, connect_timeout, busy_timeout,
                             NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pools);
  g_assert_true (MSB_DB_IS_POOLS (pools));
  return pools;
}

static gint64
rows_single_int (MsbDbRows *rows)
{
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), >=, 1);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==,
                   MSB_DB_VALUE_TYPE_INTEGER);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

gint64
test_read_int (MsbDbPools *pools,
               const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (pools, sql, NULL, NULL, &error);
  g_assert_no_error (error);
  return rows_single_int (rows);
}

gint64
test_write_int (MsbDbPools *pools,
                const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_write (pools, sql, NULL, NULL, &error);
  g_assert_no_error (error);
  return rows_single_int (rows);
}

char *
test_read_string (MsbDbPools *pools,
                  const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (pools, sql, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==,
                   MSB_DB_VALUE_TYPE_TEXT);
  return g_strdup (msb_db_rows_get_string (rows, 0, 0));
}

void
test_write_ok (MsbDbPools *pools,
               const char *sql,
               GVariant   *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_write (pools, sql, params, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rows);
}

/* ---- raw observer ------------------------------------------------------ */

static sqlite3 *
raw_open (const char *path,
          int         flags)
{
  sqlite3 *db = NULL;
  int rc;

  rc = sqlite3_open_v2 (path, &db, flags, NULL);
  if (rc != SQLITE_OK)
    g_error ("raw sqlite3_open_v2 (%s): %s", path,
             db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  sqlite3_busy_timeout (db, 10000);
  return db;
}

static sqlite3_stmt *
raw_prepare_step (sqlite3    *db,
                  const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    g_error ("raw prepare (%s): %s", sql, sqlite3_errmsg (db));
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    g_error ("raw step (%s): %d %s", sql, rc, sqlite3_errmsg (db));
  return stmt;
}

gint64
raw_int (const char *path,
         const char *sql)
{
  sqlite3 *db;
  sqlite3_stmt *stmt;
  gint64 v;

  if (test_is_cluster_target (path))
    return test_cluster_raw_int (path, sql);
  db = raw_open (path, SQLITE_OPEN_READWRITE);
  stmt = raw_prepare_step (db, sql);
  v = sqlite3_column_int64 (stmt, 0);

  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

char *
raw_string (const char *path,
            const char *sql)
{
  sqlite3 *db;
  sqlite3_stmt *stmt;
  char *v;

  if (test_is_cluster_target (path))
    return test_cluster_raw_string (path, sql);
  db = raw_open (path, SQLITE_OPEN_READWRITE);
  stmt = raw_prepare_step (db, sql);
  v = g_strdup ((const char *) sqlite3_column_text (stmt, 0));

  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

void
raw_exec (const char *path,
          const char *sql)
{
  sqlite3 *db;
  char *errmsg = NULL;

  if (test_is_cluster_target (path))
    {
      test_cluster_raw_exec (path, sql);
      return;
    }
  db = raw_open (path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_exec (db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
    g_error ("raw exec (%s): %s", sql, errmsg);
  sqlite3_close (db);
}

/* ---- timing ------------------------------------------------------------ */

guint
test_time_factor (void)
{
  static guint factor = 0;

  if (factor == 0)
    {
      const char *preload = g_getenv ("LD_PRELOAD");
      const char *env = g_getenv ("MSB_DB_TEST_TIME_FACTOR");
      guint f = 1;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
      f = 4;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
      f = 4;
#endif
#endif
      if (preload != NULL && strstr (preload, "vgpreload") != NULL)
        f = 20;
      if (env != NULL && g_ascii_strtoull (env, NULL, 10) > 0)
        f = (guint) g_ascii_strtoull (env, NULL, 10);
      factor = f;
    }
  return factor;
}

/* ---- process resources ------------------------------------------------- */

static guint
count_dir_entries (const char *path)
{
  g_autoptr(GError) error = NULL;
  GDir *dir = g_dir_open (path, 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

guint
test_count_fds (void)
{
  return count_dir_entries ("/proc/self/fd");
}

guint
test_count_threads (void)
{
  return count_dir_entries ("/proc/self/task");
}

gboolean
test_file_exists (const char *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0;
}

gboolean
test_wal_or_shm_exists (const char *path)
{
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);

  return test_file_exists (wal) || test_file_exists (shm);
}

gboolean
test_wait_files_gone (const char *path,
                      GTimeSpan   timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout;

  while (test_wal_or_shm_exists (path))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (5 * G_TIME_SPAN_MILLISECOND);
    }
  return TRUE;
}

void
test_assert_contains (const char   *file,
                      int           line,
                      const char   *func,
                      const GError *error,
                      const char   *needle)
{
  g_autofree char *msg = NULL;

  if (error == NULL)
    msg = g_strdup_printf ("expected an error whose message contains \"%s\", got no error",
                           needle);
  else if (error->message == NULL || strstr (error->message, needle) == NULL)
    msg = g_strdup_printf ("error message \"%s\" does not contain \"%s\"",
                           error->message ? error->message : "(null)", needle);
  else
    return;

  g_assertion_message (G_LOG_DOMAIN, file, line, func, msg);
}

/* ---- gate -------------------------------------------------------------- */

void
gate_init (Gate *gate)
{
  g_mutex_init (&gate->mutex);
  g_cond_init (&gate->cond);
  gate->entered = FALSE;
  gate->released = FALSE;
  gate->n_entered = 0;
}

void
gate_clear (Gate *gate)
{
  g_mutex_clear (&gate->mutex);
  g_cond_clear (&gate->cond);
}

void
gate_enter_and_wait (Gate *gate)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&gate->mutex);
  gate->entered = TRUE;
  gate->n_entered++;
  g_cond_broadcast (&gate->cond);
  while (!gate->released)
    if (!g_cond_wait_until (&gate->cond, &gate->mutex, deadline))
      break; /* never block a library thread forever */
  g_mutex_unlock (&gate->mutex);
}

gboolean
gate_wait_entered (Gate      *gate,
                   GTimeSpan  timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout;
  gboolean entered;

  g_mutex_lock (&gate->mutex);
  while (!gate->entered)
    if (!g_cond_wait_until (&gate->cond, &gate->mutex, deadline))
      break;
  entered = gate->entered;
  g_mutex_unlock (&gate->mutex);
  return entered;
}

void
gate_release (Gate *gate)
{
  g_mutex_lock (&gate->mutex);
  gate->released = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->mutex);
}

/* ---- blocker ----------------------------------------------------------- */

static gboolean
blocker_cb (MsbDbConnection  *connection,
            gpointer          user_data,
            GError          **error)
{
  Blocker *blocker = user_data;

  gate_enter_and_wait (&blocker->gate);
  return TRUE;
}

static gpointer
blocker_thread (gpointer data)
{
  Blocker *blocker = data;

  if (blocker->is_transaction)
    blocker->ok = msb_db_pools_transaction (blocker->pools, blocker_cb, blocker,
                                            NULL, &blocker->error);
  else
    blocker->ok = msb_db_pools_snapshot (blocker->pools, blocker_cb, blocker,
                                         NULL, &blocker->error);
  /* If the call failed before entering, let the test see it at once. */
  g_mutex_lock (&blocker->gate.mutex);
  blocker->gate.entered = TRUE;
  g_cond_broadcast (&blocker->gate.cond);
  g_mutex_unlock (&blocker->gate.mutex);
  return NULL;
}

Blocker *
blocker_start (MsbDbPools *pools,
               gboolean    is_transaction)
{
  Blocker *blocker = g_new0 (Blocker, 1);

  blocker->pools = g_object_ref (pools);
  blocker->is_transaction = is_transaction;
  gate_init (&blocker->gate);
  blocker->thread = g_thread_new ("test-blocker", blocker_thread, blocker);
  g_assert_true (gate_wait_entered (&blocker->gate, 10 * G_TIME_SPAN_SECOND));
  /* The callback itself must be the one that entered. */
  g_assert_no_error (blocker->error);
  g_assert_cmpuint (blocker->gate.n_entered, ==, 1);
  return blocker;
}

gboolean
blocker_finish_outcome (Blocker  *blocker,
                        GError  **error)
{
  gboolean ok;

  gate_release (&blocker->gate);
  g_thread_join (blocker->thread);
  ok = blocker->ok;
  if (blocker->error != NULL)
    g_propagate_error (error, g_steal_pointer (&blocker->error));
  gate_clear (&blocker->gate);
  g_object_unref (blocker->pools);
  g_free (blocker);
  return ok;
}

void
blocker_finish (Blocker *blocker)
{
  gate_release (&blocker->gate);
  g_thread_join (blocker->thread);
  g_assert_no_error (blocker->error);
  g_assert_true (blocker->ok);
  gate_clear (&blocker->gate);
  g_object_unref (blocker->pools);
  g_free (blocker);
}

/* ---- lock holder ------------------------------------------------------- */

struct LockHolder {
  char     *path;
  char     *sql_inside;
  GTimeSpan hold_usec;
  GMutex    mutex;
  GCond     cond;
  gboolean  held;
  gboolean  release;
  gint64    released_at;
  GThread  *thread;
  char     *failure;
};

/* Holding: says so, then waits for the release or the end of the hold. */
static void
hold_until_released (LockHolder *h)
{
  gint64 deadline;

  g_mutex_lock (&h->mutex);
  h->held = TRUE;
  g_cond_broadcast (&h->cond);
  deadline = g_get_monotonic_time () +
             (h->hold_usec >= 0 ? h->hold_usec : 120 * G_TIME_SPAN_SECOND);
  while (!h->release)
    if (!g_cond_wait_until (&h->cond, &h->mutex, deadline))
      break;
  g_mutex_unlock (&h->mutex);
}

/* On a dqlite target: the body of a write transaction (BEGIN IMMEDIATE
 * takes the same write lock on the leader). */
static gboolean
hold_in_transaction (MsbDbConnection  *connection,
                     gpointer          user_data,
                     GError          **error)
{
  LockHolder *h = user_data;

  if (h->sql_inside != NULL)
    {
      g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, h->sql_inside, NULL, error);

      if (rows == NULL)
        return FALSE;
    }
  hold_until_released (h);
  return TRUE;
}

static gpointer
lock_holder_thread (gpointer data)
{
  LockHolder *h = data;
  sqlite3 *db = NULL;
  char *errmsg = NULL;

  if (test_is_cluster_target (h->path))
    {
      h->failure = test_cluster_hold_write_lock (h->path, hold_in_transaction, h);
      h->released_at = g_get_monotonic_time ();
      goto out;
    }
  if (sqlite3_open_v2 (h->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    {
      h->failure = g_strdup_printf ("open: %s", sqlite3_errmsg (db));
      goto out;
    }
  sqlite3_busy_timeout (db, 10000);
  if (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, &errmsg) != SQLITE_OK)
    {
      h->failure = g_strdup_printf ("BEGIN IMMEDIATE: %s", errmsg);
      goto out;
    }
  if (h->sql_inside != NULL &&
      sqlite3_exec (db, h->sql_inside, NULL, NULL, &errmsg) != SQLITE_OK)
    {
      h->failure = g_strdup_printf ("%s: %s", h->sql_inside, errmsg);
      goto out;
    }

  hold_until_released (h);

  if (sqlite3_exec (db, "COMMIT", NULL, NULL, &errmsg) != SQLITE_OK)
    h->failure = g_strdup_printf ("COMMIT: %s", errmsg);
  h->released_at = g_get_monotonic_time ();

out:
  sqlite3_free (errmsg);
  sqlite3_close (db);
  g_mutex_lock (&h->mutex);
  h->held = TRUE; /* wake the starter even on failure */
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);
  return NULL;
}

LockHolder *
lock_holder_start (const char *path,
                   GTimeSpan   hold_usec,
                   const char *sql_inside)
{
  LockHolder *h = g_new0 (LockHolder, 1);

  h->path = g_strdup (path);
  h->sql_inside = g_strdup (sql_inside);
  h->hold_usec = hold_usec;
  g_mutex_init (&h->mutex);
  g_cond_init (&h->cond);
  h->thread = g_thread_new ("test-lock-holder", lock_holder_thread, h);

  g_mutex_lock (&h->mutex);
  while (!h->held)
    g_cond_wait (&h->cond, &h->mutex);
  g_mutex_unlock (&h->mutex);
  if (h->failure != NULL)
    g_error ("lock holder: %s", h->failure);
  return h;
}

void
lock_holder_release (LockHolder *h)
{
  g_mutex_lock (&h->mutex);
  h->release = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);
}

gint64
lock_holder_join (LockHolder *h)
{
  gint64 released_at;

  lock_holder_release (h);
  g_thread_join (h->thread);
  if (h->failure != NULL)
    g_error ("lock holder: %s", h->failure);
  released_at = h->released_at;
  g_mutex_clear (&h->mutex);
  g_cond_clear (&h->cond);
  g_free (h->path);
  g_free (h->sql_inside);
  g_free (h);
  return released_at;
}

/* ---- main context ------------------------------------------------------ */

void
test_async_result_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
  g_main_context_wakeup (g_main_context_get_thread_default ());
}

static gboolean
timeout_flag_cb (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

#define WAIT_UNTIL(cond, timeout_sec, what) G_STMT_START {                     \
  GMainContext *ctx_ = g_main_context_ref_thread_default ();                   \
  gboolean timed_out_ = FALSE;                                                 \
  GSource *src_ = g_timeout_source_new_seconds (timeout_sec);                  \
  g_source_set_callback (src_, timeout_flag_cb, &timed_out_, NULL);            \
  g_source_attach (src_, ctx_);                                                \
  while (!(cond) && !timed_out_)                                               \
    g_main_context_iteration (ctx_, TRUE);                                     \
  g_source_destroy (src_);                                                     \
  g_source_unref (src_);                                                       \
  g_main_context_unref (ctx_);                                                 \
  if (!(cond))                                                                 \
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,          \
                         "timed out waiting for " what);                       \
} G_STMT_END

void
test_wait_result (GAsyncResult **result,
                  guint          timeout_sec)
{
  WAIT_UNTIL (*result != NULL, timeout_sec, "an async result");
}

void
test_wait_flag (volatile gboolean *flag,
                guint              timeout_sec)
{
  WAIT_UNTIL (*flag, timeout_sec, "a flag");
}

void
test_wait_count (volatile guint *count,
                 guint           target,
                 guint           timeout_sec)
{
  WAIT_UNTIL (*count >= target, timeout_sec, "a count");
}
