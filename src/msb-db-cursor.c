/* msb-db-cursor.c: a large result, read in parts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-backend.h"
#include "msb-db-cursor.h"
#include "msb-db-error.h"
#include "msb-db-pools-private.h"

/**
 * MsbDbCursor:
 *
 * A result read a part at a time, so that memory is bounded by a part,
 * not by the whole result: a `SELECT` of a million rows can be read a
 * thousand rows at a time.
 *
 * A cursor is opened with [method@MsbDb.Pools.open_cursor]. It holds one
 * read connection of the pools, inside one read transaction, until it is
 * closed (or finalized): every part comes from the same snapshot of the
 * database. Close it as soon as you are done — while it is open it takes
 * a connection from the read pool, and keeps the writer from restarting
 * the write-ahead log.
 *
 * Parts are read with [method@MsbDb.Cursor.fetch] on the calling thread,
 * or with [method@MsbDb.Cursor.fetch_async] on a worker thread. One part
 * is read at a time; a cursor may be used from any thread, but not from
 * two at once.
 */

struct _MsbDbCursor
{
  GObject parent_instance;

  GMutex lock;                 /* one fetch at a time */
  MsbDbReader *reader;         /* a reference */
  MsbDbBackendConn *conn;      /* lent by the reader; NULL once closed */
  MsbDbBackendCursor *statement;
  gboolean done;
};

G_DEFINE_FINAL_TYPE (MsbDbCursor, msb_db_cursor, G_TYPE_OBJECT)

/* Lock held. Ends the read transaction and gives the connection back. */
static void
close_locked (MsbDbCursor *self)
{
  if (self->conn == NULL)
    return;
  msb_db_backend_cursor_close (self->conn, g_steal_pointer (&self->statement));
  msb_db_backend_control (self->conn, MSB_DB_TX_ROLLBACK, NULL);
  msb_db_reader_give_back (self->reader, g_steal_pointer (&self->conn));
  self->done = TRUE;
}

static void
msb_db_cursor_finalize (GObject *object)
{
  MsbDbCursor *self = MSB_DB_CURSOR (object);

  close_locked (self);
  g_clear_pointer (&self->reader, msb_db_reader_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (msb_db_cursor_parent_class)->finalize (object);
}

static void
msb_db_cursor_class_init (MsbDbCursorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = msb_db_cursor_finalize;
}

static void
msb_db_cursor_init (MsbDbCursor *self)
{
  g_mutex_init (&self->lock);
}

/**
 * msb_db_pools_open_cursor:
 * @pools: a #MsbDbPools
 * @sql: one SQL statement that only reads
 * @params: (nullable): parameters, as for [method@MsbDb.Pools.read]; a
 *   floating reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens a cursor over the result of @sql: it takes a read connection
 * (waiting at most #MsbDbPools:connect-timeout for one), opens a read
 * transaction and starts the statement. Read the rows with
 * [method@MsbDb.Cursor.fetch], and close it with
 * [method@MsbDb.Cursor.close]. A statement that writes fails with
 * %MSB_DB_ERROR_READ_ONLY.
 *
 * Returns: (transfer full): the cursor, or %NULL with @error set
 */
MsbDbCursor *
msb_db_pools_open_cursor (MsbDbPools    *pools,
                          const char    *sql,
                          GVariant      *params,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GVariant) owned_params = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(MsbDbCursor) self = NULL;
  MsbDbReader *reader;

  g_return_val_if_fail (MSB_DB_IS_POOLS (pools), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!msb_db_pools_check_readable (pools, "msb_db_pools_open_cursor", error))
    return NULL;

  reader = msb_db_pools_get_reader (pools);
  self = g_object_new (MSB_DB_TYPE_CURSOR, NULL);
  self->reader = msb_db_reader_ref (reader);
  self->conn = msb_db_reader_lend (reader, cancellable,
                                   msb_db_pools_get_connect_timeout (pools), error);
  if (self->conn == NULL)
    return NULL;
  if (!msb_db_backend_control (self->conn, MSB_DB_TX_BEGIN, error))
    return NULL;
  self->statement = msb_db_backend_cursor_open (self->conn, sql, owned_params, error);
  if (self->statement == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * msb_db_cursor_fetch:
 * @self: a #MsbDbCursor
 * @max_rows: how many rows to read at most, at least 1
 * @cancellable: (nullable): a #GCancellable; cancelling interrupts the
 *   statement
 * @error: return location for a #GError
 *
 * Reads the next rows of the result, at most @max_rows, on the calling
 * thread. A result with fewer rows than asked for, or none, means the end
 * (see also [method@MsbDb.Cursor.is_done]); fetching after the end gives
 * an empty result.
 *
 * Returns: (transfer full): the next rows, or %NULL with @error set (the
 *   cursor is then done)
 */
MsbDbRows *
msb_db_cursor_fetch (MsbDbCursor   *self,
                     guint          max_rows,
                     GCancellable  *cancellable,
                     GError       **error)
{
  MsbDbRows *rows = NULL;
  gboolean done = FALSE;

  g_return_val_if_fail (MSB_DB_IS_CURSOR (self), NULL);
  g_return_val_if_fail (max_rows > 0, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->lock);
  if (self->conn == NULL)
    g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED, "The cursor is closed");
  else if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      rows = msb_db_backend_cursor_fetch (self->conn, self->statement, max_rows, cancellable,
                                          &done, error);
      self->done = done || rows == NULL;
    }
  g_mutex_unlock (&self->lock);
  return rows;
}

