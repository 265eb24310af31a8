/* bench-raw.c: the baseline, raw sqlite3 on one connection
 *
 * One connection, the library's PRAGMAs, prepared statements kept for the
 * whole run, no threads: the most one core can do with SQLite.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-common.h"

#define BATCH_ROWS 1000

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *insert;
  sqlite3_stmt *select;
  sqlite3_stmt *begin;
  sqlite3_stmt *commit;
  guint64 next_key;
  guint in_batch;
  guint rows;
} Raw;

static void
raw_setup (Raw        *raw,
           const char *path,
           guint       prefill)
{
  if (prefill > 0)
    raw_prefill (path, prefill);
  raw->db = raw_open (path);
  raw_exec (raw->db, BENCH_SCHEMA);
  raw->insert = raw_prepare (raw->db, BENCH_INSERT_SQL);
  raw->select = raw_prepare (raw->db, BENCH_SELECT_SQL);
  raw->begin = raw_prepare (raw->db, "BEGIN");
  raw->commit = raw_prepare (raw->db, "COMMIT");
  raw->rows = prefill;
}

static void
raw_teardown (Raw *raw)
{
  sqlite3_finalize (raw->insert);
  sqlite3_finalize (raw->select);
  sqlite3_finalize (raw->begin);
  sqlite3_finalize (raw->commit);
  if (sqlite3_close (raw->db) != SQLITE_OK)
    raw_die (raw->db, "close");
}

static void
raw_step_done (Raw          *raw,
               sqlite3_stmt *stmt)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    raw_die (raw->db, sqlite3_sql (stmt));
  sqlite3_reset (stmt);
}

static void
raw_insert_one (Raw *raw)
{
  sqlite3_bind_int64 (raw->insert, 1, (sqlite3_int64) raw->next_key++);
  sqlite3_bind_text (raw->insert, 2, BENCH_PAYLOAD, -1, SQLITE_STATIC);
  raw_step_done (raw, raw->insert);
  sqlite3_clear_bindings (raw->insert);
}

static void
op_insert_autocommit (gpointer data,
                      guint64 *rng)
{
  raw_insert_one (data);
}

/* One operation is one row; every BATCH_ROWS-th row also commits. */
static void
op_insert_batched (gpointer data,
                   guint64 *rng)
{
  Raw *raw = data;

  if (raw->in_batch == 0)
    raw_step_done (raw, raw->begin);
  raw_insert_one (raw);
  if (++raw->in_batch == BATCH_ROWS)
    {
      raw_step_done (raw, raw->commit);
      raw->in_batch = 0;
    }
}

static void
raw_read_one (Raw     *raw,
              guint64 *rng)
{
  gint64 id = (gint64) (rng_next (rng) % raw->rows) + 1;
  int rc;

  sqlite3_bind_int64 (raw->select, 1, id);
  rc = sqlite3_step (raw->select);
  if (rc != SQLITE_ROW || sqlite3_column_int64 (raw->select, 0) != id ||
      sqlite3_column_text (raw->select, 2) == NULL)
    raw_die (raw->db, "point read");
  sqlite3_reset (raw->select);
}

static void
op_read (gpointer data,
         guint64 *rng)
{
  raw_read_one (data, rng);
}

static void
op_mixed (gpointer data,
          guint64 *rng)
{
  Raw *raw = data;

  if (rng_next (rng) % 10 == 0)
    raw_insert_one (raw);
  else
    raw_read_one (raw, rng);
}

static Result *
run_raw (const char *name,
         const char *description,
         SyncOp      op,
         guint       prefill)
{
  g_autofree char *path = bench_db_path (name);
  Result *r = result_new (name, description);
  Raw raw = { 0 };

  raw_setup (&raw, path, prefill);
  raw.next_key = 1;
  run_sync_loop (op, &raw, window_from_now (bench_config.warmup, bench_config.duration), r);
  if (raw.in_batch > 0)
    raw_step_done (&raw, raw.commit);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    result_add_int (r, "wal_bytes_end", bench_file_size (wal));
  }
  raw_teardown (&raw);
  bench_remove_db (path);
  return r;
}

static Result *
raw_insert_autocommit (void)
{
  return run_raw ("raw.insert.autocommit",
                  "raw sqlite3: single-row INSERT, autocommit (one transaction each)",
                  op_insert_autocommit, 0);
}

static Result *
raw_insert_batched (void)
{
  Result *r = run_raw ("raw.insert.batched",
                       "raw sqlite3: INSERTs, " G_STRINGIFY (BATCH_ROWS) " rows per transaction",
                       op_insert_batched, 0);

  result_note (r, "%d rows/txn; latency per row", BATCH_ROWS);
  return r;
}

static Result *
raw_read_point (void)
{
  return run_raw ("raw.read.point", "raw sqlite3: point SELECT by primary key, one connection",
                  op_read, bench_config.prefill_rows);
}

static Result *
raw_mixed (void)
{
  return run_raw ("raw.mixed", "raw sqlite3: 90% point reads / 10% autocommit inserts",
                  op_mixed, bench_config.prefill_rows);
}

const Scenario raw_scenarios[] = {
  { "raw.insert.autocommit", NULL, raw_insert_autocommit },
  { "raw.insert.batched", NULL, raw_insert_batched },
  { "raw.read.point", NULL, raw_read_point },
  { "raw.mixed", NULL, raw_mixed },
  { NULL, NULL, NULL },
};
