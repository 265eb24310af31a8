/* msb-db-rows.h: an immutable query result
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <glib-object.h>

#include "msb-db-version-macros.h"

G_BEGIN_DECLS

/**
 * MsbDbValueType:
 * @MSB_DB_VALUE_TYPE_NULL: SQL NULL
 * @MSB_DB_VALUE_TYPE_INTEGER: a 64-bit signed integer
 * @MSB_DB_VALUE_TYPE_REAL: a double
 * @MSB_DB_VALUE_TYPE_TEXT: UTF-8 text
 * @MSB_DB_VALUE_TYPE_BLOB: bytes
 *
 * The storage class of one value of an [class@MsbDb.Rows].
 */
typedef enum {
  MSB_DB_VALUE_TYPE_NULL,
  MSB_DB_VALUE_TYPE_INTEGER,
  MSB_DB_VALUE_TYPE_REAL,
  MSB_DB_VALUE_TYPE_TEXT,
  MSB_DB_VALUE_TYPE_BLOB,
} MsbDbValueType;

#define MSB_DB_TYPE_ROWS (msb_db_rows_get_type ())

MSB_DB_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MsbDbRows, msb_db_rows, MSB_DB, ROWS, GObject)

MSB_DB_AVAILABLE_IN_ALL
guint           msb_db_rows_get_n_rows            (MsbDbRows *self);
MSB_DB_AVAILABLE_IN_ALL
guint           msb_db_rows_get_n_columns         (MsbDbRows *self);
MSB_DB_AVAILABLE_IN_ALL
const char     *msb_db_rows_get_column_name       (MsbDbRows *self,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
MsbDbValueType  msb_db_rows_get_value_type        (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
gboolean        msb_db_rows_is_null               (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
gint64          msb_db_rows_get_int64             (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
double          msb_db_rows_get_double            (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
const char     *msb_db_rows_get_string            (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
GBytes         *msb_db_rows_get_bytes             (MsbDbRows *self,
                                                   guint      row,
                                                   guint      column);
MSB_DB_AVAILABLE_IN_ALL
gint64          msb_db_rows_get_changes           (MsbDbRows *self);
MSB_DB_AVAILABLE_IN_ALL
gint64          msb_db_rows_get_last_insert_rowid (MsbDbRows *self);
MSB_DB_AVAILABLE_IN_ALL
GVariant       *msb_db_rows_to_variant            (MsbDbRows *self);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray      *msb_db_rows_dup_row               (MsbDbRows *self,
                                                   guint      row);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray      *msb_db_rows_dup_values            (MsbDbRows *self);

G_END_DECLS
