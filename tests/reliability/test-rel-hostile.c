/* test-rel-hostile.c: hostile SQL and parameters through the public API
 *
 * Every input goes through every path that accepts SQL: read(), write(),
 * a transaction callback and a snapshot callback. Each must give a clear
 * MSB_DB_ERROR (sensible code, SQLite's reason, the SQL) or a correct
 * result, never a crash or a leak, and the pools must stay usable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <math.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

typedef struct {
  char *dir;
  char *path;
  MsbDbPools *pools;
} Fixture;

static guint n_inputs;   /* hostile inputs tried, for the figures */

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->dir = rel_make_tmpdir ("hostile");
  fx->path = g_build_filename (fx->dir, "hostile.db", NULL);
  fx->pools = rel_open (fx->path, 2, 10 * G_TIME_SPAN_SECOND, 0);
  rel_write_ok (fx->pools, "CREATE TABLE t (id INTEGER PRIMARY KEY, v ANY, b BLOB) STRICT", NULL);
  rel_write_ok (fx->pools, "INSERT INTO t (id, v) VALUES (1, 'one'), (2, 2), (3, NULL)", NULL);
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  rel_assert_pools_usable (fx->pools);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  g_assert_true (rel_integrity_ok (fx->path, NULL));
  rel_rm_rf (fx->dir);
  g_free (fx->dir);
  g_free (fx->path);
}

/* Running SQL on every path ------------------------------------------------ */

typedef enum {
  PATH_READ,
  PATH_WRITE,
  PATH_TRANSACTION,
  PATH_SNAPSHOT,
  N_PATHS
} SqlPath;

static const char * const path_names[] = { "read", "write", "transaction", "snapshot" };

typedef struct {
  const char *sql;
  GVariant *params;
  MsbDbRows *rows;
} ExecData;

static gboolean
exec_in_callback (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  ExecData *d = user_data;

  /* Not floating: the library takes a reference of its own. */
  d->rows = msb_db_connection_execute (connection, d->sql, d->params, error);
  return d->rows != NULL;
}

/* Runs @sql with @params (not consumed) on @path; returns the rows or NULL
 * with @error set. */
static MsbDbRows *
run_on (MsbDbPools  *pools,
        SqlPath      path,
        const char  *sql,
        GVariant    *params,
        GError     **error)
{
  ExecData d = { sql, params, NULL };

  n_inputs++;
  switch (path)
    {
    case PATH_READ:
      return msb_db_pools_read (pools, sql, params, NULL, error);
    case PATH_WRITE:
      return msb_db_pools_write (pools, sql, params, NULL, error);
    case PATH_TRANSACTION:
      if (!msb_db_pools_transaction (pools, exec_in_callback, &d, NULL, error))
        {
          g_clear_object (&d.rows);
          return NULL;
        }
      return d.rows;
    case PATH_SNAPSHOT:
      if (!msb_db_pools_snapshot (pools, exec_in_callback, &d, NULL, error))
        {
          g_clear_object (&d.rows);
          return NULL;
        }
      return d.rows;
    default:
      g_assert_not_reached ();
    }
}

/* Asserts that @sql fails on every path with one of the codes (list ends
 * with -1). */
static void
assert_refused_everywhere (MsbDbPools *pools,
                           const char *sql,
                           GVariant   *params,
                           int         code,
                           ...)
{
  int codes[8];
  guint n_codes = 0;
  va_list ap;

  va_start (ap, code);
  for (int c = code; c != -1 && n_codes < G_N_ELEMENTS (codes); c = va_arg (ap, int))
    codes[n_codes++] = c;
  va_end (ap);

  if (params != NULL)
    g_variant_ref_sink (params);
  for (SqlPath p = 0; p < N_PATHS; p++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = run_on (pools, p, sql, params, &error);
      gboolean matched = FALSE;

      if (rows != NULL)
        g_error ("%s accepted hostile SQL: %.200s", path_names[p], sql);
      g_assert_nonnull (error);
      for (guint i = 0; i < n_codes; i++)
        if (error->domain == MSB_DB_ERROR && error->code == codes[i])
          matched = TRUE;
      if (!matched)
        g_error ("%s: unexpected error for %.200s: %s #%d: %s", path_names[p], sql,
                 g_quark_to_string (error->domain), error->code, error->message);
      g_assert_cmpstr (error->message, !=, "");
      if (p == PATH_READ)
        {
          g_autofree char *shown_sql = rel_printable (sql, 80);
          g_autofree char *shown_error = rel_printable (error->message, 200);

          g_test_message ("%s -> %s", shown_sql, shown_error);
        }
    }
  if (params != NULL)
    g_variant_unref (params);
}

/* Malformed SQL ----------------------------------------------------------- */

static void
test_malformed_sql (Fixture       *fx,
                    gconstpointer  data)
{
  static const char * const syntax_errors[] = {
    "SELEC 1", "SELECT", "SELECT * FROM", "SELECT * FROM no_such_table",
    "SELECT no_such_column FROM t", "INSERT INTO t VALUES (", "SELECT '", "SELECT \"",
    "SELECT x'zz'", "SELECT x'123'", "SELECT 1 +", "SELECT (((1)", "SELECT 1)",
    "SELECT ?0", "SELECT ?999999", "SELECT :", "SELECT no_such_function(1)",
    "SELECT count(*, *) FROM t", "INSERT INTO t (id, nope) VALUES (9, 9)", "UPDATE SET",
    "DELETE FROM", "CREATE TABLE", "DROP TABLE no_such_table", "WITH x AS SELECT 1",
    "SELECT 1 UNION SELECT 1, 2",
    "SELECT abs(1, 2, 3)", "SELECT CAST(1 AS", "SELECT * FROM t WHERE id = 1 AND v MATCH 'x'",
    "\xff\xfe\xfd", "SELECT \xc3\x28", "SELECT * FROM \xe2\x82", "PRAGMA",
    "EXPLAIN", "ANALYZE no_such_table", "REINDEX no_such_index", "SELECT 1 FROM t GROUP BY",
    "SELECT * FROM t LIMIT 'x' OFFSET", "SELECT json_extract('{', '$')",
  };
  static const char * const not_one_statement[] = {
    "", " ", ";", ";;;", "-- only a comment", "/* only a comment */", "/* unterminated",
    "SELECT 1; SELECT 2", "SELECT 1; DROP TABLE t", "INSERT INTO t (id) VALUES (50); SELECT 1",
    "SELECT 1;\n-- trailing\nDELETE FROM t",
  };
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (syntax_errors); i++)
    assert_refused_everywhere (fx->pools, syntax_errors[i], NULL,
                               MSB_DB_ERROR_SQL, -1);
  for (gsize i = 0; i < G_N_ELEMENTS (not_one_statement); i++)
    assert_refused_everywhere (fx->pools, not_one_statement[i], NULL,
                               MSB_DB_ERROR_INVALID_ARGUMENT, -1);

  /* Errors from SQLite carry its code name and the SQL. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbRows) rows = msb_db_pools_read (fx->pools, "SELECT * FROM no_such_table",
                                                   NULL, NULL, &error);

    g_assert_null (rows);
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SQL);
    g_assert_nonnull (strstr (error->message, "no such table"));
    g_assert_nonnull (strstr (error->message, "SQLITE_ERROR"));
    g_assert_nonnull (strstr (error->message, "SELECT * FROM no_such_table"));
  }

  /* Nothing was written by any of it; only the setup rows are there. */
  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->writes, ==, before->writes);
  g_assert_cmpuint (after->transactions, ==, before->transactions);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM t", NULL), ==, 3);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM sqlite_schema", NULL), ==, 1);
}