static void
fetch_in_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  GError *error = NULL;
  MsbDbRows *rows = msb_db_cursor_fetch (source_object, GPOINTER_TO_UINT (task_data),
                                         cancellable, &error);

  if (rows != NULL)
    g_task_return_pointer (task, rows, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * msb_db_cursor_fetch_async:
 * @self: a #MsbDbCursor
 * @max_rows: how many rows to read at most, at least 1
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the rows
 * @user_data: (closure callback): data for @callback
 *
 * Reads the next rows as [method@MsbDb.Cursor.fetch] does, in a worker
 * thread. Finish with [method@MsbDb.Cursor.fetch_finish].
 */
void
msb_db_cursor_fetch_async (MsbDbCursor         *self,
                           guint                max_rows,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MSB_DB_IS_CURSOR (self));
  g_return_if_fail (max_rows > 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, msb_db_cursor_fetch_async);
  g_task_set_name (task, "[msb-db] cursor fetch");
  g_task_set_task_data (task, GUINT_TO_POINTER (max_rows), NULL);
  g_task_run_in_thread (task, fetch_in_thread);
}

/**
 * msb_db_cursor_fetch_finish:
 * @self: a #MsbDbCursor
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Cursor.fetch_async].
 *
 * Returns: (transfer full): the next rows, or %NULL with @error set
 */
MsbDbRows *
msb_db_cursor_fetch_finish (MsbDbCursor   *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_CURSOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_cursor_fetch_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * msb_db_cursor_is_done:
 * @self: a #MsbDbCursor
 *
 * Tells whether every row was read (or the cursor failed or was closed).
 *
 * Returns: %TRUE once there is nothing more to fetch
 */
gboolean
msb_db_cursor_is_done (MsbDbCursor *self)
{
  gboolean done;

  g_return_val_if_fail (MSB_DB_IS_CURSOR (self), TRUE);

  g_mutex_lock (&self->lock);
  done = self->done;
  g_mutex_unlock (&self->lock);
  return done;
}

/**
 * msb_db_cursor_close:
 * @self: a #MsbDbCursor
 *
 * Ends the cursor's read transaction and gives its connection back to the
 * read pool. Fetching afterwards fails with %MSB_DB_ERROR_CLOSED. Closing
 * twice is harmless; dropping the last reference closes too.
 */
void
msb_db_cursor_close (MsbDbCursor *self)
{
  g_return_if_fail (MSB_DB_IS_CURSOR (self));

  g_mutex_lock (&self->lock);
  close_locked (self);
  g_mutex_unlock (&self->lock);
}
