/* fuzz-sql.c: arbitrary SQL text through read, write, transaction, snapshot
 *
 * The input (up to its first NUL) is one SQL text. It runs through
 * msb_db_pools_read(), msb_db_pools_write(), msb_db_connection_execute()
 * inside a transaction and inside a snapshot, on a small database with a
 * few tables, an index, a view, a trigger and an FTS5 table. A watchdog
 * cancels any call that runs longer than 30 ms (the library's progress
 * handler then interrupts it), so that runaway queries end.
 *
 * Checked on every input, beyond "no crash, no leak, no sanitizer report":
 * - every failure is an MSB_DB_ERROR (or G_IO_ERROR_CANCELLED from the
 *   watchdog) with a message;
 * - the read path never changes the database (the data version is the
 *   same before and after);
 * - the pools still work afterwards (a read and a write of our own);
 * - the connection settings survive: foreign_keys, trusted_schema,
 *   journal_mode are what MsbDb set.
 *
 * Inputs that reach for known process-wide or out-of-scope effects are
 * skipped, see `skipped[]` below and docs/RELIABILITY.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <msb-db.h>

#include "fuzz-common.h"

#define WATCHDOG_MS 30
#define MAX_SQL 4096

/* Substrings (lower case) of inputs not run: zeroblob, randomblob, printf,
 * format and replace can allocate up to SQLite's 1 GB length limit in one
 * call (or a few nested calls), an out-of-memory of the fuzzer, not a bug
 * of the library. Everything else runs, including what the library
 * refuses (load_extension, fts3_tokenizer, heap-limit PRAGMAs, ATTACH,
 * transaction control): the fuzzer checks that the refusal holds. */
static const char * const skipped[] = {
  "zeroblob", "randomblob", "printf", "format", "replace",
};

static char *path;
static MsbDbPools *pools;
static guint64 executions;

/* The watchdog ------------------------------------------------------------ */

static GMutex watch_lock;
static GCond watch_cond;
static GCancellable *watched;
static gint64 watch_deadline;

static gpointer
watchdog_thread (gpointer data)
{
  g_mutex_lock (&watch_lock);
  for (;;)
    {
      if (watched == NULL)
        g_cond_wait (&watch_cond, &watch_lock);
      else if (g_get_monotonic_time () >= watch_deadline)
        {
          g_cancellable_cancel (watched);
          g_clear_object (&watched);
        }
      else
        g_cond_wait_until (&watch_cond, &watch_lock, watch_deadline);
    }
  return NULL;
}

static GCancellable *
watch_start (void)
{
  GCancellable *cancellable = g_cancellable_new ();

  g_mutex_lock (&watch_lock);
  g_set_object (&watched, cancellable);
  watch_deadline = g_get_monotonic_time () + WATCHDOG_MS * G_TIME_SPAN_MILLISECOND;
  g_cond_signal (&watch_cond);
  g_mutex_unlock (&watch_lock);
  return cancellable;
}

static void
watch_stop (void)
{
  g_mutex_lock (&watch_lock);
  g_clear_object (&watched);
  g_cond_signal (&watch_cond);
  g_mutex_unlock (&watch_lock);
}

/* The database ------------------------------------------------------------- */

static const char * const schema[] = {
  "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB)",
  "CREATE TABLE IF NOT EXISTS u (x INTEGER UNIQUE, y TEXT NOT NULL DEFAULT 'y', "
  "  z INTEGER REFERENCES t (id) ON DELETE CASCADE, CHECK (x >= 0))",
  "CREATE INDEX IF NOT EXISTS t_a ON t (a)",
  "CREATE VIEW IF NOT EXISTS v AS SELECT t.id, t.a, u.y FROM t LEFT JOIN u ON u.z = t.id",
  "CREATE TRIGGER IF NOT EXISTS t_log AFTER INSERT ON t BEGIN "
  "  INSERT INTO u (x, z) VALUES (new.id + 1000, new.id); END",
  "CREATE VIRTUAL TABLE IF NOT EXISTS f USING fts5 (body)",
  "INSERT OR IGNORE INTO t (id, a, b, c) VALUES (1, 'one', 1.5, x'01'), (2, 'two', NULL, NULL), "
  "  (3, NULL, -3e300, x'')",
  "INSERT INTO f (body) VALUES ('the quick brown fox'), ('jumps over')",
};

static void
write_ok (const char *sql)
{
  GError *error = NULL;
  MsbDbRows *rows = msb_db_pools_write (pools, sql, NULL, NULL, &error);

  if (rows == NULL)
    fuzz_bug ("setup failed: %s: %s", sql, error->message);
  g_object_unref (rows);
}

static void
open_fresh_database (void)
{
  GError *error = NULL;

  if (pools != NULL)
    {
      if (!msb_db_pools_close (pools, NULL, &error))
        fuzz_bug ("close failed: %s", error->message);
      g_clear_object (&pools);
    }
  g_unlink (path);
  /* One read connection: read and snapshot use the same one, so its
   * data_version tells whether they changed anything. */
  pools = msb_db_pools_open (path, 1, 5 * G_TIME_SPAN_SECOND, 100 * G_TIME_SPAN_MILLISECOND, NULL, &error);
  if (pools == NULL)
    fuzz_bug ("open failed: %s", error->message);
  for (gsize i = 0; i < G_N_ELEMENTS (schema); i++)
    write_ok (schema[i]);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
  path = fuzz_database_path ("sql");
  open_fresh_database ();
  g_thread_unref (g_thread_new ("watchdog", watchdog_thread, NULL));
  return 0;
}

