/* test-maintenance.c: VACUUM, checkpoints, trusted-schema and TEMP tables
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <glib/gstdio.h>

/* A file with free pages: rows written, then deleted. */
static void
make_free_pages (MsbDbPools *pools)
{
  test_write_ok (pools, "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)", NULL);
  test_write_ok (pools, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                        "WHERE x < 2000) INSERT INTO t (data) SELECT zeroblob(1000) FROM c", NULL);
  test_write_ok (pools, "DELETE FROM t WHERE id > 10", NULL);
}

static void
test_vacuum (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 pages_before, pages_after;
  Blocker *reader;

  make_free_pages (fx->pools);
  g_assert_cmpint (test_read_int (fx->pools, "PRAGMA freelist_count"), >, 100);
  pages_before = test_read_int (fx->pools, "PRAGMA page_count");

  /* Through write() it cannot work: the writer's transaction is open. */
  rows = msb_db_pools_write (fx->pools, "VACUUM", NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  assert_message_contains (error, "VACUUM");
  g_clear_error (&error);

  /* A read holding a snapshot meanwhile goes on, and sees its own state. */
  reader = blocker_start (fx->pools, FALSE);
  msb_db_pools_vacuum (fx->pools, NULL, &error);
  g_assert_no_error (error);
  blocker_finish (reader);

  g_assert_cmpint (test_read_int (fx->pools, "PRAGMA freelist_count"), ==, 0);
  pages_after = test_read_int (fx->pools, "PRAGMA page_count");
  g_test_message ("pages: %" G_GINT64_FORMAT " before, %" G_GINT64_FORMAT " after",
                  pages_before, pages_after);
  g_assert_cmpint (pages_after, <, pages_before / 10);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 10);

  /* Writes go on afterwards, and close leaves a complete file. */
  test_write_ok (fx->pools, "INSERT INTO t (data) VALUES (x'01')", NULL);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 11);
  g_assert_cmpint (raw_int (fx->path, "PRAGMA freelist_count"), ==, 0);
  {
    g_autofree char *check = raw_string (fx->path, "PRAGMA integrity_check");
    g_assert_cmpstr (check, ==, "ok");
  }
}

