/* msb-db-bind.h: GVariant parameters onto SQLite statements
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* Binds @params (a tuple, an a{sv}, or NULL) to @stmt: booleans and
 * integers as INTEGER, doubles as REAL, strings as TEXT, byte arrays as
 * BLOB, a Nothing maybe as NULL. Text and blobs are bound without copying:
 * @params must outlive the statement's execution. */
gboolean msb_db_bind_params (sqlite3_stmt  *stmt,
                             GVariant      *params,
                             GError       **error);

/* Parameters of many runs given column by column: a tuple of arrays of one
 * length, element i of each for run i. */
typedef struct _MsbDbColumnParams MsbDbColumnParams;

MsbDbColumnParams *msb_db_column_params_new        (GVariant           *tuple,
                                                    GError            **error);
gsize              msb_db_column_params_get_n_rows (MsbDbColumnParams  *self);
gboolean           msb_db_column_params_bind       (MsbDbColumnParams  *self,
                                                    sqlite3_stmt       *stmt,
                                                    gsize               row,
                                                    GError            **error);
void               msb_db_column_params_free       (MsbDbColumnParams  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbColumnParams, msb_db_column_params_free)

G_END_DECLS