/* Checks ---------------------------------------------------------------------- */

static void
check_failure (const char *where,
               const char *sql,
               GError     *error)
{
  if (error == NULL)
    fuzz_bug ("%s failed without an error: %s", where, sql);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error->domain != MSB_DB_ERROR)
    fuzz_bug ("%s: error outside MSB_DB_ERROR: %s #%d: %s", where,
              g_quark_to_string (error->domain), error->code, error->message);
  if (error->message == NULL || error->message[0] == '\0')
    fuzz_bug ("%s: empty error message", where);
  /* Nothing of this kind may come out of one statement on a healthy file. */
  if (error->code == MSB_DB_ERROR_CORRUPT || error->code == MSB_DB_ERROR_CLOSED ||
      error->code == MSB_DB_ERROR_POOL_TIMEOUT)
    fuzz_bug ("%s: %s for %s", where, error->message, sql);
}

static void
check_rows (MsbDbRows *rows)
{
  g_autoptr(GVariant) all = msb_db_rows_to_variant (rows);

  if (!g_variant_is_normal_form (all))
    fuzz_bug ("to_variant gave a GVariant not in normal form");
  for (guint r = 0; r < msb_db_rows_get_n_rows (rows) && r < 50; r++)
    for (guint c = 0; c < msb_db_rows_get_n_columns (rows); c++)
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, r, c);
        const char *s = msb_db_rows_get_string (rows, r, c);

        if (s != NULL && (bytes == NULL || strlen (s) > g_bytes_get_size (bytes)))
          fuzz_bug ("get_string runs past the value");
        (void) msb_db_rows_get_int64 (rows, r, c);
        (void) msb_db_rows_get_double (rows, r, c);
      }
}

static gint64
read_int (const char *sql)
{
  GError *error = NULL;
  MsbDbRows *rows = msb_db_pools_read (pools, sql, NULL, NULL, &error);
  gint64 value;

  if (rows == NULL)
    fuzz_bug ("the pools stopped reading after an input: %s: %s", sql, error->message);
  value = msb_db_rows_get_int64 (rows, 0, 0);
  g_object_unref (rows);
  return value;
}

static void
check_settings (void)
{
  GError *error = NULL;
  MsbDbRows *rows;

  if (read_int ("PRAGMA foreign_keys") != 1)
    fuzz_bug ("foreign_keys is off on a read connection");
  if (read_int ("PRAGMA trusted_schema") != 0)
    fuzz_bug ("trusted_schema is on on a read connection");
  rows = msb_db_pools_write (pools, "PRAGMA foreign_keys", NULL, NULL, &error);
  if (rows == NULL)
    fuzz_bug ("the writer stopped working: %s", error->message);
  if (msb_db_rows_get_int64 (rows, 0, 0) != 1)
    fuzz_bug ("foreign_keys is off on the writer");
  g_object_unref (rows);
  rows = msb_db_pools_read (pools, "PRAGMA journal_mode", NULL, NULL, &error);
  if (rows == NULL || g_strcmp0 (msb_db_rows_get_string (rows, 0, 0), "wal") != 0)
    fuzz_bug ("journal_mode is no longer WAL");
  g_object_unref (rows);
}

typedef struct {
  const char *sql;
  MsbDbRows *rows;
} ExecData;

static gboolean
exec_body (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  ExecData *d = user_data;

  d->rows = msb_db_connection_execute (connection, d->sql, NULL, error);
  return d->rows != NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *sql = g_strndup ((const char *) data, MIN (size, MAX_SQL));
  g_autofree char *lower = g_ascii_strdown (sql, -1);
  gint64 version_before;

  for (gsize i = 0; i < G_N_ELEMENTS (skipped); i++)
    if (strstr (lower, skipped[i]) != NULL)
      return 0;
  executions++;

  for (int path_kind = 0; path_kind < 4; path_kind++)
    {
      g_autoptr(GCancellable) cancellable = NULL;
      GError *error = NULL;
      MsbDbRows *rows = NULL;
      ExecData d = { sql, NULL };
      gboolean ok;

      version_before = read_int ("PRAGMA data_version");
      cancellable = watch_start ();
      switch (path_kind)
        {
        case 0:
          rows = msb_db_pools_read (pools, sql, NULL, cancellable, &error);
          ok = rows != NULL;
          break;
        case 1:
          ok = msb_db_pools_snapshot (pools, exec_body, &d, cancellable, &error);
          rows = d.rows;
          break;
        case 2:
          rows = msb_db_pools_write (pools, sql, NULL, cancellable, &error);
          ok = rows != NULL;
          break;
        default:
          ok = msb_db_pools_transaction (pools, exec_body, &d, cancellable, &error);
          rows = d.rows;
          break;
        }
      watch_stop ();

      if (ok)
        {
          if (rows == NULL)
            fuzz_bug ("success without rows");
          check_rows (rows);
        }
      else
        check_failure (path_kind == 0 ? "read" : path_kind == 1 ? "snapshot" : path_kind == 2 ? "write" : "transaction",
                       sql, error);
      g_clear_object (&rows);
      g_clear_error (&error);

      /* The read side never changed the database. (data_version counts
       * commits by other connections: the writer is idle here.) */
      if (path_kind < 2 && read_int ("PRAGMA data_version") != version_before)
        fuzz_bug ("a read changed the database: %s", sql);
    }

  check_settings ();
  /* The writer still commits (a header write no trigger can hook). */
  {
    g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %" G_GUINT64_FORMAT, executions % 100000);
    write_ok (bump);
  }

  if (executions % 2000 == 0)
    open_fresh_database ();
  return 0;
}
