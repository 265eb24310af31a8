/* msb-db-body.h: transaction and snapshot bodies named by a number, for bindings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-connection.h"
#include "msb-db-pools.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

/**
 * MsbDbBodyFunc:
 * @connection: the connection, valid only until the function returns
 * @body: the number the call was given
 * @user_data: (closure): the data given to [method@MsbDb.Pools.set_body_func]
 * @error: return location for a #GError
 *
 * Runs the body of a transaction or snapshot that was started with a
 * number instead of a function: [method@MsbDb.Pools.transaction_body],
 * [method@MsbDb.Pools.snapshot_body], [method@MsbDb.ResultQueue.transaction]
 * and [method@MsbDb.ResultQueue.snapshot]. It runs where an
 * [callback@MsbDb.ConnectionFunc] would, and like one it may be called more
 * than once for one transaction.
 *
 * Returns: %TRUE to commit, %FALSE with @error set to roll back
 */
typedef gboolean (*MsbDbBodyFunc) (MsbDbConnection  *connection,
                                   guint64           body,
                                   gpointer          user_data,
                                   GError          **error);

MSB_DB_AVAILABLE_IN_ALL
void     msb_db_pools_set_body_func     (MsbDbPools     *self,
                                         MsbDbBodyFunc   func,
                                         gpointer        user_data,
                                         GDestroyNotify  notify);
MSB_DB_AVAILABLE_IN_ALL
gboolean msb_db_pools_transaction_body  (MsbDbPools     *self,
                                         guint64         body,
                                         GCancellable   *cancellable,
                                         GError        **error);
MSB_DB_AVAILABLE_IN_ALL
gboolean msb_db_pools_snapshot_body     (MsbDbPools     *self,
                                         guint64         body,
                                         GCancellable   *cancellable,
                                         GError        **error);

G_END_DECLS
