/* bench-pools.c: MsbDbPools, blocking and async
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "bench-common.h"

typedef struct {
  MsbDbPools *pools;
  guint64 next_key;       /* atomic */
  guint rows;             /* ids 1..rows exist */
  guint many_rows;        /* pools.write_many: the rows of the next call */
  gint64 *many_keys;
  const char **many_values;
} Pools;

/* Rows per write_many() call: the rows per transaction of raw.insert.batched. */
#define MANY_ROWS 1000

enum { KIND_READ, KIND_WRITE };

static MsbDbPools *
pools_open (const char *path,
            guint       read_connections)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = msb_db_pools_open (path, read_connections, 0, 0, NULL, &error);

  if (pools == NULL)
    g_error ("open %s: %s", path, error->message);
  return pools;
}

static void
pools_setup (Pools      *p,
             const char *path,
             guint       read_connections,
             guint       prefill)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  if (prefill > 0)
    raw_prefill (path, prefill);
  p->pools = pools_open (path, read_connections);
  rows = msb_db_pools_write (p->pools, BENCH_SCHEMA, NULL, NULL, &error);
  if (rows == NULL)
    g_error ("schema: %s", error->message);
  p->rows = prefill;
  p->next_key = 1;
  p->many_keys = g_new (gint64, MANY_ROWS);
  p->many_values = g_new (const char *, MANY_ROWS);
  for (guint i = 0; i < MANY_ROWS; i++)
    p->many_values[i] = BENCH_PAYLOAD;
}

/* Stats into the result, then close. */
static void
pools_teardown (Pools      *p,
                Result     *r,
                const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (p->pools);

  result_add_int (r, "reads", stats->reads);
  result_add_int (r, "writes", stats->writes);
  result_add_int (r, "write_batches", stats->write_batches);
  result_add_int (r, "busy_retries", stats->busy_retries);
  result_add_int (r, "retries_exhausted", stats->retries_exhausted);
  result_add_int (r, "pool_timeouts", stats->pool_timeouts);
  result_add_int (r, "checkpoints", stats->checkpoints);
  result_add_int (r, "wal_bytes", stats->wal_bytes);
  if (stats->write_batches > 0 && stats->writes > stats->write_batches)
    result_note (r, "%.1f writes/commit", (double) stats->writes / stats->write_batches);
  if (stats->busy_retries > 0 || stats->retries_exhausted > 0 || stats->pool_timeouts > 0)
    result_note (r, "busy_retries %" G_GUINT64_FORMAT ", exhausted %" G_GUINT64_FORMAT
                 ", pool_timeouts %" G_GUINT64_FORMAT,
                 stats->busy_retries, stats->retries_exhausted, stats->pool_timeouts);

  if (!msb_db_pools_close (p->pools, NULL, &error))
    g_error ("close: %s", error->message);
  g_clear_object (&p->pools);
  g_clear_pointer (&p->many_keys, g_free);
  g_clear_pointer (&p->many_values, g_free);
  if (path != NULL)
    bench_remove_db (path);
}

static GVariant *
insert_params (Pools *p)
{
  guint64 key = __atomic_fetch_add (&p->next_key, 1, __ATOMIC_RELAXED);

  return g_variant_new ("(xs)", (gint64) key, BENCH_PAYLOAD);
}

static gint64
random_id (Pools   *p,
           guint64 *rng)
{
  return (gint64) (rng_next (rng) % p->rows) + 1;
}

static void
check_read (MsbDbRows *rows,
            gint64     id)
{
  if (msb_db_rows_get_n_rows (rows) != 1 ||
      msb_db_rows_get_int64 (rows, 0, 0) != id ||
      msb_db_rows_get_string (rows, 0, 2) == NULL)
    g_error ("point read of %" G_GINT64_FORMAT " returned the wrong row", id);
}

/* Blocking ---------------------------------------------------------------- */

static void
op_write_sync (gpointer data,
               guint64 *rng)
{
  Pools *p = data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_write (p->pools, BENCH_INSERT_SQL, insert_params (p), NULL, &error);

  if (rows == NULL)
    g_error ("write: %s", error->message);
  g_object_unref (rows);
}

/* One operation is one row, as in raw.insert.batched; every MANY_ROWS-th
 * row also sends them all in one write_many() call, column by column as a
 * program with its data in arrays would: keys as an `ax`, values as `as`. */
static void
op_write_many (gpointer data,
               guint64 *rng)
{
  Pools *p = data;
  g_autoptr(GError) error = NULL;
  GVariant *columns[2];
  MsbDbRows *rows;

  p->many_keys[p->many_rows] = (gint64) p->next_key++;
  if (++p->many_rows < MANY_ROWS)
    return;
  p->many_rows = 0;
  columns[0] = g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, p->many_keys, MANY_ROWS,
                                          sizeof (gint64));
  columns[1] = g_variant_new_strv (p->many_values, MANY_ROWS);
  rows = msb_db_pools_write_many (p->pools, BENCH_INSERT_SQL, g_variant_new_tuple (columns, 2),
                                  NULL, &error);
  if (rows == NULL)
    g_error ("write_many: %s", error->message);
  g_object_unref (rows);
}

static void
op_read_sync (gpointer data,
              guint64 *rng)
{
  Pools *p = data;
  g_autoptr(GError) error = NULL;
  gint64 id = random_id (p, rng);
  MsbDbRows *rows = msb_db_pools_read (p->pools, BENCH_SELECT_SQL, g_variant_new ("(x)", id),
                                       NULL, &error);

  if (rows == NULL)
    g_error ("read: %s", error->message);
  check_read (rows, id);
  g_object_unref (rows);
}

