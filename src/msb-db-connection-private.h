/* msb-db-connection-private.h: lending a backend connection to a callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-connection.h"

G_BEGIN_DECLS

MsbDbConnection *msb_db_connection_new        (MsbDbBackendConn *conn,
                                               GCancellable     *cancellable);
void             msb_db_connection_invalidate (MsbDbConnection  *self);
gboolean         msb_db_connection_run        (MsbDbConnection  *self,
                                               gboolean        (*func) (MsbDbBackendConn *conn,
                                                                        gpointer          data,
                                                                        GError          **error),
                                               gpointer          data,
                                               GError          **error);
GCancellable    *msb_db_connection_get_cancellable (MsbDbConnection *self);

G_END_DECLS
