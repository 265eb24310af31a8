/* test-readonly.c: read() and snapshots never write; read-only pools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

static void
setup_data (Fixture       *fx,
            gconstpointer  data)
{
  fixture_setup_open (fx, data);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('a'), ('b')", NULL);
}

static const char *write_statements[] = {
  "INSERT INTO t(v) VALUES ('read')",
  "INSERT INTO t(v) VALUES ('read') RETURNING id",
  "UPDATE t SET v = 'changed'",
  "DELETE FROM t",
  "CREATE TABLE other(x)",
  "CREATE INDEX t_v ON t(v)",
  "DROP TABLE t",
  "ALTER TABLE t ADD COLUMN w",
  "REPLACE INTO t(id, v) VALUES (1, 'r')",
  "PRAGMA user_version = 7",
  "VACUUM",
};

static char *
table_dump (const char *path)
{
  /* On a dqlite target, MsbDb's own msb_db_commits table (docs/cluster.md)
   * is not the test's. */
  return raw_string (path,
                     "SELECT group_concat(id || ':' || v, ',') || '|' || "
                     "(SELECT count(*) FROM sqlite_schema WHERE name <> 'msb_db_commits') || '|' || "
                     "(SELECT user_version FROM pragma_user_version) FROM t");
}

static void
test_read_refuses_writes (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *before = table_dump (fx->path);

  g_assert_cmpstr (before, ==, "1:a,2:b|1|0");
  for (guint i = 0; i < G_N_ELEMENTS (write_statements); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      g_autofree char *after = NULL;

      rows = msb_db_pools_read (fx->pools, write_statements[i], NULL, NULL, &error);
      g_test_message ("read(%s) -> %s", write_statements[i],
                      error ? error->message : "(success)");
      g_assert_null (rows);
      assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
      after = table_dump (fx->path);
      g_assert_cmpstr (after, ==, before);
    }

  /* Stats: none of these counted as reads. */
  {
    g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (fx->pools);
    g_assert_cmpuint (stats->reads, ==, 0);
  }
  /* And the read pool still works. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 2);
}

typedef struct {
  const char *sql;
  GError     *inner;
  gint64      count_after;
} SnapWriteData;

static gboolean
snapshot_write_cb (MsbDbConnection  *connection,
                   gpointer          user_data,
                   GError          **error)
{
  SnapWriteData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) count = NULL;

  rows = msb_db_connection_execute (connection, d->sql, NULL, &d->inner);
  g_assert_null (rows);
  /* The connection is still usable after the refusal. */
  count = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (count == NULL)
    return FALSE;
  d->count_after = msb_db_rows_get_int64 (count, 0, 0);
  return TRUE;
}

static void
test_snapshot_refuses_writes (Fixture       *fx,
                              gconstpointer  data)
{
  g_autofree char *before = table_dump (fx->path);

  for (guint i = 0; i < G_N_ELEMENTS (write_statements); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *after = NULL;
      SnapWriteData d = { write_statements[i], NULL, -1 };

      g_assert_true (msb_db_pools_snapshot (fx->pools, snapshot_write_cb, &d, NULL, &error));
      g_assert_no_error (error);
      g_test_message ("snapshot execute(%s) -> %s", d.sql,
                      d.inner ? d.inner->message : "(success)");
      assert_msb_error (d.inner, MSB_DB_ERROR_READ_ONLY);
      g_clear_error (&d.inner);
      g_assert_cmpint (d.count_after, ==, 2);
      after = table_dump (fx->path);
      g_assert_cmpstr (after, ==, before);
    }
}

