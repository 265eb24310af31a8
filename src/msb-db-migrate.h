/* msb-db-migrate.h: schema migrations, numbered by PRAGMA user_version
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
gboolean    msb_db_pools_migrate             (MsbDbPools           *self,
                                              const char * const   *steps,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_migrate_async       (MsbDbPools           *self,
                                              const char * const   *steps,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_migrate_finish      (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gint        msb_db_pools_get_schema_version  (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GError              **error);

G_END_DECLS
