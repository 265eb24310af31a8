/* bench-cluster.c: MsbDbPools on three local dqlite nodes, beside dqlite-benchmark
 *
 * The cluster scenarios run dqlite's own workload, kvwrite: the table
 * `model (key TEXT, value TEXT, UNIQUE(key))`, `INSERT OR REPLACE` of a
 * new random 32-letter key with a 1024-byte value (half one repeated
 * letter, half random letters), and, for reads, `SELECT value FROM model
 * WHERE key = ?` of a key that exists.
 *
 *  - dqlite-benchmark.*: Debian's dqlite-benchmark (the Go client's own
 *    tool, package go-dqlite) runs the workload on three nodes of its own
 *    (in-process go-dqlite nodes), with 1 or 4 workers; its result files
 *    give the operations, the failed attempts and every latency.
 *  - cluster.*: MsbDbPools on three `msb-db node` processes
 *    (msb-db-local-cluster.c), started once for all cluster scenarios.
 *  - cluster.failover: a blocking writer writes on; the leader is killed
 *    with SIGKILL, and the time from its death to the acknowledgement of
 *    the first write issued after it is recorded (so it includes one
 *    write's own latency); the killed node comes back with its directory
 *    before the next round.
 *
 * Either side is skipped with a note when its program is missing (msb-db
 * built without libdqlite, or no dqlite-benchmark).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "bench-common.h"
#include "msb-db-local-cluster.h"

#define KV_SCHEMA "CREATE TABLE IF NOT EXISTS model (key TEXT, value TEXT, UNIQUE(key))"
#define KV_WRITE_SQL "INSERT OR REPLACE INTO model(key, value) VALUES(?, ?)"
#define KV_READ_SQL "SELECT value FROM model WHERE key = ?"
#define KV_KEY_SIZE 32
#define KV_VALUE_SIZE 1024
#define PREFILL_PER_TRANSACTION 500

#define FAILOVER_ROUNDS_FULL 10
#define SETTLE_BEFORE_KILL (1 * G_TIME_SPAN_SECOND)
#define FAILOVER_ROUNDS_QUICK 3
#define GO_CLUSTER_TIMEOUT_S 60

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static char *
random_letters (guint64 *rng,
                gsize    n)
{
  char *s = g_malloc (n + 1);

  for (gsize i = 0; i < n; i++)
    s[i] = letters[rng_next (rng) % (sizeof letters - 1)];
  s[n] = '\0';
  return s;
}

/* As kvwrite makes them: one letter repeated for half, random for the
 * other half. */
static char *
random_value (guint64 *rng)
{
  char *s = g_malloc (KV_VALUE_SIZE + 1);

  memset (s, letters[rng_next (rng) % (sizeof letters - 1)], KV_VALUE_SIZE / 2);
  for (gsize i = KV_VALUE_SIZE / 2; i < KV_VALUE_SIZE; i++)
    s[i] = letters[rng_next (rng) % (sizeof letters - 1)];
  s[KV_VALUE_SIZE] = '\0';
  return s;
}

static GVariant *
kv_params (guint64 *rng)
{
  g_autofree char *key = random_letters (rng, KV_KEY_SIZE);
  g_autofree char *value = random_value (rng);

  return g_variant_new ("(ss)", key, value);
}

/* The msb-db cluster ------------------------------------------------------- */

#ifndef BENCH_MSB_DB_TOOL
#define BENCH_MSB_DB_TOOL ""
#endif

static LocalCluster *cluster;
static char *cluster_why_not;
static guint cluster_databases;

static const char *
msb_db_tool (void)
{
  const char *tool = g_getenv ("MSB_DB_BENCH_TOOL");

  return tool != NULL && *tool != '\0' ? tool : BENCH_MSB_DB_TOOL;
}