/* Error messages are text: SQL that is not UTF-8 must not make them invalid
 * UTF-8 (GError messages are UTF-8; bindings decode them). */
static void
test_error_messages_utf8 (Fixture       *fx,
                          gconstpointer  data)
{
  static const char * const inputs[] = {
    "SELECT * FROM \xff\xfe", "SELECT \xc3\x28", "SELECT '\xe2\x82' FROM nowhere",
    "SELECT * FROM t WHERE \xf0\x28\x8c\x28 = 1",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    for (SqlPath p = 0; p < N_PATHS; p++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(MsbDbRows) rows = run_on (fx->pools, p, inputs[i], NULL, &error);

        g_assert_null (rows);
        g_assert_nonnull (error);
        if (!g_utf8_validate (error->message, -1, NULL))
          {
            g_autofree char *shown = g_utf8_make_valid (error->message, -1);
            g_test_fail_printf ("%s: the error message is not valid UTF-8: %s",
                                path_names[p], shown);
            return;
          }
      }
}

static void
test_sql_limits (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GString) sql = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  /* Nesting far past SQLite's expression depth limit. */
  g_string_append (sql, "SELECT ");
  for (int i = 0; i < 100000; i++)
    g_string_append_c (sql, '(');
  g_string_append_c (sql, '1');
  for (int i = 0; i < 100000; i++)
    g_string_append_c (sql, ')');
  assert_refused_everywhere (fx->pools, sql->str, NULL, MSB_DB_ERROR_SQL, -1);

  /* Too many terms in a compound SELECT. */
  g_string_assign (sql, "SELECT 1");
  for (int i = 0; i < 1000; i++)
    g_string_append (sql, " UNION ALL SELECT 1");
  assert_refused_everywhere (fx->pools, sql->str, NULL, MSB_DB_ERROR_SQL, -1);

  /* More columns than SQLite allows. */
  g_string_assign (sql, "SELECT 0");
  for (int i = 1; i < 40000; i++)
    g_string_append_printf (sql, ", %d", i);
  assert_refused_everywhere (fx->pools, sql->str, NULL, MSB_DB_ERROR_SQL, -1);

  /* A 20 MB statement is fine: it is just long. */
  g_string_assign (sql, "SELECT length('");
  for (int i = 0; i < 20 * 1024 * 1024; i++)
    g_string_append_c (sql, 'a' + i % 26);
  g_string_append (sql, "')");
  rows = msb_db_pools_read (fx->pools, sql->str, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, 20 * 1024 * 1024);
  g_clear_object (&rows);

  /* An error on a huge statement does not quote all of it. */
  g_string_append (sql, " FROM no_such_table");
  rows = msb_db_pools_read (fx->pools, sql->str, NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  g_assert_cmpuint (strlen (error->message), <, 4096);
  g_clear_error (&error);

  /* Two thousand columns, the maximum, work. */
  g_string_assign (sql, "SELECT 0");
  for (int i = 1; i < 2000; i++)
    g_string_append_printf (sql, ", %d", i);
  rows = msb_db_pools_read (fx->pools, sql->str, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 2000);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1999), ==, 1999);
}

/* Parameters ---------------------------------------------------------------- */

static GVariant *
unbindable_value (guint i)
{
  const char * const strv[] = { "a", "b", NULL };

  switch (i)
    {
    case 0: return g_variant_new_handle (3);
    case 1: return g_variant_new ("(ii)", 1, 2);
    case 2: return g_variant_new ("ai", NULL);
    case 3: return g_variant_new_strv (strv, -1);
    case 4: return g_variant_new ("aay", NULL);
    case 5: return g_variant_new_dict_entry (g_variant_new_string ("k"), g_variant_new_variant (g_variant_new_int32 (1)));
    case 6: return g_variant_new ("a{sv}", NULL);
    case 7: return g_variant_new ("m(ii)", TRUE, 1, 2);
    case 8: return g_variant_new_variant (g_variant_new ("(s)", "x"));
    case 9: return g_variant_new ("ab", NULL);
    case 10: return g_variant_new ("()");
    case 11: return g_variant_new ("aai", NULL);
    case 12: return g_variant_new_variant (g_variant_new_variant (g_variant_new ("ad", NULL)));
    default: return NULL;
    }
}

static gboolean
contains_ci (const char *haystack,
             const char *needle)
{
  g_autofree char *h = g_ascii_strdown (haystack, -1);
  g_autofree char *n = g_ascii_strdown (needle, -1);

  return strstr (h, n) != NULL;
}

static void
assert_param_error (MsbDbPools *pools,
                    const char *sql,
                    GVariant   *params,
                    const char *label)
{
  g_variant_ref_sink (params);
  for (SqlPath p = 0; p < N_PATHS; p++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = run_on (pools, p, sql, params, &error);

      if (rows != NULL)
        g_error ("%s bound %s to %s", path_names[p], g_variant_print (params, TRUE), sql);
      /* A read path refuses a write before it looks at the parameters. */
      if ((p == PATH_READ || p == PATH_SNAPSHOT) && g_str_has_prefix (sql, "INSERT") &&
          g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY))
        continue;
      g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
      if (label != NULL && !contains_ci (error->message, label))
        g_error ("%s: the error for %s does not name parameter %s: %s", path_names[p],
                 g_variant_get_type_string (params), label, error->message);
    }
  g_variant_unref (params);
}

