/* test-params.c: every parameter type, and every refused one
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

typedef struct {
  const char *params;   /* GVariant text, a 1-tuple */
  const char *type;     /* expected typeof() */
  const char *quoted;   /* expected quote() */
} BindCase;

static const BindCase bind_cases[] = {
  { "(@b true,)",                         "integer", "1" },
  { "(@b false,)",                        "integer", "0" },
  { "(@y 255,)",                          "integer", "255" },
  { "(@y 0,)",                            "integer", "0" },
  { "(@n -32768,)",                       "integer", "-32768" },
  { "(@q 65535,)",                        "integer", "65535" },
  { "(@i -2147483648,)",                  "integer", "-2147483648" },
  { "(@i 2147483647,)",                   "integer", "2147483647" },
  { "(@u 4294967295,)",                   "integer", "4294967295" },
  { "(@x -9223372036854775808,)",         "integer", "-9223372036854775808" },
  { "(@x 9223372036854775807,)",          "integer", "9223372036854775807" },
  { "(@t 9223372036854775807,)",          "integer", "9223372036854775807" },
  { "(@t 0,)",                            "integer", "0" },
  { "(@d 3.5,)",                          "real",    "3.5" },
  { "(@d -0.25,)",                        "real",    "-0.25" },
  { "(@d 0.0,)",                          "real",    "0.0" },
  { "(@s 'h\\u00e9llo w\\u00f6rld',)",    "text",    "'h\xc3\xa9llo w\xc3\xb6rld'" },
  { "(@s '',)",                           "text",    "''" },
  { "(@s \"it's\",)",                     "text",    "'it''s'" },
  { "(@o '/org/gtk/Example',)",           "text",    "'/org/gtk/Example'" },
  { "(@g 'a{sv}',)",                      "text",    "'a{sv}'" },
  { "(@ay [byte 0x00, 0x01, 0xff],)",     "blob",    "X'0001FF'" },
  { "(@ay [],)",                          "blob",    "X''" },
  { "(@mv nothing,)",                     "null",    "NULL" },
  { "(@ms nothing,)",                     "null",    "NULL" },
  { "(@mx nothing,)",                     "null",    "NULL" },
  { "(@mv just <int64 7>,)",              "integer", "7" },
  { "(@ms just 'x',)",                    "text",    "'x'" },
  { "(<int64 5>,)",                       "integer", "5" },
  { "(<'in a variant'>,)",                "text",    "'in a variant'" },
  { "(<2.5>,)",                           "real",    "2.5" },
  { "(<@ay [byte 0x41]>,)",               "blob",    "X'41'" },
  { "(<true>,)",                          "integer", "1" },
};

static void
check_type_and_quote (MsbDbRows  *rows,
                      const char *params,
                      const char *type,
                      const char *quoted)
{
  g_assert_nonnull (rows);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 2);
  if (g_strcmp0 (msb_db_rows_get_string (rows, 0, 0), type) != 0 ||
      g_strcmp0 (msb_db_rows_get_string (rows, 0, 1), quoted) != 0)
    {
      g_autofree char *msg =
        g_strdup_printf ("%s bound as %s %s, expected %s %s", params,
                         msb_db_rows_get_string (rows, 0, 0),
                         msb_db_rows_get_string (rows, 0, 1), type, quoted);
      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
    }
}

static void
test_bind_read (Fixture       *fx,
                gconstpointer  data)
{
  fx->pools = test_open (fx->path, 0, 0, 0);

  for (guint i = 0; i < G_N_ELEMENTS (bind_cases); i++)
    {
      const BindCase *c = &bind_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_read (fx->pools, "SELECT typeof(?1), quote(?1)",
                                g_variant_new_parsed (c->params), NULL, &error);
      if (error != NULL)
        g_test_message ("%s: %s", c->params, error->message);
      g_assert_no_error (error);
      check_type_and_quote (rows, c->params, c->type, c->quoted);
    }
}

static void
test_bind_write (Fixture       *fx,
                 gconstpointer  data)
{
  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bind_cases); i++)
    {
      const BindCase *c = &bind_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      g_autoptr(MsbDbRows) back = NULL;
      g_autoptr(GVariant) id = NULL;

      rows = msb_db_pools_write (fx->pools,
                                 "INSERT INTO t(v) VALUES (?) RETURNING typeof(v), quote(v)",
                                 g_variant_new_parsed (c->params), NULL, &error);
      if (error != NULL)
        g_test_message ("%s: %s", c->params, error->message);
      g_assert_no_error (error);
      check_type_and_quote (rows, c->params, c->type, c->quoted);
      g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 1);

      /* And what is in the file, read back through the read pool. */
      id = g_variant_ref_sink (g_variant_new ("(x)", msb_db_rows_get_last_insert_rowid (rows)));
      back = msb_db_pools_read (fx->pools, "SELECT typeof(v), quote(v) FROM t WHERE id = ?",
                                id, NULL, &error);
      g_assert_no_error (error);
      check_type_and_quote (back, c->params, c->type, c->quoted);
    }
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==,
                   G_N_ELEMENTS (bind_cases));
}

