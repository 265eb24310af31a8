/* test-rows.c: MsbDbRows getters, changes, rowid, RETURNING, to_variant,
 * dup_row
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

#define FIVE_KINDS "SELECT NULL AS n, 0 AS i, '' AS s, 0.0 AS d, x'' AS b"

static void
test_shape (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) empty = NULL;

  rows = msb_db_pools_read (fx->pools,
                            "SELECT 1 AS one, 'x' AS \"two words\", 3 "
                            "UNION ALL SELECT 4, 'y', 6",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 2);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 3);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 0), ==, "one");
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 1), ==, "two words");
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 2), ==, "3");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 1);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 1, 0), ==, 4);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 1, 1), ==, "y");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 1, 2), ==, 6);

  /* No rows: the columns are still known. */
  test_write_ok (fx->pools, "CREATE TABLE t(a INTEGER, b TEXT)", NULL);
  empty = msb_db_pools_read (fx->pools, "SELECT a, b FROM t", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (empty), ==, 0);
  g_assert_cmpuint (msb_db_rows_get_n_columns (empty), ==, 2);
  g_assert_cmpstr (msb_db_rows_get_column_name (empty, 0), ==, "a");
  g_assert_cmpstr (msb_db_rows_get_column_name (empty, 1), ==, "b");
}

static void
test_value_types (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GBytes) null_bytes = NULL;
  g_autoptr(GBytes) empty_bytes = NULL;

  rows = msb_db_pools_read (fx->pools, FIVE_KINDS, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 5);

  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_NULL);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 1), ==, MSB_DB_VALUE_TYPE_INTEGER);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 2), ==, MSB_DB_VALUE_TYPE_TEXT);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 3), ==, MSB_DB_VALUE_TYPE_REAL);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 4), ==, MSB_DB_VALUE_TYPE_BLOB);

  g_assert_true (msb_db_rows_is_null (rows, 0, 0));
  for (guint c = 1; c < 5; c++)
    g_assert_false (msb_db_rows_is_null (rows, 0, c));

  /* get_string: NULL for anything but TEXT; "" is not NULL. */
  g_assert_null (msb_db_rows_get_string (rows, 0, 0));
  g_assert_null (msb_db_rows_get_string (rows, 0, 1));
  g_assert_nonnull (msb_db_rows_get_string (rows, 0, 2));
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 2), ==, "");
  g_assert_null (msb_db_rows_get_string (rows, 0, 3));
  g_assert_null (msb_db_rows_get_string (rows, 0, 4));

  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1), ==, 0);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 3), ==, 0.0);

  /* get_bytes: NULL for SQL NULL, an empty GBytes for the empty blob. */
  null_bytes = msb_db_rows_get_bytes (rows, 0, 0);
  g_assert_null (null_bytes);
  empty_bytes = msb_db_rows_get_bytes (rows, 0, 4);
  g_assert_nonnull (empty_bytes);
  g_assert_cmpuint (g_bytes_get_size (empty_bytes), ==, 0);
}

static void
test_numbers (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (fx->pools,
                            "SELECT 9223372036854775807, -9223372036854775808, "
                            "1048576.25, -0.125",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1), ==, G_MININT64);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 2), ==, 1048576.25);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 3), ==, -0.125);
}

static void
test_text_and_blob (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GBytes) b1 = NULL;
  g_autoptr(GBytes) b2 = NULL;
  g_autoptr(GBytes) big = NULL;
  enum { BLOB_SIZE = 1 << 20 };
  g_autofree guint8 *blob = g_malloc (BLOB_SIZE);
  const char *text;
  const char *text_again;

  for (gsize i = 0; i < BLOB_SIZE; i++)
    blob[i] = (guint8) (i * 7 + 3);

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT, b BLOB)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(id, s, b) VALUES (1, ?, ?)",
                 g_variant_new ("(s@ay)", "\xe2\x9c\x93 ok \xf0\x9f\x98\x80",
                                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                           "\0a\0b", 4, 1)));
  test_write_ok (fx->pools, "INSERT INTO t(id, s, b) VALUES (2, 'big', ?)",
                 g_variant_new ("(@ay)",
                                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                           blob, BLOB_SIZE, 1)));

  rows = msb_db_pools_read (fx->pools, "SELECT s, b FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 2);

  text = msb_db_rows_get_string (rows, 0, 0);
  g_assert_cmpstr (text, ==, "\xe2\x9c\x93 ok \xf0\x9f\x98\x80");
  /* Strings stay owned by the rows: the same memory on every call. */
  text_again = msb_db_rows_get_string (rows, 0, 0);
  g_assert_true (text == text_again);

  /* Embedded NULs survive; every get_bytes is a new reference. */
  b1 = msb_db_rows_get_bytes (rows, 0, 1);
  b2 = msb_db_rows_get_bytes (rows, 0, 1);
  g_assert_nonnull (b1);
  g_assert_nonnull (b2);
  g_assert_cmpmem (g_bytes_get_data (b1, NULL), g_bytes_get_size (b1), "\0a\0b", 4);
  g_assert_true (g_bytes_equal (b1, b2));
  g_clear_pointer (&b2, g_bytes_unref);

  big = msb_db_rows_get_bytes (rows, 1, 1);
  g_assert_cmpmem (g_bytes_get_data (big, NULL), g_bytes_get_size (big), blob, BLOB_SIZE);

  /* The bytes outlive the rows. */
  g_clear_object (&rows);
  g_assert_cmpmem (g_bytes_get_data (b1, NULL), g_bytes_get_size (b1), "\0a\0b", 4);
  g_assert_cmpuint (g_bytes_get_size (big), ==, BLOB_SIZE);
}

