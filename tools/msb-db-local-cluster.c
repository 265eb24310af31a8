/* msb-db-local-cluster.c: three local dqlite nodes, for the demo and the benchmark
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Starts three `msb-db node` processes on 127.0.0.1, on free ports, with
 * their directories in a temporary directory: node 1 bootstraps, the
 * others join it; each is waited for until it says "ready". `msb-db demo
 * --cluster` runs against them and kills the leader with SIGKILL half-way;
 * the benchmark's cluster scenarios do the same, round after round, and
 * start the killed node again with its directory. Stopping sends SIGTERM
 * to the nodes still running and removes the directory.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "msb-db-local-cluster.h"

#define LOCAL_CLUSTER_NODES 3
#define READY_TIMEOUT (30 * G_TIME_SPAN_SECOND)
#define STOP_TIMEOUT (10 * G_TIME_SPAN_SECOND)
#define LEADER_TIMEOUT_S "10"

typedef struct {
  char        *address;
  char        *dir;
  GSubprocess *process;
} LocalNode;

struct _LocalCluster {
  char     *msb_db;
  char     *tmp_dir;
  char     *list;        /* the addresses, comma-separated */
  char    **addresses;
  LocalNode  nodes[LOCAL_CLUSTER_NODES];
};

/* A port nothing listens on right now. */
static guint16
free_port (GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL || !g_socket_bind (socket, any, FALSE, error))
    return 0;
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef struct {
  char    *line;
  GError  *error;
  gboolean done;
} LineRead;

static void
line_read (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  LineRead *read = data;

  read->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                          NULL, &read->error);
  read->done = TRUE;
}

static gboolean
time_is_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The first line @node prints, within READY_TIMEOUT. */
static char *
first_line (LocalNode  *node,
            GError   **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timer = g_timeout_source_new (READY_TIMEOUT / 1000);
  LineRead read = { NULL, NULL, FALSE };
  gboolean timed_out = FALSE;

  g_main_context_push_thread_default (context);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (node->process));
  g_source_set_callback (timer, time_is_up, &timed_out, NULL);
  g_source_attach (timer, context);
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, cancellable, line_read, &read);
  while (!read.done)
    {
      if (timed_out)
        g_cancellable_cancel (cancellable);
      g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timer);
  g_main_context_pop_thread_default (context);

  if (read.error != NULL)
    {
      g_propagate_error (error, read.error);
      return NULL;
    }
  if (read.line == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the node at %s exited", node->address);
  return read.line;
}

/* Starts node @index; @join: ask node 1 to add it (a new node), or not (a
 * node that comes back with its directory). */
static gboolean
start_node (LocalCluster  *self,
            guint         index,
            gboolean      join,
            GError      **error)
{
  LocalNode *node = &self->nodes[index];
  g_autofree char *id = g_strdup_printf ("%u", index + 1);
  g_autofree char *line = NULL;
  const char *argv[] = { self->msb_db, "node", "--id", id, "--address", node->address,
                         "--dir", node->dir, join ? "--join" : NULL, self->nodes[0].address, NULL };

  node->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
  if (node->process == NULL)
    return FALSE;
  line = first_line (node, error);
  if (line == NULL)
    {
      g_prefix_error (error, "The dqlite node at %s did not start: ", node->address);
      return FALSE;
    }
  if (strstr (line, "ready") == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "The dqlite node at %s did not start: %s", node->address, line);
      return FALSE;
    }
  return TRUE;
}

/**
 * local_cluster_start:
 * @msb_db: the msb-db binary that runs the nodes (`msb-db node`)
 * @error: return location for a #GError
 *
 * Starts three nodes on 127.0.0.1 in a new temporary directory.
 *
 * Returns: (transfer full): the cluster, or %NULL
 */
LocalCluster *
local_cluster_start (const char  *msb_db,
                    GError     **error)
{
  LocalCluster *self = g_new0 (LocalCluster, 1);

  self->msb_db = g_strdup (msb_db);
  self->tmp_dir = g_dir_make_tmp ("msb-db-local-cluster-XXXXXX", error);
  if (self->tmp_dir == NULL)
    {
      local_cluster_stop (self);
      return NULL;
    }
  self->addresses = g_new0 (char *, LOCAL_CLUSTER_NODES + 1);
  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    {
      g_autofree char *name = g_strdup_printf ("node%u", i + 1);
      guint16 port = free_port (error);

      if (port == 0)
        {
          local_cluster_stop (self);
          return NULL;
        }
      self->nodes[i].address = g_strdup_printf ("127.0.0.1:%u", port);
      self->nodes[i].dir = g_build_filename (self->tmp_dir, name, NULL);
      self->addresses[i] = g_strdup (self->nodes[i].address);
    }
  self->list = g_strjoinv (",", self->addresses);

  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    if (!start_node (self, i, i > 0, error))
      {
        local_cluster_stop (self);
        return NULL;
      }
  return self;
}

/* `dqlite://ADDRESS,ADDRESS,ADDRESS/@db` */
char *
local_cluster_target (LocalCluster *self,
                      const char   *db)
{
  return g_strdup_printf ("dqlite://%s/%s", self->list, db);
}

/* Starts the nodes that were killed again, each with its directory: they
 * rejoin as the members they were, and catch up. */
