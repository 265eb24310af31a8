/* msb-db-demo-workload.c: what the demo process does with its MsbDbPools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *  - writer threads mix blocking single-statement writes
 *    (INSERT ... RETURNING id) and blocking transactions (a batch row and
 *    three item rows);
 *  - reader threads call msb_db_pools_read() and msb_db_pools_snapshot(),
 *    and check what they see: the last acknowledged row is visible to a read
 *    started after the acknowledgement, and inside a snapshot every batch
 *    has its three items (a transaction is all or nothing);
 *  - the main loop keeps a few asynchronous calls in flight
 *    (write_async, transaction_async, read_async).
 *
 * Every acknowledged id is recorded with demo_ack(), for the verification.
 */
#include "msb-db-demo.h"

/* ---- writer threads -------------------------------------------------------- */

static void
demo_write_item (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 id;

  rows = msb_db_pools_write (demo->pools, SQL_INSERT_ITEM,
                             demo_item_params (demo->label, 0, demo_next_sequence (demo)),
                             NULL, &error);
  if (!demo_returned_id (rows, &id, &error))
    {
      demo_error (demo, "write", error);
      return;
    }
  demo_count (&demo->counters.writes);
  demo_ack (demo, 0, &id, 1);
}

static void
demo_write_batch (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DemoBatch) batch = demo_batch_new (demo->label, demo_next_sequence (demo));

  if (!msb_db_pools_transaction (demo->pools, demo_batch_func, batch, NULL, &error))
    {
      demo_error (demo, "transaction", error);
      return;
    }
  demo_count (&demo->counters.transactions);
  demo_ack (demo, batch->batch_id, batch->item_ids, DEMO_ITEMS_PER_BATCH);
}

/* Back in the main thread: one thread fewer to wait for. */
static void
demo_thread_done (gpointer data)
{
  Demo *demo = data;

  demo->threads_running--;
  demo_quit_when_done (demo);
}

/* Two single writes, then one transaction, until the time is up. */
static gpointer
demo_writer_thread (gpointer data)
{
  Demo *demo = data;

  for (guint n = 0; !demo_should_stop (demo); n++)
    {
      if (n % 3 == 2)
        demo_write_batch (demo);
      else
        demo_write_item (demo);
    }
  g_idle_add_once (demo_thread_done, demo);
  return NULL;
}

/* ---- reader threads -------------------------------------------------------- */

/* A write acknowledged before a read starts must be visible to that read. */
static void
demo_check_visibility (Demo   *demo,
                       gint64  id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (demo->pools, "SELECT count(*) FROM demo_items WHERE id = ?",
                            g_variant_new ("(x)", id), NULL, &error);
  if (rows == NULL)
    {
      demo_error (demo, "read", error);
      return;
    }
  demo_count (&demo->counters.reads);
  demo_count (&demo->counters.visibility_checks);
  if (msb_db_rows_get_int64 (rows, 0, 0) != 1)
    {
      g_autofree char *message = NULL;

      demo_count (&demo->counters.visibility_misses);
      message = g_strdup_printf ("acknowledged item %" G_GINT64_FORMAT
                                 " not visible to a later read", id);
      demo_problem (demo, message);
    }
}

static void
demo_read_recent (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (demo->pools,
                            "SELECT id, writer, payload, data FROM demo_items ORDER BY id DESC LIMIT 20",
                            NULL, NULL, &error);
  if (rows == NULL)
    demo_error (demo, "read", error);
  else
    demo_count (&demo->counters.reads);
}

typedef struct {
  gint64 batches;
  gint64 batch_items;
} SnapshotCounts;

static gboolean
count_func (MsbDbConnection  *connection,
            const char       *sql,
            gint64           *count,
            GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, sql, NULL, error);

  if (rows == NULL)
    return FALSE;
  *count = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

/* Two statements, one snapshot: they must agree. */
static gboolean
demo_snapshot_func (MsbDbConnection  *connection,
                    gpointer          user_data,
                    GError          **error)
{
  SnapshotCounts *counts = user_data;

  return count_func (connection, "SELECT count(*) FROM demo_batches", &counts->batches, error) &&
         count_func (connection, "SELECT count(*) FROM demo_items WHERE batch_id IS NOT NULL",
                     &counts->batch_items, error);
}

static void
demo_check_snapshot (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  SnapshotCounts counts = { 0 };

  if (!msb_db_pools_snapshot (demo->pools, demo_snapshot_func, &counts, NULL, &error))
    {
      demo_error (demo, "snapshot", error);
      return;
    }
  demo_count (&demo->counters.snapshots);
  demo_count (&demo->counters.snapshot_checks);
  if (counts.batch_items != counts.batches * DEMO_ITEMS_PER_BATCH)
    {
      g_autofree char *message = NULL;

      demo_count (&demo->counters.snapshot_violations);
      message = g_strdup_printf ("a snapshot saw %" G_GINT64_FORMAT " batches but %" G_GINT64_FORMAT
                                 " batch items", counts.batches, counts.batch_items);
      demo_problem (demo, message);
    }
}

