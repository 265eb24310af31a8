/* msb-db.c: the msb-db command-line tool: subcommand dispatch and shared helpers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Data goes to stdout with stdio (never g_print(), which would convert UTF-8
 * to the locale's charset); diagnostics go to stderr, one line each.
 */
#include <locale.h>
#include <math.h>
#include <string.h>

#include "msb-db-tool.h"

typedef struct {
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
  gboolean    hidden;
} Command;

static const Command commands[] = {
  { "demo",  msb_tool_demo,
    "Run concurrent readers and writers, and a second writing process, on one database", FALSE },
  { "exec",  msb_tool_exec,
    "Run one SQL statement through the writer (creates the database)", FALSE },
  { "query", msb_tool_query,
    "Run one read-only SQL statement (never creates the database)", FALSE },
  { "check", msb_tool_check,
    "Check a database: integrity, WAL, sizes and the PRAGMAs as seen", FALSE },
  { "migrate", msb_tool_migrate,
    "Bring a database's schema to the latest of the NNNN-name.sql files of a directory", FALSE },
  { "backup", msb_tool_backup,
    "Copy a database, consistently, while it is in use", FALSE },
  { "watch", msb_tool_watch,
    "Print a line for each change committed to a database, until interrupted", FALSE },
  { "vacuum", msb_tool_vacuum,
    "Rebuild a database file (VACUUM) while others keep reading it", FALSE },
  { "checkpoint", msb_tool_checkpoint,
    "Copy the write-ahead log back into the database file", FALSE },
  { "cluster", msb_tool_cluster,
    "List the nodes of a dqlite cluster; move its leadership, remove a node", FALSE },
#ifdef MSB_DB_HAVE_DQLITE_NODE
  { "node",  msb_tool_node,
    "Run one dqlite node of a cluster in the foreground", FALSE },
#endif
  /* the second process of `demo` */
  { "demo-writer", msb_tool_demo_writer, NULL, TRUE },
};

static void
print_global_help (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           "  msb-db COMMAND [OPTION…] [ARGUMENT…]\n"
           "\n"
           "One safe way for every process to share one SQLite database (MsbDb %s).\n"
           "\n"
           "Commands:\n",
           MSB_DB_VERSION_S);
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (!commands[i].hidden)
      fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Options:\n"
           "  -h, --help     Show this help\n"
           "  --version      Show the version of msb-db and of MsbDb\n"
           "\n"
           "Run 'msb-db COMMAND --help' for the arguments and options of a command.\n"
           "With no setup at all, 'msb-db demo' shows the library at work.\n");
}

static const Command *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

/* Prints "PREFIX: MESSAGE" on one line: newlines in the message (SQL text
 * quoted by the library may hold some) become spaces. */
void
msb_tool_print_error (const char   *prefix,
                      const GError *error)
{
  g_autofree char *message = g_strdup (error->message);

  g_strdelimit (message, "\r\n", ' ');
  fprintf (stderr, "%s: %s\n", prefix, message);
}

/* A usage error: one line, and where to look for help. */
int
msb_tool_usage_error (const char *command,
                      const char *message)
{
  fprintf (stderr, "msb-db %s: %s (see 'msb-db %s --help')\n", command, message, command);
  return MSB_TOOL_EXIT_USAGE;
}

/* The counters of @pools as one greppable line on stderr (stdout keeps
 * only the data, so --stats can be used with --json or --csv). */
void
msb_tool_print_stats (const MsbDbStats *stats)
{
  fprintf (stderr,
           "stats: reads=%" G_GUINT64_FORMAT " writes=%" G_GUINT64_FORMAT
           " transactions=%" G_GUINT64_FORMAT " snapshots=%" G_GUINT64_FORMAT
           " busy_retries=%" G_GUINT64_FORMAT " retries_exhausted=%" G_GUINT64_FORMAT
           " pool_timeouts=%" G_GUINT64_FORMAT " write_batches=%" G_GUINT64_FORMAT
           " checkpoints=%" G_GUINT64_FORMAT " wal_bytes=%" G_GUINT64_FORMAT "\n",
           stats->reads, stats->writes, stats->transactions, stats->snapshots,
           stats->busy_retries, stats->retries_exhausted, stats->pool_timeouts,
           stats->write_batches, stats->checkpoints, stats->wal_bytes);
}

GTimeSpan
msb_tool_seconds_to_timespan (double seconds)
{
  return (GTimeSpan) (seconds * G_TIME_SPAN_SECOND);
}

