/* msb-db-bind.c: GVariant parameters onto SQLite statements
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-bind.h"
#include "msb-db-error-private.h"

/* How errors name a parameter: its name (":id"), or its position. Built
 * only when there is an error to report. */
static char *
describe_param (int         index,
                const char *name)
{
  if (name != NULL)
    return msb_db_error_excerpt (name);
  return g_strdup_printf ("%d", index);
}

static gboolean
bind_failed (sqlite3_stmt  *stmt,
             int            rc,
             int            index,
             const char    *name,
             GError       **error)
{
  g_autofree char *shown = describe_param (index, name);

  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "Could not bind parameter %s: %s", shown,
               sqlite3_errmsg (sqlite3_db_handle (stmt)));
  return FALSE;
}

static gboolean
bind_integer (sqlite3_stmt *stmt,
              int           index,
              sqlite3_int64 value,
              const char   *name,
              GError      **error)
{
  int rc = sqlite3_bind_int64 (stmt, index, value);

  return rc == SQLITE_OK || bind_failed (stmt, rc, index, name, error);
}

/* One value; @name is the parameter's name (":id"), or NULL for a
 * positional one, for errors. */
static gboolean
bind_value (sqlite3_stmt  *stmt,
            int            index,
            GVariant      *value,
            const char    *name,
            GError       **error)
{
  int rc;

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return bind_integer (stmt, index, g_variant_get_boolean (value) ? 1 : 0, name, error);
    case G_VARIANT_CLASS_BYTE:
      return bind_integer (stmt, index, g_variant_get_byte (value), name, error);
    case G_VARIANT_CLASS_INT16:
      return bind_integer (stmt, index, g_variant_get_int16 (value), name, error);
    case G_VARIANT_CLASS_UINT16:
      return bind_integer (stmt, index, g_variant_get_uint16 (value), name, error);
    case G_VARIANT_CLASS_INT32:
      return bind_integer (stmt, index, g_variant_get_int32 (value), name, error);
    case G_VARIANT_CLASS_UINT32:
      return bind_integer (stmt, index, g_variant_get_uint32 (value), name, error);
    case G_VARIANT_CLASS_INT64:
      return bind_integer (stmt, index, g_variant_get_int64 (value), name, error);
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 u = g_variant_get_uint64 (value);

        if (u > G_MAXINT64)
          {
            g_autofree char *shown = describe_param (index, name);

            g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                         "Parameter %s is %" G_GUINT64_FORMAT ", above the largest "
                         "SQLite integer (%" G_GINT64_FORMAT ")", shown, u, G_MAXINT64);
            return FALSE;
          }
        return bind_integer (stmt, index, (sqlite3_int64) u, name, error);
      }
    case G_VARIANT_CLASS_DOUBLE:
      rc = sqlite3_bind_double (stmt, index, g_variant_get_double (value));
      return rc == SQLITE_OK || bind_failed (stmt, rc, index, name, error);
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize length;
        const char *text = g_variant_get_string (value, &length);

        rc = sqlite3_bind_text64 (stmt, index, text, length, SQLITE_STATIC, SQLITE_UTF8);
        return rc == SQLITE_OK || bind_failed (stmt, rc, index, name, error);
      }
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        return bind_value (stmt, index, inner, name, error);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);

        if (inner == NULL)
          {
            rc = sqlite3_bind_null (stmt, index);
            return rc == SQLITE_OK || bind_failed (stmt, rc, index, name, error);
          }
        return bind_value (stmt, index, inner, name, error);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          gsize length;
          gconstpointer data = g_variant_get_fixed_array (value, &length, 1);

          /* A NULL pointer would bind SQL NULL: an empty blob stays a blob. */
          if (length == 0)
            rc = sqlite3_bind_zeroblob (stmt, index, 0);
          else
            rc = sqlite3_bind_blob64 (stmt, index, data, length, SQLITE_STATIC);
          return rc == SQLITE_OK || bind_failed (stmt, rc, index, name, error);
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_HANDLE:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      {
        g_autofree char *shown = describe_param (index, name);
        g_autofree char *type = msb_db_error_excerpt (g_variant_get_type_string (value));

        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                     "Parameter %s has type “%s”, which cannot be bound: use "
                     "b/y/n/q/i/u/x/t for INTEGER, d for REAL, s/o/g for TEXT, "
                     "ay for BLOB, or a maybe that is Nothing for NULL", shown, type);
        return FALSE;
      }
    }
}

