/* msb-db-values.c: statements with parameters as strings and results as plain values
 *
 * For language bindings, where each call into C and each wrapped object
 * costs more than the database work of a point read: a whole statement is
 * one call, with its parameters in a form that a binding passes without
 * building anything (a string of type characters and an array of strings),
 * and its result in one array of plain values
 * ([method@MsbDb.Rows.dup_values]). The parameters become the same GVariant
 * a caller of [method@MsbDb.Pools.read] would have built, so they bind the
 * same way and fail with the same errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-error-private.h"
#include "msb-db-rows.h"
#include "msb-db-values.h"
#include "msb-db-values-private.h"

static gboolean
invalid (GError     **error,
         guint        position,
         const char  *name,
         const char  *what,
         const char  *text)
{
  g_autofree char *shown = msb_db_error_excerpt (text);
  g_autofree char *label = name ? msb_db_error_excerpt (name) : g_strdup_printf ("%u", position);

  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "Parameter %s: “%s” is not %s", label, shown, what);
  return FALSE;
}

static gboolean
parse_blob (const char  *hex,
            GVariant   **value)
{
  gsize length = strlen (hex);
  guint8 *data;

  if (length % 2 != 0)
    return FALSE;
  data = g_malloc (length / 2 + 1);
  for (gsize i = 0; i < length / 2; i++)
    {
      int high = g_ascii_xdigit_value (hex[2 * i]);
      int low = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (high < 0 || low < 0)
        {
          g_free (data);
          return FALSE;
        }
      data[i] = (guint8) (high << 4 | low);
    }
  *value = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, length / 2, TRUE,
                                    g_free, data);
  return TRUE;
}

/* One parameter: @type is its type character, @text its value. Returns
 * a new floating GVariant, or NULL with @error set. */
static GVariant *
parse_value (char         type,
             const char  *text,
             guint        position,
             const char  *name,
             GError     **error)
{
  GVariant *value = NULL;
  const char *expected = NULL;
  gint64 integer;
  double real;
  char *end;

  switch (type)
    {
    case 'n':
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case 'i':
      if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &integer, NULL))
        return g_variant_new_int64 (integer);
      expected = "a 64-bit decimal integer";
      break;
    case 'r':
      real = g_ascii_strtod (text, &end);
      if (*text != '\0' && *end == '\0')
        return g_variant_new_double (real);
      expected = "a number";
      break;
    case 't':
      if (g_utf8_validate (text, -1, NULL))
        return g_variant_new_string (text);
      expected = "valid UTF-8";
      break;
    case 'b':
      if (parse_blob (text, &value))
        return value;
      expected = "hexadecimal bytes";
      break;
    case 'v':
      value = g_variant_parse (NULL, text, NULL, NULL, NULL);
      if (value != NULL)
        {
          /* A parsed variant is a full reference: wrap it so that what is
           * returned is floating like the others, then drop ours. */
          GVariant *boxed = g_variant_new_variant (value);

          g_variant_unref (value);
          return boxed;
        }
      expected = "a GVariant in text form with its type";
      break;
    default:
      {
        char shown[2] = { g_ascii_isprint (type) ? type : '?', '\0' };

        invalid (error, position, name, "a type character (n, i, r, t, b or v)", shown);
        return NULL;
      }
    }
  invalid (error, position, name, expected, text);
  return NULL;
}

static GVariant *build_params_n (const char * const  *names,
                                 const char          *types,
                                 gsize                n,
                                 const char * const  *values,
                                 GError             **error);

/* The GVariant parameters that @names, @types and @values describe (see
 * msb_db_pools_read_values()): NULL with @error unset for none; a
 * floating reference otherwise; NULL with @error set if they are wrong. */
