/* test-cancel.c: cancellation before start and during a long read
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
  fx->pools = test_open (fx->path, 1, 10 * G_TIME_SPAN_SECOND, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
}

static gboolean
flag_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  gint *ran = user_data;

  g_atomic_int_inc (ran);
  return TRUE;
}

static gboolean
insert_cb (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  gint *ran = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  g_atomic_int_inc (ran);
  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('txn')", NULL, error);
  return rows != NULL;
}

static void
assert_cancelled (GError *error)
{
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_already_cancelled (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GAsyncResult) r4 = NULL;
  gint ran = 0;

  g_cancellable_cancel (cancellable);

  rows = msb_db_pools_read (fx->pools, "SELECT 1", NULL, cancellable, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);

  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('no')", NULL, cancellable, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);

  g_assert_false (msb_db_pools_transaction (fx->pools, insert_cb, &ran, cancellable, &error));
  assert_cancelled (error);
  g_clear_error (&error);

  g_assert_false (msb_db_pools_snapshot (fx->pools, flag_cb, &ran, cancellable, &error));
  assert_cancelled (error);
  g_clear_error (&error);

  msb_db_pools_read_async (fx->pools, "SELECT 1", NULL, cancellable, test_async_result_cb, &r1);
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('no async')", NULL, cancellable,
                            test_async_result_cb, &r2);
  msb_db_pools_transaction_async (fx->pools, insert_cb, &ran, NULL, cancellable,
                                  test_async_result_cb, &r3);
  msb_db_pools_snapshot_async (fx->pools, flag_cb, &ran, NULL, cancellable,
                               test_async_result_cb, &r4);
  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  test_wait_result (&r3, 30);
  test_wait_result (&r4, 30);

  rows = msb_db_pools_read_finish (fx->pools, r1, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);
  rows = msb_db_pools_write_finish (fx->pools, r2, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_transaction_finish (fx->pools, r3, &error));
  assert_cancelled (error);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot_finish (fx->pools, r4, &error));
  assert_cancelled (error);
  g_clear_error (&error);

  /* Flush the writer, then check nothing ran. */
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('flush')", NULL);
  g_assert_cmpint (ran, ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
}

static gboolean
cancel_later_cb (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_REMOVE;
}

/* A read waiting for the only read connection is cancelled while it waits:
 * it reports CANCELLED at once, not when the connection comes back. */
static void
test_queued_read (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  Blocker *blocker;
  gint ran = 0;
  gint64 t0, elapsed;

  blocker = blocker_start (fx->pools, FALSE);

  t0 = g_get_monotonic_time ();
  msb_db_pools_read_async (fx->pools, "SELECT 1", NULL, cancellable, test_async_result_cb, &r1);
  msb_db_pools_snapshot_async (fx->pools, flag_cb, &ran, NULL, cancellable,
                               test_async_result_cb, &r2);
  g_timeout_add (50, cancel_later_cb, cancellable);
  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  elapsed = g_get_monotonic_time () - t0;

  /* The blocker still holds the connection (it is released only below):
   * these came back by themselves, cancelled, not timed out. */
  rows = msb_db_pools_read_finish (fx->pools, r1, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot_finish (fx->pools, r2, &error));
  assert_cancelled (error);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, <, SLOW (2 * G_TIME_SPAN_SECOND));

  blocker_finish (blocker);
  /* The one connection is free again, and the cancelled snapshot never ran. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 7"), ==, 7);
  g_assert_cmpint (ran, ==, 0);
}

/* Writes queued behind a running transaction, cancelled before they start,
 * never run. */