/* Big integers come back exactly through the typed getter. */
static void
test_int64_limits (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  rows = msb_db_pools_read (fx->pools, "SELECT ?, ?, ?, ?",
                            g_variant_new ("(xxtu)", G_MININT64, G_MAXINT64,
                                           (guint64) G_MAXINT64, G_MAXUINT32),
                            NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, G_MININT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 2), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 3), ==, G_MAXUINT32);
}

static void
expect_invalid (MsbDbPools *pools,
                const char *sql,
                GVariant   *params,
                const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autofree char *text = params ? g_variant_print (params, TRUE) : g_strdup ("NULL");

  if (params)
    g_variant_ref_sink (params);

  rows = msb_db_pools_read (pools, sql, params, NULL, &error);
  g_test_message ("read %s with %s -> %s", sql, text, error ? error->message : "(success)");
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  if (needle)
    assert_message_contains (error, needle);
  g_clear_error (&error);

  /* Same through the writer: refused, nothing written. */
  {
    g_autofree char *insert = NULL;
    gint64 before = test_read_int (pools, "SELECT count(*) FROM t");

    insert = g_strdup_printf ("INSERT INTO t(v) SELECT 1 FROM (%s)", sql);
    rows = msb_db_pools_write (pools, insert, params, NULL, &error);
    g_test_message ("write %s with %s -> %s", insert, text, error ? error->message : "(success)");
    g_assert_null (rows);
    assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
    if (needle)
      assert_message_contains (error, needle);
    g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM t"), ==, before);
  }

  if (params)
    g_variant_unref (params);
}

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup_open (fx, data);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v, w)", NULL);
}

static void
test_refused_types (Fixture       *fx,
                    gconstpointer  data)
{
  static const char *bad[] = {
    "(ii)",  "(1, 2)",
    "as",    "['a', 'b']",
    "a{ss}", "{'a': 'b'}",
    "h",     "handle 3",
    "ai",    "[1, 2]",
    "a{sv}", "{'k': <1>}",
    "(s)",   "('x',)",
    "ad",    "[1.0]",
    "aay",   "[[byte 1]]",
    "mas",   "just ['x']",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i += 2)
    {
      g_autofree char *one = g_strdup_printf ("(@%s %s,)", bad[i], bad[i + 1]);
      g_autofree char *two = g_strdup_printf ("(@i 5, @%s %s)", bad[i], bad[i + 1]);
      g_autofree char *named = g_strdup_printf ("{'bravo_param': <@%s %s>, 'alpha': <5>}",
                                                bad[i], bad[i + 1]);

      /* First positional parameter: its index 1 is named. */
      expect_invalid (fx->pools, "SELECT ?", g_variant_new_parsed (one), "1");
      /* Second one: index 2. */
      expect_invalid (fx->pools, "SELECT ?, ?", g_variant_new_parsed (two), "2");
      /* Named. */
      expect_invalid (fx->pools, "SELECT :alpha, :bravo_param",
                      g_variant_new_parsed (named), "bravo_param");
    }
}

static void
test_uint64_overflow (Fixture       *fx,
                      gconstpointer  data)
{
  expect_invalid (fx->pools, "SELECT ?",
                  g_variant_new ("(t)", (guint64) G_MAXINT64 + 1), NULL);
  expect_invalid (fx->pools, "SELECT ?",
                  g_variant_new ("(t)", G_MAXUINT64), NULL);
  expect_invalid (fx->pools, "SELECT :big",
                  g_variant_new_parsed ("{'big': <@t 18446744073709551615>}"), "big");
  /* In a variant too. */
  expect_invalid (fx->pools, "SELECT ?",
                  g_variant_new_parsed ("(<@t 9223372036854775808>,)"), NULL);
}

