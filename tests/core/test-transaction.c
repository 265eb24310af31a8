/* test-transaction.c: transactions and snapshots
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 0, 0, 20 * G_TIME_SPAN_MILLISECOND);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE other(x TEXT)", NULL);
}

static gint64
count_v (Fixture    *fx,
         const char *v)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM t WHERE v = '%s'", v);
  return raw_int (fx->path, sql);
}

/* ---- commit ------------------------------------------------------------ */

typedef struct {
  GThread *thread;
  gint     calls;
  gint64   seen_inside;
} CommitData;

static gboolean
commit_cb (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  CommitData *d = user_data;
  g_autoptr(MsbDbRows) count = NULL;

  g_atomic_int_inc (&d->calls);
  d->thread = g_thread_self ();
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(MsbDbRows) rows =
        msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES (?)",
                                   g_variant_new ("(s)", "committed"), error);
      if (rows == NULL)
        return FALSE;
      g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 1);
    }
  /* Its own writes are visible inside. */
  count = msb_db_connection_execute (connection,
                                     "SELECT count(*) FROM t WHERE v = 'committed'", NULL, error);
  if (count == NULL)
    return FALSE;
  d->seen_inside = msb_db_rows_get_int64 (count, 0, 0);
  return TRUE;
}

static void
test_commit (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  CommitData d1 = { 0 }, d2 = { 0 };

  g_assert_true (msb_db_pools_transaction (fx->pools, commit_cb, &d1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (d1.calls, ==, 1);
  g_assert_cmpint (d1.seen_inside, ==, 3);
  g_assert_cmpint (count_v (fx, "committed"), ==, 3);
  /* Not on the caller's thread, and always on the same (writer) thread. */
  g_assert_true (d1.thread != g_thread_self ());
  g_assert_true (msb_db_pools_transaction (fx->pools, commit_cb, &d2, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (d2.thread == d1.thread);
  g_assert_cmpint (count_v (fx, "committed"), ==, 6);

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->transactions, ==, before->transactions + 2);
}

/* ---- rollback ---------------------------------------------------------- */

static gboolean
rollback_cb (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  gboolean set_error = GPOINTER_TO_INT (user_data);
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) rows2 = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('rolled back')",
                                    NULL, error);
  g_assert_nonnull (rows);
  rows2 = msb_db_connection_execute (connection, "UPDATE other SET x = 'touched'", NULL, error);
  g_assert_nonnull (rows2);
  if (set_error)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "my own reason");
  return FALSE;
}

static void
test_rollback_with_error (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = NULL;
  g_autoptr(MsbDbStats) after = NULL;

  test_write_ok (fx->pools, "INSERT INTO other(x) VALUES ('untouched')", NULL);
  before = msb_db_pools_get_stats (fx->pools);

  g_assert_false (msb_db_pools_transaction (fx->pools, rollback_cb, GINT_TO_POINTER (TRUE),
                                            NULL, &error));
  /* The callback's own error comes back. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  assert_message_contains (error, "my own reason");
  g_assert_cmpint (count_v (fx, "rolled back"), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM other WHERE x = 'untouched'"), ==, 1);

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->transactions, ==, before->transactions);

  /* The writer is usable and not left inside the transaction. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('after')", NULL);
  g_assert_cmpint (count_v (fx, "after"), ==, 1);
}

static void
test_rollback_without_error (Fixture       *fx,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_transaction (fx->pools, rollback_cb, GINT_TO_POINTER (FALSE),
                                            NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  g_assert_cmpint (count_v (fx, "rolled back"), ==, 0);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('after')", NULL);
  g_assert_cmpint (count_v (fx, "after"), ==, 1);
}

/* A large transaction is all or nothing. */
typedef struct {
  guint n;
  guint fail_at;
} BigData;

static gboolean
big_cb (MsbDbConnection  *connection,
        gpointer          user_data,
        GError          **error)
{
  BigData *d = user_data;

  for (guint i = 0; i < d->n; i++)
    {
      g_autoptr(MsbDbRows) rows = NULL;

      if (i == d->fail_at)
        rows = msb_db_connection_execute (connection, "INSERT INTO t(id, v) VALUES (1, 'dup')",
                                          NULL, error);
      else
        rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('big')",
                                          NULL, error);
      if (rows == NULL)
        return FALSE;
    }
  return TRUE;
}

