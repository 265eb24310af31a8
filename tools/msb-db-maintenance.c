/* msb-db-maintenance.c: `msb-db vacuum TARGET` and `msb-db checkpoint TARGET`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both open TARGET read-write without ever creating it, and run the call
 * on the writer thread outside any transaction (msb_db_pools_vacuum(),
 * msb_db_pools_checkpoint()), where `exec "VACUUM"` and
 * `exec "PRAGMA wal_checkpoint"` cannot.
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "msb-db-tool.h"

typedef struct {
  gboolean json;
  char    *mode;
  double   busy_timeout;
} MaintenanceOptions;

static gboolean
parse_common (const char          *command,
              GOptionContext      *context,
              const GOptionEntry  *entries,
              char              ***args,
              MaintenanceOptions  *options,
              int                 *status)
{
  g_autoptr(GError) error = NULL;

  if (!msb_tool_parse_options (context, entries, args, &error))
    *status = msb_tool_usage_error (command, error->message);
  else if (g_strv_length (*args) != 2)
    *status = msb_tool_usage_error (command, "expected TARGET");
  else if (!msb_tool_busy_timeout_ok (options->busy_timeout))
    *status = msb_tool_usage_error (command, "--busy-timeout takes 0 to 86400 seconds");
  else
    return TRUE;
  return FALSE;
}

static gint64
database_bytes (MsbDbPools  *pools,
                GError     **error)
{
  g_autoptr(MsbDbRows) count = msb_db_pools_read (pools, "PRAGMA page_count", NULL, NULL, error);
  g_autoptr(MsbDbRows) size = count ? msb_db_pools_read (pools, "PRAGMA page_size", NULL, NULL, error) : NULL;

  if (size == NULL)
    return -1;
  return msb_db_rows_get_int64 (count, 0, 0) * msb_db_rows_get_int64 (size, 0, 0);
}

int
msb_tool_vacuum (int    argc,
                 char **argv)
{
  MaintenanceOptions options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  const GOptionEntry entries[] = {
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  gint64 before, after;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Rebuild TARGET with SQLite's VACUUM: free pages go, the file shrinks. Other\n"
    "processes keep reading meanwhile; their writes wait for it. Needs free disk\n"
    "space of about twice the database.");
  if (!parse_common ("vacuum", context, entries, &args, &options, &status))
    return status;

  pools = msb_tool_open (args[1], MSB_TOOL_OPEN_EXISTING, FALSE, options.busy_timeout, &error);
  if (pools == NULL ||
      (before = database_bytes (pools, &error)) < 0 ||
      !msb_db_pools_vacuum (pools, NULL, &error) ||
      (after = database_bytes (pools, &error)) < 0)
    {
      msb_tool_print_error ("msb-db vacuum", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  {
    g_autofree char *from = msb_tool_format_size (before);
    g_autofree char *to = msb_tool_format_size (after);

    printf ("%s: vacuumed, %s -> %s\n", args[1], from, to);
  }
  return msb_db_pools_close (pools, NULL, NULL) ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}

static gboolean
parse_mode (const char          *text,
            MsbDbCheckpointMode *mode)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (MSB_TYPE_DB_CHECKPOINT_MODE);
  GEnumValue *value = g_enum_get_value_by_nick (klass, text);

  if (value == NULL)
    return FALSE;
  *mode = value->value;
  return TRUE;
}

static void
print_frames_json (const char *target,
                   const char *mode,
                   gint        log_frames,
                   gint        checkpointed)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "database");
  json_builder_add_string_value (builder, target);
  json_builder_set_member_name (builder, "mode");
  json_builder_add_string_value (builder, mode);
  json_builder_set_member_name (builder, "log_frames");
  json_builder_add_int_value (builder, log_frames);
  json_builder_set_member_name (builder, "checkpointed_frames");
  json_builder_add_int_value (builder, checkpointed);
  json_builder_end_object (builder);
  msb_tool_print_json (builder);
}

int
msb_tool_checkpoint (int    argc,
                     char **argv)
{
  MaintenanceOptions options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  const GOptionEntry entries[] = {
    { "mode", 0, 0, G_OPTION_ARG_STRING, &options.mode,
      "passive (the default: never waits), full, restart or truncate (also empties "
      "the -wal file)", "MODE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "Print one JSON object", NULL },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for readers and writers of other processes (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autofree char *mode_text = NULL;
  MsbDbCheckpointMode mode = MSB_DB_CHECKPOINT_PASSIVE;
  gint log_frames = 0, checkpointed = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Copy the pages of TARGET's write-ahead log (the -wal file) back into the\n"
    "database file, and print how many there were and how many were copied.");
  g_option_context_set_description (context,
    "restart and truncate wait for readers of other processes that still use the\n"
    "log, up to --busy-timeout with retries, then fail (exit status 1) after\n"
    "copying what they could.");
  if (!parse_common ("checkpoint", context, entries, &args, &options, &status))
    {
      g_free (options.mode);
      return status;
    }
  mode_text = g_steal_pointer (&options.mode);
  if (mode_text != NULL && !parse_mode (mode_text, &mode))
    return msb_tool_usage_error ("checkpoint", "--mode takes passive, full, restart or truncate");

  pools = msb_tool_open (args[1], MSB_TOOL_OPEN_EXISTING, FALSE, options.busy_timeout, &error);
  if (pools == NULL ||
      !msb_db_pools_checkpoint (pools, mode, &log_frames, &checkpointed, NULL, &error))
    {
      msb_tool_print_error ("msb-db checkpoint", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  if (options.json)
    print_frames_json (args[1], mode_text ? mode_text : "passive", log_frames, checkpointed);
  else
    printf ("%s: %d of %d frames of the log copied into the database (%s)\n", args[1],
            checkpointed, log_frames, mode_text ? mode_text : "passive");
  return msb_db_pools_close (pools, NULL, NULL) ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
