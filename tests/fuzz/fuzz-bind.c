/* fuzz-bind.c: parameters from arbitrary GVariants
 *
 * Input: one selector byte, a GVariant type string ending in NUL, then the
 * serialised data. The data is read with g_variant_new_from_data (not
 * trusted, so any bytes are valid input) and bound, depending on the
 * selector, directly with msb_db_bind_params() on a raw statement, or
 * through the public API: msb_db_pools_read(), msb_db_pools_write(), or
 * msb_db_connection_execute() in a transaction, on a small database.
 *
 * Checked on every input, beyond "no crash, no leak, no sanitizer report":
 * - a failure is an MSB_DB_ERROR (INVALID_ARGUMENT or SQL) with a message;
 * - a success binds what was given: for a tuple of plain values, each
 *   result column holds exactly that value (never a silent NULL);
 * - the result converts to a normal-form GVariant.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <msb-db.h>
#include <sqlite3.h>
#include <math.h>

#include "msb-db-bind.h"
#include "fuzz-common.h"

static const char * const statements[] = {
  "SELECT ?",
  "SELECT ?, ?",
  "SELECT ?1, ?2, ?1",
  "SELECT :a, @b, $c",
  "SELECT :a",
  "SELECT ?3",
  "SELECT typeof(?), length(?), quote(?)",
  "SELECT 1",
  "SELECT :name, ?",
  "SELECT ?, :x, ?",
  "SELECT ?, ?, ?, ?, ?, ?, ?, ?",
  "SELECT CAST(? AS TEXT), CAST(? AS BLOB)",
  "SELECT hex(?), ? IS NULL",
  "SELECT :a, :a, :b",
  "SELECT ?, ?250000",
  "INSERT INTO t (v) VALUES (?) RETURNING v, typeof(v)",
};

static MsbDbPools *pools;
static sqlite3 *raw;
static guint64 executions;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  GError *error = NULL;
  g_autofree char *path = NULL;
  MsbDbRows *rows;

  /* Criticals from the library are bugs too. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  path = fuzz_database_path ("bind");
  pools = msb_db_pools_open (path, 1, 10 * G_TIME_SPAN_SECOND, 0, NULL, &error);
  g_assert_no_error (error);
  rows = msb_db_pools_write (pools, "CREATE TABLE t (v)", NULL, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (rows);

  if (sqlite3_open (":memory:", &raw) != SQLITE_OK)
    abort ();
  return 0;
}

/* The value SQLite should hold for @value, as a comparable string, or NULL
 * if the harness does not know (the value is not a plain one). */
static char *
expected_text (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return g_strdup_printf ("i:%d", g_variant_get_boolean (value) ? 1 : 0);
    case G_VARIANT_CLASS_BYTE:
      return g_strdup_printf ("i:%d", g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return g_strdup_printf ("i:%d", g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return g_strdup_printf ("i:%u", g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return g_strdup_printf ("i:%d", g_variant_get_int32 (value));
    case G_VARIANT_CLASS_UINT32:
      return g_strdup_printf ("i:%u", g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_INT64:
      return g_strdup_printf ("i:%" G_GINT64_FORMAT, g_variant_get_int64 (value));
    case G_VARIANT_CLASS_UINT64:
      return g_strdup_printf ("i:%" G_GUINT64_FORMAT, g_variant_get_uint64 (value));
    case G_VARIANT_CLASS_DOUBLE:
      {
        double d = g_variant_get_double (value);

        /* SQLite stores NaN as NULL. */
        if (isnan (d))
          return g_strdup ("n");
        return g_strdup_printf ("d:%a", d);
      }
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize length;
        const char *s = g_variant_get_string (value, &length);
        g_autofree char *hex = g_malloc (length * 2 + 1);

        for (gsize i = 0; i < length; i++)
          g_snprintf (hex + 2 * i, 3, "%02X", (guint8) s[i]);
        hex[length * 2] = '\0';
        return g_strdup_printf ("t:%s", hex);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          gsize length;
          const guint8 *b = g_variant_get_fixed_array (value, &length, 1);
          g_autofree char *hex = g_malloc (length * 2 + 1);

          for (gsize i = 0; i < length; i++)
            g_snprintf (hex + 2 * i, 3, "%02X", b[i]);
          hex[length * 2] = '\0';
          return g_strdup_printf ("b:%s", hex);
        }
      return NULL;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);
        return expected_text (inner);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);
        return inner ? expected_text (inner) : g_strdup ("n");
      }
    default:
      return NULL;
    }
}