static void
test_param_types (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  GVariant *value;

  for (guint i = 0; (value = unbindable_value (i)) != NULL; i++)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (value);
      GVariantBuilder named;

      g_test_message ("unbindable type %s", g_variant_get_type_string (v));
      assert_param_error (fx->pools, "SELECT ?, ?",
                          g_variant_new ("(@*i)", v, 1), "Parameter 1");
      assert_param_error (fx->pools, "SELECT ?, ?",
                          g_variant_new ("(i@*)", 1, v), "Parameter 2");
      assert_param_error (fx->pools, "INSERT INTO t (id, v) VALUES (100, ?)",
                          g_variant_new ("(@*)", v), "Parameter 1");
      g_variant_builder_init (&named, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&named, "{sv}", "a", g_variant_new_int32 (1));
      g_variant_builder_add (&named, "{sv}", "b", v);
      assert_param_error (fx->pools, "SELECT :a, :b", g_variant_builder_end (&named), ":b");
    }

  /* Counts that do not match. */
  assert_param_error (fx->pools, "SELECT ?, ?", g_variant_new ("(i)", 1), NULL);
  assert_param_error (fx->pools, "SELECT ?, ?", g_variant_new ("(iii)", 1, 2, 3), NULL);
  assert_param_error (fx->pools, "SELECT ?", g_variant_new ("()"), NULL);
  assert_param_error (fx->pools, "SELECT 1", g_variant_new ("(i)", 1), NULL);
  assert_param_error (fx->pools, "SELECT ?5", g_variant_new ("(i)", 1), NULL);
  /* Named parameters: one missing, one unknown, a positional one. */
  assert_param_error (fx->pools, "SELECT :a, :b", g_variant_new_parsed ("{'a': <1>}"), ":b");
  assert_param_error (fx->pools, "SELECT :a", g_variant_new_parsed ("{'a': <1>, 'zz': <2>}"), "zz");
  assert_param_error (fx->pools, "SELECT :a, ?", g_variant_new_parsed ("{'a': <1>}"), NULL);
  /* Not a tuple, not a{sv}. */
  assert_param_error (fx->pools, "SELECT ?", g_variant_new_int32 (1), NULL);
  assert_param_error (fx->pools, "SELECT ?", g_variant_new_string ("x"), NULL);
  assert_param_error (fx->pools, "SELECT :a", g_variant_new_parsed ("{'a': 'x'}"), NULL);
  assert_param_error (fx->pools, "SELECT :a", g_variant_new_parsed ("[<1>]"), NULL);
  /* A t above G_MAXINT64. */
  assert_param_error (fx->pools, "SELECT ?", g_variant_new ("(t)", (guint64) G_MAXINT64 + 1), "Parameter 1");
  assert_param_error (fx->pools, "SELECT ?", g_variant_new ("(t)", G_MAXUINT64), "Parameter 1");

  /* A missing statement with parameters is still about the SQL. */
  assert_refused_everywhere (fx->pools, "SELECT * FROM nowhere WHERE x = ?",
                             g_variant_new ("(i)", 1), MSB_DB_ERROR_SQL, -1);

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->writes, ==, before->writes);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM t", NULL), ==, 3);
}

static void
test_param_values (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  /* Edges that must bind exactly. */
  rows = msb_db_pools_read (fx->pools, "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, typeof(?), ?",
                            g_variant_new ("(xxtdd@ms@mvvssy)", G_MAXINT64, G_MININT64,
                                           (guint64) G_MAXINT64, 1e308, -0.0,
                                           g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL),
                                           g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL),
                                           g_variant_new_variant (g_variant_new_variant (g_variant_new_int16 (-7))),
                                           "", "", (guchar) 255),
                            NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1), ==, G_MININT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 2), ==, G_MAXINT64);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 3), ==, 1e308);
  g_assert_true (msb_db_rows_is_null (rows, 0, 5));
  g_assert_true (msb_db_rows_is_null (rows, 0, 6));
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 7), ==, -7);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 8), ==, "");
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 9), ==, "text");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 10), ==, 255);
  g_clear_object (&rows);

  /* Non-finite doubles: SQLite stores NaN as NULL; infinities stay. */
  rows = msb_db_pools_read (fx->pools, "SELECT typeof(?), ?, ?",
                            g_variant_new ("(ddd)", NAN, INFINITY, -INFINITY), NULL, &error);
  g_assert_no_error (error);
  g_test_message ("NaN binds as %s", msb_db_rows_get_string (rows, 0, 0));
  g_assert_true (isinf (msb_db_rows_get_double (rows, 0, 1)));
  g_assert_true (isinf (msb_db_rows_get_double (rows, 0, 2)));
  g_clear_object (&rows);

  /* An empty blob stays an empty blob, not NULL. */
  rows = msb_db_pools_read (fx->pools, "SELECT typeof(?), length(?1)",
                            g_variant_new_parsed ("(@ay [],)"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "blob");
  g_clear_object (&rows);

  /* Serialised data that is not in normal form (untrusted bytes) binds
   * whatever GVariant makes of it, without reading out of bounds. */
  {
    static const guint8 junk[] = { 'a', 0, 'b', 0xff, 0xfe, 0, 0, 0, 9 };
    static const char * const types[] = { "(s)", "(sx)", "(ay)", "(asi)", "(v)", "(mv)", "(o)", "(g)", "(xs)", "((ss))" };

    for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
      {
        g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (types[i]),
                                                                             junk, sizeof junk, FALSE,
                                                                             NULL, NULL));
        g_autofree char *sql = g_strdup_printf ("SELECT %s", g_variant_n_children (v) == 2 ? "?, ?" : "?");

        for (SqlPath p = 0; p < N_PATHS; p++)
          {
            g_autoptr(GError) e = NULL;
            g_autoptr(MsbDbRows) r = run_on (fx->pools, p, sql, v, &e);

            g_assert_true ((r != NULL) != (e != NULL));
            if (e != NULL)
              g_assert_error (e, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
          }
      }
  }
}

/* get_int64() of a REAL outside the int64 range: SQLite's own conversion
 * (sqlite3_column_int64) clamps to the nearest end; a plain C cast is
 * undefined behaviour and gives G_MININT64 for +1e19 on x86-64. */
static void
test_real_to_int64 (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows =
    msb_db_pools_read (fx->pools, "SELECT 1e19, -1e19, 1e308, -1e308, 9.3e18, -9.3e18, 2.5, -2.5", NULL, NULL, &error);

  static const gint64 expected[] = { G_MAXINT64, G_MININT64, G_MAXINT64, G_MININT64,
                                      G_MAXINT64, G_MININT64, 2, -2 };

  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_REAL);
  /* Non-fatal: this is a finding, the rest of the suite must still run. */
  for (guint c = 0; c < G_N_ELEMENTS (expected); c++)
    {
      gint64 got = msb_db_rows_get_int64 (rows, 0, c);

      if (got != expected[c])
        {
          g_test_fail_printf ("get_int64 (%s) = %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT
                              " (as sqlite3_column_int64 gives)",
                              msb_db_rows_get_column_name (rows, c), got, expected[c]);
          return;
        }
    }
}

/* A statement that fails the same way every time with SQLITE_LOCKED (a
 * checkpoint inside the writer's own transaction) must fail alone: the
 * writes grouped into the same batch are innocent. */
typedef struct {
  guint pending;
  guint ok;
  guint failed;
  GError *first_error;
} Batch;

