/* msb-db-bench.c: MsbDbPools against raw sqlite3, better-sqlite3 and GOM
 *
 *   msb-db-bench [--quick] [--scenario PATTERN[,PATTERN...]] [--json FILE]
 *                [--dir DIR] [--duration SECONDS] [--rounds N] [--wal-soak]
 *                [--node-modules DIR] [--long-reader-seconds S] [--list]
 *
 * Every scenario runs on a fresh database file in one temporary directory,
 * warms up, then counts the operations that complete in a fixed measured
 * window and records each one's latency (issue to completion callback for
 * async calls). Ratios compare with the raw sqlite3 baseline measured in
 * the same run. Benchmarks, not tests: nothing here fails on a number.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <glib/gstdio.h>

#include "bench-common.h"

/* Which baseline each scenario is compared with (the first prefix that
 * matches). */
static const struct {
  const char *prefix;
  const char *baseline;
} baselines[] = {
  { "raw.insert.batched", "raw.insert.autocommit" },
  { "better-sqlite3.insert.autocommit", "raw.insert.autocommit" },
  { "better-sqlite3.insert.batched", "raw.insert.batched" },
  { "better-sqlite3.read.point", "raw.read.point" },
  { "pools.long-reader.open", "pools.long-reader.none" },
  /* the cost of a ::changed handler: the same writes without one */
  { "pools.notify.sync.", "pools.insert.sync.1t" },
  { "pools.notify.async.", "pools.insert.async.1t" },
  { "pools.insert.", "raw.insert.autocommit" },
  { "gom.insert.", "raw.insert.autocommit" },
  { "pools.read.", "raw.read.point" },
  { "gom.read.", "raw.read.point" },
  { "pools.mixed.", "raw.mixed" },
  { "pools.rss.", "raw.mixed" },
  { "pools.wal-soak", "raw.mixed" },   /* and pools.wal-soak.pinned */
  { "gom.mixed.", "raw.mixed" },
  { "dqlite-benchmark.kvwrite.w4", "dqlite-benchmark.kvwrite.w1" },
  { "cluster.insert.", "dqlite-benchmark.kvwrite.w1" },
  { "cluster.read.", "dqlite-benchmark.kvreadwrite.w1" },
};

/* Rows that insert are also compared with the physical limit of one
 * writer: raw batched inserts (all rows in big transactions, the statement
 * prepared once), shown as "vs limit". */
#define LIMIT_SCENARIO "raw.insert.batched"
static const char * const limit_prefixes[] = {
  "pools.insert.",
  "pools.long-reader.",
  "pools.write_many",
  "gom.insert.",
  "better-sqlite3.insert.",
};

typedef enum {
  TARGET_RATIO,          /* ops/s of scenario / ops/s of the best versus >= value */
  TARGET_WAL_MAX,        /* wal_max_bytes of scenario < value */
  TARGET_RSS_GROWTH,     /* RSS growth first mark -> last mark <= value KiB */
  TARGET_READ_P99_RATIO, /* read_p99_us of scenario / of versus <= value */
} TargetKind;

