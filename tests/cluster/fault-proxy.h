/* fault-proxy.h: a TCP proxy in front of a dqlite node that loses a COMMIT
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  FAULT_NONE,
  FAULT_DROP_COMMIT,          /* the COMMIT never reaches the node */
  FAULT_DROP_COMMIT_ANSWER,   /* the node commits; its answer never arrives */
} FaultMode;

typedef struct _FaultProxy FaultProxy;

FaultProxy *fault_proxy_new         (const char *upstream);
const char *fault_proxy_get_address (FaultProxy *self);
void        fault_proxy_arm         (FaultProxy *self,
                                     FaultMode   mode,
                                     gboolean    refuse_after);
guint       fault_proxy_get_fired   (FaultProxy *self);
void        fault_proxy_stall       (FaultProxy *self,
                                     gboolean    stalled);
void        fault_proxy_free        (FaultProxy *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FaultProxy, fault_proxy_free)

G_END_DECLS