static void
test_queued_write (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  Blocker *blocker;
  gint ran = 0;

  blocker = blocker_start (fx->pools, TRUE);
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('cancelled')", NULL, cancellable,
                            test_async_result_cb, &r1);
  msb_db_pools_transaction_async (fx->pools, insert_cb, &ran, NULL, cancellable,
                                  test_async_result_cb, &r2);
  /* Not cancelled: must still run, after the cancelled ones. */
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('kept')", NULL, NULL,
                            test_async_result_cb, &r3);
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  g_cancellable_cancel (cancellable);
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  blocker_finish (blocker);

  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  test_wait_result (&r3, 30);
  rows = msb_db_pools_write_finish (fx->pools, r1, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_transaction_finish (fx->pools, r2, &error));
  assert_cancelled (error);
  g_clear_error (&error);
  rows = msb_db_pools_write_finish (fx->pools, r3, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rows);

  g_assert_cmpint (ran, ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'cancelled'"), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'txn'"), ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'kept'"), ==, 1);
}

/* ---- long reads -------------------------------------------------------- */

typedef struct {
  GCancellable *cancellable;
  gint64        delay;
  gint64        cancelled_at;
} CancelThread;

static gpointer
cancel_thread (gpointer data)
{
  CancelThread *c = data;

  g_usleep (c->delay);
  c->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
test_long_read (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  CancelThread c = { cancellable, 100 * G_TIME_SPAN_MILLISECOND, 0 };
  GThread *thread;
  gint64 done_at;

  thread = g_thread_new ("canceller", cancel_thread, &c);
  rows = msb_db_pools_read (fx->pools, LONG_READ_SQL, NULL, cancellable, &error);
  done_at = g_get_monotonic_time ();
  g_thread_join (thread);

  g_assert_null (rows);
  assert_cancelled (error);
  g_test_message ("stopped %" G_GINT64_FORMAT " us after the cancel", done_at - c.cancelled_at);
  g_assert_cmpint (done_at - c.cancelled_at, <, SLOW (1 * G_TIME_SPAN_SECOND));

  /* The only read connection is back and healthy. */
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 5"), ==, 5);
}

static void
test_long_read_async (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  gint64 t0, elapsed;

  t0 = g_get_monotonic_time ();
  msb_db_pools_read_async (fx->pools, LONG_READ_SQL, NULL, cancellable,
                           test_async_result_cb, &result);
  g_timeout_add (100, cancel_later_cb, cancellable);
  test_wait_result (&result, 120);
  elapsed = g_get_monotonic_time () - t0;
  rows = msb_db_pools_read_finish (fx->pools, result, &error);
  g_assert_null (rows);
  assert_cancelled (error);
  g_assert_cmpint (elapsed, <, SLOW (1100 * G_TIME_SPAN_MILLISECOND));
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 5"), ==, 5);
}

static gboolean
long_snapshot_cb (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, LONG_READ_SQL, NULL, error);

  return rows != NULL;
}

static void
test_long_snapshot (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  CancelThread c = { cancellable, 100 * G_TIME_SPAN_MILLISECOND, 0 };
  GThread *thread;
  gint64 done_at;

  thread = g_thread_new ("canceller", cancel_thread, &c);
  g_assert_false (msb_db_pools_snapshot (fx->pools, long_snapshot_cb, NULL, cancellable, &error));
  done_at = g_get_monotonic_time ();
  g_thread_join (thread);

  assert_cancelled (error);
  g_assert_cmpint (done_at - c.cancelled_at, <, SLOW (1 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (test_read_int (fx->pools, "SELECT 5"), ==, 5);
}

/* ---- outcome always matches the data ----------------------------------- */

#define N_RACES 300

typedef struct {
  guint     id;
  gboolean  done;
  gboolean  ok;
  GError   *error;
} RaceResult;

static void
race_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  RaceResult *r = user_data;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &r->error);

  r->ok = rows != NULL;
  r->done = TRUE;
}

