/* msb-db-demo.c: `msb-db demo` and its hidden second process `msb-db demo-writer`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The demo puts one MsbDbPools under the load it is made for, on a fresh
 * temporary database, and then proves that nothing was lost:
 *
 *  - reader threads call msb_db_pools_read() and msb_db_pools_snapshot();
 *  - writer threads mix blocking single-statement writes
 *    (INSERT ... RETURNING id) and blocking transactions (a batch row and
 *    three item rows);
 *  - the main loop keeps a few asynchronous calls in flight
 *    (write_async, transaction_async, read_async);
 *  - one or more other processes (this tool, run as `demo-writer`) open their
 *    own MsbDbPools on the same file and write at the same time, so the
 *    writers of two processes contend for SQLite's one write lock.
 *
 * Every writer records the ids it got acknowledged. Readers check that the
 * last acknowledged row is visible to a read started after the
 * acknowledgement, and that inside a snapshot every batch has its three
 * items (a transaction is all or nothing). At the end the pools are closed,
 * the file is opened again read-only, and the rows on disk are compared with
 * the acknowledged ids: exactly, for this process; by count, min, max and
 * sum of ids, for the other processes, which report them on stdout.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "msb-db-tool.h"
#include "msb-db-local-cluster.h"

#define DEMO_DEFAULT_SECONDS    3.0
#define DEMO_DEFAULT_READERS    4
#define DEMO_DEFAULT_WRITERS    2
#define DEMO_DEFAULT_PROCESSES  1
#define DEMO_ASYNC_DEPTH        4   /* async calls the main loop keeps in flight */
#define DEMO_ITEMS_PER_BATCH    3
#define DEMO_MAX_MESSAGES       5   /* error messages kept for the summary */

static const char *const demo_schema[] = {
  "CREATE TABLE IF NOT EXISTS demo_batches ("
  " id INTEGER PRIMARY KEY,"
  " writer TEXT NOT NULL,"
  " created_us INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS demo_items ("
  " id INTEGER PRIMARY KEY,"
  " writer TEXT NOT NULL,"
  " batch_id INTEGER REFERENCES demo_batches (id),"
  " payload TEXT NOT NULL,"
  " data BLOB,"
  " created_us INTEGER NOT NULL)",
  "CREATE INDEX IF NOT EXISTS demo_items_writer ON demo_items (writer)",
  "CREATE INDEX IF NOT EXISTS demo_items_batch ON demo_items (batch_id)",
};

#define SQL_INSERT_ITEM \
  "INSERT INTO demo_items (writer, payload, data, created_us) VALUES (?, ?, ?, ?) RETURNING id"
#define SQL_INSERT_BATCH_ITEM \
  "INSERT INTO demo_items (writer, batch_id, payload, data, created_us)" \
  " VALUES (?, ?, ?, ?, ?) RETURNING id"
#define SQL_INSERT_BATCH \
  "INSERT INTO demo_batches (writer, created_us) VALUES (?, ?) RETURNING id"

/* ---- shared by both processes ------------------------------------------- */

static gboolean
create_schema_func (MsbDbConnection  *connection,
                    gpointer          user_data,
                    GError          **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (demo_schema); i++)
    {
      g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, demo_schema[i], NULL, error);
      if (rows == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
demo_create_schema (MsbDbPools  *pools,
                    GError     **error)
{
  return msb_db_pools_transaction (pools, create_schema_func, NULL, NULL, error);
}

/* Parameters of one item: (writer, [batch_id,] payload, data, created_us). */
static GVariant *
item_params (const char *label,
             gint64      batch_id,
             guint64     sequence)
{
  guint32 random[2] = { g_random_int (), g_random_int () };
  g_autofree char *payload = g_strdup_printf ("%s item %" G_GUINT64_FORMAT, label, sequence);
  GVariant *data = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, random, sizeof random, 1);

  if (batch_id > 0)
    return g_variant_new ("(sxs@ayx)", label, batch_id, payload, data, g_get_real_time ());
  return g_variant_new ("(ss@ayx)", label, payload, data, g_get_real_time ());
}

/* The id of an INSERT ... RETURNING id. */
static gboolean
returned_id (MsbDbRows  *rows,
             gint64     *id,
             GError    **error)
{
  if (rows == NULL)
    return FALSE;
  if (msb_db_rows_get_n_rows (rows) != 1 || msb_db_rows_get_n_columns (rows) < 1)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "INSERT … RETURNING id gave %u rows", msb_db_rows_get_n_rows (rows));
      return FALSE;
    }
  *id = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

/* One batch: a row in demo_batches and three items pointing at it, in one
 * transaction. The function may run more than once (the library runs it
 * again from the start after SQLITE_BUSY), so it only fills in the ids of
 * its latest run: when the transaction is acknowledged they are the ids of
 * the run that committed. */
typedef struct {
  gpointer demo;  /* the Demo of the async pipeline, or NULL */
  char    *label;
  guint64  sequence;
  gint64   batch_id;
  gint64   item_ids[DEMO_ITEMS_PER_BATCH];
} DemoBatch;

static void
demo_batch_clear (gpointer data)
{
  DemoBatch *batch = data;

  g_free (batch->label);
}

/* A DemoBatch lives in an atomic refcounted box: one reference for the
 * library (dropped with the GDestroyNotify), one for the caller. */
static DemoBatch *
demo_batch_new (const char *label,
                guint64     sequence)
{
  DemoBatch *batch = g_atomic_rc_box_new0 (DemoBatch);

  batch->label = g_strdup (label);
  batch->sequence = sequence;
  return batch;
}

static void
demo_batch_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, demo_batch_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DemoBatch, demo_batch_release)