static char *
rows_cell_text (MsbDbRows *rows,
                guint      column)
{
  switch (msb_db_rows_get_value_type (rows, 0, column))
    {
    case MSB_DB_VALUE_TYPE_NULL:
      return g_strdup ("n");
    case MSB_DB_VALUE_TYPE_INTEGER:
      return g_strdup_printf ("i:%" G_GINT64_FORMAT, msb_db_rows_get_int64 (rows, 0, column));
    case MSB_DB_VALUE_TYPE_REAL:
      return g_strdup_printf ("d:%a", msb_db_rows_get_double (rows, 0, column));
    case MSB_DB_VALUE_TYPE_TEXT:
    case MSB_DB_VALUE_TYPE_BLOB:
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, 0, column);
        gsize length;
        const guint8 *b = g_bytes_get_data (bytes, &length);
        g_autofree char *hex = g_malloc (length * 2 + 1);

        for (gsize i = 0; i < length; i++)
          g_snprintf (hex + 2 * i, 3, "%02X", b[i]);
        hex[length * 2] = '\0';
        return g_strdup_printf ("%c:%s", msb_db_rows_get_value_type (rows, 0, column) == MSB_DB_VALUE_TYPE_TEXT ? 't' : 'b', hex);
      }
    default:
      fuzz_bug ("unknown value type");
    }
}

static char *
raw_cell_text (sqlite3_stmt *stmt,
               int           column)
{
  switch (sqlite3_column_type (stmt, column))
    {
    case SQLITE_NULL:
      return g_strdup ("n");
    case SQLITE_INTEGER:
      return g_strdup_printf ("i:%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, column));
    case SQLITE_FLOAT:
      return g_strdup_printf ("d:%a", sqlite3_column_double (stmt, column));
    default:
      {
        gboolean text = sqlite3_column_type (stmt, column) == SQLITE_TEXT;
        const guint8 *b = text ? (const guint8 *) sqlite3_column_text (stmt, column) : sqlite3_column_blob (stmt, column);
        int length = sqlite3_column_bytes (stmt, column);
        g_autofree char *hex = g_malloc (length * 2 + 1);

        for (int i = 0; i < length; i++)
          g_snprintf (hex + 2 * i, 3, "%02X", b[i]);
        hex[length * 2] = '\0';
        return g_strdup_printf ("%c:%s", text ? 't' : 'b', hex);
      }
    }
}

/* For "SELECT ?" and "SELECT ?, ?" with a tuple: column i is parameter i. */
static gboolean
checkable (guint     statement,
           GVariant *params)
{
  return (statement == 0 || statement == 1 || statement == 10) &&
         g_variant_is_of_type (params, G_VARIANT_TYPE_TUPLE);
}

static void
check_failure (const char *where,
               GError     *error)
{
  if (error == NULL)
    fuzz_bug ("%s failed without an error", where);
  if (error->domain != MSB_DB_ERROR ||
      (error->code != MSB_DB_ERROR_INVALID_ARGUMENT && error->code != MSB_DB_ERROR_SQL))
    fuzz_bug ("%s: unexpected error %s #%d: %s", where, g_quark_to_string (error->domain),
              error->code, error->message);
  if (error->message == NULL || error->message[0] == '\0')
    fuzz_bug ("%s: empty error message", where);
}

static void
check_rows (MsbDbRows *rows,
            guint      statement,
            GVariant  *params)
{
  g_autoptr(GVariant) all = msb_db_rows_to_variant (rows);
  guint n_rows = msb_db_rows_get_n_rows (rows);
  guint n_columns = msb_db_rows_get_n_columns (rows);

  if (!g_variant_is_normal_form (all))
    fuzz_bug ("to_variant gave a GVariant not in normal form");
  if (g_variant_n_children (all) != n_rows)
    fuzz_bug ("to_variant has %" G_GSIZE_FORMAT " rows, not %u", g_variant_n_children (all), n_rows);
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_columns; c++)
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, r, c);
        const char *s = msb_db_rows_get_string (rows, r, c);

        (void) msb_db_rows_get_int64 (rows, r, c);
        (void) msb_db_rows_get_double (rows, r, c);
        (void) msb_db_rows_get_column_name (rows, c);
        if (msb_db_rows_is_null (rows, r, c) != (msb_db_rows_get_value_type (rows, r, c) == MSB_DB_VALUE_TYPE_NULL))
          fuzz_bug ("is_null disagrees with get_value_type");
        if (s != NULL && bytes != NULL && strlen (s) > g_bytes_get_size (bytes))
          fuzz_bug ("get_string runs past the value");
      }

  if (checkable (statement, params) && n_rows == 1 && n_columns == g_variant_n_children (params))
    for (guint c = 0; c < n_columns; c++)
      {
        g_autoptr(GVariant) child = g_variant_get_child_value (params, c);
        g_autofree char *expected = expected_text (child);
        g_autofree char *got = rows_cell_text (rows, c);

        if (expected != NULL && !g_str_equal (expected, got))
          fuzz_bug ("parameter %u (%s) came back as %s, expected %s", c + 1,
                    g_variant_get_type_string (child), got, expected);
      }
}

