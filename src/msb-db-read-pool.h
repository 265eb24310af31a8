/* msb-db-read-pool.h: a bounded pool of read-only connections
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-job.h"
#include "msb-db-stats-private.h"

G_BEGIN_DECLS

typedef struct _MsbDbReadPool MsbDbReadPool;

MsbDbReadPool    *msb_db_read_pool_new     (MsbDbBackendConn **conns,
                                            guint              n_conns,
                                            MsbDbCounters     *counters);
MsbDbReadPool    *msb_db_read_pool_ref     (MsbDbReadPool     *self);
void              msb_db_read_pool_unref   (MsbDbReadPool     *self);
MsbDbBackendConn *msb_db_read_pool_acquire (MsbDbReadPool     *self,
                                            GTimeSpan          timeout,
                                            GCancellable      *cancellable,
                                            GError           **error);
gboolean          msb_db_read_pool_submit  (MsbDbReadPool     *self,
                                            MsbDbJob          *job,
                                            GError           **error);
void              msb_db_read_pool_release (MsbDbReadPool     *self,
                                            MsbDbBackendConn  *conn);
MsbDbJob         *msb_db_read_pool_pass_on (MsbDbReadPool    *self,
                                            MsbDbBackendConn *conn,
                                            MsbDbJob         *finished);
gboolean          msb_db_read_pool_hold    (MsbDbReadPool     *self,
                                            GTimeSpan          patience);
void              msb_db_read_pool_unhold  (MsbDbReadPool     *self);
void              msb_db_read_pool_shutdown    (MsbDbReadPool     *self);
gboolean          msb_db_read_pool_wait_closed (MsbDbReadPool     *self,
                                                GTimeSpan          grace,
                                                const MsbDbTarget *tidy_target);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbReadPool, msb_db_read_pool_unref)

G_END_DECLS