/* Async ------------------------------------------------------------------- */

static void
on_write (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Slot *slot = user_data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    g_error ("write_async: %s", error->message);
  g_object_unref (rows);
  driver_done (slot);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Slot *slot = user_data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    g_error ("read_async: %s", error->message);
  check_read (rows, (gint64) slot->key);
  g_object_unref (rows);
  driver_done (slot);
}

static void
issue_write (Slot     *slot,
             gpointer  data,
             guint64  *rng)
{
  Pools *p = data;

  slot->kind = KIND_WRITE;
  msb_db_pools_write_async (p->pools, BENCH_INSERT_SQL, insert_params (p), NULL, on_write, slot);
}

static void
issue_read (Slot     *slot,
            gpointer  data,
            guint64  *rng)
{
  Pools *p = data;
  gint64 id = random_id (p, rng);

  slot->kind = KIND_READ;
  slot->key = (guint64) id;
  msb_db_pools_read_async (p->pools, BENCH_SELECT_SQL, g_variant_new ("(x)", id), NULL, on_read, slot);
}

static void
issue_mixed (Slot     *slot,
             gpointer  data,
             guint64  *rng)
{
  if (rng_next (rng) % 10 == 0)
    issue_write (slot, data, rng);
  else
    issue_read (slot, data, rng);
}

/* Runners ------------------------------------------------------------------ */

typedef enum {
  RUN_SYNC,
  RUN_ASYNC,
} RunMode;

static Result *
run_pools (const char *name,
           const char *description,
           RunMode     mode,
           gpointer    op,          /* SyncOp or IssueFunc */
           guint       n_threads,
           guint       read_connections,
           guint       prefill)
{
  g_autofree char *path = bench_db_path (name);
  Result *r = result_new (name, description);
  Pools p = { 0 };

  pools_setup (&p, path, read_connections, prefill);

  if (mode == RUN_SYNC && n_threads == 1)
    run_sync_loop ((SyncOp) op, &p, window_from_now (bench_config.warmup, bench_config.duration), r);
  else if (mode == RUN_SYNC)
    {
      g_autofree gpointer *datas = g_new (gpointer, n_threads);

      for (guint i = 0; i < n_threads; i++)
        datas[i] = &p;
      run_sync_threads ((SyncOp) op, datas, n_threads, r);
    }
  else if (n_threads == 1)
    {
      /* One caller: the main thread and its (global default) main context,
       * as in an application. */
      Driver d;

      driver_init (&d, (IssueFunc) op, &p, bench_config.window,
                   window_from_now (bench_config.warmup, bench_config.duration));
      driver_run (&d);
      driver_result (&d, r);
      driver_clear (&d);
    }
  else
    {
      g_autofree gpointer *datas = g_new (gpointer, n_threads);

      for (guint i = 0; i < n_threads; i++)
        datas[i] = &p;
      run_async_threads ((IssueFunc) op, datas, n_threads,
                         MAX (bench_config.window / n_threads, 1), r);
    }

  result_add_int (r, "threads", n_threads);
  result_add_int (r, "read_connections", read_connections);
  if (mode == RUN_ASYNC)
    result_add_int (r, "in_flight", MAX (bench_config.window / n_threads, 1) * n_threads);
  pools_teardown (&p, r, path);
  return r;
}

static Result *
insert_sync_1 (void)
{
  return run_pools ("pools.insert.sync.1t", "MsbDbPools: blocking write(), 1 thread",
                    RUN_SYNC, op_write_sync, 1, 4, 0);
}

static Result *
write_many_1 (void)
{
  return run_pools ("pools.write_many",
                    "MsbDbPools: write_many(), " G_STRINGIFY (MANY_ROWS) " rows per call, 1 thread",
                    RUN_SYNC, op_write_many, 1, 4, 0);
}

static Result *
insert_sync_8 (void)
{
  return run_pools ("pools.insert.sync.8t", "MsbDbPools: blocking write(), 8 threads",
                    RUN_SYNC, op_write_sync, 8, 4, 0);
}

static Result *
insert_async_1 (void)
{
  return run_pools ("pools.insert.async.1t",
                    "MsbDbPools: write_async(), one caller, 64 in flight",
                    RUN_ASYNC, issue_write, 1, 4, 0);
}

static Result *
insert_async_8 (void)
{
  return run_pools ("pools.insert.async.8t",
                    "MsbDbPools: write_async(), 8 threads x 8 in flight",
                    RUN_ASYNC, issue_write, 8, 4, 0);
}

static Result *
read_sync_1 (void)
{
  return run_pools ("pools.read.sync.1t", "MsbDbPools: blocking read(), 1 thread, 4 connections",
                    RUN_SYNC, op_read_sync, 1, 4, bench_config.prefill_rows);
}

static Result *
read_sync_4 (void)
{
  return run_pools ("pools.read.sync.4t", "MsbDbPools: blocking read(), 4 threads, 4 connections",
                    RUN_SYNC, op_read_sync, 4, 4, bench_config.prefill_rows);
}

static Result *
read_async_c1 (void)
{
  return run_pools ("pools.read.async.c1",
                    "MsbDbPools: read_async(), 1 read connection, 64 in flight",
                    RUN_ASYNC, issue_read, 1, 1, bench_config.prefill_rows);
}

static Result *
read_async_c2 (void)
{
  return run_pools ("pools.read.async.c2",
                    "MsbDbPools: read_async(), 2 read connections, 64 in flight",
                    RUN_ASYNC, issue_read, 1, 2, bench_config.prefill_rows);
}

