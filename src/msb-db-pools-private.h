/* msb-db-pools-private.h: what other modules of the library ask of MsbDbPools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-job.h"
#include "msb-db-pools.h"

G_BEGIN_DECLS

void msb_db_pools_submit_job  (MsbDbPools *self,
                               MsbDbJob   *job);
void msb_db_pools_begin_close (MsbDbPools *self);

G_END_DECLS
