/* test-values.c: parameters as strings, results as flat values, numbered
 * bodies (the calls made for language bindings)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

#define HEADER 5

static const GValue *
at (GPtrArray *values,
    guint      i)
{
  g_assert_cmpuint (i, <, values->len);
  return g_ptr_array_index (values, i);
}

/* Checks the header of a flat result: n columns, r rows, changes, rowid
 * and the number of variants. */
static void
assert_header (GPtrArray *values,
               guint      n_columns,
               guint      n_rows,
               gint64     changes,
               gint64     rowid,
               guint      n_variants)
{
  g_assert_nonnull (values);
  g_assert_cmpuint (values->len, ==, HEADER + n_columns + n_rows * n_columns);
  g_assert_cmpuint (g_value_get_uint (at (values, 0)), ==, n_columns);
  g_assert_cmpuint (g_value_get_uint (at (values, 1)), ==, n_rows);
  g_assert_cmpint (g_value_get_int64 (at (values, 2)), ==, changes);
  g_assert_cmpint (g_value_get_int64 (at (values, 3)), ==, rowid);
  g_assert_cmpuint (g_value_get_uint (at (values, 4)), ==, n_variants);
}

static const GValue *
cell (GPtrArray *values,
      guint      row,
      guint      column)
{
  guint n_columns = g_value_get_uint (at (values, 0));

  return at (values, HEADER + n_columns + row * n_columns + column);
}

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup_open (fx, data);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v ANY, w ANY) STRICT", NULL);
}

/* Every type character reaches SQLite as the storage class it names. */
static void
test_types (Fixture       *fx,
            gconstpointer  data)
{
  static const struct {
    char type;
    const char *text;
    const char *storage;
    const char *back;
  } cases[] = {
    { 'n', "", "null", NULL },
    { 'n', "ignored", "null", NULL },
    { 'i', "-42", "integer", "-42" },
    { 'i', "9223372036854775807", "integer", "9223372036854775807" },
    { 'i', "-9223372036854775808", "integer", "-9223372036854775808" },
    { 'r', "1.5", "real", "1.5" },
    { 'r', "-1e+100", "real", "-1.0e+100" },
    { 't', "héllo", "text", "héllo" },
    { 't', "", "text", "" },
    { 'b', "00ff10", "blob", "00FF10" },
    { 'b', "", "blob", "" },
    { 'v', "int16 7", "integer", "7" },
    { 'v', "@ms nothing", "null", NULL },
    { 'v', "'a string'", "text", "a string" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) written = NULL;
      g_autoptr(GPtrArray) read = NULL;
      char types[3] = { 'i', cases[i].type, '\0' };
      g_autofree char *id = g_strdup_printf ("%u", i + 1);
      const char *values[] = { id, cases[i].text, NULL };
      const char *back_sql = cases[i].type == 'b'
        ? "SELECT typeof(v), hex(v) FROM t WHERE id = ?"
        : "SELECT typeof(v), CAST(v AS TEXT) FROM t WHERE id = ?";
      const char *id_only[] = { id, NULL };

      written = msb_db_pools_write_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)",
                                           NULL, types, values, NULL, &error);
      g_assert_no_error (error);
      assert_header (written, 0, 0, 1, i + 1, 0);

      read = msb_db_pools_read_values (fx->pools, back_sql, NULL, "i", id_only, NULL, &error);
      g_assert_no_error (error);
      assert_header (read, 2, 1, 0, 0, 0);
      g_assert_cmpstr (g_value_get_string (cell (read, 0, 0)), ==, cases[i].storage);
      if (cases[i].back == NULL)
        g_assert_true (G_VALUE_HOLDS_POINTER (cell (read, 0, 1)));
      else if (cases[i].type == 'r')
        g_assert_cmpfloat (g_ascii_strtod (g_value_get_string (cell (read, 0, 1)), NULL), ==,
                           g_ascii_strtod (cases[i].back, NULL));
      else
        g_assert_cmpstr (g_value_get_string (cell (read, 0, 1)), ==, cases[i].back);
    }
}

