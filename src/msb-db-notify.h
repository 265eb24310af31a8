/* msb-db-notify.h: MsbDbPools::changed, and how often other processes are polled
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-pools.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

MSB_DB_AVAILABLE_IN_ALL
GTimeSpan   msb_db_pools_get_change_poll_interval (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_set_change_poll_interval (MsbDbPools *self,
                                                   GTimeSpan   interval);

G_END_DECLS
