/* msb-db-stats.h: counters of an MsbDbPools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <glib-object.h>

#include "msb-db-version-macros.h"

G_BEGIN_DECLS

#define MSB_DB_TYPE_STATS (msb_db_stats_get_type ())

/**
 * MsbDbStats:
 * @reads: successful reads (`read()` calls)
 * @writes: successful single-statement writes
 * @transactions: successful transaction callbacks
 * @snapshots: successful snapshot callbacks
 * @busy_retries: times a statement, transaction or batch was run again after
 *   `SQLITE_BUSY` or `SQLITE_BUSY_SNAPSHOT`
 * @retries_exhausted: calls that failed with %MSB_DB_ERROR_BUSY after the
 *   whole retry budget
 * @pool_timeouts: calls that failed with %MSB_DB_ERROR_POOL_TIMEOUT
 * @write_batches: transactions committed by the writer thread; each holds one
 *   or more queued jobs (group commit)
 * @checkpoints: WAL checkpoints run by the writer thread
 * @wal_bytes: size of the `-wal` file in bytes, as last seen by the writer
 * @checkpoints_blocked: times a checkpoint could not restart the log because
 *   a reader (of this process or another) still used an old snapshot; the
 *   log then grows until that reader ends, and nobody else waits for it
 *
 * A copy of the counters of an [class@MsbDb.Pools], taken by
 * [method@MsbDb.Pools.get_stats]. Counters only grow; compare two copies to
 * see what happened between them.
 */
typedef struct {
  guint64 reads;
  guint64 writes;
  guint64 transactions;
  guint64 snapshots;
  guint64 busy_retries;
  guint64 retries_exhausted;
  guint64 pool_timeouts;
  guint64 write_batches;
  guint64 checkpoints;
  guint64 wal_bytes;
  guint64 checkpoints_blocked;
} MsbDbStats;

MSB_DB_AVAILABLE_IN_ALL
GType       msb_db_stats_get_type (void) G_GNUC_CONST;
MSB_DB_AVAILABLE_IN_ALL
MsbDbStats *msb_db_stats_copy     (const MsbDbStats *stats);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_stats_free     (MsbDbStats       *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbStats, msb_db_stats_free)

G_END_DECLS
