/* bench-common.c: histogram, results, files, timed loops, async driver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-common.h"

BenchConfig bench_config;

/* Clock ------------------------------------------------------------------- */

gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Histogram --------------------------------------------------------------- */

static guint
hist_bucket (gint64 ns)
{
  guint64 v = ns < 0 ? 0 : (guint64) ns;
  guint exp;

  if (v < HIST_SUB)
    return (guint) v;
  exp = 63 - __builtin_clzll (v);            /* >= HIST_SUB_BITS */
  if (exp > HIST_MAX_EXP)
    return HIST_N_BUCKETS - 1;
  return (exp - HIST_SUB_BITS + 1) * HIST_SUB + (guint) ((v >> (exp - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The middle of a bucket's range. */
static double
hist_bucket_value (guint bucket)
{
  guint group = bucket / HIST_SUB, sub = bucket % HIST_SUB;
  guint exp;
  double lo, width;

  if (group == 0)
    return bucket;
  exp = group - 1 + HIST_SUB_BITS;
  width = (double) (G_GUINT64_CONSTANT (1) << (exp - HIST_SUB_BITS));
  lo = (double) (G_GUINT64_CONSTANT (1) << exp) + sub * width;
  return lo + width / 2;
}

void
hist_reset (Hist *h)
{
  memset (h, 0, sizeof *h);
}

void
hist_record (Hist *h, gint64 ns)
{
  h->counts[hist_bucket (ns)]++;
  h->n++;
  if (ns > h->max_ns)
    h->max_ns = ns;
}

void
hist_merge (Hist *into, const Hist *from)
{
  for (guint i = 0; i < HIST_N_BUCKETS; i++)
    into->counts[i] += from->counts[i];
  into->n += from->n;
  into->max_ns = MAX (into->max_ns, from->max_ns);
}

double
hist_percentile (const Hist *h, double p)
{
  guint64 rank, seen = 0;

  if (h->n == 0)
    return 0;
  rank = (guint64) (p / 100.0 * (double) h->n);
  if (rank >= h->n)
    rank = h->n - 1;
  for (guint i = 0; i < HIST_N_BUCKETS; i++)
    {
      seen += h->counts[i];
      if (seen > rank)
        return MIN (hist_bucket_value (i), (double) h->max_ns);
    }
  return h->max_ns;
}

char *
hist_serialize (const Hist *h)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%" G_GINT64_FORMAT, h->max_ns);
  for (guint i = 0; i < HIST_N_BUCKETS; i++)
    if (h->counts[i] != 0)
      g_string_append_printf (s, ",%u:%" G_GUINT64_FORMAT, i, h->counts[i]);
  return g_string_free (s, FALSE);
}

void
hist_deserialize (Hist *h, const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);

  hist_reset (h);
  if (parts[0] == NULL)
    return;
  h->max_ns = g_ascii_strtoll (parts[0], NULL, 10);
  for (guint i = 1; parts[i] != NULL; i++)
    {
      char *colon = strchr (parts[i], ':');
      guint64 bucket, count;

      if (colon == NULL)
        continue;
      bucket = g_ascii_strtoull (parts[i], NULL, 10);
      count = g_ascii_strtoull (colon + 1, NULL, 10);
      if (bucket < HIST_N_BUCKETS)
        {
          h->counts[bucket] += count;
          h->n += count;
        }
    }
}

/* Results ----------------------------------------------------------------- */

Result *
result_new (const char *name,
            const char *description)
{
  Result *r = g_new0 (Result, 1);

  r->name = g_strdup (name);
  r->description = g_strdup (description);
  r->extra_json = g_string_new (NULL);
  r->note = g_string_new (NULL);
  return r;
}

void
result_free (Result *r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_free (r->description);
  g_string_free (r->extra_json, TRUE);
  g_string_free (r->note, TRUE);
  g_free (r);
}

double
result_ops_per_s (const Result *r)
{
  return r->seconds > 0 ? (double) r->ops / r->seconds : 0;
}

void
result_add_int (Result     *r,
                const char *key,
                gint64      value)
{
  g_string_append_printf (r->extra_json, ", \"%s\": %" G_GINT64_FORMAT, key, value);
}

void
result_add_double (Result     *r,
                   const char *key,
                   double      value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (r->extra_json, ", \"%s\": %s", key,
                          g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

void
result_add_string (Result     *r,
                   const char *key,
                   const char *value)
{
  g_string_append_printf (r->extra_json, ", \"%s\": ", key);
  bench_json_string (r->extra_json, value);
}

GString *
bench_json_string (GString    *out,
                   const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if ((guchar) *p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
  return out;
}

void
result_note (Result     *r,
             const char *format,
             ...)
{
  va_list args;

  if (r->note->len > 0)
    g_string_append (r->note, "; ");
  va_start (args, format);
  g_string_append_vprintf (r->note, format, args);
  va_end (args);
}

/* CPU usage ---------------------------------------------------------------- */

static void
usage_of (int    who,
          Usage *u)
{
  struct rusage ru;

  getrusage (who, &ru);
  u->cpu_ns = ((gint64) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
              ((gint64) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
  u->csw = ru.ru_nvcsw + ru.ru_nivcsw;
}

void
usage_take (Usage *u)
{
  usage_of (RUSAGE_SELF, u);
}

void
usage_take_with_children (Usage *u)
{
  Usage children;

  usage_of (RUSAGE_SELF, u);
  usage_of (RUSAGE_CHILDREN, &children);
  u->cpu_ns += children.cpu_ns;
  u->csw += children.csw;
}

/* Busy time of the whole machine (all CPUs), from /proc/stat. */
gint64
machine_busy_ns (void)
{
  g_autofree char *text = NULL;
  guint64 v[8] = { 0 };
  long hz = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL) || !g_str_has_prefix (text, "cpu "))
    return 0;
  /* user nice system idle iowait irq softirq steal */
  if (sscanf (text + 4, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
              " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
              " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
              &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 7)
    return 0;
  return (gint64) ((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * (1000000000.0 / hz));
}

void
usage_finish (const Usage *before,
              guint64      total_ops,
              Result      *r)
{
  Usage after;

  usage_take (&after);
  if (total_ops == 0)
    return;
  r->cpu_us_per_op = (after.cpu_ns - before->cpu_ns) / 1000.0 / total_ops;
  r->csw_per_op = (double) (after.csw - before->csw) / total_ops;
}

/* Files ------------------------------------------------------------------- */

char *
bench_db_path (const char *scenario)
{
  g_autofree char *base = g_strconcat (scenario, ".db", NULL);
  char *path = g_build_filename (bench_config.dir, base, NULL);

  bench_remove_db (path);
  return path;
}

void
bench_remove_db (const char *path)
{
  const char *suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (path, suffixes[i], NULL);
      g_unlink (p);
    }
}

gint64
bench_file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return 0;
  return st.st_size;
}

gint64
bench_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "\nVmRSS:");
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

/* Raw sqlite3 ------------------------------------------------------------- */

void
raw_die (sqlite3    *db,
         const char *what)
{
  g_error ("%s: %s", what, db ? sqlite3_errmsg (db) : "no connection");
}

void
raw_exec (sqlite3    *db,
          const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

/* The PRAGMAs MsbDb sets on every connection (msb-db-sqlite.c,
 * configure_connection), so that the baseline does the same work. */
sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    raw_die (db, "open");
  sqlite3_extended_result_codes (db, 1);
  raw_exec (db, "PRAGMA busy_timeout = " G_STRINGIFY (BENCH_BUSY_TIMEOUT_MS));
  raw_exec (db, "PRAGMA journal_mode = WAL");
  raw_exec (db, "PRAGMA foreign_keys = ON");
  raw_exec (db, "PRAGMA synchronous = NORMAL");
  raw_exec (db, "PRAGMA trusted_schema = OFF");
  raw_exec (db, "PRAGMA journal_size_limit = 16777216");
  return db;
}

sqlite3_stmt *
raw_prepare (sqlite3    *db,
             const char *sql)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    raw_die (db, sql);
  return stmt;
}

/* Creates the table and fills it with @rows rows (ids 1..rows), in one
 * transaction, then folds the WAL back into the file. */
void
raw_prefill (const char *path,
             guint       rows)
{
  sqlite3 *db = raw_open (path);
  sqlite3_stmt *stmt;

  raw_exec (db, BENCH_SCHEMA);
  raw_exec (db, "BEGIN");
  stmt = raw_prepare (db, BENCH_INSERT_SQL);
  for (guint i = 1; i <= rows; i++)
    {
      sqlite3_bind_int64 (stmt, 1, i);
      sqlite3_bind_text (stmt, 2, BENCH_PAYLOAD, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        raw_die (db, "prefill");
      sqlite3_reset (stmt);
    }
  sqlite3_finalize (stmt);
  raw_exec (db, "COMMIT");
  raw_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close (db);
}

/* Timed loops ------------------------------------------------------------- */

Window
window_from_now (double warmup,
                 double duration)
{
  Window w;
  gint64 now = now_ns ();

  w.measure_start = now + (gint64) (warmup * 1e9);
  w.end = w.measure_start + (gint64) (duration * 1e9);
  return w;
}

static void
sync_loop (SyncOp   op,
           gpointer data,
           Window   w,
           guint64  seed,
           Hist    *hist,
           guint64 *ops,
           guint64 *total)
{
  guint64 rng = seed;
  gint64 now = now_ns ();

  while (now < w.measure_start)
    {
      op (data, &rng);
      (*total)++;
      now = now_ns ();
    }
  while (now < w.end)
    {
      gint64 start = now;

      op (data, &rng);
      (*total)++;
      now = now_ns ();
      if (now <= w.end)
        {
          hist_record (hist, now - start);
          (*ops)++;
        }
    }
}

void
run_sync_loop (SyncOp   op,
               gpointer data,
               Window   w,
               Result  *r)
{
  guint64 total = 0;
  Usage usage;

  hist_reset (&r->hist);
  r->ops = 0;
  usage_take (&usage);
  sync_loop (op, data, w, 0x9E3779B97F4A7C15ull, &r->hist, &r->ops, &total);
  usage_finish (&usage, total, r);
  r->seconds = (w.end - w.measure_start) / 1e9;
}

typedef struct {
  SyncOp op;
  gpointer data;
  Window w;
  guint64 seed;
  Hist hist;
  guint64 ops;
  guint64 total;
} SyncThread;

static gpointer
sync_thread_main (gpointer p)
{
  SyncThread *t = p;

  sync_loop (t->op, t->data, t->w, t->seed, &t->hist, &t->ops, &t->total);
  return NULL;
}

void
run_sync_threads (SyncOp    op,
                  gpointer *datas,
                  guint     n_threads,
                  Result   *r)
{
  /* Start a little later so that every thread is up before the clock runs. */
  Window w = window_from_now (bench_config.warmup + 0.02, bench_config.duration);
  SyncThread *threads = g_new0 (SyncThread, n_threads);
  GThread **handles = g_new0 (GThread *, n_threads);
  guint64 total = 0;
  Usage usage;

  usage_take (&usage);
  for (guint i = 0; i < n_threads; i++)
    {
      threads[i].op = op;
      threads[i].data = datas[i];
      threads[i].w = w;
      threads[i].seed = 0x9E3779B97F4A7C15ull * (i + 1);
      handles[i] = g_thread_new ("bench-sync", sync_thread_main, &threads[i]);
    }
  hist_reset (&r->hist);
  r->ops = 0;
  for (guint i = 0; i < n_threads; i++)
    {
      g_thread_join (handles[i]);
      hist_merge (&r->hist, &threads[i].hist);
      r->ops += threads[i].ops;
      total += threads[i].total;
    }
  usage_finish (&usage, total, r);
  r->seconds = (w.end - w.measure_start) / 1e9;
  g_free (threads);
  g_free (handles);
}

/* Async driver ------------------------------------------------------------ */

void
driver_init (Driver    *d,
             IssueFunc  issue,
             gpointer   data,
             guint      window,
             Window     w)
{
  memset (d, 0, sizeof *d);
  d->issue = issue;
  d->data = data;
  d->window = window;
  d->slots = g_new0 (Slot, window);
  d->w = w;
  d->rng = 0x2545F4914F6CDD1Dull ^ (guint64) (gsize) d;
  if (d->rng == 0)
    d->rng = 1;
}

/* Copies the driver's measurements into @r. */
void
driver_result (Driver *d,
               Result *r)
{
  r->hist = d->hist;
  r->ops = d->ops;
  r->seconds = d->max_ops > 0 ? (d->last_done - d->first_issue) / 1e9
                              : (d->w.end - d->w.measure_start) / 1e9;
  usage_finish (&d->usage_start, d->completed, r);
}

void
driver_clear (Driver *d)
{
  g_clear_pointer (&d->slots, g_free);
}

static void
driver_issue (Driver *d,
              Slot   *slot)
{
  slot->driver = d;
  slot->start = now_ns ();
  d->issued++;
  d->issue (slot, d->data, &d->rng);
}

void
driver_done (Slot *slot)
{
  Driver *d = slot->driver;
  gint64 now = now_ns ();

  d->completed++;
  d->last_done = now;
  if (d->max_ops > 0)
    {
      hist_record (&d->hist, now - slot->start);
      d->ops++;
      for (guint i = 0; i < d->n_marks; i++)
        if (d->completed == d->marks[i])
          {
            d->rss_at_mark[i] = bench_rss_kib ();
            d->time_at_mark[i] = now;
          }
    }
  else if (now >= d->w.measure_start && now <= d->w.end)
    {
      hist_record (&d->hist, now - slot->start);
      d->ops++;
    }

  if (d->max_ops > 0 ? d->issued < d->max_ops : now < d->w.end)
    driver_issue (d, slot);
  else
    d->in_flight--;
}

void
driver_run (Driver *d)
{
  GMainContext *context = g_main_context_ref_thread_default ();

  usage_take (&d->usage_start);
  d->first_issue = now_ns ();
  for (guint i = 0; i < d->window; i++)
    {
      if (d->max_ops > 0 && d->issued >= d->max_ops)
        break;
      d->in_flight++;
      driver_issue (d, &d->slots[i]);
    }
  while (d->in_flight > 0)
    g_main_context_iteration (context, TRUE);
  g_main_context_unref (context);
}

typedef struct {
  IssueFunc issue;
  gpointer data;
  guint window;
  Window w;
  Driver driver;
} AsyncThread;

static gpointer
async_thread_main (gpointer p)
{
  AsyncThread *t = p;
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  driver_init (&t->driver, t->issue, t->data, t->window, t->w);
  driver_run (&t->driver);
  /* Let late idle sources (GTask completions) run before the context goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

void
run_async_threads (IssueFunc  issue,
                   gpointer  *datas,
                   guint      n_threads,
                   guint      window_per_thread,
                   Result    *r)
{
  Window w = window_from_now (bench_config.warmup + 0.02, bench_config.duration);
  AsyncThread *threads = g_new0 (AsyncThread, n_threads);
  GThread **handles = g_new0 (GThread *, n_threads);
  guint64 total = 0;
  Usage usage;

  usage_take (&usage);
  for (guint i = 0; i < n_threads; i++)
    {
      threads[i].issue = issue;
      threads[i].data = datas[i];
      threads[i].window = window_per_thread;
      threads[i].w = w;
      handles[i] = g_thread_new ("bench-async", async_thread_main, &threads[i]);
    }
  hist_reset (&r->hist);
  r->ops = 0;
  for (guint i = 0; i < n_threads; i++)
    {
      g_thread_join (handles[i]);
      hist_merge (&r->hist, &threads[i].driver.hist);
      r->ops += threads[i].driver.ops;
      total += threads[i].driver.completed;
      driver_clear (&threads[i].driver);
    }
  usage_finish (&usage, total, r);
  r->seconds = (w.end - w.measure_start) / 1e9;
  g_free (threads);
  g_free (handles);
}
