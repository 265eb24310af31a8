/* msb-db-connection.h: the connection handed to transaction and snapshot callbacks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <glib-object.h>

#include "msb-db-rows.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

#define MSB_DB_TYPE_CONNECTION (msb_db_connection_get_type ())

MSB_DB_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MsbDbConnection, msb_db_connection, MSB_DB, CONNECTION, GObject)

/**
 * MsbDbConnectionFunc:
 * @connection: the connection, valid only until the function returns
 * @user_data: (closure): the data given with the function
 * @error: return location for a #GError
 *
 * The body of a transaction or a snapshot. It runs on the writer thread (for
 * a transaction) or on a read worker (for a snapshot), never in the caller's
 * main context.
 *
 * A transaction body may be run more than once: when the database is busy
 * the whole transaction is rolled back and the function is called again from
 * the start. It must therefore have no effects outside the database, or
 * effects that are safe to repeat.
 *
 * Returns: %TRUE to commit, %FALSE with @error set to roll back
 */
typedef gboolean (*MsbDbConnectionFunc) (MsbDbConnection  *connection,
                                         gpointer          user_data,
                                         GError          **error);

MSB_DB_AVAILABLE_IN_ALL
MsbDbRows *msb_db_connection_execute      (MsbDbConnection  *self,
                                           const char       *sql,
                                           GVariant         *params,
                                           GError          **error);
MSB_DB_AVAILABLE_IN_ALL
gboolean   msb_db_connection_is_read_only (MsbDbConnection  *self);

G_END_DECLS
