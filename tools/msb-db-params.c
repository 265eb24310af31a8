/* msb-db-params.c: command-line parameters to the GVariant tuple MsbDb binds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each PARAM string becomes one value, bound to the ?1, ?2, ... of the SQL:
 *
 *   NULL               SQL NULL (a maybe-nothing, `mv`)
 *   42, -7             INTEGER (`x`): exactly the decimal form of a 64-bit
 *                      integer; "007", "+5" and "1_000" stay text
 *   1.5, -2e3, .5      REAL (`d`): a decimal number with a point or an
 *                      exponent that is finite
 *   x'0A0b', X''       BLOB (`ay`) from hexadecimal digits
 *   @FILE, @-          BLOB (`ay`) with the contents of FILE, or of stdin
 *   anything else      TEXT (`s`), which must be valid UTF-8
 *
 * --text (force_text) binds every parameter as TEXT, exactly as given.
 */
#include <math.h>
#include <string.h>

#include "msb-db-tool.h"

/* TRUE when @arg is the canonical decimal form of a gint64. */
static gboolean
parse_integer (const char *arg,
               gint64     *value)
{
  char buffer[32];
  gint64 parsed;

  if (!g_ascii_string_to_signed (arg, 10, G_MININT64, G_MAXINT64, &parsed, NULL))
    return FALSE;
  g_snprintf (buffer, sizeof buffer, "%" G_GINT64_FORMAT, parsed);
  if (!g_str_equal (buffer, arg))
    return FALSE;
  *value = parsed;
  return TRUE;
}

/* [+-] digits [. digits] [e [+-] digits], with at least one digit in the
 * mantissa, and a point or an exponent (else it is an integer, or text). */
static gboolean
looks_real (const char *arg)
{
  const char *p = arg;
  gboolean digits = FALSE, point = FALSE, exponent = FALSE;

  if (*p == '+' || *p == '-')
    p++;
  for (; g_ascii_isdigit (*p) || *p == '.'; p++)
    {
      if (*p == '.')
        {
          if (point)
            return FALSE;
          point = TRUE;
        }
      else
        digits = TRUE;
    }
  if (!digits)
    return FALSE;
  if (*p == 'e' || *p == 'E')
    {
      exponent = TRUE;
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }
  return *p == '\0' && (point || exponent);
}

static gboolean
parse_real (const char *arg,
            double     *value)
{
  char *end = NULL;
  double parsed;

  if (!looks_real (arg))
    return FALSE;
  parsed = g_ascii_strtod (arg, &end);
  if (end == NULL || *end != '\0' || !isfinite (parsed))
    return FALSE;
  *value = parsed;
  return TRUE;
}

static GVariant *
blob_variant (const guint8 *data,
              gsize         size)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, size, 1);
}

/* x'0A0B' (or X'...'): an even number of hexadecimal digits. */
static GVariant *
parse_hex_blob (const char  *arg,
                GError     **error)
{
  gsize len = strlen (arg);
  const char *hex = arg + 2;
  gsize n_digits = len - 3;
  g_autofree guint8 *bytes = NULL;

  if (n_digits % 2 != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "blob parameter %s: odd number of hexadecimal digits", arg);
      return NULL;
    }

  bytes = g_malloc (n_digits / 2 + 1);
  for (gsize i = 0; i < n_digits; i += 2)
    {
      int high = g_ascii_xdigit_value (hex[i]);
      int low = g_ascii_xdigit_value (hex[i + 1]);

      if (high < 0 || low < 0)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "blob parameter %s: '%c' is not a hexadecimal digit",
                       arg, high < 0 ? hex[i] : hex[i + 1]);
          return NULL;
        }
      bytes[i / 2] = (guint8) (high << 4 | low);
    }
  return blob_variant (bytes, n_digits / 2);
}

static GVariant *
read_stdin_blob (GError **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buffer[8192];
  size_t n;

  while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
    g_byte_array_append (data, buffer, (guint) n);
  if (ferror (stdin))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot read the @- parameter from stdin");
      return NULL;
    }
  return blob_variant (data->data, data->len);
}

/* @FILE: the whole file as a blob; @- is stdin. */
static GVariant *
read_file_blob (const char  *filename,
                GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (g_str_equal (filename, "-"))
    return read_stdin_blob (error);
  if (!g_file_get_contents (filename, &contents, &length, error))
    return NULL;
  return blob_variant ((const guint8 *) contents, length);
}

static GVariant *
text_variant (const char  *arg,
              GError     **error)
{
  if (!g_utf8_validate (arg, -1, NULL))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "text parameter is not valid UTF-8 (pass binary data as @FILE or x'..')");
      return NULL;
    }
  return g_variant_new_string (arg);
}

/* One PARAM string to a (floating) GVariant, following the rules at the top
 * of this file. */
GVariant *
msb_tool_param_new (const char  *arg,
                    gboolean     force_text,
                    GError     **error)
{
  gsize len = strlen (arg);
  gint64 integer;
  double real;

  if (force_text)
    return text_variant (arg, error);
  if (g_str_equal (arg, "NULL"))
    return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
  if (parse_integer (arg, &integer))
    return g_variant_new_int64 (integer);
  if (parse_real (arg, &real))
    return g_variant_new_double (real);
  if (len >= 3 && (arg[0] == 'x' || arg[0] == 'X') && arg[1] == '\'' && arg[len - 1] == '\'')
    return parse_hex_blob (arg, error);
  if (len >= 2 && arg[0] == '@')
    return read_file_blob (arg + 1, error);
  return text_variant (arg, error);
}

/* All PARAM strings to one tuple, or NULL (no parameters) when there are
 * none. The error names the parameter by its position. */
GVariant *
msb_tool_params_new (char     **args,
                     int        n_args,
                     gboolean   force_text,
                     GError   **error)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  if (n_args == 0)
    return NULL;

  for (int i = 0; i < n_args; i++)
    {
      g_autoptr(GError) local_error = NULL;
      GVariant *value = msb_tool_param_new (args[i], force_text, &local_error);

      if (value == NULL)
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "parameter %d: %s", i + 1, local_error->message);
          return NULL;
        }
      g_ptr_array_add (values, g_variant_ref_sink (value));
    }

  return g_variant_new_tuple ((GVariant **) values->pdata, values->len);
}