gboolean
local_cluster_restart (LocalCluster  *self,
                       GError      **error)
{
  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    if (self->nodes[i].process == NULL && !start_node (self, i, FALSE, error))
      return FALSE;
  return TRUE;
}

/* The leader's address, as `msb-db cluster --json` reports it (the tool
 * asks the nodes with MsbDb's own client): the one program that knows the
 * protocol, so that the benchmark, which links only the public library,
 * can use these nodes too. */
static char *
find_leader (LocalCluster  *self,
             GError       **error)
{
  const char *argv[] = { self->msb_db, "cluster", "--json", "--timeout", LEADER_TIMEOUT_S,
                         self->list, NULL };
  g_autoptr(GSubprocess) tool = NULL;
  g_autoptr(GRegex) pattern = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  tool = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            error);
  if (tool == NULL || !g_subprocess_communicate_utf8 (tool, NULL, NULL, &out, &err, error))
    return NULL;
  if (!g_subprocess_get_successful (tool))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "msb-db cluster: %s",
                   err != NULL ? g_strstrip (err) : "failed");
      return NULL;
    }
  /* {"leader":{"id":N,"address":"IPV4:PORT"},"nodes":[...]} */
  pattern = g_regex_new ("\"leader\":\\{\"id\":[0-9]+,\"address\":\"([^\"]+)\"", 0, 0, NULL);
  if (!g_regex_match (pattern, out, 0, &match))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "msb-db cluster named no leader: %s", out);
      return NULL;
    }
  return g_match_info_fetch (match, 1);
}

/**
 * local_cluster_kill_leader:
 * @self: a cluster
 * @address: (out) (optional) (transfer full): the address of the node killed
 * @error: return location for a #GError
 *
 * Kills the current leader with SIGKILL: no goodbye to anyone.
 *
 * Returns: %TRUE if a leader was found and killed
 */
gboolean
local_cluster_kill_leader (LocalCluster  *self,
                           char         **address,
                           GError       **error)
{
  g_autofree char *leader = find_leader (self, error);

  if (leader == NULL)
    return FALSE;
  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    {
      LocalNode *node = &self->nodes[i];

      if (node->process == NULL || !g_str_equal (node->address, leader))
        continue;
      g_subprocess_force_exit (node->process);
      g_subprocess_wait (node->process, NULL, NULL);
      g_clear_object (&node->process);
      if (address != NULL)
        *address = g_strdup (node->address);
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "The leader %s is not one of the local nodes", leader);
  return FALSE;
}

/* CPU time (user and system) a process has used so far, from
 * /proc/PID/stat; 0 if it cannot be read. */
static gint64
process_cpu_ns (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  const char *after_name;
  unsigned long long utime, stime;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after_name = strrchr (text, ')')) == NULL)
    return 0;
  /* After "pid (name)": state, then fields 4..13, then utime and stime. */
  if (sscanf (after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
              &utime, &stime) != 2)
    return 0;
  return (gint64) ((utime + stime) * (1e9 / sysconf (_SC_CLK_TCK)));
}

/* The CPU time the running nodes have used so far, all together (for the
 * benchmark: a cluster's cost is mostly the nodes'). */
gint64
local_cluster_cpu_ns (LocalCluster *self)
{
  gint64 total = 0;

  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    if (self->nodes[i].process != NULL && g_subprocess_get_identifier (self->nodes[i].process) != NULL)
      total += process_cpu_ns (g_subprocess_get_identifier (self->nodes[i].process));
  return total;
}

/* Removes @path and everything below it; symbolic links are removed, not
 * followed. Also the benchmark's, for the directories of the Go peer's
 * nodes. */
void
local_cluster_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        local_cluster_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

typedef struct {
  gboolean done;
  gboolean exited;
} Wait;

static void
exited (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Wait *wait = data;

  wait->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  wait->done = TRUE;
}

/* Waits for @process to exit, at most @timeout; FALSE if it did not. */
static gboolean
wait_exit (GSubprocess *process,
           GTimeSpan    timeout)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timer = g_timeout_source_new (timeout / 1000);
  Wait wait = { FALSE, FALSE };
  gboolean timed_out = FALSE;

  g_main_context_push_thread_default (context);
  g_source_set_callback (timer, time_is_up, &timed_out, NULL);
  g_source_attach (timer, context);
  g_subprocess_wait_async (process, cancellable, exited, &wait);
  while (!wait.done)
    {
      if (timed_out)
        g_cancellable_cancel (cancellable);
      g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timer);
  g_main_context_pop_thread_default (context);
  return wait.exited;
}

/* SIGTERM to the nodes still running, then the directory goes. */
void
local_cluster_stop (LocalCluster *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    if (self->nodes[i].process != NULL)
      g_subprocess_send_signal (self->nodes[i].process, SIGTERM);
  for (guint i = 0; i < LOCAL_CLUSTER_NODES; i++)
    {
      LocalNode *node = &self->nodes[i];

      if (node->process != NULL && !wait_exit (node->process, STOP_TIMEOUT))
        {
          g_subprocess_force_exit (node->process);
          g_subprocess_wait (node->process, NULL, NULL);
        }
      g_clear_object (&node->process);
      g_free (node->address);
      g_free (node->dir);
    }
  if (self->tmp_dir != NULL)
    local_cluster_remove_tree (self->tmp_dir);
  g_free (self->tmp_dir);
  g_free (self->msb_db);
  g_free (self->list);
  g_strfreev (self->addresses);
  g_free (self);
}
