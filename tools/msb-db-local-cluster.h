/* msb-db-local-cluster.h: three local dqlite nodes, for the demo and the benchmark
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _LocalCluster LocalCluster;

LocalCluster *local_cluster_start       (const char   *msb_db,
                                       GError      **error);
char        *local_cluster_target     (LocalCluster  *self,
                                       const char   *db);
gboolean     local_cluster_kill_leader (LocalCluster  *self,
                                       char        **address,
                                       GError      **error);
gboolean     local_cluster_restart    (LocalCluster  *self,
                                       GError      **error);
gint64       local_cluster_cpu_ns     (LocalCluster  *self);
void         local_cluster_stop        (LocalCluster  *self);

void         local_cluster_remove_tree (const char   *path);

G_END_DECLS
