/* bench-peer.c: better-sqlite3 (Node) as a peer of the raw baseline
 *
 * The raw baseline's three blocking workloads (autocommit inserts, batched
 * inserts, point reads) run in better-sqlite3 12, the fastest synchronous
 * SQLite binding of another language, through peer-better-sqlite3.js in a
 * Node subprocess. The file is made here (prefilled with raw_prefill() for
 * reads), so both sides work on the same data; the script measures with the
 * same window, the same histogram and its own process CPU time, and prints
 * one RESULT line.
 *
 * Node or the module may be missing: then the peer is skipped with a note,
 * never failed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "bench-common.h"

/* Exit status of the script when `require('better-sqlite3')` fails. */
#define PEER_MISSING_STATUS 3

typedef struct {
  gboolean probed;
  gboolean available;
  char *why_not;          /* when not available */
  char *node;             /* absolute path of node */
  char *module_version;
  char *sqlite_version;
  char *node_version;
} PeerState;

static PeerState peer;

static const char *
peer_node_modules (void)
{
  return bench_config.node_modules;
}

/* NODE_PATH for the script: the configured node_modules first, then the
 * caller's own NODE_PATH. */
static GSubprocessLauncher *
peer_launcher (void)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                             G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *inherited = g_getenv ("NODE_PATH");
  g_autofree char *node_path = NULL;

  if (peer_node_modules () != NULL && inherited != NULL && *inherited != '\0')
    node_path = g_strconcat (peer_node_modules (), G_SEARCHPATH_SEPARATOR_S, inherited, NULL);
  else if (peer_node_modules () != NULL)
    node_path = g_strdup (peer_node_modules ());
  if (node_path != NULL)
    g_subprocess_launcher_setenv (launcher, "NODE_PATH", node_path, TRUE);
  return launcher;
}

/* Runs the script with @args; returns its stdout, or NULL with @why set.
 * @status gets the exit status when the script ran. */
static char *
peer_run (const char * const *args,
          int                 *status,
          char               **why)
{
  g_autoptr(GSubprocessLauncher) launcher = peer_launcher ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err_text = NULL;
  char *out_text = NULL;

  g_ptr_array_add (argv, peer.node);
  g_ptr_array_add (argv, (gpointer) bench_config.peer_script);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  child = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  if (child == NULL ||
      !g_subprocess_communicate_utf8 (child, NULL, NULL, &out_text, &err_text, &error))
    {
      *why = g_strdup_printf ("could not run %s: %s", peer.node, error->message);
      return NULL;
    }
  *status = g_subprocess_get_if_exited (child) ? g_subprocess_get_exit_status (child) : -1;
  if (*status != 0 && *status != PEER_MISSING_STATUS)
    {
      *why = g_strdup_printf ("%s %s failed (status %d): %s", peer.node,
                              bench_config.peer_script, *status,
                              err_text && *err_text ? g_strstrip (err_text) : "no message");
      g_free (out_text);
      return NULL;
    }
  return out_text;
}

static gboolean
peer_probe (char **why)
{
  const char *args[] = { "--probe", NULL };
  g_autofree char *out = NULL;
  g_auto(GStrv) words = NULL;
  int status = -1;

  peer.node = bench_config.node != NULL ? g_strdup (bench_config.node)
                                        : g_find_program_in_path ("node");
  if (peer.node == NULL)
    {
      *why = g_strdup ("node is not on PATH (install Node.js 20 or later, or pass --node)");
      return FALSE;
    }
  if (!g_file_test (bench_config.peer_script, G_FILE_TEST_IS_REGULAR))
    {
      *why = g_strdup_printf ("%s is missing (pass --peer-script)", bench_config.peer_script);
      return FALSE;
    }
  out = peer_run (args, &status, why);
  if (out == NULL)
    return FALSE;
  if (status == PEER_MISSING_STATUS)
    {
      *why = g_strdup_printf ("the better-sqlite3 module is not installed in %s or on NODE_PATH "
                              "(meson compile -C BUILD bench-peer-install, or npm install "
                              "--prefix DIR better-sqlite3@12 and --node-modules DIR/node_modules)",
                              peer_node_modules () ? peer_node_modules () : "(none)");
      return FALSE;
    }
  words = g_strsplit (g_strstrip (out), " ", -1);
  if (g_strv_length (words) != 4 || strcmp (words[0], "PEER") != 0)
    {
      *why = g_strdup_printf ("unexpected answer from the probe: %s", out);
      return FALSE;
    }
  peer.module_version = g_strdup (words[1]);
  peer.sqlite_version = g_strdup (words[2]);
  peer.node_version = g_strdup (words[3]);
  return TRUE;
}

gboolean
peer_available (const char **why)
{
  if (!peer.probed)
    {
      peer.probed = TRUE;
      peer.available = peer_probe (&peer.why_not);
    }
  *why = peer.why_not;
  return peer.available;
}