static void
on_batch_write (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Batch *b = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows != NULL)
    b->ok++;
  else
    {
      b->failed++;
      if (b->first_error == NULL)
        b->first_error = g_steal_pointer (&error);
    }
  b->pending--;
}

static void
test_locked_statement_in_batch (Fixture       *fx,
                                gconstpointer  data)
{
  Batch innocent = { 0 };
  Batch culprit = { 0 };
  gint64 t0 = g_get_monotonic_time ();

  rel_write_ok (fx->pools, "CREATE TABLE batch (n INTEGER)", NULL);
  /* Queued together, they run as one group-commit batch. */
  for (int i = 0; i < 40; i++)
    {
      if (i == 20)
        {
          culprit.pending++;
          msb_db_pools_write_async (fx->pools, "PRAGMA wal_checkpoint", NULL, NULL, on_batch_write, &culprit);
        }
      innocent.pending++;
      msb_db_pools_write_async (fx->pools, "INSERT INTO batch VALUES (?)", g_variant_new ("(i)", i),
                                NULL, on_batch_write, &innocent);
    }
  while (innocent.pending > 0 || culprit.pending > 0)
    g_main_context_iteration (NULL, TRUE);

  g_test_message ("checkpoint inside the writer: %s (after %.2f s)",
                  culprit.first_error ? culprit.first_error->message : "succeeded",
                  (g_get_monotonic_time () - t0) / 1e6);
  if (innocent.first_error != NULL)
    g_test_message ("an innocent write failed with: %s", innocent.first_error->message);
  if (innocent.failed > 0)
    g_test_fail_printf ("%u of 40 innocent writes failed because a statement in their batch "
                        "failed with SQLITE_LOCKED: %s", innocent.failed, innocent.first_error->message);
  else
    g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM batch", NULL), ==, 40);
  g_assert_cmpuint (innocent.ok + innocent.failed, ==, 40);
  g_clear_error (&innocent.first_error);
  g_clear_error (&culprit.first_error);
}

/* NULs and invalid UTF-8 ---------------------------------------------------- */

static void
test_embedded_nul (Fixture       *fx,
                   gconstpointer  data)
{
  static const guint8 with_nuls[] = { 'a', 0, 'b', 0, 0, 'c' };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) cell = NULL;
  const guint8 *data_out;
  gsize length;

  /* As a blob, through a write and back. */
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t (id, b) VALUES (10, ?) RETURNING length(b)",
                             g_variant_new ("(@ay)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, with_nuls, sizeof with_nuls, 1)),
                             NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, sizeof with_nuls);
  g_clear_object (&rows);
  rows = msb_db_pools_read (fx->pools, "SELECT b FROM t WHERE id = 10", NULL, NULL, &error);
  g_assert_no_error (error);
  bytes = msb_db_rows_get_bytes (rows, 0, 0);
  data_out = g_bytes_get_data (bytes, &length);
  g_assert_cmpmem (data_out, length, with_nuls, sizeof with_nuls);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_object (&rows);

  /* As TEXT with NULs inside, made from a blob and with char(0). */
  for (SqlPath p = 0; p < N_PATHS; p++)
    {
      g_autoptr(GVariant) params = g_variant_ref_sink (g_variant_new ("(@ay)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, with_nuls, sizeof with_nuls, 1)));

      rows = run_on (fx->pools, p, "SELECT CAST(? AS TEXT), 'x' || char(0) || 'y', typeof(CAST(?1 AS TEXT))",
                     params, &error);
      g_assert_no_error (error);
      g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_TEXT);
      g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "a");   /* C string: stops at NUL */
      bytes = msb_db_rows_get_bytes (rows, 0, 0);
      data_out = g_bytes_get_data (bytes, &length);
      g_assert_cmpmem (data_out, length, with_nuls, sizeof with_nuls);
      g_clear_pointer (&bytes, g_bytes_unref);
      bytes = msb_db_rows_get_bytes (rows, 0, 1);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "x\0y", 3);
      g_clear_pointer (&bytes, g_bytes_unref);

      /* to_variant cannot put NUL in an "s": it hands out the bytes. */
      all = msb_db_rows_to_variant (rows);
      g_variant_get_child (all, 0, "(@mv@mv@mv)", &cell, NULL, NULL);
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (cell);
        g_autoptr(GVariant) value = g_variant_get_variant (inner);

        g_assert_cmpstr (g_variant_get_type_string (value), ==, "ay");
        data_out = g_variant_get_fixed_array (value, &length, 1);
        g_assert_cmpmem (data_out, length, with_nuls, sizeof with_nuls);
      }
      g_clear_pointer (&cell, g_variant_unref);
      g_clear_pointer (&all, g_variant_unref);
      g_clear_object (&rows);
    }

  /* Stored as TEXT and read back whole. */
  rel_write_ok (fx->pools, "INSERT INTO t (id, v) VALUES (11, 'p' || char(0) || 'q')", NULL);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT length(CAST(v AS BLOB)) FROM t WHERE id = 11", NULL), ==, 3);
  rows = msb_db_pools_read (fx->pools, "SELECT v FROM t WHERE id = 11", NULL, NULL, &error);
  g_assert_no_error (error);
  bytes = msb_db_rows_get_bytes (rows, 0, 0);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "p\0q", 3);
}