/* "512 bytes", "8.0 KiB", "4.2 MiB": with a plain space, for scripts too
 * (g_format_size() puts a no-break space). */
char *
msb_tool_format_size (gint64 bytes)
{
  static const char * const units[] = { "KiB", "MiB", "GiB", "TiB" };
  double value = bytes;
  gsize unit = 0;

  if (bytes < 1024)
    return g_strdup_printf ("%" G_GINT64_FORMAT " bytes", bytes);
  value /= 1024;
  while (value >= 1024 && unit + 1 < G_N_ELEMENTS (units))
    {
      value /= 1024;
      unit++;
    }
  return g_strdup_printf ("%.1f %s", value, units[unit]);
}

gboolean
msb_tool_busy_timeout_ok (double seconds)
{
  return isfinite (seconds) && seconds >= 0 && seconds <= 86400;
}

/* The file behind a database target, or NULL for a target that is not a
 * local file. */
const char *
msb_tool_target_file (const char *target)
{
  if (g_str_has_prefix (target, "sqlite://"))
    return target + strlen ("sqlite://");
  if (strstr (target, "://") != NULL)
    return NULL;
  return target;
}

/* Opens @target the way a command needs it, with the GObject properties
 * (trusted-schema has no open() shorthand). */
MsbDbPools *
msb_tool_open (const char   *target,
               MsbToolOpen   how,
               gboolean      trusted_schema,
               double        busy_timeout,
               GError      **error)
{
  const char *file = msb_tool_target_file (target);

  if (how == MSB_TOOL_OPEN_EXISTING && file != NULL && !g_file_test (file, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "There is no database at “%s” (this command does not create one)", target);
      return NULL;
    }
  return g_initable_new (MSB_DB_TYPE_POOLS, NULL, error,
                         "path", target,
                         "max-read-connections", 1,
                         "busy-timeout", msb_tool_seconds_to_timespan (busy_timeout),
                         "read-only", how == MSB_TOOL_OPEN_READ_ONLY,
                         "trusted-schema", trusted_schema,
                         NULL);
}

/* --json[=lines|array], --json-array, --csv, --table. Two different
 * formats on one command line are refused rather than guessed between. */
gboolean
msb_tool_option_format (const char  *option_name,
                        const char  *value,
                        gpointer     data,
                        GError     **error)
{
  MsbToolOutput *output = data;
  MsbToolFormat format;

  if (g_str_equal (option_name, "--csv"))
    format = MSB_TOOL_FORMAT_CSV;
  else if (g_str_equal (option_name, "--table"))
    format = MSB_TOOL_FORMAT_TABLE;
  else if (g_str_equal (option_name, "--json-array"))
    format = MSB_TOOL_FORMAT_JSON_ARRAY;
  else if (value == NULL || *value == '\0' || g_str_equal (value, "lines"))
    format = MSB_TOOL_FORMAT_JSON_LINES;
  else if (g_str_equal (value, "array"))
    format = MSB_TOOL_FORMAT_JSON_ARRAY;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--json takes 'lines' or 'array', not '%s'", value);
      return FALSE;
    }

  if (output->format_set && output->format != format)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "choose one output format: --table, --csv, --json or --json-array");
      return FALSE;
    }
  output->format = format;
  output->format_set = TRUE;
  return TRUE;
}

static const GOptionEntry *
find_entry (const GOptionEntry *entries,
            const char         *arg)
{
  if (entries == NULL)
    return NULL;
  for (const GOptionEntry *e = entries; e->long_name != NULL; e++)
    {
      if (g_str_has_prefix (arg, "--") && g_str_equal (arg + 2, e->long_name))
        return e;
      if (arg[0] == '-' && arg[1] == e->short_name && arg[1] != '\0' && arg[2] == '\0')
        return e;
    }
  return NULL;
}

static gboolean
entry_takes_value (const GOptionEntry *entry)
{
  if (entry->flags & (G_OPTION_FLAG_NO_ARG | G_OPTION_FLAG_OPTIONAL_ARG))
    return FALSE;
  return entry->arg != G_OPTION_ARG_NONE;
}

/* "-5", "-0.5", "-.5", "-1e3": a negative number, which is a parameter and
 * not an option. */
static gboolean
looks_negative_number (const char *arg)
{
  return arg[0] == '-' &&
         (g_ascii_isdigit (arg[1]) || (arg[1] == '.' && g_ascii_isdigit (arg[2])));
}