static void
test_outcome_matches_data (Fixture       *fx,
                           gconstpointer  data)
{
  RaceResult *results = g_new0 (RaceResult, N_RACES);
  GCancellable *cancellables[N_RACES];
  g_autoptr(GRand) rand = g_rand_new_with_seed (4242);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  GHashTable *present;
  guint n_ok = 0, n_cancelled = 0;

  for (guint i = 0; i < N_RACES; i++)
    {
      results[i].id = i + 1;
      cancellables[i] = g_cancellable_new ();
      msb_db_pools_write_async (fx->pools, "INSERT INTO t(id, v) VALUES (?, 'race')",
                                g_variant_new ("(u)", results[i].id), cancellables[i],
                                race_cb, &results[i]);
      g_usleep (g_rand_int_range (rand, 0, 400));
      g_cancellable_cancel (cancellables[i]);
    }
  for (guint i = 0; i < N_RACES; i++)
    test_wait_flag (&results[i].done, 60);

  rows = msb_db_pools_read (fx->pools, "SELECT id FROM t WHERE v = 'race'", NULL, NULL, &error);
  g_assert_no_error (error);
  present = g_hash_table_new (NULL, NULL);
  for (guint r = 0; r < msb_db_rows_get_n_rows (rows); r++)
    g_hash_table_add (present, GINT_TO_POINTER ((gint) msb_db_rows_get_int64 (rows, r, 0)));

  for (guint i = 0; i < N_RACES; i++)
    {
      gboolean in_db = g_hash_table_contains (present, GINT_TO_POINTER (results[i].id));

      if (results[i].ok)
        {
          n_ok++;
          if (!in_db)
            {
              g_autofree char *msg =
                g_strdup_printf ("write %u reported success but is not in the file", results[i].id);
              g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
            }
        }
      else
        {
          assert_cancelled (results[i].error);
          n_cancelled++;
          if (in_db)
            {
              g_autofree char *msg =
                g_strdup_printf ("write %u reported CANCELLED but is in the file", results[i].id);
              g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
            }
        }
      g_clear_error (&results[i].error);
      g_object_unref (cancellables[i]);
    }
  g_test_message ("%u succeeded, %u cancelled", n_ok, n_cancelled);
  g_assert_cmpuint (g_hash_table_size (present), ==, n_ok);
  g_hash_table_unref (present);
  g_free (results);
}

/* The caller cancels while its transaction body runs: whatever is
 * reported is what the file says. */
typedef struct {
  GCancellable *cancellable;
  gint          calls;
} SelfCancelData;

static gboolean
self_cancel_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  SelfCancelData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  d->calls++;
  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('self')", NULL, error);
  g_cancellable_cancel (d->cancellable);
  return rows != NULL;
}

static void
test_cancel_during_transaction (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  SelfCancelData d = { cancellable, 0 };
  gboolean ok;
  gint64 n;

  ok = msb_db_pools_transaction (fx->pools, self_cancel_cb, &d, cancellable, &error);
  n = raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'self'");
  g_test_message ("transaction cancelled inside -> %s, rows %" G_GINT64_FORMAT,
                  ok ? "success" : error->message, n);
  if (ok)
    {
      g_assert_no_error (error);
      g_assert_cmpint (n, ==, 1);
    }
  else
    {
      assert_cancelled (error);
      g_assert_cmpint (n, ==, 0);
    }
  g_assert_cmpint (d.calls, ==, 1);
}

static void
test_open_cancelled (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbPools) pools = NULL;

  g_cancellable_cancel (cancellable);
  pools = msb_db_pools_open (fx->path, 0, 0, 0, cancellable, &error);
  g_assert_null (pools);
  assert_cancelled (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/cancel/" name, Fixture, NULL, setup_table, func, fixture_teardown)

  ADD ("already-cancelled", test_already_cancelled);
  ADD ("queued-read", test_queued_read);
  ADD ("queued-write", test_queued_write);
  ADD ("long-read", test_long_read);
  ADD ("long-read-async", test_long_read_async);
  ADD ("long-snapshot", test_long_snapshot);
  ADD ("outcome-matches-data", test_outcome_matches_data);
  ADD ("during-transaction", test_cancel_during_transaction);
  g_test_add ("/cancel/open", Fixture, NULL, fixture_setup, test_open_cancelled, fixture_teardown);

  return g_test_run ();
}
