/* test-rel-threads.c: one process, many threads, the writer queue and the
 * read pool under stress
 *
 * This is the suite .ci/reliability runs under ThreadSanitizer: threads
 * mixing blocking and async reads, writes, transactions and snapshots (the
 * async ones from each thread's own main context), cancellations racing
 * with the writer and the pool, a small read pool so that calls queue and
 * time out, and close() racing with all of it.
 *
 * Every success must be real (a counted write is in the file exactly once)
 * and every failure must be one of the expected ones (cancelled, pool
 * timeout, closed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <string.h>

typedef struct {
  MsbDbPools *pools;
  guint index;
  guint ops;
  gboolean allow_closed;
  gboolean seen_closed;
  /* results */
  gint64 inserted;        /* rows this thread knows are committed */
  guint reads, writes, txns, snapshots, cancelled, timeouts, closed;
  char *failure;
} Worker;

static gboolean
expected_failure (Worker       *w,
                  const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    w->cancelled++;
  else if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT))
    w->timeouts++;
  else if (w->allow_closed && g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED))
    {
      w->closed++;
      w->seen_closed = TRUE;
    }
  else
    {
      if (w->failure == NULL)
        w->failure = g_strdup_printf ("thread %u: %s #%d: %s", w->index,
                                      g_quark_to_string (error->domain), error->code, error->message);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  gint64 thread;
  gint64 first;
  gint64 n;
} Rows;

static gboolean
insert_rows (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  Rows *r = user_data;

  for (gint64 i = 0; i < r->n; i++)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_connection_execute (connection, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                                   g_variant_new ("(xx)", r->thread, r->first + i), error);
      if (rows == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
count_twice (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  g_autoptr(MsbDbRows) a = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  g_autoptr(MsbDbRows) b = NULL;

  if (a == NULL)
    return FALSE;
  b = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (b == NULL)
    return FALSE;
  if (msb_db_rows_get_int64 (a, 0, 0) != msb_db_rows_get_int64 (b, 0, 0))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED, "snapshot not stable");
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  Worker *w;
  guint pending;
  gint64 seq;   /* for writes */
  gint64 n;     /* rows of a transaction */
  guint kind;
} AsyncOp;

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  AsyncOp *op = data;
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = MSB_DB_POOLS (source);
  gboolean ok = FALSE;

  switch (op->kind)
    {
    case 0:
      {
        g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (pools, result, &error);
        ok = rows != NULL;
        if (ok)
          op->w->reads++;
      }
      break;
    case 1:
      {
        g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (pools, result, &error);
        ok = rows != NULL;
        if (ok)
          {
            op->w->writes++;
            op->w->inserted++;
          }
      }
      break;
    case 2:
      ok = msb_db_pools_transaction_finish (pools, result, &error);
      if (ok)
        {
          op->w->txns++;
          op->w->inserted += op->n;
        }
      break;
    case 3:
      ok = msb_db_pools_snapshot_finish (pools, result, &error);
      if (ok)
        op->w->snapshots++;
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok)
    expected_failure (op->w, error);
  op->pending--;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  GRand *rand = g_rand_new_with_seed (w->index * 7919 + 1);
  gint64 seq = 0;
  gint64 async_seq = G_GINT64_CONSTANT (1000000000);

  g_main_context_push_thread_default (context);
  for (guint i = 0; i < w->ops && !w->seen_closed; i++)
    {
      guint what = g_rand_int_range (rand, 0, 9);
      g_autoptr(GCancellable) cancellable = g_rand_int_range (rand, 0, 10) == 0 ? g_cancellable_new () : NULL;
      g_autoptr(GError) error = NULL;

      if (cancellable != NULL && g_rand_boolean (rand))
        g_cancellable_cancel (cancellable);

      if (what == 0)
        {
          g_autoptr(MsbDbRows) rows = msb_db_pools_read (w->pools, "SELECT count(*), max(seq) FROM t WHERE thread = ?",
                                                         g_variant_new ("(u)", w->index), cancellable, &error);
          if (rows != NULL)
            {
              w->reads++;
              /* Our own committed rows are visible to our next read. */
              if (msb_db_rows_get_int64 (rows, 0, 0) != w->inserted && w->failure == NULL)
                w->failure = g_strdup_printf ("thread %u sees %" G_GINT64_FORMAT " of its %" G_GINT64_FORMAT " rows",
                                              w->index, msb_db_rows_get_int64 (rows, 0, 0), w->inserted);
            }
          else
            expected_failure (w, error);
        }
      else if (what == 1)
        {
          g_autoptr(MsbDbRows) rows = msb_db_pools_write (w->pools, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                                                          g_variant_new ("(ux)", w->index, seq), cancellable, &error);
          if (rows != NULL)
            {
              w->writes++;
              w->inserted++;
              seq++;
            }
          else
            expected_failure (w, error);
        }
      else if (what == 2)
        {
          Rows r = { w->index, seq, g_rand_int_range (rand, 1, 6) };

          if (msb_db_pools_transaction (w->pools, insert_rows, &r, cancellable, &error))
            {
              w->txns++;
              w->inserted += r.n;
              seq += r.n;
            }
          else
            expected_failure (w, error);
        }
      else if (what == 3)
        {
          if (msb_db_pools_snapshot (w->pools, count_twice, NULL, cancellable, &error))
            w->snapshots++;
          else
            expected_failure (w, error);
        }
      else
        {
          /* A few async calls from this thread's own main context, one
           * after the other: `op.kind` tells the callback what to finish. */
          AsyncOp op = { w, 0 };
          guint n = g_rand_int_range (rand, 1, 8);

          for (guint k = 0; k < n; k++)
            {
              op.pending++;
              switch (g_rand_int_range (rand, 0, 4))
                {
                case 0:
                  op.kind = 0;
                  msb_db_pools_read_async (w->pools, "SELECT count(*) FROM t", NULL, cancellable,
                                           on_async_done, &op);
                  break;
                case 1:
                  op.kind = 1;
                  msb_db_pools_write_async (w->pools, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                                            g_variant_new ("(ux)", w->index, async_seq++),
                                            cancellable, on_async_done, &op);
                  break;
                case 2:
                  op.kind = 3;
                  msb_db_pools_snapshot_async (w->pools, count_twice, NULL, NULL, cancellable,
                                               on_async_done, &op);
                  break;
                default:
                  op.kind = 2;
                  op.n = g_rand_int_range (rand, 1, 4);
                  {
                    Rows *r = g_new0 (Rows, 1);

                    r->thread = w->index;
                    r->first = async_seq;
                    r->n = op.n;
                    async_seq += op.n;
                    msb_db_pools_transaction_async (w->pools, insert_rows, r, g_free, cancellable,
                                                    on_async_done, &op);
                  }
                  break;
                }
              while (op.pending > 0)
                g_main_context_iteration (context, TRUE);
            }
        }
    }
  g_main_context_pop_thread_default (context);
  g_rand_free (rand);
  return NULL;
}

