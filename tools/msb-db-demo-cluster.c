/* msb-db-demo-cluster.c: `msb-db demo --cluster`, the demo on three dqlite nodes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The nodes are `msb-db node` processes of this very binary, started in a
 * temporary directory (msb-db-local-cluster.c); the demo runs against
 * dqlite://…/demo. Half-way through, the leader is killed with SIGKILL,
 * and the time from its death to the next acknowledged write (the
 * failover callers saw) goes into the summary.
 */
#include <unistd.h>

#include "msb-db-demo.h"

/* The three nodes, or NULL with why not (this msb-db has no `node`). */
LocalCluster *
demo_cluster_start (GError **error)
{
#ifdef MSB_DB_HAVE_DQLITE_NODE
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  if (self == NULL)
    self = g_find_program_in_path ("msb-db");
  if (self == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "cannot find the msb-db executable to start the dqlite nodes");
      return NULL;
    }
  return local_cluster_start (self, error);
#else
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "--cluster needs `msb-db node`, and this msb-db was built without "
                       "libdqlite (install libdqlite-dev and build again)");
  return NULL;
#endif
}

/* Half-way: the leader dies without a word. */
static void
demo_kill_leader_cb (gpointer data)
{
  Demo *demo = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  gint64 now;

  if (!local_cluster_kill_leader (demo->cluster, &address, &error))
    {
      demo_error (demo, "killing the leader", error);
      return;
    }
  /* From its death: an answer it sent just before does not count. */
  now = g_get_monotonic_time ();
  g_mutex_lock (&demo->lock);
  demo->killed_us = now;
  demo->killed_node = g_steal_pointer (&address);
  g_mutex_unlock (&demo->lock);
  printf ("%sleader %s killed with SIGKILL at %.1f s\n", demo->tty ? "\r\033[K" : "",
          demo->killed_node, (now - demo->start_us) / (double) G_TIME_SPAN_SECOND);
  fflush (stdout);
}

/* Kills the leader half-way through the run. */
void
demo_cluster_schedule_kill (Demo *demo)
{
  g_timeout_add_once ((guint) (demo->seconds * 1000 / 2), demo_kill_leader_cb, demo);
}

/* Under demo->lock, for every acknowledgement: the first after the kill
 * ends the failover callers saw. */
void
demo_cluster_note_ack (Demo *demo)
{
  if (demo->killed_us != 0 && demo->failover_us == 0)
    demo->failover_us = g_get_monotonic_time () - demo->killed_us;
}

void
demo_print_failover (Demo *demo)
{
  if (demo->killed_us == 0)
    printf ("failover          the leader was not killed\n");
  else if (demo->failover_us == 0)
    printf ("failover          leader %s killed; no write acknowledged after it\n",
            demo->killed_node);
  else
    printf ("failover          leader %s killed; callers waited %" G_GINT64_FORMAT
            " ms for the next acknowledged write\n", demo->killed_node,
            demo->failover_us / G_TIME_SPAN_MILLISECOND);
}