static void
test_changes_rowid (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) ins = NULL;
  g_autoptr(MsbDbRows) upd = NULL;
  g_autoptr(MsbDbRows) del = NULL;
  g_autoptr(MsbDbRows) one = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);

  ins = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('a'), ('b'), ('c')",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (ins), ==, 3);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (ins), ==, 3);
  g_assert_cmpuint (msb_db_rows_get_n_rows (ins), ==, 0);

  one = msb_db_pools_write (fx->pools, "INSERT INTO t(id, v) VALUES (100, 'z')",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (one), ==, 1);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (one), ==, 100);

  upd = msb_db_pools_write (fx->pools, "UPDATE t SET v = v || '!' WHERE id <= 2",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (upd), ==, 2);

  del = msb_db_pools_write (fx->pools, "DELETE FROM t WHERE id > 50", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (del), ==, 1);

  /* The earlier result is an immutable snapshot of its own statement. */
  g_assert_cmpint (msb_db_rows_get_changes (ins), ==, 3);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v LIKE '%!'"), ==, 2);
}

/* Changes are per statement, not a leftover of an earlier write. */
static void
test_changes_not_stale (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) ins = NULL;
  g_autoptr(MsbDbRows) create = NULL;
  g_autoptr(MsbDbRows) none = NULL;

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY)", NULL);
  ins = msb_db_pools_write (fx->pools, "INSERT INTO t VALUES (1), (2)", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (ins), ==, 2);

  /* sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE
   * across other statements: a CREATE must not report the INSERT's 2. */
  create = msb_db_pools_write (fx->pools, "CREATE TABLE u(x)", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (create), ==, 0);
  g_assert_cmpuint (msb_db_rows_get_n_columns (create), ==, 0);
  g_assert_cmpuint (msb_db_rows_get_n_rows (create), ==, 0);

  none = msb_db_pools_write (fx->pools, "UPDATE t SET id = id WHERE id > 10", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (none), ==, 0);
}

static void
test_returning (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) del = NULL;

  test_write_ok (fx->pools,
                 "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER DEFAULT 5)",
                 NULL);
  rows = msb_db_pools_write (fx->pools,
                             "INSERT INTO t(name) VALUES ('x'), ('y') RETURNING id, name, n * 2 AS dbl",
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 2);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 3);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 2), ==, "dbl");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 1);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 1), ==, "x");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 1, 0), ==, 2);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 1, 1), ==, "y");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 1, 2), ==, 10);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 2);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (rows), ==, 2);

  del = msb_db_pools_write (fx->pools, "DELETE FROM t WHERE id = 1 RETURNING name",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (del), ==, 1);
  g_assert_cmpstr (msb_db_rows_get_string (del, 0, 0), ==, "x");
  g_assert_cmpint (msb_db_rows_get_changes (del), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
}

static void
check_maybe_variant (GVariant           *tuple,
                     guint               index,
                     const GVariantType *inner_type)
{
  g_autoptr(GVariant) child = g_variant_get_child_value (tuple, index);
  g_autoptr(GVariant) maybe = NULL;
  g_autoptr(GVariant) inner = NULL;

  g_assert_cmpstr (g_variant_get_type_string (child), ==, "mv");
  if (inner_type == NULL)
    {
      g_assert_cmpuint (g_variant_n_children (child), ==, 0);
      return;
    }
  g_assert_cmpuint (g_variant_n_children (child), ==, 1);
  maybe = g_variant_get_maybe (child);
  inner = g_variant_get_variant (maybe);
  g_assert_true (g_variant_is_of_type (inner, inner_type));
}

