/* msb-db-demo-writer.c: the other processes of `msb-db demo`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One or more other processes (this tool, run as the hidden subcommand
 * `msb-db demo-writer DB SECONDS`) open their own MsbDbPools on the same file
 * and write at the same time, so the writers of two processes contend for
 * SQLite's one write lock. Each keeps count, min, max and sum of the ids it
 * got acknowledged and prints them in one line at the end:
 *
 *   demo-writer label=L items=N batches=N min_id=N max_id=N sum_id=N
 *               writes=N transactions=N busy_retries=N pool_timeouts=N errors=N
 *
 * This file holds both ends of that line: the process that prints it, and
 * the demo that starts the processes and reads it.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "msb-db-demo.h"

/* ---- the demo's side ------------------------------------------------------ */

guint64
demo_child_value (DemoChild  *child,
                  const char *key)
{
  const char *value = g_hash_table_lookup (child->report, key);

  return value != NULL ? g_ascii_strtoull (value, NULL, 10) : 0;
}

const char *
demo_child_label (DemoChild *child)
{
  const char *label = g_hash_table_lookup (child->report, "label");

  return label != NULL ? label : "?";
}

/* Reads the "demo-writer key=value ..." line the process printed. */
static gboolean
child_parse_report (DemoChild  *child,
                    const char *output)
{
  g_auto(GStrv) lines = g_strsplit (output != NULL ? output : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = NULL;

      if (!g_str_has_prefix (lines[i], "demo-writer "))
        continue;
      words = g_strsplit (lines[i], " ", -1);
      for (guint w = 1; words[w] != NULL; w++)
        {
          char *equal = strchr (words[w], '=');

          if (equal != NULL)
            g_hash_table_insert (child->report, g_strndup (words[w], equal - words[w]),
                                 g_strdup (equal + 1));
        }
      return g_hash_table_contains (child->report, "label");
    }
  return FALSE;
}

static void
demo_child_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  DemoChild *child = user_data;
  Demo *demo = child->demo;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  if (!g_subprocess_communicate_utf8_finish (child->process, result, &output, NULL, &error))
    child->failure = g_strdup (error->message);
  else if (!child_parse_report (child, output))
    child->failure = g_strdup ("it printed no demo-writer report");
  else if (!g_subprocess_get_if_exited (child->process) ||
           g_subprocess_get_exit_status (child->process) != 0)
    child->failure = g_strdup_printf ("it failed (wait status %d)",
                                      g_subprocess_get_status (child->process));

  demo->children_running--;
  demo_quit_when_done (demo);
}

void
demo_child_free (DemoChild *child)
{
  g_clear_object (&child->process);
  g_clear_pointer (&child->report, g_hash_table_unref);
  g_free (child->pid);
  g_free (child->failure);
  g_free (child);
}

/* This very program, to run it again as `demo-writer`. */
static char *
self_executable (void)
{
  char *path = g_file_read_link ("/proc/self/exe", NULL);

  if (path == NULL)
    path = g_find_program_in_path ("msb-db");
  return path;
}

/* Starts demo->processes processes; each tells the main loop when it has
 * exited (demo_quit_when_done()). */
gboolean
demo_spawn_children (Demo    *demo,
                     GError **error)
{
  g_autofree char *self = self_executable ();
  char seconds[G_ASCII_DTOSTR_BUF_SIZE];

  if (demo->processes > 0 && self == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "cannot find the msb-db executable to start a second process");
      return FALSE;
    }
  g_ascii_dtostr (seconds, sizeof seconds, demo->seconds);

  for (int i = 0; i < demo->processes; i++)
    {
      const char *argv[] = { self, "demo-writer", demo->path, seconds, NULL };
      DemoChild *child = g_new0 (DemoChild, 1);

      child->demo = demo;
      child->report = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_ptr_array_add (demo->children, child);
      child->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
      if (child->process == NULL)
        {
          child->failure = g_strdup_printf ("could not start: %s", (*error)->message);
          return FALSE;
        }
      child->pid = g_strdup (g_subprocess_get_identifier (child->process));
      demo->children_running++;
      g_subprocess_communicate_utf8_async (child->process, NULL, NULL, demo_child_done, child);
    }
  return TRUE;
}

/* Ctrl-C: the processes stop writing, close and report, as the demo does. */
void
demo_interrupt_children (Demo *demo)
{
  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);
      if (child->process != NULL)
        g_subprocess_send_signal (child->process, SIGINT);
    }
}