static const struct {
  const char *what;
  TargetKind kind;
  const char *scenario;
  const char *versus[3];
  double value;
} targets[] = {
  { "async inserts >= 2x raw autocommit inserts", TARGET_RATIO,
    "pools.insert.async.1t", { "raw.insert.autocommit" }, 2.0 },
  { "async inserts >= 3x GOM queued writes (best GOM variant)", TARGET_RATIO,
    "pools.insert.async.1t", { "gom.insert.queued", "gom.insert.queued.reuse" }, 3.0 },
  { "async point reads, 64 in flight (4 conns) >= 0.5x raw", TARGET_RATIO,
    "pools.read.async.c4", { "raw.read.point" }, 0.5 },
  { "async point reads, 64 in flight (4 conns) >= 1.5x GOM (best variant)", TARGET_RATIO,
    "pools.read.async.c4", { "gom.read.queued", "gom.read.queued.reuse" }, 1.5 },
  { "blocking read() point reads >= 0.6x raw", TARGET_RATIO,
    "pools.read.sync.1t", { "raw.read.point" }, 0.6 },
  { "WAL < 64 MiB through the mixed soak, readers active back to back", TARGET_WAL_MAX,
    "pools.wal-soak", { NULL }, 64.0 * 1024 * 1024 },
  { "WAL < 64 MiB through the mixed soak, a read transaction open at every instant",
    TARGET_WAL_MAX, "pools.wal-soak.pinned", { NULL }, 64.0 * 1024 * 1024 },
  { "RSS does not grow with operation count (<= 4 MiB from first mark to last)",
    TARGET_RSS_GROWTH, "pools.rss.mixed", { NULL }, 4096 },
  /* Where users start: blocking calls on one thread, and one writer's limit. */
  { "blocking write(), 1 thread >= 0.8x raw autocommit inserts", TARGET_RATIO,
    "pools.insert.sync.1t", { "raw.insert.autocommit" }, 0.8 },
  { "blocking read() point reads, 1 thread >= better-sqlite3 point reads", TARGET_RATIO,
    "pools.read.sync.1t", { "better-sqlite3.read.point" }, 1.0 },
  { "async inserts, 64 in flight >= 0.4x raw batched inserts (one writer's limit)", TARGET_RATIO,
    "pools.insert.async.1t", { LIMIT_SCENARIO }, 0.4 },
  { "async inserts, a burst of 100k queued at once >= 0.4x raw batched inserts", TARGET_RATIO,
    "pools.insert.async.burst", { LIMIT_SCENARIO }, 0.4 },
  { "bulk writes, write_many() >= 0.7x raw batched inserts", TARGET_RATIO,
    "pools.write_many", { LIMIT_SCENARIO }, 0.7 },
  { "long snapshot open: read p99 within 2x of the same load without it", TARGET_READ_P99_RATIO,
    "pools.long-reader.open", { "pools.long-reader.none" }, 2.0 },
  { "long snapshot open: write throughput >= 0.8x of the same load without it", TARGET_RATIO,
    "pools.long-reader.open", { "pools.long-reader.none" }, 0.8 },
  /* Three dqlite nodes on 127.0.0.1, beside dqlite's own Go benchmark. */
  { "cluster: async inserts >= 2x dqlite-benchmark kvwrite writes/s (best of 1, 4 workers)",
    TARGET_RATIO, "cluster.insert.async",
    { "dqlite-benchmark.kvwrite.w1", "dqlite-benchmark.kvwrite.w4" }, 2.0 },
  { "cluster: async point reads >= 1x dqlite-benchmark kvreadwrite reads/s", TARGET_RATIO,
    "cluster.read.async", { "dqlite-benchmark.kvreadwrite.w1" }, 1.0 },
};

static char **scenario_patterns;
static gboolean quiet_gate;

static gboolean
scenario_selected (const char *name)
{
  if (scenario_patterns == NULL)
    return TRUE;
  for (guint i = 0; scenario_patterns[i] != NULL; i++)
    {
      const char *pattern = scenario_patterns[i];

      if (*pattern == '\0')
        continue;
      if (strchr (pattern, '*') != NULL || strchr (pattern, '?') != NULL)
        {
          if (g_pattern_match_simple (pattern, name))
            return TRUE;
        }
      else if (g_str_has_prefix (name, pattern))
        return TRUE;
    }
  return FALSE;
}

static Result *
find_result (GPtrArray  *results,
             const char *name)
{
  for (guint i = 0; i < results->len; i++)
    {
      Result *r = g_ptr_array_index (results, i);

      if (strcmp (r->name, name) == 0)
        return r;
    }
  return NULL;
}

static const char *
baseline_of (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (baselines); i++)
    if (g_str_has_prefix (name, baselines[i].prefix))
      return baselines[i].baseline;
  return NULL;
}

/* Machine ------------------------------------------------------------------ */

static char *
first_line_with (const char *file,
                 const char *key)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (file, &text, NULL, NULL))
    return g_strdup ("?");
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], key))
      {
        const char *colon = strchr (lines[i], ':');
        return g_strstrip (g_strdup (colon ? colon + 1 : lines[i]));
      }
  return g_strdup ("?");
}

static char *
loadavg (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  g_strstrip (text);
  return g_strdup (text);
}

typedef struct {
  char *cpu;
  guint cores;
  char *mem;
  char *kernel;
  char *load_start;
  char *load_end;
} Machine;

static void
machine_probe (Machine *m)
{
  struct utsname u;

  m->cpu = first_line_with ("/proc/cpuinfo", "model name");
  m->cores = g_get_num_processors ();
  m->mem = first_line_with ("/proc/meminfo", "MemTotal");
  m->kernel = uname (&u) == 0 ? g_strdup_printf ("%s %s %s", u.sysname, u.release, u.machine)
                              : g_strdup ("?");
  m->load_start = loadavg ();
}

/* Output ------------------------------------------------------------------- */

static double
ratio_to_baseline (GPtrArray *results,
                   Result    *r,
                   const char **baseline_name)
{
  const char *name = baseline_of (r->name);
  Result *b = name ? find_result (results, name) : NULL;

  *baseline_name = name;
  if (b == NULL || result_ops_per_s (b) <= 0)
    return 0;
  return result_ops_per_s (r) / result_ops_per_s (b);
}

