/* msb-db-node.c: `msb-db node`, one dqlite node in the foreground
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The node itself is libdqlite's (Raft, replication, the server); this file
 * only starts it, joins it to a cluster through MsbDb's own client, and
 * stops it on SIGINT/SIGTERM. dqlite bootstraps a new cluster on the node
 * with id 1 by itself; every other node starts empty and is added by the
 * leader (ADD, then ASSIGN as a voter), which is what --join asks for.
 * A node restarted with its directory finds its Raft state there and
 * rejoins as the member it was, without --join.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <dqlite.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "msb-db-tool.h"
#include "msb-db-dqlite-client.h"

/* dqlite derives its Raft timing from the one-way network latency: a
 * heartbeat every 1.5x, an election after 15x. 10 ms suits a LAN: a new
 * leader within a few hundred milliseconds instead of dqlite's default of
 * several seconds. */
#define DEFAULT_LATENCY_MS 10
#define DEFAULT_JOIN_TIMEOUT 30.0

typedef struct {
  gint64    id;
  char     *address;
  char     *dir;
  char     *join;
  int       latency_ms;
  double    join_timeout;
} NodeOptions;

typedef struct {
  const NodeOptions *options;
  char             **join;
  GMainLoop         *loop;
  GCancellable      *cancellable;
  GError            *join_error;
  int                status;
} NodeRun;

static void
node_options_clear (NodeOptions *options)
{
  g_clear_pointer (&options->address, g_free);
  g_clear_pointer (&options->dir, g_free);
  g_clear_pointer (&options->join, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NodeOptions, node_options_clear)

static gboolean
is_numeric_ipv4 (const char *address)
{
  g_autofree char *host = g_strndup (address, strrchr (address, ':') - address);
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (host);

  return inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4;
}

/* One "IPV4:PORT" or a list of them: dqlite refuses names. */
static char **
parse_numeric_addresses (const char  *text,
                         GError     **error)
{
  g_auto(GStrv) addresses = msb_db_dqlite_parse_addresses (text, error);

  if (addresses == NULL)
    return NULL;
  for (guint i = 0; addresses[i] != NULL; i++)
    if (!is_numeric_ipv4 (addresses[i]))
      {
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                     "“%s” is not a numeric IPv4 address: dqlite nodes only know "
                     "numeric addresses, as in 127.0.0.1:9001", addresses[i]);
        return NULL;
      }
  return g_steal_pointer (&addresses);
}

/* Creates @dir owner-only if it is missing. *@fresh tells whether it holds
 * nothing yet (no Raft state: a node that never ran there). */
static gboolean
prepare_dir (const char  *dir,
             gboolean    *fresh,
             GError     **error)
{
  g_autoptr(GDir) listing = NULL;

  if (!g_file_test (dir, G_FILE_TEST_EXISTS) && g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not create the directory “%s”: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  listing = g_dir_open (dir, 0, error);
  if (listing == NULL)
    return FALSE;
  *fresh = g_dir_read_name (listing) == NULL;
  return TRUE;
}

static const MsbDbDqliteNode *
find_member (GPtrArray *nodes,
             guint64    id)
{
  for (guint i = 0; i < nodes->len; i++)
    {
      const MsbDbDqliteNode *node = g_ptr_array_index (nodes, i);

      if (node->id == id)
        return node;
    }
  return NULL;
}

/* One attempt: find the leader, add this node unless it is a member, and
 * make it a voter unless it is one. Safe to repeat. */
static gboolean
join_once (NodeRun  *run,
           gint64    deadline,
           GError  **error)
{
  const NodeOptions *options = run->options;
  g_autoptr(MsbDbDqliteClient) client = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  const MsbDbDqliteNode *member;
  GTimeSpan left = deadline - g_get_monotonic_time ();

  if (left <= 0)
    left = 1;
  client = msb_db_dqlite_client_connect_leader ((const char * const *) run->join, left,
                                                run->cancellable, error);
  if (client == NULL)
    return FALSE;
  nodes = msb_db_dqlite_client_cluster (client, run->cancellable, error);
  if (nodes == NULL)
    return FALSE;

  member = find_member (nodes, (guint64) options->id);
  if (member != NULL && !g_str_equal (member->address, options->address))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "Node %" G_GINT64_FORMAT " is already a member at %s, not %s: give this "
                   "node another --id", options->id, member->address, options->address);
      return FALSE;
    }
  if (member == NULL &&
      !msb_db_dqlite_client_add (client, (guint64) options->id, options->address,
                                 run->cancellable, error))
    return FALSE;
  if ((member == NULL || member->role != MSB_DB_DQLITE_ROLE_VOTER) &&
      !msb_db_dqlite_client_assign (client, (guint64) options->id, MSB_DB_DQLITE_ROLE_VOTER,
                                    run->cancellable, error))
    return FALSE;
  return TRUE;
}

