/* msb-db-backend.h: the small interface between the pools and a database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "msb-db-maintenance.h"
#include "msb-db-rows.h"
#include "msb-db-target.h"

G_BEGIN_DECLS

/* The writer thread and the read pool never see SQLite: they hold
 * MsbDbBackendConn and call the functions below. A backend (a local SQLite
 * file, or a database in a dqlite cluster) fills in the vtable. Errors come back
 * in the MSB_DB_ERROR domain; MSB_DB_ERROR_BUSY means "retry the whole unit
 * of work", whatever the backend's own reason was. */

typedef struct _MsbDbBackendConn MsbDbBackendConn;

/* A statement being stepped by a cursor, a few rows at a time. */
typedef struct _MsbDbBackendCursor MsbDbBackendCursor;

typedef enum {
  MSB_DB_CONN_READ_WRITE,   /* the single writer: creates the database */
  MSB_DB_CONN_READ_ONLY,    /* a reader: never creates, never writes */
} MsbDbConnMode;

typedef struct {
  GTimeSpan busy_timeout;
  guint statement_cache_size;
  /* How long a remote backend looks for its server (a dqlite leader), and
   * waits for any one answer; 0 for the library's default. */
  GTimeSpan connect_timeout;
  gboolean trusted_schema;    /* the application owns the schema: let it use
                               * virtual tables and functions from triggers
                               * and views */
} MsbDbConnSettings;

typedef enum {
  MSB_DB_TX_BEGIN,            /* deferred: a read snapshot */
  MSB_DB_TX_BEGIN_IMMEDIATE,  /* takes the write lock at once */
  MSB_DB_TX_COMMIT,
  MSB_DB_TX_ROLLBACK,
  MSB_DB_TX_SAVEPOINT,
  MSB_DB_TX_RELEASE,
  MSB_DB_TX_ROLLBACK_TO,
  /* No statement: after a job that ran without a savepoint of its own,
   * fails if the job left the transaction in a state only rolling it all
   * back can undo (a deferred constraint violated, or a failed statement
   * whose earlier changes stayed, as with OR FAIL); ends the job's
   * settings. */
  MSB_DB_TX_END_JOB,
} MsbDbTxOp;

/* MsbDbCheckpointMode (public, msb-db-maintenance.h): PASSIVE copies what
 * readers allow and never waits; FULL waits for the writer lock and copies
 * everything; RESTART also waits for readers so that the log starts over;
 * TRUNCATE does that and truncates the log file to zero bytes. */

/* Called after each step of a backup with the pages copied so far and the
 * pages of the whole database. */
typedef void (*MsbDbBackupStepFunc) (guint64  pages_done,
                                     guint64  pages_total,
                                     guint    page_size,
                                     gpointer data);

typedef struct {
  const char *name;

  MsbDbRows *(*execute)        (MsbDbBackendConn  *conn,
                                const char        *sql,
                                GVariant          *params,
                                GCancellable      *cancellable,
                                GError           **error);
  /* One statement, once per element of an array of parameters, inside
   * the caller's transaction. */
  MsbDbRows *(*execute_many)   (MsbDbBackendConn  *conn,
                                const char        *sql,
                                GVariant          *param_rows,
                                GCancellable      *cancellable,
                                GError           **error);
  /* Several statements, run one after the other; their rows are dropped. */
  gboolean   (*execute_script) (MsbDbBackendConn  *conn,
                                const char        *sql,
                                GCancellable      *cancellable,
                                GError           **error);
  gboolean   (*control)        (MsbDbBackendConn  *conn,
                                MsbDbTxOp          op,
                                GError           **error);
  gboolean   (*in_transaction) (MsbDbBackendConn  *conn);
  /* May be called from any thread while another uses the connection. */
  void       (*interrupt)      (MsbDbBackendConn  *conn);
  /* @max_wait bounds how long a RESTART/TRUNCATE waits for readers. */
  gboolean   (*checkpoint)     (MsbDbBackendConn  *conn,
                                MsbDbCheckpointMode mode,
                                GTimeSpan          max_wait,
                                GError           **error);
  guint64    (*wal_size)       (MsbDbBackendConn  *conn);
  /* Pages in the log after the last commit on this connection. */
  guint      (*wal_frames)     (MsbDbBackendConn  *conn);
  /* A statement stepped in parts: inside a read transaction the caller
   * holds, each fetch returns the next rows (at most @max_rows); *@done is
   * set when there are no more. */
  MsbDbBackendCursor *(*cursor_open)  (MsbDbBackendConn    *conn,
                                       const char          *sql,
                                       GVariant            *params,
                                       GError             **error);
  MsbDbRows          *(*cursor_fetch) (MsbDbBackendConn    *conn,
                                       MsbDbBackendCursor  *cursor,
                                       guint                max_rows,
                                       GCancellable        *cancellable,
                                       gboolean            *done,
                                       GError             **error);
  void                (*cursor_close) (MsbDbBackendConn    *conn,
                                       MsbDbBackendCursor  *cursor);
  void       (*close)          (MsbDbBackendConn  *conn);

  /* The operations below are optional (NULL: the backend cannot). */

  /* Rebuilds the database (VACUUM), outside any transaction. */
  gboolean   (*vacuum)         (MsbDbBackendConn  *conn,
                                GCancellable      *cancellable,
                                GError           **error);
  /* A checkpoint the application asked for: also tells how many pages
   * the log holds and how many of them are now in the database file. */
  gboolean   (*checkpoint_counted) (MsbDbBackendConn    *conn,
                                    MsbDbCheckpointMode  mode,
                                    GTimeSpan            max_wait,
                                    gint                *log_frames,
                                    gint                *checkpointed_frames,
                                    GError             **error);
  /* Copies the database as this connection's open read transaction sees
   * it into the new, empty file at @path, in steps. */
  gboolean   (*backup)         (MsbDbBackendConn    *conn,
                                const char          *path,
                                MsbDbBackupStepFunc  step,
                                gpointer             step_data,
                                GCancellable        *cancellable,
                                GError             **error);
  /* A write connection, on its own thread: start or stop noting which
   * tables its commits change. */
  void       (*track_changes)  (MsbDbBackendConn  *conn,
                                gboolean           track);
  /* What was committed since the last call: FALSE if nothing; else TRUE
   * and @tables (transfer full) names the tables changed, or is empty
   * when the backend cannot tell which. */
  gboolean   (*take_changes)   (MsbDbBackendConn  *conn,
                                GPtrArray        **tables);
} MsbDbBackendVTable;

