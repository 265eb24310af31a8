/* msb-db-demo.h: what the files of `msb-db demo` share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The demo puts one MsbDbPools under the load it is made for, on a fresh
 * temporary database, and then proves that nothing was lost. Its files, in
 * the order a reader may want them:
 *
 *   msb-db-demo.c           the options, the Demo record and the main flow
 *   msb-db-demo-data.c      the tables and rows both processes write
 *   msb-db-demo-workload.c  reader and writer threads, async calls from the
 *                           main loop
 *   msb-db-demo-writer.c    the other process (`msb-db demo-writer`), and
 *                           how the demo starts it and reads its report
 *   msb-db-demo-verify.c    the file opened again: every acknowledged write
 *                           is on disk
 *   msb-db-demo-report.c    the progress line and the summary
 *   msb-db-demo-cluster.c   --cluster: three local dqlite nodes, the leader
 *                           killed half-way
 */
#pragma once

#include "msb-db-tool.h"
#include "msb-db-local-cluster.h"

G_BEGIN_DECLS

#define DEMO_DEFAULT_SECONDS    3.0
#define DEMO_DEFAULT_READERS    4
#define DEMO_DEFAULT_WRITERS    2
#define DEMO_DEFAULT_PROCESSES  1
#define DEMO_ASYNC_DEPTH        4   /* async calls the main loop keeps in flight */
#define DEMO_ITEMS_PER_BATCH    3
#define DEMO_MAX_MESSAGES       5   /* error messages kept for the summary */

#define SQL_INSERT_ITEM \
  "INSERT INTO demo_items (writer, payload, data, created_us) VALUES (?, ?, ?, ?) RETURNING id"

/* ---- msb-db-demo-data.c: shared by both processes ------------------------ */

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

gboolean   demo_create_schema  (MsbDbPools       *pools,
                                GError          **error);
GVariant  *demo_item_params    (const char       *label,
                                gint64            batch_id,
                                guint64           sequence);
gboolean   demo_returned_id    (MsbDbRows        *rows,
                                gint64           *id,
                                GError          **error);
DemoBatch *demo_batch_new      (const char       *label,
                                guint64           sequence);
void       demo_batch_release  (gpointer          data);
gboolean   demo_batch_func     (MsbDbConnection  *connection,
                                gpointer          user_data,
                                GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DemoBatch, demo_batch_release)

/* ---- the demo process ------------------------------------------------------ */

/* Counted by several threads at once, with g_atomic_pointer_add(): gsize
 * (pointer-sized) does not wrap in a long run as a 32-bit counter could. */
typedef struct {
  gsize reads;           /* read() and read_async(), successful */
  gsize snapshots;
  gsize writes;          /* single-statement writes, acknowledged */
  gsize async_writes;    /* of which through write_async() */
  gsize transactions;    /* acknowledged */
  gsize async_transactions;
  gsize errors;          /* calls that failed */
  gsize visibility_checks;
  gsize visibility_misses;
  gsize snapshot_checks;
  gsize snapshot_violations;
  gsize sequence;        /* numbers the payloads */
} DemoCounters;

static inline gsize
demo_count (gsize *counter)
{
  return (gsize) g_atomic_pointer_add (counter, 1);
}

static inline guint64
demo_counter_get (gsize *counter)
{
  return (gsize) g_atomic_pointer_get (counter);
}

typedef struct _Demo Demo;

/* One other process writing the same file. */
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

  LocalCluster *cluster;  /* --cluster: three local dqlite nodes */
  char        *killed_node;
  gint64       killed_us;    /* when the leader died; under `lock` */
  gint64       failover_us;  /* from then to the next acknowledged write */

  char        *tmp_dir;   /* made by the demo, removed unless --keep */
  char        *path;
  char        *label;     /* the `writer` column of this process's rows */
  MsbDbPools  *pools;
  gint64       start_us;
  gint64       deadline_us;
  gint64       end_us;
  gint         stop;      /* Ctrl-C; g_atomic_int_*() */
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

/* What the verification found. */
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

/* msb-db-demo.c: the Demo record, used from every thread */
gboolean    demo_should_stop        (Demo             *demo);
void        demo_error              (Demo             *demo,
                                     const char       *what,
                                     const GError     *error);
void        demo_problem            (Demo             *demo,
                                     const char       *message);
void        demo_ack                (Demo             *demo,
                                     gint64            batch_id,
                                     const gint64     *item_ids,
                                     guint             n_items);
gint64      demo_last_acked_item    (Demo             *demo);
guint64     demo_next_sequence      (Demo             *demo);
void        demo_quit_when_done     (Demo             *demo);

/* msb-db-demo-workload.c */
void        demo_start_workload     (Demo             *demo);
void        demo_join_threads       (Demo             *demo);

/* msb-db-demo-writer.c: the demo's side of the other processes */
gboolean    demo_spawn_children     (Demo             *demo,
                                     GError          **error);
void        demo_interrupt_children (Demo             *demo);
void        demo_child_free         (DemoChild        *child);
guint64     demo_child_value        (DemoChild        *child,
                                     const char       *key);
const char *demo_child_label        (DemoChild        *child);

/* msb-db-demo-verify.c */
gboolean    demo_verify             (Demo             *demo,
                                     DemoVerify       *verify,
                                     GError          **error);

/* msb-db-demo-cluster.c */
LocalCluster *demo_cluster_start      (GError          **error);
void        demo_cluster_schedule_kill (Demo            *demo);
void        demo_cluster_note_ack   (Demo             *demo);
void        demo_print_failover     (Demo             *demo);

/* msb-db-demo-report.c */
void        demo_print_banner       (Demo             *demo);
void        demo_print_progress     (Demo             *demo);
void        demo_print_summary      (Demo             *demo,
                                     const MsbDbStats *stats,
                                     const DemoVerify *verify,
                                     guint64           errors,
                                     gboolean          ok);

G_END_DECLS
