/* test-pragmas.c: PRAGMAs and defensive settings, seen from both pools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

/* ---- four ways to run one statement ------------------------------------ */

typedef enum {
  VIA_READ,
  VIA_WRITE,
  VIA_SNAPSHOT,
  VIA_TRANSACTION,
} Via;

typedef struct {
  const char *sql;
  MsbDbRows  *rows;
  gboolean    read_only;
} ExecData;

static gboolean
exec_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  ExecData *data = user_data;

  data->read_only = msb_db_connection_is_read_only (connection);
  data->rows = msb_db_connection_execute (connection, data->sql, NULL, error);
  return data->rows != NULL;
}

static MsbDbRows *
run_via (MsbDbPools  *pools,
         Via          via,
         const char  *sql,
         GError     **error)
{
  ExecData data = { sql, NULL, FALSE };

  switch (via)
    {
    case VIA_READ:
      return msb_db_pools_read (pools, sql, NULL, NULL, error);
    case VIA_WRITE:
      return msb_db_pools_write (pools, sql, NULL, NULL, error);
    case VIA_SNAPSHOT:
      if (!msb_db_pools_snapshot (pools, exec_cb, &data, NULL, error))
        g_clear_object (&data.rows);
      else
        g_assert_true (data.read_only);
      return data.rows;
    case VIA_TRANSACTION:
      if (!msb_db_pools_transaction (pools, exec_cb, &data, NULL, error))
        g_clear_object (&data.rows);
      else
        g_assert_false (data.read_only);
      return data.rows;
    default:
      g_assert_not_reached ();
    }
}