/* The leader has made this node a voter; the node itself learns it a
 * moment later. "ready" waits for that, so that a script that goes on at
 * once finds every node naming the leader. */
static gboolean
wait_until_member (NodeRun  *run,
                   gint64    deadline,
                   GError  **error)
{
  const char *address = run->options->address;

  for (;;)
    {
      g_autoptr(MsbDbDqliteClient) client = NULL;
      g_autofree char *leader = NULL;
      GTimeSpan left = deadline - g_get_monotonic_time ();
      guint64 id = 0;

      if (left <= 0)
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                       "Added to the cluster, but the node did not learn its leader in time");
          return FALSE;
        }
      client = msb_db_dqlite_client_connect (address, left, run->cancellable, error);
      if (client == NULL)
        return FALSE;
      msb_db_dqlite_client_set_timeout (client, left);
      if (!msb_db_dqlite_client_leader (client, &id, &leader, run->cancellable, error))
        return FALSE;
      if (id != 0)
        return TRUE;
      g_usleep (20 * G_TIME_SPAN_MILLISECOND);
    }
}

/* Retries while the cluster is busy (one configuration change at a time),
 * electing, or changing leader. */
static gboolean
join_cluster (NodeRun  *run,
              GError  **error)
{
  gint64 deadline = g_get_monotonic_time () +
                    msb_tool_seconds_to_timespan (run->options->join_timeout);
  GTimeSpan pause = 100 * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      GError *local_error = NULL;

      if (join_once (run, deadline, &local_error))
        return wait_until_member (run, deadline, error);
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          g_error_matches (local_error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT) ||
          g_get_monotonic_time () + pause >= deadline)
        {
          g_propagate_prefixed_error (error, local_error, "Could not join the cluster: ");
          return FALSE;
        }
      g_debug ("Joining: %s; trying again", local_error->message);
      g_error_free (local_error);
      if (g_cancellable_is_cancelled (run->cancellable))
        continue;
      g_usleep (pause);
      pause = MIN (pause * 2, G_TIME_SPAN_SECOND);
    }
}

static void
say_ready (const NodeOptions *options)
{
  printf ("ready: node %" G_GINT64_FORMAT " serves at %s\n", options->id, options->address);
  fflush (stdout);
}