static void
test_vacuum_async (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  make_free_pages (fx->pools);
  msb_db_pools_vacuum_async (fx->pools, NULL, test_async_result_cb, &result);
  test_wait_result (&result, 30);
  g_assert_true (msb_db_pools_vacuum_finish (fx->pools, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (test_read_int (fx->pools, "PRAGMA freelist_count"), ==, 0);
}

static void
test_vacuum_cancelled (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  make_free_pages (fx->pools);
  g_cancellable_cancel (cancellable);
  g_assert_false (msb_db_pools_vacuum (fx->pools, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (test_read_int (fx->pools, "PRAGMA freelist_count"), >, 100);
}

static void
test_read_only (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(MsbDbPools) reader = NULL;
  g_autoptr(GError) error = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t (x)", NULL);
  reader = msb_db_pools_open_read_only (fx->path, 1, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (msb_db_pools_vacuum (reader, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_checkpoint (reader, MSB_DB_CHECKPOINT_PASSIVE, NULL, NULL, NULL,
                                           &error));
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
}

static gint64
wal_size (const char *path)
{
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  GStatBuf st;

  if (g_stat (wal, &st) != 0)
    return -1;
  return st.st_size;
}

static void
test_checkpoint_modes (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint log_frames = -1, checkpointed = -1;
  static const MsbDbCheckpointMode modes[] = {
    MSB_DB_CHECKPOINT_PASSIVE, MSB_DB_CHECKPOINT_FULL,
    MSB_DB_CHECKPOINT_RESTART, MSB_DB_CHECKPOINT_TRUNCATE,
  };

  test_write_ok (fx->pools, "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)", NULL);


  for (gsize i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr(GEnumClass) klass = g_type_class_ref (MSB_TYPE_DB_CHECKPOINT_MODE);

      test_write_ok (fx->pools, "INSERT INTO t (data) VALUES (zeroblob(20000))", NULL);
      g_assert_cmpint (wal_size (fx->path), >, 20000);
      g_assert_true (msb_db_pools_checkpoint (fx->pools, modes[i], &log_frames, &checkpointed,
                                              NULL, &error));
      g_assert_no_error (error);
      g_test_message ("%s: %d frames in the log, %d checkpointed",
                      g_enum_get_value (klass, modes[i])->value_nick, log_frames, checkpointed);
      /* Nothing else reads: every frame is moved. */
      g_assert_cmpint (log_frames, >, 0);
      g_assert_cmpint (checkpointed, ==, log_frames);
      if (modes[i] == MSB_DB_CHECKPOINT_TRUNCATE)
        g_assert_cmpint (wal_size (fx->path), ==, 0);
    }

  /* A PASSIVE checkpoint of an empty log moves nothing. */
  g_assert_true (msb_db_pools_checkpoint (fx->pools, MSB_DB_CHECKPOINT_PASSIVE, &log_frames,
                                          &checkpointed, NULL, &error));
  g_assert_cmpint (log_frames, ==, 0);
  g_assert_cmpint (checkpointed, ==, 0);

  /* The database file alone holds every row now. */
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, G_N_ELEMENTS (modes));
}

/* Another connection (here a raw one, as another process would) reads an
 * old snapshot: the log cannot restart, and the checkpoint says so. */
static void
test_checkpoint_blocked_by_reader (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = test_open (fx->path, 1, 0, 20 * G_TIME_SPAN_MILLISECOND);
  g_autoptr(GError) error = NULL;
  gint log_frames = -1, checkpointed = -1;
  sqlite3 *reader;
  sqlite3_stmt *stmt;

  test_write_ok (pools, "CREATE TABLE t (data BLOB)", NULL);
  test_write_ok (pools, "INSERT INTO t VALUES (zeroblob(10000))", NULL);

  g_assert_cmpint (sqlite3_open_v2 (fx->path, &reader, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (reader, "BEGIN", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (reader, "SELECT count(*) FROM t", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);

  test_write_ok (pools, "INSERT INTO t VALUES (zeroblob(10000))", NULL);

  g_assert_false (msb_db_pools_checkpoint (pools, MSB_DB_CHECKPOINT_TRUNCATE, &log_frames,
                                           &checkpointed, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_BUSY);
  g_test_message ("%s", error->message);
  assert_message_contains (error, "reader");
  g_clear_error (&error);

  /* PASSIVE never waits: it copies what the reader allows. */
  g_assert_true (msb_db_pools_checkpoint (pools, MSB_DB_CHECKPOINT_PASSIVE, &log_frames,
                                          &checkpointed, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (checkpointed, <, log_frames);

  /* Once the reader is gone the log restarts. */
  sqlite3_finalize (stmt);
  sqlite3_exec (reader, "COMMIT", NULL, NULL, NULL);
  sqlite3_close (reader);
  g_assert_true (msb_db_pools_checkpoint (pools, MSB_DB_CHECKPOINT_TRUNCATE, &log_frames,
                                          &checkpointed, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (checkpointed, ==, log_frames);
  g_assert_cmpint (wal_size (fx->path), ==, 0);
  msb_db_pools_close (pools, NULL, NULL);
}

static void
test_checkpoint_async (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint log_frames = -1, checkpointed = -1;

  test_write_ok (fx->pools, "CREATE TABLE t (x)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t VALUES (1)", NULL);
  msb_db_pools_checkpoint_async (fx->pools, MSB_DB_CHECKPOINT_RESTART, NULL,
                                 test_async_result_cb, &result);
  test_wait_result (&result, 30);
  g_assert_true (msb_db_pools_checkpoint_finish (fx->pools, result, &log_frames, &checkpointed,
                                                 &error));
  g_assert_no_error (error);
  g_assert_cmpint (log_frames, >, 0);
  g_assert_cmpint (checkpointed, ==, log_frames);
}

/* trusted-schema ------------------------------------------------------------ */

/* SQLite's external-content FTS5 recipe: an index of `notes` kept up to
 * date by triggers. */
static const char * const fts5_recipe[] = {
  "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
  "CREATE VIRTUAL TABLE notes_fts USING fts5 (body, content='notes', content_rowid='id')",
  "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN "
  "  INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body); END",
  "CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN "
  "  INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
  "CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN "
  "  INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.body); "
  "  INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body); END",
};

static MsbDbPools *
open_trusted (const char *path,
              gboolean    trusted)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = g_initable_new (MSB_DB_TYPE_POOLS, NULL, &error,
                                      "path", path, "trusted-schema", trusted, NULL);

  g_assert_no_error (error);
  g_assert_nonnull (pools);
  return pools;
}

static void
test_fts5_untrusted (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = open_trusted (fx->path, FALSE);
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_get_trusted_schema (pools));
  for (gsize i = 0; i < G_N_ELEMENTS (fts5_recipe); i++)
    test_write_ok (pools, fts5_recipe[i], NULL);

  rows = msb_db_pools_write (pools, "INSERT INTO notes (body) VALUES ('hello world')", NULL, NULL,
                             &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "unsafe use of virtual table");
  g_test_message ("%s", error->message);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM notes"), ==, 0);
  g_assert_cmpint (test_read_int (pools, "PRAGMA trusted_schema"), ==, 0);
  msb_db_pools_close (pools, NULL, NULL);
}

static void
test_fts5_trusted (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = open_trusted (fx->path, TRUE);
  g_autoptr(GError) error = NULL;
  gboolean trusted = FALSE;

  g_object_get (pools, "trusted-schema", &trusted, NULL);
  g_assert_true (trusted);
  g_assert_true (msb_db_pools_get_trusted_schema (pools));
  g_assert_cmpint (test_read_int (pools, "PRAGMA trusted_schema"), ==, 1);
  g_assert_cmpint (test_write_int (pools, "PRAGMA trusted_schema"), ==, 1);

  for (gsize i = 0; i < G_N_ELEMENTS (fts5_recipe); i++)
    test_write_ok (pools, fts5_recipe[i], NULL);
  test_write_ok (pools, "INSERT INTO notes (body) VALUES ('hello world')", NULL);
  test_write_ok (pools, "INSERT INTO notes (body) VALUES ('goodbye moon')", NULL);
  test_write_ok (pools, "UPDATE notes SET body = 'hello moon' WHERE id = 2", NULL);
  test_write_ok (pools, "DELETE FROM notes WHERE id = 1", NULL);

  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'hello'"),
                   ==, 1);
  g_assert_cmpint (test_read_int (pools, "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'moon'"),
                   ==, 2);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'world'"),
                   ==, 0);
  /* The setting itself stays out of reach of SQL. */
  {
    g_autoptr(MsbDbRows) rows = msb_db_pools_write (pools, "PRAGMA trusted_schema = OFF", NULL,
                                                    NULL, &error);
    g_assert_null (rows);
    assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  }
  msb_db_pools_close (pools, NULL, NULL);

  /* The same file opened the default way refuses the triggers' writes. */
  {
    g_autoptr(MsbDbPools) untrusted = open_trusted (fx->path, FALSE);
    g_autoptr(MsbDbRows) rows = NULL;

    g_clear_error (&error);
    rows = msb_db_pools_write (untrusted, "INSERT INTO notes (body) VALUES ('x')", NULL, NULL, &error);
    g_assert_null (rows);
    assert_message_contains (error, "unsafe use of virtual table");
    msb_db_pools_close (untrusted, NULL, NULL);
  }
}

/* TEMP tables -------------------------------------------------------------- */

static void
test_temp_tables (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;

  test_write_ok (fx->pools, "CREATE TEMP TABLE scratch (x)", NULL);
  test_write_ok (fx->pools, "INSERT INTO scratch VALUES (1)", NULL);
  g_assert_cmpint (test_write_int (fx->pools, "SELECT count(*) FROM scratch"), ==, 1);

  /* As documented: reads run on other connections. */
  rows = msb_db_pools_read (fx->pools, "SELECT count(*) FROM scratch", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "no such table");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/maintenance/vacuum", Fixture, NULL, fixture_setup_open, test_vacuum,
              fixture_teardown);
  g_test_add ("/maintenance/vacuum/async", Fixture, NULL, fixture_setup_open, test_vacuum_async,
              fixture_teardown);
  g_test_add ("/maintenance/vacuum/cancelled", Fixture, NULL, fixture_setup_open,
              test_vacuum_cancelled, fixture_teardown);
  g_test_add ("/maintenance/read-only", Fixture, NULL, fixture_setup_open, test_read_only,
              fixture_teardown);
  g_test_add ("/maintenance/checkpoint/modes", Fixture, NULL, fixture_setup_open,
              test_checkpoint_modes, fixture_teardown);
  g_test_add ("/maintenance/checkpoint/blocked-by-reader", Fixture, NULL, fixture_setup,
              test_checkpoint_blocked_by_reader, fixture_teardown);
  g_test_add ("/maintenance/checkpoint/async", Fixture, NULL, fixture_setup_open,
              test_checkpoint_async, fixture_teardown);
  g_test_add ("/maintenance/trusted-schema/fts5-refused", Fixture, NULL, fixture_setup,
              test_fts5_untrusted, fixture_teardown);
  g_test_add ("/maintenance/trusted-schema/fts5-recipe", Fixture, NULL, fixture_setup,
              test_fts5_trusted, fixture_teardown);
  g_test_add ("/maintenance/temp-tables", Fixture, NULL, fixture_setup_open, test_temp_tables,
              fixture_teardown);

  return g_test_run ();
}
