/* bench-common.h: shared pieces of the MsbDb benchmark
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sqlite3.h>
#include <msb-db.h>

G_BEGIN_DECLS

/* The work every scenario does, whatever runs it. */
#define BENCH_SCHEMA \
  "CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL)"
#define BENCH_INSERT_SQL "INSERT INTO kv (k, v) VALUES (?, ?)"
#define BENCH_SELECT_SQL "SELECT id, k, v FROM kv WHERE id = ?"
/* 48 bytes of text per row. */
#define BENCH_PAYLOAD "payload-0123456789abcdefghijklmnopqrstuvwxyz-0123"

#define BENCH_BUSY_TIMEOUT_MS 5000

/* Latency histogram -------------------------------------------------------
 * Log-linear buckets over nanoseconds: exact below 64 ns, then 64 buckets
 * per power of two (relative error < 1.6 %). Fixed size, so recording a
 * million operations allocates nothing. */
#define HIST_SUB_BITS 6
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_EXP 44
#define HIST_N_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB)

typedef struct {
  guint64 counts[HIST_N_BUCKETS];
  guint64 n;
  gint64 max_ns;
} Hist;

void    hist_reset      (Hist *h);
void    hist_record     (Hist *h, gint64 ns);
void    hist_merge      (Hist *into, const Hist *from);
double  hist_percentile (const Hist *h, double p);   /* in ns */
char   *hist_serialize  (const Hist *h);
void    hist_deserialize (Hist *h, const char *text);

/* Clock: CLOCK_MONOTONIC, the clock of g_get_monotonic_time(), read with
 * nanosecond resolution (sub-microsecond operations would otherwise all
 * round to 0 or 1 µs). */
gint64 now_ns (void);

