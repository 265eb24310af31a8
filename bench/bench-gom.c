/* bench-gom.c: the GLib peer, GOM's GomAdapter
 *
 * GomAdapter owns one sqlite3 connection on one worker thread fed by a
 * GAsyncQueue; gom_adapter_queue_write()/queue_read() run a callback there.
 * A program uses it the way GOM's own GomRepository does: queue a callback,
 * run a GomCommand in it, and report back to the main context (here with a
 * GTask, returned from the worker, which completes in the caller's context).
 *
 * Two variants of the callback:
 *  - "new": a GomCommand per operation (what gom_adapter_execute_sql() and
 *    GomRepository do; the statement is prepared every time);
 *  - "reuse": one GomCommand per SQL text, created on the worker thread and
 *    kept (the statement is prepared once), the best a GOM user can do.
 *
 * The adapter gets the same PRAGMAs as MsbDb and the raw baseline.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-common.h"

#ifdef HAVE_GOM

#include <gom/gom.h>

typedef struct {
  GomAdapter *adapter;
  gboolean reuse;
  guint64 next_key;
  guint rows;
  /* Worker thread only. */
  GomCommand *insert;
  GomCommand *select;
} Gom;

enum { KIND_READ, KIND_WRITE };

/* Runs @func on the adapter's worker and waits for it. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  void (*func) (Gom *g);
  Gom *g;
} GomSync;

static void
gom_sync_cb (GomAdapter *adapter,
             gpointer    user_data)
{
  GomSync *s = user_data;

  s->func (s->g);
  g_mutex_lock (&s->lock);
  s->done = TRUE;
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
gom_run_on_worker (Gom  *g,
                   void (*func) (Gom *g))
{
  GomSync s = { .func = func, .g = g };

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  gom_adapter_queue_write (g->adapter, gom_sync_cb, &s);
  g_mutex_lock (&s.lock);
  while (!s.done)
    g_cond_wait (&s.cond, &s.lock);
  g_mutex_unlock (&s.lock);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
}

static void
gom_exec (Gom        *g,
          const char *sql)
{
  g_autoptr(GError) error = NULL;

  if (!gom_adapter_execute_sql (g->adapter, sql, &error))
    g_error ("gom: %s: %s", sql, error->message);
}

static void
gom_configure (Gom *g)
{
  gom_exec (g, "PRAGMA busy_timeout = " G_STRINGIFY (BENCH_BUSY_TIMEOUT_MS));
  gom_exec (g, "PRAGMA journal_mode = WAL");
  gom_exec (g, "PRAGMA foreign_keys = ON");
  gom_exec (g, "PRAGMA synchronous = NORMAL");
  gom_exec (g, "PRAGMA trusted_schema = OFF");
  gom_exec (g, "PRAGMA journal_size_limit = 16777216");
  gom_exec (g, BENCH_SCHEMA);
}

static void
gom_drop_commands (Gom *g)
{
  g_clear_object (&g->insert);
  g_clear_object (&g->select);
}

static GomCommand *
gom_command (Gom         *g,
             GomCommand **cached,
             const char  *sql)
{
  GomCommand *command;

  if (g->reuse && *cached != NULL)
    return g_object_ref (*cached);
  command = g_object_new (GOM_TYPE_COMMAND, "adapter", g->adapter, "sql", sql, NULL);
  if (g->reuse)
    *cached = g_object_ref (command);
  return command;
}

/* The worker-side callbacks. The Slot is the GTask's task data. */
static void
gom_insert_cb (GomAdapter *adapter,
               gpointer    user_data)
{
  GTask *task = user_data;
  Slot *slot = g_task_get_task_data (task);
  Gom *g = g_object_get_data (G_OBJECT (adapter), "bench-gom");
  g_autoptr(GomCommand) command = NULL;
  g_autoptr(GError) error = NULL;

  command = gom_command (g, &g->insert, BENCH_INSERT_SQL);
  gom_command_set_param_int64 (command, 0, (gint64) slot->key);
  gom_command_set_param_string (command, 1, BENCH_PAYLOAD);
  if (!gom_command_execute (command, NULL, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    {
      /* A reused command is left reset: no statement stays active. */
      gom_command_reset (command);
      g_task_return_boolean (task, TRUE);
    }
  g_object_unref (task);
}

static void
gom_select_cb (GomAdapter *adapter,
               gpointer    user_data)
{
  GTask *task = user_data;
  Slot *slot = g_task_get_task_data (task);
  Gom *g = g_object_get_data (G_OBJECT (adapter), "bench-gom");
  g_autoptr(GomCommand) command = gom_command (g, &g->select, BENCH_SELECT_SQL);
  g_autoptr(GomCursor) cursor = NULL;
  g_autoptr(GError) error = NULL;

  gom_command_set_param_int64 (command, 0, (gint64) slot->key);
  if (!gom_command_execute (command, &cursor, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (!gom_cursor_next (cursor) ||
      gom_cursor_get_column_int64 (cursor, 0) != (gint64) slot->key ||
      gom_cursor_get_column_string (cursor, 2) == NULL)
    g_error ("gom: point read of %" G_GUINT64_FORMAT " returned the wrong row", slot->key);
  g_clear_object (&cursor);
  gom_command_reset (command);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_gom_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_error ("gom: %s", error->message);
  driver_done (g_task_get_task_data (G_TASK (result)));
}

static void
issue_gom_write (Slot     *slot,
                 gpointer  data,
                 guint64  *rng)
{
  Gom *g = data;
  GTask *task = g_task_new (NULL, NULL, on_gom_done, NULL);

  slot->kind = KIND_WRITE;
  slot->key = g->next_key++;
  g_task_set_task_data (task, slot, NULL);
  gom_adapter_queue_write (g->adapter, gom_insert_cb, task);
}

static void
issue_gom_read (Slot     *slot,
                gpointer  data,
                guint64  *rng)
{
  Gom *g = data;
  GTask *task = g_task_new (NULL, NULL, on_gom_done, NULL);

  slot->kind = KIND_READ;
  slot->key = rng_next (rng) % g->rows + 1;
  g_task_set_task_data (task, slot, NULL);
  gom_adapter_queue_read (g->adapter, gom_select_cb, task);
}

static void
issue_gom_mixed (Slot     *slot,
                 gpointer  data,
                 guint64  *rng)
{
  if (rng_next (rng) % 10 == 0)
    issue_gom_write (slot, data, rng);
  else
    issue_gom_read (slot, data, rng);
}

static Result *
run_gom (const char *name,
         const char *description,
         IssueFunc   issue,
         gboolean    reuse,
         guint       prefill)
{
  g_autofree char *path = bench_db_path (name);
  g_autoptr(GError) error = NULL;
  Result *r = result_new (name, description);
  Gom g = { 0 };
  Driver d;

  if (prefill > 0)
    raw_prefill (path, prefill);
  g.adapter = gom_adapter_new ();
  g.reuse = reuse;
  g.rows = prefill;
  g.next_key = 1;
  g_object_set_data (G_OBJECT (g.adapter), "bench-gom", &g);
  if (!gom_adapter_open_sync (g.adapter, path, &error))
    g_error ("gom open: %s", error->message);
  gom_run_on_worker (&g, gom_configure);

  driver_init (&d, issue, &g, bench_config.window,
               window_from_now (bench_config.warmup, bench_config.duration));
  driver_run (&d);
  driver_result (&d, r);
  driver_clear (&d);
  result_add_int (r, "in_flight", bench_config.window);
  result_note (r, reuse ? "one prepared GomCommand reused" : "GomCommand per op");

  gom_run_on_worker (&g, gom_drop_commands);
  if (!gom_adapter_close_sync (g.adapter, &error))
    g_error ("gom close: %s", error->message);
  g_object_unref (g.adapter);
  bench_remove_db (path);
  return r;
}

static Result *
gom_insert_new (void)
{
  return run_gom ("gom.insert.queued", "GOM: queue_write() INSERT, new GomCommand each, 64 in flight",
                  issue_gom_write, FALSE, 0);
}

static Result *
gom_insert_reuse (void)
{
  return run_gom ("gom.insert.queued.reuse",
                  "GOM: queue_write() INSERT, reused GomCommand, 64 in flight",
                  issue_gom_write, TRUE, 0);
}

static Result *
gom_read_new (void)
{
  return run_gom ("gom.read.queued", "GOM: queue_read() point SELECT, new GomCommand each, 64 in flight",
                  issue_gom_read, FALSE, bench_config.prefill_rows);
}

static Result *
gom_read_reuse (void)
{
  return run_gom ("gom.read.queued.reuse",
                  "GOM: queue_read() point SELECT, reused GomCommand, 64 in flight",
                  issue_gom_read, TRUE, bench_config.prefill_rows);
}

static Result *
gom_mixed_reuse (void)
{
  return run_gom ("gom.mixed.queued.reuse",
                  "GOM: 90% queue_read() / 10% queue_write(), reused commands, 64 in flight",
                  issue_gom_mixed, TRUE, bench_config.prefill_rows);
}

const Scenario gom_scenarios[] = {
  { "gom.insert.queued", NULL, gom_insert_new },
  { "gom.insert.queued.reuse", NULL, gom_insert_reuse },
  { "gom.read.queued", NULL, gom_read_new },
  { "gom.read.queued.reuse", NULL, gom_read_reuse },
  { "gom.mixed.queued.reuse", NULL, gom_mixed_reuse },
  { NULL, NULL, NULL },
};

#else /* !HAVE_GOM */

const Scenario gom_scenarios[] = {
  { NULL, NULL, NULL },
};

#endif