GVariant *
msb_db_values_to_params (const char * const  *names,
                         const char          *types,
                         const char * const  *values,
                         GError             **error)
{
  gsize n_types = types != NULL ? strlen (types) : 0;
  gsize n_values = values != NULL ? g_strv_length ((char **) values) : 0;
  gsize n_names = names != NULL ? g_strv_length ((char **) names) : 0;

  if (n_values != n_types || (names != NULL && n_names != n_types))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " parameter type%s for %" G_GSIZE_FORMAT " value%s "
                   "and %" G_GSIZE_FORMAT " name%s: give one type and one value per "
                   "parameter, and a name for each or no names",
                   n_types, n_types == 1 ? "" : "s", n_values, n_values == 1 ? "" : "s",
                   n_names, n_names == 1 ? "" : "s");
      return NULL;
    }
  if (n_types == 0 && names == NULL)
    return NULL;
  return build_params_n (names, types, n_types, values, error);
}

/* The most common parameters, numbers and at most one text last
 * (`(x)`, `(xx)`, `(xs)`, `(s)`...), written straight in GVariant's
 * serialized form: a tuple of 8-byte numbers, then the text and its NUL
 * (a tuple whose only variable-sized member is the last needs no framing
 * offsets). Building them with g_variant_new_*() and a tuple costs several
 * times the database work of a point read. NULL if the parameters are of
 * another shape or a value does not parse: the general path reports it. */
static GVariant *
serialize_simple (const char          *types,
                  gsize                n,
                  const char * const  *values)
{
  char type_string[32];
  gsize n_numbers = n;
  gsize text_length = 0;
  gsize size;
  guint8 *data;

  if (n == 0 || n + 2 >= sizeof type_string)
    return NULL;
  if (types[n - 1] == 't')
    {
      n_numbers = n - 1;
      text_length = strlen (values[n - 1]);
      if (!g_utf8_validate_len (values[n - 1], text_length, NULL))
        return NULL;
    }
  type_string[0] = '(';
  for (gsize i = 0; i < n_numbers; i++)
    {
      if (types[i] != 'i' && types[i] != 'r')
        return NULL;
      type_string[i + 1] = types[i] == 'i' ? 'x' : 'd';
    }
  if (n_numbers < n)
    type_string[n] = 's';
  type_string[n + 1] = ')';
  type_string[n + 2] = '\0';

  size = n_numbers * 8 + (n_numbers < n ? text_length + 1 : 0);
  data = g_malloc (size);
  for (gsize i = 0; i < n_numbers; i++)
    {
      const char *text = values[i];

      if (types[i] == 'i')
        {
          gint64 v;

          if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, NULL))
            goto bad;
          v = GINT64_TO_LE (v);
          memcpy (data + i * 8, &v, 8);
        }
      else
        {
          char *end;
          union { double d; guint64 u; } v = { .d = g_ascii_strtod (text, &end) };

          if (*text == '\0' || *end != '\0')
            goto bad;
          v.u = GUINT64_TO_LE (v.u);
          memcpy (data + i * 8, &v.u, 8);
        }
    }
  if (n_numbers < n)
    memcpy (data + n_numbers * 8, values[n - 1], text_length + 1);
  return g_variant_new_from_data (G_VARIANT_TYPE (type_string), data, size, TRUE, g_free, data);

bad:
  g_free (data);
  return NULL;
}

/* The parameters from @n types and values (and names, if any), whose
 * lengths the caller checked: a floating GVariant, or NULL with @error
 * set. */
