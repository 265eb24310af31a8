/* msb-db-backup.c: a consistent copy of the database, taken while it is in use
 *
 * The copy is a snapshot job: on a read connection, inside one read
 * transaction, SQLite's backup API copies the pages in steps. The read
 * transaction pins one committed state, so the copy is of that state, and
 * writers (of this process and others) go on meanwhile: in WAL mode a
 * reader never holds them up.
 *
 * The copy is written to a temporary file beside the destination (created
 * owner-only by the job itself, so that a job that never runs leaves
 * nothing) and moved into place only once complete; on any failure the
 * temporary file goes.
 *
 * Progress is reported GIO's way (GFileProgressCallback, as
 * g_file_copy_async() does): in the caller's main context, after each
 * step, coalesced when the context is busy, and always before the call
 * completes. The blocking call runs the async one in a main context of
 * its own, so its progress callback runs on the calling thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "msb-db-backup.h"
#include "msb-db-connection-private.h"
#include "msb-db-error.h"
#include "msb-db-error-private.h"
#include "msb-db-pools-private.h"

typedef struct
{
  char *dest_path;
  MsbDbBackupFlags flags;
  GCancellable *cancellable;

  /* Progress, reported in `context`. */
  GMainContext *context;
  GFileProgressCallback progress;
  gpointer progress_data;
  GDestroyNotify progress_data_free;
  GMutex lock;
  goffset done_bytes;
  goffset total_bytes;
  gboolean progress_queued;
  gboolean progress_new;       /* a step since the last report */
  gboolean finished;           /* the caller heard the outcome: no more reports */

  GTask *task;                 /* the caller's */
} Backup;

static void
backup_clear (Backup *backup)
{
  g_assert (backup->progress_data_free == NULL);
  g_free (backup->dest_path);
  g_clear_object (&backup->cancellable);
  g_main_context_unref (backup->context);
  g_mutex_clear (&backup->lock);
  g_assert (backup->task == NULL);
}

static Backup *
backup_ref (Backup *backup)
{
  return g_atomic_rc_box_acquire (backup);
}

static void
backup_unref (Backup *backup)
{
  g_atomic_rc_box_release_full (backup, (GDestroyNotify) backup_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Backup, backup_unref)

/* Files --------------------------------------------------------------------- */

static gboolean
exists (const char *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0;
}

/* A -wal or -journal file beside the destination belongs to a database
 * that is open, or that crashed: SQLite would apply it to the copy. */
static gboolean
check_no_journal (const char  *dest_path,
                  GError     **error)
{
  static const char * const suffixes[] = { "-wal", "-journal" };

  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *journal = g_strconcat (dest_path, suffixes[i], NULL);
      g_autofree char *shown = NULL;

      if (!exists (journal))
        continue;
      shown = msb_db_error_excerpt (journal);
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "“%s” exists: the destination is a database in use, or one left by a "
                   "crash, and SQLite would mix that file into the backup; close it or "
                   "remove it first", shown);
      return FALSE;
    }
  return TRUE;
}

/* Before anything runs: the destination can be written to. */
static gboolean
check_destination (const char        *dest_path,
                   MsbDbBackupFlags   flags,
                   GError           **error)
{
  g_autofree char *dir = g_path_get_dirname (dest_path);
  g_autofree char *shown = msb_db_error_excerpt (dest_path);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "Could not write the backup “%s”: its directory does not exist", shown);
      return FALSE;
    }
  if (g_file_test (dest_path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "Could not write the backup “%s”: it is a directory", shown);
      return FALSE;
    }
  if (!(flags & MSB_DB_BACKUP_REPLACE) && exists (dest_path))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The backup destination “%s” exists: pass MSB_DB_BACKUP_REPLACE to "
                   "replace it", shown);
      return FALSE;
    }
  return check_no_journal (dest_path, error);
}

static void
remove_temporary (const char *path)
{
  g_autofree char *journal = g_strconcat (path, "-journal", NULL);

  g_unlink (journal);
  g_unlink (path);
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_autofree char *shown = msb_db_error_excerpt (path);

  g_set_error (error, MSB_DB_ERROR,
               saved_errno == ENOSPC || saved_errno == EDQUOT ? MSB_DB_ERROR_FAILED
                                                             : MSB_DB_ERROR_CANT_OPEN,
               "Could not %s “%s”: %s", what, shown, g_strerror (saved_errno));
  return FALSE;
}

