/* msb-db-job.h: one call waiting for, or holding, a connection
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
  MSB_DB_JOB_TRANSACTION,
  MSB_DB_JOB_SNAPSHOT,
  MSB_DB_JOB_STOP,          /* tells the writer thread to finish */
} MsbDbJobKind;

/* A job is PENDING while it waits in a queue. Exactly one party moves it
 * on, with a compare-and-swap: the queue's consumer to CLAIMED (it will run
 * and report), or a deadline, a cancellation or close to ABANDONED (it
 * reports the error and the job never runs). */
typedef enum {
  MSB_DB_JOB_PENDING,
  MSB_DB_JOB_CLAIMED,
  MSB_DB_JOB_ABANDONED,
} MsbDbJobState;

typedef enum {
  MSB_DB_JOB_EXPIRED,
  MSB_DB_JOB_CANCELLED,
} MsbDbJobAbandonReason;

typedef struct _MsbDbJob MsbDbJob;

/* Called by whoever gives up waiting on a PENDING job. Returns TRUE if it
 * moved the job to ABANDONED (and set job->error); the caller completes it. */
typedef gboolean (*MsbDbJobAbandonFunc) (gpointer               queue,
                                         MsbDbJob              *job,
                                         MsbDbJobAbandonReason  reason);

/* Called when a read job is handed a connection. */
typedef void (*MsbDbJobGrantFunc) (MsbDbJob *job);

struct _MsbDbJob
{
  gatomicrefcount ref_count;
  MsbDbJobKind kind;
  gint state;                     /* MsbDbJobState, atomic */

  char *sql;
  GVariant *params;
  MsbDbConnectionFunc func;
  gpointer user_data;
  GDestroyNotify notify;
  GCancellable *cancellable;
  gint64 queued_at;               /* monotonic µs */
  gint64 deadline;                /* monotonic µs; G_MAXINT64: none */

  /* The queue the job waits in, told when a waiter gives up. */
  MsbDbJobAbandonFunc abandon;
  gpointer queue;

  /* A read job's connection, once granted, and what to do then. */
  MsbDbBackendConn *conn;
  MsbDbJobGrantFunc granted;
  gpointer pools;                 /* the MsbDbPools of the job, unowned */

  /* Outcome. */
  MsbDbRows *rows;
  GError *error;

  /* Completion: a GTask for async calls, a condition for blocking ones.
   * An async job finished on another thread is reported through
   * @completions, in batches, in the task's context. */
  GTask *task;
  MsbDbCompletions *completions;  /* unowned: the pools' (the task holds them) */
  GMutex mutex;
  GCond cond;
  gboolean done;
  gboolean wake;                  /* a blocking waiter should look again */
  GSource *cancel_source;

  /* While a deadline watch holds the job: owned by MsbDbCompletions. */
  gpointer watcher;
  GList watch_link;
};

MsbDbJob *msb_db_job_new           (MsbDbJobKind           kind,
                                    GCancellable          *cancellable,
                                    GTimeSpan              timeout);
MsbDbJob *msb_db_job_ref           (MsbDbJob              *job);
void      msb_db_job_unref         (MsbDbJob              *job);
gboolean  msb_db_job_claim         (MsbDbJob              *job);
gboolean  msb_db_job_try_abandon   (MsbDbJob              *job);
void      msb_db_job_watch         (MsbDbJob              *job);
void      msb_db_job_wait          (MsbDbJob              *job);
void      msb_db_job_complete      (MsbDbJob              *job);
void      msb_db_job_report        (MsbDbJob              *job);
void      msb_db_job_expire        (MsbDbJob              *job);
void      msb_db_job_take_error    (MsbDbJob              *job,
                                    GError                *error);
void      msb_db_job_reset_outcome (MsbDbJob              *job);

/* Which pools is running a transaction or snapshot callback on this thread,
 * so that a blocking call back into the same pools fails instead of
 * deadlocking. */
gconstpointer msb_db_job_enter_callback (gconstpointer pools);
void          msb_db_job_leave_callback (gconstpointer previous);
gboolean      msb_db_job_in_callback_of (gconstpointer pools);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbJob, msb_db_job_unref)

G_END_DECLS