static GVariant *
build_params_n (const char * const  *names,
                const char          *types,
                gsize                n,
                const char * const  *values,
                GError             **error)
{
  GVariant *stack[8];
  g_autofree GVariant **heap = n > G_N_ELEMENTS (stack) ? g_new (GVariant *, n) : NULL;
  GVariant **children = heap != NULL ? heap : stack;
  GVariantBuilder builder;

  /* Positional parameters, the common case, make a tuple straight from
   * their values: a GVariantBuilder costs more than a point read's few. */
  if (names == NULL)
    {
      GVariant *simple = serialize_simple (types, n, values);

      if (simple != NULL)
        return simple;
      for (gsize i = 0; i < n; i++)
        {
          children[i] = parse_value (types[i], values[i], i + 1, NULL, error);
          if (children[i] == NULL)
            {
              for (gsize j = 0; j < i; j++)
                g_variant_unref (g_variant_ref_sink (children[j]));
              return NULL;
            }
        }
      return g_variant_new_tuple (children, n);
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < n; i++)
    {
      GVariant *value = parse_value (types[i], values[i], i + 1, names[i], error);

      if (value == NULL)
        {
          g_variant_builder_clear (&builder);
          return NULL;
        }
      g_variant_builder_add (&builder, "{sv}", names[i], value);
    }
  return g_variant_builder_end (&builder);
}

/* The parameters, or FALSE with @error set. */
static gboolean
build_params (const char * const  *names,
              const char          *types,
              const char * const  *values,
              GVariant           **params,
              GError             **error)
{
  GError *local_error = NULL;

  *params = msb_db_values_to_params (names, types, values, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

static GPtrArray *
dup_and_drop (MsbDbRows *rows)
{
  GPtrArray *values;

  if (rows == NULL)
    return NULL;
  values = msb_db_rows_dup_values (rows);
  g_object_unref (rows);
  return values;
}

/**
 * msb_db_pools_read_values:
 * @self: a #MsbDbPools
 * @sql: one SQL statement that only reads
 * @names: (nullable) (array zero-terminated=1): %NULL for positional
 *   parameters (`?`, `?NNN`), or the name of each parameter (`:name`,
 *   `@name`, `$name`, or `name` for any of them)
 * @types: (nullable): one character per parameter, its type (see below);
 *   %NULL or "" for none
 * @values: (nullable) (array zero-terminated=1): one string per
 *   parameter, its value
 * @cancellable: (nullable): a #GCancellable; cancelling interrupts the
 *   statement
 * @error: return location for a #GError
 *
 * Runs @sql as [method@MsbDb.Pools.read] does, with its parameters given as
 * strings, and returns the whole result as plain values, as
 * [method@MsbDb.Rows.dup_values] does. Meant for language bindings: one
 * call per statement, with nothing to build on either side.
 *
 * Each parameter has a type character in @types and a string in @values,
 * at the same position:
 *
 * - `n`: SQL NULL (the string is not read; give "");
 * - `i`: INTEGER, a 64-bit decimal integer ("-42");
 * - `r`: REAL, as g_ascii_strtod() reads it ("1.5", "1e+100", "inf");
 * - `t`: TEXT, the string itself;
 * - `b`: BLOB, in hexadecimal, two digits a byte ("00ff", "" for an empty
 *   blob);
 * - `v`: a #GVariant in text form with its type, as g_variant_print()
 *   writes it with @type_annotate set, bound as a GVariant parameter of
 *   [method@MsbDb.Pools.read] is.
 *
 * A string that does not fit its type fails with
 * %MSB_DB_ERROR_INVALID_ARGUMENT, before anything runs; so do types,
 * values and names of different lengths.
 *
 * Returns: (transfer full) (element-type GValue): the result, flat, or
 *   %NULL with @error set
 */
GPtrArray *
msb_db_pools_read_values (MsbDbPools          *self,
                          const char          *sql,
                          const char * const  *names,
                          const char          *types,
                          const char * const  *values,
                          GCancellable        *cancellable,
                          GError             **error)
{
  GVariant *params;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!build_params (names, types, values, &params, error))
    return NULL;
  return dup_and_drop (msb_db_pools_read (self, sql, params, cancellable, error));
}

/**
 * msb_db_pools_write_values:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @names: (nullable) (array zero-terminated=1): the names of the
 *   parameters, as for [method@MsbDb.Pools.read_values]
 * @types: (nullable): their types, as for [method@MsbDb.Pools.read_values]
 * @values: (nullable) (array zero-terminated=1): their values
 * @cancellable: (nullable): a #GCancellable; a write cancelled while it
 *   waits in the queue never runs
 * @error: return location for a #GError
 *
 * Runs @sql as [method@MsbDb.Pools.write] does, with its parameters as
 * strings, and returns the result as plain values
 * ([method@MsbDb.Rows.dup_values]): one call for a binding.
 *
 * Returns: (transfer full) (element-type GValue): the result, flat, or
 *   %NULL with @error set (and nothing written)
 */
GPtrArray *
msb_db_pools_write_values (MsbDbPools          *self,
                           const char          *sql,
                           const char * const  *names,
                           const char          *types,
                           const char * const  *values,
                           GCancellable        *cancellable,
                           GError             **error)
{
  GVariant *params;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!build_params (names, types, values, &params, error))
    return NULL;
  return dup_and_drop (msb_db_pools_write (self, sql, params, cancellable, error));
}

