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
 * its read workers. Each counter is an independent tally, updated
 * atomically; a copy only needs each field to be a value it once had.
 * GLib's atomics for a 64-bit value are its pointer-sized ones, so where
 * a pointer is smaller a lock takes their place. */
struct _MsbDbCounters
{
  MsbDbStats stats;
};

#if GLIB_SIZEOF_SIZE_T < 8
G_LOCK_DEFINE_STATIC (counters);
#endif

MsbDbCounters *
msb_db_counters_new (void)
{
  return g_atomic_rc_box_new0 (MsbDbCounters);
}

MsbDbCounters *
msb_db_counters_ref (MsbDbCounters *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
msb_db_counters_unref (MsbDbCounters *self)
{
  g_atomic_rc_box_release (self);
}

guint64 *
msb_db_counters_field (MsbDbCounters *self,
                       gsize          offset)
{
  return (guint64 *) (gpointer) ((guint8 *) &self->stats + offset);
}

void
msb_db_counter_add (guint64 *counter,
                    guint64  n)
{
#if GLIB_SIZEOF_SIZE_T >= 8
  g_atomic_pointer_add ((gsize *) counter, (gssize) n);
#else
  G_LOCK (counters);
  *counter += n;
  G_UNLOCK (counters);
#endif
}

void
msb_db_counter_set (guint64 *counter,
                    guint64  value)
{
#if GLIB_SIZEOF_SIZE_T >= 8
  g_atomic_pointer_set ((gsize *) counter, (gsize) value);
#else
  G_LOCK (counters);
  *counter = value;
  G_UNLOCK (counters);
#endif
}

static guint64
counter_get (guint64 *counter)
{
#if GLIB_SIZEOF_SIZE_T >= 8
  return (guint64) (gsize) g_atomic_pointer_get ((gsize *) counter);
#else
  guint64 value;

  G_LOCK (counters);
  value = *counter;
  G_UNLOCK (counters);
  return value;
#endif
}

void
msb_db_counters_snapshot (MsbDbCounters *self,
                          MsbDbStats    *out)
{
  const gsize n = sizeof (MsbDbStats) / sizeof (guint64);
  guint64 *dst = (guint64 *) (gpointer) out;

  for (gsize i = 0; i < n; i++)
    dst[i] = counter_get (msb_db_counters_field (self, i * sizeof (guint64)));
}
