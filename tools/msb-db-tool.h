/* msb-db-tool.h: shared declarations of the msb-db command-line tool
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>

#include <json-glib/json-glib.h>
#include <msb-db.h>

G_BEGIN_DECLS

/* Exit statuses of every subcommand. */
#define MSB_TOOL_EXIT_OK      0  /* success */
#define MSB_TOOL_EXIT_FAILURE 1  /* the command ran and failed (SQL error, check failed, ...) */
#define MSB_TOOL_EXIT_USAGE   2  /* bad command line */

/* The output formats of `exec`, `query` and `check`. */
typedef enum {
  MSB_TOOL_FORMAT_TABLE,
  MSB_TOOL_FORMAT_CSV,
  MSB_TOOL_FORMAT_JSON_LINES,
  MSB_TOOL_FORMAT_JSON_ARRAY,
} MsbToolFormat;

typedef struct {
  MsbToolFormat  format;
  gboolean       format_set;  /* a format option was given (to refuse two) */
  char          *null_text;   /* how the table shows SQL NULL; NULL for "NULL" */
} MsbToolOutput;

/* The format options shared by exec, query and check. Their callback gets
 * the user data of the option group, which must point to a struct whose first
 * member is an MsbToolOutput. */
#define MSB_TOOL_FORMAT_OPTION_ENTRIES \
  { "json", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer) msb_tool_option_format, \
    "Print JSON: one object per line, or one array with --json=array", "lines|array" }, \
  { "json-array", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) msb_tool_option_format, \
    "Print one JSON array (same as --json=array)", NULL }, \
  { "csv", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) msb_tool_option_format, \
    "Print CSV (RFC 4180) with a header line", NULL }, \
  { "table", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) msb_tool_option_format, \
    "Print an aligned table (the default)", NULL }

/* How a command opens its database. */
typedef enum {
  MSB_TOOL_OPEN_CREATE,     /* read-write, created if missing */
  MSB_TOOL_OPEN_EXISTING,   /* read-write, must exist */
  MSB_TOOL_OPEN_READ_ONLY,  /* read-only pools: never created, never written */
} MsbToolOpen;

/* msb-db.c: helpers shared by the subcommands */
MsbDbPools *msb_tool_open          (const char       *target,
                                    MsbToolOpen       how,
                                    gboolean          trusted_schema,
                                    double            busy_timeout,
                                    GError          **error);
gboolean    msb_tool_busy_timeout_ok (double          seconds);
const char *msb_tool_target_file   (const char       *target);
char       *msb_tool_format_size   (gint64            bytes);
void        msb_tool_print_error   (const char       *prefix,
                                    const GError     *error);
void        msb_tool_print_stats   (const MsbDbStats *stats);
gboolean    msb_tool_parse_options (GOptionContext   *context,
                                    const GOptionEntry *entries,
                                    char           ***args,
                                    GError          **error);
int         msb_tool_usage_error   (const char       *command,
                                    const char       *message);
gboolean    msb_tool_option_format (const char       *option_name,
                                    const char       *value,
                                    gpointer          data,
                                    GError          **error);
GTimeSpan   msb_tool_seconds_to_timespan (double seconds);

/* msb-db-params.c: command-line parameters to a GVariant tuple */
GVariant   *msb_tool_param_new     (const char       *arg,
                                    gboolean          force_text,
                                    GError          **error);
GVariant   *msb_tool_params_new    (char            **args,
                                    int               n_args,
                                    gboolean          force_text,
                                    GError          **error);

/* msb-db-output.c: rows to a table, CSV or JSON */
char       *msb_tool_format_real   (double            value);
char       *msb_tool_format_blob   (GBytes           *bytes);
void        msb_tool_print_rows    (MsbDbRows        *rows,
                                    const MsbToolOutput *output,
                                    FILE             *out);
void        msb_tool_print_json    (JsonBuilder      *builder);

/* the subcommands; argv[0] is the subcommand's name */
int         msb_tool_exec          (int argc, char **argv);
int         msb_tool_query         (int argc, char **argv);
int         msb_tool_check         (int argc, char **argv);
int         msb_tool_demo          (int argc, char **argv);
int         msb_tool_demo_writer   (int argc, char **argv);
int         msb_tool_cluster       (int argc, char **argv);
int         msb_tool_node          (int argc, char **argv);
int         msb_tool_migrate       (int argc, char **argv);
int         msb_tool_backup        (int argc, char **argv);
int         msb_tool_watch         (int argc, char **argv);
int         msb_tool_vacuum        (int argc, char **argv);
int         msb_tool_checkpoint    (int argc, char **argv);

G_END_DECLS