/* No parameters: NULL or "" and an empty array alike. */
static void
test_no_params (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) a = NULL;
  g_autoptr(GPtrArray) b = NULL;
  g_autoptr(GPtrArray) c = NULL;
  const char *none[] = { NULL };

  a = msb_db_pools_read_values (fx->pools, "SELECT 1", NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  b = msb_db_pools_read_values (fx->pools, "SELECT 1", NULL, "", none, NULL, &error);
  g_assert_no_error (error);
  assert_header (a, 1, 1, 0, 0, 0);
  assert_header (b, 1, 1, 0, 0, 0);
  g_assert_cmpint (g_value_get_int64 (cell (b, 0, 0)), ==, 1);

  /* A statement that takes one and gets none fails as with a GVariant. */
  c = msb_db_pools_read_values (fx->pools, "SELECT ?", NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
}

static void
test_named (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) missing = NULL;
  const char *names[] = { ":a", "b", NULL };
  const char *values[] = { "2", "x", NULL };
  const char *one_name[] = { "a", NULL };
  const char *one_value[] = { "2", NULL };

  rows = msb_db_pools_read_values (fx->pools, "SELECT :a * 10, @b", names, "it", values,
                                   NULL, &error);
  g_assert_no_error (error);
  assert_header (rows, 2, 1, 0, 0, 0);
  g_assert_cmpint (g_value_get_int64 (cell (rows, 0, 0)), ==, 20);
  g_assert_cmpstr (g_value_get_string (cell (rows, 0, 1)), ==, "x");

  missing = msb_db_pools_read_values (fx->pools, "SELECT :a, :b", one_name, "i", one_value,
                                      NULL, &error);
  g_assert_null (missing);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, ":b");
}

/* Wrong strings fail before anything runs, naming the parameter. */
static void
test_bad_params (Fixture       *fx,
                 gconstpointer  data)
{
  static const struct {
    const char *types;
    const char *v1;
    const char *v2;
    const char *needle;
  } cases[] = {
    { "ii", "1", "12x", "Parameter 2: “12x” is not a 64-bit decimal integer" },
    { "ii", "1", "9223372036854775808", "not a 64-bit decimal integer" },
    { "ii", "1", "", "not a 64-bit decimal integer" },
    { "ir", "1", "1.5.", "is not a number" },
    { "ir", "1", "", "is not a number" },
    { "ib", "1", "abc", "not hexadecimal bytes" },
    { "ib", "1", "zz", "not hexadecimal bytes" },
    { "iv", "1", "not a variant", "not a GVariant" },
    { "iq", "1", "1", "not a type character" },
    { "i", "1", "2", "1 parameter type for 2 values" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) none = NULL;
      const char *values[] = { cases[i].v1, cases[i].v2, NULL };

      none = msb_db_pools_write_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)",
                                        NULL, cases[i].types, values, NULL, &error);
      g_assert_null (none);
      assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
      assert_message_contains (error, cases[i].needle);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) none = NULL;
    const char *names[] = { "a", NULL };
    const char *values[] = { "1", "2", NULL };

    none = msb_db_pools_read_values (fx->pools, "SELECT :a", names, "ii", values, NULL, &error);
    g_assert_null (none);
    assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
    assert_message_contains (error, "1 name");
  }

  /* A variant of a type that cannot be bound fails as in the C API. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) none = NULL;
    const char *values[] = { "(1, 2)", NULL };

    none = msb_db_pools_read_values (fx->pools, "SELECT ?", NULL, "v", values, NULL, &error);
    g_assert_null (none);
    assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
    assert_message_contains (error, "cannot be bound");
  }

  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 0);
}

/* The flat form: BLOBs as `ay`, TEXT a string cannot carry as `(ay)`,
 * counted in the header; everything else plain. */