static gboolean
demo_batch_func (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  DemoBatch *batch = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, SQL_INSERT_BATCH,
                                    g_variant_new ("(sx)", batch->label, g_get_real_time ()),
                                    error);
  if (!returned_id (rows, &batch->batch_id, error))
    return FALSE;

  for (guint i = 0; i < DEMO_ITEMS_PER_BATCH; i++)
    {
      g_autoptr(MsbDbRows) item = NULL;

      item = msb_db_connection_execute (connection, SQL_INSERT_BATCH_ITEM,
                                        item_params (batch->label, batch->batch_id,
                                                     batch->sequence * DEMO_ITEMS_PER_BATCH + i),
                                        error);
      if (!returned_id (item, &batch->item_ids[i], error))
        return FALSE;
    }
  return TRUE;
}

/* ---- the demo process ---------------------------------------------------- */

typedef struct {
  _Atomic guint64 reads;           /* read() and read_async(), successful */
  _Atomic guint64 snapshots;
  _Atomic guint64 writes;          /* single-statement writes, acknowledged */
  _Atomic guint64 async_writes;    /* of which through write_async() */
  _Atomic guint64 transactions;    /* acknowledged */
  _Atomic guint64 async_transactions;
  _Atomic guint64 errors;          /* calls that failed */
  _Atomic guint64 visibility_checks;
  _Atomic guint64 visibility_misses;
  _Atomic guint64 snapshot_checks;
  _Atomic guint64 snapshot_violations;
  _Atomic guint64 sequence;        /* numbers the payloads */
} DemoCounters;

typedef struct _Demo Demo;

typedef struct {
  Demo        *demo;
  GSubprocess *process;
  char        *pid;      /* while it runs g_subprocess_get_identifier() knows it */
  char        *failure;  /* why the process is not ok, or NULL */
  GHashTable  *report;   /* its "key=value" words */
} DemoChild;

struct _Demo {
  /* options */
  double       seconds;
  int          readers;
  int          writers;
  int          processes;
  char        *db;
  gboolean     keep;
  gboolean     stats;
  gboolean     cluster_mode;

  LocalCluster *cluster;   /* --cluster: three local dqlite nodes */
  char        *killed_node;
  gint64       killed_us;  /* when the leader was killed; under `lock` */
  gint64       failover_us;  /* from then to the next acknowledged write */

  char        *tmp_dir;   /* made by the demo, removed unless --keep */
  char        *path;
  char        *label;     /* the `writer` column of this process's rows */
  MsbDbPools  *pools;
  gint64       start_us;
  gint64       deadline_us;
  gint64       end_us;
  atomic_bool  stop;      /* Ctrl-C */
  DemoCounters counters;

  GMutex       lock;      /* protects the four members below */
  GPtrArray   *messages;
  GArray      *acked_items;
  GArray      *acked_batches;
  gint64       last_acked_item;

  /* main thread only */
  GMainLoop   *loop;
  GPtrArray   *threads;
  guint        threads_running;
  guint        async_in_flight;
  guint64      async_ops;
  GPtrArray   *children;
  guint        children_running;
  gboolean     tty;
  guint        sigint_id;
};

static gboolean
demo_should_stop (Demo *demo)
{
  return atomic_load (&demo->stop) || g_get_monotonic_time () >= demo->deadline_us;
}

static void
demo_error (Demo         *demo,
            const char   *what,
            const GError *error)
{
  atomic_fetch_add (&demo->counters.errors, 1);
  g_mutex_lock (&demo->lock);
  if (demo->messages->len < DEMO_MAX_MESSAGES)
    g_ptr_array_add (demo->messages, g_strdup_printf ("%s: %s", what, error->message));
  g_mutex_unlock (&demo->lock);
}

static void
demo_problem (Demo       *demo,
              const char *message)
{
  g_mutex_lock (&demo->lock);
  if (demo->messages->len < DEMO_MAX_MESSAGES)
    g_ptr_array_add (demo->messages, g_strdup (message));
  g_mutex_unlock (&demo->lock);
}

/* Records acknowledged ids (an item, or a batch and its items). */
static void
demo_ack (Demo         *demo,
          gint64        batch_id,
          const gint64 *item_ids,
          guint         n_items)
{
  g_mutex_lock (&demo->lock);
  if (demo->killed_us != 0 && demo->failover_us == 0)
    demo->failover_us = g_get_monotonic_time () - demo->killed_us;
  if (batch_id > 0)
    g_array_append_val (demo->acked_batches, batch_id);
  g_array_append_vals (demo->acked_items, item_ids, n_items);
  for (guint i = 0; i < n_items; i++)
    demo->last_acked_item = MAX (demo->last_acked_item, item_ids[i]);
  g_mutex_unlock (&demo->lock);
}

static gint64
demo_last_acked_item (Demo *demo)
{
  gint64 id;

  g_mutex_lock (&demo->lock);
  id = demo->last_acked_item;
  g_mutex_unlock (&demo->lock);
  return id;
}

static guint64
demo_next_sequence (Demo *demo)
{
  return atomic_fetch_add (&demo->counters.sequence, 1);
}

/* -- writer threads -- */

static void
demo_write_item (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 id;

  rows = msb_db_pools_write (demo->pools, SQL_INSERT_ITEM,
                             item_params (demo->label, 0, demo_next_sequence (demo)),
                             NULL, &error);
  if (!returned_id (rows, &id, &error))
    {
      demo_error (demo, "write", error);
      return;
    }
  atomic_fetch_add (&demo->counters.writes, 1);
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
  atomic_fetch_add (&demo->counters.transactions, 1);
  demo_ack (demo, batch->batch_id, batch->item_ids, DEMO_ITEMS_PER_BATCH);
}

