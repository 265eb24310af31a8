/* msb-db-demo-cluster.h: three local dqlite nodes for `msb-db demo --cluster`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DemoCluster DemoCluster;

DemoCluster *demo_cluster_start       (const char   *msb_db,
                                       GError      **error);
const char  *demo_cluster_get_target  (DemoCluster  *self);
gboolean     demo_cluster_kill_leader (DemoCluster  *self,
                                       char        **address,
                                       GError      **error);
void         demo_cluster_stop        (DemoCluster  *self);

G_END_DECLS