/**
 * msb_db_connection_execute_values:
 * @self: a #MsbDbConnection
 * @sql: one SQL statement
 * @names: (nullable) (array zero-terminated=1): the names of the
 *   parameters, as for [method@MsbDb.Pools.read_values]
 * @types: (nullable): their types, as for [method@MsbDb.Pools.read_values]
 * @values: (nullable) (array zero-terminated=1): their values
 * @error: return location for a #GError
 *
 * Runs @sql as [method@MsbDb.Connection.execute] does, with its parameters
 * as strings, and returns the result as plain values
 * ([method@MsbDb.Rows.dup_values]).
 *
 * Returns: (transfer full) (element-type GValue): the result, flat, or
 *   %NULL with @error set
 */
GPtrArray *
msb_db_connection_execute_values (MsbDbConnection     *self,
                                  const char          *sql,
                                  const char * const  *names,
                                  const char          *types,
                                  const char * const  *values,
                                  GError             **error)
{
  GVariant *params;

  g_return_val_if_fail (MSB_DB_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!build_params (names, types, values, &params, error))
    return NULL;
  return dup_and_drop (msb_db_connection_execute (self, sql, params, error));
}

/* The numbers of column @c as raw int64 or double (@type 'i' or 'r'),
 * into @data; FALSE if one does not parse (the row form reports it). */
static gboolean
parse_numbers (gsize               n_params,
               gsize               n_rows,
               gsize               c,
               char                type,
               const char * const *values,
               guint8             *data)
{
  for (gsize r = 0; r < n_rows; r++)
    {
      const char *text = values[r * n_params + c];

      if (type == 'i')
        {
          gint64 v;

          if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, NULL))
            return FALSE;
          memcpy (data + r * sizeof v, &v, sizeof v);
        }
      else
        {
          char *end;
          double v = g_ascii_strtod (text, &end);

          if (*text == '\0' || *end != '\0')
            return FALSE;
          memcpy (data + r * sizeof v, &v, sizeof v);
        }
    }
  return TRUE;
}

/* Column @c of @n_rows rows of @n_params parameters as one array (`ax`,
 * `ad` or `as`) if every row gives it the same type among those; else
 * NULL. */
static GVariant *
column_array (gsize                n_params,
              gsize                n_rows,
              gsize                c,
              const char          *types,
              const char * const  *values)
{
  char type = types[c];

  for (gsize r = 1; r < n_rows; r++)
    if (types[r * n_params + c] != type)
      return NULL;

  if (type == 'i' || type == 'r')
    {
      gsize size = n_rows * (type == 'i' ? sizeof (gint64) : sizeof (double));
      guint8 *data = g_malloc (size);

      if (!parse_numbers (n_params, n_rows, c, type, values, data))
        {
          g_free (data);
          return NULL;
        }
      return g_variant_new_from_data (type == 'i' ? G_VARIANT_TYPE ("ax") : G_VARIANT_TYPE ("ad"),
                                      data, size, TRUE, g_free, data);
    }
  if (type == 't')
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
      for (gsize r = 0; r < n_rows; r++)
        {
          const char *text = values[r * n_params + c];

          if (!g_utf8_validate (text, -1, NULL))
            {
              g_variant_builder_clear (&builder);
              return NULL;
            }
          g_variant_builder_add (&builder, "s", text);
        }
      return g_variant_builder_end (&builder);
    }
  return NULL;
}