static void
demo_thread_done (gpointer data)
{
  Demo *demo = data;

  demo->threads_running--;
  if (demo->threads_running == 0 && demo->async_in_flight == 0 && demo->children_running == 0)
    g_main_loop_quit (demo->loop);
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

/* -- reader threads -- */

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
  atomic_fetch_add (&demo->counters.reads, 1);
  atomic_fetch_add (&demo->counters.visibility_checks, 1);
  if (msb_db_rows_get_int64 (rows, 0, 0) != 1)
    {
      g_autofree char *message = NULL;

      atomic_fetch_add (&demo->counters.visibility_misses, 1);
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
    atomic_fetch_add (&demo->counters.reads, 1);
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
  atomic_fetch_add (&demo->counters.snapshots, 1);
  atomic_fetch_add (&demo->counters.snapshot_checks, 1);
  if (counts.batch_items != counts.batches * DEMO_ITEMS_PER_BATCH)
    {
      g_autofree char *message = NULL;

      atomic_fetch_add (&demo->counters.snapshot_violations, 1);
      message = g_strdup_printf ("a snapshot saw %" G_GINT64_FORMAT " batches but %" G_GINT64_FORMAT
                                 " batch items", counts.batches, counts.batch_items);
      demo_problem (demo, message);
    }
}

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

/* -- async calls from the main loop -- */

static void demo_async_issue (Demo *demo);

static void
demo_async_done (Demo *demo)
{
  demo->async_in_flight--;
  if (!demo_should_stop (demo))
    demo_async_issue (demo);
  else if (demo->threads_running == 0 && demo->async_in_flight == 0 && demo->children_running == 0)
    g_main_loop_quit (demo->loop);
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

  if (returned_id (rows, &id, &error))
    {
      atomic_fetch_add (&demo->counters.writes, 1);
      atomic_fetch_add (&demo->counters.async_writes, 1);
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
      atomic_fetch_add (&demo->counters.transactions, 1);
      atomic_fetch_add (&demo->counters.async_transactions, 1);
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
    atomic_fetch_add (&demo->counters.reads, 1);
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
                                item_params (demo->label, 0, demo_next_sequence (demo)),
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

/* -- the other processes -- */

static guint64
child_value (DemoChild  *child,
             const char *key)
{
  const char *value = g_hash_table_lookup (child->report, key);

  return value != NULL ? g_ascii_strtoull (value, NULL, 10) : 0;
}

static const char *
child_label (DemoChild *child)
{
  const char *label = g_hash_table_lookup (child->report, "label");

  return label != NULL ? label : "?";
}

/* Reads the "demo-writer key=value ..." line the process printed. */
static gboolean
child_parse_report (DemoChild  *child,
                    const char *output)
{
  g_auto(GStrv) lines = g_strsplit (output != NULL ? output : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = NULL;

      if (!g_str_has_prefix (lines[i], "demo-writer "))
        continue;
      words = g_strsplit (lines[i], " ", -1);
      for (guint w = 1; words[w] != NULL; w++)
        {
          char *equal = strchr (words[w], '=');

          if (equal != NULL)
            g_hash_table_insert (child->report, g_strndup (words[w], equal - words[w]),
                                 g_strdup (equal + 1));
        }
      return g_hash_table_contains (child->report, "label");
    }
  return FALSE;
}

static void
demo_child_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  DemoChild *child = user_data;
  Demo *demo = child->demo;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  if (!g_subprocess_communicate_utf8_finish (child->process, result, &output, NULL, &error))
    child->failure = g_strdup (error->message);
  else if (!child_parse_report (child, output))
    child->failure = g_strdup ("it printed no demo-writer report");
  else if (!g_subprocess_get_if_exited (child->process) ||
           g_subprocess_get_exit_status (child->process) != 0)
    child->failure = g_strdup_printf ("it failed (wait status %d)",
                                      g_subprocess_get_status (child->process));

  demo->children_running--;
  if (demo->threads_running == 0 && demo->async_in_flight == 0 && demo->children_running == 0)
    g_main_loop_quit (demo->loop);
}

static void
demo_child_free (DemoChild *child)
{
  g_clear_object (&child->process);
  g_clear_pointer (&child->report, g_hash_table_unref);
  g_free (child->pid);
  g_free (child->failure);
  g_free (child);
}

/* This very program, to run it again as `demo-writer`. */
static char *
self_executable (void)
{
  char *path = g_file_read_link ("/proc/self/exe", NULL);

  if (path == NULL)
    path = g_find_program_in_path ("msb-db");
  return path;
}

static gboolean
demo_spawn_children (Demo    *demo,
                     GError **error)
{
  g_autofree char *self = self_executable ();
  char seconds[G_ASCII_DTOSTR_BUF_SIZE];

  if (demo->processes > 0 && self == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "cannot find the msb-db executable to start a second process");
      return FALSE;
    }
  g_ascii_dtostr (seconds, sizeof seconds, demo->seconds);

  for (int i = 0; i < demo->processes; i++)
    {
      const char *argv[] = { self, "demo-writer", demo->path, seconds, NULL };
      DemoChild *child = g_new0 (DemoChild, 1);

      child->demo = demo;
      child->report = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_ptr_array_add (demo->children, child);
      child->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
      if (child->process == NULL)
        {
          child->failure = g_strdup_printf ("could not start: %s", (*error)->message);
          return FALSE;
        }
      child->pid = g_strdup (g_subprocess_get_identifier (child->process));
      demo->children_running++;
      g_subprocess_communicate_utf8_async (child->process, NULL, NULL, demo_child_done, child);
    }
  return TRUE;
}

/* -- progress, Ctrl-C -- */

static void
demo_print_progress (Demo *demo)
{
  double elapsed = (g_get_monotonic_time () - demo->start_us) / (double) G_TIME_SPAN_SECOND;

  printf ("%s%.1f s  reads %" G_GUINT64_FORMAT "  snapshots %" G_GUINT64_FORMAT
          "  writes %" G_GUINT64_FORMAT "  transactions %" G_GUINT64_FORMAT
          "  errors %" G_GUINT64_FORMAT "%s",
          demo->tty ? "\r" : "", elapsed,
          (guint64) atomic_load (&demo->counters.reads),
          (guint64) atomic_load (&demo->counters.snapshots),
          (guint64) atomic_load (&demo->counters.writes),
          (guint64) atomic_load (&demo->counters.transactions),
          (guint64) atomic_load (&demo->counters.errors),
          demo->tty ? "\033[K" : "\n");
  fflush (stdout);
}

static gboolean
demo_progress_cb (gpointer data)
{
  demo_print_progress (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
demo_sigint_cb (gpointer data)
{
  Demo *demo = data;

  atomic_store (&demo->stop, TRUE);
  demo->sigint_id = 0;
  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);
      if (child->process != NULL)
        g_subprocess_send_signal (child->process, SIGINT);
    }
  fprintf (stderr, "\nmsb-db demo: interrupted, stopping and verifying\n");
  return G_SOURCE_REMOVE;  /* a second Ctrl-C kills */
}

/* -- verification -- */

typedef struct {
  guint64  items_acked;
  guint64  items_found;
  guint64  items_missing;
  guint64  items_unexpected;
  guint64  batches_acked;
  guint64  batches_found;
  guint64  batches_missing;
  guint64  batches_unexpected;
  gint64   incomplete_batches;
  gint64   all_batches;
  char    *quick_check;
  gboolean leftovers;  /* -wal or -shm after every writer closed */
  gboolean ok;
} DemoVerify;

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Compares the sorted acknowledged ids with the ids on disk. */
static void
compare_id_sets (GArray    *acked,
                 MsbDbRows *found,
                 guint64   *missing,
                 guint64   *unexpected)
{
  guint n_found = msb_db_rows_get_n_rows (found);
  guint a = 0, f = 0;

  g_array_sort (acked, compare_ids);
  *missing = *unexpected = 0;
  while (a < acked->len || f < n_found)
    {
      gint64 want = a < acked->len ? g_array_index (acked, gint64, a) : G_MAXINT64;
      gint64 have = f < n_found ? msb_db_rows_get_int64 (found, f, 0) : G_MAXINT64;

      if (want == have)
        a++, f++;
      else if (want < have)
        (*missing)++, a++;
      else
        (*unexpected)++, f++;
    }
}

static MsbDbRows *
verify_read (MsbDbPools  *pools,
             const char  *sql,
             const char  *label,
             GError     **error)
{
  return msb_db_pools_read (pools, sql, label != NULL ? g_variant_new ("(s)", label) : NULL,
                            NULL, error);
}

static gboolean
verify_child (MsbDbPools  *pools,
              DemoChild   *child,
              GError     **error)
{
  g_autoptr(MsbDbRows) items = NULL;
  g_autoptr(MsbDbRows) batches = NULL;

  if (child->failure != NULL)
    return TRUE;  /* already failed: nothing to compare */

  items = verify_read (pools, "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0),"
                       " coalesce(sum(id), 0) FROM demo_items WHERE writer = ?",
                       child_label (child), error);
  if (items == NULL)
    return FALSE;
  batches = verify_read (pools, "SELECT count(*) FROM demo_batches WHERE writer = ?",
                         child_label (child), error);
  if (batches == NULL)
    return FALSE;

  if ((guint64) msb_db_rows_get_int64 (items, 0, 0) != child_value (child, "items") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 1) != child_value (child, "min_id") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 2) != child_value (child, "max_id") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 3) != child_value (child, "sum_id") ||
      (guint64) msb_db_rows_get_int64 (batches, 0, 0) != child_value (child, "batches"))
    child->failure = g_strdup_printf ("on disk: %" G_GINT64_FORMAT " items (ids %" G_GINT64_FORMAT
                                      "..%" G_GINT64_FORMAT ", sum %" G_GINT64_FORMAT "), %"
                                      G_GINT64_FORMAT " batches; acknowledged: %" G_GUINT64_FORMAT
                                      " items (ids %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                                      ", sum %" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " batches",
                                      msb_db_rows_get_int64 (items, 0, 0),
                                      msb_db_rows_get_int64 (items, 0, 1),
                                      msb_db_rows_get_int64 (items, 0, 2),
                                      msb_db_rows_get_int64 (items, 0, 3),
                                      msb_db_rows_get_int64 (batches, 0, 0),
                                      child_value (child, "items"), child_value (child, "min_id"),
                                      child_value (child, "max_id"), child_value (child, "sum_id"),
                                      child_value (child, "batches"));
  return TRUE;
}

