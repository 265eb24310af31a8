/* msb-db-output.c: an MsbDbRows as an aligned table, CSV or JSON
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * How values look in each format:
 *
 *   value     table                 CSV                  JSON
 *   NULL      NULL (or --null=TEXT)  empty, unquoted      null
 *   INTEGER   42                    42                   42
 *   REAL      1.5, 3.0, 1e+20       same                 1.5, 3.0, 1e+20
 *   TEXT      control characters    as is, quoted when   a string
 *             escaped (\n, \t, ...)  needed; "" if empty
 *   BLOB      x'0a0b'               x'0a0b'              the string "x'0a0b'"
 *
 * A blob is written in every format as x'<lowercase hex>', which is also how
 * a blob parameter is written, so output can be fed back as input. A REAL
 * is written in the shortest form that reads back as the same double, and
 * always with a point or an exponent (3.0, not 3), so it is not mistaken for
 * an INTEGER. Infinite reals (SQLite stores no NaN) are Inf/-Inf in the table
 * and CSV, and the strings "Infinity"/"-Infinity" in JSON, which has no
 * number for them. Text that is not valid UTF-8 is repaired (U+FFFD) in the
 * table and in JSON, and written unchanged in CSV.
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "msb-db-tool.h"

char *
msb_tool_format_real (double value)
{
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buffer[G_ASCII_DTOSTR_BUF_SIZE + 2];

  if (isinf (value))
    return g_strdup (value > 0 ? "Inf" : "-Inf");
  if (isnan (value))
    return g_strdup ("NaN");

  /* the shortest text that reads back as the same double: 0.1, not
   * 0.10000000000000001 (which is what "%.17g" alone gives) */
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buffer, G_ASCII_DTOSTR_BUF_SIZE, formats[i], value);
      if (g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  if (strpbrk (buffer, ".eE") == NULL)
    strcat (buffer, ".0");
  return g_strdup (buffer);
}

char *
msb_tool_format_blob (GBytes *bytes)
{
  static const char digits[] = "0123456789abcdef";
  gsize size = 0;
  const guint8 *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;
  GString *text = g_string_sized_new (size * 2 + 3);

  g_string_append (text, "x'");
  for (gsize i = 0; i < size; i++)
    {
      g_string_append_c (text, digits[data[i] >> 4]);
      g_string_append_c (text, digits[data[i] & 0xf]);
    }
  g_string_append_c (text, '\'');
  return g_string_free (text, FALSE);
}

/* A non-NULL value as text, as the table and CSV show it; TEXT unchanged. */
static char *
value_to_text (MsbDbRows *rows,
               guint      row,
               guint      column)
{
  switch (msb_db_rows_get_value_type (rows, row, column))
    {
    case MSB_DB_VALUE_TYPE_INTEGER:
      return g_strdup_printf ("%" G_GINT64_FORMAT, msb_db_rows_get_int64 (rows, row, column));
    case MSB_DB_VALUE_TYPE_REAL:
      return msb_tool_format_real (msb_db_rows_get_double (rows, row, column));
    case MSB_DB_VALUE_TYPE_BLOB:
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, row, column);
        return msb_tool_format_blob (bytes);
      }
    case MSB_DB_VALUE_TYPE_TEXT:
      return g_strdup (msb_db_rows_get_string (rows, row, column));
    case MSB_DB_VALUE_TYPE_NULL:
    default:
      return NULL;
    }
}

static gboolean
value_is_numeric (MsbDbRows *rows,
                  guint      row,
                  guint      column)
{
  MsbDbValueType type = msb_db_rows_get_value_type (rows, row, column);

  return type == MSB_DB_VALUE_TYPE_INTEGER || type == MSB_DB_VALUE_TYPE_REAL;
}

/* ---- table ------------------------------------------------------------ */

/* Valid UTF-8, with the characters that would break the layout escaped. */
static char *
table_escape (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_c (out, (char) c);
    }
  return g_string_free (out, FALSE);
}

/* Columns a terminal gives @text: wide (CJK) characters take two. */
static guint
display_width (const char *text)
{
  guint width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iszerowidth (c))
        continue;
      width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

static void
append_padded (GString    *out,
               const char *text,
               guint       width,
               gboolean    right,
               gboolean    last)
{
  guint pad = width - MIN (width, display_width (text));

  if (right)
    {
      for (guint i = 0; i < pad; i++)
        g_string_append_c (out, ' ');
      g_string_append (out, text);
    }
  else
    {
      g_string_append (out, text);
      if (!last)  /* no trailing blanks */
        for (guint i = 0; i < pad; i++)
          g_string_append_c (out, ' ');
    }
}

/* A numeric column (every non-NULL value INTEGER or REAL, and at least one)
 * is aligned to the right. */
