/* msb-db-reader.h: the read connections, and the threads that read on them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-job.h"
#include "msb-db-retry.h"
#include "msb-db-stats-private.h"

G_BEGIN_DECLS

typedef struct _MsbDbReader MsbDbReader;

MsbDbReader *msb_db_reader_new          (const MsbDbTarget       *target,
                                         guint                    n_connections,
                                         const MsbDbConnSettings *settings,
                                         MsbDbCounters           *counters,
                                         const MsbDbRetryPolicy  *policy,
                                         gboolean                 has_writer,
                                         GCancellable            *cancellable,
                                         GError                 **error);
MsbDbReader *msb_db_reader_ref          (MsbDbReader             *self);
void         msb_db_reader_unref        (MsbDbReader             *self);

MsbDbRows   *msb_db_reader_read         (MsbDbReader             *self,
                                         const char              *sql,
                                         GVariant                *params,
                                         GCancellable            *cancellable,
                                         GTimeSpan                timeout,
                                         GError                 **error);
void         msb_db_reader_submit       (MsbDbReader             *self,
                                         MsbDbJob                *job);
MsbDbBackendConn *msb_db_reader_lend    (MsbDbReader             *self,
                                         GCancellable            *cancellable,
                                         GTimeSpan                timeout,
                                         GError                 **error);
void         msb_db_reader_give_back    (MsbDbReader             *self,
                                         MsbDbBackendConn        *conn);

gboolean     msb_db_reader_hold         (MsbDbReader             *self,
                                         GTimeSpan               *wait);
void         msb_db_reader_unhold       (MsbDbReader             *self);

void         msb_db_reader_shutdown     (MsbDbReader             *self);
void         msb_db_reader_wait_closed  (MsbDbReader             *self,
                                         GTimeSpan                grace);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbReader, msb_db_reader_unref)

G_END_DECLS