static gint64
int_via (MsbDbPools *pools,
         Via         via,
         const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = run_via (pools, via, sql, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_INTEGER);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

static char *
string_via (MsbDbPools *pools,
            Via         via,
            const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = run_via (pools, via, sql, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_TEXT);
  return g_strdup (msb_db_rows_get_string (rows, 0, 0));
}

static void
check_pragmas (MsbDbPools *pools,
               Via         via,
               gint64      busy_timeout_ms)
{
  g_autofree char *journal_mode = string_via (pools, via, "PRAGMA journal_mode");

  g_assert_cmpstr (journal_mode, ==, "wal");
  g_assert_cmpint (int_via (pools, via, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint (int_via (pools, via, "PRAGMA synchronous"), ==, 1);
  g_assert_cmpint (int_via (pools, via, "PRAGMA busy_timeout"), ==, busy_timeout_ms);
  g_assert_cmpint (int_via (pools, via, "PRAGMA trusted_schema"), ==, 0);
}

static void
test_values (Fixture       *fx,
             gconstpointer  data)
{
  Via via = GPOINTER_TO_INT (data);

  /* Default busy timeout. */
  fx->pools = test_open (fx->path, 0, 0, 0);
  check_pragmas (fx->pools, via, MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * 1000);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);

  /* An explicit one, on an existing file. */
  fx->pools = test_open (fx->path, 2, 0, 1234 * G_TIME_SPAN_MILLISECOND);
  check_pragmas (fx->pools, via, 1234);
}

/* Every read connection of the pool, not just the first one: hold all of
 * them at once in snapshots, each checking its own connection. */
#define N_READERS 4

typedef struct {
  GMutex   mutex;
  GCond    cond;
  guint    inside;
  guint    checked;
  gboolean timed_out;
} Barrier;

static gint64
conn_int (MsbDbConnection *connection,
          const char      *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, sql, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

static gboolean
every_reader_cb (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  Barrier *b = user_data;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  /* Wait until all N snapshots are inside: they hold N distinct connections. */
  g_mutex_lock (&b->mutex);
  b->inside++;
  g_cond_broadcast (&b->cond);
  while (b->inside < N_READERS)
    if (!g_cond_wait_until (&b->cond, &b->mutex, deadline))
      {
        b->timed_out = TRUE;
        break;
      }
  g_mutex_unlock (&b->mutex);

  g_assert_true (msb_db_connection_is_read_only (connection));
  rows = msb_db_connection_execute (connection, "PRAGMA journal_mode", NULL, error);
  g_assert_nonnull (rows);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "wal");
  g_assert_cmpint (conn_int (connection, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint (conn_int (connection, "PRAGMA synchronous"), ==, 1);
  g_assert_cmpint (conn_int (connection, "PRAGMA busy_timeout"), ==, 777);
  g_assert_cmpint (conn_int (connection, "PRAGMA trusted_schema"), ==, 0);

  g_mutex_lock (&b->mutex);
  b->checked++;
  g_mutex_unlock (&b->mutex);
  return TRUE;
}

static gpointer
every_reader_thread (gpointer data)
{
  Fixture *fx = data;
  Barrier *b = g_object_get_data (G_OBJECT (fx->pools), "barrier");
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_snapshot (fx->pools, every_reader_cb, b, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_every_read_connection (Fixture       *fx,
                            gconstpointer  data)
{
  Barrier b = { 0 };
  GThread *threads[N_READERS];

  g_mutex_init (&b.mutex);
  g_cond_init (&b.cond);
  fx->pools = test_open (fx->path, N_READERS, 0, 777 * G_TIME_SPAN_MILLISECOND);
  g_object_set_data (G_OBJECT (fx->pools), "barrier", &b);

  for (guint i = 0; i < N_READERS; i++)
    threads[i] = g_thread_new ("reader", every_reader_thread, fx);
  for (guint i = 0; i < N_READERS; i++)
    g_thread_join (threads[i]);

  g_assert_false (b.timed_out);
  g_assert_cmpuint (b.checked, ==, N_READERS);
  g_mutex_clear (&b.mutex);
  g_cond_clear (&b.cond);
}

/* WAL is persisted in the file header: an outside connection sees it. */
static void
test_wal_persisted (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *mode = NULL;

  g_assert_false (test_file_exists (fx->path));
  fx->pools = test_open (fx->path, 0, 0, 0);
  g_assert_true (test_file_exists (fx->path));
  mode = raw_string (fx->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
}

/* An existing rollback-journal database is switched to WAL, data intact. */
static void
test_existing_delete_mode (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *mode = NULL;
  g_autofree char *raw_mode = NULL;

  raw_exec (fx->path,
            "PRAGMA journal_mode=DELETE;"
            "CREATE TABLE t(x);"
            "INSERT INTO t VALUES (1), (2), (3);");
  raw_mode = raw_string (fx->path, "PRAGMA journal_mode");
  g_assert_cmpstr (raw_mode, ==, "delete");

  fx->pools = test_open (fx->path, 0, 0, 0);
  mode = string_via (fx->pools, VIA_READ, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (test_read_int (fx->pools, "SELECT sum(x) FROM t"), ==, 6);
  g_clear_pointer (&raw_mode, g_free);
  raw_mode = raw_string (fx->path, "PRAGMA journal_mode");
  g_assert_cmpstr (raw_mode, ==, "wal");
}

static void
check_all_still_default (Fixture *fx)
{
  g_autofree char *raw_mode = NULL;

  check_pragmas (fx->pools, VIA_READ, 5000);
  check_pragmas (fx->pools, VIA_WRITE, 5000);
  raw_mode = raw_string (fx->path, "PRAGMA journal_mode");
  g_assert_cmpstr (raw_mode, ==, "wal");
}

static void
test_refused (Fixture       *fx,
              gconstpointer  data)
{
  const char *sql = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  rows = msb_db_pools_write (fx->pools, sql, NULL, NULL, &error);
  g_test_message ("%s -> %s", sql, error ? error->message : "(success)");
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MSB_DB_ERROR);
  g_clear_error (&error);

  /* Not through a transaction either. */
  {
    ExecData d = { sql, NULL, FALSE };
    g_assert_false (msb_db_pools_transaction (fx->pools, exec_cb, &d, NULL, &error));
    g_assert_nonnull (error);
    g_assert_null (d.rows);
    g_clear_error (&error);
  }

  check_all_still_default (fx);
}

/* foreign_keys=OFF refused: and the constraint is really still enforced. */
static void
test_foreign_keys_enforced (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE parent(id INTEGER PRIMARY KEY)", NULL);
  test_write_ok (fx->pools,
                 "CREATE TABLE child(id INTEGER PRIMARY KEY, "
                 "parent INTEGER NOT NULL REFERENCES parent(id))", NULL);

  rows = msb_db_pools_write (fx->pools, "PRAGMA foreign_keys=OFF", NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);

  rows = msb_db_pools_write (fx->pools, "INSERT INTO child(parent) VALUES (42)",
                             NULL, NULL, &error);
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  assert_message_contains (error, "SQLITE_CONSTRAINT_FOREIGNKEY");
  g_assert_null (rows);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM child"), ==, 0);
}

static void
test_attach_refused (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *other = g_build_filename (fx->dir, "other.db", NULL);
  g_autofree char *sql = g_strdup_printf ("ATTACH DATABASE '%s' AS other", other);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);

  rows = msb_db_pools_write (fx->pools, sql, NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MSB_DB_ERROR);
  g_clear_error (&error);
  g_assert_false (test_file_exists (other));

  rows = msb_db_pools_read (fx->pools, sql, NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MSB_DB_ERROR);
  g_clear_error (&error);
  g_assert_false (test_file_exists (other));

  /* The attach really did not happen on any connection. */
  g_assert_cmpint (test_read_int (fx->pools,
                                  "SELECT count(*) FROM pragma_database_list"), ==, 1);
  g_assert_cmpint (test_write_int (fx->pools,
                                   "SELECT count(*) FROM pragma_database_list"), ==, 1);
}

/* Defensive mode: the schema cookie cannot be forged. */
static void
test_defensive_schema_version (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(x)", NULL);
  g_assert_cmpint (raw_int (fx->path, "PRAGMA schema_version"), !=, 4242);

  rows = msb_db_pools_write (fx->pools, "PRAGMA schema_version=4242", NULL, NULL, &error);
  g_clear_object (&rows);
  g_clear_error (&error); /* refused or a no-op: both fine, checked below */

  g_assert_cmpint (raw_int (fx->path, "PRAGMA schema_version"), !=, 4242);
  g_assert_cmpint (test_write_int (fx->pools, "PRAGMA schema_version"), !=, 4242);
  /* The table is still usable. */
  test_write_ok (fx->pools, "INSERT INTO t VALUES (1)", NULL);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 1);
}

/* Defensive mode: the schema table cannot be written even with
 * writable_schema (the PRAGMA itself is refused anyway). */
static void
test_defensive_sqlite_schema (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(x)", NULL);

  rows = msb_db_pools_write (fx->pools, "PRAGMA writable_schema=ON", NULL, NULL, &error);
  g_clear_object (&rows);
  g_clear_error (&error);

  rows = msb_db_pools_write (fx->pools,
                             "UPDATE sqlite_schema SET sql = 'CREATE TABLE t(y)' WHERE name = 't'",
                             NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpint (test_read_int (fx->pools, "PRAGMA writable_schema"), ==, 0);
  g_assert_cmpint (test_write_int (fx->pools, "PRAGMA writable_schema"), ==, 0);
  g_assert_cmpint (raw_int (fx->path,
                            "SELECT count(*) FROM sqlite_schema WHERE sql = 'CREATE TABLE t(x)'"),
                   ==, 1);
}

/* Defensive mode: the shadow tables of a virtual table are read-only to
 * ordinary SQL (the authorizer alone would not catch this). */
static void
test_defensive_shadow_tables (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 before;

  fx->pools = test_open (fx->path, 0, 0, 0);
  if (test_read_int (fx->pools, "SELECT sqlite_compileoption_used('ENABLE_FTS5')") == 0)
    {
      g_test_skip ("SQLite built without FTS5");
      return;
    }
  test_write_ok (fx->pools, "CREATE VIRTUAL TABLE f USING fts5(body)", NULL);
  test_write_ok (fx->pools, "INSERT INTO f(body) VALUES ('hello world'), ('goodbye')", NULL);
  before = test_read_int (fx->pools, "SELECT count(*) FROM f_data");
  g_assert_cmpint (before, >, 0);

  rows = msb_db_pools_write (fx->pools, "DELETE FROM f_data", NULL, NULL, &error);
  g_test_message ("DELETE FROM f_data -> %s", error ? error->message : "(success)");
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM f_data"), ==, before);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM f WHERE f MATCH 'hello'"), ==, 1);
}

static void
test_load_extension_off (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autofree char *lib = g_build_filename (fx->dir, "nothere.so", NULL);
  g_autofree char *sql = g_strdup_printf ("SELECT load_extension('%s')", lib);

  fx->pools = test_open (fx->path, 0, 0, 0);

  rows = msb_db_pools_read (fx->pools, sql, NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_test_message ("read: %s", error->message);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "load_extension() is refused");
  g_clear_error (&error);

  rows = msb_db_pools_write (fx->pools, sql, NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_test_message ("write: %s", error->message);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "load_extension() is refused");
}

static void
test_connection_kinds (Fixture       *fx,
                       gconstpointer  data)
{
  ExecData d = { "SELECT 1", NULL, TRUE };
  g_autoptr(GError) error = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  g_assert_true (msb_db_pools_transaction (fx->pools, exec_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (d.read_only);
  g_clear_object (&d.rows);

  d.read_only = FALSE;
  g_assert_true (msb_db_pools_snapshot (fx->pools, exec_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (d.read_only);
  g_clear_object (&d.rows);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/pragmas/" name, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("values/read", test_values, GINT_TO_POINTER (VIA_READ));
  ADD ("values/write", test_values, GINT_TO_POINTER (VIA_WRITE));
  ADD ("values/snapshot", test_values, GINT_TO_POINTER (VIA_SNAPSHOT));
  ADD ("values/transaction", test_values, GINT_TO_POINTER (VIA_TRANSACTION));
  ADD ("values/every-read-connection", test_every_read_connection, NULL);
  ADD ("wal/persisted-in-file", test_wal_persisted, NULL);
  ADD ("wal/existing-delete-mode-file", test_existing_delete_mode, NULL);
  ADD ("refused/journal-mode-delete", test_refused, "PRAGMA journal_mode=DELETE");
  ADD ("refused/journal-mode-off", test_refused, "PRAGMA journal_mode=OFF");
  ADD ("refused/foreign-keys-off", test_refused, "PRAGMA foreign_keys=OFF");
  ADD ("refused/synchronous-off", test_refused, "PRAGMA synchronous=OFF");
  ADD ("refused/busy-timeout", test_refused, "PRAGMA busy_timeout=1");
  ADD ("refused/trusted-schema-on", test_refused, "PRAGMA trusted_schema=ON");
  ADD ("refused/writable-schema-on", test_refused, "PRAGMA writable_schema=ON");
  ADD ("refused/foreign-keys-still-enforced", test_foreign_keys_enforced, NULL);
  ADD ("refused/attach", test_attach_refused, NULL);
  ADD ("defensive/schema-version", test_defensive_schema_version, NULL);
  ADD ("defensive/sqlite-schema", test_defensive_sqlite_schema, NULL);
  ADD ("defensive/shadow-tables", test_defensive_shadow_tables, NULL);
  ADD ("defensive/load-extension-off", test_load_extension_off, NULL);
  ADD ("connection/read-only-kinds", test_connection_kinds, NULL);

  return g_test_run ();
}
