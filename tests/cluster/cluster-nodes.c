/* cluster-nodes.c: real dqlite nodes (`msb-db node` processes) for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "cluster-nodes.h"
#include "msb-db-error.h"
#include "../core/test-common.h"

#define READY_TIMEOUT (30 * G_TIME_SPAN_SECOND)
#define FIND_TIMEOUT (15 * G_TIME_SPAN_SECOND)

guint16
cluster_free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
cluster_spawn_tool (const char          *tool,
                    GSubprocessFlags     flags,
                    const char * const  *args,
                    GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_ptr_array_add (argv, (gpointer) tool);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
}

Cluster *
cluster_new (guint n_voters,
             guint n_spare)
{
  Cluster *cluster = g_new0 (Cluster, 1);

  cluster->tool = g_getenv ("MSB_DB_TOOL");
  g_assert_nonnull (cluster->tool);
  cluster->tmp = rel_make_tmpdir ("cluster");
  cluster->n_voters = n_voters;
  cluster->n_nodes = n_voters + n_spare;
  cluster->nodes = g_new0 (ClusterNode, cluster->n_nodes);
  cluster->addresses = g_new0 (char *, n_voters + 1);

  for (guint i = 0; i < cluster->n_nodes; i++)
    {
      g_autofree char *name = g_strdup_printf ("node%u", i + 1);

      cluster->nodes[i].id = i + 1;
      cluster->nodes[i].address = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
      cluster->nodes[i].dir = g_build_filename (cluster->tmp, name, NULL);
      if (i < n_voters)
        cluster->addresses[i] = g_strdup (cluster->nodes[i].address);
    }
  cluster->address_list = g_strjoinv (",", cluster->addresses);
  return cluster;
}

/* Node 1 bootstraps; the other voters join it. */
void
cluster_start (Cluster *cluster)
{
  cluster_node_start (cluster, &cluster->nodes[0], NULL);
  for (guint i = 1; i < cluster->n_voters; i++)
    cluster_node_start (cluster, &cluster->nodes[i], cluster->nodes[0].address);
}

void
cluster_free (Cluster *cluster)
{
  for (guint i = 0; i < cluster->n_nodes; i++)
    {
      if (cluster->nodes[i].process != NULL)
        cluster_node_kill (&cluster->nodes[i]);
      g_free (cluster->nodes[i].address);
      g_free (cluster->nodes[i].dir);
    }
  rel_rm_rf (cluster->tmp);
  g_free (cluster->tmp);
  g_free (cluster->nodes);
  g_strfreev (cluster->addresses);
  g_free (cluster->address_list);
  g_free (cluster);
}

char *
cluster_target (Cluster    *cluster,
                const char *db)
{
  return g_strdup_printf ("dqlite://%s/%s", cluster->address_list, db);
}

/* Starts `msb-db node` for @node and waits for its "ready" line. */
void
cluster_node_start (Cluster     *cluster,
                    ClusterNode *node,
                    const char  *join)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = g_strdup_printf ("%" G_GUINT64_FORMAT, node->id);
  g_autofree char *line = NULL;
  const char *args[] = { "node", "--id", id, "--address", node->address, "--dir", node->dir,
                         join ? "--join" : NULL, join, NULL };

  g_assert_null (node->process);
  node->process = cluster_spawn_tool (cluster->tool, G_SUBPROCESS_FLAGS_STDOUT_PIPE, args, &error);
  g_assert_no_error (error);
  node->lines = rel_lines_new (node->process);
  line = rel_lines_next_timeout (node->lines, SLOW (READY_TIMEOUT));
  if (line == NULL || strstr (line, "ready") == NULL)
    g_error ("node %s did not say ready: %s", node->address, line ? line : "(nothing)");
}

static void
node_forget (ClusterNode *node)
{
  g_clear_pointer (&node->lines, rel_lines_free);
  g_clear_object (&node->process);
}

/* SIGTERM, and the exit status once it is gone. */
int
cluster_node_stop (ClusterNode *node)
{
  int status;

  g_subprocess_send_signal (node->process, SIGTERM);
  status = rel_child_wait (node->process, SLOW (20 * G_TIME_SPAN_SECOND));
  node_forget (node);
  return status;
}

