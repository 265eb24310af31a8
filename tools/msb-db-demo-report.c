/* msb-db-demo-report.c: what `msb-db demo` prints
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A banner with the settings, a progress line while the demo runs (rewritten in place on a terminal,
 * one per second otherwise), then a summary: the operations of this process
 * and of the others, throughput, busy retries, pool timeouts, the WAL, the
 * errors, what the verification found, and the result.
 */
#include "msb-db-demo.h"

/* What the demo is about to do, and where. */
void
demo_print_banner (Demo *demo)
{
  printf ("MsbDb %s demo: %g s, %d reader thread%s, %d writer thread%s, async calls from the"
          " main loop, %d other process%s writing the same file\n",
          MSB_DB_VERSION_S, demo->seconds, demo->readers, demo->readers == 1 ? "" : "s",
          demo->writers, demo->writers == 1 ? "" : "s",
          demo->processes, demo->processes == 1 ? "" : "es");
  printf ("database: %s\n", demo->path);
  fflush (stdout);
}

void
demo_print_progress (Demo *demo)
{
  double elapsed = (g_get_monotonic_time () - demo->start_us) / (double) G_TIME_SPAN_SECOND;

  printf ("%s%.1f s  reads %" G_GUINT64_FORMAT "  snapshots %" G_GUINT64_FORMAT
          "  writes %" G_GUINT64_FORMAT "  transactions %" G_GUINT64_FORMAT
          "  errors %" G_GUINT64_FORMAT "%s",
          demo->tty ? "\r" : "", elapsed,
          demo_counter_get (&demo->counters.reads),
          demo_counter_get (&demo->counters.snapshots),
          demo_counter_get (&demo->counters.writes),
          demo_counter_get (&demo->counters.transactions),
          demo_counter_get (&demo->counters.errors),
          demo->tty ? "\033[K" : "\n");
  fflush (stdout);
}

static void
print_operations (Demo *demo)
{
  DemoCounters *c = &demo->counters;
  double elapsed = (demo->end_us - demo->start_us) / (double) G_TIME_SPAN_SECOND;
  guint64 child_writes = 0, child_transactions = 0;
  guint64 own_ops, child_ops;

  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);

      child_writes += demo_child_value (child, "writes");
      child_transactions += demo_child_value (child, "transactions");
    }
  own_ops = demo_counter_get (&c->reads) + demo_counter_get (&c->snapshots) +
            demo_counter_get (&c->writes) + demo_counter_get (&c->transactions);
  child_ops = child_writes + child_transactions;

  printf ("\noperations         this process   other process%s\n", demo->children->len == 1 ? "" : "es");
  printf ("  reads           %13" G_GUINT64_FORMAT "   %13s\n", demo_counter_get (&c->reads), "-");
  printf ("  snapshots       %13" G_GUINT64_FORMAT "   %13s\n", demo_counter_get (&c->snapshots), "-");
  printf ("  writes          %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT
          "   (%" G_GUINT64_FORMAT " of them async)\n",
          demo_counter_get (&c->writes), child_writes, demo_counter_get (&c->async_writes));
  printf ("  transactions    %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT
          "   (%" G_GUINT64_FORMAT " of them async)\n",
          demo_counter_get (&c->transactions), child_transactions,
          demo_counter_get (&c->async_transactions));
  printf ("  total           %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT "\n", own_ops, child_ops);
  printf ("throughput        %.0f ops/s over %.1f s\n",
          elapsed > 0 ? (own_ops + child_ops) / elapsed : 0.0, elapsed);
}

static void
print_library_counters (Demo             *demo,
                        const MsbDbStats *stats)
{
  guint64 child_busy = 0, child_timeouts = 0;
  g_autofree char *wal_size = g_format_size (stats->wal_bytes);

  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);

      child_busy += demo_child_value (child, "busy_retries");
      child_timeouts += demo_child_value (child, "pool_timeouts");
    }

  printf ("busy retries      %" G_GUINT64_FORMAT " (this process), %" G_GUINT64_FORMAT " (other)\n",
          stats->busy_retries, child_busy);
  printf ("pool timeouts     %" G_GUINT64_FORMAT " (this process), %" G_GUINT64_FORMAT " (other)\n",
          stats->pool_timeouts, child_timeouts);
  printf ("wal file          %s as last seen by the writer, %" G_GUINT64_FORMAT " checkpoints\n",
          wal_size, stats->checkpoints);
}

static void
print_verification (Demo             *demo,
                    const DemoVerify *verify)
{
  DemoCounters *c = &demo->counters;

  printf ("\nverification (the file opened again, read-only, after every writer closed)\n");
  printf ("  this process    %" G_GUINT64_FORMAT " acknowledged items, %" G_GUINT64_FORMAT
          " on disk, %" G_GUINT64_FORMAT " missing, %" G_GUINT64_FORMAT " unexpected\n",
          verify->items_acked, verify->items_found, verify->items_missing, verify->items_unexpected);
  printf ("                  %" G_GUINT64_FORMAT " acknowledged batches, %" G_GUINT64_FORMAT
          " on disk, %" G_GUINT64_FORMAT " missing, %" G_GUINT64_FORMAT " unexpected\n",
          verify->batches_acked, verify->batches_found, verify->batches_missing,
          verify->batches_unexpected);
  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);
      const char *pid = child->pid != NULL ? child->pid : "?";

      if (child->failure != NULL)
        printf ("  process %-7s FAILED: %s\n", pid, child->failure);
      else
        printf ("  process %-7s %" G_GUINT64_FORMAT " acknowledged items (ids %" G_GUINT64_FORMAT
                "..%" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " batches: all on disk\n",
                pid, demo_child_value (child, "items"), demo_child_value (child, "min_id"),
                demo_child_value (child, "max_id"), demo_child_value (child, "batches"));
    }
  printf ("  batches         %" G_GINT64_FORMAT " in the file, %" G_GINT64_FORMAT
          " without exactly %d items\n",
          verify->all_batches, verify->incomplete_batches, DEMO_ITEMS_PER_BATCH);
  printf ("  read after ack  %" G_GUINT64_FORMAT " checks, %" G_GUINT64_FORMAT " misses\n",
          demo_counter_get (&c->visibility_checks), demo_counter_get (&c->visibility_misses));
  printf ("  snapshots       %" G_GUINT64_FORMAT " checks, %" G_GUINT64_FORMAT " inconsistent\n",
          demo_counter_get (&c->snapshot_checks), demo_counter_get (&c->snapshot_violations));
  printf ("  quick_check     %s\n", verify->quick_check != NULL ? verify->quick_check : "?");
  if (demo->cluster == NULL)
    printf ("  -wal/-shm       %s\n", verify->leftovers ? "left behind by the last writer's close"
                                                        : "none left by the last writer's close");
}

/* @verify is NULL when the verification could not read the file. */
void
demo_print_summary (Demo             *demo,
                    const MsbDbStats *stats,
                    const DemoVerify *verify,
                    guint64           errors,
                    gboolean          ok)
{
  print_operations (demo);
  print_library_counters (demo, stats);
  if (demo->cluster != NULL)
    demo_print_failover (demo);
  printf ("errors            %" G_GUINT64_FORMAT "\n", errors);
  for (guint i = 0; i < demo->messages->len; i++)
    printf ("  %s\n", (const char *) g_ptr_array_index (demo->messages, i));

  if (verify != NULL)
    print_verification (demo, verify);

  printf ("\nresult: %s\n", ok ? "OK: no errors, every acknowledged write is on disk" : "FAILED");
  fflush (stdout);
}