static gboolean
bind_positional (sqlite3_stmt  *stmt,
                 GVariant      *params,
                 GError       **error)
{
  int expected = sqlite3_bind_parameter_count (stmt);
  gsize given = g_variant_n_children (params);

  if (given != (gsize) expected)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %d parameter%s but %" G_GSIZE_FORMAT " %s given",
                   expected, expected == 1 ? "" : "s", given, given == 1 ? "was" : "were");
      return FALSE;
    }

  for (gsize i = 0; i < given; i++)
    {
      g_autoptr(GVariant) value = g_variant_get_child_value (params, i);

      if (!bind_value (stmt, (int) i + 1, value, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* A key may be written with its prefix (":id") or without ("id"). */
static int
find_named_parameter (sqlite3_stmt *stmt,
                      const char   *key)
{
  static const char prefixes[] = ":@$";
  char name[256];

  if (strchr (prefixes, key[0]) != NULL)
    return sqlite3_bind_parameter_index (stmt, key);

  for (const char *p = prefixes; *p; p++)
    {
      int index;

      if (g_snprintf (name, sizeof name, "%c%s", *p, key) >= (int) sizeof name)
        return 0;
      index = sqlite3_bind_parameter_index (stmt, name);
      if (index > 0)
        return index;
    }
  return 0;
}

static gboolean
report_unbound (sqlite3_stmt  *stmt,
                const guint8  *bound,
                GError       **error)
{
  int count = sqlite3_bind_parameter_count (stmt);

  for (int i = 1; i <= count; i++)
    {
      const char *name;

      if (bound[i])
        continue;
      name = sqlite3_bind_parameter_name (stmt, i);
      if (name != NULL)
        {
          g_autofree char *shown = msb_db_error_excerpt (name);

          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "Parameter %s of the statement was given no value", shown);
        }
      else
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                     "Parameter %d of the statement is positional (?) and cannot "
                     "be given by name: pass a tuple", i);
      return FALSE;
    }
  return TRUE;
}

static gboolean
bind_named (sqlite3_stmt  *stmt,
            GVariant      *params,
            GError       **error)
{
  int count = sqlite3_bind_parameter_count (stmt);
  g_autofree guint8 *bound = g_new0 (guint8, count + 1);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, params);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      int index = find_named_parameter (stmt, key);

      if (index == 0)
        {
          g_autofree char *shown = msb_db_error_excerpt (key);

          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "The statement has no parameter named “%s”", shown);
          g_variant_unref (value);
          return FALSE;
        }
      if (!bind_value (stmt, index, value, sqlite3_bind_parameter_name (stmt, index), error))
        {
          g_variant_unref (value);
          return FALSE;
        }
      bound[index] = 1;
    }
  return report_unbound (stmt, bound, error);
}

gboolean
msb_db_bind_params (sqlite3_stmt  *stmt,
                    GVariant      *params,
                    GError       **error)
{
  if (params == NULL)
    {
      int expected = sqlite3_bind_parameter_count (stmt);

      if (expected == 0)
        return TRUE;
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %d parameter%s but none were given",
                   expected, expected == 1 ? "" : "s");
      return FALSE;
    }

  if (g_variant_is_of_type (params, G_VARIANT_TYPE_TUPLE))
    return bind_positional (stmt, params, error);
  if (g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT))
    return bind_named (stmt, params, error);

  {
    g_autofree char *type = msb_db_error_excerpt (g_variant_get_type_string (params));

    g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                 "Parameters must be a tuple (positional), an a{sv} (named) or NULL, "
                 "not “%s”", type);
  }
  return FALSE;
}

/* Column-wise parameters ------------------------------------------------ */

/* For many runs of one statement: a tuple with one array per parameter,
 * all of the same length, element i of each array going to run i. Arrays
 * of fixed-size values (integers, doubles, booleans) are read in place:
 * no GVariant per value, which costs more than SQLite's own insert. */
typedef struct
{
  GVariant *array;
  gconstpointer fixed;        /* the elements, if of fixed size */
  gsize element_size;
  GVariantClass element_class;
} Column;

struct _MsbDbColumnParams
{
  gsize n_rows;
  gsize n_columns;
  Column columns[];
};

