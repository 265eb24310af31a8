/* msb-db-cluster.c: `msb-db cluster`, the members of a dqlite cluster
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Lists the nodes (from the leader, which knows the current configuration),
 * and moves leadership or removes a node. Talks to the cluster through
 * MsbDb's own client: it needs no libdqlite.
 */
#include <json-glib/json-glib.h>

#include "msb-db-tool.h"
#include "msb-db-dqlite-client.h"

#define DEFAULT_TIMEOUT 10.0

typedef struct {
  gboolean json;
  double   timeout;
} ClusterOptions;

/* TARGET is a dqlite:// target (its database name, if any, is not used) or
 * a bare HOST:PORT[,HOST:PORT...] list. */
static char **
target_addresses (const char  *target,
                  GError     **error)
{
  g_autofree char *list = NULL;
  const char *slash;

  if (g_ascii_strncasecmp (target, "dqlite://", 9) != 0)
    return msb_db_dqlite_parse_addresses (target, error);
  slash = strchr (target + 9, '/');
  list = slash != NULL ? g_strndup (target + 9, slash - (target + 9)) : g_strdup (target + 9);
  return msb_db_dqlite_parse_addresses (list, error);
}

static void
print_table (GPtrArray  *nodes,
             guint64     leader_id)
{
  printf ("%-6s %-22s %-8s %s\n", "ID", "ADDRESS", "ROLE", "LEADER");
  for (guint i = 0; i < nodes->len; i++)
    {
      const MsbDbDqliteNode *node = g_ptr_array_index (nodes, i);
      g_autofree char *id = g_strdup_printf ("%" G_GUINT64_FORMAT, node->id);

      printf ("%-6s %-22s %-8s %s\n", id, node->address,
              msb_db_dqlite_role_to_string (node->role), node->id == leader_id ? "yes" : "");
    }
}

/* {"leader": {"id": 1, "address": "..."}, "nodes": [{"id": 1, "address":
 * "...", "role": "voter"}, ...]}: one object, one line. */
static void
print_json (GPtrArray   *nodes,
            guint64      leader_id,
            const char  *leader_address)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "leader");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, (gint64) leader_id);
  json_builder_set_member_name (builder, "address");
  json_builder_add_string_value (builder, leader_address);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "nodes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < nodes->len; i++)
    {
      const MsbDbDqliteNode *node = g_ptr_array_index (nodes, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, (gint64) node->id);
      json_builder_set_member_name (builder, "address");
      json_builder_add_string_value (builder, node->address);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, msb_db_dqlite_role_to_string (node->role));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  msb_tool_print_json (builder);
}

static gboolean
list_nodes (MsbDbDqliteClient  *client,
            gboolean            json,
            GError            **error)
{
  g_autoptr(GPtrArray) nodes = NULL;
  g_autofree char *leader_address = NULL;
  guint64 leader_id;

  if (!msb_db_dqlite_client_leader (client, &leader_id, &leader_address, NULL, error))
    return FALSE;
  nodes = msb_db_dqlite_client_cluster (client, NULL, error);
  if (nodes == NULL)
    return FALSE;
  if (json)
    print_json (nodes, leader_id, leader_address);
  else
    print_table (nodes, leader_id);
  return TRUE;
}

static gboolean
change_membership (MsbDbDqliteClient  *client,
                   const char         *action,
                   guint64             id,
                   GError            **error)
{
  if (g_str_equal (action, "transfer"))
    {
      g_autofree char *leader_address = NULL;
      guint64 leader_id;

      /* Raft refuses a transfer to the leader itself, with a message that
       * does not say so. */
      if (!msb_db_dqlite_client_leader (client, &leader_id, &leader_address, NULL, error))
        return FALSE;
      if (leader_id == id)
        {
          printf ("Node %" G_GUINT64_FORMAT " (%s) already leads\n", id, leader_address);
          return TRUE;
        }
      if (!msb_db_dqlite_client_transfer (client, id, NULL, error))
        return FALSE;
      printf ("Leadership moved from %s to node %" G_GUINT64_FORMAT "\n",
              msb_db_dqlite_client_get_address (client), id);
    }
  else
    {
      if (!msb_db_dqlite_client_remove (client, id, NULL, error))
        return FALSE;
      printf ("Node %" G_GUINT64_FORMAT " removed from the cluster\n", id);
    }
  return TRUE;
}

int
msb_tool_cluster (int    argc,
                  char **argv)
{
  ClusterOptions options = { .timeout = DEFAULT_TIMEOUT };
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "Print one JSON object: {\"leader\": {...}, \"nodes\": [...]}", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.timeout,
      "Give up finding the leader after this long (default: 10)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET [transfer ID | remove ID]");
  g_auto(GStrv) args = g_strdupv (argv);
  g_auto(GStrv) addresses = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbDqliteClient) client = NULL;
  guint n_args;
  guint64 id = 0;
  gboolean ok;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "List the nodes of a dqlite cluster (id, address, role, which one leads), or\n"
    "move the leadership to node ID, or remove node ID from the cluster.\n"
    "TARGET is dqlite://HOST:PORT[,HOST:PORT…][/NAME] or HOST:PORT[,HOST:PORT…].");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("cluster", error->message);
  n_args = g_strv_length (args);
  if (n_args != 2 && n_args != 4)
    return msb_tool_usage_error ("cluster", "expected TARGET, optionally followed by "
                                 "transfer ID or remove ID");
  if (!(options.timeout > 0 && options.timeout <= 86400))
    return msb_tool_usage_error ("cluster", "--timeout takes 0 to 86400 seconds");
  if (n_args == 4 &&
      ((!g_str_equal (args[2], "transfer") && !g_str_equal (args[2], "remove")) ||
       !g_ascii_string_to_unsigned (args[3], 10, 1, G_MAXUINT64, &id, NULL)))
    return msb_tool_usage_error ("cluster", "expected transfer ID or remove ID, with a node "
                                 "ID of 1 or more");

  addresses = target_addresses (args[1], &error);
  if (addresses == NULL)
    {
      msb_tool_print_error ("msb-db cluster", error);
      return MSB_TOOL_EXIT_USAGE;
    }

  client = msb_db_dqlite_client_connect_leader ((const char * const *) addresses,
                                                msb_tool_seconds_to_timespan (options.timeout),
                                                NULL, &error);
  if (client == NULL)
    {
      msb_tool_print_error ("msb-db cluster", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  if (n_args == 2)
    ok = list_nodes (client, options.json, &error);
  else
    ok = change_membership (client, args[2], id, &error);
  fflush (stdout);
  if (!ok)
    {
      msb_tool_print_error ("msb-db cluster", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  return MSB_TOOL_EXIT_OK;
}