static Result *
read_async_c4 (void)
{
  return run_pools ("pools.read.async.c4",
                    "MsbDbPools: read_async(), 4 read connections (default), 64 in flight",
                    RUN_ASYNC, issue_read, 1, 4, bench_config.prefill_rows);
}

static Result *
mixed_async (void)
{
  return run_pools ("pools.mixed.async",
                    "MsbDbPools: 90% read_async / 10% write_async, 64 in flight, 4 connections",
                    RUN_ASYNC, issue_mixed, 1, 4, bench_config.prefill_rows);
}

/* A burst: 100k inserts queued at once ---------------------------------------
 *
 * The main thread calls write_async() BURST_OPS times in a row, then runs
 * its main context until every callback has come: what a program that
 * imports a file row by row does. The rate of a burst is its rows over the
 * time from the first call to the last callback, so the cost of queueing
 * counts. Bursts repeat through the warm-up and the measured window (whole
 * bursts only, at least one of each).
 *
 * It runs in a child process (the benchmark re-executes itself with a
 * hidden --child-burst): 100k calls in flight take ~100 MiB of GObject and
 * GVariant memory that GLib's slice allocator keeps once they are freed,
 * which would show in every later scenario of this process, the RSS check
 * first. */

#define BURST_OPS 100000

/* One burst; returns the seconds from the first call to the last callback. */
static double
run_one_burst (Pools *p,
               Hist  *hist)
{
  Driver d;
  double seconds;

  driver_init (&d, issue_write, p, BURST_OPS, window_from_now (0, 0));
  d.max_ops = BURST_OPS;
  driver_run (&d);
  if (hist != NULL)
    hist_merge (hist, &d.hist);
  seconds = (d.last_done - d.first_issue) / 1e9;
  driver_clear (&d);
  return seconds;
}

/* The child: bursts on @path, then one line on stdout:
 * RESULT ops total bursts seconds cpu_ns csw writes write_batches busy_retries hist */
int
pools_burst_child_main (const char *path)
{
  Window w = window_from_now (bench_config.warmup, bench_config.duration);
  guint64 ops = 0, total = 0, bursts = 0;
  double seconds = 0;
  g_autofree char *hist_text = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  Usage before, after;
  Pools p = { 0 };
  Hist hist;

  pools_setup (&p, path, 4, 0);
  hist_reset (&hist);
  usage_take (&before);
  do
    {
      run_one_burst (&p, NULL);
      total += BURST_OPS;
    }
  while (now_ns () < w.measure_start);
  do
    {
      seconds += run_one_burst (&p, &hist);
      ops += BURST_OPS;
      total += BURST_OPS;
      bursts++;
    }
  while (now_ns () < w.end);
  usage_take (&after);

  stats = msb_db_pools_get_stats (p.pools);
  hist_text = hist_serialize (&hist);
  printf ("RESULT %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %.6f %"
          G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
          G_GUINT64_FORMAT " %s\n",
          ops, total, bursts, seconds, after.cpu_ns - before.cpu_ns, after.csw - before.csw,
          stats->writes, stats->write_batches, stats->busy_retries, hist_text);
  fflush (stdout);
  if (!msb_db_pools_close (p.pools, NULL, &error))
    g_error ("close: %s", error->message);
  g_object_unref (p.pools);
  return 0;
}

static Result *
insert_async_burst (void)
{
  const char *name = "pools.insert.async.burst";
  g_autofree char *path = bench_db_path (name);
  char warmup[G_ASCII_DTOSTR_BUF_SIZE], duration[G_ASCII_DTOSTR_BUF_SIZE];
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  guint64 ops, total, bursts, writes, batches, busy;
  gint64 cpu_ns, csw;
  double seconds;
  int consumed = 0;
  Result *r = result_new (name, "MsbDbPools: write_async(), bursts of 100k queued at once, "
                                "each drained before the next (in a child process)");

  g_ascii_formatd (warmup, sizeof warmup, "%.3f", bench_config.warmup);
  g_ascii_formatd (duration, sizeof duration, "%.3f", bench_config.duration);
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, bench_config.self_exe,
                            "--child-burst", path, "--child-warmup", warmup,
                            "--child-duration", duration, NULL);
  if (child == NULL || !g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error))
    g_error ("burst child: %s", error->message);
  if (!g_subprocess_get_successful (child) || out == NULL ||
      sscanf (out, "RESULT %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %lf %"
              G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
              G_GUINT64_FORMAT " %n", &ops, &total, &bursts, &seconds, &cpu_ns, &csw, &writes,
              &batches, &busy, &consumed) != 9 || consumed == 0)
    g_error ("burst child said: %s", out ? out : "nothing");
  g_strchomp (out + consumed);
  hist_deserialize (&r->hist, out + consumed);
  bench_remove_db (path);

  r->ops = ops;
  r->seconds = seconds;
  r->cpu_us_per_op = cpu_ns / 1000.0 / total;   /* the child's own CPU */
  r->csw_per_op = (double) csw / total;
  result_add_int (r, "burst_ops", BURST_OPS);
  result_add_int (r, "bursts", bursts);
  result_add_int (r, "writes", writes);
  result_add_int (r, "write_batches", batches);
  result_add_int (r, "busy_retries", busy);
  result_note (r, "%" G_GUINT64_FORMAT " bursts of %dk", bursts, BURST_OPS / 1000);
  if (batches > 0)
    result_note (r, "%.1f writes/commit", (double) writes / batches);
  return r;
}

