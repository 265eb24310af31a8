/* msb-db-backup.h: a consistent copy of the database, taken while it is in use
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

/**
 * MsbDbBackupFlags:
 * @MSB_DB_BACKUP_NONE: no flags: an existing destination is refused
 * @MSB_DB_BACKUP_REPLACE: replace the destination if it exists (it is
 *   replaced in one step, once the copy is complete)
 *
 * Flags of [method@MsbDb.Pools.backup].
 */
typedef enum /*< flags >*/ {
  MSB_DB_BACKUP_NONE = 0,
  MSB_DB_BACKUP_REPLACE = 1 << 0,
} MsbDbBackupFlags;

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_backup              (MsbDbPools             *self,
                                              const char             *dest_path,
                                              MsbDbBackupFlags        flags,
                                              GCancellable           *cancellable,
                                              GFileProgressCallback   progress_callback,
                                              gpointer                progress_callback_data,
                                              GError                **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_backup_async        (MsbDbPools             *self,
                                              const char             *dest_path,
                                              MsbDbBackupFlags        flags,
                                              GCancellable           *cancellable,
                                              GFileProgressCallback   progress_callback,
                                              gpointer                progress_callback_data,
                                              GDestroyNotify          progress_callback_data_free,
                                              GAsyncReadyCallback     callback,
                                              gpointer                user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_backup_finish       (MsbDbPools             *self,
                                              GAsyncResult           *result,
                                              GError                **error);

G_END_DECLS