/* SIGKILL: the node gets no chance to say goodbye to anyone. */
void
cluster_node_kill (ClusterNode *node)
{
  g_subprocess_force_exit (node->process);
  rel_child_wait (node->process, SLOW (20 * G_TIME_SPAN_SECOND));
  node_forget (node);
}

gboolean
cluster_node_running (ClusterNode *node)
{
  return node->process != NULL;
}

ClusterNode *
cluster_node_by_address (Cluster    *cluster,
                         const char *address)
{
  for (guint i = 0; i < cluster->n_nodes; i++)
    if (g_str_equal (cluster->nodes[i].address, address))
      return &cluster->nodes[i];
  g_error ("no node at %s", address);
}

MsbDbDqliteClient *
cluster_leader_client (Cluster    *cluster,
                       const char *db)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbDqliteClient) client =
    msb_db_dqlite_client_connect_leader ((const char * const *) cluster->addresses,
                                         SLOW (FIND_TIMEOUT), NULL, &error);

  g_assert_no_error (error);
  if (db != NULL)
    {
      g_autoptr(MsbDbRows) rows = NULL;

      g_assert_true (msb_db_dqlite_client_open (client, db, NULL, &error));
      g_assert_no_error (error);
      /* dqlite 1.11 prepares a statement before it waits for the log to
       * be applied: on a leader just elected, a table created lately is
       * not there yet. A query waits (a Raft barrier) before it steps:
       * the next statement is prepared with everything applied. */
      rows = msb_db_dqlite_client_query_sql (client, "SELECT 1", NULL, NULL, &error);
      g_assert_no_error (error);
    }
  return g_steal_pointer (&client);
}

void
cluster_current_leader (Cluster  *cluster,
                        guint64  *id,
                        char    **address)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cluster, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_dqlite_client_leader (client, id, address, NULL, &error));
  g_assert_no_error (error);
}

ClusterNode *
cluster_leader_node (Cluster *cluster)
{
  g_autofree char *address = NULL;
  guint64 id;

  cluster_current_leader (cluster, &id, &address);
  return cluster_node_by_address (cluster, address);
}

/* Transfers the leadership to @node, retrying while it catches up. */
void
cluster_transfer_to (Cluster     *cluster,
                     ClusterNode *node)
{
  gint64 deadline = g_get_monotonic_time () + SLOW (30 * G_TIME_SPAN_SECOND);

  for (;;)
    {
      g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cluster, NULL);
      g_autoptr(GError) error = NULL;

      if (g_str_equal (msb_db_dqlite_client_get_address (client), node->address))
        return;
      if (msb_db_dqlite_client_transfer (client, node->id, NULL, &error))
        continue;
      g_test_message ("transfer to %s: %s", node->address, error->message);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
}

/* The independent client ---------------------------------------------------- */

/* Debian's dqlite shell (package go-dqlite), as MSB_DB_DQLITE_SHELL names
 * it; NULL, and the running test skipped, when it is not installed. */
const char *
cluster_go_shell_or_skip (void)
{
  const char *shell = g_getenv ("MSB_DB_DQLITE_SHELL");

  if (shell != NULL && *shell != '\0')
    return shell;
  g_test_skip ("Debian's dqlite shell (package go-dqlite) is not installed");
  return NULL;
}

/* Reads back, with @shell, the two rows the cross-check tests write into the
 * table "cross" of @db, and asserts them. It asks the last voter: the
 * shell finds the leader by itself. */
void
cluster_assert_cross_via_go_shell (Cluster    *cluster,
                                   const char *shell,
                                   const char *db)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, shell, "-s", cluster->addresses[cluster->n_voters - 1], db,
                              "SELECT i, r, t, b, n, typeof(n) FROM cross ORDER BY rowid", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("dqlite shell: %s%s", out, err);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_cmpstr (out, ==,
                   "-9007199254740993|0.5|héllo wörld|[0 255 7]|<nil>|null\n"
                   "42|-1e+300||[]|<nil>|null\n");
}