/* The rename is durable once the directory is. */
static void
sync_directory (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Moves the complete copy into place. Without REPLACE a hard link does it
 * atomically, failing if the destination appeared meanwhile; a file system
 * without hard links falls back to a check and a rename. */
static gboolean
move_into_place (const char        *tmp_path,
                 const char        *dest_path,
                 MsbDbBackupFlags   flags,
                 GError           **error)
{
  if (!check_no_journal (dest_path, error))
    return FALSE;
  if (!(flags & MSB_DB_BACKUP_REPLACE))
    {
      if (link (tmp_path, dest_path) == 0)
        {
          g_unlink (tmp_path);
          sync_directory (dest_path);
          return TRUE;
        }
      if (errno == EEXIST)
        return check_destination (dest_path, flags, error);
      if (exists (dest_path))
        return check_destination (dest_path, flags, error);
    }
  if (g_rename (tmp_path, dest_path) != 0)
    return set_errno_error (error, errno, "move the backup into place at", dest_path);
  sync_directory (dest_path);
  return TRUE;
}

/* Progress ------------------------------------------------------------------ */

/* In the caller's context. */
static void
report_progress (Backup *backup)
{
  goffset done, total;
  gboolean report;

  g_mutex_lock (&backup->lock);
  report = backup->progress_new && !backup->finished;
  backup->progress_new = FALSE;
  backup->progress_queued = FALSE;
  done = backup->done_bytes;
  total = backup->total_bytes;
  g_mutex_unlock (&backup->lock);

  if (report && backup->progress != NULL)
    backup->progress (done, total, backup->progress_data);
}

static gboolean
report_progress_idle (gpointer data)
{
  report_progress (data);
  return G_SOURCE_REMOVE;
}

/* On the read worker, after each step. */
static void
on_step (guint64  pages_done,
         guint64  pages_total,
         guint    page_size,
         gpointer data)
{
  Backup *backup = data;
  gboolean schedule;

  g_mutex_lock (&backup->lock);
  backup->done_bytes = (goffset) (pages_done * page_size);
  backup->total_bytes = (goffset) (pages_total * page_size);
  backup->progress_new = TRUE;
  schedule = backup->progress != NULL && !backup->progress_queued && !backup->finished;
  if (schedule)
    backup->progress_queued = TRUE;
  g_mutex_unlock (&backup->lock);

  if (schedule)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, report_progress_idle, backup_ref (backup),
                             (GDestroyNotify) backup_unref);
      g_source_set_static_name (source, "[msb-db] backup progress");
      g_source_attach (source, backup->context);
    }
}

/* The snapshot body ---------------------------------------------------------- */

typedef struct
{
  Backup *backup;
  const char *tmp_path;
} Copy;

static gboolean
copy_on_connection (MsbDbBackendConn  *conn,
                    gpointer           data,
                    GError           **error)
{
  Copy *copy = data;

  return msb_db_backend_backup (conn, copy->tmp_path, on_step, copy->backup,
                                copy->backup->cancellable, error);
}

/* Runs on a read worker, inside the snapshot's read transaction; run
 * again from the start if the database was busy. */
static gboolean
backup_in_snapshot (MsbDbConnection  *connection,
                    gpointer          data,
                    GError          **error)
{
  Backup *backup = data;
  g_autofree char *tmp_path = g_strconcat (backup->dest_path, ".tmp-XXXXXX", NULL);
  Copy copy = { backup, tmp_path };
  int fd;

  /* Owner-only, like every file of the library; SQLite gives its journal
   * the same mode. */
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "create a temporary file for the backup", tmp_path);
  close (fd);

  if (!msb_db_connection_run (connection, copy_on_connection, &copy, error))
    {
      g_autofree char *shown = msb_db_error_excerpt (backup->dest_path);

      remove_temporary (tmp_path);
      g_prefix_error (error, "Could not write the backup “%s”: ", shown);
      return FALSE;
    }
  if (!move_into_place (tmp_path, backup->dest_path, backup->flags, error))
    {
      remove_temporary (tmp_path);
      return FALSE;
    }
  return TRUE;
}

/* Completing ----------------------------------------------------------------- */

/* In the caller's context: no more progress reports; @error (transfer
 * full) or success goes to the caller. */
static void
finish (Backup *backup,
        GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&backup->task);
  GDestroyNotify progress_data_free;

  g_mutex_lock (&backup->lock);
  backup->finished = TRUE;
  g_mutex_unlock (&backup->lock);

  progress_data_free = g_steal_pointer (&backup->progress_data_free);
  if (progress_data_free != NULL)
    progress_data_free (backup->progress_data);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* In the caller's context: the last progress report, then the outcome. */
static void
on_snapshot_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(Backup) backup = data;
  GError *error = NULL;

  if (msb_db_pools_snapshot_finish (MSB_DB_POOLS (source), result, &error))
    report_progress (backup);
  finish (backup, error);
}

/**
 * msb_db_pools_backup_async:
 * @self: a #MsbDbPools
 * @dest_path: the file to write the copy to
 * @flags: #MsbDbBackupFlags
 * @cancellable: (nullable): a #GCancellable; cancelling stops the copy
 *   between two steps and removes what was written
 * @progress_callback: (nullable) (scope notified) (closure progress_callback_data)
 *   (destroy progress_callback_data_free): called with the bytes copied so
 *   far and the size of the database, in the thread-default main context
 *   of the caller
 * @progress_callback_data: data for @progress_callback
 * @progress_callback_data_free: (nullable): frees @progress_callback_data
 *   once no more progress will be reported (before @callback runs)
 * @callback: (scope async): called once the copy is in place, or failed
 * @user_data: (closure callback): data for @callback
 *
 * Copies the database into @dest_path while it stays in use, as
 * [method@MsbDb.Pools.backup] does. Finish with
 * [method@MsbDb.Pools.backup_finish].
 *
 * Progress is reported as [method@Gio.File.copy_async] does, in the
 * caller's thread-default main context: after each step of the copy (4 MiB
 * with the default page size), at most once per iteration of the context
 * when it is busy, with the latest numbers, and the last report (all bytes
 * copied) before @callback.
 */