static void
test_flat_form (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GPtrArray) values = NULL;
  g_autoptr(GPtrArray) empty = NULL;
  g_autoptr(GBytes) blob = NULL;
  g_autoptr(GVariant) child = NULL;
  GVariant *v;

  rows = msb_db_pools_read (fx->pools,
                            "SELECT NULL AS n, 7 AS i, 2.5 AS r, 'é' AS t, x'0001' AS b, "
                            "CAST(x'41ff' AS TEXT) AS bad, CAST(x'410042' AS TEXT) AS nul "
                            "UNION ALL SELECT 1, 2, 3, 4, 5, 6, 7",
                            NULL, NULL, &error);
  g_assert_no_error (error);
  values = msb_db_rows_dup_values (rows);
  assert_header (values, 7, 2, 0, 0, 3);
  g_assert_cmpstr (g_value_get_string (at (values, HEADER)), ==, "n");
  g_assert_cmpstr (g_value_get_string (at (values, HEADER + 6)), ==, "nul");

  g_assert_true (G_VALUE_HOLDS_POINTER (cell (values, 0, 0)));
  g_assert_null (g_value_get_pointer (cell (values, 0, 0)));
  g_assert_cmpint (g_value_get_int64 (cell (values, 0, 1)), ==, 7);
  g_assert_cmpfloat (g_value_get_double (cell (values, 0, 2)), ==, 2.5);
  g_assert_cmpstr (g_value_get_string (cell (values, 0, 3)), ==, "é");

  v = g_value_get_variant (cell (values, 0, 4));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
  blob = g_variant_get_data_as_bytes (v);
  g_assert_cmpmem (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob), "\0\1", 2);

  v = g_value_get_variant (cell (values, 0, 5));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "(ay)");
  child = g_variant_get_child_value (v, 0);
  g_assert_cmpmem (g_variant_get_data (child), g_variant_get_size (child), "A\xff", 2);

  v = g_value_get_variant (cell (values, 0, 6));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "(ay)");

  g_assert_cmpint (g_value_get_int64 (cell (values, 1, 6)), ==, 7);

  /* A result without columns: the header alone. */
  test_write_ok (fx->pools, "CREATE TABLE e(a)", NULL);
  empty = msb_db_pools_write_values (fx->pools, "INSERT INTO e VALUES (1), (2)", NULL, NULL,
                                     NULL, NULL, &error);
  g_assert_no_error (error);
  assert_header (empty, 0, 0, 2, 2, 0);
}

static gboolean
insert_and_count (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  gint64 *count = user_data;
  const char *values[] = { "100", "in a body", NULL };
  g_autoptr(GPtrArray) inserted = NULL;
  g_autoptr(GPtrArray) counted = NULL;

  inserted = msb_db_connection_execute_values (connection, "INSERT INTO t (id, v) VALUES (?, ?)",
                                               NULL, "it", values, error);
  if (inserted == NULL)
    return FALSE;
  counted = msb_db_connection_execute_values (connection, "SELECT count(*) FROM t", NULL, NULL,
                                              NULL, error);
  if (counted == NULL)
    return FALSE;
  *count = g_value_get_int64 (cell (counted, 0, 0));
  return TRUE;
}

static void
test_connection_execute (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 count = 0;

  g_assert_true (msb_db_pools_transaction (fx->pools, insert_and_count, &count, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, 1);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT id FROM t"), ==, 100);
}

/* write_many with strings: the column form when types agree, the row form
 * when they do not, all or nothing either way. */
static void
test_write_many (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) same = NULL;
  g_autoptr(GPtrArray) mixed = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GPtrArray) bad = NULL;
  g_autoptr(GPtrArray) empty = NULL;
  g_autoptr(GPtrArray) defaults = NULL;
  g_autoptr(GPtrArray) sum = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) types = g_string_new (NULL);
  const char *mixed_values[] = { "1001", "a", "1002", "", "1003", "2.5", NULL };
  const char *dup_values[] = { "2001", "x", "2002", "y", "2001", "z", NULL };
  const char *bad_values[] = { "3001", "q", "oops", "r", NULL };
  const char *none[] = { NULL };

  for (guint i = 1; i <= 1000; i++)
    {
      g_ptr_array_add (names, g_strdup_printf ("%u", i));
      g_ptr_array_add (names, g_strdup_printf ("name %u", i));
      g_string_append (types, "it");
    }
  g_ptr_array_add (names, NULL);
  same = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)", 1000,
                                         types->str, (const char * const *) names->pdata,
                                         NULL, &error);
  g_assert_no_error (error);
  assert_header (same, 0, 0, 1000, 1000, 0);

  mixed = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)", 3,
                                          "itinir", mixed_values, NULL, &error);
  g_assert_no_error (error);
  assert_header (mixed, 0, 0, 3, 1003, 0);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t WHERE v IS NULL"), ==, 1);

  failed = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)", 3,
                                           "itititi", dup_values, NULL, &error);
  g_assert_null (failed);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);   /* 7 types for 6 values */
  g_clear_error (&error);
  failed = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)", 3,
                                           "ititit", dup_values, NULL, &error);
  g_assert_null (failed);
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);

  bad = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id, v) VALUES (?, ?)", 2,
                                        "itit", bad_values, NULL, &error);
  g_assert_null (bad);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_message_contains (error, "Row 2: Parameter 1");
  g_clear_error (&error);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 1003);

  empty = msb_db_pools_write_many_values (fx->pools, "INSERT INTO t (id) VALUES (?)", 0, "", none,
                                          NULL, &error);
  g_assert_no_error (error);
  assert_header (empty, 0, 0, 0, 0, 0);

  /* Runs without parameters: counted by n_runs. */
  test_write_ok (fx->pools, "CREATE TABLE d(a DEFAULT 1)", NULL);
  defaults = msb_db_pools_write_many_values (fx->pools, "INSERT INTO d DEFAULT VALUES", 4, "",
                                             none, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM d"), ==, 4);
  sum = msb_db_pools_read_values (fx->pools, "SELECT sum(id) FROM t WHERE id <= 1000", NULL, NULL,
                                  NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_value_get_int64 (cell (sum, 0, 0)), ==, 500500);
}

