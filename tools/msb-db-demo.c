/* msb-db-demo.c: `msb-db demo`: the options, the Demo record and the main flow
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The demo puts one MsbDbPools under the load it is made for, on a fresh
 * temporary database, and then proves that nothing was lost:
 *
 *  1. open the pools and create the tables (msb-db-demo-data.c);
 *  2. for --seconds, run reader and writer threads and async calls from the
 *     main loop (msb-db-demo-workload.c), while other processes write the
 *     same file through their own pools (msb-db-demo-writer.c);
 *  3. close the pools, open the file again read-only, and compare the rows on
 *     disk with every acknowledged id (msb-db-demo-verify.c);
 *  4. print what happened (msb-db-demo-report.c).
 *
 * The exit status is 0 only when no call failed and the verification passed.
 */
#include <signal.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "msb-db-demo.h"

/* ---- the Demo record, shared by every thread ------------------------------ */

gboolean
demo_should_stop (Demo *demo)
{
  return g_atomic_int_get (&demo->stop) || g_get_monotonic_time () >= demo->deadline_us;
}

/* A call failed: counted, and its message kept for the summary. */
void
demo_error (Demo         *demo,
            const char   *what,
            const GError *error)
{
  demo_count (&demo->counters.errors);
  g_mutex_lock (&demo->lock);
  if (demo->messages->len < DEMO_MAX_MESSAGES)
    g_ptr_array_add (demo->messages, g_strdup_printf ("%s: %s", what, error->message));
  g_mutex_unlock (&demo->lock);
}

/* A check failed (the caller counts it): the message is kept for the summary. */
void
demo_problem (Demo       *demo,
              const char *message)
{
  g_mutex_lock (&demo->lock);
  if (demo->messages->len < DEMO_MAX_MESSAGES)
    g_ptr_array_add (demo->messages, g_strdup (message));
  g_mutex_unlock (&demo->lock);
}

/* Records acknowledged ids (an item, or a batch and its items). */
void
demo_ack (Demo         *demo,
          gint64        batch_id,
          const gint64 *item_ids,
          guint         n_items)
{
  g_mutex_lock (&demo->lock);
  if (demo->cluster != NULL)
    demo_cluster_note_ack (demo);
  if (batch_id > 0)
    g_array_append_val (demo->acked_batches, batch_id);
  g_array_append_vals (demo->acked_items, item_ids, n_items);
  for (guint i = 0; i < n_items; i++)
    demo->last_acked_item = MAX (demo->last_acked_item, item_ids[i]);
  g_mutex_unlock (&demo->lock);
}

gint64
demo_last_acked_item (Demo *demo)
{
  gint64 id;

  g_mutex_lock (&demo->lock);
  id = demo->last_acked_item;
  g_mutex_unlock (&demo->lock);
  return id;
}

guint64
demo_next_sequence (Demo *demo)
{
  return demo_count (&demo->counters.sequence);
}

/* Main thread: ends the main loop once every thread, async call and other
 * process has finished. */
void
demo_quit_when_done (Demo *demo)
{
  if (demo->threads_running == 0 && demo->async_in_flight == 0 && demo->children_running == 0)
    g_main_loop_quit (demo->loop);
}

static Demo *
demo_new (void)
{
  Demo *demo = g_new0 (Demo, 1);

  demo->seconds = DEMO_DEFAULT_SECONDS;
  demo->readers = DEMO_DEFAULT_READERS;
  demo->writers = DEMO_DEFAULT_WRITERS;
  demo->processes = DEMO_DEFAULT_PROCESSES;
  g_mutex_init (&demo->lock);
  demo->messages = g_ptr_array_new_with_free_func (g_free);
  demo->acked_items = g_array_new (FALSE, FALSE, sizeof (gint64));
  demo->acked_batches = g_array_new (FALSE, FALSE, sizeof (gint64));
  demo->threads = g_ptr_array_new ();
  demo->children = g_ptr_array_new_with_free_func ((GDestroyNotify) demo_child_free);
  demo->loop = g_main_loop_new (NULL, FALSE);
  demo->label = g_strdup_printf ("demo-%d-%08x", (int) getpid (), g_random_int ());
  demo->tty = isatty (STDOUT_FILENO);
  return demo;
}

