/* msb-db-backend.c: dispatch to the backend that serves a target
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-backend.h"
#include "msb-db-dqlite-backend.h"
#include "msb-db-error.h"
#include "msb-db-sqlite.h"

MsbDbBackendConn *
msb_db_backend_open (const MsbDbTarget       *target,
                     MsbDbConnMode            mode,
                     const MsbDbConnSettings *settings,
                     GError                 **error)
{
  switch (target->kind)
    {
    case MSB_DB_TARGET_SQLITE_FILE:
      return msb_db_sqlite_open (target->path, mode, settings, error);
    case MSB_DB_TARGET_DQLITE:
      return msb_db_dqlite_backend_open (target, mode, settings, error);
    default:
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                           "No backend serves this database target");
      return NULL;
    }
}

MsbDbRows *
msb_db_backend_execute (MsbDbBackendConn  *conn,
                        const char        *sql,
                        GVariant          *params,
                        GCancellable      *cancellable,
                        GError           **error)
{
  return conn->vtable->execute (conn, sql, params, cancellable, error);
}

MsbDbRows *
msb_db_backend_execute_many (MsbDbBackendConn  *conn,
                             const char        *sql,
                             GVariant          *param_rows,
                             GCancellable      *cancellable,
                             GError           **error)
{
  return conn->vtable->execute_many (conn, sql, param_rows, cancellable, error);
}

gboolean
msb_db_backend_execute_script (MsbDbBackendConn  *conn,
                               const char        *sql,
                               GCancellable      *cancellable,
                               GError           **error)
{
  return conn->vtable->execute_script (conn, sql, cancellable, error);
}

gboolean
msb_db_backend_control (MsbDbBackendConn  *conn,
                        MsbDbTxOp          op,
                        GError           **error)
{
  return conn->vtable->control (conn, op, error);
}

gboolean
msb_db_backend_in_transaction (MsbDbBackendConn *conn)
{
  return conn->vtable->in_transaction (conn);
}

void
msb_db_backend_interrupt (MsbDbBackendConn *conn)
{
  conn->vtable->interrupt (conn);
}

gboolean
msb_db_backend_checkpoint (MsbDbBackendConn     *conn,
                           MsbDbCheckpointMode   mode,
                           GTimeSpan             max_wait,
                           GError              **error)
{
  return conn->vtable->checkpoint (conn, mode, max_wait, error);
}

guint64
msb_db_backend_wal_size (MsbDbBackendConn *conn)
{
  return conn->vtable->wal_size (conn);
}

guint
msb_db_backend_wal_frames (MsbDbBackendConn *conn)
{
  return conn->vtable->wal_frames (conn);
}

MsbDbBackendCursor *
msb_db_backend_cursor_open (MsbDbBackendConn  *conn,
                            const char        *sql,
                            GVariant          *params,
                            GError           **error)
{
  if (conn->vtable->cursor_open == NULL)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "The %s backend cannot read a result in parts", conn->vtable->name);
      return NULL;
    }
  return conn->vtable->cursor_open (conn, sql, params, error);
}

MsbDbRows *
msb_db_backend_cursor_fetch (MsbDbBackendConn    *conn,
                             MsbDbBackendCursor  *cursor,
                             guint                max_rows,
                             GCancellable        *cancellable,
                             gboolean            *done,
                             GError             **error)
{
  return conn->vtable->cursor_fetch (conn, cursor, max_rows, cancellable, done, error);
}

void
msb_db_backend_cursor_close (MsbDbBackendConn   *conn,
                             MsbDbBackendCursor *cursor)
{
  if (cursor != NULL)
    conn->vtable->cursor_close (conn, cursor);
}

void
msb_db_backend_close (MsbDbBackendConn *conn)
{
  if (conn != NULL)
    conn->vtable->close (conn);
}

/* Brings a connection back to a clean state before it serves anyone else:
 * no transaction open (a callback may have failed half-way). Returns FALSE
 * if the connection could not be cleaned and must not be reused. */
gboolean
msb_db_backend_reset (MsbDbBackendConn *conn)
{
  g_autoptr(GError) error = NULL;

  if (!msb_db_backend_in_transaction (conn))
    return TRUE;
  if (!msb_db_backend_control (conn, MSB_DB_TX_ROLLBACK, &error))
    g_warning ("Could not roll back a connection left in a transaction: %s", error->message);
  return !msb_db_backend_in_transaction (conn);
}

/* Called once a process closed its last connection to @target without a
 * writer (read-only pools): lets the backend remove leftovers that only a
 * writer would have cleaned up. */
void
msb_db_backend_tidy (const MsbDbTarget *target)
{
  switch (target->kind)
    {
    case MSB_DB_TARGET_SQLITE_FILE:
      msb_db_sqlite_tidy (target->path);
      break;
    default:
      break;
    }
}

/* Optional operations ---------------------------------------------------- */

static gboolean
unsupported (MsbDbBackendConn  *conn,
             const char        *what,
             GError           **error)
{
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "%s is not supported by the %s backend", what, conn->vtable->name);
  return FALSE;
}

gboolean
msb_db_backend_vacuum (MsbDbBackendConn  *conn,
                       GCancellable      *cancellable,
                       GError           **error)
{
  if (conn->vtable->vacuum == NULL)
    return unsupported (conn, "VACUUM", error);
  return conn->vtable->vacuum (conn, cancellable, error);
}

gboolean
msb_db_backend_checkpoint_counted (MsbDbBackendConn     *conn,
                                   MsbDbCheckpointMode   mode,
                                   GTimeSpan             max_wait,
                                   gint                 *log_frames,
                                   gint                 *checkpointed_frames,
                                   GError              **error)
{
  if (conn->vtable->checkpoint_counted == NULL)
    return unsupported (conn, "A checkpoint", error);
  return conn->vtable->checkpoint_counted (conn, mode, max_wait, log_frames,
                                           checkpointed_frames, error);
}

gboolean
msb_db_backend_backup (MsbDbBackendConn     *conn,
                       const char           *path,
                       MsbDbBackupStepFunc   step,
                       gpointer              step_data,
                       GCancellable         *cancellable,
                       GError              **error)
{
  if (conn->vtable->backup == NULL)
    return unsupported (conn, "An online backup", error);
  return conn->vtable->backup (conn, path, step, step_data, cancellable, error);
}

gboolean
msb_db_backend_can_track_changes (MsbDbBackendConn *conn)
{
  return conn->vtable->track_changes != NULL && conn->vtable->take_changes != NULL;
}

/* On the thread that uses @conn. */
void
msb_db_backend_track_changes (MsbDbBackendConn *conn,
                              gboolean          track)
{
  if (msb_db_backend_can_track_changes (conn))
    conn->vtable->track_changes (conn, track);
}

gboolean
msb_db_backend_take_changes (MsbDbBackendConn  *conn,
                             GPtrArray        **tables)
{
  *tables = NULL;
  if (!msb_db_backend_can_track_changes (conn))
    return FALSE;
  return conn->vtable->take_changes (conn, tables);
}
