/* msb-db-sqlite.h: the local SQLite file backend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"

G_BEGIN_DECLS

MsbDbBackendConn *msb_db_sqlite_open (const char              *path,
                                      MsbDbConnMode            mode,
                                      const MsbDbConnSettings *settings,
                                      GError                 **error);
void              msb_db_sqlite_tidy (const char              *path);

G_END_DECLS