static gboolean
join_done (gpointer data)
{
  NodeRun *run = data;

  if (run->join_error != NULL)
    {
      if (!g_error_matches (run->join_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          msb_tool_print_error ("msb-db node", run->join_error);
          run->status = MSB_TOOL_EXIT_FAILURE;
        }
      g_main_loop_quit (run->loop);
    }
  else
    say_ready (run->options);
  return G_SOURCE_REMOVE;
}

static gpointer
join_thread (gpointer data)
{
  NodeRun *run = data;

  join_cluster (run, &run->join_error);
  g_main_context_invoke (NULL, join_done, run);
  return NULL;
}

static gboolean
on_stop_signal (gpointer data)
{
  NodeRun *run = data;

  g_cancellable_cancel (run->cancellable);
  g_main_loop_quit (run->loop);
  return G_SOURCE_CONTINUE;
}

static int
check_options (NodeOptions *options,
               char      ***join)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) address = NULL;

  if (options->id < 1)
    return msb_tool_usage_error ("node", "--id takes a node id of 1 or more");
  if (options->address == NULL || options->dir == NULL)
    return msb_tool_usage_error ("node", "--id, --address and --dir are required");
  address = parse_numeric_addresses (options->address, &error);
  if (address == NULL || address[1] != NULL)
    return msb_tool_usage_error ("node", error != NULL ? error->message
                                 : "--address takes one IPV4:PORT");
  if (options->latency_ms < 1 || options->latency_ms > 3600000)
    return msb_tool_usage_error ("node", "--network-latency-ms takes 1 to 3600000");
  if (!(options->join_timeout > 0 && options->join_timeout <= 86400))
    return msb_tool_usage_error ("node", "--join-timeout takes 0 to 86400 seconds");
  if (options->join != NULL)
    {
      *join = parse_numeric_addresses (options->join, &error);
      if (*join == NULL)
        return msb_tool_usage_error ("node", error->message);
      if (options->id == 1)
        return msb_tool_usage_error ("node", "node 1 bootstraps a new cluster by itself "
                                     "and cannot --join one: give it another --id");
    }
  return MSB_TOOL_EXIT_OK;
}

/* How long a node waits for a connection to another node to open. */
#define PEER_CONNECT_TIMEOUT_MS 5000

/* dqlite's Raft traffic between nodes goes over connections this function
 * opens (each node sends over its own outgoing connections). dqlite's own
 * default leaves Nagle's algorithm on: a small AppendEntries or its answer
 * can then wait for the peer's delayed ACK, some 40 ms, and a commit with
 * it. With TCP_NODELAY every message leaves at once. @address is a
 * numeric "IPv4:PORT" (checked by --address and --join). Returns 0, or
 * non-zero when the peer cannot be reached. */
static int
connect_to_peer (void       *data,
                 const char *address,
                 int        *fd)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (address, ':');
  struct sockaddr_in peer = { 0 };
  struct pollfd pfd;
  int s, error = 0, one = 1;
  socklen_t length = sizeof error;
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return 1;
  host = g_strndup (address, colon - address);
  peer.sin_family = AF_INET;
  peer.sin_port = htons ((guint16) port);
  if (inet_pton (AF_INET, host, &peer.sin_addr) != 1)
    return 1;

  s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0)
    return 1;
  if (connect (s, (struct sockaddr *) &peer, sizeof peer) != 0 && errno != EINPROGRESS)
    goto failed;
  pfd = (struct pollfd) { .fd = s, .events = POLLOUT };
  if (poll (&pfd, 1, PEER_CONNECT_TIMEOUT_MS) != 1 ||
      getsockopt (s, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0)
    goto failed;
  /* dqlite uses the descriptor as a blocking one. */
  if (fcntl (s, F_SETFL, fcntl (s, F_GETFL) & ~O_NONBLOCK) != 0)
    goto failed;
  setsockopt (s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *fd = s;
  return 0;

failed:
  close (s);
  return 1;
}

static dqlite_node *
start_node (const NodeOptions  *options,
            GError            **error)
{
  dqlite_node *node = NULL;
  int rv;

  rv = dqlite_node_create ((dqlite_node_id) options->id, options->address, options->dir, &node);
  if (rv != 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "Could not create the dqlite node: %s (error %d)",
                   node != NULL ? dqlite_node_errmsg (node) : "", rv);
      dqlite_node_destroy (node);
      return NULL;
    }
  if ((rv = dqlite_node_set_bind_address (node, options->address)) != 0 ||
      (rv = dqlite_node_set_connect_func (node, connect_to_peer, NULL)) != 0 ||
      (rv = dqlite_node_set_network_latency_ms (node, (unsigned) options->latency_ms)) != 0 ||
      (rv = dqlite_node_start (node)) != 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "Could not start the dqlite node at %s: %s (error %d)", options->address,
                   dqlite_node_errmsg (node), rv);
      dqlite_node_destroy (node);
      return NULL;
    }
  return node;
}