static void
run_workers (const char *path,
             guint       n_threads,
             guint       ops,
             gboolean    close_midway)
{
  g_autoptr(MsbDbPools) pools = rel_open (path, 2, 200 * G_TIME_SPAN_MILLISECOND * rel_time_factor (), 0);
  Worker *workers = g_new0 (Worker, n_threads);
  GThread **threads = g_new0 (GThread *, n_threads);
  gint64 inserted = 0;
  guint reads = 0, writes = 0, txns = 0, snapshots = 0, cancelled = 0, timeouts = 0, closed = 0;

  rel_write_ok (pools, "CREATE TABLE IF NOT EXISTS t (thread INTEGER, seq INTEGER, UNIQUE (thread, seq))", NULL);
  rel_write_ok (pools, "DELETE FROM t", NULL);

  for (guint i = 0; i < n_threads; i++)
    {
      workers[i].pools = pools;
      workers[i].index = i;
      workers[i].ops = ops;
      workers[i].allow_closed = close_midway;
      threads[i] = g_thread_new ("worker", worker_thread, &workers[i]);
    }
  if (close_midway)
    {
      g_usleep (50 * G_TIME_SPAN_MILLISECOND);
      g_assert_true (msb_db_pools_close (pools, NULL, NULL));
    }
  for (guint i = 0; i < n_threads; i++)
    {
      g_thread_join (threads[i]);
      if (workers[i].failure != NULL)
        g_error ("%s", workers[i].failure);
      inserted += workers[i].inserted;
      reads += workers[i].reads;
      writes += workers[i].writes;
      txns += workers[i].txns;
      snapshots += workers[i].snapshots;
      cancelled += workers[i].cancelled;
      timeouts += workers[i].timeouts;
      closed += workers[i].closed;
    }
  g_test_message ("%u threads: %u reads, %u writes, %u transactions, %u snapshots, "
                  "%u cancelled, %u pool timeouts, %u closed",
                  n_threads, reads, writes, txns, snapshots, cancelled, timeouts, closed);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));

  /* Every committed row is there exactly once, nothing else is. */
  {
    sqlite3 *db = rel_raw_open (path, SQLITE_OPEN_READONLY);

    g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM t"), ==, inserted);
    sqlite3_close (db);
  }
  if (!close_midway)
    rel_figure ("threads.operations", "%u", reads + writes + txns + snapshots);
  g_free (workers);
  g_free (threads);
}