/* ops/s of @r over raw batched inserts, for rows that insert; 0 if none. */
static double
ratio_to_limit (GPtrArray *results,
                Result    *r)
{
  Result *limit = find_result (results, LIMIT_SCENARIO);

  if (limit == NULL || result_ops_per_s (limit) <= 0)
    return 0;
  for (guint i = 0; i < G_N_ELEMENTS (limit_prefixes); i++)
    if (g_str_has_prefix (r->name, limit_prefixes[i]))
      return result_ops_per_s (r) / result_ops_per_s (limit);
  return 0;
}

static void
print_table (GPtrArray *results)
{
  printf ("\n%-32s %10s %11s %9s %9s %7s %6s %5s  %-22s %6s %8s  %s\n",
          "scenario", "ops", "ops/s", "p50 us", "p99 us", "cpu us", "csw", "bg", "baseline", "ratio",
          "vs limit", "note");
  for (guint i = 0; i < 165; i++)
    putchar ('-');
  putchar ('\n');
  for (guint i = 0; i < results->len; i++)
    {
      Result *r = g_ptr_array_index (results, i);
      const char *baseline = NULL;
      double ratio = ratio_to_baseline (results, r, &baseline);
      double limit = ratio_to_limit (results, r);
      char ratio_text[32] = "-", limit_text[32] = "-";

      if (ratio > 0)
        g_snprintf (ratio_text, sizeof ratio_text, "%.2fx", ratio);
      if (limit > 0)
        g_snprintf (limit_text, sizeof limit_text, "%.2fx", limit);
      printf ("%-32s %10" G_GUINT64_FORMAT " %11.0f %9.1f %9.1f %7.2f %6.2f %5.2f  %-22s %6s %8s  %s\n",
              r->name, r->ops, result_ops_per_s (r),
              hist_percentile (&r->hist, 50) / 1000, hist_percentile (&r->hist, 99) / 1000,
              r->cpu_us_per_op, r->csw_per_op, r->foreign_load,
              baseline && ratio > 0 ? baseline : "-", ratio_text, limit_text, r->note->str);
    }
}

static gint64
extra_int (Result     *r,
           const char *key)
{
  g_autofree char *needle = g_strdup_printf ("\"%s\": ", key);
  const char *p = strstr (r->extra_json->str, needle);

  return p ? g_ascii_strtoll (p + strlen (needle), NULL, 10) : -1;
}

static double
extra_double (Result     *r,
              const char *key)
{
  g_autofree char *needle = g_strdup_printf ("\"%s\": ", key);
  const char *p = strstr (r->extra_json->str, needle);

  return p ? g_ascii_strtod (p + strlen (needle), NULL) : -1;
}

static const Scenario * const families[] = {
  raw_scenarios, peer_scenarios, gom_scenarios, pools_scenarios, cluster_scenarios,
};

static gboolean
scenario_exists (const char *name)
{
  for (guint f = 0; f < G_N_ELEMENTS (families); f++)
    for (const Scenario *s = families[f]; s->name; s++)
      if (strcmp (s->name, name) == 0)
        return TRUE;
  return FALSE;
}

static void
target_json (GString    *json,
             gboolean   *first,
             guint       i,
             const char *versus,
             const char *measured,
             const char *required,
             double      ratio,
             const char *met)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!*first)
    g_string_append (json, ",\n");
  *first = FALSE;
  g_string_append (json, "    {\"target\": ");
  bench_json_string (json, targets[i].what);
  g_string_append (json, ", \"scenario\": ");
  bench_json_string (json, targets[i].scenario);
  g_string_append (json, ", \"versus\": ");
  bench_json_string (json, versus);
  g_string_append (json, ", \"measured\": ");
  bench_json_string (json, measured);
  g_string_append (json, ", \"required\": ");
  bench_json_string (json, required);
  g_string_append_printf (json, ", \"required_value\": %s",
                          g_ascii_formatd (buf, sizeof buf, "%.3f", targets[i].value));
  if (ratio > 0)
    g_string_append_printf (json, ", \"ratio\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", ratio));
  g_string_append_printf (json, ", \"met\": %s}", met);
}

/* The best (fastest) of the target's versus scenarios in this run. */
static Result *
target_versus (GPtrArray *results,
               guint      i)
{
  Result *best = NULL;

  for (guint v = 0; v < G_N_ELEMENTS (targets[i].versus) && targets[i].versus[v]; v++)
    {
      Result *candidate = find_result (results, targets[i].versus[v]);

      if (candidate != NULL && (best == NULL || result_ops_per_s (candidate) > result_ops_per_s (best)))
        best = candidate;
    }
  return best;
}

/* Evaluates the targets; appends them to @json (an array body). A target
 * whose scenario ran but whose comparison did not, or whose scenario does
 * not exist yet, is listed as not measured. */
