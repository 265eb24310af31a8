/* msb-db-stats-private.h: live, thread-safe counters behind MsbDbStats
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-stats.h"

G_BEGIN_DECLS

typedef struct _MsbDbCounters MsbDbCounters;

MsbDbCounters *msb_db_counters_new      (void);
MsbDbCounters *msb_db_counters_ref      (MsbDbCounters *self);
void           msb_db_counters_unref    (MsbDbCounters *self);
guint64       *msb_db_counters_field    (MsbDbCounters *self,
                                         gsize          offset);
void           msb_db_counters_snapshot (MsbDbCounters *self,
                                         MsbDbStats    *out);

void           msb_db_counter_add       (guint64       *counter,
                                         guint64        n);
void           msb_db_counter_set       (guint64       *counter,
                                         guint64        value);

/* The live counter of @field (a field name of MsbDbStats). */
#define MSB_DB_COUNTER(counters, field) \
  msb_db_counters_field ((counters), G_STRUCT_OFFSET (MsbDbStats, field))
#define MSB_DB_COUNT(counters, field) \
  msb_db_counter_add (MSB_DB_COUNTER (counters, field), 1)
#define MSB_DB_COUNT_N(counters, field, n) \
  msb_db_counter_add (MSB_DB_COUNTER (counters, field), (n))
#define MSB_DB_COUNTER_SET(counters, field, value) \
  msb_db_counter_set (MSB_DB_COUNTER (counters, field), (value))

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbCounters, msb_db_counters_unref)

G_END_DECLS
