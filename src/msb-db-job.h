/* msb-db-job.h: one call, from the moment it is queued until it reports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "msb-db-backend.h"
#include "msb-db-completions.h"
#include "msb-db-connection.h"
#include "msb-db-rows.h"

G_BEGIN_DECLS

typedef enum {
  MSB_DB_JOB_READ,
  MSB_DB_JOB_WRITE,
  MSB_DB_JOB_WRITE_MANY,    /* one statement, an array of parameters */
  MSB_DB_JOB_TRANSACTION,
  MSB_DB_JOB_SNAPSHOT,
  MSB_DB_JOB_MAINTENANCE,   /* on the writer, outside any transaction */
  MSB_DB_JOB_LEND,          /* hands a read connection to the waiter */
} MsbDbJobKind;

typedef struct _MsbDbJob MsbDbJob;

/* The library's own work with the write connection, outside any
 * transaction (VACUUM, a checkpoint). Returns a result, or NULL with
 * @error set. */
typedef MsbDbRows *(*MsbDbMaintenanceFunc) (MsbDbBackendConn  *conn,
                                            gpointer           data,
                                            GError           **error);

/* Given by the queue a job waits in: the error for a job that waited past
 * its deadline (the queue knows how busy it was). */
typedef GError *(*MsbDbJobTimeoutFunc) (gpointer  queue,
                                        MsbDbJob *job);

/* Reports a finished async job that has no GTask, on the thread that
 * finished it (see msb_db_job_set_sink()). */
typedef void (*MsbDbJobSinkFunc) (MsbDbJob *job,
                                  gpointer  sink_data);

MsbDbJob     *msb_db_job_new_statement (MsbDbJobKind          kind,
                                        const char           *sql,
                                        GVariant             *params,
                                        GCancellable         *cancellable,
                                        GTimeSpan             timeout);
MsbDbJob     *msb_db_job_new_callback  (MsbDbJobKind          kind,
                                        MsbDbConnectionFunc   func,
                                        gpointer              user_data,
                                        GDestroyNotify        notify,
                                        gconstpointer         owner,
                                        GCancellable         *cancellable,
                                        GTimeSpan             timeout);
MsbDbJob     *msb_db_job_new_maintenance (MsbDbMaintenanceFunc func,
                                          gpointer             data,
                                          GDestroyNotify       notify,
                                          GCancellable        *cancellable,
                                          GTimeSpan            timeout);
MsbDbJob     *msb_db_job_new_lend      (GCancellable         *cancellable,
                                        GTimeSpan             timeout);
MsbDbJob     *msb_db_job_ref           (MsbDbJob             *job);
void          msb_db_job_unref         (MsbDbJob             *job);
void          msb_db_job_set_task      (MsbDbJob             *job,
                                        GTask                *task,
                                        MsbDbCompletions     *completions);
void          msb_db_job_set_sink      (MsbDbJob             *job,
                                        MsbDbJobSinkFunc      sink,
                                        gpointer              sink_data,
                                        MsbDbCompletions     *completions,
                                        GMainContext         *context);

MsbDbJobKind  msb_db_job_get_kind        (MsbDbJob *job);
const char   *msb_db_job_get_sql         (MsbDbJob *job);
GVariant     *msb_db_job_get_params      (MsbDbJob *job);
GCancellable *msb_db_job_get_cancellable (MsbDbJob *job);
gint64        msb_db_job_get_queued_at   (MsbDbJob *job);
gint64        msb_db_job_get_deadline    (MsbDbJob *job);
gboolean      msb_db_job_is_async        (MsbDbJob *job);

void          msb_db_job_start_waiting (MsbDbJob             *job,
                                        MsbDbJobTimeoutFunc   on_timeout,
                                        gpointer              queue);
gboolean      msb_db_job_claim         (MsbDbJob             *job);
gboolean      msb_db_job_cancel        (MsbDbJob             *job);
gboolean      msb_db_job_run_callback  (MsbDbJob             *job,
                                        MsbDbConnection      *connection,
                                        GError              **error);
MsbDbRows    *msb_db_job_run_maintenance (MsbDbJob           *job,
                                          MsbDbBackendConn   *conn,
                                          GError            **error);

void          msb_db_job_set_rows      (MsbDbJob             *job,
                                        MsbDbRows            *rows);
void          msb_db_job_set_error     (MsbDbJob             *job,
                                        GError               *error);
void          msb_db_job_reset_outcome (MsbDbJob             *job);
const GError *msb_db_job_get_error     (MsbDbJob             *job);
MsbDbRows    *msb_db_job_get_rows      (MsbDbJob             *job);
void          msb_db_job_set_lent      (MsbDbJob             *job,
                                        gpointer              lent);
gpointer      msb_db_job_get_lent      (MsbDbJob             *job);

void          msb_db_job_complete      (MsbDbJob             *job);
void          msb_db_job_fail          (MsbDbJob             *job,
                                        GError               *error);
gboolean      msb_db_job_wait          (MsbDbJob             *job,
                                        MsbDbRows           **rows,
                                        GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbJob, msb_db_job_unref)

G_END_DECLS
