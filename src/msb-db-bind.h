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
 * BLOB, a Nothing maybe as NULL. Text and blobs are bound without copying: @params must outlive the
 * statement's execution. */
gboolean msb_db_bind_params (sqlite3_stmt  *stmt,
                             GVariant      *params,
                             GError       **error);

G_END_DECLS