static void
test_stress (void)
{
  g_autofree char *dir = rel_make_tmpdir ("threads");
  g_autofree char *path = g_build_filename (dir, "threads.db", NULL);
  guint ops = rel_long_tests () ? 10000 : rel_under_valgrind () ? 60 : 1500;

  run_workers (path, 8, ops, FALSE);
  rel_rm_rf (dir);
}

static void
test_close_races (void)
{
  g_autofree char *dir = rel_make_tmpdir ("closerace");
  g_autofree char *path = g_build_filename (dir, "close.db", NULL);
  guint rounds = rel_long_tests () ? 50 : rel_under_valgrind () ? 2 : 10;

  for (guint i = 0; i < rounds; i++)
    run_workers (path, 6, 100000, TRUE);
  g_assert_true (rel_integrity_ok (path, NULL));
  rel_rm_rf (dir);
}

/* Dropping the last reference with async work in flight: nothing leaks or
 * crashes, and every callback still runs. */
static void
test_drop_with_work_in_flight (void)
{
  g_autofree char *dir = rel_make_tmpdir ("drop");
  g_autofree char *path = g_build_filename (dir, "drop.db", NULL);
  guint threads_before;

  {
    g_autoptr(MsbDbPools) warm = rel_open (path, 2, 0, 0);
    rel_write_ok (warm, "CREATE TABLE t (thread INTEGER, seq INTEGER)", NULL);
    g_assert_true (msb_db_pools_close (warm, NULL, NULL));
  }
  threads_before = rel_count_threads ();

  for (int round = 0; round < 5; round++)
    {
      MsbDbPools *pools = rel_open (path, 2, 0, 0);
      Worker w = { pools, 0, 0, TRUE };
      AsyncOp op = { &w, 0 };

      op.kind = 1;
      for (int i = 0; i < 50; i++)
        {
          op.pending++;
          msb_db_pools_write_async (pools, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                                    g_variant_new ("(ii)", round, i), NULL, on_async_done, &op);
        }
      /* The tasks hold references: the pools live until they complete. */
      g_object_unref (pools);
      while (op.pending > 0)
        g_main_context_iteration (NULL, TRUE);
      if (w.failure != NULL)
        g_error ("%s", w.failure);
      g_assert_cmpuint (w.writes, ==, 50);
    }
  /* The writer threads are gone (GLib's own pool threads may linger). */
  g_assert_cmpuint (rel_count_threads (), <=, threads_before + 8);
  rel_rm_rf (dir);
}

/* tsan-canary: a deliberate data race, for .ci/reliability to check that
 * ThreadSanitizer, with the GLib annotations preloaded and the
 * suppressions loaded, still reports races in code like MsbDb's. Two
 * threads update a counter guarded by two *different* GMutexes. */
static guint canary_counter;
static GMutex canary_locks[2];

static gpointer
canary_thread (gpointer data)
{
  GMutex *lock = data;

  for (int i = 0; i < 1000; i++)
    {
      g_mutex_lock (lock);
      canary_counter++;
      g_mutex_unlock (lock);
    }
  return NULL;
}

static int
child_tsan_canary (int    argc,
                   char **argv)
{
  GThread *a = g_thread_new ("canary-a", canary_thread, &canary_locks[0]);
  GThread *b = g_thread_new ("canary-b", canary_thread, &canary_locks[1]);

  g_thread_join (a);
  g_thread_join (b);
  g_print ("counter %u\n", canary_counter);
  return 0;
}

static const RelChildMode modes[] = {
  { "tsan-canary", child_tsan_canary },
  { NULL, NULL }
};

int
main (int    argc,
      char **argv)
{
  int status;

  if (rel_dispatch_child (argc, argv, modes, &status))
    return status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/threads/stress", test_stress);
  g_test_add_func ("/reliability/threads/close-races", test_close_races);
  g_test_add_func ("/reliability/threads/drop-with-work-in-flight", test_drop_with_work_in_flight);
  return g_test_run ();
}