static void
print_targets (GPtrArray *results,
               GString   *json)
{
  gboolean first = TRUE;

  printf ("\nTargets (ratios from this run)\n");
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      Result *r = find_result (results, targets[i].scenario);
      Result *best = NULL;
      char measured[128], required[64], versus_name[64] = "";
      double ratio = 0;
      gboolean met;

      if (r == NULL && !scenario_exists (targets[i].scenario))
        {
          printf ("  [ -- ] %-78s not measured: no %s scenario yet\n", targets[i].what,
                  targets[i].scenario);
          target_json (json, &first, i, "", "no scenario yet", "", 0, "null");
          continue;
        }
      if (r == NULL)
        continue;
      if (targets[i].kind == TARGET_RATIO || targets[i].kind == TARGET_READ_P99_RATIO)
        {
          best = target_versus (results, i);
          if (best == NULL || result_ops_per_s (best) <= 0)
            {
              printf ("  [ -- ] %-78s not measured: %s did not run\n", targets[i].what,
                      targets[i].versus[0]);
              target_json (json, &first, i, targets[i].versus[0], "not measured", "", 0, "null");
              continue;
            }
          g_strlcpy (versus_name, best->name, sizeof versus_name);
        }

      if (targets[i].kind == TARGET_RATIO)
        {
          ratio = result_ops_per_s (r) / result_ops_per_s (best);
          met = ratio >= targets[i].value;
          g_snprintf (measured, sizeof measured, "%.2fx (%.0f vs %.0f ops/s)", ratio,
                      result_ops_per_s (r), result_ops_per_s (best));
          g_snprintf (required, sizeof required, ">= %.1fx", targets[i].value);
        }
      else if (targets[i].kind == TARGET_READ_P99_RATIO)
        {
          double p99 = extra_double (r, "read_p99_us"), p99_versus = extra_double (best, "read_p99_us");

          ratio = p99_versus > 0 ? p99 / p99_versus : 0;
          met = ratio > 0 && ratio <= targets[i].value;
          g_snprintf (measured, sizeof measured, "%.2fx (p99 %.0f vs %.0f us, max %.0f vs %.0f us)",
                      ratio, p99, p99_versus, extra_double (r, "read_max_us"),
                      extra_double (best, "read_max_us"));
          g_snprintf (required, sizeof required, "<= %.1fx", targets[i].value);
        }
      else if (targets[i].kind == TARGET_WAL_MAX)
        {
          gint64 wal_max = extra_int (r, "wal_max_bytes");
          met = wal_max >= 0 && wal_max < targets[i].value;
          g_snprintf (measured, sizeof measured, "max %.1f MiB over %.0f s", wal_max / 1048576.0,
                      r->seconds);
          g_snprintf (required, sizeof required, "< %.0f MiB", targets[i].value / 1048576.0);
        }
      else
        {
          gint64 growth = extra_int (r, "rss_growth_kib_first_to_last");
          met = growth <= targets[i].value;
          g_snprintf (measured, sizeof measured, "%+.1f MiB", growth / 1024.0);
          g_snprintf (required, sizeof required, "<= %.0f MiB", targets[i].value / 1024);
        }

      printf ("  [%s] %-78s %s  (need %s%s%s)\n", met ? "MET " : "MISS", targets[i].what, measured,
              required, *versus_name ? ", vs " : "", versus_name);
      target_json (json, &first, i, versus_name, measured, required, ratio, met ? "true" : "false");
    }
  g_string_append (json, "\n");
}