/* The shared cluster, started on first use; NULL (said once) if it cannot. */
static LocalCluster *
the_cluster (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status = -1;
  const char *tool = msb_db_tool ();
  const char *argv[] = { tool, "node", "--help", NULL };

  if (cluster != NULL || cluster_why_not != NULL)
    return cluster;
  if (*tool == '\0' || !g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE))
    cluster_why_not = g_strdup ("no msb-db binary (set MSB_DB_BENCH_TOOL)");
  else if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                          &out, NULL, &status, &error) ||
           !g_spawn_check_wait_status (status, NULL))
    cluster_why_not = g_strdup_printf ("%s has no `node` command (built without libdqlite)", tool);
  else if ((cluster = local_cluster_start (tool, &error)) == NULL)
    cluster_why_not = g_strdup_printf ("could not start three msb-db nodes: %s", error->message);
  if (cluster == NULL)
    {
      printf ("Cluster: %s; the cluster.* rows are skipped\n", cluster_why_not);
      fflush (stdout);
    }
  else
    {
      g_autofree char *target = local_cluster_target (cluster, "…");

      printf ("Cluster: three msb-db node processes on 127.0.0.1 (%s)\n", target);
      fflush (stdout);
    }
  return cluster;
}

/* Whether scenario @s can run; starting the cluster (or saying why it
 * cannot, once) before the first cluster scenario. */
gboolean
bench_cluster_selectable (const Scenario *s)
{
  g_autofree char *program = NULL;
  static gboolean said;

  if (g_str_has_prefix (s->name, "cluster."))
    return the_cluster () != NULL;
  program = g_find_program_in_path ("dqlite-benchmark");
  if (program == NULL && !said)
    {
      printf ("dqlite-benchmark is not installed (package go-dqlite); its rows are skipped\n");
      fflush (stdout);
      said = TRUE;
    }
  return program != NULL;
}

/* Stops the cluster: at the end of the run. */
void
bench_cluster_shutdown (void)
{
  g_clear_pointer (&cluster, local_cluster_stop);
}

/* Pools on a new database of the cluster. */
static MsbDbPools *
cluster_pools (const char *scenario)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *db = g_strdup_printf ("%s-%u", scenario, ++cluster_databases);
  g_autofree char *target = local_cluster_target (cluster, db);
  MsbDbPools *pools = msb_db_pools_open (target, 4, 30 * G_TIME_SPAN_SECOND,
                                         BENCH_BUSY_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND,
                                         NULL, &error);
  g_autoptr(MsbDbRows) rows = NULL;

  if (pools == NULL)
    g_error ("open %s: %s", target, error->message);
  rows = msb_db_pools_write (pools, KV_SCHEMA, NULL, NULL, &error);
  if (rows == NULL)
    g_error ("schema: %s", error->message);
  return pools;
}

typedef struct {
  MsbDbPools *pools;
  GPtrArray *keys;        /* of the rows written beforehand, for reads */
  guint64 seed;           /* atomic: a seed per blocking call */
} Kv;

static void
kv_close (Kv     *kv,
          Result *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) stats = msb_db_pools_get_stats (kv->pools);

  result_add_int (r, "writes", stats->writes);
  result_add_int (r, "reads", stats->reads);
  result_add_int (r, "write_batches", stats->write_batches);
  result_add_int (r, "busy_retries", stats->busy_retries);
  if (stats->write_batches > 0 && stats->writes > stats->write_batches)
    result_note (r, "%.1f writes/commit", (double) stats->writes / stats->write_batches);
  if (stats->busy_retries > 0)
    result_note (r, "busy_retries %" G_GUINT64_FORMAT, stats->busy_retries);
  if (!msb_db_pools_close (kv->pools, NULL, &error))
    g_error ("close: %s", error->message);
  g_clear_object (&kv->pools);
  g_clear_pointer (&kv->keys, g_ptr_array_unref);
}

typedef struct {
  Kv *kv;
  guint first, count;
  guint64 rng;
} Prefill;

static gboolean
prefill_transaction (MsbDbConnection  *connection,
                     gpointer          user_data,
                     GError          **error)
{
  Prefill *p = user_data;

  for (guint i = p->first; i < p->first + p->count; i++)
    {
      g_autofree char *value = random_value (&p->rng);
      g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, KV_WRITE_SQL,
                                                             g_variant_new ("(ss)",
                                                                            (char *) g_ptr_array_index (p->kv->keys, i),
                                                                            value),
                                                             error);
      if (rows == NULL)
        return FALSE;
    }
  return TRUE;
}

