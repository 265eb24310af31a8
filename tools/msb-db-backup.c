/* msb-db-backup.c: `msb-db backup TARGET DEST`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Opens TARGET read-only (never created, never written) and copies it with
 * msb_db_pools_backup_async(), so that Ctrl-C (SIGINT, SIGTERM) cancels the
 * copy cleanly from the main loop: nothing is left at DEST then.
 */
#include <unistd.h>

#include <glib-unix.h>

#include "msb-db-tool.h"

#define BAR_WIDTH 30

typedef struct {
  gboolean   replace;
  double     busy_timeout;
} BackupOptions;

typedef struct {
  GMainLoop    *loop;
  GCancellable *cancellable;
  gboolean      tty;
  gboolean      drawn;        /* a progress line is on the terminal */
  int           last_tenth;   /* plain lines: the last 10 % step printed */
  goffset       total;
  gboolean      ok;
  GError       *error;
} Backup;


/* A bar updated in place on a terminal; elsewhere a plain line every 10 %. */
static void
on_progress (goffset  current,
             goffset  total,
             gpointer data)
{
  Backup *backup = data;
  double fraction = total > 0 ? (double) current / total : 1.0;

  backup->total = total;
  if (backup->tty)
    {
      int filled = (int) (fraction * BAR_WIDTH);

      fprintf (stderr, "\r[");
      for (int i = 0; i < BAR_WIDTH; i++)
        fputc (i < filled ? '#' : '.', stderr);
      g_autofree char *done = msb_tool_format_size (current);
      g_autofree char *all = msb_tool_format_size (total);

      fprintf (stderr, "] %3d%%  %s of %s   ", (int) (fraction * 100), done, all);
      backup->drawn = TRUE;
    }
  else if ((int) (fraction * 10) > backup->last_tenth)
    {
      g_autofree char *done = msb_tool_format_size (current);
      g_autofree char *all = msb_tool_format_size (total);

      backup->last_tenth = (int) (fraction * 10);
      fprintf (stderr, "backup: %d%% (%s of %s)\n", backup->last_tenth * 10, done, all);
    }
  fflush (stderr);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Backup *backup = data;

  backup->ok = msb_db_pools_backup_finish (MSB_DB_POOLS (source), result, &backup->error);
  g_main_loop_quit (backup->loop);
}

static gboolean
on_signal (gpointer data)
{
  Backup *backup = data;

  g_cancellable_cancel (backup->cancellable);
  return G_SOURCE_CONTINUE;
}

int
msb_tool_backup (int    argc,
                 char **argv)
{
  BackupOptions options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  const GOptionEntry entries[] = {
    { "replace", 0, 0, G_OPTION_ARG_NONE, &options.replace,
      "Replace DEST if it exists (in one step, once the copy is complete)", NULL },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET DEST");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Backup backup = { loop, cancellable, isatty (STDERR_FILENO), FALSE, 0, 0, FALSE, NULL };
  guint sigint, sigterm;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Write a consistent copy of TARGET to DEST while other processes keep reading\n"
    "and writing it: the database as committed when the copy began, in one\n"
    "self-contained file (no -wal), readable by its owner only. The copy goes to a\n"
    "temporary file beside DEST, renamed to DEST only when complete.");
  g_option_context_set_description (context,
    "Progress goes to standard error: a bar on a terminal, else a line every 10 %.\n"
    "Ctrl-C stops the copy and leaves nothing behind. An existing DEST is refused\n"
    "without --replace. The exit status is 0 once DEST holds the copy, 1 when the\n"
    "copy failed (DEST is then untouched), 2 for a bad command line.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("backup", error->message);
  if (g_strv_length (args) != 3)
    return msb_tool_usage_error ("backup", "expected TARGET and DEST");
  if (!msb_tool_busy_timeout_ok (options.busy_timeout))
    return msb_tool_usage_error ("backup", "--busy-timeout takes 0 to 86400 seconds");

  pools = msb_tool_open (args[1], MSB_TOOL_OPEN_READ_ONLY, FALSE, options.busy_timeout, &error);
  if (pools == NULL)
    {
      msb_tool_print_error ("msb-db backup", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  sigint = g_unix_signal_add (SIGINT, on_signal, &backup);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &backup);
  msb_db_pools_backup_async (pools, args[2],
                             options.replace ? MSB_DB_BACKUP_REPLACE : MSB_DB_BACKUP_NONE,
                             cancellable, on_progress, &backup, NULL, on_done, &backup);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (backup.drawn)
    fputc ('\n', stderr);

  if (!backup.ok)
    {
      if (g_error_matches (backup.error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT))
        fprintf (stderr, "msb-db backup: %s exists (--replace replaces it)\n", args[2]);
      else
        msb_tool_print_error ("msb-db backup", backup.error);
      g_clear_error (&backup.error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  {
    g_autofree char *size = msb_tool_format_size (backup.total);

    printf ("%s: copied to %s (%s)\n", args[1], args[2], size);
  }
  return msb_db_pools_close (pools, NULL, NULL) ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