char *
peer_describe (void)
{
  const char *why;

  if (!peer_available (&why))
    return g_strdup_printf ("not measured: %s", why);
  return g_strdup_printf ("better-sqlite3 %s (its own SQLite %s) on Node %s", peer.module_version,
                          peer.sqlite_version, peer.node_version);
}

void
peer_json (GString *out)
{
  const char *why;

  if (!peer.probed)
    {
      g_string_append (out, "{\"probed\": false}");
      return;
    }
  if (!peer_available (&why))
    {
      g_string_append (out, "{\"available\": false, \"reason\": ");
      bench_json_string (out, why);
      g_string_append (out, "}");
      return;
    }
  g_string_append (out, "{\"available\": true, \"version\": ");
  bench_json_string (out, peer.module_version);
  g_string_append (out, ", \"sqlite\": ");
  bench_json_string (out, peer.sqlite_version);
  g_string_append (out, ", \"node\": ");
  bench_json_string (out, peer.node_version);
  g_string_append (out, "}");
}

/* Parses `RESULT ops total cpu_ns csw hist` into @r. */
static gboolean
peer_parse_result (const char *out,
                   Result     *r)
{
  guint64 ops, total, csw;
  gint64 cpu_ns;
  int consumed = 0;
  const char *line = strstr (out, "RESULT ");

  if (line == NULL ||
      sscanf (line, "RESULT %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT
              " %" G_GUINT64_FORMAT " %n", &ops, &total, &cpu_ns, &csw, &consumed) != 4 ||
      consumed == 0 || total == 0)
    return FALSE;
  {
    g_autofree char *hist = g_strndup (line + consumed, strcspn (line + consumed, "\r\n"));
    hist_deserialize (&r->hist, hist);
  }
  r->ops = ops;
  r->cpu_us_per_op = cpu_ns / 1000.0 / total;
  r->csw_per_op = (double) csw / total;
  return TRUE;
}

/* NULL when the peer cannot be measured: the row is left out. */
static Result *
run_peer (const char *name,
          const char *description,
          const char *workload,
          guint       prefill)
{
  g_autofree char *path = bench_db_path (name);
  char rows[32], warmup[G_ASCII_DTOSTR_BUF_SIZE], duration[G_ASCII_DTOSTR_BUF_SIZE];
  const char *args[] = { "--workload", workload, "--db", path, "--rows", rows,
                         "--warmup", warmup, "--duration", duration, NULL };
  g_autofree char *out = NULL;
  g_autofree char *why = NULL;
  Result *r;
  int status = -1;
  const char *unavailable;

  if (!peer_available (&unavailable))
    return NULL;
  if (prefill > 0)
    raw_prefill (path, prefill);
  g_snprintf (rows, sizeof rows, "%u", prefill);
  g_ascii_formatd (warmup, sizeof warmup, "%.3f", bench_config.warmup);
  g_ascii_formatd (duration, sizeof duration, "%.3f", bench_config.duration);

  r = result_new (name, description);
  out = peer_run (args, &status, &why);
  bench_remove_db (path);
  if (out == NULL || status != 0 || !peer_parse_result (out, r))
    {
      g_printerr ("\n  %s: not measured: %s\n", name, why ? why : out);
      result_free (r);
      return NULL;
    }
  r->seconds = bench_config.duration;
  result_add_string (r, "peer", "better-sqlite3");
  result_add_string (r, "peer_version", peer.module_version);
  result_add_string (r, "peer_sqlite", peer.sqlite_version);
  result_add_string (r, "node", peer.node_version);
  result_note (r, "better-sqlite3 %s, its own SQLite %s", peer.module_version, peer.sqlite_version);
  return r;
}

static Result *
peer_insert_autocommit (void)
{
  return run_peer ("better-sqlite3.insert.autocommit",
                   "better-sqlite3 (Node): single-row INSERT, autocommit, prepared once",
                   "insert.autocommit", 0);
}

static Result *
peer_insert_batched (void)
{
  Result *r = run_peer ("better-sqlite3.insert.batched",
                        "better-sqlite3 (Node): INSERTs, 1000 rows per transaction",
                        "insert.batched", 0);

  if (r != NULL)
    result_note (r, "1000 rows/txn; latency per row");
  return r;
}

static Result *
peer_read_point (void)
{
  return run_peer ("better-sqlite3.read.point",
                   "better-sqlite3 (Node): point SELECT by primary key, .get()",
                   "read.point", bench_config.prefill_rows);
}

const Scenario peer_scenarios[] = {
  { "better-sqlite3.insert.autocommit", NULL, peer_insert_autocommit },
  { "better-sqlite3.insert.batched", NULL, peer_insert_batched },
  { "better-sqlite3.read.point", NULL, peer_read_point },
  { NULL, NULL, NULL },
};