/* In turn: a read of the last acknowledged item, a read of the latest rows,
 * a snapshot, until the time is up. */
static gpointer
demo_reader_thread (gpointer data)
{
  Demo *demo = data;

  for (guint n = 0; !demo_should_stop (demo); n++)
    {
      gint64 id;

      switch (n % 3)
        {
        case 0:
          id = demo_last_acked_item (demo);
          if (id > 0)
            {
              demo_check_visibility (demo, id);
              break;
            }
          G_GNUC_FALLTHROUGH;
        case 1:
          demo_read_recent (demo);
          break;
        default:
          demo_check_snapshot (demo);
          break;
        }
    }
  g_idle_add_once (demo_thread_done, demo);
  return NULL;
}

/* ---- async calls from the main loop --------------------------------------- */

static void demo_async_issue (Demo *demo);

/* Each finished call starts the next one until the time is up. */
static void
demo_async_done (Demo *demo)
{
  demo->async_in_flight--;
  if (!demo_should_stop (demo))
    demo_async_issue (demo);
  else
    demo_quit_when_done (demo);
}

static void
demo_async_write_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);
  gint64 id;

  if (demo_returned_id (rows, &id, &error))
    {
      demo_count (&demo->counters.writes);
      demo_count (&demo->counters.async_writes);
      demo_ack (demo, 0, &id, 1);
    }
  else
    demo_error (demo, "write_async", error);
  demo_async_done (demo);
}

static void
demo_async_batch_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(DemoBatch) batch = user_data;
  Demo *demo = batch->demo;
  g_autoptr(GError) error = NULL;

  if (msb_db_pools_transaction_finish (MSB_DB_POOLS (source), result, &error))
    {
      demo_count (&demo->counters.transactions);
      demo_count (&demo->counters.async_transactions);
      demo_ack (demo, batch->batch_id, batch->item_ids, DEMO_ITEMS_PER_BATCH);
    }
  else
    demo_error (demo, "transaction_async", error);
  demo_async_done (demo);
}

static void
demo_async_read_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  if (rows != NULL)
    demo_count (&demo->counters.reads);
  else
    demo_error (demo, "read_async", error);
  demo_async_done (demo);
}

/* Starts the next async call: a write, a transaction or a read. */
static void
demo_async_issue (Demo *demo)
{
  DemoBatch *batch;

  demo->async_in_flight++;
  switch (demo->async_ops++ % 3)
    {
    case 0:
      msb_db_pools_write_async (demo->pools, SQL_INSERT_ITEM,
                                demo_item_params (demo->label, 0, demo_next_sequence (demo)),
                                NULL, demo_async_write_done, demo);
      break;
    case 1:
      batch = demo_batch_new (demo->label, demo_next_sequence (demo));
      batch->demo = demo;
      msb_db_pools_transaction_async (demo->pools, demo_batch_func,
                                      g_atomic_rc_box_acquire (batch), demo_batch_release,
                                      NULL, demo_async_batch_done, batch);
      break;
    default:
      msb_db_pools_read_async (demo->pools,
                               "SELECT count(*), max(id) FROM demo_items WHERE writer = ?",
                               g_variant_new ("(s)", demo->label),
                               NULL, demo_async_read_done, demo);
      break;
    }
}

/* ---- start and finish ------------------------------------------------------ */

/* Starts the writer and reader threads and the first async calls; each
 * tells the main loop when it has finished (demo_quit_when_done()). */
void
demo_start_workload (Demo *demo)
{
  for (int i = 0; i < demo->writers; i++)
    {
      g_autofree char *name = g_strdup_printf ("demo-writer-%d", i);
      g_ptr_array_add (demo->threads, g_thread_new (name, demo_writer_thread, demo));
      demo->threads_running++;
    }
  for (int i = 0; i < demo->readers; i++)
    {
      g_autofree char *name = g_strdup_printf ("demo-reader-%d", i);
      g_ptr_array_add (demo->threads, g_thread_new (name, demo_reader_thread, demo));
      demo->threads_running++;
    }
  for (int i = 0; i < DEMO_ASYNC_DEPTH; i++)
    demo_async_issue (demo);
}

void
demo_join_threads (Demo *demo)
{
  for (guint i = 0; i < demo->threads->len; i++)
    g_thread_join (g_ptr_array_index (demo->threads, i));
  g_ptr_array_set_size (demo->threads, 0);
}