typedef struct {
  const char *sql;
  GVariant *params;
  MsbDbRows *rows;
} TxnData;

static gboolean
txn_body (MsbDbConnection  *connection,
          gpointer          user_data,
          GError          **error)
{
  TxnData *d = user_data;

  d->rows = msb_db_connection_execute (connection, d->sql, d->params, error);
  return d->rows != NULL;
}

static void
run_direct (guint     statement,
            GVariant *params)
{
  sqlite3_stmt *stmt = NULL;
  GError *error = NULL;

  if (sqlite3_prepare_v2 (raw, statements[statement], -1, &stmt, NULL) != SQLITE_OK)
    {
      /* The INSERT needs a table the raw database does not have. */
      sqlite3_finalize (stmt);
      return;
    }
  if (!msb_db_bind_params (stmt, params, &error))
    {
      check_failure ("msb_db_bind_params", error);
      if (error->code != MSB_DB_ERROR_INVALID_ARGUMENT)
        fuzz_bug ("binding failed with code %d, not INVALID_ARGUMENT", error->code);
      g_error_free (error);
    }
  else if (sqlite3_step (stmt) == SQLITE_ROW && checkable (statement, params) &&
           (gsize) sqlite3_column_count (stmt) == g_variant_n_children (params))
    {
      for (int c = 0; c < sqlite3_column_count (stmt); c++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (params, c);
          g_autofree char *expected = expected_text (child);
          g_autofree char *got = raw_cell_text (stmt, c);

          if (expected != NULL && !g_str_equal (expected, got))
            fuzz_bug ("direct bind: parameter %d (%s) came back as %s, expected %s", c + 1,
                      g_variant_get_type_string (child), got, expected);
        }
    }
  sqlite3_finalize (stmt);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *type_string = NULL;
  g_autoptr(GVariant) params = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const uint8_t *nul;
  guint statement, path;
  GError *error = NULL;
  MsbDbRows *rows = NULL;

  if (size < 2)
    return 0;
  statement = data[0] % G_N_ELEMENTS (statements);
  path = (data[0] >> 4) % 4;
  nul = memchr (data + 1, '\0', MIN (size - 1, 65));
  if (nul == NULL)
    return 0;
  type_string = g_strndup ((const char *) data + 1, nul - (data + 1));
  if (!g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite (G_VARIANT_TYPE (type_string)))
    return 0;

  /* GVariant wants its data aligned: copy it into a GBytes of its own. */
  bytes = g_bytes_new (nul + 1, size - (nul + 1 - data));
  params = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string), bytes, FALSE));
  executions++;

  switch (path)
    {
    case 0:
      run_direct (statement, params);
      return 0;
    case 1:
      rows = msb_db_pools_read (pools, statements[statement], params, NULL, &error);
      break;
    case 2:
      rows = msb_db_pools_write (pools, statements[statement], params, NULL, &error);
      break;
    case 3:
      {
        TxnData d = { statements[statement], params, NULL };

        if (!msb_db_pools_transaction (pools, txn_body, &d, NULL, &error))
          g_clear_object (&d.rows);
        rows = d.rows;
      }
      break;
    }

  if (rows == NULL)
    {
      /* A write statement on the read path is refused as such. */
      if (path == 1 && g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY) &&
          g_str_has_prefix (statements[statement], "INSERT"))
        ;
      else
        check_failure ("pools", error);
      g_clear_error (&error);
    }
  else
    {
      if (error != NULL)
        fuzz_bug ("success with an error set");
      check_rows (rows, statement, params);
      g_object_unref (rows);
    }

  /* Keep the table small. */
  if (executions % 1000 == 0)
    {
      rows = msb_db_pools_write (pools, "DELETE FROM t", NULL, NULL, &error);
      if (rows == NULL)
        fuzz_bug ("the pools stopped working: %s", error->message);
      g_object_unref (rows);
    }
  return 0;
}