static void
demo_free (Demo *demo)
{
  g_clear_object (&demo->pools);
  g_clear_pointer (&demo->children, g_ptr_array_unref);
  g_clear_pointer (&demo->threads, g_ptr_array_unref);
  g_clear_pointer (&demo->messages, g_ptr_array_unref);
  g_clear_pointer (&demo->acked_items, g_array_unref);
  g_clear_pointer (&demo->acked_batches, g_array_unref);
  g_clear_pointer (&demo->loop, g_main_loop_unref);
  g_mutex_clear (&demo->lock);
  local_cluster_stop (demo->cluster);
  g_free (demo->killed_node);
  g_free (demo->db);
  g_free (demo->tmp_dir);
  g_free (demo->path);
  g_free (demo->label);
  g_free (demo);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Demo, demo_free)

/* ---- setup and teardown ---------------------------------------------------- */

static void
demo_remove_tmp_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_unlink (file);
    }
  g_rmdir (dir);
}

/* The database (--db, or demo.db in a new temporary directory), its pools
 * and its tables. */
static gboolean
demo_prepare (Demo    *demo,
              GError **error)
{
  if (demo->cluster_mode)
    {
      demo->cluster = demo_cluster_start (error);
      if (demo->cluster == NULL)
        return FALSE;
      demo->path = local_cluster_target (demo->cluster, "demo");
    }
  else if (demo->db != NULL)
    demo->path = g_strdup (demo->db);
  else
    {
      demo->tmp_dir = g_dir_make_tmp ("msb-db-demo-XXXXXX", error);
      if (demo->tmp_dir == NULL)
        return FALSE;
      demo->path = g_build_filename (demo->tmp_dir, "demo.db", NULL);
    }

  demo->pools = msb_db_pools_open (demo->path, MSB_DB_DEFAULT_MAX_READ_CONNECTIONS,
                                   MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                   MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                   NULL, error);
  return demo->pools != NULL && demo_create_schema (demo->pools, error);
}

/* ---- the run --------------------------------------------------------------- */

