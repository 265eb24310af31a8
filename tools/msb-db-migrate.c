/* msb-db-migrate.c: `msb-db migrate [--status] TARGET DIR`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The steps are the files DIR/NNNN-name.sql, numbered from 1 without gaps:
 * file N takes the schema from version N - 1 to N (msb_db_pools_migrate()).
 * Other files of DIR are not looked at.
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "msb-db-tool.h"

typedef struct {
  gboolean status;
  gboolean json;
  gboolean trusted_schema;
  double   busy_timeout;
} MigrateOptions;

typedef struct {
  GPtrArray *names;   /* of char *: the file names, in order */
  GPtrArray *sql;     /* of char *: their contents */
} Steps;

static void
steps_clear (Steps *steps)
{
  g_clear_pointer (&steps->names, g_ptr_array_unref);
  g_clear_pointer (&steps->sql, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Steps, steps_clear)

/* NNNN-name.sql: the number, or 0 when the name is not a step's. */
static guint
step_number (const char *name)
{
  const char *p = name;
  guint64 number = 0;

  if (!g_str_has_suffix (name, ".sql"))
    return 0;
  while (g_ascii_isdigit (*p) && number < G_MAXUINT)
    number = number * 10 + (guint64) (*p++ - '0');
  if (p == name || *p != '-' || number > G_MAXUINT)
    return 0;
  return (guint) number;
}

static gint
compare_by_number (gconstpointer a,
                   gconstpointer b)
{
  guint na = step_number (*(const char * const *) a);
  guint nb = step_number (*(const char * const *) b);

  return na < nb ? -1 : na > nb ? 1 : strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Reads the steps of @dir; FALSE with @error when they are not numbered
 * 1, 2, 3... without gaps or doubles. */
static gboolean
read_steps (const char  *dir,
            Steps       *steps,
            GError     **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  const char *name;

  if (d == NULL)
    return FALSE;
  steps->names = g_ptr_array_new_with_free_func (g_free);
  steps->sql = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (g_str_has_suffix (name, ".sql") && step_number (name) == 0)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "%s: a migration step is named NNNN-name.sql, numbered from 1", name);
          return FALSE;
        }
      if (step_number (name) > 0)
        g_ptr_array_add (steps->names, g_strdup (name));
    }
  g_ptr_array_sort (steps->names, compare_by_number);

  for (guint i = 0; i < steps->names->len; i++)
    {
      const char *file = g_ptr_array_index (steps->names, i);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      char *contents = NULL;

      if (step_number (file) != i + 1)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "%s: expected step %u here (steps are numbered 1, 2, 3... "
                       "with no gap and no number twice)", file, i + 1);
          return FALSE;
        }
      if (!g_file_get_contents (path, &contents, NULL, error))
        return FALSE;
      g_ptr_array_add (steps->sql, contents);
      if (!g_utf8_validate (contents, -1, NULL))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not UTF-8 text", file);
          return FALSE;
        }
    }
  g_ptr_array_add (steps->sql, NULL);
  return TRUE;
}

