/* msb-db-pools-private.h: what the pools' other modules need from them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-pools.h"
#include "msb-db-reader.h"

G_BEGIN_DECLS

MsbDbReader *msb_db_pools_get_reader      (MsbDbPools   *self);
gboolean     msb_db_pools_check_readable  (MsbDbPools   *self,
                                           const char   *function,
                                           GError      **error);

G_END_DECLS
