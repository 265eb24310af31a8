/* msb-db-rows-private.h: building an MsbDbRows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-columns.h"
#include "msb-db-rows.h"

G_BEGIN_DECLS

/* A result is built by one thread (the one that steps the statement), then
 * sealed; only a sealed result is handed out, and it never changes again,
 * which is what makes it safe to share between threads. */
MsbDbRows *msb_db_rows_new             (MsbDbColumns *columns);
void       msb_db_rows_append_null     (MsbDbRows   *self);
void       msb_db_rows_append_int64    (MsbDbRows   *self,
                                        gint64       value);
void       msb_db_rows_append_double   (MsbDbRows   *self,
                                        double       value);
void       msb_db_rows_append_text     (MsbDbRows   *self,
                                        const char  *text,
                                        gsize        length);
void       msb_db_rows_append_blob     (MsbDbRows   *self,
                                        gconstpointer data,
                                        gsize        length);
gboolean   msb_db_rows_is_too_large    (MsbDbRows   *self);
void       msb_db_rows_seal            (MsbDbRows   *self,
                                        gint64       changes,
                                        gint64       last_insert_rowid);

/* The flat form of msb_db_rows_dup_values(), appended to a bigger array
 * (an MsbDbResultQueue's batch). */
GPtrArray *msb_db_rows_new_values      (gsize        reserved);
GValue    *msb_db_rows_add_value       (GPtrArray   *values,
                                        GType        type);
guint      msb_db_rows_append_values   (MsbDbRows   *self,
                                        GPtrArray   *values);

G_END_DECLS