void
msb_db_pools_backup_async (MsbDbPools            *self,
                           const char            *dest_path,
                           MsbDbBackupFlags       flags,
                           GCancellable          *cancellable,
                           GFileProgressCallback  progress_callback,
                           gpointer               progress_callback_data,
                           GDestroyNotify         progress_callback_data_free,
                           GAsyncReadyCallback    callback,
                           gpointer               user_data)
{
  Backup *backup;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (dest_path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  backup = g_atomic_rc_box_new0 (Backup);
  backup->dest_path = g_strdup (dest_path);
  backup->flags = flags;
  backup->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  backup->context = g_main_context_ref_thread_default ();
  backup->progress = progress_callback;
  backup->progress_data = progress_callback_data;
  backup->progress_data_free = progress_callback_data_free;
  g_mutex_init (&backup->lock);
  backup->task = msb_db_pools_new_task (self, cancellable, callback, user_data,
                                        msb_db_pools_backup_async, "[msb-db] backup");

  if (!msb_db_pools_check_usable (self, &error) ||
      !check_destination (dest_path, flags, &error))
    {
      /* GTask reports it in the caller's context, from an idle. */
      finish (backup, g_steal_pointer (&error));
      backup_unref (backup);
      return;
    }

  msb_db_pools_snapshot_async (self, backup_in_snapshot, backup_ref (backup),
                               (GDestroyNotify) backup_unref, cancellable,
                               on_snapshot_done, backup);
}

/**
 * msb_db_pools_backup_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.backup_async].
 *
 * Returns: %TRUE once the complete copy is in place
 */
gboolean
msb_db_pools_backup_finish (MsbDbPools    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_backup_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  GAsyncResult **stored = data;

  *stored = g_object_ref (result);
}

/**
 * msb_db_pools_backup:
 * @self: a #MsbDbPools
 * @dest_path: the file to write the copy to
 * @flags: #MsbDbBackupFlags
 * @cancellable: (nullable): a #GCancellable; cancelling stops the copy
 *   between two steps and removes what was written
 * @progress_callback: (nullable) (scope call) (closure progress_callback_data):
 *   called on the calling thread with the bytes copied so far and the size
 *   of the database
 * @progress_callback_data: data for @progress_callback
 * @error: return location for a #GError
 *
 * Writes a consistent copy of the database to @dest_path while readers
 * and writers keep running, in this process and in others.
 *
 * The copy is made with SQLite's online backup API, in steps, on a read
 * connection inside one read transaction: it is the database exactly as it
 * was committed when the copy started, and since a reader never blocks a
 * writer in WAL mode, writes keep completing while it runs, however large
 * the file. (Until it ends, the write-ahead log cannot be checkpointed past
 * that snapshot, so the `-wal` file grows with the writes made meanwhile.)
 *
 * The result is one self-contained database file (no `-wal` file goes with
 * it) that [func@MsbDb.Pools.open] opens. It is written to a temporary file
 * in the same directory, readable and writable by its owner only, and
 * renamed to @dest_path only when complete and synced to disk: @dest_path
 * never holds a partial copy. On failure (a full disk, cancellation, the
 * pools closing) the temporary file is removed and @dest_path is left as
 * it was.
 *
 * An existing @dest_path is refused with %MSB_DB_ERROR_INVALID_ARGUMENT
 * unless @flags has %MSB_DB_BACKUP_REPLACE; a `-wal` or `-journal` file
 * beside it (a database in use, or a crashed one, that SQLite would mix
 * into the copy) is refused in any case.
 *
 * @progress_callback is called as [method@Gio.File.copy] calls its own,
 * here on the calling thread, after each step of the copy (4 MiB with the
 * default page size) and once at the end. Works on read-only pools too.
 *
 * Returns: %TRUE once the complete copy is in place
 */
gboolean
msb_db_pools_backup (MsbDbPools             *self,
                     const char             *dest_path,
                     MsbDbBackupFlags        flags,
                     GCancellable           *cancellable,
                     GFileProgressCallback   progress_callback,
                     gpointer                progress_callback_data,
                     GError                **error)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (dest_path != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!msb_db_pools_check_may_block (self, "msb_db_pools_backup", error))
    return FALSE;

  /* The async call in a context of our own: progress reports run here. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  msb_db_pools_backup_async (self, dest_path, flags, cancellable, progress_callback,
                             progress_callback_data, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  return msb_db_pools_backup_finish (self, result, error);
}