struct _MsbDbBackendConn
{
  const MsbDbBackendVTable *vtable;
  MsbDbConnMode mode;
};

MsbDbBackendConn *msb_db_backend_open           (const MsbDbTarget       *target,
                                                 MsbDbConnMode            mode,
                                                 const MsbDbConnSettings *settings,
                                                 GError                 **error);
MsbDbRows        *msb_db_backend_execute        (MsbDbBackendConn        *conn,
                                                 const char              *sql,
                                                 GVariant                *params,
                                                 GCancellable            *cancellable,
                                                 GError                 **error);
MsbDbRows        *msb_db_backend_execute_many   (MsbDbBackendConn        *conn,
                                                 const char              *sql,
                                                 GVariant                *param_rows,
                                                 GCancellable            *cancellable,
                                                 GError                 **error);
gboolean          msb_db_backend_execute_script (MsbDbBackendConn        *conn,
                                                 const char              *sql,
                                                 GCancellable            *cancellable,
                                                 GError                 **error);
gboolean          msb_db_backend_control        (MsbDbBackendConn        *conn,
                                                 MsbDbTxOp                op,
                                                 GError                 **error);
gboolean          msb_db_backend_in_transaction (MsbDbBackendConn        *conn);
void              msb_db_backend_interrupt      (MsbDbBackendConn        *conn);
gboolean          msb_db_backend_checkpoint     (MsbDbBackendConn        *conn,
                                                 MsbDbCheckpointMode      mode,
                                                 GTimeSpan                max_wait,
                                                 GError                 **error);
guint64           msb_db_backend_wal_size       (MsbDbBackendConn        *conn);
guint             msb_db_backend_wal_frames     (MsbDbBackendConn        *conn);
MsbDbBackendCursor *msb_db_backend_cursor_open  (MsbDbBackendConn        *conn,
                                                 const char              *sql,
                                                 GVariant                *params,
                                                 GError                 **error);
MsbDbRows        *msb_db_backend_cursor_fetch   (MsbDbBackendConn        *conn,
                                                 MsbDbBackendCursor      *cursor,
                                                 guint                    max_rows,
                                                 GCancellable            *cancellable,
                                                 gboolean                *done,
                                                 GError                 **error);
void              msb_db_backend_cursor_close   (MsbDbBackendConn        *conn,
                                                 MsbDbBackendCursor      *cursor);
void              msb_db_backend_close          (MsbDbBackendConn        *conn);
gboolean          msb_db_backend_reset          (MsbDbBackendConn        *conn);
gboolean          msb_db_backend_vacuum         (MsbDbBackendConn        *conn,
                                                 GCancellable            *cancellable,
                                                 GError                 **error);
gboolean          msb_db_backend_checkpoint_counted (MsbDbBackendConn    *conn,
                                                 MsbDbCheckpointMode      mode,
                                                 GTimeSpan                max_wait,
                                                 gint                    *log_frames,
                                                 gint                    *checkpointed_frames,
                                                 GError                 **error);
gboolean          msb_db_backend_backup         (MsbDbBackendConn        *conn,
                                                 const char              *path,
                                                 MsbDbBackupStepFunc      step,
                                                 gpointer                 step_data,
                                                 GCancellable            *cancellable,
                                                 GError                 **error);
gboolean          msb_db_backend_can_track_changes (MsbDbBackendConn     *conn);
void              msb_db_backend_track_changes  (MsbDbBackendConn        *conn,
                                                 gboolean                 track);
gboolean          msb_db_backend_take_changes   (MsbDbBackendConn        *conn,
                                                 GPtrArray              **tables);
void              msb_db_backend_tidy           (const MsbDbTarget       *target);

G_END_DECLS
