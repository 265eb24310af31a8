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

G_BEGIN_DECLS

gboolean    msb_db_pools_migrate             (MsbDbPools           *self,
                                              const char * const   *steps,
                                              GCancellable         *cancellable,
                                              GError              **error);
void        msb_db_pools_migrate_async       (MsbDbPools           *self,
                                              const char * const   *steps,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean    msb_db_pools_migrate_finish      (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

gint        msb_db_pools_get_schema_version  (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GError              **error);

G_END_DECLS
