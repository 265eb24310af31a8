/* msb-db-sql-params.c: the parameters of a statement, read from its text
 *
 * The rules are SQLite's tokenizer's and parser's (tokenize.c, expr.c):
 * parameters are only found outside string literals, quoted identifiers and
 * comments; a name runs over identifier characters (letters, digits, `_`,
 * `$` and every byte of a multi-byte UTF-8 character), may hold `::`, and
 * may end in a Tcl-style `(...)` suffix. `#` followed by a digit is not a
 * parameter (SQLite reserves it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-sql-params.h"

struct _MsbDbSqlParams
{
  guint64 count;         /* the largest parameter number seen */
  GPtrArray *names;      /* number -> the first name given to it, or NULL */
  GHashTable *numbers;   /* name -> number (GUINT_TO_POINTER) */
};

static gboolean
is_id_char (guchar c)
{
  return c >= 0x80 || g_ascii_isalnum (c) || c == '_' || c == '$';
}

/* Skips a string literal or quoted identifier opened by p[0]; a doubled
 * quote stands for itself. An unterminated one runs to the end. */
static const char *
skip_quoted (const char *p)
{
  char quote = *p++;

  for (; *p != '\0'; p++)
    {
      if (*p != quote)
        continue;
      if (p[1] != quote)
        return p + 1;
      p++;
    }
  return p;
}

static const char *
skip_comment (const char *p)
{
  if (p[0] == '-')
    {
      const char *end = strchr (p, '\n');
      return end ? end + 1 : p + strlen (p);
    }
  else
    {
      const char *end = strstr (p + 2, "*/");
      return end ? end + 2 : p + strlen (p);
    }
}

/* The length of the variable token at @p (`:name`, `@name`, `$name`,
 * `#name`), or 0 if it is not a valid one. */
static gsize
variable_length (const char *p)
{
  gsize n = 0;
  gsize i;

  for (i = 1; p[i] != '\0'; i++)
    {
      if (is_id_char (p[i]))
        n++;
      else if (p[i] == '(' && n > 0)
        {
          do
            i++;
          while (p[i] != '\0' && !g_ascii_isspace (p[i]) && p[i] != ')');
          if (p[i] != ')')
            return 0;
          i++;
          break;
        }
      else if (p[i] == ':' && p[i + 1] == ':')
        i++;
      else
        break;
    }
  return n > 0 ? i : 0;
}

static guint
lookup_name (const MsbDbSqlParams *self,
             const char           *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->numbers, name));
}

/* Gives @index the name @name unless it already has one. */
static void
name_index (MsbDbSqlParams *self,
            guint64         index,
            const char     *name,
            gsize           length)
{
  if (index > MSB_DB_SQL_PARAMS_MAX_NAMED)
    return;
  if (self->names->len <= index)
    g_ptr_array_set_size (self->names, (guint) index + 1);
  if (g_ptr_array_index (self->names, index) == NULL)
    {
      char *copy = g_strndup (name, length);

      g_ptr_array_index (self->names, index) = copy;
      g_hash_table_insert (self->numbers, copy, GUINT_TO_POINTER ((guint) index));
    }
}

static void
add_numbered (MsbDbSqlParams *self,
              const char     *token,
              gsize           length)
{
  guint64 index = 0;

  for (gsize i = 1; i < length; i++)
    index = index > G_MAXUINT64 / 10 - 1 ? G_MAXUINT64 : index * 10 + (guint64) (token[i] - '0');
  /* ?0 is an error for SQLite: not counted. */
  if (index == 0)
    return;
  self->count = MAX (self->count, index);
  name_index (self, index, token, length);
}

static void
add_named (MsbDbSqlParams *self,
           const char     *token,
           gsize           length)
{
  g_autofree char *name = g_strndup (token, length);

  if (lookup_name (self, name) != 0)
    return;
  if (self->count < G_MAXUINT64)
    self->count++;
  name_index (self, self->count, token, length);
}

MsbDbSqlParams *
msb_db_sql_params_scan (const char *sql)
{
  MsbDbSqlParams *self = g_new0 (MsbDbSqlParams, 1);
  const char *p = sql;

  self->names = g_ptr_array_new_with_free_func (g_free);
  self->numbers = g_hash_table_new (g_str_hash, g_str_equal);
  g_ptr_array_add (self->names, NULL);   /* numbers start at 1 */

  while (*p != '\0' && *p != ';')
    {
      if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*'))
        p = skip_comment (p);
      else if (*p == '\'' || *p == '"' || *p == '`')
        p = skip_quoted (p);
      else if (*p == '[')
        {
          const char *end = strchr (p, ']');
          p = end ? end + 1 : p + strlen (p);
        }
      else if (*p == '?')
        {
          gsize length = 1;

          while (g_ascii_isdigit (p[length]))
            length++;
          if (length == 1 && self->count < G_MAXUINT64)
            self->count++;
          else if (length > 1)
            add_numbered (self, p, length);
          p += length;
        }
      else if (*p == ':' || *p == '@' || *p == '$' || *p == '#')
        {
          gsize length = variable_length (p);

          if (length == 0)
            p++;
          else
            {
              if (!(p[0] == '#' && g_ascii_isdigit (p[1])))
                add_named (self, p, length);
              p += length;
            }
        }
      else if (is_id_char (*p))
        {
          /* A keyword, identifier or number: a `$` inside it is not a
           * parameter. */
          while (is_id_char (*p))
            p++;
        }
      else
        p++;
    }
  return self;
}

void
msb_db_sql_params_free (MsbDbSqlParams *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->numbers);
  g_ptr_array_unref (self->names);
  g_free (self);
}

/* The number of parameters the statement takes: its largest parameter
 * number. */
guint64
msb_db_sql_params_get_count (const MsbDbSqlParams *self)
{
  return self->count;
}

/* The name of parameter @index (from 1), with its prefix (":id", "?3"), or
 * NULL for a plain `?`. */
const char *
msb_db_sql_params_get_name (const MsbDbSqlParams *self,
                            guint                 index)
{
  if (index == 0 || index >= self->names->len)
    return NULL;
  return g_ptr_array_index (self->names, index);
}

/* The number of the parameter that @key names, or 0. As for a local
 * statement, a key may be written with its prefix (":id") or without
 * ("id"): then `:`, `@` and `$` are tried in that order. */
guint
msb_db_sql_params_find (const MsbDbSqlParams *self,
                        const char           *key)
{
  static const char prefixes[] = ":@$";

  if (key[0] != '\0' && strchr (prefixes, key[0]) != NULL)
    return lookup_name (self, key);

  for (const char *prefix = prefixes; *prefix != '\0'; prefix++)
    {
      g_autofree char *name = g_strdup_printf ("%c%s", *prefix, key);
      guint index = lookup_name (self, name);

      if (index != 0)
        return index;
    }
  return 0;
}