static gboolean
column_is_numeric (MsbDbRows *rows,
                   guint      column)
{
  guint n_rows = msb_db_rows_get_n_rows (rows);
  gboolean any = FALSE;

  for (guint r = 0; r < n_rows; r++)
    {
      if (msb_db_rows_is_null (rows, r, column))
        continue;
      if (!value_is_numeric (rows, r, column))
        return FALSE;
      any = TRUE;
    }
  return any;
}

/*   id | name  | score
 *   ---+-------+------
 *    1 | alice |   1.5
 *   (1 row)
 */
static void
print_table (MsbDbRows           *rows,
             const MsbToolOutput *output,
             GString             *out)
{
  guint n_rows = msb_db_rows_get_n_rows (rows);
  guint n_columns = msb_db_rows_get_n_columns (rows);
  const char *null_text = output->null_text != NULL ? output->null_text : "NULL";
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  g_autofree guint *widths = g_new0 (guint, n_columns);
  g_autofree gboolean *right = g_new0 (gboolean, n_columns);

  if (n_columns == 0)
    return;

  /* row 0 of `cells` is the header */
  for (guint c = 0; c < n_columns; c++)
    {
      char *name = table_escape (msb_db_rows_get_column_name (rows, c));

      g_ptr_array_add (cells, name);
      widths[c] = display_width (name);
      right[c] = column_is_numeric (rows, c);
    }
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_columns; c++)
      {
        g_autofree char *text = value_to_text (rows, r, c);
        char *cell = table_escape (text != NULL ? text : null_text);

        g_ptr_array_add (cells, cell);
        widths[c] = MAX (widths[c], display_width (cell));
      }

  for (guint r = 0; r <= n_rows; r++)
    {
      for (guint c = 0; c < n_columns; c++)
        {
          const char *cell = g_ptr_array_index (cells, r * n_columns + c);
          gboolean last = c + 1 == n_columns;

          if (c > 0)
            g_string_append (out, " | ");
          /* headers are left-aligned, numbers right-aligned */
          append_padded (out, cell, widths[c], r > 0 && right[c], last);
        }
      g_string_append_c (out, '\n');

      if (r == 0)
        {
          for (guint c = 0; c < n_columns; c++)
            {
              if (c > 0)
                g_string_append (out, "-+-");
              for (guint i = 0; i < widths[c]; i++)
                g_string_append_c (out, '-');
            }
          g_string_append_c (out, '\n');
        }
    }
  g_string_append_printf (out, "(%u %s)\n", n_rows, n_rows == 1 ? "row" : "rows");
}

/* ---- CSV (RFC 4180) ----------------------------------------------------- */