MsbDbColumnParams *
msb_db_column_params_new (GVariant  *tuple,
                          GError   **error)
{
  gsize n_columns = g_variant_n_children (tuple);
  MsbDbColumnParams *self = g_malloc0 (sizeof *self + n_columns * sizeof (Column));

  self->n_columns = n_columns;
  for (gsize c = 0; c < n_columns; c++)
    {
      Column *column = &self->columns[c];
      const GVariantType *element;
      gsize n;

      column->array = g_variant_get_child_value (tuple, c);
      if (!g_variant_is_of_type (column->array, G_VARIANT_TYPE_ARRAY))
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "Parameter %" G_GSIZE_FORMAT " of the columns is “%s”, not an array",
                       c + 1, g_variant_get_type_string (column->array));
          msb_db_column_params_free (self);
          return NULL;
        }
      element = g_variant_type_element (g_variant_get_type (column->array));
      column->element_class = (GVariantClass) g_variant_type_peek_string (element)[0];
      n = g_variant_n_children (column->array);
      if (c == 0)
        self->n_rows = n;
      else if (n != self->n_rows)
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "The columns of parameters have different lengths (%" G_GSIZE_FORMAT
                       " and %" G_GSIZE_FORMAT ")", self->n_rows, n);
          msb_db_column_params_free (self);
          return NULL;
        }
      switch (column->element_class)
        {
        case G_VARIANT_CLASS_BOOLEAN:
        case G_VARIANT_CLASS_BYTE:
          column->element_size = 1;
          break;
        case G_VARIANT_CLASS_INT16:
        case G_VARIANT_CLASS_UINT16:
          column->element_size = 2;
          break;
        case G_VARIANT_CLASS_INT32:
        case G_VARIANT_CLASS_UINT32:
          column->element_size = 4;
          break;
        case G_VARIANT_CLASS_INT64:
        case G_VARIANT_CLASS_UINT64:
        case G_VARIANT_CLASS_DOUBLE:
          column->element_size = 8;
          break;
        default:
          column->element_size = 0;
        }
      if (column->element_size > 0)
        column->fixed = g_variant_get_fixed_array (column->array, &n, column->element_size);
    }
  return self;
}

void
msb_db_column_params_free (MsbDbColumnParams *self)
{
  for (gsize c = 0; c < self->n_columns; c++)
    g_clear_pointer (&self->columns[c].array, g_variant_unref);
  g_free (self);
}

gsize
msb_db_column_params_get_n_rows (MsbDbColumnParams *self)
{
  return self->n_rows;
}

static gboolean
bind_fixed (sqlite3_stmt  *stmt,
            int            index,
            const Column  *column,
            gsize          row,
            GError       **error)
{
  const guint8 *at = (const guint8 *) column->fixed + row * column->element_size;
  gint16 i16;
  guint16 u16;
  gint32 i32;
  guint32 u32;
  gint64 i64;
  guint64 u64;
  double d;

  switch (column->element_class)
    {
    case G_VARIANT_CLASS_BOOLEAN:
    case G_VARIANT_CLASS_BYTE:
      return bind_integer (stmt, index, *at, NULL, error);
    case G_VARIANT_CLASS_INT16:
      memcpy (&i16, at, 2);
      return bind_integer (stmt, index, i16, NULL, error);
    case G_VARIANT_CLASS_UINT16:
      memcpy (&u16, at, 2);
      return bind_integer (stmt, index, u16, NULL, error);
    case G_VARIANT_CLASS_INT32:
      memcpy (&i32, at, 4);
      return bind_integer (stmt, index, i32, NULL, error);
    case G_VARIANT_CLASS_UINT32:
      memcpy (&u32, at, 4);
      return bind_integer (stmt, index, u32, NULL, error);
    case G_VARIANT_CLASS_INT64:
      memcpy (&i64, at, 8);
      return bind_integer (stmt, index, i64, NULL, error);
    case G_VARIANT_CLASS_UINT64:
      memcpy (&u64, at, 8);
      if (u64 > G_MAXINT64)
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "Parameter %d is %" G_GUINT64_FORMAT ", above the largest "
                       "SQLite integer (%" G_GINT64_FORMAT ")", index, u64, G_MAXINT64);
          return FALSE;
        }
      return bind_integer (stmt, index, (sqlite3_int64) u64, NULL, error);
    case G_VARIANT_CLASS_DOUBLE:
    default:
      memcpy (&d, at, 8);
      return sqlite3_bind_double (stmt, index, d) == SQLITE_OK ||
             bind_failed (stmt, SQLITE_ERROR, index, NULL, error);
    }
}

/* Binds run @row's values to @stmt. */
gboolean
msb_db_column_params_bind (MsbDbColumnParams  *self,
                           sqlite3_stmt       *stmt,
                           gsize               row,
                           GError            **error)
{
  int expected = sqlite3_bind_parameter_count (stmt);

  if (self->n_columns != (gsize) expected)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %d parameter%s but %" G_GSIZE_FORMAT " columns were given",
                   expected, expected == 1 ? "" : "s", self->n_columns);
      return FALSE;
    }
  for (gsize c = 0; c < self->n_columns; c++)
    {
      const Column *column = &self->columns[c];
      g_autoptr(GVariant) value = NULL;

      if (column->fixed != NULL)
        {
          if (!bind_fixed (stmt, (int) c + 1, column, row, error))
            return FALSE;
          continue;
        }
      /* The array keeps the value's bytes alive for the statement. */
      value = g_variant_get_child_value (column->array, row);
      if (!bind_value (stmt, (int) c + 1, value, NULL, error))
        return FALSE;
    }
  return TRUE;
}