static void
write_json (const char *file,
            GPtrArray  *results,
            Machine    *m,
            GString    *targets_json)
{
  GString *out = g_string_new ("{\n");
  g_autoptr(GError) error = NULL;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (out, "  \"benchmark\": \"msb-db-bench\",\n  \"mode\": \"%s\",\n",
                          bench_config.quick ? "quick" : "full");
  g_string_append (out, "  \"machine\": {\"cpu\": ");
  bench_json_string (out, m->cpu);
  g_string_append_printf (out, ", \"cores\": %u, \"mem\": ", m->cores);
  bench_json_string (out, m->mem);
  g_string_append (out, ", \"kernel\": ");
  bench_json_string (out, m->kernel);
  g_string_append (out, ", \"loadavg_start\": ");
  bench_json_string (out, m->load_start);
  g_string_append (out, ", \"loadavg_end\": ");
  bench_json_string (out, m->load_end);
  g_string_append_printf (out, ", \"sqlite\": \"%s\", \"glib\": \"%u.%u.%u\", \"dir\": ",
                          sqlite3_libversion (), glib_major_version, glib_minor_version,
                          glib_micro_version);
  bench_json_string (out, bench_config.dir);
  g_string_append (out, "},\n  \"peers\": {\"better-sqlite3\": ");
  peer_json (out);
  g_string_append (out, "},\n");
  g_string_append_printf (out, "  \"config\": {\"duration_s\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", bench_config.duration));
  g_string_append_printf (out, ", \"warmup_s\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", bench_config.warmup));
  g_string_append_printf (out, ", \"quiet_gate\": %s", quiet_gate ? "true" : "false");
  g_string_append_printf (out, ", \"long_reader_s\": %s",
                          g_ascii_formatd (buf, sizeof buf, "%.3f", bench_config.long_reader_seconds));
  g_string_append_printf (out, ", \"prefill_rows\": %u, \"in_flight\": %u, \"rss_ops\": %" G_GUINT64_FORMAT
                          ", \"wal_soak_s\": %s},\n",
                          bench_config.prefill_rows, bench_config.window, bench_config.rss_ops,
                          g_ascii_formatd (buf, sizeof buf, "%.1f", bench_config.wal_soak_seconds));
  g_string_append (out, "  \"results\": [\n");
  for (guint i = 0; i < results->len; i++)
    {
      Result *r = g_ptr_array_index (results, i);
      const char *baseline = NULL;
      double ratio = ratio_to_baseline (results, r, &baseline);

      g_string_append (out, "    {\"name\": ");
      bench_json_string (out, r->name);
      g_string_append (out, ", \"description\": ");
      bench_json_string (out, r->description);
      g_string_append_printf (out, ", \"ops\": %" G_GUINT64_FORMAT, r->ops);
      g_string_append_printf (out, ", \"seconds\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", r->seconds));
      g_string_append_printf (out, ", \"ops_per_s\": %s", g_ascii_formatd (buf, sizeof buf, "%.1f", result_ops_per_s (r)));
      g_string_append_printf (out, ", \"p50_us\": %s", g_ascii_formatd (buf, sizeof buf, "%.2f", hist_percentile (&r->hist, 50) / 1000));
      g_string_append_printf (out, ", \"p99_us\": %s", g_ascii_formatd (buf, sizeof buf, "%.2f", hist_percentile (&r->hist, 99) / 1000));
      g_string_append_printf (out, ", \"max_us\": %s", g_ascii_formatd (buf, sizeof buf, "%.2f", r->hist.max_ns / 1000.0));
      g_string_append_printf (out, ", \"cpu_us_per_op\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", r->cpu_us_per_op));
      g_string_append_printf (out, ", \"context_switches_per_op\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", r->csw_per_op));
      g_string_append_printf (out, ", \"other_processes_cpu_cores\": %s", g_ascii_formatd (buf, sizeof buf, "%.2f", r->foreign_load));
      g_string_append_printf (out, ", \"attempt\": %u", r->attempt);
      g_string_append_printf (out, ", \"waited_for_quiet_s\": %s", g_ascii_formatd (buf, sizeof buf, "%.1f", r->waited_for_quiet_s));
      g_string_append (out, ", \"baseline\": ");
      if (baseline != NULL && ratio > 0)
        {
          bench_json_string (out, baseline);
          g_string_append_printf (out, ", \"ratio\": %s", g_ascii_formatd (buf, sizeof buf, "%.3f", ratio));
        }
      else
        g_string_append (out, "null, \"ratio\": null");
      {
        double limit = ratio_to_limit (results, r);

        g_string_append (out, ", \"ratio_to_limit\": ");
        if (limit > 0)
          g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.3f", limit));
        else
          g_string_append (out, "null");
      }
      g_string_append (out, ", \"note\": ");
      bench_json_string (out, r->note->str);
      g_string_append (out, r->extra_json->str);
      g_string_append (out, i + 1 < results->len ? "},\n" : "}\n");
    }
  g_string_append (out, "  ],\n  \"targets\": [\n");
  g_string_append (out, targets_json->str);
  g_string_append (out, "  ]\n}\n");

  if (!g_file_set_contents (file, out->str, out->len, &error))
    g_printerr ("Could not write %s: %s\n", file, error->message);
  g_string_free (out, TRUE);
}

/* Noisy neighbours ----------------------------------------------------------
 * With --quiet-gate, each scenario starts only once other processes have
 * used less than QUIET_BELOW cores for QUIET_WINDOW seconds, and one during
 * which they used more than QUIET_RETRY_ABOVE cores is run again (at most
 * QUIET_MAX_ATTEMPTS times; the quietest attempt is kept). */
#define QUIET_BELOW 0.15
#define QUIET_WINDOW 2.0
#define QUIET_RETRY_ABOVE 0.25
#define QUIET_MAX_ATTEMPTS 3
#define QUIET_MAX_WAIT_S 900

static double
foreign_load_during (double seconds)
{
  gint64 busy = machine_busy_ns (), wall = now_ns ();
  Usage before, after;

  usage_take_with_children (&before);
  g_usleep ((gulong) (seconds * G_USEC_PER_SEC));
  usage_take_with_children (&after);
  wall = now_ns () - wall;
  return (double) (machine_busy_ns () - busy - (after.cpu_ns - before.cpu_ns)) / wall;
}