/* Two processes on one file ------------------------------------------------ */

static void
write_line (GOutputStream *out,
            const char    *line)
{
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all (out, line, strlen (line), NULL, NULL, &error) ||
      !g_output_stream_flush (out, NULL, &error))
    g_error ("to child: %s", error->message);
}

static char *
read_line (GDataInputStream *in)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);

  if (line == NULL)
    g_error ("from child: %s", error ? error->message : "end of stream");
  return line;
}

/* The child: opens its own pools on @path, says READY, waits for the
 * window, runs async inserts and reports on stdout. */
int
pools_child_main (const char *path,
                  guint       window)
{
  Pools p = { 0 };
  Driver d;
  Window w;
  char line[256];
  g_autofree char *hist = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  g_autoptr(GError) error = NULL;

  p.pools = pools_open (path, 1);
  /* Keys of the child start far away from the parent's. */
  p.next_key = G_GUINT64_CONSTANT (1) << 40;
  printf ("READY\n");
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL ||
      sscanf (line, "GO %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &w.measure_start, &w.end) != 2)
    return 2;

  driver_init (&d, issue_write, &p, window, w);
  driver_run (&d);
  stats = msb_db_pools_get_stats (p.pools);
  hist = hist_serialize (&d.hist);
  printf ("RESULT %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s\n",
          d.ops, stats->busy_retries, stats->retries_exhausted, stats->write_batches,
          stats->writes, hist);
  fflush (stdout);
  driver_clear (&d);
  if (!msb_db_pools_close (p.pools, NULL, &error))
    g_error ("child close: %s", error->message);
  g_object_unref (p.pools);
  return 0;
}

static Result *
two_processes (void)
{
  const char *name = "pools.insert.async.2proc";
  g_autofree char *path = bench_db_path (name);
  g_autofree char *window_arg = g_strdup_printf ("%u", bench_config.window);
  g_autofree char *ready = NULL, *result = NULL, *go = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  Result *r = result_new (name, "MsbDbPools: 2 processes x write_async(), 64 in flight each, one file");
  guint64 child_ops, child_busy, child_exhausted, child_batches, child_writes;
  char hist_text[65536];
  Hist child_hist;
  Pools p = { 0 };
  Driver d;
  Window w;

  /* The schema exists before either process starts writing. */
  {
    sqlite3 *db = raw_open (path);
    raw_exec (db, BENCH_SCHEMA);
    sqlite3_close (db);
  }

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            bench_config.self_exe, "--child-writer", path,
                            "--child-window", window_arg, NULL);
  if (child == NULL)
    g_error ("spawn %s: %s", bench_config.self_exe, error->message);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  ready = read_line (in);
  if (g_strcmp0 (ready, "READY") != 0)
    g_error ("child said %s", ready);

  p.pools = pools_open (path, 1);
  p.next_key = 1;
  w = window_from_now (bench_config.warmup + 0.05, bench_config.duration);
  go = g_strdup_printf ("GO %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", w.measure_start, w.end);
  write_line (g_subprocess_get_stdin_pipe (child), go);

  driver_init (&d, issue_write, &p, bench_config.window, w);
  driver_run (&d);

  result = read_line (in);
  if (sscanf (result, "RESULT %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
              " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %65535s",
              &child_ops, &child_busy, &child_exhausted, &child_batches, &child_writes,
              hist_text) != 6)
    g_error ("child said %s", result);
  if (!g_subprocess_wait_check (child, NULL, &error))
    g_error ("child: %s", error->message);
  hist_deserialize (&child_hist, hist_text);

  driver_result (&d, r);    /* CPU/op: this process only */
  hist_merge (&r->hist, &child_hist);
  r->ops = d.ops + child_ops;
  driver_clear (&d);

  stats = msb_db_pools_get_stats (p.pools);
  result_add_int (r, "parent_ops", d.ops);
  result_add_int (r, "child_ops", child_ops);
  result_add_double (r, "parent_p99_us", hist_percentile (&d.hist, 99) / 1000);
  result_add_double (r, "child_p99_us", hist_percentile (&child_hist, 99) / 1000);
  result_add_int (r, "child_busy_retries", child_busy);
  result_add_int (r, "child_retries_exhausted", child_exhausted);
  result_add_int (r, "child_write_batches", child_batches);
  result_note (r, "parent %" G_GUINT64_FORMAT " + child %" G_GUINT64_FORMAT " ops",
               d.ops, child_ops);
  result_note (r, "%.1f writes/commit",
               (double) (stats->writes + child_writes) / MAX (stats->write_batches + child_batches, 1));
  if (child_busy + stats->busy_retries > 0 || child_exhausted + stats->retries_exhausted > 0)
    result_note (r, "busy_retries %" G_GUINT64_FORMAT ", exhausted %" G_GUINT64_FORMAT,
                 child_busy + stats->busy_retries, child_exhausted + stats->retries_exhausted);
  g_clear_pointer (&stats, msb_db_stats_free);

  {
    g_autoptr(GError) close_error = NULL;
    stats = msb_db_pools_get_stats (p.pools);
    result_add_int (r, "busy_retries", stats->busy_retries);
    result_add_int (r, "retries_exhausted", stats->retries_exhausted);
    result_add_int (r, "write_batches", stats->write_batches);
    if (!msb_db_pools_close (p.pools, NULL, &close_error))
      g_error ("close: %s", close_error->message);
    g_clear_object (&p.pools);
  }
  bench_remove_db (path);
  return r;
}

/* Memory after 1M operations ------------------------------------------------ */