/* Opens the closed database again, read-only, and compares. */
static gboolean
demo_verify (Demo        *demo,
             DemoVerify  *verify,
             GError     **error)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbRows) items = NULL;
  g_autoptr(MsbDbRows) batches = NULL;
  g_autoptr(MsbDbRows) incomplete = NULL;
  g_autoptr(MsbDbRows) quick = NULL;
  g_autofree char *wal = g_strconcat (demo->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (demo->path, "-shm", NULL);

  /* every process has closed its pools: a clean close of the last user
   * leaves no -wal or -shm behind */
  verify->leftovers = g_file_test (wal, G_FILE_TEST_EXISTS) || g_file_test (shm, G_FILE_TEST_EXISTS);

  pools = msb_db_pools_open_read_only (demo->path, 2,
                                       MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                       MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                       NULL, error);
  if (pools == NULL)
    return FALSE;

  items = verify_read (pools, "SELECT id FROM demo_items WHERE writer = ? ORDER BY id",
                       demo->label, error);
  if (items == NULL)
    return FALSE;
  batches = verify_read (pools, "SELECT id FROM demo_batches WHERE writer = ? ORDER BY id",
                         demo->label, error);
  if (batches == NULL)
    return FALSE;
  incomplete = verify_read (pools, "SELECT count(*), (SELECT count(*) FROM demo_batches)"
                            " FROM demo_batches AS b WHERE (SELECT count(*) FROM demo_items AS i"
                            " WHERE i.batch_id = b.id) <> 3", NULL, error);
  if (incomplete == NULL)
    return FALSE;
  quick = verify_read (pools, "PRAGMA quick_check", NULL, error);
  if (quick == NULL)
    return FALSE;

  verify->items_acked = demo->acked_items->len;
  verify->items_found = msb_db_rows_get_n_rows (items);
  compare_id_sets (demo->acked_items, items, &verify->items_missing, &verify->items_unexpected);
  verify->batches_acked = demo->acked_batches->len;
  verify->batches_found = msb_db_rows_get_n_rows (batches);
  compare_id_sets (demo->acked_batches, batches, &verify->batches_missing, &verify->batches_unexpected);
  verify->incomplete_batches = msb_db_rows_get_int64 (incomplete, 0, 0);
  verify->all_batches = msb_db_rows_get_int64 (incomplete, 0, 1);
  verify->quick_check = g_strdup (msb_db_rows_get_string (quick, 0, 0));

  for (guint i = 0; i < demo->children->len; i++)
    if (!verify_child (pools, g_ptr_array_index (demo->children, i), error))
      return FALSE;

  if (!msb_db_pools_close (pools, NULL, error))
    return FALSE;

  verify->ok = verify->items_missing == 0 && verify->items_unexpected == 0 &&
               verify->batches_missing == 0 && verify->batches_unexpected == 0 &&
               verify->incomplete_batches == 0 &&
               g_strcmp0 (verify->quick_check, "ok") == 0 &&
               atomic_load (&demo->counters.visibility_misses) == 0 &&
               atomic_load (&demo->counters.snapshot_violations) == 0;
  for (guint i = 0; i < demo->children->len; i++)
    if (((DemoChild *) g_ptr_array_index (demo->children, i))->failure != NULL)
      verify->ok = FALSE;
  return TRUE;
}

