/* run-on-cluster.c: runs a test program against a fresh three-node cluster
 *
 *   run-on-cluster PROGRAM [ARGUMENT…]
 *
 * Starts three `msb-db node` processes on 127.0.0.1 (free ports, a
 * temporary directory), runs PROGRAM with MSB_DB_TEST_CLUSTER set to their
 * addresses ("127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"), passes its output
 * through, stops the nodes and exits with PROGRAM's status. The core suites
 * read MSB_DB_TEST_CLUSTER in their fixture (tests/core/test-common.c) and
 * then open `dqlite://…/NAME`, a database of its own for every test,
 * instead of a file: the same test bodies, run against both targets.
 *
 * Environment: MSB_DB_TOOL, the msb-db binary.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>

#include "cluster-nodes.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) program = NULL;
  g_autoptr(GError) error = NULL;
  Cluster *cluster;
  int status;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: run-on-cluster PROGRAM [ARGUMENT…]\n");
      return 2;
    }
  /* A node killed mid-response must not kill the runner. */
  signal (SIGPIPE, SIG_IGN);

  cluster = cluster_new (3, 0);
  cluster_start (cluster);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "MSB_DB_TEST_CLUSTER", cluster->address_list, TRUE);
  program = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv + 1, &error);
  if (program == NULL)
    {
      fprintf (stderr, "run-on-cluster: %s\n", error->message);
      cluster_free (cluster);
      return 1;
    }
  g_subprocess_wait (program, NULL, &error);
  g_assert_no_error (error);
  status = g_subprocess_get_if_exited (program) ? g_subprocess_get_exit_status (program)
                                                : 128 + g_subprocess_get_term_sig (program);

  for (guint i = 0; i < cluster->n_nodes; i++)
    if (cluster_node_running (&cluster->nodes[i]) &&
        !g_spawn_check_wait_status (cluster_node_stop (&cluster->nodes[i]), &error))
      {
        fprintf (stderr, "run-on-cluster: node %u did not stop cleanly: %s\n", i + 1,
                 error->message);
        g_clear_error (&error);
        status = status != 0 ? status : 1;
      }
  cluster_free (cluster);
  return status;
}