/* Returns how long it waited, in ns. */
static gint64
wait_for_quiet (void)
{
  gint64 start = now_ns ();

  while (foreign_load_during (QUIET_WINDOW) >= QUIET_BELOW &&
         now_ns () - start < (gint64) QUIET_MAX_WAIT_S * 1000000000)
    ;
  return now_ns () - start;
}

static Result *
run_measured (const Scenario *s)
{
  gint64 busy_before = machine_busy_ns (), wall_before = now_ns ();
  Usage self_before, self_after;   /* this process and its waited-for children */
  Result *r;
  gint64 wall;

  usage_take_with_children (&self_before);
  r = s->run ();
  if (r == NULL)
    return NULL;
  usage_take_with_children (&self_after);
  wall = now_ns () - wall_before;
  r->foreign_load = wall > 0 ? MAX (0.0, (double) (machine_busy_ns () - busy_before -
                                                   (self_after.cpu_ns - self_before.cpu_ns)) / wall)
                             : 0;
  return r;
}

/* One run of @s; with --quiet-gate, the quietest of up to
 * QUIET_MAX_ATTEMPTS runs. */
static Result *
run_scenario (const Scenario *s)
{
  Result *r = NULL;

  for (guint attempt = 1; ; attempt++)
    {
      Result *candidate;
      gint64 waited = 0;

      if (quiet_gate)
        waited = wait_for_quiet ();
      g_printerr ("  %-32s ...", s->name);
      candidate = run_measured (s);
      if (candidate == NULL)
        {
          g_printerr (" not measured\n");
          break;
        }
      candidate->attempt = attempt;
      candidate->waited_for_quiet_s = waited / 1e9;
      g_printerr (" %10.0f ops/s  p50 %8.1f us  p99 %8.1f us  (others used %.2f cores)\n",
                  result_ops_per_s (candidate), hist_percentile (&candidate->hist, 50) / 1000,
                  hist_percentile (&candidate->hist, 99) / 1000, candidate->foreign_load);
      if (r == NULL || candidate->foreign_load < r->foreign_load)
        {
          result_free (r);
          r = candidate;
        }
      else
        result_free (candidate);
      if (!quiet_gate || r->foreign_load <= QUIET_RETRY_ABOVE || attempt == QUIET_MAX_ATTEMPTS)
        break;
      g_printerr ("    other processes were busy: running it again\n");
    }
  if (r != NULL && r->attempt > 1)
    result_note (r, "kept attempt %u", r->attempt);
  return r;
}

/* The RSS check and the WAL soaks measure one long run, not a rate. */
static gboolean
runs_once (const Scenario *s)
{
  return g_str_has_prefix (s->name, "pools.rss") || g_str_has_prefix (s->name, "pools.wal-soak") ||
         g_str_has_prefix (s->name, "cluster.failover");
}

static gint
compare_ops_per_s (gconstpointer a,
                   gconstpointer b)
{
  double x = result_ops_per_s (*(Result * const *) a);
  double y = result_ops_per_s (*(Result * const *) b);

  return (x > y) - (x < y);
}

/* The run with the median rate (the lower middle one of an even count);
 * the spread goes into its note and JSON. */
static Result *
take_median (GPtrArray *runs)
{
  Result *median;
  double lowest, highest;

  g_ptr_array_sort (runs, compare_ops_per_s);
  median = g_ptr_array_steal_index (runs, (runs->len - 1) / 2);
  if (runs->len == 0)
    return median;

  lowest = result_ops_per_s (g_ptr_array_index (runs, 0));
  highest = result_ops_per_s (g_ptr_array_index (runs, runs->len - 1));
  lowest = MIN (lowest, result_ops_per_s (median));
  highest = MAX (highest, result_ops_per_s (median));
  result_add_int (median, "runs", runs->len + 1);
  result_add_double (median, "ops_per_s_min", lowest);
  result_add_double (median, "ops_per_s_max", highest);
  result_note (median, "median of %u runs (%.0f-%.0f ops/s)", runs->len + 1, lowest, highest);
  return median;
}

/* Main ---------------------------------------------------------------------- */

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "bench"
#endif

/* Where the better-sqlite3 peer's pieces are: the options first, then
 * $MSB_DB_BENCH_NODE_MODULES, then node_modules beside this program (where
 * `meson compile bench-peer-install` puts it). */
static void
bench_config_set_peer (const char *node,
                       const char *node_modules,
                       const char *peer_script)
{
  bench_config.node = node;
  bench_config.peer_script = peer_script != NULL
                             ? peer_script : BENCH_SOURCE_DIR "/peer-better-sqlite3.js";
  if (node_modules == NULL)
    node_modules = g_getenv ("MSB_DB_BENCH_NODE_MODULES");
  if (node_modules == NULL || *node_modules == '\0')
    {
      g_autofree char *exe_dir = g_path_get_dirname (bench_config.self_exe);

      node_modules = g_build_filename (exe_dir, "node_modules", NULL);
    }
  /* Absolute: NODE_PATH is read in the child's working directory. */
  bench_config.node_modules = g_canonicalize_filename (node_modules, NULL);
}