/* -- the cluster (--cluster) -- */

static LocalCluster *
demo_cluster_start (GError **error)
{
#ifdef MSB_DB_HAVE_DQLITE_NODE
  g_autofree char *self = self_executable ();

  if (self == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "cannot find the msb-db executable to start the dqlite nodes");
      return NULL;
    }
  return local_cluster_start (self, error);
#else
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "--cluster needs `msb-db node`, and this msb-db was built without "
                       "libdqlite (install libdqlite-dev and build again)");
  return NULL;
#endif
}

/* Half-way: the leader dies without a word. */
static void
demo_kill_leader_cb (gpointer data)
{
  Demo *demo = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  gint64 now;

  if (!local_cluster_kill_leader (demo->cluster, &address, &error))
    {
      demo_error (demo, "killing the leader", error);
      return;
    }
  /* From its death: an answer it sent just before does not count. */
  now = g_get_monotonic_time ();
  g_mutex_lock (&demo->lock);
  demo->killed_us = now;
  demo->killed_node = g_steal_pointer (&address);
  g_mutex_unlock (&demo->lock);
  printf ("%sleader %s killed with SIGKILL at %.1f s%s", demo->tty ? "\r\033[K" : "",
          demo->killed_node, (now - demo->start_us) / (double) G_TIME_SPAN_SECOND,
          demo->tty ? "\n" : "\n");
  fflush (stdout);
}

static void
demo_print_failover (Demo *demo)
{
  if (demo->killed_us == 0)
    printf ("failover          the leader was not killed\n");
  else if (demo->failover_us == 0)
    printf ("failover          leader %s killed; no write acknowledged after it\n",
            demo->killed_node);
  else
    printf ("failover          leader %s killed; callers waited %" G_GINT64_FORMAT
            " ms for the next acknowledged write\n", demo->killed_node,
            demo->failover_us / G_TIME_SPAN_MILLISECOND);
}

/* -- the report -- */

