/* test-write-many.c: one statement over many rows of parameters
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER)", NULL);
}

static GVariant *
numbered_rows (guint       n,
               const char *prefix)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sx)"));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *k = g_strdup_printf ("%s%u", prefix, i);

      g_variant_builder_add (&builder, "(sx)", k, (gint64) i);
    }
  return g_variant_builder_end (&builder);
}

static void
test_many_rows (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbStats) stats = NULL;

  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                  numbered_rows (10000, "k"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 10000);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (rows), ==, 10000);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 10000);
  g_assert_cmpint (raw_int (fx->path, "SELECT sum(n) FROM t"), ==, 10000 * 9999 / 2);
  stats = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (stats->writes, ==, 2);   /* CREATE TABLE, and this one call */
}

static void
test_returning_and_named (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) named = NULL;
  g_autoptr(MsbDbRows) none = NULL;

  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?) RETURNING id, k",
                                  g_variant_new_parsed ("[<('a', @x 1)>, <('b', @x 2)>, <('c', @x 3)>]"),
                                  NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 3);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 1), ==, "k");
  g_assert_cmpstr (msb_db_rows_get_string (rows, 2, 1), ==, "c");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 2, 0), ==, 3);

  named = msb_db_pools_write_many (fx->pools, "UPDATE t SET n = :n WHERE k = :k",
                                   g_variant_new_parsed ("[{'k': <'a'>, 'n': <@x 10>}, "
                                                         "{'k': <'b'>, 'n': <@x 20>}, "
                                                         "{'k': <'zz'>, 'n': <@x 30>}]"),
                                   NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (named), ==, 2);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (named), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT sum(n) FROM t"), ==, 33);

  none = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                  g_variant_new_parsed ("@a(sx) []"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (none), ==, 0);
}

/* One bad element: nothing of the call is written, and the error says
 * which element. */
static void
test_all_or_nothing (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  GVariantBuilder builder;

  test_write_ok (fx->pools, "INSERT INTO t(k, n) VALUES ('taken', 0)", NULL);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sx)"));
  for (guint i = 0; i < 1000; i++)
    g_variant_builder_add (&builder, "(sx)", i == 499 ? "taken" : "fresh", (gint64) i);
  /* "fresh" repeats too: the second one is element 2. */
  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                  g_variant_builder_end (&builder), NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  assert_message_contains (error, "Row 2 of 1000");
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
}

static void
test_bad_arguments (Fixture       *fx,
                    gconstpointer  data)
{
  const char *bad[] = { "(1, 2)", "@ax [1, 2]", "@as ['a']" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k) VALUES (?)",
                                      g_variant_new_parsed (bad[i]), NULL, &error);
      g_assert_null (rows);
      assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
    }
  /* An element with the wrong number of parameters. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbRows) rows = NULL;

    rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                    g_variant_new_parsed ("[<('a', @x 1)>, <('b',)>]"),
                                    NULL, &error);
    g_assert_null (rows);
    assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
    assert_message_contains (error, "Row 2 of 2");
  }
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 0);
}

/* Column by column: a tuple of arrays, numbers read in place. */
static void
test_columns (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) bad = NULL;
  gint64 ns[1000];
  const char *ks[1001];
  GVariant *columns[2];

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *k = g_strdup_printf ("col%u", i);

      ns[i] = i * 3;
      ks[i] = g_intern_string (k);
    }
  ks[1000] = NULL;
  columns[0] = g_variant_new_strv (ks, 1000);
  columns[1] = g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, ns, 1000, sizeof (gint64));
  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                  g_variant_new_tuple (columns, 2), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 1000);
  g_assert_cmpint (raw_int (fx->path, "SELECT sum(n) FROM t"), ==, 3 * 999 * 1000 / 2);
  g_assert_cmpint (raw_int (fx->path, "SELECT n FROM t WHERE k = 'col7'"), ==, 21);

  /* Mixed: doubles, booleans, blobs, a maybe for NULL. */
  test_write_ok (fx->pools, "CREATE TABLE mix(d REAL, b INTEGER, y BLOB, m TEXT)", NULL);
  g_clear_object (&rows);
  rows = msb_db_pools_write_many (fx->pools, "INSERT INTO mix VALUES (?, ?, ?, ?)",
                                  g_variant_new_parsed ("([1.5, 2.5], [true, false], "
                                                        "[b'ab', b''], [@ms 'x', @ms nothing])"),
                                  NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM mix WHERE m IS NULL"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT sum(b) FROM mix"), ==, 1);
  /* b'ab' is a GVariant bytestring: its NUL is one of its bytes. */
  g_assert_cmpint (raw_int (fx->path, "SELECT length(y) FROM mix WHERE d = 1.5"), ==, 3);

  /* Different lengths, or not arrays: refused, nothing written. */
  bad = msb_db_pools_write_many (fx->pools, "INSERT INTO mix(d, b) VALUES (?, ?)",
                                 g_variant_new_parsed ("([1.0, 2.0], [@x 1])"), NULL, &error);
  g_assert_null (bad);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = msb_db_pools_write_many (fx->pools, "INSERT INTO mix(d, b) VALUES (?, ?)",
                                 g_variant_new_parsed ("(1.0, [@x 1])"), NULL, &error);
  g_assert_null (bad);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM mix"), ==, 2);
}

static void
write_many_done (GObject      *source,
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
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  msb_db_pools_write_many_async (fx->pools, "INSERT INTO t(k, n) VALUES (?, ?)",
                                 numbered_rows (500, "async"), NULL, write_many_done, &result);
  test_wait_result (&result, 30);
  rows = msb_db_pools_write_many_finish (fx->pools, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 500);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 500);
}

/* ---- write_script ------------------------------------------------------ */

static void
test_script (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_write_script (fx->pools,
                                            "CREATE TABLE a(x); CREATE INDEX ax ON a(x);\n"
                                            "-- a comment\n"
                                            "INSERT INTO a VALUES (1), (2); SELECT 1;",
                                            NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM a"), ==, 2);

  /* One bad statement: none of the script is committed. */
  g_assert_false (msb_db_pools_write_script (fx->pools,
                                             "CREATE TABLE b(x); INSERT INTO b VALUES (1); "
                                             "INSERT INTO nowhere VALUES (1);",
                                             NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "nowhere");
  g_clear_error (&error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'b'"), ==, 0);

  /* Transaction control stays refused. */
  g_assert_false (msb_db_pools_write_script (fx->pools, "INSERT INTO a VALUES (3); COMMIT;",
                                             NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM a"), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/write-many/" name, Fixture, NULL, setup_table, func, fixture_teardown)

  ADD ("many-rows", test_many_rows);
  ADD ("returning-and-named", test_returning_and_named);
  ADD ("all-or-nothing", test_all_or_nothing);
  ADD ("bad-arguments", test_bad_arguments);
  ADD ("async", test_async);
  ADD ("columns", test_columns);
  g_test_add ("/write-script/all-or-nothing", Fixture, NULL, setup_table, test_script,
              fixture_teardown);

  return g_test_run ();
}