static void
test_to_variant (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) row0 = NULL;
  g_autoptr(GVariant) row1 = NULL;
  g_autoptr(GVariant) expected = NULL;

  rows = msb_db_pools_read (fx->pools,
                            FIVE_KINDS " UNION ALL SELECT 1, -42, 'h\xc3\xa9', 2.5, x'00ff'",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  v = msb_db_rows_to_variant (rows);
  g_assert_nonnull (v);
  g_assert_false (g_variant_is_floating (v));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "a(mvmvmvmvmv)");
  g_assert_cmpuint (g_variant_n_children (v), ==, 2);

  row0 = g_variant_get_child_value (v, 0);
  check_maybe_variant (row0, 0, NULL);
  check_maybe_variant (row0, 1, G_VARIANT_TYPE_INT64);
  check_maybe_variant (row0, 2, G_VARIANT_TYPE_STRING);
  check_maybe_variant (row0, 3, G_VARIANT_TYPE_DOUBLE);
  check_maybe_variant (row0, 4, G_VARIANT_TYPE_BYTESTRING);

  /* Exact values, NULL / 0 / '' / 0.0 / x'' all distinct. */
  expected = g_variant_ref_sink (g_variant_new_parsed (
    "[(@mv nothing, @mv just <int64 0>, @mv just <''>, @mv just <0.0>, @mv just <@ay []>),"
    " (@mv just <int64 1>, @mv just <int64 -42>, @mv just <'h\\u00e9'>, @mv just <2.5>,"
    "  @mv just <@ay [byte 0x00, 0xff]>)]"));
  if (!g_variant_equal (v, expected))
    {
      g_autofree char *got = g_variant_print (v, TRUE);
      g_autofree char *want = g_variant_print (expected, TRUE);
      g_autofree char *msg = g_strdup_printf ("to_variant gave %s, expected %s", got, want);
      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
    }

  row1 = g_variant_get_child_value (v, 1);
  check_maybe_variant (row1, 0, G_VARIANT_TYPE_INT64);
}

static void
test_to_variant_empty (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) nocols = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) v2 = NULL;

  rows = msb_db_pools_read (fx->pools, "SELECT 1, 2 WHERE 0", NULL, NULL, &error);
  g_assert_no_error (error);
  v = msb_db_rows_to_variant (rows);
  g_assert_false (g_variant_is_floating (v));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "a(mvmv)");
  g_assert_cmpuint (g_variant_n_children (v), ==, 0);

  nocols = msb_db_pools_write (fx->pools, "CREATE TABLE t(x)", NULL, NULL, &error);
  g_assert_no_error (error);
  v2 = msb_db_rows_to_variant (nocols);
  g_assert_nonnull (v2);
  g_assert_false (g_variant_is_floating (v2));
  g_assert_cmpuint (g_variant_n_children (v2), ==, 0);
  g_assert_true (g_variant_type_is_array (g_variant_get_type (v2)));
}

static void
test_many_rows (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GVariant) v = NULL;
  gint64 sum = 0;

  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  test_write_ok (fx->pools,
                 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
                 "INSERT INTO t SELECT x, 'row ' || x FROM c", NULL);
  rows = msb_db_pools_read (fx->pools, "SELECT id, v FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 20000);
  for (guint r = 0; r < 20000; r++)
    sum += msb_db_rows_get_int64 (rows, r, 0);
  g_assert_cmpint (sum, ==, (gint64) 20000 * 20001 / 2);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 19999, 1), ==, "row 20000");
  v = msb_db_rows_to_variant (rows);
  g_assert_cmpuint (g_variant_n_children (v), ==, 20000);
}

/* One result read from many threads at once gives the same answers. */
typedef struct {
  MsbDbRows *rows;
  guint      mismatches;
} SharedData;

static gpointer
shared_reader (gpointer data)
{
  SharedData *d = data;
  guint bad = 0;

  for (guint round = 0; round < 20; round++)
    for (guint r = 0; r < msb_db_rows_get_n_rows (d->rows); r++)
      {
        g_autofree char *expect = g_strdup_printf ("v%u", r);
        g_autoptr(GBytes) b = msb_db_rows_get_bytes (d->rows, r, 2);
        if (msb_db_rows_get_int64 (d->rows, r, 0) != r ||
            g_strcmp0 (msb_db_rows_get_string (d->rows, r, 1), expect) != 0 ||
            b == NULL || g_bytes_get_size (b) != 4)
          bad++;
      }
  if (bad)
    g_atomic_int_add (&d->mismatches, bad);
  return NULL;
}