static void
demo_print_summary (Demo             *demo,
                    const MsbDbStats *stats,
                    const DemoVerify *verify,
                    guint64           errors,
                    gboolean          ok)
{
  DemoCounters *c = &demo->counters;
  double elapsed = (demo->end_us - demo->start_us) / (double) G_TIME_SPAN_SECOND;
  guint64 child_writes = 0, child_transactions = 0, child_busy = 0, child_timeouts = 0;
  guint64 own_ops, child_ops;

  for (guint i = 0; i < demo->children->len; i++)
    {
      DemoChild *child = g_ptr_array_index (demo->children, i);

      child_writes += child_value (child, "writes");
      child_transactions += child_value (child, "transactions");
      child_busy += child_value (child, "busy_retries");
      child_timeouts += child_value (child, "pool_timeouts");
    }
  own_ops = c->reads + c->snapshots + c->writes + c->transactions;
  child_ops = child_writes + child_transactions;

  printf ("\noperations         this process   other process%s\n", demo->children->len == 1 ? "" : "es");
  printf ("  reads           %13" G_GUINT64_FORMAT "   %13s\n", (guint64) c->reads, "-");
  printf ("  snapshots       %13" G_GUINT64_FORMAT "   %13s\n", (guint64) c->snapshots, "-");
  printf ("  writes          %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT
          "   (%" G_GUINT64_FORMAT " of them async)\n",
          (guint64) c->writes, child_writes, (guint64) c->async_writes);
  printf ("  transactions    %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT
          "   (%" G_GUINT64_FORMAT " of them async)\n",
          (guint64) c->transactions, child_transactions, (guint64) c->async_transactions);
  printf ("  total           %13" G_GUINT64_FORMAT "   %13" G_GUINT64_FORMAT "\n", own_ops, child_ops);
  printf ("throughput        %.0f ops/s over %.1f s\n",
          elapsed > 0 ? (own_ops + child_ops) / elapsed : 0.0, elapsed);
  printf ("busy retries      %" G_GUINT64_FORMAT " (this process), %" G_GUINT64_FORMAT " (other)\n",
          stats->busy_retries, child_busy);
  printf ("pool timeouts     %" G_GUINT64_FORMAT " (this process), %" G_GUINT64_FORMAT " (other)\n",
          stats->pool_timeouts, child_timeouts);
  {
    g_autofree char *wal_size = g_format_size (stats->wal_bytes);
    printf ("wal file          %s as last seen by the writer, %" G_GUINT64_FORMAT " checkpoints\n",
            wal_size, stats->checkpoints);
  }
  if (demo->cluster != NULL)
    demo_print_failover (demo);
  printf ("errors            %" G_GUINT64_FORMAT "\n", errors);
  for (guint i = 0; i < demo->messages->len; i++)
    printf ("  %s\n", (const char *) g_ptr_array_index (demo->messages, i));

  if (verify != NULL)
    {
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
                    pid, child_value (child, "items"), child_value (child, "min_id"),
                    child_value (child, "max_id"), child_value (child, "batches"));
        }
      printf ("  batches         %" G_GINT64_FORMAT " in the file, %" G_GINT64_FORMAT
              " without exactly %d items\n",
              verify->all_batches, verify->incomplete_batches, DEMO_ITEMS_PER_BATCH);
      printf ("  read after ack  %" G_GUINT64_FORMAT " checks, %" G_GUINT64_FORMAT " misses\n",
              (guint64) c->visibility_checks, (guint64) c->visibility_misses);
      printf ("  snapshots       %" G_GUINT64_FORMAT " checks, %" G_GUINT64_FORMAT " inconsistent\n",
              (guint64) c->snapshot_checks, (guint64) c->snapshot_violations);
      printf ("  quick_check     %s\n", verify->quick_check != NULL ? verify->quick_check : "?");
      if (demo->cluster == NULL)
        printf ("  -wal/-shm       %s\n", verify->leftovers ? "left behind by the last writer's close"
                                                            : "none left by the last writer's close");
    }

  printf ("\nresult: %s\n", ok ? "OK: no errors, every acknowledged write is on disk" : "FAILED");
  fflush (stdout);
}

/* -- setup and teardown -- */

static void
demo_remove_tmp_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_unlink (file);
    }
  g_rmdir (dir);
}

static void
demo_free (Demo *demo)
{
  g_clear_object (&demo->pools);
  g_clear_pointer (&demo->children, g_ptr_array_unref);
  g_clear_pointer (&demo->threads, g_ptr_array_unref);
  g_clear_pointer (&demo->messages, g_ptr_array_unref);
  g_clear_pointer (&demo->acked_items, g_array_unref);
  g_clear_pointer (&demo->acked_batches, g_array_unref);
  g_clear_pointer (&demo->loop, g_main_loop_unref);
  g_mutex_clear (&demo->lock);
  local_cluster_stop (demo->cluster);
  g_free (demo->killed_node);
  g_free (demo->db);
  g_free (demo->tmp_dir);
  g_free (demo->path);
  g_free (demo->label);
  g_free (demo);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Demo, demo_free)

static gboolean
demo_prepare (Demo    *demo,
              GError **error)
{
  if (demo->cluster_mode)
    {
      demo->cluster = demo_cluster_start (error);
      if (demo->cluster == NULL)
        return FALSE;
      demo->path = local_cluster_target (demo->cluster, "demo");
    }
  else if (demo->db != NULL)
    demo->path = g_strdup (demo->db);
  else
    {
      demo->tmp_dir = g_dir_make_tmp ("msb-db-demo-XXXXXX", error);
      if (demo->tmp_dir == NULL)
        return FALSE;
      demo->path = g_build_filename (demo->tmp_dir, "demo.db", NULL);
    }

  demo->pools = msb_db_pools_open (demo->path, MSB_DB_DEFAULT_MAX_READ_CONNECTIONS,
                                   MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                   MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                   NULL, error);
  return demo->pools != NULL && demo_create_schema (demo->pools, error);
}

static void
demo_start_threads (Demo *demo)
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