/* Whether the peer's scenarios can run; says so once either way. */
static gboolean
peer_selectable (void)
{
  static int answer = -1;

  if (answer < 0)
    {
      const char *why;
      g_autofree char *what = peer_describe ();

      answer = peer_available (&why);
      printf ("Peer: %s%s\n", what, answer ? "" : "; its rows are skipped");
      fflush (stdout);
    }
  return answer;
}

int
main (int   argc,
      char *argv[])
{
  gboolean quick = FALSE, list = FALSE, only_soak = FALSE, skip_soak = FALSE;
  char *patterns = NULL, *json_file = NULL, *dir = NULL, *child_path = NULL;
  char *node = NULL, *peer_script = NULL, *node_modules = NULL, *burst_path = NULL;
  double child_warmup = 0, child_duration = 0;
  double duration = 0, soak_seconds = 0, long_reader_seconds = 0;
  gint64 rss_ops = 0;
  int child_window = 64;
  int rounds = 0;
  const GOptionEntry entries[] = {
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "A few seconds in all (smoke run)", NULL },
    { "scenario", 's', 0, G_OPTION_ARG_STRING, &patterns,
      "Run only these scenarios (comma-separated prefixes or globs)", "PATTERNS" },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &json_file, "Also write the results as JSON", "FILE" },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
      "Put the database files under DIR (default: a new directory in $TMPDIR)", "DIR" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Measured seconds per scenario", "SECONDS" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
      "Run every rate scenario N times, round after round, and keep the median (default: 3, 1 with --quick)",
      "N" },
    { "wal-soak", 0, 0, G_OPTION_ARG_NONE, &only_soak,
      "Run only the WAL soaks (60 s each unless --wal-soak-seconds)", NULL },
    { "rss-ops", 0, 0, G_OPTION_ARG_INT64, &rss_ops,
      "Operations of the RSS check (RSS read at a tenth, half and all of them)", "N" },
    { "wal-soak-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &soak_seconds, "Length of the WAL soak", "SECONDS" },
    { "skip-wal-soak", 0, 0, G_OPTION_ARG_NONE, &skip_soak, "Leave the WAL soaks out", NULL },
    { "long-reader-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &long_reader_seconds,
      "Measured window of pools.long-reader.*, the time the long snapshot stays open "
      "(default 7, 1.5 with --quick)", "SECONDS" },
    { "node", 0, 0, G_OPTION_ARG_FILENAME, &node,
      "Node.js for the better-sqlite3 peer (default: node on PATH)", "PATH" },
    { "node-modules", 0, 0, G_OPTION_ARG_FILENAME, &node_modules,
      "node_modules directory holding better-sqlite3 (default: $MSB_DB_BENCH_NODE_MODULES, "
      "else node_modules beside this program)", "DIR" },
    { "peer-script", 0, 0, G_OPTION_ARG_FILENAME, &peer_script,
      "The peer's script (default: peer-better-sqlite3.js in the source tree)", "FILE" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "List the scenarios", NULL },
    { "quiet-gate", 0, 0, G_OPTION_ARG_NONE, &quiet_gate,
      "Start each scenario only when other processes are idle; rerun one they disturbed", NULL },
    { "child-writer", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &child_path, NULL, NULL },
    { "child-window", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &child_window, NULL, NULL },
    { "child-burst", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &burst_path, NULL, NULL },
    { "child-warmup", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_DOUBLE, &child_warmup, NULL, NULL },
    { "child-duration", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_DOUBLE, &child_duration, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- benchmark MsbDbPools");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func ((GDestroyNotify) result_free);
  g_autoptr(GPtrArray) selected = g_ptr_array_new ();   /* of const Scenario */
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autofree char *made_dir = NULL;
  GString *targets_json = g_string_new (NULL);
  Machine machine = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (child_path != NULL)
    {
      bench_config.window = child_window;
      return pools_child_main (child_path, child_window);
    }
  if (burst_path != NULL)
    {
      bench_config.warmup = child_warmup;
      bench_config.duration = child_duration;
      return pools_burst_child_main (burst_path);
    }

  bench_config.quick = quick;
  bench_config.self_exe = g_file_test ("/proc/self/exe", G_FILE_TEST_EXISTS)
                          ? g_file_read_link ("/proc/self/exe", NULL) : argv[0];
  bench_config.window = 64;
  if (quick)
    {
      bench_config.duration = 0.2;
      bench_config.warmup = 0.05;
      bench_config.prefill_rows = 20000;
      bench_config.rss_ops = 50000;
      bench_config.rss_first_mark = 5000;
      bench_config.wal_soak_seconds = 1.5;
      bench_config.long_reader_seconds = 1.5;
    }
  else
    {
      bench_config.duration = 5;
      bench_config.warmup = 1;
      bench_config.prefill_rows = 20000;
      bench_config.rss_ops = 1000000;
      bench_config.rss_first_mark = 100000;
      bench_config.wal_soak_seconds = 60;
      bench_config.long_reader_seconds = 7;
    }
  if (long_reader_seconds > 0)
    bench_config.long_reader_seconds = long_reader_seconds;
  bench_config_set_peer (node, node_modules, peer_script);
  if (duration > 0)
    bench_config.duration = duration;
  if (rounds <= 0)
    rounds = quick ? 1 : 3;
  if (rss_ops > 0)
    {
      bench_config.rss_ops = rss_ops;
      bench_config.rss_first_mark = rss_ops / 10;
    }
  if (soak_seconds > 0)
    bench_config.wal_soak_seconds = soak_seconds;
  else if (only_soak)
    bench_config.wal_soak_seconds = 60;
  if (patterns != NULL)
    scenario_patterns = g_strsplit (patterns, ",", -1);
  if (only_soak)
    {
      g_strfreev (scenario_patterns);
      scenario_patterns = g_strsplit ("pools.wal-soak", ",", -1);   /* both soaks */
    }

  if (list)
    {
      for (guint f = 0; f < G_N_ELEMENTS (families); f++)
        for (const Scenario *s = families[f]; s->name; s++)
          printf ("%s\n", s->name);
      return 0;
    }

  if (dir != NULL)
    {
      g_mkdir_with_parents (dir, 0700);
      bench_config.dir = dir;
    }
  else
    {
      made_dir = g_dir_make_tmp ("msb-db-bench-XXXXXX", &error);
      if (made_dir == NULL)
        g_error ("%s", error->message);
      bench_config.dir = made_dir;
    }

  machine_probe (&machine);
  printf ("msb-db-bench (%s mode): %s, %u cores, %s, %s\n", quick ? "quick" : "full",
          machine.cpu, machine.cores, machine.mem, machine.kernel);
  printf ("SQLite %s, GLib %u.%u.%u, files in %s, load average at start: %s\n",
          sqlite3_libversion (), glib_major_version, glib_minor_version, glib_micro_version,
          bench_config.dir, machine.load_start);
  printf ("%.2f s measured after %.2f s warm-up per scenario, %u async ops in flight, %u rows for reads\n",
          bench_config.duration, bench_config.warmup, bench_config.window, bench_config.prefill_rows);
  if (rounds > 1)
    printf ("%d rounds through the scenarios; each rate is the median run\n", rounds);
  fflush (stdout);

  for (guint f = 0; f < G_N_ELEMENTS (families); f++)
    for (const Scenario *s = families[f]; s->name; s++)
      if (scenario_selected (s->name) &&
          !(skip_soak && g_str_has_prefix (s->name, "pools.wal-soak")) &&
          !(families[f] == peer_scenarios && !peer_selectable ()) &&
          !(families[f] == cluster_scenarios && !bench_cluster_selectable (s)))
        g_ptr_array_add (selected, (gpointer) s);

  /* Round after round through every scenario: a baseline and the scenario
   * compared with it see the machine in the same states. */
  for (guint i = 0; i < selected->len; i++)
    g_ptr_array_add (candidates, g_ptr_array_new_with_free_func ((GDestroyNotify) result_free));
  for (int round = 1; round <= rounds; round++)
    {
      if (rounds > 1)
        g_printerr ("round %d of %d\n", round, rounds);
      for (guint i = 0; i < selected->len; i++)
        {
          const Scenario *s = g_ptr_array_index (selected, i);

          if (round > 1 && runs_once (s))
            continue;
          Result *r = run_scenario (s);

          if (r != NULL)
            g_ptr_array_add (g_ptr_array_index (candidates, i), r);
        }
    }
  for (guint i = 0; i < selected->len; i++)
    {
      GPtrArray *runs = g_ptr_array_index (candidates, i);

      if (runs->len > 0)
        g_ptr_array_add (results, take_median (runs));
    }

  bench_cluster_shutdown ();
  machine.load_end = loadavg ();
  print_table (results);
  print_targets (results, targets_json);
  printf ("\nload average at end: %s\n", machine.load_end);
  if (json_file != NULL)
    {
      write_json (json_file, results, &machine, targets_json);
      printf ("JSON written to %s\n", json_file);
    }

  if (made_dir != NULL)
    g_rmdir (made_dir);
  g_string_free (targets_json, TRUE);
  return 0;
}