static void
test_count_mismatch (Fixture       *fx,
                     gconstpointer  data)
{
  expect_invalid (fx->pools, "SELECT ?, ?", g_variant_new_parsed ("(1,)"), NULL);
  expect_invalid (fx->pools, "SELECT ?", g_variant_new_parsed ("(1, 2)"), NULL);
  expect_invalid (fx->pools, "SELECT ?", NULL, NULL);
  expect_invalid (fx->pools, "SELECT 1", g_variant_new_parsed ("(1,)"), NULL);
  expect_invalid (fx->pools, "SELECT ?2", g_variant_new_parsed ("(1,)"), NULL);
  expect_invalid (fx->pools, "SELECT :missing_one", g_variant_new_parsed ("@a{sv} {}"),
                  "missing_one");
  expect_invalid (fx->pools, "SELECT :here, :missing_one",
                  g_variant_new_parsed ("{'here': <1>}"), "missing_one");
  expect_invalid (fx->pools, "SELECT :here",
                  g_variant_new_parsed ("{'here': <1>, 'extra_key': <2>}"), "extra_key");
  expect_invalid (fx->pools, "SELECT :here", NULL, NULL);
}

/* Params that are neither a tuple nor a{sv}. */
static void
test_not_a_container (Fixture       *fx,
                      gconstpointer  data)
{
  expect_invalid (fx->pools, "SELECT ?", g_variant_new_int32 (5), NULL);
  expect_invalid (fx->pools, "SELECT ?", g_variant_new_string ("x"), NULL);
  expect_invalid (fx->pools, "SELECT ?", g_variant_new_parsed ("[1]"), NULL);
  expect_invalid (fx->pools, "SELECT :a", g_variant_new_parsed ("{'a': 'b'}"), NULL);
}

static void
test_empty_params (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  g_autoptr(MsbDbRows) c = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  a = msb_db_pools_read (fx->pools, "SELECT 41 + 1", NULL, NULL, &error);
  g_assert_no_error (error);
  b = msb_db_pools_read (fx->pools, "SELECT 41 + 1", g_variant_new ("()"), NULL, &error);
  g_assert_no_error (error);
  c = msb_db_pools_read (fx->pools, "SELECT 41 + 1", g_variant_new_parsed ("@a{sv} {}"),
                         NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (a, 0, 0), ==, 42);
  g_assert_cmpint (msb_db_rows_get_int64 (b, 0, 0), ==, 42);
  g_assert_cmpint (msb_db_rows_get_int64 (c, 0, 0), ==, 42);
}

static void
test_named_prefixes (Fixture       *fx,
                     gconstpointer  data)
{
  static const char *dicts[] = {
    "{'a': <1>, 'b': <'two'>, 'c': <3.0>}",
    "{':a': <1>, '@b': <'two'>, '$c': <3.0>}",
    "{'a': <1>, '@b': <'two'>, 'c': <3.0>}",
  };

  fx->pools = test_open (fx->path, 0, 0, 0);
  for (guint i = 0; i < G_N_ELEMENTS (dicts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_read (fx->pools, "SELECT :a, @b, $c, :a + 1",
                                g_variant_new_parsed (dicts[i]), NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 1);
      g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 1), ==, "two");
      g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 2), ==, 3.0);
      g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 3), ==, 2);
    }
}

static void
test_numbered (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) same = NULL;

  fx->pools = test_open (fx->path, 0, 0, 0);
  rows = msb_db_pools_read (fx->pools, "SELECT ?2, ?1",
                            g_variant_new ("(ss)", "first", "second"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "second");
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 1), ==, "first");

  same = msb_db_pools_read (fx->pools, "SELECT ?1, ?1 * 2",
                            g_variant_new ("(i)", 21), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (same, 0, 0), ==, 21);
  g_assert_cmpint (msb_db_rows_get_int64 (same, 0, 1), ==, 42);
}

/* NULL, 0, 0.0, "" and the empty blob stay five different things. */
static void
test_null_zero_empty (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  static const struct { const char *params; MsbDbValueType type; } cases[] = {
    { "(1, @mv nothing)", MSB_DB_VALUE_TYPE_NULL },
    { "(2, @x 0)",        MSB_DB_VALUE_TYPE_INTEGER },
    { "(3, @d 0.0)",      MSB_DB_VALUE_TYPE_REAL },
    { "(4, @s '')",       MSB_DB_VALUE_TYPE_TEXT },
    { "(5, @ay [])",      MSB_DB_VALUE_TYPE_BLOB },
  };

  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    test_write_ok (fx->pools, "INSERT INTO t(id, v) VALUES (?, ?)",
                   g_variant_new_parsed (cases[i].params));

  rows = msb_db_pools_read (fx->pools, "SELECT v FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpint (msb_db_rows_get_value_type (rows, i, 0), ==, cases[i].type);
      g_assert_cmpint (msb_db_rows_is_null (rows, i, 0), ==,
                       cases[i].type == MSB_DB_VALUE_TYPE_NULL);
    }

  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v IS NULL"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE typeof(v) = 'blob' AND length(v) = 0"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE typeof(v) = 'text' AND v = ''"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE typeof(v) = 'integer' AND v = 0"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE typeof(v) = 'real' AND v = 0"), ==, 1);
}