/* @n rows with random keys, kept for the reads. */
static void
kv_prefill (Kv   *kv,
            guint n)
{
  guint64 rng = 0x2545F4914F6CDD1Dull;

  kv->keys = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (kv->keys, random_letters (&rng, KV_KEY_SIZE));
  for (guint first = 0; first < n; first += PREFILL_PER_TRANSACTION)
    {
      g_autoptr(GError) error = NULL;
      Prefill p = { kv, first, MIN (PREFILL_PER_TRANSACTION, n - first), rng + first };

      if (!msb_db_pools_transaction (kv->pools, prefill_transaction, &p, NULL, &error))
        g_error ("prefill: %s", error->message);
    }
}

static void
op_write_sync (gpointer data,
               guint64 *rng)
{
  Kv *kv = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write (kv->pools, KV_WRITE_SQL, kv_params (rng), NULL,
                                                  &error);

  if (rows == NULL)
    g_error ("write: %s", error->message);
}

static void
on_write (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    g_error ("write_async: %s", error->message);
  driver_done (user_data);
}

static void
issue_write (Slot     *slot,
             gpointer  data,
             guint64  *rng)
{
  Kv *kv = data;

  msb_db_pools_write_async (kv->pools, KV_WRITE_SQL, kv_params (rng), NULL, on_write, slot);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  if (rows == NULL)
    g_error ("read_async: %s", error->message);
  if (msb_db_rows_get_n_rows (rows) != 1 ||
      strlen (msb_db_rows_get_string (rows, 0, 0)) != KV_VALUE_SIZE)
    g_error ("a point read returned the wrong row");
  driver_done (user_data);
}

static void
issue_read (Slot     *slot,
            gpointer  data,
            guint64  *rng)
{
  Kv *kv = data;
  const char *key = g_ptr_array_index (kv->keys, rng_next (rng) % kv->keys->len);

  msb_db_pools_read_async (kv->pools, KV_READ_SQL, g_variant_new ("(s)", key), NULL, on_read, slot);
}

/* The nodes' CPU, added to the client's: what the cluster cost per
 * operation, as dqlite-benchmark's rows count all three of its nodes. */
static void
add_nodes_cpu (Result *r,
               gint64  nodes_before,
               guint64 total_ops)
{
  if (total_ops == 0)
    return;
  r->cpu_us_per_op += (local_cluster_cpu_ns (cluster) - nodes_before) / 1000.0 / total_ops;
  result_note (r, "CPU: this process and the three nodes");
}

static Result *
run_async (const char *name,
           const char *description,
           IssueFunc   issue,
           guint       prefill)
{
  Result *r;
  Kv kv = { 0 };
  Driver d;
  gint64 nodes_cpu;

  if (the_cluster () == NULL)
    return NULL;
  r = result_new (name, description);
  kv.pools = cluster_pools (name);
  if (prefill > 0)
    kv_prefill (&kv, prefill);
  nodes_cpu = local_cluster_cpu_ns (cluster);
  driver_init (&d, issue, &kv, bench_config.window,
               window_from_now (bench_config.warmup, bench_config.duration));
  driver_run (&d);
  driver_result (&d, r);
  add_nodes_cpu (r, nodes_cpu, d.completed);
  driver_clear (&d);
  result_add_int (r, "in_flight", bench_config.window);
  kv_close (&kv, r);
  return r;
}

static Result *
cluster_insert_async (void)
{
  return run_async ("cluster.insert.async",
                    "MsbDbPools on 3 dqlite nodes: write_async(), kvwrite rows, 64 in flight",
                    issue_write, 0);
}

static Result *
cluster_read_async (void)
{
  return run_async ("cluster.read.async",
                    "MsbDbPools on 3 dqlite nodes: read_async() point reads by key, 64 in flight",
                    issue_read, bench_config.prefill_rows);
}

static Result *
cluster_insert_sync (void)
{
  Result *r;
  Kv kv = { 0 };
  gint64 nodes_cpu;

  if (the_cluster () == NULL)
    return NULL;

  r = result_new ("cluster.insert.sync.1t",
                  "MsbDbPools on 3 dqlite nodes: blocking write(), kvwrite rows, 1 thread");
  kv.pools = cluster_pools (r->name);
  nodes_cpu = local_cluster_cpu_ns (cluster);
  run_sync_loop (op_write_sync, &kv, window_from_now (bench_config.warmup, bench_config.duration), r);
  /* The loop counts warm-up operations into its CPU figure too. */
  add_nodes_cpu (r, nodes_cpu, (guint64) (r->ops * (bench_config.warmup + bench_config.duration) /
                                          bench_config.duration));
  kv_close (&kv, r);
  return r;
}