int
msb_tool_node (int    argc,
               char **argv)
{
  g_auto(NodeOptions) options = { .latency_ms = DEFAULT_LATENCY_MS,
                                  .join_timeout = DEFAULT_JOIN_TIMEOUT };
  GOptionEntry entries[] = {
    { "id", 0, 0, G_OPTION_ARG_INT64, &options.id,
      "This node's id in the cluster (1 bootstraps a new cluster)", "ID" },
    { "address", 0, 0, G_OPTION_ARG_STRING, &options.address,
      "Where this node serves clients and other nodes", "IPV4:PORT" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &options.dir,
      "This node's data directory (created owner-only if missing)", "DIR" },
    { "join", 0, 0, G_OPTION_ARG_STRING, &options.join,
      "Ask the leader of the cluster these nodes belong to to add this node", "IPV4:PORT[,…]" },
    { "network-latency-ms", 0, 0, G_OPTION_ARG_INT, &options.latency_ms,
      "One-way network latency Raft's timing is derived from (default: 10)", "N" },
    { "join-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.join_timeout,
      "Give up joining after this long (default: 30)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_auto(GStrv) args = g_strdupv (argv);
  g_auto(GStrv) join = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  GThread *joiner = NULL;
  dqlite_node *node;
  gboolean fresh;
  NodeRun run = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Run one dqlite node of a cluster in the foreground, until SIGINT or SIGTERM.\n"
    "The node with id 1 bootstraps a new cluster; start the others with --join.\n"
    "Prints a line with “ready” on stdout once the node serves (with --join: once\n"
    "it is a voter and knows the leader).");
  g_option_context_set_description (context,
    "Example, three nodes on one machine:\n"
    "  msb-db node --id 1 --address 127.0.0.1:9001 --dir /var/lib/app/n1\n"
    "  msb-db node --id 2 --address 127.0.0.1:9002 --dir /var/lib/app/n2 --join 127.0.0.1:9001\n"
    "  msb-db node --id 3 --address 127.0.0.1:9003 --dir /var/lib/app/n3 --join 127.0.0.1:9001\n"
    "A node restarted with the same --id, --address and --dir rejoins as the\n"
    "member it was (no --join needed). Addresses are numeric IPv4: dqlite\n"
    "refuses host names.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("node", error->message);
  if (g_strv_length (args) > 1)
    return msb_tool_usage_error ("node", "unexpected argument");
  status = check_options (&options, &join);
  if (status != MSB_TOOL_EXIT_OK)
    return status;

  /* A client that hangs up mid-response must not kill the node. */
  signal (SIGPIPE, SIG_IGN);

  if (!prepare_dir (options.dir, &fresh, &error))
    {
      msb_tool_print_error ("msb-db node", error);
      return MSB_TOOL_EXIT_FAILURE;
    }
  if (fresh && options.id != 1 && join == NULL)
    return msb_tool_usage_error ("node", "a new node other than node 1 needs --join to be "
                                 "added to a cluster (its directory holds no earlier state)");

  node = start_node (&options, &error);
  if (node == NULL)
    {
      msb_tool_print_error ("msb-db node", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  cancellable = g_cancellable_new ();
  run = (NodeRun) { &options, join, loop, cancellable, NULL, MSB_TOOL_EXIT_OK };
  g_unix_signal_add (SIGINT, on_stop_signal, &run);
  g_unix_signal_add (SIGTERM, on_stop_signal, &run);

  if (join != NULL)
    joiner = g_thread_new ("msb-db-join", join_thread, &run);
  else
    say_ready (&options);

  g_main_loop_run (loop);

  g_cancellable_cancel (cancellable);
  if (joiner != NULL)
    g_thread_join (joiner);
  g_clear_error (&run.join_error);
  dqlite_node_stop (node);
  dqlite_node_destroy (node);
  return run.status;
}
