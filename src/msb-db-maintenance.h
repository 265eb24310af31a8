/* msb-db-maintenance.h: VACUUM and checkpoints, run by the writer between batches
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
 * MsbDbCheckpointMode:
 * @MSB_DB_CHECKPOINT_PASSIVE: copy as many pages from the log into the
 *   database file as readers allow, without waiting for anyone
 * @MSB_DB_CHECKPOINT_FULL: wait for other writers, then copy every page
 *   (readers of older snapshots can still make it stop short)
 * @MSB_DB_CHECKPOINT_RESTART: as %MSB_DB_CHECKPOINT_FULL, and also wait
 *   for readers of the log, so that the next write starts the log over
 * @MSB_DB_CHECKPOINT_TRUNCATE: as %MSB_DB_CHECKPOINT_RESTART, and truncate
 *   the `-wal` file to zero bytes
 *
 * The modes of [method@MsbDb.Pools.checkpoint]: SQLite's
 * `sqlite3_wal_checkpoint_v2()` modes, in the same order.
 */
typedef enum {
  MSB_DB_CHECKPOINT_PASSIVE,
  MSB_DB_CHECKPOINT_FULL,
  MSB_DB_CHECKPOINT_RESTART,
  MSB_DB_CHECKPOINT_TRUNCATE,
} MsbDbCheckpointMode;

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_vacuum              (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_vacuum_async        (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_vacuum_finish       (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_checkpoint          (MsbDbPools           *self,
                                              MsbDbCheckpointMode   mode,
                                              gint                 *log_frames,
                                              gint                 *checkpointed_frames,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_checkpoint_async    (MsbDbPools           *self,
                                              MsbDbCheckpointMode   mode,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_checkpoint_finish   (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              gint                 *log_frames,
                                              gint                 *checkpointed_frames,
                                              GError              **error);

G_END_DECLS