static gboolean
demo_progress_cb (gpointer data)
{
  demo_print_progress (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
demo_sigint_cb (gpointer data)
{
  Demo *demo = data;

  g_atomic_int_set (&demo->stop, TRUE);
  demo->sigint_id = 0;
  demo_interrupt_children (demo);
  fprintf (stderr, "\nmsb-db demo: interrupted, stopping and verifying\n");
  return G_SOURCE_REMOVE;  /* a second Ctrl-C kills */
}

/* Runs the workers until the time is up and everyone has finished. */
static gboolean
demo_run (Demo    *demo,
          GError **error)
{
  guint progress_id;

  demo->start_us = g_get_monotonic_time ();
  demo->deadline_us = demo->start_us + (gint64) (demo->seconds * G_TIME_SPAN_SECOND);

  if (!demo_spawn_children (demo, error))
    {
      g_atomic_int_set (&demo->stop, TRUE);
      /* still wait for the processes already started */
    }
  demo_start_workload (demo);

  if (demo->cluster != NULL)
    demo_cluster_schedule_kill (demo);
  progress_id = g_timeout_add (demo->tty ? 200 : 1000, demo_progress_cb, demo);
  demo->sigint_id = g_unix_signal_add (SIGINT, demo_sigint_cb, demo);
  if (demo->threads_running > 0 || demo->async_in_flight > 0 || demo->children_running > 0)
    g_main_loop_run (demo->loop);
  g_source_remove (progress_id);
  if (demo->sigint_id != 0)
    g_source_remove (demo->sigint_id);
  demo->end_us = g_get_monotonic_time ();

  if (demo->tty)
    {
      demo_print_progress (demo);
      printf ("\n");
    }
  demo_join_threads (demo);

  return error == NULL || *error == NULL;
}

/* ---- the command ----------------------------------------------------------- */

static const char *
validate_options (Demo *demo)
{
  if (!(demo->seconds > 0 && demo->seconds <= 3600))
    return "--seconds takes more than 0 and at most 3600 seconds";
  if (demo->readers < 0 || demo->readers > 64)
    return "--readers takes 0 to 64 threads";
  if (demo->writers < 0 || demo->writers > 64)
    return "--writers takes 0 to 64 threads";
  if (demo->processes < 0 || demo->processes > 16)
    return "--processes takes 0 to 16 processes";
  if (demo->cluster_mode && demo->db != NULL)
    return "--cluster makes its own database: it takes no --db";
  return NULL;
}

/* The options into @demo: MSB_TOOL_EXIT_OK, or the status of a usage error
 * (already printed). */
static int
demo_parse_options (Demo  *demo,
                    char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &demo->seconds,
      "Run for this long (default: 3)", "N" },
    { "readers", 'r', 0, G_OPTION_ARG_INT, &demo->readers,
      "Reader threads (default: 4)", "N" },
    { "writers", 'w', 0, G_OPTION_ARG_INT, &demo->writers,
      "Writer threads (default: 2)", "N" },
    { "processes", 'p', 0, G_OPTION_ARG_INT, &demo->processes,
      "Other processes writing the same file (default: 1)", "N" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &demo->db,
      "Use this database (its demo_* tables) instead of a temporary one", "PATH" },
    { "keep", 'k', 0, G_OPTION_ARG_NONE, &demo->keep,
      "Keep the temporary database", NULL },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &demo->stats,
      "Print the MsbDbStats counters on stderr afterwards", NULL },
    { "cluster", 0, 0, G_OPTION_ARG_NONE, &demo->cluster_mode,
      "Run on three local dqlite nodes, and kill the leader half-way", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  const char *invalid;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Show MsbDb at work: reader and writer threads, async calls from the main\n"
    "loop, and another process writing the same file, for a few seconds; then\n"
    "verify that every acknowledged write is on disk. Needs no setup: the\n"
    "database is made in a temporary directory, removed afterwards.");
  g_option_context_set_description (context,
    "With --cluster, the database is a dqlite database on three local nodes\n"
    "(`msb-db node` processes in a temporary directory), and the leader is\n"
    "killed with SIGKILL half-way: the report adds how long callers waited.\n"
    "The exit status is 0 only when no call failed and the verification passed.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("demo", error->message);
  if (g_strv_length (args) != 1)
    return msb_tool_usage_error ("demo", "takes no arguments");
  if ((invalid = validate_options (demo)) != NULL)
    return msb_tool_usage_error ("demo", invalid);
  return MSB_TOOL_EXIT_OK;
}

/* After the run: closes the pools, verifies the file and prints the
 * summary. TRUE when no call failed (in any process) and the verification
 * passed. */
static gboolean
demo_finish (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  DemoVerify verify = { 0 };
  gboolean verified;
  guint64 errors;
  gboolean ok;

  stats = msb_db_pools_get_stats (demo->pools);
  if (!msb_db_pools_close (demo->pools, NULL, &error))
    {
      demo_error (demo, "close", error);
      g_clear_error (&error);
    }
  g_clear_object (&demo->pools);

  verified = demo_verify (demo, &verify, &error);
  if (!verified)
    demo_error (demo, "verification", error);

  errors = demo_counter_get (&demo->counters.errors);
  for (guint i = 0; i < demo->children->len; i++)
    errors += demo_child_value (g_ptr_array_index (demo->children, i), "errors");
  ok = errors == 0 && verified && verify.ok;

  demo_print_summary (demo, stats, verified ? &verify : NULL, errors, ok);
  if (demo->stats)
    msb_tool_print_stats (stats);
  g_free (verify.quick_check);
  return ok;
}

int
msb_tool_demo (int    argc,
               char **argv)
{
  g_autoptr(Demo) demo = demo_new ();
  g_autoptr(GError) error = NULL;
  gboolean ok;
  int status;

  if ((status = demo_parse_options (demo, argv)) != MSB_TOOL_EXIT_OK)
    return status;

  if (!demo_prepare (demo, &error))
    {
      msb_tool_print_error ("msb-db demo", error);
      if (demo->tmp_dir != NULL && !demo->keep)
        {
          g_clear_object (&demo->pools);
          demo_remove_tmp_dir (demo->tmp_dir);
        }
      return MSB_TOOL_EXIT_FAILURE;
    }

  demo_print_banner (demo);
  if (!demo_run (demo, &error))
    {
      msb_tool_print_error ("msb-db demo", error);
      demo_count (&demo->counters.errors);
      g_clear_error (&error);
    }
  ok = demo_finish (demo);

  if (demo->tmp_dir != NULL)
    {
      if (demo->keep)
        printf ("kept: %s\n", demo->path);
      else
        demo_remove_tmp_dir (demo->tmp_dir);
    }
  return ok ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
