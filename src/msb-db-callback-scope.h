/* msb-db-callback-scope.h: which pools' callback this thread is running
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gconstpointer msb_db_callback_scope_enter     (gconstpointer owner);
void          msb_db_callback_scope_leave     (gconstpointer previous);
gboolean      msb_db_callback_scope_is_inside (gconstpointer owner);

G_END_DECLS