static void
test_threads_share (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  SharedData d = { NULL, 0 };
  GThread *threads[4];

  rows = msb_db_pools_read (fx->pools,
                            "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 499) "
                            "SELECT x, 'v' || x, x'01020304' FROM c",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  d.rows = rows;
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("rows-reader", shared_reader, &d);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (d.mismatches, ==, 0);
}

/* A cached statement is prepared again by SQLite after a schema change:
 * `SELECT *` must then report the new columns, with their names, both on
 * read connections and on the writer's. */
static void
check_star_columns (MsbDbRows   *rows,
                    const char **names)
{
  guint n = g_strv_length ((char **) names);

  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, n);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  for (guint c = 0; c < n; c++)
    {
      g_assert_cmpstr (msb_db_rows_get_column_name (rows, c), ==, names[c]);
      g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, c), ==, c + 1);
    }
}

static void
read_star_everywhere (Fixture     *fx,
                      const char **names)
{
  for (guint i = 0; i < 8; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) read = msb_db_pools_read (fx->pools, "SELECT * FROM t", NULL, NULL, &error);
      g_autoptr(MsbDbRows) written = NULL;

      g_assert_no_error (error);
      check_star_columns (read, names);
      written = msb_db_pools_write (fx->pools, "SELECT * FROM t", NULL, NULL, &error);
      g_assert_no_error (error);
      check_star_columns (written, names);
    }
}

static void
test_columns_follow_schema (Fixture       *fx,
                            gconstpointer  data)
{
  const char *one[] = { "a", NULL };
  const char *two[] = { "a", "b", NULL };
  const char *renamed[] = { "a", "second", NULL };

  test_write_ok (fx->pools, "CREATE TABLE t(a)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t VALUES (1)", NULL);
  read_star_everywhere (fx, one);

  test_write_ok (fx->pools, "ALTER TABLE t ADD COLUMN b DEFAULT 2", NULL);
  read_star_everywhere (fx, two);

  test_write_ok (fx->pools, "ALTER TABLE t RENAME COLUMN b TO second", NULL);
  read_star_everywhere (fx, renamed);
}

static GVariant *
value_dup_bytestring (const GValue *value)
{
  GVariant *v;

  g_assert_true (G_VALUE_HOLDS_VARIANT (value));
  v = g_value_get_variant (value);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
  return g_variant_ref (v);
}

static void
check_bytestring (const GValue *value,
                  const void   *data,
                  gsize         size)
{
  g_autoptr(GVariant) v = value_dup_bytestring (value);
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (v);

  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, size);
}

