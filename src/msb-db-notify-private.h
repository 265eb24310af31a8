/* msb-db-notify-private.h: MsbDbPools::changed, inside the pools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-backend.h"
#include "msb-db-pools.h"

G_BEGIN_DECLS

typedef struct _MsbDbNotify MsbDbNotify;

void         msb_db_notify_class_init        (GObjectClass     *klass);

MsbDbNotify *msb_db_notify_new               (MsbDbPools       *pools);
MsbDbNotify *msb_db_notify_ref               (MsbDbNotify      *self);
void         msb_db_notify_unref             (MsbDbNotify      *self);

void         msb_db_notify_take_baseline     (MsbDbNotify      *self,
                                              MsbDbBackendConn *writer_conn);
void         msb_db_notify_start             (MsbDbNotify      *self);
void         msb_db_notify_stop              (MsbDbNotify      *self);

GTimeSpan    msb_db_notify_get_poll_interval (MsbDbNotify      *self);
void         msb_db_notify_set_poll_interval (MsbDbNotify      *self,
                                              GTimeSpan         interval);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbNotify, msb_db_notify_unref)

G_END_DECLS