static void
print_status_json (const Steps *steps,
                   gint         current)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "current");
  json_builder_add_int_value (builder, current);
  json_builder_set_member_name (builder, "latest");
  json_builder_add_int_value (builder, steps->names->len);
  json_builder_set_member_name (builder, "pending");
  json_builder_begin_array (builder);
  for (guint i = MAX (current, 0); i < steps->names->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (steps->names, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  msb_tool_print_json (builder);
}

static int
show_status (const char           *target,
             const char           *dir,
             const Steps          *steps,
             const MigrateOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  const char *file = msb_tool_target_file (target);
  gboolean missing = file != NULL && !g_file_test (file, G_FILE_TEST_EXISTS);
  gint current = 0;
  guint latest = steps->names->len;

  /* A database that does not exist yet is at version 0: --status does not
   * create it. */
  if (!missing)
    {
      pools = msb_tool_open (target, MSB_TOOL_OPEN_READ_ONLY, options->trusted_schema,
                             options->busy_timeout, &error);
      current = pools ? msb_db_pools_get_schema_version (pools, NULL, &error) : -1;
    }
  if (current < 0)
    {
      msb_tool_print_error ("msb-db migrate", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  if (options->json)
    print_status_json (steps, current);
  else
    {
      printf ("current version  %d%s\n", current, missing ? " (the database does not exist yet)" : "");
      printf ("latest version   %u (%s)\n", latest, dir);
      if ((guint) current > latest)
        printf ("the database is newer than the steps in %s: a newer program migrated it\n", dir);
      else if ((guint) current == latest)
        printf ("up to date\n");
      else
        for (guint i = current; i < latest; i++)
          printf ("pending          %s\n", (const char *) g_ptr_array_index (steps->names, i));
    }
  if (pools != NULL && !msb_db_pools_close (pools, NULL, NULL))
    return MSB_TOOL_EXIT_FAILURE;
  return MSB_TOOL_EXIT_OK;
}

static int
migrate (const char           *target,
         const Steps          *steps,
         const MigrateOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = msb_tool_open (target, MSB_TOOL_OPEN_CREATE,
                                               options->trusted_schema,
                                               options->busy_timeout, &error);
  gint before, after;

  if (pools == NULL || (before = msb_db_pools_get_schema_version (pools, NULL, &error)) < 0)
    {
      msb_tool_print_error ("msb-db migrate", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (!msb_db_pools_migrate (pools, (const char * const *) steps->sql->pdata, NULL, &error))
    {
      gint reached = msb_db_pools_get_schema_version (pools, NULL, NULL);
      g_autofree char *prefix = NULL;

      /* The step that failed is the one after the version reached. */
      if (reached >= 0 && (guint) reached < steps->names->len &&
          !g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_SCHEMA_TOO_NEW))
        prefix = g_strdup_printf ("msb-db migrate: %s",
                                  (const char *) g_ptr_array_index (steps->names, reached));
      msb_tool_print_error (prefix ? prefix : "msb-db migrate", error);
      if (reached > before)
        fprintf (stderr, "msb-db migrate: %s is at version %d (was %d)\n", target, reached, before);
      return MSB_TOOL_EXIT_FAILURE;
    }

  after = (gint) steps->names->len;
  if (after == before)
    printf ("%s is up to date: version %d\n", target, after);
  else
    {
      printf ("%s: version %d -> %d\n", target, before, after);
      for (gint i = MAX (before, 0); i < after; i++)
        printf ("  %s\n", (const char *) g_ptr_array_index (steps->names, i));
    }
  return msb_db_pools_close (pools, NULL, NULL) ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}

int
msb_tool_migrate (int    argc,
                  char **argv)
{
  MigrateOptions options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  const GOptionEntry entries[] = {
    { "status", 0, 0, G_OPTION_ARG_NONE, &options.status,
      "Show the current and the latest version, and the pending steps; change nothing", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "With --status: print one JSON object", NULL },
    { "trusted-schema", 0, 0, G_OPTION_ARG_NONE, &options.trusted_schema,
      "Trust the database's schema (see msb-db(1)): needed by steps whose writes go "
      "through triggers that use virtual tables (FTS5)", NULL },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET DIR");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_auto(Steps) steps = { NULL };

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Bring the schema of TARGET to the latest version: apply, in order, the steps\n"
    "DIR/NNNN-name.sql (numbered from 0001 with no gap) it has not had yet. Step N\n"
    "takes the schema from version N-1 to N, in one transaction with the version\n"
    "(PRAGMA user_version). TARGET is created if missing.");
  g_option_context_set_description (context,
    "Several processes may migrate the same file at once: each step is applied once.\n"
    "A step that fails is rolled back, the steps before it stay applied. A database\n"
    "newer than DIR (another program migrated it further) is refused unchanged.\n"
    "The exit status is 0 on success, 1 when a step or the database fails, 2 for a\n"
    "bad command line.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("migrate", error->message);
  if (g_strv_length (args) != 3)
    return msb_tool_usage_error ("migrate", "expected TARGET and DIR");
  if (!msb_tool_busy_timeout_ok (options.busy_timeout))
    return msb_tool_usage_error ("migrate", "--busy-timeout takes 0 to 86400 seconds");
  if (options.json && !options.status)
    return msb_tool_usage_error ("migrate", "--json goes with --status");

  if (!read_steps (args[2], &steps, &error))
    {
      g_autofree char *prefix = g_strdup_printf ("msb-db migrate: %s", args[2]);

      msb_tool_print_error (prefix, error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (options.status)
    return show_status (args[1], args[2], &steps, &options);
  return migrate (args[1], &steps, &options);
}
