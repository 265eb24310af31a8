/* cluster-nodes.h: real dqlite nodes (`msb-db node` processes) for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "msb-db-dqlite-client.h"
#include "../reliability/rel-util.h"

G_BEGIN_DECLS

typedef struct {
  guint64      id;
  char        *address;
  char        *dir;
  GSubprocess *process;
  RelLines    *lines;
} ClusterNode;

/* @n_voters nodes on 127.0.0.1 (free ports) with their directories in a
 * temporary directory, and @n_spare more that are only started when a
 * test says so. Every node dies with the test process (PR_SET_PDEATHSIG). */
typedef struct {
  const char   *tool;        /* the msb-db binary, from MSB_DB_TOOL */
  char         *tmp;
  guint         n_voters;
  guint         n_nodes;
  ClusterNode  *nodes;
  char        **addresses;   /* of the voters, NULL-terminated */
  char         *address_list;  /* the same, comma-separated */
} Cluster;

guint16             cluster_free_port        (void);
GSubprocess        *cluster_spawn_tool       (const char          *tool,
                                              GSubprocessFlags     flags,
                                              const char * const  *args,
                                              GError             **error);

Cluster            *cluster_new              (guint                n_voters,
                                              guint                n_spare);
void                cluster_start            (Cluster             *cluster);
void                cluster_free             (Cluster             *cluster);
char               *cluster_target           (Cluster             *cluster,
                                              const char          *db);

void                cluster_node_start       (Cluster             *cluster,
                                              ClusterNode         *node,
                                              const char          *join);
int                 cluster_node_stop        (ClusterNode         *node);
void                cluster_node_kill        (ClusterNode         *node);
gboolean            cluster_node_running     (ClusterNode         *node);
ClusterNode        *cluster_node_by_address  (Cluster             *cluster,
                                              const char          *address);

MsbDbDqliteClient  *cluster_leader_client    (Cluster             *cluster,
                                              const char          *db);
void                cluster_current_leader   (Cluster             *cluster,
                                              guint64             *id,
                                              char               **address);
ClusterNode        *cluster_leader_node      (Cluster             *cluster);
void                cluster_transfer_to      (Cluster             *cluster,
                                              ClusterNode         *node);

const char         *cluster_go_shell_or_skip (void);
void                cluster_assert_cross_via_go_shell (Cluster     *cluster,
                                                       const char  *shell,
                                                       const char  *db);

G_END_DECLS
