/* msb-db-cursor.h: a large result, read in parts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-pools.h"
#include "msb-db-rows.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

#define MSB_DB_TYPE_CURSOR (msb_db_cursor_get_type ())

MSB_DB_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MsbDbCursor, msb_db_cursor, MSB_DB, CURSOR, GObject)

MSB_DB_AVAILABLE_IN_ALL
MsbDbCursor *msb_db_pools_open_cursor   (MsbDbPools           *pools,
                                         const char           *sql,
                                         GVariant             *params,
                                         GCancellable         *cancellable,
                                         GError              **error);
MSB_DB_AVAILABLE_IN_ALL
MsbDbRows   *msb_db_cursor_fetch        (MsbDbCursor          *self,
                                         guint                 max_rows,
                                         GCancellable         *cancellable,
                                         GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void         msb_db_cursor_fetch_async  (MsbDbCursor          *self,
                                         guint                 max_rows,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
MsbDbRows   *msb_db_cursor_fetch_finish (MsbDbCursor          *self,
                                         GAsyncResult         *result,
                                         GError              **error);
MSB_DB_AVAILABLE_IN_ALL
gboolean     msb_db_cursor_is_done      (MsbDbCursor          *self);
MSB_DB_AVAILABLE_IN_ALL
void         msb_db_cursor_close        (MsbDbCursor          *self);

G_END_DECLS
