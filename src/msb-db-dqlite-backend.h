/* msb-db-dqlite-backend.h: a database in a dqlite cluster
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"

G_BEGIN_DECLS

MsbDbBackendConn *msb_db_dqlite_backend_open (const MsbDbTarget       *target,
                                              MsbDbConnMode            mode,
                                              const MsbDbConnSettings *settings,
                                              GError                 **error);

G_END_DECLS