/* The call sinks floating params and leaves a caller's reference alone
 * (ASan / valgrind catch the mistakes). */
static void
test_refcounts (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GVariant *owned;
  MsbDbRows *rows;

  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(v)", NULL);

  owned = g_variant_ref_sink (g_variant_new ("(s)", "kept"));
  for (guint i = 0; i < 3; i++)
    {
      rows = msb_db_pools_read (fx->pools, "SELECT ?", owned, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&rows);
      rows = msb_db_pools_write (fx->pools, "INSERT INTO t VALUES (?)", owned, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&rows);
    }
  g_assert_false (g_variant_is_floating (owned));
  g_assert_cmpstr (g_variant_get_type_string (owned), ==, "(s)");
  {
    const char *s = NULL;
    g_variant_get (owned, "(&s)", &s);
    g_assert_cmpstr (s, ==, "kept");
  }
  g_variant_unref (owned);

  /* Floating, on success and on failure: must not leak. */
  rows = msb_db_pools_read (fx->pools, "SELECT ?", g_variant_new ("(s)", "f"), NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);
  rows = msb_db_pools_read (fx->pools, "SELECT ?", g_variant_new_parsed ("(['x'],)"),
                            NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);
  rows = msb_db_pools_read (fx->pools, "SELECT ?, ?", g_variant_new ("(s)", "f"), NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);
  rows = msb_db_pools_read (fx->pools, "SELEC ?", g_variant_new ("(s)", "f"), NULL, &error);
  g_assert_null (rows);
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'kept'"), ==, 3);
}

/* Parameters inside transaction and snapshot callbacks bind the same way. */
typedef struct {
  gboolean ok;
} ConnParamsData;

static gboolean
conn_params_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  ConnParamsData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) named = NULL;
  g_autoptr(MsbDbRows) bad = NULL;
  g_autoptr(GError) local = NULL;

  named = msb_db_connection_execute (connection, "SELECT typeof(:n), :m",
                                     g_variant_new_parsed ("{'n': <@mv nothing>, 'm': <7>}"),
                                     error);
  if (named == NULL)
    return FALSE;
  g_assert_cmpstr (msb_db_rows_get_string (named, 0, 0), ==, "null");
  g_assert_cmpint (msb_db_rows_get_int64 (named, 0, 1), ==, 7);

  rows = msb_db_connection_execute (connection, "SELECT typeof(?), quote(?)",
                                    g_variant_new_parsed ("(@ay [byte 1], @s 'z')"), error);
  if (rows == NULL)
    return FALSE;
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "blob");
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 1), ==, "'z'");

  bad = msb_db_connection_execute (connection, "SELECT ?",
                                   g_variant_new_parsed ("(['a'],)"), &local);
  g_assert_null (bad);
  g_assert_error (local, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  d->ok = TRUE;
  return TRUE;
}

static void
test_in_callbacks (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  ConnParamsData d = { FALSE };

  fx->pools = test_open (fx->path, 0, 0, 0);
  g_assert_true (msb_db_pools_transaction (fx->pools, conn_params_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (d.ok);
  d.ok = FALSE;
  g_assert_true (msb_db_pools_snapshot (fx->pools, conn_params_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (d.ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, setup, func) \
  g_test_add ("/params/" name, Fixture, NULL, setup, func, fixture_teardown)

  ADD ("bind/read", fixture_setup, test_bind_read);
  ADD ("bind/write", fixture_setup, test_bind_write);
  ADD ("bind/int64-limits", fixture_setup, test_int64_limits);
  ADD ("bind/named-prefixes", fixture_setup, test_named_prefixes);
  ADD ("bind/numbered", fixture_setup, test_numbered);
  ADD ("bind/empty-params", fixture_setup, test_empty_params);
  ADD ("bind/null-zero-empty-distinct", fixture_setup, test_null_zero_empty);
  ADD ("bind/in-callbacks", fixture_setup, test_in_callbacks);
  ADD ("bind/refcounts", fixture_setup, test_refcounts);
  ADD ("refused/types", setup_table, test_refused_types);
  ADD ("refused/uint64-overflow", setup_table, test_uint64_overflow);
  ADD ("refused/count-mismatch", setup_table, test_count_mismatch);
  ADD ("refused/not-a-container", setup_table, test_not_a_container);

  return g_test_run ();
}
