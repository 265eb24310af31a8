/* msb-db-check.c: `msb-db check DB`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Opens DB read-only (it is never created nor written) and reports, from
 * one snapshot on one read connection: PRAGMA integrity_check, the sizes
 * (page_size, page_count, freelist_count, the file and its -wal as found
 * before opening), and the PRAGMAs the library set on the connection as
 * SQLite reports them. On a dqlite:// target the leader answers, and the
 * size is page_size × page_count (there is no file here). The exit status is 1 when the integrity check finds
 * a problem or the database cannot be read.
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "msb-db-tool.h"

/* Problems listed in the text output; --json lists all SQLite reported
 * (integrity_check stops at 100). */
#define CHECK_MAX_PROBLEMS_SHOWN 10

typedef struct {
  gboolean json;
  gboolean stats;
  double   busy_timeout;
} CheckOptions;

/* What the snapshot saw. Filled on a read worker thread, read after the
 * blocking msb_db_pools_snapshot() returned. */
typedef struct {
  GPtrArray *integrity;  /* the rows of integrity_check: "ok", or problems */
  char      *journal_mode;
  gint64     page_size;
  gint64     page_count;
  gint64     freelist_count;
  gint64     synchronous;
  gint64     foreign_keys;
  gint64     busy_timeout;
  gint64     trusted_schema;
} CheckResult;

static void
check_result_clear (CheckResult *result)
{
  g_clear_pointer (&result->integrity, g_ptr_array_unref);
  g_clear_pointer (&result->journal_mode, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CheckResult, check_result_clear)

static MsbDbRows *
pragma (MsbDbConnection  *connection,
        const char       *sql,
        GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, sql, NULL, error);

  if (rows == NULL)
    return NULL;
  if (msb_db_rows_get_n_rows (rows) < 1 || msb_db_rows_get_n_columns (rows) < 1)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED, "%s returned no value", sql);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

static gboolean
pragma_int (MsbDbConnection  *connection,
            const char       *sql,
            gint64           *value,
            GError          **error)
{
  g_autoptr(MsbDbRows) rows = pragma (connection, sql, error);

  if (rows == NULL)
    return FALSE;
  *value = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

/* The snapshot body: every PRAGMA on the same connection, in one read
 * transaction. Safe to run more than once. */
static gboolean
check_snapshot (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  CheckResult *result = user_data;
  g_autoptr(MsbDbRows) integrity = NULL;
  g_autoptr(MsbDbRows) journal = NULL;

  integrity = pragma (connection, "PRAGMA integrity_check", error);
  if (integrity == NULL)
    return FALSE;
  g_clear_pointer (&result->integrity, g_ptr_array_unref);
  result->integrity = g_ptr_array_new_with_free_func (g_free);
  for (guint r = 0; r < msb_db_rows_get_n_rows (integrity); r++)
    g_ptr_array_add (result->integrity, g_strdup (msb_db_rows_get_string (integrity, r, 0)));

  journal = pragma (connection, "PRAGMA journal_mode", error);
  if (journal == NULL)
    return FALSE;
  g_free (result->journal_mode);
  result->journal_mode = g_strdup (msb_db_rows_get_string (journal, 0, 0));

  return pragma_int (connection, "PRAGMA page_size", &result->page_size, error) &&
         pragma_int (connection, "PRAGMA page_count", &result->page_count, error) &&
         pragma_int (connection, "PRAGMA freelist_count", &result->freelist_count, error) &&
         pragma_int (connection, "PRAGMA synchronous", &result->synchronous, error) &&
         pragma_int (connection, "PRAGMA foreign_keys", &result->foreign_keys, error) &&
         pragma_int (connection, "PRAGMA busy_timeout", &result->busy_timeout, error) &&
         pragma_int (connection, "PRAGMA trusted_schema", &result->trusted_schema, error);
}

static gboolean
integrity_ok (const CheckResult *result)
{
  return result->integrity->len == 1 &&
         g_str_equal (g_ptr_array_index (result->integrity, 0), "ok");
}

/* The file behind a database target: "sqlite:///abs/path" is "/abs/path". */
static const char *
target_file (const char *target)
{
  if (g_str_has_prefix (target, "sqlite://"))
    return target + strlen ("sqlite://");
  return target;
}

/* A database in a dqlite cluster: no file here to measure. */
static gboolean
is_cluster_target (const char *target)
{
  return g_ascii_strncasecmp (target, "dqlite://", 9) == 0;
}

/* Size of @path in bytes, or -1 when it does not exist. */
static gint64
file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return -1;
  return st.st_size;
}

static const char *
synchronous_name (gint64 value)
{
  static const char *names[] = { "OFF", "NORMAL", "FULL", "EXTRA" };

  return value >= 0 && value < (gint64) G_N_ELEMENTS (names) ? names[value] : "?";
}