/* Read-only pools over a file that another MsbDbPools writes. */
static void
test_read_only_pools (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) ro = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  ro = msb_db_pools_open_read_only (fx->path, 2, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ro);
  g_assert_true (msb_db_pools_get_read_only (ro));
  g_assert_false (msb_db_pools_get_read_only (fx->pools));

  g_assert_cmpint (test_read_int (ro, "SELECT count(*) FROM t"), ==, 2);

  before = table_dump (fx->path);
  rows = msb_db_pools_write (ro, "INSERT INTO t(v) VALUES ('ro')", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);

  rows = msb_db_pools_write (ro, "SELECT 1", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);

  rows = msb_db_pools_read (ro, "DELETE FROM t", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);

  after = table_dump (fx->path);
  g_assert_cmpstr (after, ==, before);

  /* Writes of the read-write pools become visible to the read-only ones. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('c')", NULL);
  g_assert_cmpint (test_read_int (ro, "SELECT count(*) FROM t"), ==, 3);

  g_assert_true (msb_db_pools_close (ro, NULL, &error));
  g_assert_no_error (error);
}

static gboolean
never_cb (MsbDbConnection  *connection,
          gpointer          user_data,
          GError          **error)
{
  gboolean *ran = user_data;

  *ran = TRUE;
  return TRUE;
}

static gboolean
ro_snapshot_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  gint64 *count = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  g_assert_true (msb_db_connection_is_read_only (connection));
  rows = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (rows == NULL)
    return FALSE;
  *count = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

/* Read-only pools alone (the only user of the file): no writer at all. */
static void
test_read_only_alone (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) ro = NULL;
  gboolean ran = FALSE;
  gint64 count = -1;
  guint threads_before;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&fx->pools);
  before = table_dump (fx->path);

  threads_before = test_count_threads ();
  ro = msb_db_pools_open_read_only (fx->path, 0, 0, 0, NULL, &error);
  g_assert_no_error (error);
  /* No writer thread was started by opening read-only pools. */
  g_assert_cmpuint (test_count_threads (), <=, threads_before);

  g_assert_false (msb_db_pools_transaction (ro, never_cb, &ran, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_assert_false (ran);
  g_clear_error (&error);

  g_assert_true (msb_db_pools_snapshot (ro, ro_snapshot_cb, &count, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, 2);

  {
    g_autofree char *mode = NULL;
    g_autoptr(MsbDbRows) rows = msb_db_pools_read (ro, "PRAGMA journal_mode", NULL, NULL, &error);
    g_assert_no_error (error);
    mode = g_strdup (msb_db_rows_get_string (rows, 0, 0));
    g_assert_cmpstr (mode, ==, "wal");
    g_clear_object (&rows);
    rows = msb_db_pools_read (ro, "PRAGMA foreign_keys", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 1);
    g_clear_object (&rows);
    rows = msb_db_pools_read (ro, "PRAGMA busy_timeout", NULL, NULL, &error);
    g_assert_no_error (error);
    /* A dqlite node must never sleep in a busy handler (it serves every
     * client from one thread): MsbDb waits for the lock itself there. */
    if (!test_is_cluster_target (fx->path))
      g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 5000);
  }

  g_assert_true (msb_db_pools_close (ro, NULL, &error));
  g_assert_no_error (error);
  after = table_dump (fx->path);
  g_assert_cmpstr (after, ==, before);
}

/* A read-only user that is the last one to close leaves no -wal / -shm. */
static void
test_read_only_last_user (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) ro = NULL;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&fx->pools);
  g_assert_false (test_wal_or_shm_exists (fx->path));

  ro = msb_db_pools_open_read_only (fx->path, 0, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (test_read_int (ro, "SELECT count(*) FROM t"), ==, 2);
  g_assert_true (msb_db_pools_close (ro, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (test_wal_or_shm_exists (fx->path));
}

static void
test_read_only_missing_file (Fixture       *fx,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) ro = NULL;

  ro = msb_db_pools_open_read_only (fx->path, 0, 0, 0, NULL, &error);
  g_assert_null (ro);
  assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
  g_assert_false (test_file_exists (fx->path));
  g_assert_false (test_wal_or_shm_exists (fx->path));
}

/* Through the GObject way as well. */
static void
test_read_only_property (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) ro = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  ro = g_initable_new (MSB_DB_TYPE_POOLS, NULL, &error,
                       "path", fx->path,
                       "read-only", TRUE,
                       NULL);
  g_assert_no_error (error);
  g_assert_true (msb_db_pools_get_read_only (ro));
  rows = msb_db_pools_write (ro, "DELETE FROM t", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, setup, func) \
  g_test_add ("/readonly/" name, Fixture, NULL, setup, func, fixture_teardown)

  ADD ("read-refuses-writes", setup_data, test_read_refuses_writes);
  ADD ("snapshot-refuses-writes", setup_data, test_snapshot_refuses_writes);
  ADD ("pools/beside-writer", setup_data, test_read_only_pools);
  ADD ("pools/alone", setup_data, test_read_only_alone);
  ADD ("pools/missing-file", fixture_setup, test_read_only_missing_file);
  ADD ("pools/last-user-leaves-no-wal", setup_data, test_read_only_last_user);
  ADD ("pools/property", setup_data, test_read_only_property);

  return g_test_run ();
}