/* Numbered bodies ------------------------------------------------------- */

typedef struct {
  guint64 last_body;
  guint calls;
  gboolean freed;
} BodyLog;

static gboolean
numbered_body (MsbDbConnection  *connection,
               guint64           body,
               gpointer          user_data,
               GError          **error)
{
  BodyLog *log = user_data;
  g_autofree char *id = g_strdup_printf ("%" G_GUINT64_FORMAT, body);
  const char *values[] = { id, NULL };
  g_autoptr(GPtrArray) done = NULL;

  log->last_body = body;
  log->calls++;
  if (body == 13)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT, "thirteen refused");
      return FALSE;
    }
  if (msb_db_connection_is_read_only (connection))
    done = msb_db_connection_execute_values (connection, "SELECT ?", NULL, "i", values, error);
  else
    done = msb_db_connection_execute_values (connection, "INSERT INTO t (id) VALUES (?)", NULL,
                                             "i", values, error);
  return done != NULL;
}

static void
log_freed (gpointer data)
{
  ((BodyLog *) data)->freed = TRUE;
}

static void
test_numbered_bodies (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  BodyLog log = { 0 };
  BodyLog other = { 0 };

  /* No function yet: a clear error, nothing run. */
  g_assert_false (msb_db_pools_transaction_body (fx->pools, 1, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "msb_db_pools_set_body_func");
  g_clear_error (&error);

  msb_db_pools_set_body_func (fx->pools, numbered_body, &log, log_freed);
  g_assert_true (msb_db_pools_transaction_body (fx->pools, 5, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.last_body, ==, 5);
  g_assert_true (msb_db_pools_snapshot_body (fx->pools, 6, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.last_body, ==, 6);
  g_assert_cmpuint (log.calls, ==, 2);

  /* A body that fails rolls back and reports its error. */
  g_assert_false (msb_db_pools_transaction_body (fx->pools, 13, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 1);

  /* Replacing the function frees the old data; finalizing the new. */
  msb_db_pools_set_body_func (fx->pools, numbered_body, &other, log_freed);
  g_assert_true (log.freed);
  g_assert_true (msb_db_pools_transaction_body (fx->pools, 7, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (other.last_body, ==, 7);
  g_assert_cmpuint (log.calls, ==, 3);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  g_assert_true (other.freed);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/values/" name, Fixture, NULL, setup_table, func, fixture_teardown)

  ADD ("types", test_types);
  ADD ("no-params", test_no_params);
  ADD ("named", test_named);
  ADD ("bad-params", test_bad_params);
  ADD ("flat-form", test_flat_form);
  ADD ("connection-execute", test_connection_execute);
  ADD ("write-many", test_write_many);
  ADD ("numbered-bodies", test_numbered_bodies);

  return g_test_run ();
}