static Result *
rss_1m (void)
{
  const char *name = "pools.rss.mixed";
  g_autofree char *path = bench_db_path (name);
  g_autofree char *description = g_strdup_printf (
    "MsbDbPools: RSS over %" G_GUINT64_FORMAT " async ops (90/10 mixed, 64 in flight)",
    bench_config.rss_ops);
  Result *r = result_new (name, description);
  Pools p = { 0 };
  Driver d;
  gint64 rss_open;

  pools_setup (&p, path, 4, bench_config.prefill_rows);
  rss_open = bench_rss_kib ();
  driver_init (&d, issue_mixed, &p, bench_config.window, window_from_now (0, 0));
  d.max_ops = bench_config.rss_ops;
  d.n_marks = 3;
  d.marks[0] = bench_config.rss_first_mark;
  d.marks[1] = bench_config.rss_ops / 2;
  d.marks[2] = bench_config.rss_ops;
  driver_run (&d);

  driver_result (&d, r);
  result_add_int (r, "rss_kib_after_open", rss_open);
  for (guint i = 0; i < d.n_marks; i++)
    {
      g_autofree char *key = g_strdup_printf ("rss_kib_at_%" G_GUINT64_FORMAT, d.marks[i]);
      result_add_int (r, key, d.rss_at_mark[i]);
    }
  result_add_int (r, "rss_growth_kib_first_to_last", d.rss_at_mark[2] - d.rss_at_mark[0]);
  result_add_double (r, "rss_bytes_per_op_middle_to_last",
                     (d.rss_at_mark[2] - d.rss_at_mark[1]) * 1024.0 / MAX (d.marks[2] - d.marks[1], 1));
  result_note (r, "VmRSS %.1f MiB at %" G_GUINT64_FORMAT "k ops, %.1f MiB at %" G_GUINT64_FORMAT
               "k, %.1f MiB at %" G_GUINT64_FORMAT "k",
               d.rss_at_mark[0] / 1024.0, d.marks[0] / 1000,
               d.rss_at_mark[1] / 1024.0, d.marks[1] / 1000,
               d.rss_at_mark[2] / 1024.0, d.marks[2] / 1000);
  driver_clear (&d);
  pools_teardown (&p, r, path);
  return r;
}

/* WAL soak: mixed load with readers always active ---------------------------
 *
 * Two reader threads run snapshot() callbacks that each keep a read
 * transaction open for SOAK_LEASE_US (point reads every 100 µs):
 *
 *  - independent (pools.wal-soak): each thread starts its next snapshot as
 *    soon as the previous one ends, the second thread half a lease after the
 *    first, so one reader or both are inside a read transaction nearly all
 *    the time, as with a steady read load;
 *  - pinned (pools.wal-soak.pinned): a reader leaves its snapshot only after
 *    the other one has opened a newer one, so a read transaction is open at
 *    every instant, whatever the library does: the worst case.
 *
 * A sampler thread reads the size of the -wal file and MsbDbStats.wal_bytes
 * every 100 ms. The time with no read transaction open is measured too. */

#define SOAK_LEASE_US (20 * G_TIME_SPAN_MILLISECOND)

typedef struct {
  Pools *p;
  gboolean pinned;
  GMutex lock;
  GCond cond;
  guint turn;             /* pinned: which reader may start its next snapshot */
  guint64 entered;        /* snapshots that have opened their read transaction */
  guint active;           /* read transactions open now */
  gint64 none_since;      /* when `active` last dropped to 0 */
  gint64 none_total;      /* µs with no read transaction open */
  gint64 none_longest;
  gboolean stop;
  guint64 reads;
  guint64 snapshots;
  /* sampler */
  const char *wal_path;
  gint64 wal_max;
  guint64 stats_wal_max;
  guint64 samples;
  gint64 wal_over_16m_samples;
} Soak;

typedef struct {
  Soak *soak;
  guint index;
  guint64 rng;
} SoakReader;

/* Lock held. */
static void
soak_reader_entered (Soak *soak)
{
  if (soak->active++ == 0 && soak->none_since != 0)
    {
      gint64 gap = g_get_monotonic_time () - soak->none_since;

      soak->none_total += gap;
      soak->none_longest = MAX (soak->none_longest, gap);
    }
}

/* Lock held. */
static void
soak_reader_left (Soak *soak)
{
  if (--soak->active == 0)
    soak->none_since = g_get_monotonic_time ();
}

static gboolean
soak_snapshot (MsbDbConnection  *connection,
               gpointer          user_data,
               GError          **error)
{
  SoakReader *reader = user_data;
  Soak *soak = reader->soak;
  gint64 started = g_get_monotonic_time ();
  guint64 handed_at = 0;
  gboolean first = TRUE;

  for (;;)
    {
      gint64 id = (gint64) (rng_next (&reader->rng) % soak->p->rows) + 1;
      MsbDbRows *rows = msb_db_connection_execute (connection, BENCH_SELECT_SQL,
                                                   g_variant_new ("(x)", id), error);
      gboolean done;

      if (rows == NULL)
        {
          if (!first)
            {
              g_mutex_lock (&soak->lock);
              soak_reader_left (soak);
              g_mutex_unlock (&soak->lock);
            }
          return FALSE;
        }
      check_read (rows, id);
      g_object_unref (rows);
      __atomic_fetch_add (&soak->reads, 1, __ATOMIC_RELAXED);

      g_mutex_lock (&soak->lock);
      if (first)
        {
          /* The first statement opened our read transaction. */
          soak_reader_entered (soak);
          handed_at = ++soak->entered;
          soak->turn = 1 - reader->index;
          g_cond_broadcast (&soak->cond);
          first = FALSE;
        }
      done = soak->stop ||
             (g_get_monotonic_time () - started >= SOAK_LEASE_US &&
              (!soak->pinned || soak->entered > handed_at));
      if (done)
        soak_reader_left (soak);
      g_mutex_unlock (&soak->lock);
      if (done)
        return TRUE;
      g_usleep (100);
    }
}