/* Runs the workers until the time is up and everyone has finished. */
static gboolean
demo_run (Demo    *demo,
          GError **error)
{
  guint progress_id;

  demo->start_us = g_get_monotonic_time ();
  demo->deadline_us = demo->start_us + (gint64) (demo->seconds * G_TIME_SPAN_SECOND);

  if (!demo_spawn_children (demo, error))
    {
      atomic_store (&demo->stop, TRUE);
      /* still wait for the processes already started */
    }
  demo_start_threads (demo);

  if (demo->cluster != NULL)
    g_timeout_add_once ((guint) (demo->seconds * 1000 / 2), demo_kill_leader_cb, demo);
  progress_id = g_timeout_add (demo->tty ? 200 : 1000, demo_progress_cb, demo);
  demo->sigint_id = g_unix_signal_add (SIGINT, demo_sigint_cb, demo);
  if (demo->threads_running > 0 || demo->async_in_flight > 0 || demo->children_running > 0)
    g_main_loop_run (demo->loop);
  g_source_remove (progress_id);
  if (demo->sigint_id != 0)
    g_source_remove (demo->sigint_id);
  demo->end_us = g_get_monotonic_time ();

  if (demo->tty)
    {
      demo_print_progress (demo);
      printf ("\n");
    }
  for (guint i = 0; i < demo->threads->len; i++)
    g_thread_join (g_ptr_array_index (demo->threads, i));
  g_ptr_array_set_size (demo->threads, 0);

  return error == NULL || *error == NULL;
}

static Demo *
demo_new (void)
{
  Demo *demo = g_new0 (Demo, 1);

  demo->seconds = DEMO_DEFAULT_SECONDS;
  demo->readers = DEMO_DEFAULT_READERS;
  demo->writers = DEMO_DEFAULT_WRITERS;
  demo->processes = DEMO_DEFAULT_PROCESSES;
  g_mutex_init (&demo->lock);
  demo->messages = g_ptr_array_new_with_free_func (g_free);
  demo->acked_items = g_array_new (FALSE, FALSE, sizeof (gint64));
  demo->acked_batches = g_array_new (FALSE, FALSE, sizeof (gint64));
  demo->threads = g_ptr_array_new ();
  demo->children = g_ptr_array_new_with_free_func ((GDestroyNotify) demo_child_free);
  demo->loop = g_main_loop_new (NULL, FALSE);
  demo->label = g_strdup_printf ("demo-%d-%08x", (int) getpid (), g_random_int ());
  demo->tty = isatty (STDOUT_FILENO);
  return demo;
}

static const char *
validate_options (Demo *demo)
{
  if (!(demo->seconds > 0 && demo->seconds <= 3600))
    return "--seconds takes more than 0 and at most 3600 seconds";
  if (demo->readers < 0 || demo->readers > 64)
    return "--readers takes 0 to 64 threads";
  if (demo->writers < 0 || demo->writers > 64)
    return "--writers takes 0 to 64 threads";
  if (demo->processes < 0 || demo->processes > 16)
    return "--processes takes 0 to 16 processes";
  if (demo->cluster_mode && demo->db != NULL)
    return "--cluster makes its own database: it takes no --db";
  return NULL;
}

int
msb_tool_demo (int    argc,
               char **argv)
{
  g_autoptr(Demo) demo = demo_new ();
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &demo->seconds,
      "Run for this long (default: 3)", "N" },
    { "readers", 'r', 0, G_OPTION_ARG_INT, &demo->readers,
      "Reader threads (default: 4)", "N" },
    { "writers", 'w', 0, G_OPTION_ARG_INT, &demo->writers,
      "Writer threads (default: 2)", "N" },
    { "processes", 'p', 0, G_OPTION_ARG_INT, &demo->processes,
      "Other processes writing the same file (default: 1)", "N" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &demo->db,
      "Use this database (its demo_* tables) instead of a temporary one", "PATH" },
    { "keep", 'k', 0, G_OPTION_ARG_NONE, &demo->keep,
      "Keep the temporary database", NULL },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &demo->stats,
      "Print the MsbDbStats counters on stderr afterwards", NULL },
    { "cluster", 0, 0, G_OPTION_ARG_NONE, &demo->cluster_mode,
      "Run on three local dqlite nodes, and kill the leader half-way", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_auto(GStrv) args = g_strdupv (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  DemoVerify verify = { 0 };
  gboolean verified = FALSE;
  guint64 errors;
  gboolean ok;
  const char *invalid;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Show MsbDb at work: reader and writer threads, async calls from the main\n"
    "loop, and another process writing the same file, for a few seconds; then\n"
    "verify that every acknowledged write is on disk. Needs no setup: the\n"
    "database is made in a temporary directory, removed afterwards.");
  g_option_context_set_description (context,
    "With --cluster, the database is a dqlite database on three local nodes\n"
    "(`msb-db node` processes in a temporary directory), and the leader is\n"
    "killed with SIGKILL half-way: the report adds how long callers waited.\n"
    "The exit status is 0 only when no call failed and the verification passed.");

  if (!msb_tool_parse_options (context, entries, &args, &error))
    return msb_tool_usage_error ("demo", error->message);
  if (g_strv_length (args) != 1)
    return msb_tool_usage_error ("demo", "takes no arguments");
  if ((invalid = validate_options (demo)) != NULL)
    return msb_tool_usage_error ("demo", invalid);

  if (!demo_prepare (demo, &error))
    {
      msb_tool_print_error ("msb-db demo", error);
      if (demo->tmp_dir != NULL && !demo->keep)
        {
          g_clear_object (&demo->pools);
          demo_remove_tmp_dir (demo->tmp_dir);
        }
      return MSB_TOOL_EXIT_FAILURE;
    }

  printf ("MsbDb %s demo: %g s, %d reader thread%s, %d writer thread%s, async calls from the"
          " main loop, %d other process%s writing the same file\n",
          MSB_DB_VERSION_S, demo->seconds, demo->readers, demo->readers == 1 ? "" : "s",
          demo->writers, demo->writers == 1 ? "" : "s",
          demo->processes, demo->processes == 1 ? "" : "es");
  printf ("database: %s\n", demo->path);
  fflush (stdout);

  if (!demo_run (demo, &error))
    {
      msb_tool_print_error ("msb-db demo", error);
      atomic_fetch_add (&demo->counters.errors, 1);
      g_clear_error (&error);
    }

  stats = msb_db_pools_get_stats (demo->pools);
  if (!msb_db_pools_close (demo->pools, NULL, &error))
    {
      demo_error (demo, "close", error);
      g_clear_error (&error);
    }
  g_clear_object (&demo->pools);

  verified = demo_verify (demo, &verify, &error);
  if (!verified)
    {
      demo_error (demo, "verification", error);
      g_clear_error (&error);
    }

  errors = atomic_load (&demo->counters.errors);
  for (guint i = 0; i < demo->children->len; i++)
    errors += child_value (g_ptr_array_index (demo->children, i), "errors");
  ok = errors == 0 && verified && verify.ok;

  demo_print_summary (demo, stats, verified ? &verify : NULL, errors, ok);
  if (demo->stats)
    msb_tool_print_stats (stats);

  if (demo->tmp_dir != NULL)
    {
      if (demo->keep)
        printf ("kept: %s\n", demo->path);
      else
        demo_remove_tmp_dir (demo->tmp_dir);
    }
  g_free (verify.quick_check);

  return ok ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}

