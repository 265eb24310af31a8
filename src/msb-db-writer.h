/* msb-db-writer.h: the one thread that writes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-job.h"
#include "msb-db-retry.h"
#include "msb-db-stats-private.h"

G_BEGIN_DECLS

typedef struct _MsbDbWriter MsbDbWriter;

/* Asks this process's readers to pause (@hold TRUE) or resume, around a
 * checkpoint that needs the log free of readers. Pausing returns FALSE,
 * and does not pause, when a reader is already running too long for a
 * pause to help; otherwise it sets *@wait to how long the checkpoint
 * should wait for the running reads. */
typedef gboolean (*MsbDbReaderGate) (gpointer   data,
                                     gboolean   hold,
                                     GTimeSpan *wait);

/* Called with the writer's connection by the thread that holds it (the
 * writer's thread, or a caller running a write itself), outside any
 * transaction: before a unit of work (@done FALSE), and after it, once
 * what it committed is committed and before its callers hear of it (@done
 * TRUE). */
typedef void (*MsbDbWriterHook) (gpointer          data,
                                 MsbDbBackendConn *conn,
                                 gboolean          done);

MsbDbWriter *msb_db_writer_new      (MsbDbBackendConn       *conn,
                                     MsbDbCounters          *counters,
                                     const MsbDbRetryPolicy *policy,
                                     MsbDbReaderGate         gate,
                                     gpointer                gate_data,
                                     GDestroyNotify          gate_data_free,
                                     GError                **error);
void         msb_db_writer_submit   (MsbDbWriter            *self,
                                     MsbDbJob               *job);
MsbDbRows   *msb_db_writer_run      (MsbDbWriter            *self,
                                     const char             *sql,
                                     GVariant               *params,
                                     GCancellable           *cancellable,
                                     GTimeSpan               timeout,
                                     GError                **error);
void         msb_db_writer_set_hook (MsbDbWriter            *self,
                                     MsbDbWriterHook         hook,
                                     gpointer                data,
                                     GDestroyNotify          data_free);
void         msb_db_writer_shutdown (MsbDbWriter            *self);
void         msb_db_writer_join     (MsbDbWriter            *self);
void         msb_db_writer_unref    (MsbDbWriter            *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbWriter, msb_db_writer_unref)

G_END_DECLS