/* ---- the other process: `msb-db demo-writer DB SECONDS` ------------------ */

static volatile sig_atomic_t writer_interrupted = 0;

static void
on_writer_sigint (int signum)
{
  writer_interrupted = 1;
}

typedef struct {
  char    *label;
  guint64  items;
  guint64  batches;
  gint64   min_id;
  gint64   max_id;
  guint64  sum_id;
  guint64  writes;
  guint64  transactions;
  guint64  errors;
} WriterReport;

static void
writer_ack (WriterReport *report,
            gint64        id)
{
  report->min_id = report->items == 0 ? id : MIN (report->min_id, id);
  report->max_id = MAX (report->max_id, id);
  report->sum_id += (guint64) id;
  report->items++;
}

static void
writer_error (WriterReport *report,
              const GError *error)
{
  if (report->errors++ < DEMO_MAX_MESSAGES)
    msb_tool_print_error ("msb-db demo-writer", error);
}

/* One write or one transaction; both blocking. */
static void
writer_step (MsbDbPools   *pools,
             WriterReport *report,
             guint64       n)
{
  g_autoptr(GError) error = NULL;

  if (n % 2 == 0)
    {
      g_autoptr(MsbDbRows) rows = NULL;
      gint64 id;

      rows = msb_db_pools_write (pools, SQL_INSERT_ITEM, demo_item_params (report->label, 0, n),
                                 NULL, &error);
      if (!demo_returned_id (rows, &id, &error))
        {
          writer_error (report, error);
          return;
        }
      report->writes++;
      writer_ack (report, id);
    }
  else
    {
      g_autoptr(DemoBatch) batch = demo_batch_new (report->label, n);

      if (!msb_db_pools_transaction (pools, demo_batch_func, batch, NULL, &error))
        {
          writer_error (report, error);
          return;
        }
      report->transactions++;
      report->batches++;
      for (guint i = 0; i < DEMO_ITEMS_PER_BATCH; i++)
        writer_ack (report, batch->item_ids[i]);
    }
}

/* Hidden: started by `demo`. Writes DB for SECONDS through its own
 * MsbDbPools, then prints the one line the demo parses (see the top). */
int
msb_tool_demo_writer (int    argc,
                      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  g_autofree char *label = NULL;
  WriterReport report = { 0 };
  struct sigaction action = { 0 };
  double seconds;
  gint64 deadline;

  if (argc != 3 || !(seconds = g_ascii_strtod (argv[2], NULL), seconds > 0 && seconds <= 3600))
    return msb_tool_usage_error ("demo-writer", "expected DB SECONDS");

  action.sa_handler = on_writer_sigint;
  sigaction (SIGINT, &action, NULL);

  label = g_strdup_printf ("demo-writer-%d-%08x", (int) getpid (), g_random_int ());
  report.label = label;

  pools = msb_db_pools_open (argv[1], 1, MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                             MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND, NULL, &error);
  if (pools == NULL || !demo_create_schema (pools, &error))
    {
      msb_tool_print_error ("msb-db demo-writer", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  deadline = g_get_monotonic_time () + (gint64) (seconds * G_TIME_SPAN_SECOND);
  for (guint64 n = 0; !writer_interrupted && g_get_monotonic_time () < deadline; n++)
    writer_step (pools, &report, n);

  stats = msb_db_pools_get_stats (pools);
  if (!msb_db_pools_close (pools, NULL, &error))
    {
      writer_error (&report, error);
      g_clear_error (&error);
    }

  printf ("demo-writer label=%s items=%" G_GUINT64_FORMAT " batches=%" G_GUINT64_FORMAT
          " min_id=%" G_GINT64_FORMAT " max_id=%" G_GINT64_FORMAT " sum_id=%" G_GUINT64_FORMAT
          " writes=%" G_GUINT64_FORMAT " transactions=%" G_GUINT64_FORMAT
          " busy_retries=%" G_GUINT64_FORMAT " pool_timeouts=%" G_GUINT64_FORMAT
          " errors=%" G_GUINT64_FORMAT "\n",
          label, report.items, report.batches, report.min_id, report.max_id, report.sum_id,
          report.writes, report.transactions, stats->busy_retries, stats->pool_timeouts,
          report.errors);
  fflush (stdout);

  return report.errors == 0 ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