static void
test_invalid_utf8 (Fixture       *fx,
                   gconstpointer  data)
{
  static const char * const hex[] = {
    "FF", "C0AF", "EDA080", "F4908080", "E282", "80", "F8888080", "61FF62", "C3",
    "EFBFBF", "00FF", "FEFF",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (hex); i++)
    {
      g_autofree char *insert = g_strdup_printf ("INSERT INTO t (id, v) VALUES (%" G_GSIZE_FORMAT ", CAST(x'%s' AS TEXT))",
                                                 100 + i, hex[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) all = NULL;
      g_autoptr(GVariant) row = NULL;
      g_autoptr(GVariant) cell = NULL;
      g_autoptr(GVariant) inner = NULL;
      g_autoptr(GVariant) value = NULL;
      gsize length;
      const guint8 *raw;
      g_autoptr(GString) got_hex = g_string_new (NULL);

      rel_write_ok (fx->pools, insert, NULL);
      n_inputs++;
      for (SqlPath p = 0; p < N_PATHS; p++)
        {
          g_autoptr(MsbDbRows) r = NULL;
          g_autoptr(GVariant) id = g_variant_ref_sink (g_variant_new ("(x)", (gint64) (100 + i)));

          r = run_on (fx->pools, p,
                      "SELECT v, typeof(v), length(v), upper(v), lower(v), substr(v, 2), hex(v), "
                      "v LIKE '%a%', instr(v, 'b'), replace(v, 'a', 'b'), trim(v), quote(v), "
                      "json_quote(v), unicode(v), v || v FROM t WHERE id = ?",
                      id, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (msb_db_rows_get_n_rows (r), ==, 1);
          g_assert_cmpstr (msb_db_rows_get_string (r, 0, 1), ==, "text");
          g_assert_cmpstr (msb_db_rows_get_string (r, 0, 6), ==, hex[i]);
          g_clear_pointer (&all, g_variant_unref);
          all = msb_db_rows_to_variant (r);
          g_assert_nonnull (all);
          g_assert_true (g_variant_is_normal_form (all));
        }

      rows = msb_db_pools_read (fx->pools, "SELECT v FROM t WHERE id = ?",
                                g_variant_new ("(x)", (gint64) (100 + i)), NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_TEXT);
      g_assert_nonnull (msb_db_rows_get_string (rows, 0, 0));
      bytes = msb_db_rows_get_bytes (rows, 0, 0);
      raw = g_bytes_get_data (bytes, &length);
      for (gsize j = 0; j < length; j++)
        g_string_append_printf (got_hex, "%02X", raw[j]);
      g_assert_cmpstr (got_hex->str, ==, hex[i]);

      /* to_variant must not make an invalid "s": text that is not UTF-8
       * comes out as its bytes, exactly. */
      g_clear_pointer (&all, g_variant_unref);
      all = msb_db_rows_to_variant (rows);
      row = g_variant_get_child_value (all, 0);
      cell = g_variant_get_child_value (row, 0);
      inner = g_variant_get_maybe (cell);
      value = g_variant_get_variant (inner);
      if (g_utf8_validate_len ((const char *) raw, length, NULL) && memchr (raw, 0, length) == NULL)
        g_assert_cmpstr (g_variant_get_type_string (value), ==, "s");
      else
        {
          const guint8 *out = NULL;
          gsize out_len = 0;

          g_assert_cmpstr (g_variant_get_type_string (value), ==, "ay");
          out = g_variant_get_fixed_array (value, &out_len, 1);
          g_assert_cmpmem (out, out_len, raw, length);
        }
    }
}

/* Huge values --------------------------------------------------------------- */

static void
test_huge_blob (Fixture       *fx,
                gconstpointer  data)
{
  const gsize size = 100 * 1024 * 1024 + 17;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GBytes) in = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GVariant) all = NULL;
  guint8 *buffer = g_malloc (size);
  guint32 state = 12345;

  for (gsize i = 0; i < size; i += 4)
    {
      state = state * 1664525u + 1013904223u;
      memcpy (buffer + i, &state, MIN (4, size - i));
    }
  in = g_bytes_new_take (buffer, size);

  rows = msb_db_pools_write (fx->pools, "INSERT INTO t (id, b) VALUES (500, ?) RETURNING length(b)",
                             g_variant_new ("(@ay)", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, in, TRUE)),
                             NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, (gint64) size);
  g_clear_object (&rows);

  rows = msb_db_pools_read (fx->pools, "SELECT b FROM t WHERE id = 500", NULL, NULL, &error);
  g_assert_no_error (error);
  out = msb_db_rows_get_bytes (rows, 0, 0);
  g_assert_true (g_bytes_equal (in, out));
  all = msb_db_rows_to_variant (rows);
  g_assert_cmpuint (g_variant_get_size (all), >=, size);
  g_clear_pointer (&all, g_variant_unref);
  g_clear_object (&rows);

  /* Through a transaction callback too, updating it in place. */
  rows = msb_db_pools_write (fx->pools, "UPDATE t SET b = zeroblob(length(b) + 1) WHERE id = 500", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 1);
  g_clear_object (&rows);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT length(b) FROM t WHERE id = 500", NULL), ==, (gint64) size + 1);

  /* Past SQLite's length limit: a clear error, nothing allocated for it. */
  assert_refused_everywhere (fx->pools, "SELECT zeroblob(2000000000)", NULL, MSB_DB_ERROR_SQL, -1);
  assert_refused_everywhere (fx->pools, "SELECT randomblob(1000000001)", NULL, MSB_DB_ERROR_SQL, -1);

  if (!rel_under_valgrind ())
    {
      /* A parameter past the limit (the pages are never touched). */
      gsize too_big = 1000 * 1000 * 1000 + 1;
      g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (too_big), too_big);
      GVariant *params = g_variant_new ("(@ay)", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, big, TRUE));

      assert_param_error (fx->pools, "SELECT length(?)", params, "Parameter 1");
    }
  rel_figure ("hostile.huge_blob_bytes", "%" G_GSIZE_FORMAT, size);
}

static void
test_huge_result (Fixture       *fx,
                  gconstpointer  data)
{
  gint64 n = rel_under_valgrind () ? 100000 : rel_long_tests () ? 5000000 : 1000000;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) last = NULL;
  gint64 x;
  const char *s;

  rows = msb_db_pools_read (fx->pools,
                            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) "
                            "SELECT x, 'row ' || x, x * 0.5, NULL, CAST(x AS BLOB) FROM c",
                            g_variant_new ("(x)", n), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, n);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, n - 1, 0), ==, n);
  g_assert_true (msb_db_rows_is_null (rows, n - 1, 3));

  g_test_message ("%" G_GINT64_FORMAT " rows of 5 columns read in %.2f s", n, (g_get_monotonic_time () - t0) / 1e6);
  t0 = g_get_monotonic_time ();
  all = msb_db_rows_to_variant (rows);
  g_assert_cmpuint (g_variant_n_children (all), ==, n);
  g_test_message ("turned into one GVariant in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  last = g_variant_get_child_value (all, n - 1);
  g_variant_get (last, "(mvmvmvmvmv)", NULL, NULL, NULL, NULL, NULL);
  {
    g_autoptr(GVariant) c0 = g_variant_get_child_value (last, 0);
    g_autoptr(GVariant) c1 = g_variant_get_child_value (last, 1);
    g_autoptr(GVariant) v0 = g_variant_get_maybe (c0);
    g_autoptr(GVariant) v1 = g_variant_get_maybe (c1);
    g_autoptr(GVariant) i0 = g_variant_get_variant (v0);
    g_autoptr(GVariant) i1 = g_variant_get_variant (v1);
    g_autofree char *expected = g_strdup_printf ("row %" G_GINT64_FORMAT, n);

    x = g_variant_get_int64 (i0);
    s = g_variant_get_string (i1, NULL);
    g_assert_cmpint (x, ==, n);
    g_assert_cmpstr (s, ==, expected);
  }
  rel_figure ("hostile.huge_result_rows", "%" G_GINT64_FORMAT, n);
}

/* More result bytes than a GByteArray holds (4 GiB). Long test only: it
 * needs some 10 GB of memory. */