static void
test_dup_row (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GPtrArray) row0 = NULL;
  g_autoptr(GPtrArray) row1 = NULL;
  g_autoptr(GPtrArray) row2 = NULL;
  g_autoptr(GVariant) kept = NULL;
  GValue *v;

  rows = msb_db_pools_read (fx->pools,
                            FIVE_KINDS
                            " UNION ALL SELECT 1, -9223372036854775808, 'h\xc3\xa9', -2.5, x'00ff00'"
                            " UNION ALL SELECT 9223372036854775807, 1048576.25,"
                            "   CAST(x'ff41' AS TEXT), 'a' || char(0) || 'b', 7",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 3);

  /* NULL, 0, '', 0.0 and x'' are five different things. */
  row0 = msb_db_rows_dup_row (rows, 0);
  g_assert_nonnull (row0);
  g_assert_cmpuint (row0->len, ==, 5);
  v = g_ptr_array_index (row0, 0);
  g_assert_true (G_VALUE_HOLDS_POINTER (v));
  g_assert_null (g_value_get_pointer (v));
  v = g_ptr_array_index (row0, 1);
  g_assert_true (G_VALUE_HOLDS_INT64 (v));
  g_assert_cmpint (g_value_get_int64 (v), ==, 0);
  v = g_ptr_array_index (row0, 2);
  g_assert_true (G_VALUE_HOLDS_STRING (v));
  g_assert_cmpstr (g_value_get_string (v), ==, "");
  v = g_ptr_array_index (row0, 3);
  g_assert_true (G_VALUE_HOLDS_DOUBLE (v));
  g_assert_cmpfloat (g_value_get_double (v), ==, 0.0);
  check_bytestring (g_ptr_array_index (row0, 4), "", 0);

  row1 = msb_db_rows_dup_row (rows, 1);
  g_assert_cmpuint (row1->len, ==, 5);
  v = g_ptr_array_index (row1, 0);
  g_assert_true (G_VALUE_HOLDS_INT64 (v));
  g_assert_cmpint (g_value_get_int64 (v), ==, 1);
  v = g_ptr_array_index (row1, 1);
  g_assert_true (G_VALUE_HOLDS_INT64 (v));
  g_assert_cmpint (g_value_get_int64 (v), ==, G_MININT64);
  v = g_ptr_array_index (row1, 2);
  g_assert_true (G_VALUE_HOLDS_STRING (v));
  g_assert_cmpstr (g_value_get_string (v), ==, "h\xc3\xa9");
  v = g_ptr_array_index (row1, 3);
  g_assert_true (G_VALUE_HOLDS_DOUBLE (v));
  g_assert_cmpfloat (g_value_get_double (v), ==, -2.5);
  check_bytestring (g_ptr_array_index (row1, 4), "\0\xff\0", 3);

  /* Text that is not valid UTF-8, or holds a NUL, comes whole as bytes;
   * get_value_type() still says TEXT. */
  row2 = msb_db_rows_dup_row (rows, 2);
  g_assert_cmpuint (row2->len, ==, 5);
  v = g_ptr_array_index (row2, 0);
  g_assert_cmpint (g_value_get_int64 (v), ==, G_MAXINT64);
  v = g_ptr_array_index (row2, 1);
  g_assert_true (G_VALUE_HOLDS_DOUBLE (v));
  g_assert_cmpfloat (g_value_get_double (v), ==, 1048576.25);
  check_bytestring (g_ptr_array_index (row2, 2), "\xff" "A", 2);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 2, 2), ==, MSB_DB_VALUE_TYPE_TEXT);
  check_bytestring (g_ptr_array_index (row2, 3), "a\0b", 3);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 2, 3), ==, MSB_DB_VALUE_TYPE_TEXT);
  v = g_ptr_array_index (row2, 4);
  g_assert_cmpint (g_value_get_int64 (v), ==, 7);

  /* Each call is a fresh copy; values outlive the rows. */
  kept = value_dup_bytestring (g_ptr_array_index (row1, 4));
  g_clear_pointer (&row1, g_ptr_array_unref);
  row1 = msb_db_rows_dup_row (rows, 1);
  g_assert_true (g_ptr_array_index (row1, 2) != NULL);
  g_clear_object (&rows);
  g_assert_cmpstr (g_value_get_string (g_ptr_array_index (row1, 2)), ==, "h\xc3\xa9");
  g_assert_cmpmem (g_variant_get_data (kept), g_variant_get_size (kept), "\0\xff\0", 3);
}

static void
test_dup_row_out_of_range (Fixture       *fx,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) empty = NULL;
  g_autoptr(GPtrArray) none = NULL;

  rows = msb_db_pools_read (fx->pools, "SELECT 1, 2", NULL, NULL, &error);
  g_assert_no_error (error);
  g_test_expect_message ("MsbDb", G_LOG_LEVEL_CRITICAL, "*row < self->n_rows*");
  none = msb_db_rows_dup_row (rows, 1);
  g_test_assert_expected_messages ();
  g_assert_null (none);

  /* A result with columns but no rows has no row 0. */
  empty = msb_db_pools_read (fx->pools, "SELECT 1 AS a WHERE 0", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_columns (empty), ==, 1);
  g_test_expect_message ("MsbDb", G_LOG_LEVEL_CRITICAL, "*row < self->n_rows*");
  none = msb_db_rows_dup_row (empty, 0);
  g_test_assert_expected_messages ();
  g_assert_null (none);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/rows/" name, Fixture, NULL, fixture_setup_open, func, fixture_teardown)

  ADD ("shape", test_shape);
  ADD ("value-types", test_value_types);
  ADD ("numbers", test_numbers);
  ADD ("text-and-blob", test_text_and_blob);
  ADD ("changes-and-rowid", test_changes_rowid);
  ADD ("changes-not-stale", test_changes_not_stale);
  ADD ("returning", test_returning);
  ADD ("to-variant", test_to_variant);
  ADD ("to-variant-empty", test_to_variant_empty);
  ADD ("dup-row", test_dup_row);
  ADD ("dup-row-out-of-range", test_dup_row_out_of_range);
  ADD ("many-rows", test_many_rows);
  ADD ("threads-share", test_threads_share);
  ADD ("columns-follow-schema", test_columns_follow_schema);

  return g_test_run ();
}