/* Failover ----------------------------------------------------------------- */

typedef struct {
  MsbDbPools *pools;
  GMutex lock;
  GCond acked;
  gboolean stop;
  gint64 killed_at;       /* ns; 0 when no kill is pending */
  gint64 first_ack;       /* ns, after killed_at */
  guint64 writes, errors;
} Failover;

static gpointer
failover_writer (gpointer data)
{
  Failover *f = data;
  guint64 rng = 0x9E3779B97F4A7C15ull;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      gint64 issued, done;

      g_mutex_lock (&f->lock);
      if (f->stop)
        {
          g_mutex_unlock (&f->lock);
          return NULL;
        }
      g_mutex_unlock (&f->lock);

      issued = now_ns ();
      rows = msb_db_pools_write (f->pools, KV_WRITE_SQL, kv_params (&rng), NULL, &error);
      done = now_ns ();
      g_mutex_lock (&f->lock);
      if (rows == NULL)
        f->errors++;
      else
        {
          f->writes++;
          /* The first write issued after the leader died: an answer the
           * dead leader had sent just before does not count. */
          if (f->killed_at != 0 && f->first_ack == 0 && issued >= f->killed_at)
            {
              f->first_ack = done;
              g_cond_broadcast (&f->acked);
            }
        }
      g_mutex_unlock (&f->lock);
    }
}

static Result *
cluster_failover (void)
{
  guint rounds = bench_config.quick ? FAILOVER_ROUNDS_QUICK : FAILOVER_ROUNDS_FULL;
  Failover f = { 0 };
  GThread *writer;
  Result *r;
  gint64 start;

  if (the_cluster () == NULL)
    return NULL;
  r = result_new ("cluster.failover",
                  "time from SIGKILL of the leader to the answer to a blocking writer's next write");
  f.pools = cluster_pools (r->name);
  g_mutex_init (&f.lock);
  g_cond_init (&f.acked);
  writer = g_thread_new ("failover-writer", failover_writer, &f);
  hist_reset (&r->hist);
  start = now_ns ();

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      gint64 killed;

      /* Writes going on before each kill, and time for the node killed in
       * the round before, back with its directory, to catch up (a node
       * that rejoins can cost a new leader its leadership). The time
       * starts once the leader is gone (SIGKILL delivered, process reaped). */
      g_usleep (SETTLE_BEFORE_KILL);
      if (!local_cluster_kill_leader (cluster, NULL, &error))
        g_error ("kill the leader: %s", error->message);
      killed = now_ns ();
      g_mutex_lock (&f.lock);
      f.killed_at = killed;
      f.first_ack = 0;
      g_mutex_unlock (&f.lock);

      g_mutex_lock (&f.lock);
      while (f.first_ack == 0)
        g_cond_wait (&f.acked, &f.lock);
      hist_record (&r->hist, f.first_ack - f.killed_at);
      f.killed_at = 0;
      g_mutex_unlock (&f.lock);

      if (!local_cluster_restart (cluster, &error))
        g_error ("restart the killed node: %s", error->message);
    }

  g_mutex_lock (&f.lock);
  f.stop = TRUE;
  g_mutex_unlock (&f.lock);
  g_thread_join (writer);

  r->ops = rounds;
  r->seconds = (now_ns () - start) / 1e9;
  result_add_int (r, "rounds", rounds);
  result_add_double (r, "failover_ms_p50", hist_percentile (&r->hist, 50) / 1e6);
  result_add_double (r, "failover_ms_p99", hist_percentile (&r->hist, 99) / 1e6);
  result_add_double (r, "failover_ms_max", r->hist.max_ns / 1e6);
  result_add_int (r, "write_errors", (gint64) f.errors);
  result_note (r, "%u rounds: failover p50 %.0f ms, p99 %.0f ms, max %.0f ms; %" G_GUINT64_FORMAT
               " writes, %" G_GUINT64_FORMAT " failed (ops/s: rounds)", rounds,
               hist_percentile (&r->hist, 50) / 1e6, hist_percentile (&r->hist, 99) / 1e6,
               r->hist.max_ns / 1e6, f.writes, f.errors);
  g_cond_clear (&f.acked);
  g_mutex_clear (&f.lock);
  {
    Kv kv = { f.pools, NULL, 0 };

    kv_close (&kv, r);
  }
  return r;
}