static gpointer
soak_reader_main (gpointer data)
{
  SoakReader *reader = data;
  Soak *soak = reader->soak;

  if (!soak->pinned)
    g_usleep (reader->index * SOAK_LEASE_US / 2);

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      g_mutex_lock (&soak->lock);
      while (soak->pinned && !soak->stop && soak->turn != reader->index)
        g_cond_wait (&soak->cond, &soak->lock);
      if (soak->stop)
        {
          g_mutex_unlock (&soak->lock);
          return NULL;
        }
      g_mutex_unlock (&soak->lock);

      if (!msb_db_pools_snapshot (soak->p->pools, soak_snapshot, reader, NULL, &error))
        g_error ("snapshot: %s", error->message);
      __atomic_fetch_add (&soak->snapshots, 1, __ATOMIC_RELAXED);
    }
}

static gpointer
soak_sampler_main (gpointer data)
{
  Soak *soak = data;

  for (;;)
    {
      gint64 wal = bench_file_size (soak->wal_path);
      g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (soak->p->pools);
      gboolean stop;

      soak->wal_max = MAX (soak->wal_max, wal);
      soak->stats_wal_max = MAX (soak->stats_wal_max, stats->wal_bytes);
      soak->samples++;
      if (wal > 16 * 1024 * 1024)
        soak->wal_over_16m_samples++;

      g_mutex_lock (&soak->lock);
      stop = soak->stop;
      g_mutex_unlock (&soak->lock);
      if (stop)
        return NULL;
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
}

static Result *
run_wal_soak (const char *name,
              gboolean    pinned)
{
  g_autofree char *path = bench_db_path (name);
  g_autofree char *wal_path = g_strconcat (path, "-wal", NULL);
  g_autofree char *description = g_strdup_printf (
    "MsbDbPools: %.0f s of 90/10 mixed async load (64 in flight) while 2 reader threads run "
    "20 ms snapshots, %s", bench_config.wal_soak_seconds,
    pinned ? "handing over so that one is always open (worst case)"
           : "back to back, half a lease apart");
  Result *r = result_new (name, description);
  g_autoptr(MsbDbStats) stats = NULL;
  SoakReader readers[2];
  GThread *reader_threads[2], *sampler;
  Soak soak = { 0 };
  Pools p = { 0 };
  Driver d;
  gint64 started;

  pools_setup (&p, path, 4, bench_config.prefill_rows);
  soak.p = &p;
  soak.pinned = pinned;
  soak.wal_path = wal_path;
  g_mutex_init (&soak.lock);
  g_cond_init (&soak.cond);
  started = g_get_monotonic_time ();
  for (guint i = 0; i < 2; i++)
    {
      readers[i].soak = &soak;
      readers[i].index = i;
      readers[i].rng = 0x9E3779B97F4A7C15ull * (i + 7);
      reader_threads[i] = g_thread_new ("soak-reader", soak_reader_main, &readers[i]);
    }
  sampler = g_thread_new ("soak-sampler", soak_sampler_main, &soak);

  /* The whole soak is measured; ops are the async operations. */
  driver_init (&d, issue_mixed, &p, bench_config.window,
               window_from_now (0, bench_config.wal_soak_seconds));
  driver_run (&d);

  g_mutex_lock (&soak.lock);
  soak.stop = TRUE;
  g_cond_broadcast (&soak.cond);
  g_mutex_unlock (&soak.lock);
  for (guint i = 0; i < 2; i++)
    g_thread_join (reader_threads[i]);
  g_thread_join (sampler);

  driver_result (&d, r);
  driver_clear (&d);

  {
    gint64 elapsed = g_get_monotonic_time () - started;

    stats = msb_db_pools_get_stats (p.pools);
    result_add_int (r, "wal_max_bytes", soak.wal_max);
    result_add_int (r, "wal_end_bytes", bench_file_size (wal_path));
    result_add_int (r, "stats_wal_bytes_max", soak.stats_wal_max);
    result_add_int (r, "wal_samples", soak.samples);
    result_add_int (r, "wal_samples_over_16MiB", soak.wal_over_16m_samples);
    result_add_int (r, "snapshot_reads", soak.reads);
    result_add_int (r, "snapshots", soak.snapshots);
    result_add_int (r, "no_reader_us", soak.none_total);
    result_add_int (r, "no_reader_longest_us", soak.none_longest);
    result_add_double (r, "reader_active_fraction",
                       elapsed > 0 ? 1.0 - (double) soak.none_total / elapsed : 0);
    result_note (r, "WAL max %.1f MiB (stats.wal_bytes max %.1f MiB), %" G_GUINT64_FORMAT
                 " checkpoints, %" G_GUINT64_FORMAT " samples/100 ms; no reader open %.2f%% of "
                 "the time (longest %.1f ms)",
                 soak.wal_max / 1048576.0, soak.stats_wal_max / 1048576.0, stats->checkpoints,
                 soak.samples, elapsed > 0 ? 100.0 * soak.none_total / elapsed : 0,
                 soak.none_longest / 1000.0);
  }
  pools_teardown (&p, r, path);
  g_mutex_clear (&soak.lock);
  g_cond_clear (&soak.cond);
  return r;
}

static Result *
wal_soak (void)
{
  return run_wal_soak ("pools.wal-soak", FALSE);
}

static Result *
wal_soak_pinned (void)
{
  return run_wal_soak ("pools.wal-soak.pinned", TRUE);
}

/* Latency under a long reader ------------------------------------------------
 *
 * The same load twice, in the same run: the main thread keeps 64
 * write_async() inserts in flight (the row's rate is the writes), while a
 * reader thread does blocking read() point reads on a fixed schedule, one
 * every LONG_READER_INTERVAL_US (read_p50_us, read_p99_us, read_max_us).
 * A read's latency runs from its scheduled time when the reads before it
 * made it late, so a 600 ms stall counts for every read it delays, as a
 * program reading at a steady rate would see it, not for one read only;
 * when the thread slept, from when it woke (the kernel's wake-up delay is
 * not the library's). read_service_p99_us is the time inside read() alone. In
 * pools.long-reader.open a third thread opens one snapshot() when the
 * measured window starts and holds its read transaction until the window
 * ends (--long-reader-seconds: 7 s, 1.5 s with --quick); in
 * pools.long-reader.none nobody does. A reader that pins the WAL must not
 * make every other call wait: the targets compare the two. */

#define LONG_READER_INTERVAL_US 200

typedef struct {
  Pools *p;
  Window w;
  GMutex lock;
  GCond cond;
  gboolean stop;
  /* the point reader */
  Hist read_hist;         /* from the scheduled time */
  Hist service_hist;      /* inside read() */
  guint64 reads;
  guint64 late_reads;     /* started behind schedule */
  /* the long snapshot */
  gint64 held_ns;
} LongReader;

static gboolean
long_snapshot (MsbDbConnection  *connection,
               gpointer          user_data,
               GError          **error)
{
  LongReader *lr = user_data;
  gint64 opened, id = 1;
  MsbDbRows *rows;

  /* The first statement opens the read transaction; then hold it. */
  rows = msb_db_connection_execute (connection, BENCH_SELECT_SQL, g_variant_new ("(x)", id), error);
  if (rows == NULL)
    return FALSE;
  check_read (rows, id);
  g_object_unref (rows);
  opened = now_ns ();

  g_mutex_lock (&lr->lock);
  while (!lr->stop &&
         g_cond_wait_until (&lr->cond, &lr->lock, lr->w.end / 1000))
    ;
  g_mutex_unlock (&lr->lock);
  lr->held_ns = now_ns () - opened;
  return TRUE;
}

static void
sleep_until_ns (gint64 when)
{
  gint64 left = when - now_ns ();

  if (left > 0)
    g_usleep (left / 1000);
}

static gpointer
long_snapshot_main (gpointer data)
{
  LongReader *lr = data;
  g_autoptr(GError) error = NULL;

  sleep_until_ns (lr->w.measure_start);
  if (!msb_db_pools_snapshot (lr->p->pools, long_snapshot, lr, NULL, &error))
    g_error ("long snapshot: %s", error->message);
  return NULL;
}

static gpointer
point_reader_main (gpointer data)
{
  LongReader *lr = data;
  guint64 rng = 0x9E3779B97F4A7C15ull;
  gint64 next = now_ns ();

  while (next < lr->w.end)
    {
      g_autoptr(GError) error = NULL;
      gint64 id = random_id (lr->p, &rng), due, start, end;
      gboolean late = now_ns () >= next;
      MsbDbRows *rows;

      if (!late)
        sleep_until_ns (next);
      start = now_ns ();
      due = late ? next : start;
      rows = msb_db_pools_read (lr->p->pools, BENCH_SELECT_SQL, g_variant_new ("(x)", id),
                                NULL, &error);
      if (rows == NULL)
        g_error ("read under a long reader: %s", error->message);
      check_read (rows, id);
      g_object_unref (rows);
      end = now_ns ();
      if (next >= lr->w.measure_start && end <= lr->w.end)
        {
          hist_record (&lr->read_hist, end - due);
          hist_record (&lr->service_hist, end - start);
          lr->reads++;
          lr->late_reads += late;
        }
      next += LONG_READER_INTERVAL_US * 1000;
    }
  return NULL;
}

static Result *
run_long_reader (const char *name,
                 gboolean    with_snapshot)
{
  g_autofree char *path = bench_db_path (name);
  g_autofree char *wal_path = g_strconcat (path, "-wal", NULL);
  g_autofree char *description = g_strdup_printf (
    "MsbDbPools: write_async() x 64 in flight + a blocking point read scheduled every %d us, %s",
    LONG_READER_INTERVAL_US,
    with_snapshot ? "one snapshot() holding its read transaction through the window"
                  : "no long reader (the baseline of .open)");
  Result *r = result_new (name, description);
  GThread *reader, *snapshot = NULL;
  LongReader lr = { 0 };
  Pools p = { 0 };
  Driver d;
  double read_s;

  pools_setup (&p, path, 4, bench_config.prefill_rows);
  lr.p = &p;
  lr.w = window_from_now (bench_config.warmup, bench_config.long_reader_seconds);
  g_mutex_init (&lr.lock);
  g_cond_init (&lr.cond);
  hist_reset (&lr.read_hist);
  hist_reset (&lr.service_hist);
  reader = g_thread_new ("point-reader", point_reader_main, &lr);
  if (with_snapshot)
    snapshot = g_thread_new ("long-snapshot", long_snapshot_main, &lr);

  driver_init (&d, issue_write, &p, bench_config.window, lr.w);
  driver_run (&d);
  driver_result (&d, r);
  driver_clear (&d);

  g_mutex_lock (&lr.lock);
  lr.stop = TRUE;
  g_cond_broadcast (&lr.cond);
  g_mutex_unlock (&lr.lock);
  g_thread_join (reader);
  if (snapshot != NULL)
    g_thread_join (snapshot);

  read_s = (lr.w.end - lr.w.measure_start) / 1e9;
  result_add_int (r, "reads", lr.reads);
  result_add_double (r, "reads_per_s", lr.reads / read_s);
  result_add_double (r, "read_p50_us", hist_percentile (&lr.read_hist, 50) / 1000);
  result_add_double (r, "read_p99_us", hist_percentile (&lr.read_hist, 99) / 1000);
  result_add_double (r, "read_max_us", lr.read_hist.max_ns / 1000.0);
  result_add_double (r, "read_service_p99_us", hist_percentile (&lr.service_hist, 99) / 1000);
  result_add_int (r, "read_interval_us", LONG_READER_INTERVAL_US);
  result_add_int (r, "late_reads", lr.late_reads);
  result_add_double (r, "snapshot_held_s", lr.held_ns / 1e9);
  result_add_int (r, "wal_end_bytes", bench_file_size (wal_path));
  result_note (r, "writes; reads p50 %.1f p99 %.1f max %.1f us (%" G_GUINT64_FORMAT ")",
               hist_percentile (&lr.read_hist, 50) / 1000, hist_percentile (&lr.read_hist, 99) / 1000,
               lr.read_hist.max_ns / 1000.0, lr.reads);
  if (with_snapshot)
    result_note (r, "snapshot held %.1f s", lr.held_ns / 1e9);
  result_note (r, "WAL at end %.1f MiB", bench_file_size (wal_path) / 1048576.0);
  pools_teardown (&p, r, path);
  g_mutex_clear (&lr.lock);
  g_cond_clear (&lr.cond);
  return r;
}

/* Change notifications: the same writes with a handler connected to
 * ::changed (compared with the same scenario without one). The writer's
 * connection then notes the tables of each commit and reads data_version
 * before each batch; with the async caller, the main context also runs the
 * deliveries and a poll of other processes every 100 ms. */

static void
on_bench_changed (MsbDbPools *pools,
                  const char *table,
                  gpointer    data)
{
  guint64 *signals = data;

  (*signals)++;
}

static Result *
run_notify (const char *name,
            const char *description,
            RunMode     mode)
{
  g_autofree char *path = bench_db_path (name);
  Result *r = result_new (name, description);
  Pools p = { 0 };
  guint64 signals = 0;

  pools_setup (&p, path, 4, 0);
  g_signal_connect (p.pools, "changed::kv", G_CALLBACK (on_bench_changed), &signals);

  if (mode == RUN_SYNC)
    run_sync_loop (op_write_sync, &p, window_from_now (bench_config.warmup, bench_config.duration), r);
  else
    {
      Driver d;

      driver_init (&d, issue_write, &p, bench_config.window,
                   window_from_now (bench_config.warmup, bench_config.duration));
      driver_run (&d);
      driver_result (&d, r);
      driver_clear (&d);
    }
  /* Deliveries still on their way. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_signal_handlers_disconnect_by_data (p.pools, &signals);

  result_add_int (r, "signals", signals);
  result_note (r, "%" G_GUINT64_FORMAT " changed signals", signals);
  pools_teardown (&p, r, path);
  return r;
}

static Result *
notify_sync_1 (void)
{
  return run_notify ("pools.notify.sync.1t",
                     "MsbDbPools: blocking write(), 1 thread, a ::changed handler connected",
                     RUN_SYNC);
}

static Result *
notify_async_1 (void)
{
  return run_notify ("pools.notify.async.1t",
                     "MsbDbPools: write_async(), one caller, 64 in flight, a ::changed handler "
                     "connected", RUN_ASYNC);
}

static Result *
long_reader_none (void)
{
  return run_long_reader ("pools.long-reader.none", FALSE);
}

static Result *
long_reader_open (void)
{
  return run_long_reader ("pools.long-reader.open", TRUE);
}

const Scenario pools_scenarios[] = {
  { "pools.insert.sync.1t", NULL, insert_sync_1 },
  { "pools.insert.sync.8t", NULL, insert_sync_8 },
  { "pools.insert.async.1t", NULL, insert_async_1 },
  { "pools.insert.async.8t", NULL, insert_async_8 },
  { "pools.insert.async.burst", NULL, insert_async_burst },
  { "pools.insert.async.2proc", NULL, two_processes },
  { "pools.read.sync.1t", NULL, read_sync_1 },
  { "pools.read.sync.4t", NULL, read_sync_4 },
  { "pools.read.async.c1", NULL, read_async_c1 },
  { "pools.read.async.c2", NULL, read_async_c2 },
  { "pools.read.async.c4", NULL, read_async_c4 },
  { "pools.mixed.async", NULL, mixed_async },
  { "pools.notify.sync.1t", NULL, notify_sync_1 },
  { "pools.notify.async.1t", NULL, notify_async_1 },
  { "pools.long-reader.none", NULL, long_reader_none },
  { "pools.long-reader.open", NULL, long_reader_open },
  { "pools.write_many", NULL, write_many_1 },
  { "pools.rss.mixed", NULL, rss_1m },
  { "pools.wal-soak", NULL, wal_soak },
  { "pools.wal-soak.pinned", NULL, wal_soak_pinned },
  { NULL, NULL, NULL },
};
