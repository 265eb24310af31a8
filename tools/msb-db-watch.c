/* msb-db-watch.c: `msb-db watch TARGET [TABLE...]`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Opens TARGET read-only and prints one line per MsbDbPools::changed
 * emission until SIGINT or SIGTERM. The tool itself never writes, so every
 * change comes from another process, and such a change cannot be told
 * apart by table: each table is printed (or each TABLE asked for).
 */
#include <glib-unix.h>

#include <json-glib/json-glib.h>

#include "msb-db-tool.h"

typedef struct {
  gboolean json;
  double   interval_ms;
  double   busy_timeout;
} WatchOptions;

static void
print_json_line (const char *time,
                 const char *table)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "time");
  json_builder_add_string_value (builder, time);
  json_builder_set_member_name (builder, "table");
  json_builder_add_string_value (builder, table);
  json_builder_end_object (builder);
  msb_tool_print_json (builder);
}

static void
on_changed (MsbDbPools *pools,
            const char *table,
            gpointer    data)
{
  const WatchOptions *options = data;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *time = NULL;

  if (options->json)
    {
      time = g_date_time_format_iso8601 (now);
      print_json_line (time, table);
    }
  else
    {
      time = g_date_time_format (now, "%H:%M:%S.%f");
      /* microseconds to milliseconds */
      time[12] = '\0';
      printf ("%s  %s\n", time, table);
    }
  fflush (stdout);
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

int
msb_tool_watch (int    argc,
                char **argv)
{
  WatchOptions options = {
    .interval_ms = MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC,
    .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS,
  };
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "Print one JSON object per line: {\"time\": ISO 8601, \"table\": NAME}", NULL },
    { "interval", 0, 0, G_OPTION_ARG_DOUBLE, &options.interval_ms,
      "Look for changes this often, in milliseconds (default: 100)", "MS" },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET [TABLE…]");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint n_args;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Print a line for each change committed to TARGET by other processes, until\n"
    "interrupted (Ctrl-C): the time and the table. With TABLEs, only theirs.");
  g_option_context_set_description (context,
    "Which table another process changed cannot be told: a change is printed once\n"
    "for every table of the database (or every TABLE given). Changes committed\n"
    "close together are printed once. TARGET is opened read-only: never created,\n"
    "never written. The exit status is 0 when interrupted, 1 when TARGET cannot be\n"
    "opened, 2 for a bad command line.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("watch", error->message);
  n_args = g_strv_length (args);
  if (n_args < 2)
    return msb_tool_usage_error ("watch", "expected TARGET");
  if (!msb_tool_busy_timeout_ok (options.busy_timeout))
    return msb_tool_usage_error ("watch", "--busy-timeout takes 0 to 86400 seconds");
  if (!(options.interval_ms >= 1 && options.interval_ms <= 3600 * 1000))
    return msb_tool_usage_error ("watch", "--interval takes 1 to 3600000 milliseconds");

  pools = msb_tool_open (args[1], MSB_TOOL_OPEN_READ_ONLY, FALSE, options.busy_timeout, &error);
  if (pools == NULL)
    {
      msb_tool_print_error ("msb-db watch", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  msb_db_pools_set_change_poll_interval (pools, (GTimeSpan) (options.interval_ms * 1000));

  if (n_args == 2)
    g_signal_connect (pools, "changed", G_CALLBACK (on_changed), &options);
  for (guint i = 2; i < n_args; i++)
    {
      g_autofree char *detailed = g_strconcat ("changed::", args[i], NULL);

      g_signal_connect (pools, detailed, G_CALLBACK (on_changed), &options);
    }

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  g_signal_handlers_disconnect_by_data (pools, &options);
  return msb_db_pools_close (pools, NULL, NULL) ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