static void
test_all_or_nothing (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  BigData ok = { 2000, G_MAXUINT };
  BigData bad = { 2000, 1500 };

  g_assert_true (msb_db_pools_transaction (fx->pools, big_cb, &ok, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_v (fx, "big"), ==, 2000);

  g_assert_false (msb_db_pools_transaction (fx->pools, big_cb, &bad, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  g_assert_cmpint (count_v (fx, "big"), ==, 2000);
}

/* ---- isolation --------------------------------------------------------- */

typedef struct {
  Gate gate;
} IsoData;

static gboolean
isolation_cb (MsbDbConnection  *connection,
              gpointer          user_data,
              GError          **error)
{
  IsoData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('pending')", NULL, error);
  if (rows == NULL)
    return FALSE;
  gate_enter_and_wait (&d->gate);
  return TRUE;
}

static void
test_isolation (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  IsoData d;

  gate_init (&d.gate);
  msb_db_pools_transaction_async (fx->pools, isolation_cb, &d, NULL, NULL,
                                  test_async_result_cb, &result);
  g_assert_true (gate_wait_entered (&d.gate, 10 * G_TIME_SPAN_SECOND));

  /* Uncommitted: invisible to readers, who are not blocked by the writer. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t WHERE v = 'pending'"), ==, 0);
  g_assert_cmpint (count_v (fx, "pending"), ==, 0);

  gate_release (&d.gate);
  test_wait_result (&result, 30);
  g_assert_true (msb_db_pools_transaction_finish (fx->pools, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t WHERE v = 'pending'"), ==, 1);
  gate_clear (&d.gate);
}

/* ---- re-run on busy ---------------------------------------------------- */

static gboolean
busy_insert_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  gint *calls = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  g_atomic_int_inc (calls);
  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('once')", NULL, error);
  if (rows == NULL)
    return FALSE;
  g_clear_object (&rows);
  rows = msb_db_connection_execute (connection,
                                    "INSERT INTO t(v) SELECT 'saw holder' FROM other WHERE x = 'holder'",
                                    NULL, error);
  return rows != NULL;
}

static void
test_busy_rerun (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  LockHolder *holder;
  gint calls = 0;
  gint64 done_at, released_at;
  gboolean ok;

  /* Another connection (as another process would) holds the write lock. */
  holder = lock_holder_start (fx->path, 150 * G_TIME_SPAN_MILLISECOND,
                              "INSERT INTO other(x) VALUES ('holder')");
  ok = msb_db_pools_transaction (fx->pools, busy_insert_cb, &calls, NULL, &error);
  done_at = g_get_monotonic_time ();
  released_at = lock_holder_join (holder);

  g_assert_no_error (error);
  g_assert_true (ok);
  after = msb_db_pools_get_stats (fx->pools);
  g_test_message ("callback calls: %d, busy_retries %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT,
                  calls, before->busy_retries, after->busy_retries);
  /* It could only commit after the holder let go... */
  g_assert_cmpint (done_at, >=, released_at);
  /* ...so it was retried... */
  g_assert_true (calls > 1 || after->busy_retries > before->busy_retries);
  g_assert_cmpuint (after->busy_retries, >, before->busy_retries);
  /* ...and committed exactly once, having seen the holder's commit. */
  g_assert_cmpint (count_v (fx, "once"), ==, 1);
  g_assert_cmpint (count_v (fx, "saw holder"), ==, 1);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM other WHERE x = 'holder'"), ==, 1);
  g_assert_cmpuint (after->transactions, ==, before->transactions + 1);
  g_assert_cmpuint (after->retries_exhausted, ==, before->retries_exhausted);
}

/* ---- transaction control refused --------------------------------------- */

static const char *txn_control[] = {
  "BEGIN",
  "BEGIN IMMEDIATE",
  "begin exclusive transaction",
  "  BEGIN DEFERRED",
  "\n\tBegin;",
  "/* sneaky */ BEGIN",
  "-- sneaky\nBEGIN",
  "COMMIT",
  "commit transaction",
  "END",
  "END TRANSACTION",
  "ROLLBACK",
  "SAVEPOINT sp",
  "RELEASE sp",
  "RELEASE SAVEPOINT sp",
  "ROLLBACK TO sp",
  "ROLLBACK TRANSACTION TO SAVEPOINT sp",
};

static void
test_write_refuses_control (Fixture       *fx,
                            gconstpointer  data)
{
  for (guint i = 0; i < G_N_ELEMENTS (txn_control); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      g_autofree char *v = g_strdup_printf ("after %u", i);

      rows = msb_db_pools_write (fx->pools, txn_control[i], NULL, NULL, &error);
      g_test_message ("write(%s) -> %s", txn_control[i], error ? error->message : "(success)");
      g_assert_null (rows);
      assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
      assert_message_contains (error, "transaction");

      /* The writer is not left inside a transaction: the next write is
       * committed and visible to an outside connection at once. */
      test_write_ok (fx->pools, "INSERT INTO t(v) VALUES (?)", g_variant_new ("(s)", v));
      g_assert_cmpint (count_v (fx, v), ==, 1);
    }
}

typedef struct {
  const char *sql;
  GError     *inner;
} ControlData;

static gboolean
control_in_txn_cb (MsbDbConnection  *connection,
                   gpointer          user_data,
                   GError          **error)
{
  ControlData *d = user_data;
  g_autoptr(MsbDbRows) ins = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  ins = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('inside')", NULL, error);
  if (ins == NULL)
    return FALSE;
  rows = msb_db_connection_execute (connection, d->sql, NULL, &d->inner);
  g_assert_null (rows);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "roll it back");
  return FALSE;
}

static void
test_execute_refuses_control (Fixture       *fx,
                              gconstpointer  data)
{
  for (guint i = 0; i < G_N_ELEMENTS (txn_control); i++)
    {
      g_autoptr(GError) error = NULL;
      ControlData d = { txn_control[i], NULL };

      g_assert_false (msb_db_pools_transaction (fx->pools, control_in_txn_cb, &d, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      g_test_message ("execute(%s) -> %s", d.sql, d.inner ? d.inner->message : "(success)");
      assert_msb_error (d.inner, MSB_DB_ERROR_INVALID_ARGUMENT);
      g_clear_error (&d.inner);
      /* A COMMIT slipped through would have made 'inside' permanent. */
      g_assert_cmpint (count_v (fx, "inside"), ==, 0);
    }
}

/* A read connection is never left inside a transaction by SQL sent to it. */
static void
test_read_refuses_control (Fixture       *fx,
                           gconstpointer  data)
{
  g_autoptr(MsbDbPools) one = test_open (fx->path, 1, 0, 0);
  static const char *sqls[] = { "BEGIN", "/* x */ BEGIN", "SAVEPOINT sp", "BEGIN DEFERRED" };

  for (guint i = 0; i < G_N_ELEMENTS (sqls); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      gint64 count_before;

      rows = msb_db_pools_read (one, sqls[i], NULL, NULL, &error);
      g_test_message ("read(%s) -> %s", sqls[i], error ? error->message : "(success)");
      g_assert_null (rows);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MSB_DB_ERROR);

      /* The only read connection must see a write committed now. */
      count_before = test_read_int (one, "SELECT count(*) FROM t");
      test_write_ok (one, "INSERT INTO t(v) VALUES ('new')", NULL);
      g_assert_cmpint (test_read_int (one, "SELECT count(*) FROM t"), ==, count_before + 1);
    }
  g_assert_true (msb_db_pools_close (one, NULL, NULL));
}

/* ---- snapshot ---------------------------------------------------------- */

typedef struct {
  MsbDbPools *pools;
  gint64      first;
  gint64      second;
  GThread    *thread;
  const char *end_sql;   /* tried between the two reads; must be refused */
  GError     *end_error;
} SnapData;

static gpointer
outside_writer (gpointer data)
{
  MsbDbPools *pools = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_write (pools, "INSERT INTO t(v) VALUES ('during snapshot')", NULL, NULL, &error);
  g_assert_no_error (error);
  return NULL;
}

static gboolean
snapshot_cb (MsbDbConnection  *connection,
             gpointer          user_data,
             GError          **error)
{
  SnapData *d = user_data;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  GThread *writer;

  d->thread = g_thread_self ();
  a = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (a == NULL)
    return FALSE;
  d->first = msb_db_rows_get_int64 (a, 0, 0);

  if (d->end_sql)
    {
      g_autoptr(MsbDbRows) r = msb_db_connection_execute (connection, d->end_sql, NULL,
                                                           &d->end_error);
      g_assert_null (r);
    }

  /* Another thread commits a write meanwhile. */
  writer = g_thread_new ("outside-writer", outside_writer, d->pools);
  g_thread_join (writer);

  b = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (b == NULL)
    return FALSE;
  d->second = msb_db_rows_get_int64 (b, 0, 0);
  return TRUE;
}

static void
test_snapshot_consistent (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  SnapData d = { fx->pools, -1, -1, NULL, data, NULL };

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('x'), ('y')", NULL);
  g_assert_true (msb_db_pools_snapshot (fx->pools, snapshot_cb, &d, NULL, &error));
  g_assert_no_error (error);
  if (d.end_sql)
    {
      g_test_message ("execute(%s) in snapshot -> %s", d.end_sql,
                      d.end_error ? d.end_error->message : "(success)");
      g_assert_nonnull (d.end_error);
      g_assert_true (d.end_error->domain == MSB_DB_ERROR);
      g_clear_error (&d.end_error);
    }
  g_assert_cmpint (d.first, ==, 2);
  g_assert_cmpint (d.second, ==, 2);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 3);
  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->snapshots, ==, before->snapshots + 1);
}

/* The body of a snapshot runs on a read worker, not on the caller's thread
 * (documented in MsbDbConnectionFunc). */
static gboolean
record_thread_cb (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  GThread **out = user_data;

  *out = g_thread_self ();
  return TRUE;
}

static void
test_snapshot_thread (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GThread *ran_on = NULL;

  g_assert_true (msb_db_pools_snapshot (fx->pools, record_thread_cb, &ran_on, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (ran_on);
  g_assert_true (ran_on != g_thread_self ());
}

static gboolean
snapshot_fail_cb (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  if (GPOINTER_TO_INT (user_data))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "snapshot says no");
  return FALSE;
}

static void
test_snapshot_failure (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_snapshot (fx->pools, snapshot_fail_cb, GINT_TO_POINTER (TRUE),
                                         NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot (fx->pools, snapshot_fail_cb, GINT_TO_POINTER (FALSE),
                                         NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
}

/* ---- blocking calls from inside a callback ----------------------------- */

typedef struct {
  MsbDbPools *pools;
  GError     *errors[5];
  gint64      longest;
} NestedData;

static gboolean
nested_noop_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  return TRUE;
}

static gboolean
nested_cb (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  NestedData *d = user_data;
  gint64 t0;

  for (guint i = 0; i < G_N_ELEMENTS (d->errors); i++)
    {
      g_autoptr(MsbDbRows) rows = NULL;
      gboolean ok = FALSE;
      gint64 took;

      t0 = g_get_monotonic_time ();
      switch (i)
        {
        case 0:
          rows = msb_db_pools_read (d->pools, "SELECT 1", NULL, NULL, &d->errors[i]);
          ok = rows != NULL;
          break;
        case 1:
          rows = msb_db_pools_write (d->pools, "INSERT INTO t(v) VALUES ('nested')", NULL,
                                     NULL, &d->errors[i]);
          ok = rows != NULL;
          break;
        case 2:
          ok = msb_db_pools_transaction (d->pools, nested_noop_cb, NULL, NULL, &d->errors[i]);
          break;
        case 3:
          ok = msb_db_pools_snapshot (d->pools, nested_noop_cb, NULL, NULL, &d->errors[i]);
          break;
        case 4:
          ok = msb_db_pools_close (d->pools, NULL, &d->errors[i]);
          break;
        default:
          g_assert_not_reached ();
        }
      took = g_get_monotonic_time () - t0;
      d->longest = MAX (d->longest, took);
      g_assert_false (ok);
    }
  return TRUE;
}

static void
test_nested_calls (Fixture       *fx,
                   gconstpointer  data)
{
  gboolean in_transaction = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  NestedData d = { 0 };
  static const char *names[] = { "read", "write", "transaction", "snapshot", "close" };

  /* A long connect timeout: a deadlock would show as a long wait. */
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  fx->pools = test_open (fx->path, 1, 10 * G_TIME_SPAN_SECOND, 0);
  d.pools = fx->pools;

  if (in_transaction)
    g_assert_true (msb_db_pools_transaction (fx->pools, nested_cb, &d, NULL, &error));
  else
    g_assert_true (msb_db_pools_snapshot (fx->pools, nested_cb, &d, NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (d.errors); i++)
    {
      g_test_message ("nested %s -> %s", names[i],
                      d.errors[i] ? d.errors[i]->message : "(success)");
      assert_msb_error (d.errors[i], MSB_DB_ERROR_FAILED);
      g_clear_error (&d.errors[i]);
    }
  g_assert_cmpint (d.longest, <, SLOW (1 * G_TIME_SPAN_SECOND));

  /* The refused close did not close anything; the refused write wrote nothing. */
  g_assert_false (msb_db_pools_is_closed (fx->pools));
  g_assert_cmpint (count_v (fx, "nested"), ==, 0);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('still open')", NULL);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 1);
}

/* ---- the connection after its callback --------------------------------- */

static gboolean
keep_connection_cb (MsbDbConnection  *connection,
                    gpointer          user_data,
                    GError          **error)
{
  MsbDbConnection **out = user_data;

  *out = g_object_ref (connection);
  return TRUE;
}

static void
test_connection_after_callback (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbConnection) from_txn = NULL;
  g_autoptr(MsbDbConnection) from_snap = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  g_assert_true (msb_db_pools_transaction (fx->pools, keep_connection_cb, &from_txn, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (msb_db_pools_snapshot (fx->pools, keep_connection_cb, &from_snap, NULL, &error));
  g_assert_no_error (error);

  rows = msb_db_connection_execute (from_txn, "INSERT INTO t(v) VALUES ('late')", NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (count_v (fx, "late"), ==, 0);

  rows = msb_db_connection_execute (from_snap, "SELECT 1", NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);

  /* Still a clear error once the pools themselves are gone. */
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&fx->pools);
  rows = msb_db_connection_execute (from_txn, "SELECT 1", NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  rows = msb_db_connection_execute (from_snap, "SELECT 1", NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
}

static gboolean
several_in_execute_cb (MsbDbConnection  *connection,
                       gpointer          user_data,
                       GError          **error)
{
  GError **inner = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection,
                                    "INSERT INTO t(v) VALUES ('a'); INSERT INTO t(v) VALUES ('b')",
                                    NULL, inner);
  g_assert_null (rows);
  return TRUE;
}

static void
test_execute_several_statements (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) inner = NULL;

  g_assert_true (msb_db_pools_transaction (fx->pools, several_in_execute_cb, &inner, NULL, &error));
  g_assert_no_error (error);
  assert_msb_error (inner, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/transaction/" name, Fixture, data, setup_table, func, fixture_teardown)

  ADD ("commit", test_commit, NULL);
  ADD ("rollback/with-error", test_rollback_with_error, NULL);
  ADD ("rollback/without-error", test_rollback_without_error, NULL);
  ADD ("all-or-nothing", test_all_or_nothing, NULL);
  ADD ("isolation", test_isolation, NULL);
  ADD ("busy-rerun", test_busy_rerun, NULL);
  ADD ("refused/write", test_write_refuses_control, NULL);
  ADD ("refused/execute", test_execute_refuses_control, NULL);
  ADD ("refused/read", test_read_refuses_control, NULL);
  ADD ("refused/several-statements", test_execute_several_statements, NULL);
  ADD ("snapshot/consistent", test_snapshot_consistent, NULL);
  ADD ("snapshot/commit-refused", test_snapshot_consistent, "COMMIT");
  ADD ("snapshot/begin-refused", test_snapshot_consistent, "BEGIN");
  ADD ("snapshot/failure", test_snapshot_failure, NULL);
  ADD ("snapshot/runs-off-caller-thread", test_snapshot_thread, NULL);
  ADD ("nested/in-transaction", test_nested_calls, GINT_TO_POINTER (TRUE));
  ADD ("nested/in-snapshot", test_nested_calls, GINT_TO_POINTER (FALSE));
  ADD ("connection-after-callback", test_connection_after_callback, NULL);

  return g_test_run ();
}
