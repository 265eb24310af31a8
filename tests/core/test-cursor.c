/* test-cursor.c: a large result read in parts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#define N_ROWS 20000

static void
setup_rows (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autofree gint64 *ids = g_new (gint64, N_ROWS);
  GVariant *columns[1];

  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 1, SLOW (300 * G_TIME_SPAN_MILLISECOND), 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  for (guint i = 0; i < N_ROWS; i++)
    ids[i] = i + 1;
  columns[0] = g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, ids, N_ROWS, sizeof (gint64));
  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(id, v) VALUES (?, 'row')",
                                  g_variant_new_tuple (columns, 1), NULL, &error);
  g_assert_no_error (error);
}

/* Every row, in parts of at most the size asked for, in order; then the
 * end, and empty parts after it. */
static void
test_parts (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbCursor) cursor = NULL;
  gint64 next = 1;
  guint parts = 0;

  cursor = msb_db_pools_open_cursor (fx->pools, "SELECT id, v FROM t WHERE id > ? ORDER BY id",
                                     g_variant_new ("(x)", (gint64) 0), NULL, &error);
  g_assert_no_error (error);
  while (!msb_db_cursor_is_done (cursor))
    {
      g_autoptr(MsbDbRows) rows = msb_db_cursor_fetch (cursor, 1000, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (msb_db_rows_get_n_rows (rows), <=, 1000);
      g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 2);
      for (guint r = 0; r < msb_db_rows_get_n_rows (rows); r++)
        g_assert_cmpint (msb_db_rows_get_int64 (rows, r, 0), ==, next++);
      parts++;
    }
  g_assert_cmpint (next, ==, N_ROWS + 1);
  g_assert_cmpuint (parts, >=, N_ROWS / 1000);
  {
    g_autoptr(MsbDbRows) after = msb_db_cursor_fetch (cursor, 10, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (msb_db_rows_get_n_rows (after), ==, 0);
  }
  msb_db_cursor_close (cursor);
}

/* One snapshot: a write committed while the cursor is open is not seen by
 * its later parts. The cursor holds its read connection: with a pool of
 * one, a read waits for it, and gets it once the cursor is closed. */
static void
test_snapshot_and_connection (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbCursor) cursor = NULL;
  g_autoptr(MsbDbRows) first = NULL;
  g_autoptr(MsbDbRows) blocked = NULL;
  gint64 seen = 0;

  cursor = msb_db_pools_open_cursor (fx->pools, "SELECT id FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);
  first = msb_db_cursor_fetch (cursor, 10, NULL, &error);
  g_assert_no_error (error);
  seen += msb_db_rows_get_n_rows (first);
  test_write_ok (fx->pools, "INSERT INTO t(id, v) VALUES (999999, 'late')", NULL);

  blocked = msb_db_pools_read (fx->pools, "SELECT count(*) FROM t", NULL, NULL, &error);
  g_assert_null (blocked);
  assert_msb_error (error, MSB_DB_ERROR_POOL_TIMEOUT);
  g_clear_error (&error);

  while (!msb_db_cursor_is_done (cursor))
    {
      g_autoptr(MsbDbRows) rows = msb_db_cursor_fetch (cursor, 4000, NULL, &error);

      g_assert_no_error (error);
      seen += msb_db_rows_get_n_rows (rows);
    }
  g_assert_cmpint (seen, ==, N_ROWS);

  msb_db_cursor_close (cursor);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, N_ROWS + 1);
  {
    g_autoptr(MsbDbRows) closed = msb_db_cursor_fetch (cursor, 1, NULL, &error);

    g_assert_null (closed);
    assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  }
}

static void
test_refuses_writes (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbCursor) cursor = NULL;

  cursor = msb_db_pools_open_cursor (fx->pools, "DELETE FROM t RETURNING id", NULL, NULL, &error);
  g_assert_null (cursor);
  assert_msb_error (error, MSB_DB_ERROR_READ_ONLY);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, N_ROWS);
  /* The connection went back to the pool. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, N_ROWS);
}

static void
fetched (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
test_async (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbCursor) cursor = NULL;
  guint total = 0;

  cursor = msb_db_pools_open_cursor (fx->pools, "SELECT id FROM t", NULL, NULL, &error);
  g_assert_no_error (error);
  while (!msb_db_cursor_is_done (cursor))
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      msb_db_cursor_fetch_async (cursor, 5000, NULL, fetched, &result);
      test_wait_result (&result, 30);
      rows = msb_db_cursor_fetch_finish (cursor, result, &error);
      g_assert_no_error (error);
      total += msb_db_rows_get_n_rows (rows);
    }
  g_assert_cmpuint (total, ==, N_ROWS);
}

/* Closing the pools with a cursor open does not wait for it forever; the
 * cursor then fails, and once it is gone no -wal/-shm is left. */
static void
test_pools_closed_under_cursor (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbCursor) cursor = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  cursor = msb_db_pools_open_cursor (fx->pools, "SELECT id FROM t", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  rows = msb_db_cursor_fetch (cursor, 10, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_object (&cursor);
  g_clear_object (&fx->pools);
  g_assert_true (test_wait_files_gone (fx->path, 10 * G_TIME_SPAN_SECOND));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/cursor/" name, Fixture, NULL, setup_rows, func, fixture_teardown)

  ADD ("parts", test_parts);
  ADD ("snapshot-and-connection", test_snapshot_and_connection);
  ADD ("refuses-writes", test_refuses_writes);
  ADD ("async", test_async);
  ADD ("pools-closed-under-cursor", test_pools_closed_under_cursor);

  return g_test_run ();
}