static void
print_text (const char        *target,
            const CheckResult *result,
            gint64             db_bytes,
            gint64             wal_bytes)
{
  printf ("database        %s\n", target);
  if (integrity_ok (result))
    printf ("integrity       ok\n");
  else
    {
      guint shown = MIN (result->integrity->len, CHECK_MAX_PROBLEMS_SHOWN);

      for (guint i = 0; i < shown; i++)
        printf ("%s %s\n", i == 0 ? "integrity      " : "               ",
                (const char *) g_ptr_array_index (result->integrity, i));
      if (result->integrity->len > shown)
        printf ("                … and %u more (all of them with --json)\n",
                result->integrity->len - shown);
    }
  printf ("journal_mode    %s%s\n", result->journal_mode,
          g_ascii_strcasecmp (result->journal_mode, "wal") == 0 ? "" : " (MsbDb expects wal)");
  printf ("file_size       %" G_GINT64_FORMAT " bytes%s\n", db_bytes,
          is_cluster_target (target) ? " (page_size × page_count, on the leader)" : "");
  if (is_cluster_target (target))
    printf ("wal_size        none here (dqlite keeps its own log on every node)\n");
  else if (wal_bytes >= 0)
    printf ("wal_size        %" G_GINT64_FORMAT " bytes\n", wal_bytes);
  else
    printf ("wal_size        none (no -wal file)\n");
  printf ("page_size       %" G_GINT64_FORMAT "\n", result->page_size);
  printf ("page_count      %" G_GINT64_FORMAT "\n", result->page_count);
  printf ("freelist_count  %" G_GINT64_FORMAT "\n", result->freelist_count);
  printf ("synchronous     %" G_GINT64_FORMAT " (%s)\n", result->synchronous,
          synchronous_name (result->synchronous));
  printf ("foreign_keys    %" G_GINT64_FORMAT " (%s)\n", result->foreign_keys,
          result->foreign_keys ? "ON" : "OFF");
  printf ("busy_timeout    %" G_GINT64_FORMAT " ms\n", result->busy_timeout);
  printf ("trusted_schema  %" G_GINT64_FORMAT " (%s)\n", result->trusted_schema,
          result->trusted_schema ? "ON" : "OFF");
}

static void
print_json (const char        *target,
            const CheckResult *result,
            gint64             db_bytes,
            gint64             wal_bytes)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "database");
  json_builder_add_string_value (builder, target);
  json_builder_set_member_name (builder, "ok");
  json_builder_add_boolean_value (builder, integrity_ok (result));
  json_builder_set_member_name (builder, "integrity");
  json_builder_begin_array (builder);
  for (guint i = 0; i < result->integrity->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (result->integrity, i));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "journal_mode");
  json_builder_add_string_value (builder, result->journal_mode);
  json_builder_set_member_name (builder, "file_size");
  json_builder_add_int_value (builder, db_bytes);
  json_builder_set_member_name (builder, "wal_size");
  if (wal_bytes >= 0)
    json_builder_add_int_value (builder, wal_bytes);
  else
    json_builder_add_null_value (builder);

#define INT_MEMBER(name) \
  json_builder_set_member_name (builder, #name); \
  json_builder_add_int_value (builder, result->name)
  INT_MEMBER (page_size);
  INT_MEMBER (page_count);
  INT_MEMBER (freelist_count);
  INT_MEMBER (synchronous);
  INT_MEMBER (foreign_keys);
  INT_MEMBER (busy_timeout);
  INT_MEMBER (trusted_schema);
#undef INT_MEMBER
  json_builder_end_object (builder);

  msb_tool_print_json (builder);
}

int
msb_tool_check (int    argc,
                char **argv)
{
  CheckOptions options = { .busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS };
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "Print one JSON object", NULL },
    { "busy-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.busy_timeout,
      "Wait this long for a lock held by another process (default: 5)", "SECONDS" },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &options.stats,
      "Print the MsbDbStats counters on stderr afterwards", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("DB");
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_auto(CheckResult) result = { 0 };
  const char *target;
  gint64 db_bytes, wal_bytes;
  g_autofree char *wal_path = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Check DB without changing it: PRAGMA integrity_check, the journal mode,\n"
    "the size of the file and of its -wal, page_size/page_count/freelist_count,\n"
    "and journal_mode, synchronous, foreign_keys, busy_timeout and\n"
    "trusted_schema as a connection of the library sees them.");
  g_option_context_set_description (context,
    "The exit status is 0 when the integrity check says ok, 1 when it finds a\n"
    "problem or DB cannot be read, 2 for a bad command line.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("check", error->message);
  if (g_strv_length (args) != 2)
    return msb_tool_usage_error ("check", "expected DB");
  if (!isfinite (options.busy_timeout) || options.busy_timeout < 0 || options.busy_timeout > 86400)
    return msb_tool_usage_error ("check", "--busy-timeout takes 0 to 86400 seconds");

  /* the -wal as found, before this process opens the database */
  target = args[1];
  wal_path = g_strconcat (target_file (target), "-wal", NULL);
  wal_bytes = is_cluster_target (target) ? -1 : file_size (wal_path);

  pools = msb_db_pools_open_read_only (target, 1,
                                       MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                       msb_tool_seconds_to_timespan (options.busy_timeout),
                                       NULL, &error);
  if (pools == NULL ||
      !msb_db_pools_snapshot (pools, check_snapshot, &result, NULL, &error))
    {
      msb_tool_print_error ("msb-db check", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  db_bytes = is_cluster_target (target) ? result.page_size * result.page_count
                                        : file_size (target_file (target));

  if (options.json)
    print_json (target, &result, db_bytes, wal_bytes);
  else
    print_text (target, &result, db_bytes, wal_bytes);
  fflush (stdout);

  if (options.stats)
    {
      g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (pools);
      msb_tool_print_stats (stats);
    }

  if (!msb_db_pools_close (pools, NULL, &error))
    {
      msb_tool_print_error ("msb-db check", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (!integrity_ok (&result))
    {
      fprintf (stderr, "msb-db check: integrity check failed: %u problem%s\n",
               result.integrity->len, result.integrity->len == 1 ? "" : "s");
      return MSB_TOOL_EXIT_FAILURE;
    }
  return MSB_TOOL_EXIT_OK;
}
