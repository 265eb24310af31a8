/* msb-db-columns.h: the column names of a result, shared between results
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Immutable and reference counted: every result of one prepared statement
 * shares one set of names instead of copying them per call. */
typedef struct _MsbDbColumns MsbDbColumns;

MsbDbColumns *msb_db_columns_new      (guint               n_columns,
                                       const char * const *names);
MsbDbColumns *msb_db_columns_ref      (MsbDbColumns       *self);
void          msb_db_columns_unref    (MsbDbColumns       *self);
guint         msb_db_columns_get_n    (const MsbDbColumns *self);
const char   *msb_db_columns_get_name (const MsbDbColumns *self,
                                       guint               column);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbColumns, msb_db_columns_unref)

G_END_DECLS