/* dqlite-benchmark ------------------------------------------------------- */

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  if (socket == NULL || !g_socket_bind (socket, any, FALSE, NULL) ||
      (bound = g_socket_get_local_address (socket, NULL)) == NULL)
    g_error ("no free port");
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Whether something accepts connections at 127.0.0.1:@port. */
static gboolean
port_open (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return connection != NULL;
}

/* Adds one of dqlite-benchmark's result files: "n N", "n_err N", a few
 * summary lines, then "TIMESTAMP_NS MS" per operation. */
static void
read_go_results (const char *file,
                 Result     *r,
                 guint64    *n,
                 guint64    *n_err)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (file, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      guint64 ts;
      double ms;

      if (g_str_has_prefix (line, "n_err "))
        *n_err += g_ascii_strtoull (line + 6, NULL, 10);
      else if (g_str_has_prefix (line, "n "))
        *n += g_ascii_strtoull (line + 2, NULL, 10);
      else if (sscanf (line, "%" G_GUINT64_FORMAT " %lf", &ts, &ms) == 2 && r != NULL)
        hist_record (&r->hist, (gint64) (ms * 1e6));
    }
}

static GSubprocess *
spawn_go (GPtrArray  *argv,
          GError    **error)
{
  g_ptr_array_add (argv, NULL);
  return g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                            error);
}

static Result *
run_dqlite_benchmark (const char *name,
                      const char *description,
                      const char *workload,
                      guint       workers,
                      gboolean    count_reads)
{
  g_autofree char *program = g_find_program_in_path ("dqlite-benchmark");
  g_autofree char *dir = NULL;
  g_autofree char *results_dir = NULL;
  g_autofree char *duration = NULL;
  g_autofree char *n_workers = g_strdup_printf ("%u", workers);
  char *addresses[3] = { NULL, NULL, NULL };
  g_autofree char *cluster_list = NULL;
  GSubprocess *nodes[3] = { NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;
  guint64 writes = 0, write_errors = 0, reads = 0, read_errors = 0;
  guint16 ports[3];
  const char *file;
  Result *r;
  Usage usage;
  int seconds = MAX (1, (int) ceil (bench_config.duration));

  if (program == NULL)
    return NULL;

  r = result_new (name, description);
  dir = bench_db_path (name);
  g_mkdir_with_parents (dir, 0700);
  duration = g_strdup_printf ("%d", seconds);
  for (guint i = 0; i < 3; i++)
    {
      ports[i] = free_port ();
      addresses[i] = g_strdup_printf ("127.0.0.1:%u", ports[i]);
    }
  cluster_list = g_strdup_printf ("%s,%s,%s", addresses[0], addresses[1], addresses[2]);

  usage_take_with_children (&usage);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
      gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

      g_ptr_array_add (argv, g_strdup (program));
      g_ptr_array_add (argv, g_strdup ("--db"));
      g_ptr_array_add (argv, g_strdup (addresses[i]));
      g_ptr_array_add (argv, g_strdup ("--dir"));
      g_ptr_array_add (argv, g_strdup_printf ("%s/node%u", dir, i + 1));
      if (i == 0)
        {
          const char *driver[] = { "--driver", "--cluster", cluster_list, "--workload", workload,
                                   "--duration", duration, "--workers", n_workers,
                                   "--cluster-timeout", G_STRINGIFY (GO_CLUSTER_TIMEOUT_S), NULL };

          for (guint k = 0; driver[k] != NULL; k++)
            g_ptr_array_add (argv, g_strdup (driver[k]));
        }
      else
        {
          g_ptr_array_add (argv, g_strdup ("--join"));
          g_ptr_array_add (argv, g_strdup (addresses[0]));
        }
      nodes[i] = spawn_go (argv, &error);
      if (nodes[i] == NULL)
        g_error ("dqlite-benchmark: %s", error->message);
      /* The first node must serve before the others ask it to add them. */
      while (i == 0 && !port_open (ports[0]) && g_get_monotonic_time () < deadline)
        g_usleep (20 * G_TIME_SPAN_MILLISECOND);
    }

  g_subprocess_wait_check (nodes[0], NULL, &error);
  for (guint i = 1; i < 3; i++)
    {
      g_subprocess_send_signal (nodes[i], SIGTERM);
      g_subprocess_wait (nodes[i], NULL, NULL);
    }
  for (guint i = 0; i < 3; i++)
    g_object_unref (nodes[i]);

  results_dir = g_build_filename (dir, "node1", addresses[0], "results", NULL);
  for (guint i = 0; i < 3; i++)
    g_free (addresses[i]);
  hist_reset (&r->hist);
  if (error == NULL)
    listing = g_dir_open (results_dir, 0, &error);
  if (listing == NULL)
    {
      printf ("dqlite-benchmark failed: %s\n", error->message);
      local_cluster_remove_tree (dir);
      result_free (r);
      return NULL;
    }
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (results_dir, file, NULL);
      gboolean is_read = strstr (file, "-query-") != NULL;

      if (is_read)
        read_go_results (path, count_reads ? r : NULL, &reads, &read_errors);
      else
        read_go_results (path, count_reads ? NULL : r, &writes, &write_errors);
    }

  r->ops = count_reads ? reads : writes;
  r->seconds = seconds;
  if (r->ops > 0)
    {
      Usage after;

      usage_take_with_children (&after);
      r->cpu_us_per_op = (after.cpu_ns - usage.cpu_ns) / 1000.0 / r->ops;
      r->csw_per_op = (double) (after.csw - usage.csw) / r->ops;
    }
  result_add_int (r, "workers", workers);
  result_add_int (r, "writes", (gint64) writes);
  result_add_int (r, "write_errors", (gint64) write_errors);
  result_add_int (r, "reads", (gint64) reads);
  result_add_int (r, "read_errors", (gint64) read_errors);
  result_note (r, "Go client, %u worker%s, %d s: %" G_GUINT64_FORMAT " writes (%" G_GUINT64_FORMAT
               " failed attempts)", workers, workers == 1 ? "" : "s", seconds, writes, write_errors);
  if (count_reads)
    result_note (r, "%" G_GUINT64_FORMAT " reads (%" G_GUINT64_FORMAT " failed); ops/s: reads",
                 reads, read_errors);
  result_note (r, "CPU: all three nodes, the driver's workers included");
  local_cluster_remove_tree (dir);
  return r;
}

