/* msb-db-columns.c: the column names of a result, shared between results
 *
 * One allocation holds the count, the pointers and the strings, so a set
 * of names costs one malloc when a statement is prepared and one atomic
 * increment per result after that.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-columns.h"

struct _MsbDbColumns
{
  guint n_columns;
  const char *names[];   /* n_columns pointers, then the strings */
};

/* @names may hold NULL entries (SQLite gives no name on allocation
 * failure); they become "". */
MsbDbColumns *
msb_db_columns_new (guint               n_columns,
                    const char * const *names)
{
  gsize header = sizeof (MsbDbColumns) + n_columns * sizeof (const char *);
  gsize size = header;
  MsbDbColumns *self;
  char *strings;

  for (guint c = 0; c < n_columns; c++)
    size += strlen (names[c] ? names[c] : "") + 1;

  self = g_atomic_rc_box_alloc (size);
  self->n_columns = n_columns;
  strings = (char *) self + header;
  for (guint c = 0; c < n_columns; c++)
    {
      const char *name = names[c] ? names[c] : "";
      gsize length = strlen (name) + 1;

      memcpy (strings, name, length);
      self->names[c] = strings;
      strings += length;
    }
  return self;
}

MsbDbColumns *
msb_db_columns_ref (MsbDbColumns *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
msb_db_columns_unref (MsbDbColumns *self)
{
  g_atomic_rc_box_release (self);
}

guint
msb_db_columns_get_n (const MsbDbColumns *self)
{
  return self->n_columns;
}

const char *
msb_db_columns_get_name (const MsbDbColumns *self,
                         guint               column)
{
  g_assert (column < self->n_columns);
  return self->names[column];
}
