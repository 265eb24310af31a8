/* msb-db-pools-private.h: what the features built on MsbDbPools need from it
 *
 * Cursors, migrations, backups, maintenance and change notifications each
 * live in a file of their own and implement public msb_db_pools_*()
 * functions on top of these: the pools' parts, the checks every call makes,
 * and the way a call becomes a job.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-job.h"
#include "msb-db-pools.h"
#include "msb-db-reader.h"
#include "msb-db-writer.h"

G_BEGIN_DECLS

MsbDbReader       *msb_db_pools_get_reader        (MsbDbPools          *self);
/* NULL for read-only pools */
MsbDbWriter       *msb_db_pools_get_writer        (MsbDbPools          *self);
const MsbDbTarget *msb_db_pools_get_target        (MsbDbPools          *self);
void               msb_db_pools_get_conn_settings (MsbDbPools          *self,
                                                   MsbDbConnSettings   *settings);

gboolean           msb_db_pools_check_usable      (MsbDbPools          *self,
                                                   GError             **error);
gboolean           msb_db_pools_check_writable    (MsbDbPools          *self,
                                                   GError             **error);
gboolean           msb_db_pools_check_may_block   (MsbDbPools          *self,
                                                   const char          *function,
                                                   GError             **error);
/* check_may_block() and check_usable() together */
gboolean           msb_db_pools_check_readable    (MsbDbPools          *self,
                                                   const char          *function,
                                                   GError             **error);

GTask             *msb_db_pools_new_task          (MsbDbPools          *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data,
                                                   gpointer             source_tag,
                                                   const char          *name);
/* An async call: @job reports through @task (which it takes over) in the
 * task's context; a call the pools refuse reports there too. Maintenance
 * jobs count as writes. */
void               msb_db_pools_submit_async      (MsbDbPools          *self,
                                                   MsbDbJob            *job,
                                                   GTask               *task);
/* A blocking call: queues @job and waits for its outcome. */
gboolean           msb_db_pools_submit_and_wait   (MsbDbPools          *self,
                                                   MsbDbJob            *job,
                                                   MsbDbRows          **rows,
                                                   GError             **error);
/* An async job that reports by itself (one with a sink): queued, or failed
 * at once when the pools refuse it. */
void               msb_db_pools_submit_job        (MsbDbPools          *self,
                                                   MsbDbJob            *job);
/* The first half of close_async(): from now on every call fails. */
void               msb_db_pools_begin_close       (MsbDbPools          *self);

G_END_DECLS