/* The rows as a tuple of column arrays, when every column has one type of
 * i, r and t: what write_many binds fastest. NULL otherwise. */
static GVariant *
columns_form (gsize                n_params,
              gsize                n_rows,
              const char          *types,
              const char * const  *values)
{
  g_autoptr(GPtrArray) columns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  if (n_params == 0 || n_rows == 0)
    return NULL;
  for (gsize c = 0; c < n_params; c++)
    {
      GVariant *column = column_array (n_params, n_rows, c, types, values);

      if (column == NULL)
        return NULL;
      g_ptr_array_add (columns, g_variant_ref_sink (column));
    }
  return g_variant_new_tuple ((GVariant **) columns->pdata, columns->len);
}

/* The rows one by one, an `av` of tuples: any types, and an error naming
 * the row and parameter of a bad value. */
static GVariant *
rows_form (gsize                n_params,
           gsize                n_rows,
           const char          *types,
           const char * const  *values,
           GError             **error)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (gsize r = 0; r < n_rows; r++)
    {
      GError *local_error = NULL;
      GVariant *params = build_params_n (NULL, types + r * n_params, n_params,
                                         values + r * n_params, &local_error);

      if (params == NULL)
        {
          g_variant_builder_clear (&builder);
          g_propagate_prefixed_error (error, local_error, "Row %" G_GSIZE_FORMAT ": ", r + 1);
          return NULL;
        }
      g_variant_builder_add (&builder, "v", params);
    }
  return g_variant_builder_end (&builder);
}

/**
 * msb_db_pools_write_many_values:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @n_runs: how many times to run @sql
 * @types: the type of every parameter of every run, run after run, as for
 *   [method@MsbDb.Pools.read_values]: the same number of characters for
 *   each run
 * @values: (array zero-terminated=1): the value of every parameter of
 *   every run, in the same order
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @sql once per run of positional parameters, all in one transaction,
 * as [method@MsbDb.Pools.write_many] does, with the parameters given as
 * strings; returns the result as plain values
 * ([method@MsbDb.Rows.dup_values]). When every run gives each parameter
 * the same type, among `i`, `r` and `t`, the parameters reach
 * [method@MsbDb.Pools.write_many] column by column, its fastest form.
 *
 * Returns: (transfer full) (element-type GValue): the result, flat, or
 *   %NULL with @error set (and nothing written)
 */
GPtrArray *
msb_db_pools_write_many_values (MsbDbPools          *self,
                                const char          *sql,
                                gsize                n_runs,
                                const char          *types,
                                const char * const  *values,
                                GCancellable        *cancellable,
                                GError             **error)
{
  gsize n_types;
  gsize n_values;
  gsize n_params;
  GVariant *param_rows;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (types != NULL, NULL);
  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n_types = strlen (types);
  n_values = g_strv_length ((char **) values);
  if (n_types != n_values || (n_runs == 0 ? n_types != 0 : n_types % n_runs != 0))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " parameter types and %" G_GSIZE_FORMAT " values do not "
                   "make %" G_GSIZE_FORMAT " runs of one length", n_types, n_values, n_runs);
      return NULL;
    }
  n_params = n_runs > 0 ? n_types / n_runs : 0;
  if (n_params > G_MAXUINT)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " parameters are too many for one statement", n_params);
      return NULL;
    }
  param_rows = columns_form (n_params, n_runs, types, values);
  if (param_rows == NULL)
    param_rows = rows_form (n_params, n_runs, types, values, error);
  if (param_rows == NULL)
    return NULL;
  return dup_and_drop (msb_db_pools_write_many (self, sql, param_rows, cancellable, error));
}