static void
test_result_over_4gib (void)
{
  if (!rel_long_tests ())
    {
      g_test_skip ("needs about 10 GB of memory: long tests only");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autofree char *dir = rel_subprocess_dir ("4gib");
      g_autofree char *path = g_build_filename (dir, "big.db", NULL);
      g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows =
        msb_db_pools_read (pools, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) "
                                  "SELECT zeroblob(900000000) FROM c", NULL, NULL, &error);

      /* Either a result or a clear error; never an abort. */
      if (rows == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_FAILED, MSB_DB_ERROR_SQL, -1);
      else
        g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 5);
      rel_assert_pools_usable (pools);
      msb_db_pools_close (pools, NULL, NULL);
      rel_rm_rf (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 600 * G_TIME_SPAN_SECOND, G_TEST_SUBPROCESS_INHERIT_STDERR);
  rel_subprocess_dir_remove ("4gib");
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("a read whose result holds more than 4 GiB of text/blob bytes "
                        "killed the process instead of failing");
}

/* PRAGMAs --------------------------------------------------------------------- */

static void
test_protected_pragmas (Fixture       *fx,
                        gconstpointer  data)
{
  static const char * const refused[] = {
    "PRAGMA journal_mode = DELETE", "PRAGMA journal_mode=OFF", "PRAGMA main.journal_mode = MEMORY",
    "PRAGMA JOURNAL_MODE = truncate", "pragma journal_mode('delete')",
    "PRAGMA writable_schema = ON", "PRAGMA writable_schema = 1", "PRAGMA main.writable_schema=RESET",
    "PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = 0", "PRAGMA Foreign_Keys=false",
    "PRAGMA synchronous = OFF", "PRAGMA busy_timeout = 0", "PRAGMA trusted_schema = ON",
    "PRAGMA query_only = 1", "PRAGMA locking_mode = EXCLUSIVE", "PRAGMA journal_size_limit = -1",
    "PRAGMA wal_autocheckpoint = 0", "PRAGMA ignore_check_constraints = 1",
    "PRAGMA cell_size_check = 0", "PRAGMA temp_store_directory = '/tmp'",
    "PRAGMA mmap_size = 1000000000",
    "/* hidden */ PRAGMA foreign_keys = OFF", "  \n PRAGMA\nforeign_keys\n=\nOFF",
  };
  struct { const char *sql; const char *expected; } unchanged[] = {
    { "PRAGMA journal_mode", "wal" },
    { "PRAGMA foreign_keys", "1" },
    { "PRAGMA synchronous", "1" },
    { "PRAGMA trusted_schema", "0" },
    { "PRAGMA writable_schema", "0" },
    { "PRAGMA query_only", "0" },
    { "PRAGMA locking_mode", "normal" },
    { "PRAGMA ignore_check_constraints", "0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    assert_refused_everywhere (fx->pools, refused[i], NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);

  /* Table-valued pragma functions do not get around it either. */
  assert_refused_everywhere (fx->pools, "SELECT * FROM pragma_journal_mode('delete')", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);

  /* Every connection still has its settings, on both sides. */
  for (gsize i = 0; i < G_N_ELEMENTS (unchanged); i++)
    for (SqlPath p = 0; p < N_PATHS; p++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(MsbDbRows) rows = run_on (fx->pools, p, unchanged[i].sql, NULL, &error);
        g_autofree char *text = NULL;

        g_assert_no_error (error);
        if (msb_db_rows_get_value_type (rows, 0, 0) == MSB_DB_VALUE_TYPE_TEXT)
          text = g_strdup (msb_db_rows_get_string (rows, 0, 0));
        else
          text = g_strdup_printf ("%" G_GINT64_FORMAT, msb_db_rows_get_int64 (rows, 0, 0));
        if (!g_str_equal (text, unchanged[i].expected))
          g_error ("%s on %s: %s, expected %s", unchanged[i].sql, path_names[p], text, unchanged[i].expected);
      }

  /* foreign_keys is really on, in the writer, after all that. */
  rel_write_ok (fx->pools, "CREATE TABLE parent (id INTEGER PRIMARY KEY)", NULL);
  rel_write_ok (fx->pools, "CREATE TABLE child (pid INTEGER REFERENCES parent (id))", NULL);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbRows) rows = msb_db_pools_write (fx->pools, "INSERT INTO child VALUES (42)", NULL, NULL, &error);

    g_assert_null (rows);
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  }
}

/* A PRAGMA that changes the whole process, not one connection: one hostile
 * statement must not break every other pools object of the process. */
static void
test_process_wide_pragmas (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = rel_subprocess_dir ("heap");
      g_autofree char *a_path = g_build_filename (dir, "a.db", NULL);
      g_autofree char *b_path = g_build_filename (dir, "b.db", NULL);
      g_autoptr(MsbDbPools) a = rel_open (a_path, 1, 0, 0);
      g_autoptr(MsbDbPools) b = rel_open (b_path, 1, 0, 0);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_read (a, "PRAGMA hard_heap_limit = 100000", NULL, NULL, &error);
      if (rows != NULL || error != NULL)
        g_test_message ("PRAGMA hard_heap_limit through read(): %s", error ? error->message : "accepted");
      g_clear_error (&error);
      g_clear_object (&rows);

      /* The other pools object of the process must not notice. */
      rows = msb_db_pools_read (b, "SELECT 1", NULL, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&rows);
      rows = msb_db_pools_write (b, "CREATE TABLE x (y)", NULL, NULL, &error);
      g_assert_no_error (error);
      msb_db_pools_close (a, NULL, NULL);
      msb_db_pools_close (b, NULL, NULL);
      rel_rm_rf (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_TIME_SPAN_SECOND, G_TEST_SUBPROCESS_INHERIT_STDERR);
  rel_subprocess_dir_remove ("heap");
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("one PRAGMA run through read() broke another pools object of the process");
}

/* Other files: ATTACH, VACUUM INTO ----------------------------------------- */

static void
test_attach (Fixture       *fx,
             gconstpointer  data)
{
  g_autofree char *other = g_build_filename (fx->dir, "other.db", NULL);
  g_autofree char *attach = g_strdup_printf ("ATTACH DATABASE '%s' AS other", other);
  g_autofree char *attach_uri = g_strdup_printf ("ATTACH 'file:%s?mode=rwc' AS other", other);
  g_autofree char *vacuum_into = g_strdup_printf ("VACUUM INTO '%s'", other);
  g_autofree char *vacuum_schema_into = g_strdup_printf ("VACUUM main INTO '%s'", other);

  assert_refused_everywhere (fx->pools, attach, NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, attach_uri, NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "ATTACH DATABASE ? AS other",
                             g_variant_new ("(s)", other), MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "ATTACH ':memory:' AS mem", NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "ATTACH '' AS tmp2", NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "DETACH DATABASE main", NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "DETACH temp", NULL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));

  /* VACUUM INTO writes another file: a read connection refuses it as a
   * write, the writer because it always runs inside a transaction. */
  assert_refused_everywhere (fx->pools, vacuum_into, NULL,
                             MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, vacuum_schema_into, NULL,
                             MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));

  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM pragma_database_list", NULL), ==, 1);
}

