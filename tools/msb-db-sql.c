/* msb-db-sql.c: `msb-db exec` and `msb-db query`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * exec sends one statement through the writer (msb_db_pools_write), so it
 * queues behind every other write of the process and retries on busy like
 * any MsbDb writer; it creates the database if needed. query opens read-only
 * pools (msb_db_pools_open_read_only), which never create the file, and runs
 * the statement through msb_db_pools_read, so a statement that would write
 * fails with MSB_DB_ERROR_READ_ONLY.
 */
#include <math.h>

#include "msb-db-tool.h"

typedef struct {
  MsbToolOutput output;  /* first: the format options write here */
  gboolean      text;
  gboolean      quiet;
  gboolean      stats;
  gboolean      trusted_schema;
  double        busy_timeout;
} SqlOptions;

static void
sql_options_clear (SqlOptions *options)
{
  g_clear_pointer (&options->output.null_text, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SqlOptions, sql_options_clear)

static const char params_help[] =
  "Each PARAM is bound to the next ?N of SQL:\n"
  "  NULL              SQL NULL\n"
  "  42, -7            INTEGER (exactly a 64-bit integer: 007 and +5 stay text)\n"
  "  1.5, -2e3, .5     REAL\n"
  "  x'0A0B'           BLOB from hexadecimal digits\n"
  "  @FILE, @-         BLOB with the contents of FILE, or of stdin\n"
  "  anything else     TEXT (--text binds every PARAM as TEXT)\n"
  "Negative numbers are parameters, not options; put -- before a parameter\n"
  "that starts with '-'.\n"
  "\n"
  "Output: an aligned table by default; --csv (RFC 4180, CRLF line ends,\n"
  "NULL is an empty field, an empty string is \"\"); --json (one object per\n"
  "row, JSON Lines) or --json=array. A BLOB is written x'0a0b' in every\n"
  "format. The exit status is 0 on success, 1 when the statement or the\n"
  "database fails (one line on stderr), 2 for a bad command line.";

static void
print_changes (MsbDbRows           *rows,
               const MsbToolOutput *output)
{
  gint64 changes = msb_db_rows_get_changes (rows);
  gint64 rowid = msb_db_rows_get_last_insert_rowid (rows);

  switch (output->format)
    {
    case MSB_TOOL_FORMAT_JSON_LINES:
    case MSB_TOOL_FORMAT_JSON_ARRAY:
      printf ("{\"changes\":%" G_GINT64_FORMAT ",\"last_insert_rowid\":%" G_GINT64_FORMAT "}\n",
              changes, rowid);
      break;
    case MSB_TOOL_FORMAT_CSV:
      printf ("changes,last_insert_rowid\r\n%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "\r\n",
              changes, rowid);
      break;
    case MSB_TOOL_FORMAT_TABLE:
    default:
      printf ("%" G_GINT64_FORMAT " %s changed\n", changes, changes == 1 ? "row" : "rows");
      break;
    }
}

static GOptionContext *
sql_context (const char   *command,
             gboolean      write,
             SqlOptions   *options,
             GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new ("DB SQL [PARAM…]");
  GOptionGroup *group = g_option_group_new (command, command, "Options", options, NULL);

  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context, write
    ? "Run one SQL statement through the writer of DB, which is created if missing.\n"
      "Prints the rows of a RETURNING clause, else the number of rows changed."
    : "Run one read-only SQL statement on DB and print its rows.\n"
      "DB must exist: query never creates it, and never writes.");
  g_option_context_set_description (context, params_help);
  return context;
}

static MsbDbPools *
open_pools (const char        *path,
            gboolean           write,
            const SqlOptions  *options,
            GError           **error)
{
  GTimeSpan busy = msb_tool_seconds_to_timespan (options->busy_timeout);
  GTimeSpan connect = MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND;

  if (options->trusted_schema)
    return msb_tool_open (path, write ? MSB_TOOL_OPEN_CREATE : MSB_TOOL_OPEN_READ_ONLY, TRUE,
                          options->busy_timeout, error);
  if (write)
    return msb_db_pools_open (path, 1, connect, busy, NULL, error);
  return msb_db_pools_open_read_only (path, 1, connect, busy, NULL, error);
}

static int
run_sql (int      argc,
         char   **argv,
         gboolean write)
{
  const char *command = write ? "exec" : "query";
  g_autofree char *prefix = g_strdup_printf ("msb-db %s", command);
  g_auto(SqlOptions) options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  GOptionEntry entries[] = {
    MSB_TOOL_FORMAT_OPTION_ENTRIES,
    { "text", 't', 0, G_OPTION_ARG_NONE, &options.text,
      "Bind every PARAM as TEXT, exactly as given", NULL },
    /* FILENAME: the bytes as given, like the PARAMs, with no conversion
     * from the locale's charset (which fails on UTF-8 in the C locale) */
    { "null", 0, 0, G_OPTION_ARG_FILENAME, &options.output.null_text,
      "Show SQL NULL as TEXT in the table (default: NULL)", "TEXT" },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &options.stats,
      "Print the MsbDbStats counters on stderr afterwards", NULL },
    { "trusted-schema", 0, 0, G_OPTION_ARG_NONE, &options.trusted_schema,
      "Trust the database's schema: let triggers and views use virtual tables "
      "and functions (SQLite's FTS5 external-content recipe needs it)", NULL },
    /* exec only: query stops the array here */
    { write ? "quiet" : NULL, 'q', 0, G_OPTION_ARG_NONE, &options.quiet,
      "Do not print the number of rows changed", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = sql_context (command, write, &options, entries);
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GVariant) params = NULL;
  int n_args;

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error (command, error->message);

  n_args = (int) g_strv_length (args);
  if (n_args < 3)
    return msb_tool_usage_error (command, "expected DB and SQL");
  if (!isfinite (options.busy_timeout) || options.busy_timeout < 0 || options.busy_timeout > 86400)
    return msb_tool_usage_error (command, "--busy-timeout takes 0 to 86400 seconds");

  params = msb_tool_params_new (args + 3, n_args - 3, options.text, &error);
  if (error != NULL)
    {
      msb_tool_print_error (prefix, error);
      return MSB_TOOL_EXIT_USAGE;
    }
  if (params != NULL)
    g_variant_ref_sink (params);

  pools = open_pools (args[1], write, &options, &error);
  if (pools == NULL)
    {
      msb_tool_print_error (prefix, error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (write)
    rows = msb_db_pools_write (pools, args[2], params, NULL, &error);
  else
    rows = msb_db_pools_read (pools, args[2], params, NULL, &error);

  if (rows != NULL && msb_db_rows_get_n_columns (rows) > 0)
    msb_tool_print_rows (rows, &options.output, stdout);
  else if (rows != NULL && write && !options.quiet)
    print_changes (rows, &options.output);
  fflush (stdout);

  if (options.stats)
    {
      g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (pools);
      msb_tool_print_stats (stats);
    }

  if (rows == NULL)
    {
      msb_tool_print_error (prefix, error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (!msb_db_pools_close (pools, NULL, &error))
    {
      msb_tool_print_error (prefix, error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  return MSB_TOOL_EXIT_OK;
}

int
msb_tool_exec (int    argc,
               char **argv)
{
  return run_sql (argc, argv, TRUE);
}

int
msb_tool_query (int    argc,
                char **argv)
{
  return run_sql (argc, argv, FALSE);
}