static inline guint64
rng_next (guint64 *state)
{
  guint64 x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

/* Configuration ----------------------------------------------------------- */

typedef struct {
  gboolean quick;
  double duration;        /* measured seconds per timed scenario */
  double warmup;          /* seconds before measuring */
  guint prefill_rows;     /* rows in the table for read scenarios */
  guint window;           /* async operations in flight */
  guint64 rss_ops;        /* operations of the RSS check */
  guint64 rss_first_mark;
  double wal_soak_seconds;
  double long_reader_seconds;  /* measured window of pools.long-reader.* */
  char *dir;              /* where the database files go */
  const char *self_exe;   /* for the two-process scenario */
  /* The better-sqlite3 peer (bench-peer.c) */
  const char *node;         /* NULL: node on PATH */
  const char *peer_script;  /* peer-better-sqlite3.js */
  const char *node_modules; /* prepended to NODE_PATH; may be NULL */
} BenchConfig;

extern BenchConfig bench_config;

/* Results ----------------------------------------------------------------- */

typedef struct {
  char *name;
  char *description;
  guint64 ops;
  double seconds;
  Hist hist;
  /* Process CPU time (all threads, user + system) and context switches
   * over the whole timed run, warm-up included, divided by every operation
   * that completed in it: robust to other load on the machine. */
  double cpu_us_per_op;
  double csw_per_op;
  /* CPU used by *other* processes during the scenario, in cores (machine
   * busy time from /proc/stat minus this process's): a noisy neighbour
   * shows here. */
  double foreign_load;
  guint attempt;               /* --quiet-gate: which run of the scenario this is */
  double waited_for_quiet_s;
  GString *extra_json;    /* ", \"key\": value" pairs */
  GString *note;          /* shown in the table */
} Result;

Result *result_new        (const char *name, const char *description);
void    result_free       (Result *r);
double  result_ops_per_s  (const Result *r);
void    result_add_int    (Result *r, const char *key, gint64 value);
void    result_add_double (Result *r, const char *key, double value);
void    result_add_string (Result *r, const char *key, const char *value);
void    result_note       (Result *r, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Appends @s as a JSON string literal. */
GString *bench_json_string (GString *out, const char *s);

typedef struct {
  gint64 cpu_ns;
  gint64 csw;
} Usage;

void    usage_take        (Usage *u);
void    usage_take_with_children (Usage *u);
gint64  machine_busy_ns   (void);
/* Sets r->cpu_us_per_op and r->csw_per_op from @before to now. */
void    usage_finish      (const Usage *before, guint64 total_ops, Result *r);

/* Files ------------------------------------------------------------------- */

char   *bench_db_path     (const char *scenario);
void    bench_remove_db   (const char *path);
gint64  bench_file_size   (const char *path);
gint64  bench_rss_kib     (void);

/* Raw sqlite3 with the library's PRAGMAs ----------------------------------- */

sqlite3      *raw_open     (const char *path);
void          raw_exec     (sqlite3 *db, const char *sql);
sqlite3_stmt *raw_prepare  (sqlite3 *db, const char *sql);
void          raw_prefill  (const char *path, guint rows);
void          raw_die      (sqlite3 *db, const char *what) G_GNUC_NORETURN;

/* Timed loops --------------------------------------------------------------
 * Every timed scenario runs for warmup + duration seconds; only operations
 * that complete inside the measured window count, and their latencies are
 * recorded. */

typedef struct {
  gint64 measure_start;   /* ns */
  gint64 end;             /* ns */
} Window;

Window window_from_now (double warmup, double duration);

/* A synchronous operation: returns once it is done. */
typedef void (*SyncOp) (gpointer data, guint64 *rng);

void run_sync_loop    (SyncOp op, gpointer data, Window w, Result *r);

/* N threads each running @op with their own data (datas[i]). */
void run_sync_threads (SyncOp op, gpointer *datas, guint n_threads, Result *r);

/* Asynchronous driver: keeps `window` operations in flight on the calling
 * thread's thread-default main context. */
typedef struct _Driver Driver;
typedef struct {
  Driver *driver;
  gint64 start;           /* ns, when the operation was issued */
  guint64 key;            /* free for the issuer */
  int kind;
} Slot;

typedef void (*IssueFunc) (Slot *slot, gpointer data, guint64 *rng);

struct _Driver {
  IssueFunc issue;
  gpointer data;
  guint window;
  Slot *slots;
  Window w;
  guint64 max_ops;        /* count mode when > 0: stop after this many */
  guint64 issued;
  guint64 completed;
  guint in_flight;
  gboolean stopping;
  guint64 rng;
  Hist hist;
  guint64 ops;            /* completed inside the window */
  gint64 first_issue, last_done;
  Usage usage_start;
  /* count mode: RSS at these completion counts */
  guint n_marks;
  guint64 marks[4];
  gint64 rss_at_mark[4];
  gint64 time_at_mark[4];
};

void driver_init  (Driver *d, IssueFunc issue, gpointer data, guint window, Window w);
void driver_run   (Driver *d);            /* until every operation completed */
void driver_done  (Slot *slot);           /* called by the op's callback */
void driver_result (Driver *d, Result *r);  /* right after driver_run */
void driver_clear (Driver *d);

/* Runs a driver per thread, each on its own main context. */
void run_async_threads (IssueFunc issue, gpointer *datas, guint n_threads,
                        guint window_per_thread, Result *r);

/* Scenario families -------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *description;
  Result *(*run) (void);
} Scenario;

extern const Scenario raw_scenarios[];
extern const Scenario pools_scenarios[];
extern const Scenario gom_scenarios[];
extern const Scenario peer_scenarios[];
extern const Scenario cluster_scenarios[];   /* bench-cluster.c */

gboolean bench_cluster_selectable (const Scenario *s);
void     bench_cluster_shutdown (void);

/* The better-sqlite3 peer: probed once; @why says why it cannot run. */
gboolean peer_available (const char **why);
char    *peer_describe  (void);
void     peer_json      (GString *out);

int pools_child_main (const char *path, guint window);
int pools_burst_child_main (const char *path);

G_END_DECLS