static void
test_load_extension (Fixture       *fx,
                     gconstpointer  data)
{
  const char *extension = g_getenv ("MSB_DB_REL_EVIL_EXTENSION");
  const char *marker = g_getenv ("MSB_DB_REL_EVIL_MARKER");
  g_autofree char *direct = NULL;
  g_autofree char *with_entry = NULL;

  if (extension == NULL || !g_file_test (extension, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("MSB_DB_REL_EVIL_EXTENSION is not set (run through meson test)");
      return;
    }
  g_assert_nonnull (marker);
  g_unlink (marker);
  direct = g_strdup_printf ("SELECT load_extension('%s')", extension);
  with_entry = g_strdup_printf ("SELECT load_extension('%s', 'sqlite3_extension_init')", extension);

  /* The authorizer denies the function: SQLite reports "not authorized"
   * (SQLITE_ERROR, so MSB_DB_ERROR_SQL); extension loading is off anyway. */
  assert_refused_everywhere (fx->pools, direct, NULL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
  assert_refused_everywhere (fx->pools, with_entry, NULL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
  assert_refused_everywhere (fx->pools, "SELECT load_extension(?)",
                             g_variant_new ("(s)", extension), MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
  assert_refused_everywhere (fx->pools, "SELECT LOAD_EXTENSION(?)",
                             g_variant_new ("(s)", extension), MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
  assert_refused_everywhere (fx->pools, "INSERT INTO t (id, v) VALUES (77, load_extension(?))",
                             g_variant_new ("(s)", extension),
                             MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, -1);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM t WHERE id = 77", NULL), ==, 0);
}

/* Functions the library refuses are "SQL refused by the library", which
 * msb-db-error.h files under MSB_DB_ERROR_INVALID_ARGUMENT, like refused
 * PRAGMAs, ATTACH and transaction control; and the message should say that
 * MsbDb refused it. */
static void
test_refused_function_code (Fixture       *fx,
                            gconstpointer  data)
{
  static const char * const refused[] = {
    "SELECT load_extension('x')", "SELECT fts3_tokenizer('simple')",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = msb_db_pools_read (fx->pools, refused[i], NULL, NULL, &error);

      g_assert_null (rows);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MSB_DB_ERROR);
      if (error->code != MSB_DB_ERROR_INVALID_ARGUMENT || strstr (error->message, "MsbDb") == NULL)
        {
          g_test_fail_printf ("%s: code %d, “%s”; expected INVALID_ARGUMENT with the library's "
                              "own reason (as for refused PRAGMAs and ATTACH)", refused[i],
                              error->code, error->message);
          return;
        }
    }
}

/* fts3_tokenizer(): SQLite as built by Debian (SQLITE_ENABLE_FTS3_TOKENIZER)
 * accepts a raw pointer from SQL and later calls through it. Hostile SQL
 * must get a clear error, not a crash; each case runs in a subprocess. */
static void
fts3_case (const char *how)
{
  g_autofree char *dir = rel_subprocess_dir ("fts3");
  g_autofree char *path = g_build_filename (dir, "fts3.db", NULL);
  g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  static const guint8 pointer[8] = { 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41 };

  rel_write_ok (pools, "CREATE VIRTUAL TABLE ft USING fts3(body, tokenize=simple)", NULL);
  rel_write_ok (pools, "INSERT INTO ft (body) VALUES ('hello world')", NULL);

  if (g_str_equal (how, "leak"))
    {
      rows = msb_db_pools_read (pools, "SELECT fts3_tokenizer('simple')", NULL, NULL, &error);
      if (rows != NULL)
        {
          g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, 0, 0);
          g_error ("fts3_tokenizer('simple') handed out a %" G_GSIZE_FORMAT "-byte pointer to SQL",
                   bytes ? g_bytes_get_size (bytes) : 0);
        }
      rel_assert_db_error (error, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
    }
  else if (g_str_equal (how, "write"))
    {
      rows = msb_db_pools_write (pools, "SELECT fts3_tokenizer('simple', x'4141414141414141')",
                                 NULL, NULL, &error);
      if (rows == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
      else
        g_test_message ("fts3_tokenizer() with a pointer was accepted by write()");
      g_clear_error (&error);
      g_clear_object (&rows);
      rows = msb_db_pools_write (pools, "CREATE VIRTUAL TABLE ft2 USING fts3(body, tokenize=simple)",
                                 NULL, NULL, &error);
      g_clear_error (&error);
      g_clear_object (&rows);
    }
  else if (g_str_equal (how, "bound"))
    {
      rows = msb_db_pools_write (pools, "SELECT fts3_tokenizer(?, ?)",
                                 g_variant_new ("(s@ay)", "simple",
                                                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pointer, 8, 1)),
                                 NULL, &error);
      if (rows == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
      else
        g_test_message ("fts3_tokenizer() with a bound pointer was accepted by write()");
      g_clear_error (&error);
      g_clear_object (&rows);
      rows = msb_db_pools_write (pools, "CREATE VIRTUAL TABLE ft3 USING fts3(body, tokenize=simple)",
                                 NULL, NULL, &error);
      g_clear_error (&error);
      g_clear_object (&rows);
    }
  else if (g_str_equal (how, "read"))
    {
      rows = msb_db_pools_read (pools, "SELECT fts3_tokenizer('simple', x'4141414141414141')",
                                NULL, NULL, &error);
      if (rows == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_SQL, -1);
      else
        g_test_message ("fts3_tokenizer() with a pointer was accepted by read()");
      g_clear_error (&error);
      g_clear_object (&rows);
      /* The read connection goes back to the pool; the next reader uses it. */
      rows = msb_db_pools_read (pools, "SELECT count(*) FROM ft WHERE ft MATCH 'hello'", NULL, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&rows);
    }
  rel_assert_pools_usable (pools);
  msb_db_pools_close (pools, NULL, NULL);
  rel_rm_rf (dir);
}

static void
test_fts3_tokenizer (gconstpointer data)
{
  const char *how = data;

  if (g_test_subprocess ())
    {
      fts3_case (how);
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_TIME_SPAN_SECOND, G_TEST_SUBPROCESS_INHERIT_STDERR);
  rel_subprocess_dir_remove ("fts3");
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("fts3_tokenizer (%s): the subprocess %s", how,
                        g_test_trap_reached_timeout () ? "timed out" : "crashed or failed");
}

/* Transaction control and schema tampering ---------------------------------- */

typedef struct {
  const char *sql;
  guint calls;
} TxnSql;

static gboolean
txn_then_control (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  TxnSql *d = user_data;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  g_autoptr(GError) local = NULL;

  d->calls++;
  a = msb_db_connection_execute (connection, "INSERT INTO t (id, v) VALUES (900, 'kept')", NULL, error);
  if (a == NULL)
    return FALSE;
  b = msb_db_connection_execute (connection, d->sql, NULL, &local);
  if (b != NULL)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED, "%s was accepted in a transaction", d->sql);
      return FALSE;
    }
  if (!g_error_matches (local, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* Carry on: the refused statement changed nothing, we commit. */
  return TRUE;
}

static void
test_transaction_control (Fixture       *fx,
                          gconstpointer  data)
{
  static const char * const control[] = {
    "BEGIN", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "BEGIN DEFERRED TRANSACTION", "COMMIT", "END",
    "END TRANSACTION", "ROLLBACK", "ROLLBACK TRANSACTION", "SAVEPOINT x", "RELEASE x",
    "RELEASE SAVEPOINT msb_db_job", "ROLLBACK TO msb_db_job", "ROLLBACK TO SAVEPOINT x",
    "/* sneaky */ COMMIT", "  commit  ", "-- c\nROLLBACK",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (control); i++)
    {
      TxnSql d = { control[i], 0 };
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = msb_db_pools_write (fx->pools, control[i], NULL, NULL, &error);

      n_inputs += 2;
      g_assert_null (rows);
      g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "transaction"));
      g_clear_error (&error);

      rows = msb_db_pools_read (fx->pools, control[i], NULL, NULL, &error);
      g_assert_null (rows);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MSB_DB_ERROR);
      g_clear_error (&error);

      /* Inside a transaction: refused, and the transaction is still ours. */
      g_assert_true (msb_db_pools_transaction (fx->pools, txn_then_control, &d, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM t WHERE id = 900", NULL), ==, 1);
      rel_write_ok (fx->pools, "DELETE FROM t WHERE id = 900", NULL);
    }
}

static void
test_schema_tampering (Fixture       *fx,
                       gconstpointer  data)
{
  rel_write_ok (fx->pools, "CREATE VIRTUAL TABLE ft USING fts5(body)", NULL);
  rel_write_ok (fx->pools, "INSERT INTO ft (body) VALUES ('some text')", NULL);

  assert_refused_everywhere (fx->pools, "UPDATE sqlite_schema SET sql = 'CREATE TABLE t (x)' WHERE name = 't'",
                             NULL, MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "DELETE FROM sqlite_master", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "INSERT INTO sqlite_schema VALUES ('table', 'evil', 'evil', 2, 'CREATE TABLE evil (x)')",
                             NULL, MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "DROP TABLE sqlite_master", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "CREATE TABLE sqlite_evil (x)", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  /* Defensive mode: the shadow tables of a virtual table are read-only to
   * SQL, so they cannot be corrupted from outside. */
  assert_refused_everywhere (fx->pools, "UPDATE ft_data SET block = x'00'", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "DELETE FROM ft_idx", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_refused_everywhere (fx->pools, "INSERT INTO ft_config VALUES ('version', 99)", NULL,
                             MSB_DB_ERROR_SQL, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_INVALID_ARGUMENT, -1);

  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM ft WHERE ft MATCH 'text'", NULL), ==, 1);
  g_assert_cmpint (rel_read_int (fx->pools, "SELECT count(*) FROM t", NULL), ==, 3);
}

/* Resources: abuse in a loop, no descriptor or thread left behind. ---------- */

static void
test_no_leak_after_abuse (void)
{
  g_autofree char *dir = rel_make_tmpdir ("leak");
  g_autofree char *path = g_build_filename (dir, "leak.db", NULL);
  guint fds_before = 0, fds_after;

  /* One warm-up round: GLib's thread pool and type system start lazily. */
  for (int round = 0; round < 4; round++)
    {
      g_autoptr(MsbDbPools) pools = rel_open (path, 3, 0, 0);

      if (round == 1)
        fds_before = rel_count_fds ();
      for (int i = 0; i < 20; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(MsbDbRows) a = NULL;
          g_autoptr(MsbDbRows) b = NULL;
          g_autoptr(MsbDbRows) c = NULL;

          a = msb_db_pools_read (pools, "SELEC 1", NULL, NULL, &error);
          g_clear_error (&error);
          b = msb_db_pools_write (pools, "PRAGMA journal_mode = DELETE", NULL, NULL, &error);
          g_clear_error (&error);
          c = msb_db_pools_read (pools, "SELECT ?", g_variant_new ("(h)", 1), NULL, &error);
          g_clear_error (&error);
        }
      rel_assert_pools_usable (pools);
      g_assert_true (msb_db_pools_close (pools, NULL, NULL));
    }
  fds_after = rel_count_fds ();
  g_assert_cmpuint (fds_after, <=, fds_before);
  rel_rm_rf (dir);
}

int
main (int    argc,
      char **argv)
{
  int status;
  int result;

  if (rel_dispatch_child (argc, argv, (const RelChildMode[]) { { NULL, NULL } }, &status))
    return status;

  rel_setup_evil_marker ();
  g_test_init (&argc, &argv, NULL);
#define ADD(name, func) g_test_add ("/reliability/hostile/" name, Fixture, NULL, setup, func, teardown)
  ADD ("malformed-sql", test_malformed_sql);
  ADD ("error-messages-utf8", test_error_messages_utf8);
  ADD ("sql-limits", test_sql_limits);
  ADD ("param-types", test_param_types);
  ADD ("param-values", test_param_values);
  ADD ("real-to-int64", test_real_to_int64);
  ADD ("locked-statement-in-batch", test_locked_statement_in_batch);
  ADD ("embedded-nul", test_embedded_nul);
  ADD ("invalid-utf8", test_invalid_utf8);
  ADD ("huge-blob", test_huge_blob);
  ADD ("huge-result", test_huge_result);
  ADD ("protected-pragmas", test_protected_pragmas);
  ADD ("attach-and-vacuum-into", test_attach);
  ADD ("load-extension", test_load_extension);
  ADD ("refused-function-code", test_refused_function_code);
  ADD ("transaction-control", test_transaction_control);
  ADD ("schema-tampering", test_schema_tampering);
#undef ADD
  g_test_add_func ("/reliability/hostile/result-over-4gib", test_result_over_4gib);
  g_test_add_func ("/reliability/hostile/process-wide-pragma", test_process_wide_pragmas);
  g_test_add_data_func ("/reliability/hostile/fts3-tokenizer/pointer-leak", "leak", test_fts3_tokenizer);
  g_test_add_data_func ("/reliability/hostile/fts3-tokenizer/write", "write", test_fts3_tokenizer);
  g_test_add_data_func ("/reliability/hostile/fts3-tokenizer/bound", "bound", test_fts3_tokenizer);
  g_test_add_data_func ("/reliability/hostile/fts3-tokenizer/read", "read", test_fts3_tokenizer);
  g_test_add_func ("/reliability/hostile/no-leak-after-abuse", test_no_leak_after_abuse);

  result = g_test_run ();
  if (!g_test_subprocess ())
    rel_figure ("hostile.inputs", "%u", n_inputs);
  return result;
}
