/* msb-db-stats.c: counters of an MsbDbPools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-stats-private.h"

G_DEFINE_BOXED_TYPE (MsbDbStats, msb_db_stats, msb_db_stats_copy, msb_db_stats_free)

/**
 * msb_db_stats_copy:
 * @stats: a #MsbDbStats
 *
 * Copies @stats.
 *
 * Returns: (transfer full): a new #MsbDbStats
 */
MsbDbStats *
msb_db_stats_copy (const MsbDbStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);

  return g_memdup2 (stats, sizeof *stats);
}

/**
 * msb_db_stats_free:
 * @stats: (transfer full): a #MsbDbStats
 *
 * Frees a #MsbDbStats returned by [method@MsbDb.Pools.get_stats].
 */
void
msb_db_stats_free (MsbDbStats *stats)
{
  g_free (stats);
}

/* The live counters are shared by the pools object, its writer thread and
 * its read workers. Each counter is a relaxed atomic: they are independent
 * tallies, and a copy only needs each field to be a value it once had. */
struct _MsbDbCounters
{
  gatomicrefcount ref_count;
  MsbDbStats stats;
};

MsbDbCounters *
msb_db_counters_new (void)
{
  MsbDbCounters *self = g_new0 (MsbDbCounters, 1);

  g_atomic_ref_count_init (&self->ref_count);
  return self;
}

MsbDbCounters *
msb_db_counters_ref (MsbDbCounters *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
msb_db_counters_unref (MsbDbCounters *self)
{
  if (g_atomic_ref_count_dec (&self->ref_count))
    g_free (self);
}

guint64 *
msb_db_counters_field (MsbDbCounters *self,
                       gsize          offset)
{
  return (guint64 *) (gpointer) ((guint8 *) &self->stats + offset);
}

void
msb_db_counters_add_at (MsbDbCounters *self,
                        gsize          offset,
                        guint64        n)
{
  __atomic_fetch_add (msb_db_counters_field (self, offset), n, __ATOMIC_RELAXED);
}

void
msb_db_counters_set_at (MsbDbCounters *self,
                        gsize          offset,
                        guint64        value)
{
  __atomic_store_n (msb_db_counters_field (self, offset), value, __ATOMIC_RELAXED);
}

void
msb_db_counters_snapshot (MsbDbCounters *self,
                          MsbDbStats    *out)
{
  const gsize n = sizeof (MsbDbStats) / sizeof (guint64);
  guint64 *dst = (guint64 *) (gpointer) out;

  for (gsize i = 0; i < n; i++)
    dst[i] = __atomic_load_n (msb_db_counters_field (self, i * sizeof (guint64)), __ATOMIC_RELAXED);
}
