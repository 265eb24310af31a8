/* msb-db-bind.c: GVariant parameters onto SQLite statements
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-bind.h"
#include "msb-db-error-private.h"

static gboolean
bind_failed (sqlite3_stmt  *stmt,
             int            rc,
             const char    *label,
             GError       **error)
{
  g_autofree char *shown = msb_db_error_excerpt (label);

  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "Could not bind parameter %s: %s", shown,
               sqlite3_errmsg (sqlite3_db_handle (stmt)));
  return FALSE;
}

static gboolean
bind_integer (sqlite3_stmt *stmt,
              int           index,
              sqlite3_int64 value,
              const char   *label,
              GError      **error)
{
  int rc = sqlite3_bind_int64 (stmt, index, value);

  return rc == SQLITE_OK || bind_failed (stmt, rc, label, error);
}

/* One value: @label names it in errors ("1", ":name"). */
static gboolean
bind_value (sqlite3_stmt  *stmt,
            int            index,
            GVariant      *value,
            const char    *label,
            GError       **error)
{
  int rc;

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return bind_integer (stmt, index, g_variant_get_boolean (value) ? 1 : 0, label, error);
    case G_VARIANT_CLASS_BYTE:
      return bind_integer (stmt, index, g_variant_get_byte (value), label, error);
    case G_VARIANT_CLASS_INT16:
      return bind_integer (stmt, index, g_variant_get_int16 (value), label, error);
    case G_VARIANT_CLASS_UINT16:
      return bind_integer (stmt, index, g_variant_get_uint16 (value), label, error);
    case G_VARIANT_CLASS_INT32:
      return bind_integer (stmt, index, g_variant_get_int32 (value), label, error);
    case G_VARIANT_CLASS_UINT32:
      return bind_integer (stmt, index, g_variant_get_uint32 (value), label, error);
    case G_VARIANT_CLASS_INT64:
      return bind_integer (stmt, index, g_variant_get_int64 (value), label, error);
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 u = g_variant_get_uint64 (value);

        if (u > G_MAXINT64)
          {
            g_autofree char *shown = msb_db_error_excerpt (label);

            g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                         "Parameter %s is %" G_GUINT64_FORMAT ", above the largest "
                         "SQLite integer (%" G_GINT64_FORMAT ")", shown, u, G_MAXINT64);
            return FALSE;
          }
        return bind_integer (stmt, index, (sqlite3_int64) u, label, error);
      }
    case G_VARIANT_CLASS_DOUBLE:
      rc = sqlite3_bind_double (stmt, index, g_variant_get_double (value));
      return rc == SQLITE_OK || bind_failed (stmt, rc, label, error);
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize length;
        const char *text = g_variant_get_string (value, &length);

        rc = sqlite3_bind_text64 (stmt, index, text, length, SQLITE_STATIC, SQLITE_UTF8);
        return rc == SQLITE_OK || bind_failed (stmt, rc, label, error);
      }
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        return bind_value (stmt, index, inner, label, error);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);

        if (inner == NULL)
          {
            rc = sqlite3_bind_null (stmt, index);
            return rc == SQLITE_OK || bind_failed (stmt, rc, label, error);
          }
        return bind_value (stmt, index, inner, label, error);
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
          return rc == SQLITE_OK || bind_failed (stmt, rc, label, error);
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_HANDLE:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      {
        g_autofree char *shown = msb_db_error_excerpt (label);
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
      char label[32];

      g_snprintf (label, sizeof label, "%" G_GSIZE_FORMAT, i + 1);
      if (!bind_value (stmt, (int) i + 1, value, label, error))
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