/* NULL is an empty field; an empty string is "" so the two stay apart. */
static void
csv_append_field (GString    *out,
                  const char *value)
{
  if (value == NULL)
    return;
  if (*value != '\0' && strpbrk (value, ",\"\r\n") == NULL)
    {
      g_string_append (out, value);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static void
print_csv (MsbDbRows *rows,
           GString   *out)
{
  guint n_rows = msb_db_rows_get_n_rows (rows);
  guint n_columns = msb_db_rows_get_n_columns (rows);

  if (n_columns == 0)
    return;

  for (guint c = 0; c < n_columns; c++)
    {
      if (c > 0)
        g_string_append_c (out, ',');
      csv_append_field (out, msb_db_rows_get_column_name (rows, c));
    }
  g_string_append (out, "\r\n");

  for (guint r = 0; r < n_rows; r++)
    {
      for (guint c = 0; c < n_columns; c++)
        {
          g_autofree char *text = value_to_text (rows, r, c);

          if (c > 0)
            g_string_append_c (out, ',');
          csv_append_field (out, text);
        }
      g_string_append (out, "\r\n");
    }
}

/* ---- JSON --------------------------------------------------------------- */

/* Object keys: the column names, with "_2", "_3", ... added to repeats
 * (SELECT 1 AS a, 2 AS a) so that no value is lost. */
static GPtrArray *
json_keys (MsbDbRows *rows)
{
  guint n_columns = msb_db_rows_get_n_columns (rows);
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint c = 0; c < n_columns; c++)
    {
      g_autofree char *name = g_utf8_make_valid (msb_db_rows_get_column_name (rows, c), -1);
      char *key = g_strdup (name);

      for (guint n = 2; g_hash_table_contains (seen, key); n++)
        {
          g_free (key);
          key = g_strdup_printf ("%s_%u", name, n);
        }
      g_hash_table_add (seen, key);
      g_ptr_array_add (keys, key);
    }
  return keys;
}

/* A value as a JsonNode, for json-glib to write; NULL for a finite REAL,
 * which is written by json_append_value() itself. */
static JsonNode *
json_value (MsbDbRows *rows,
            guint      row,
            guint      column)
{
  JsonNode *node = json_node_alloc ();

  switch (msb_db_rows_get_value_type (rows, row, column))
    {
    case MSB_DB_VALUE_TYPE_INTEGER:
      return json_node_init_int (node, msb_db_rows_get_int64 (rows, row, column));
    case MSB_DB_VALUE_TYPE_REAL:
      {
        double value = msb_db_rows_get_double (rows, row, column);

        if (isfinite (value))
          return json_node_init_double (node, value);
        return json_node_init_string (node, isnan (value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
      }
    case MSB_DB_VALUE_TYPE_TEXT:
      {
        g_autofree char *valid = g_utf8_make_valid (msb_db_rows_get_string (rows, row, column), -1);
        return json_node_init_string (node, valid);
      }
    case MSB_DB_VALUE_TYPE_BLOB:
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, row, column);
        g_autofree char *text = msb_tool_format_blob (bytes);
        return json_node_init_string (node, text);
      }
    case MSB_DB_VALUE_TYPE_NULL:
    default:
      return json_node_init_null (node);
    }
}

/* Appends one value. json-glib escapes strings and writes every other
 * value, except a finite REAL: json-glib writes 17 significant digits
 * (0.1 becomes 0.10000000000000001), so the shortest form that reads back
 * as the same double is written instead, as in the table and CSV. */
static void
json_append_value (GString       *out,
                   JsonGenerator *generator,
                   MsbDbRows     *rows,
                   guint          row,
                   guint          column)
{
  g_autoptr(JsonNode) node = NULL;

  if (msb_db_rows_get_value_type (rows, row, column) == MSB_DB_VALUE_TYPE_REAL &&
      isfinite (msb_db_rows_get_double (rows, row, column)))
    {
      g_autofree char *text = msb_tool_format_real (msb_db_rows_get_double (rows, row, column));
      g_string_append (out, text);
      return;
    }

  node = json_value (rows, row, column);
  json_generator_set_root (generator, node);
  json_generator_to_gstring (generator, out);
}

static void
json_append_string (GString       *out,
                    JsonGenerator *generator,
                    const char    *text)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), text);

  json_generator_set_root (generator, node);
  json_generator_to_gstring (generator, out);
}

/* One row as one compact JSON object. */
static void
json_append_row (GString       *out,
                 JsonGenerator *generator,
                 MsbDbRows     *rows,
                 guint          row,
                 GPtrArray     *keys)
{
  g_string_append_c (out, '{');
  for (guint c = 0; c < keys->len; c++)
    {
      if (c > 0)
        g_string_append_c (out, ',');
      json_append_string (out, generator, g_ptr_array_index (keys, c));
      g_string_append_c (out, ':');
      json_append_value (out, generator, rows, row, c);
    }
  g_string_append_c (out, '}');
}

/* JSON Lines: one object per line. Array: "[", one object per line, "]". */
static void
print_json (MsbDbRows *rows,
            gboolean   array,
            GString   *out)
{
  guint n_rows = msb_db_rows_get_n_rows (rows);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(GPtrArray) keys = NULL;

  if (msb_db_rows_get_n_columns (rows) == 0)
    return;

  keys = json_keys (rows);
  if (array)
    g_string_append (out, n_rows == 0 ? "[" : "[\n");
  for (guint r = 0; r < n_rows; r++)
    {
      json_append_row (out, generator, rows, r, keys);
      if (array && r + 1 < n_rows)
        g_string_append_c (out, ',');
      g_string_append_c (out, '\n');
    }
  if (array)
    g_string_append (out, "]\n");
}

/* Writes @rows to @out in the chosen format. A result without columns
 * (a statement that returns no rows) prints nothing. */
void
msb_tool_print_rows (MsbDbRows           *rows,
                     const MsbToolOutput *output,
                     FILE                *out)
{
  g_autoptr(GString) text = g_string_new (NULL);

  switch (output->format)
    {
    case MSB_TOOL_FORMAT_CSV:
      print_csv (rows, text);
      break;
    case MSB_TOOL_FORMAT_JSON_LINES:
      print_json (rows, FALSE, text);
      break;
    case MSB_TOOL_FORMAT_JSON_ARRAY:
      print_json (rows, TRUE, text);
      break;
    case MSB_TOOL_FORMAT_TABLE:
    default:
      print_table (rows, output, text);
      break;
    }
  fwrite (text->str, 1, text->len, out);
  fflush (out);
}

/* The object or array @builder holds, compact, as one line of stdout (for
 * the --json of the subcommands that print one report). */
void
msb_tool_print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}