static Result *
go_kvwrite_1 (void)
{
  return run_dqlite_benchmark ("dqlite-benchmark.kvwrite.w1",
                               "dqlite-benchmark (Go), kvwrite, 1 worker, 3 nodes", "kvwrite", 1,
                               FALSE);
}

static Result *
go_kvwrite_4 (void)
{
  return run_dqlite_benchmark ("dqlite-benchmark.kvwrite.w4",
                               "dqlite-benchmark (Go), kvwrite, 4 workers, 3 nodes", "kvwrite", 4,
                               FALSE);
}

static Result *
go_kvreadwrite_1 (void)
{
  return run_dqlite_benchmark ("dqlite-benchmark.kvreadwrite.w1",
                               "dqlite-benchmark (Go), kvreadwrite (half reads), 1 worker, 3 nodes",
                               "kvreadwrite", 1, TRUE);
}

const Scenario cluster_scenarios[] = {
  { "dqlite-benchmark.kvwrite.w1", "dqlite-benchmark (Go), kvwrite, 1 worker", go_kvwrite_1 },
  { "dqlite-benchmark.kvwrite.w4", "dqlite-benchmark (Go), kvwrite, 4 workers", go_kvwrite_4 },
  { "dqlite-benchmark.kvreadwrite.w1", "dqlite-benchmark (Go), kvreadwrite, 1 worker", go_kvreadwrite_1 },
  { "cluster.insert.sync.1t", "MsbDbPools on 3 nodes: blocking write(), 1 thread", cluster_insert_sync },
  { "cluster.insert.async", "MsbDbPools on 3 nodes: write_async(), 64 in flight", cluster_insert_async },
  { "cluster.read.async", "MsbDbPools on 3 nodes: read_async() point reads, 64 in flight", cluster_read_async },
  { "cluster.failover", "MsbDbPools on 3 nodes: leader killed, time to the next write", cluster_failover },
  { NULL, NULL, NULL }
};