/* ---- the other process: `msb-db demo-writer DB SECONDS` ------------------ */

static volatile sig_atomic_t writer_interrupted = 0;

static void
on_writer_sigint (int signum)
{
  writer_interrupted = 1;
}

typedef struct {
  char    *label;
  guint64  items;
  guint64  batches;
  gint64   min_id;
  gint64   max_id;
  guint64  sum_id;
  guint64  writes;
  guint64  transactions;
  guint64  errors;
} WriterReport;

static void
writer_ack (WriterReport *report,
            gint64        id)
{
  report->min_id = report->items == 0 ? id : MIN (report->min_id, id);
  report->max_id = MAX (report->max_id, id);
  report->sum_id += (guint64) id;
  report->items++;
}

static void
writer_error (WriterReport *report,
              const GError *error)
{
  if (report->errors++ < DEMO_MAX_MESSAGES)
    msb_tool_print_error ("msb-db demo-writer", error);
}

/* One write or one transaction; both blocking. */
static void
writer_step (MsbDbPools   *pools,
             WriterReport *report,
             guint64       n)
{
  g_autoptr(GError) error = NULL;

  if (n % 2 == 0)
    {
      g_autoptr(MsbDbRows) rows = NULL;
      gint64 id;

      rows = msb_db_pools_write (pools, SQL_INSERT_ITEM, item_params (report->label, 0, n),
                                 NULL, &error);
      if (!returned_id (rows, &id, &error))
        {
          writer_error (report, error);
          return;
        }
      report->writes++;
      writer_ack (report, id);
    }
  else
    {
      g_autoptr(DemoBatch) batch = demo_batch_new (report->label, n);

      if (!msb_db_pools_transaction (pools, demo_batch_func, batch, NULL, &error))
        {
          writer_error (report, error);
          return;
        }
      report->transactions++;
      report->batches++;
      for (guint i = 0; i < DEMO_ITEMS_PER_BATCH; i++)
        writer_ack (report, batch->item_ids[i]);
    }
}

/* Hidden: started by `demo`. Writes DB for SECONDS through its own
 * MsbDbPools, then prints one line the demo parses:
 *   demo-writer label=L items=N batches=N min_id=N max_id=N sum_id=N
 *               writes=N transactions=N busy_retries=N pool_timeouts=N errors=N */
int
msb_tool_demo_writer (int    argc,
                      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  g_autofree char *label = NULL;
  WriterReport report = { 0 };
  struct sigaction action = { 0 };
  double seconds;
  gint64 deadline;

  if (argc != 3 || !(seconds = g_ascii_strtod (argv[2], NULL), seconds > 0 && seconds <= 3600))
    return msb_tool_usage_error ("demo-writer", "expected DB SECONDS");

  action.sa_handler = on_writer_sigint;
  sigaction (SIGINT, &action, NULL);

  label = g_strdup_printf ("demo-writer-%d-%08x", (int) getpid (), g_random_int ());
  report.label = label;

  pools = msb_db_pools_open (argv[1], 1, MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                             MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND, NULL, &error);
  if (pools == NULL || !demo_create_schema (pools, &error))
    {
      msb_tool_print_error ("msb-db demo-writer", error);
      return MSB_TOOL_EXIT_FAILURE;
    }

  deadline = g_get_monotonic_time () + (gint64) (seconds * G_TIME_SPAN_SECOND);
  for (guint64 n = 0; !writer_interrupted && g_get_monotonic_time () < deadline; n++)
    writer_step (pools, &report, n);

  stats = msb_db_pools_get_stats (pools);
  if (!msb_db_pools_close (pools, NULL, &error))
    {
      writer_error (&report, error);
      g_clear_error (&error);
    }

  printf ("demo-writer label=%s items=%" G_GUINT64_FORMAT " batches=%" G_GUINT64_FORMAT
          " min_id=%" G_GINT64_FORMAT " max_id=%" G_GINT64_FORMAT " sum_id=%" G_GUINT64_FORMAT
          " writes=%" G_GUINT64_FORMAT " transactions=%" G_GUINT64_FORMAT
          " busy_retries=%" G_GUINT64_FORMAT " pool_timeouts=%" G_GUINT64_FORMAT
          " errors=%" G_GUINT64_FORMAT "\n",
          label, report.items, report.batches, report.min_id, report.max_id, report.sum_id,
          report.writes, report.transactions, stats->busy_retries, stats->pool_timeouts,
          report.errors);
  fflush (stdout);

  return report.errors == 0 ? MSB_TOOL_EXIT_OK : MSB_TOOL_EXIT_FAILURE;
}