#define PLACEHOLDER "\x1emsb-db-argument-"

/* Parses the options of a subcommand from the owned string vector *args
 * (args[0] is the subcommand). Afterwards *args holds the positional
 * arguments only, with args[0] kept.
 *
 * GOption alone gets two things wrong for this tool, which are fixed here:
 * a negative number ("-5") would be taken for an unknown option, and an
 * option with an optional value ("--json") would eat the next argument
 * (the database) as its value. Negative numbers are hidden behind
 * placeholders during parsing, and "--json" is rewritten to "--json=".
 * The first "--" (everything after it is positional) is dropped. */
gboolean
msb_tool_parse_options (GOptionContext      *context,
                        const GOptionEntry  *entries,
                        char              ***args,
                        GError             **error)
{
  g_autoptr(GPtrArray) hidden = g_ptr_array_new_with_free_func (g_free);
  char **argv = *args;
  gboolean dropped_separator = FALSE;
  guint out;

  for (guint i = 1; argv[i] != NULL; i++)
    {
      const GOptionEntry *entry;

      if (g_str_equal (argv[i], "--"))
        break;

      entry = find_entry (entries, argv[i]);
      if (entry != NULL && (entry->flags & G_OPTION_FLAG_OPTIONAL_ARG))
        {
          char *rewritten = g_strconcat (argv[i], "=", NULL);
          g_free (argv[i]);
          argv[i] = rewritten;
        }
      else if (entry != NULL && entry_takes_value (entry))
        {
          if (argv[i + 1] == NULL)
            break;
          i++;  /* the value may well be negative: leave it to GOption */
        }
      else if (looks_negative_number (argv[i]))
        {
          g_ptr_array_add (hidden, argv[i]);
          argv[i] = g_strdup_printf (PLACEHOLDER "%u", hidden->len - 1);
        }
    }

  if (!g_option_context_parse_strv (context, args, error))
    return FALSE;

  argv = *args;
  out = 0;
  for (guint i = 0; argv[i] != NULL; i++)
    {
      if (i > 0 && !dropped_separator && g_str_equal (argv[i], "--"))
        {
          dropped_separator = TRUE;
          g_free (argv[i]);
          continue;
        }
      if (g_str_has_prefix (argv[i], PLACEHOLDER))
        {
          guint64 index = g_ascii_strtoull (argv[i] + strlen (PLACEHOLDER), NULL, 10);
          g_free (argv[i]);
          argv[i] = g_steal_pointer (&g_ptr_array_index (hidden, index));
        }
      argv[out++] = argv[i];
    }
  argv[out] = NULL;
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  const Command *command;
  g_autofree char *prgname = NULL;

  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_global_help (stderr);
      return MSB_TOOL_EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      (g_str_equal (argv[1], "help") && argc == 2))
    {
      print_global_help (stdout);
      return MSB_TOOL_EXIT_OK;
    }

  if (g_str_equal (argv[1], "--version"))
    {
      printf ("msb-db %s\n", MSB_DB_VERSION_S);
      return MSB_TOOL_EXIT_OK;
    }

  /* "msb-db help exec" is "msb-db exec --help" */
  if (g_str_equal (argv[1], "help"))
    {
      char *help_argv[] = { argv[2], (char *) "--help", NULL };

      command = find_command (argv[2]);
      if (command == NULL || command->hidden)
        {
          fprintf (stderr, "msb-db: unknown command '%s' (see 'msb-db --help')\n", argv[2]);
          return MSB_TOOL_EXIT_USAGE;
        }
      prgname = g_strdup_printf ("msb-db %s", command->name);
      g_set_prgname (prgname);
      return command->run (2, help_argv);
    }

  command = find_command (argv[1]);
  if (command == NULL)
    {
      if (argv[1][0] == '-')
        fprintf (stderr, "msb-db: unknown option '%s' (see 'msb-db --help')\n", argv[1]);
      else
        fprintf (stderr, "msb-db: unknown command '%s' (see 'msb-db --help')\n", argv[1]);
      return MSB_TOOL_EXIT_USAGE;
    }

  /* GOption prints "Usage: msb-db exec [OPTION…] DB SQL…" */
  prgname = g_strdup_printf ("msb-db %s", command->name);
  g_set_prgname (prgname);

  return command->run (argc - 1, argv + 1);
}
