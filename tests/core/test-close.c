/* test-close.c: close, use after close, dispose without close
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
  fx->pools = test_open (fx->path, 0, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
}

/* ---- queued writes finish ---------------------------------------------- */

#define N_QUEUED 3000

typedef struct {
  guint  done;
  guint  ok;
  guint  closed;
  guint  other;
  guint *per_write;
} QueuedData;

typedef struct {
  QueuedData *d;
  guint       index;
} QueuedItem;

static void
queued_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  QueuedItem *item = user_data;
  QueuedData *d = item->d;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  d->per_write[item->index]++;
  d->done++;
  if (rows != NULL)
    d->ok++;
  else if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED))
    d->closed++;
  else
    {
      g_test_message ("queued write %u: %s", item->index, error->message);
      d->other++;
    }
  g_free (item);
}

static void
test_queued_writes_finish (Fixture       *fx,
                           gconstpointer  data)
{
  gboolean async_close = GPOINTER_TO_INT (data);
  QueuedData d = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) close_result = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 on_disk;

  d.per_write = g_new0 (guint, N_QUEUED);
  for (guint i = 0; i < N_QUEUED; i++)
    {
      QueuedItem *item = g_new0 (QueuedItem, 1);

      item->d = &d;
      item->index = i;
      msb_db_pools_write_async (fx->pools, "INSERT INTO t(id, v) VALUES (?, 'queued')",
                                g_variant_new ("(u)", i + 1), NULL, queued_cb, item);
    }

  if (async_close)
    {
      msb_db_pools_close_async (fx->pools, NULL, test_async_result_cb, &close_result);
      test_wait_result (&close_result, 120);
      g_assert_true (msb_db_pools_close_finish (fx->pools, close_result, &error));
      g_assert_no_error (error);
    }
  else
    {
      g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (msb_db_pools_is_closed (fx->pools));
  /* Checked before any observer connection touches the file. */
  g_assert_false (test_wal_or_shm_exists (fx->path));

  test_wait_count (&d.done, N_QUEUED, 120);
  /* Drain anything left and make sure nothing reports twice. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < N_QUEUED; i++)
    g_assert_cmpuint (d.per_write[i], ==, 1);

  g_test_message ("%u ok, %u closed, %u other", d.ok, d.closed, d.other);
  g_assert_cmpuint (d.other, ==, 0);
  on_disk = raw_int (fx->path, "SELECT count(*) FROM t");
  g_assert_cmpint (on_disk, ==, d.ok);
  /* Queued before close: every one of them is let through. */
  g_assert_cmpuint (d.ok, ==, N_QUEUED);

  /* Nothing runs after close. */
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('after close')", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, on_disk);
  g_free (d.per_write);
}

/* Writers keep writing from other threads while the pools close: every
 * call reports, successes are exactly what is on disk. */
typedef struct {
  MsbDbPools *pools;
  guint       base;
  guint       ok;
  guint       closed;
  guint       other;
  GArray     *ok_ids;
} WriterData;

static gpointer
writer_loop (gpointer data)
{
  WriterData *w = data;

  for (guint i = 0; i < 100000; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      guint id = w->base + i;

      rows = msb_db_pools_write (w->pools, "INSERT INTO t(id, v) VALUES (?, 'loop')",
                                 g_variant_new ("(u)", id), NULL, &error);
      if (rows != NULL)
        {
          w->ok++;
          g_array_append_val (w->ok_ids, id);
        }
      else if (g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED))
        {
          w->closed++;
          if (w->closed >= 3)
            break;
        }
      else
        {
          g_printerr ("writer: %s\n", error->message);
          w->other++;
        }
    }
  return NULL;
}

static void
test_close_with_concurrent_writers (Fixture       *fx,
                                    gconstpointer  data)
{
  WriterData w[3];
  GThread *threads[3];
  g_autoptr(GError) error = NULL;
  guint total_ok = 0;

  for (guint i = 0; i < 3; i++)
    {
      w[i] = (WriterData) { fx->pools, (i + 1) * 1000000, 0, 0, 0, g_array_new (FALSE, FALSE, sizeof (guint)) };
      threads[i] = g_thread_new ("writer", writer_loop, &w[i]);
    }
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    g_thread_join (threads[i]);
  g_assert_false (test_wal_or_shm_exists (fx->path));

  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (w[i].other, ==, 0);
      g_assert_cmpuint (w[i].closed, >=, 1);
      total_ok += w[i].ok;
      for (guint j = 0; j < w[i].ok_ids->len; j++)
        {
          g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM t WHERE id = %u",
                                                  g_array_index (w[i].ok_ids, guint, j));
          if (j % 50 == 0 || j == w[i].ok_ids->len - 1)
            g_assert_cmpint (raw_int (fx->path, sql), ==, 1);
        }
      g_array_unref (w[i].ok_ids);
    }
  g_test_message ("%u writes succeeded before close", total_ok);
  g_assert_cmpuint (total_ok, >, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, total_ok);
}

/* ---- use after close --------------------------------------------------- */

static gboolean
flag_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  gint *ran = user_data;

  g_atomic_int_inc (ran);
  return TRUE;
}

static void
test_use_after_close (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GAsyncResult) r4 = NULL;
  g_autoptr(GAsyncResult) r5 = NULL;
  g_autoptr(MsbDbStats) stats = NULL;
  gint ran = 0;

  g_assert_false (msb_db_pools_is_closed (fx->pools));
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (msb_db_pools_is_closed (fx->pools));
  g_assert_false (test_wal_or_shm_exists (fx->path));

  rows = msb_db_pools_read (fx->pools, "SELECT 1", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('x')", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_transaction (fx->pools, flag_cb, &ran, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot (fx->pools, flag_cb, &ran, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);

  msb_db_pools_read_async (fx->pools, "SELECT 1", NULL, NULL, test_async_result_cb, &r1);
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('x')", NULL, NULL,
                            test_async_result_cb, &r2);
  msb_db_pools_transaction_async (fx->pools, flag_cb, &ran, NULL, NULL, test_async_result_cb, &r3);
  msb_db_pools_snapshot_async (fx->pools, flag_cb, &ran, NULL, NULL, test_async_result_cb, &r4);
  msb_db_pools_close_async (fx->pools, NULL, test_async_result_cb, &r5);
  test_wait_result (&r1, 30);
  test_wait_result (&r2, 30);
  test_wait_result (&r3, 30);
  test_wait_result (&r4, 30);
  test_wait_result (&r5, 30);
  rows = msb_db_pools_read_finish (fx->pools, r1, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  rows = msb_db_pools_write_finish (fx->pools, r2, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_transaction_finish (fx->pools, r3, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (msb_db_pools_snapshot_finish (fx->pools, r4, &error));
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  /* A second close: reported one way or the other, never a crash. */
  if (!msb_db_pools_close_finish (fx->pools, r5, &error))
    assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  if (!msb_db_pools_close (fx->pools, NULL, &error))
    assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_cmpint (ran, ==, 0);
  stats = msb_db_pools_get_stats (fx->pools);
  g_assert_nonnull (stats);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 0);
}

/* ---- reads in flight are interrupted ----------------------------------- */

typedef struct {
  MsbDbPools *pools;
  gboolean    snapshot;
  GError     *error;
  gboolean    ok;
  gint64      done_at;
  Gate        started;
} LongData;

static gboolean
long_snapshot_cb (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, LONG_READ_SQL, NULL, error);
  return rows != NULL;
}

static gpointer
long_reader (gpointer data)
{
  LongData *d = data;

  if (d->snapshot)
    d->ok = msb_db_pools_snapshot (d->pools, long_snapshot_cb, d, NULL, &d->error);
  else
    {
      g_autoptr(MsbDbRows) rows = msb_db_pools_read (d->pools, LONG_READ_SQL, NULL, NULL, &d->error);
      d->ok = rows != NULL;
    }
  d->done_at = g_get_monotonic_time ();
  return NULL;
}

static void
test_interrupts_reads (Fixture       *fx,
                       gconstpointer  data)
{
  LongData d = { fx->pools, GPOINTER_TO_INT (data), NULL, FALSE, 0 };
  g_autoptr(GError) error = NULL;
  GThread *thread;
  gint64 t0, close_took;

  gate_init (&d.started);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('kept')", NULL);
  thread = g_thread_new ("long-reader", long_reader, &d);
  g_usleep (150 * G_TIME_SPAN_MILLISECOND);

  t0 = g_get_monotonic_time ();
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  close_took = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_thread_join (thread);

  g_test_message ("close took %" G_GINT64_FORMAT " us; read: %s", close_took,
                  d.error ? d.error->message : "(success)");
  g_assert_false (d.ok);
  assert_msb_error (d.error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&d.error);
  g_assert_cmpint (close_took, <, SLOW (2 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (d.done_at - t0, <, SLOW (2 * G_TIME_SPAN_SECOND));
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
  gate_clear (&d.started);
}

/* ---- a running transaction is let finish ------------------------------- */

typedef struct {
  Gate     gate;
  gint64   returned_at;
} RunningData;

static gboolean
running_txn_cb (MsbDbConnection  *connection,
                gpointer          user_data,
                GError          **error)
{
  RunningData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('running')", NULL, error);
  if (rows == NULL)
    return FALSE;
  gate_enter_and_wait (&d->gate);
  d->returned_at = g_get_monotonic_time ();
  return TRUE;
}

typedef struct {
  MsbDbPools *pools;
  gboolean    ok;
  GError     *error;
  gint64      done_at;
} CloserData;

static gpointer
closer_thread (gpointer data)
{
  CloserData *c = data;

  c->ok = msb_db_pools_close (c->pools, NULL, &c->error);
  c->done_at = g_get_monotonic_time ();
  return NULL;
}

static void
test_running_transaction_finishes (Fixture       *fx,
                                   gconstpointer  data)
{
  RunningData d;
  CloserData c = { fx->pools, FALSE, NULL, 0 };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GThread *closer;

  gate_init (&d.gate);
  msb_db_pools_transaction_async (fx->pools, running_txn_cb, &d, NULL, NULL,
                                  test_async_result_cb, &result);
  g_assert_true (gate_wait_entered (&d.gate, 10 * G_TIME_SPAN_SECOND));
  closer = g_thread_new ("closer", closer_thread, &c);
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  gate_release (&d.gate);
  g_thread_join (closer);
  test_wait_result (&result, 30);

  g_assert_no_error (c.error);
  g_assert_true (c.ok);
  g_assert_true (msb_db_pools_transaction_finish (fx->pools, result, &error));
  g_assert_no_error (error);
  /* close returned only after the transaction was done. */
  g_assert_cmpint (c.done_at, >=, d.returned_at);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'running'"), ==, 1);
  gate_clear (&d.gate);
}

/* ---- calls waiting for their turn when close starts -------------------- */

/* A read waiting for the only (busy) read connection is not left waiting
 * for its connect timeout: close fails it with CLOSED. A write queued
 * behind a running transaction is let finish. */
static void
test_waiting_calls (Fixture       *fx,
                    gconstpointer  data)
{
  Blocker *reader_blocker, *writer_blocker;
  CloserData c;
  g_autoptr(GAsyncResult) rr = NULL;
  g_autoptr(GAsyncResult) wr = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  GThread *closer;
  gint64 t0;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);
  fx->pools = test_open (fx->path, 1, 30 * G_TIME_SPAN_SECOND, 0);
  c = (CloserData) { fx->pools, FALSE, NULL, 0 };

  reader_blocker = blocker_start (fx->pools, FALSE);
  writer_blocker = blocker_start (fx->pools, TRUE);
  msb_db_pools_read_async (fx->pools, "SELECT 1", NULL, NULL, test_async_result_cb, &rr);
  msb_db_pools_write_async (fx->pools, "INSERT INTO t(v) VALUES ('queued at close')", NULL, NULL,
                            test_async_result_cb, &wr);
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);

  t0 = g_get_monotonic_time ();
  closer = g_thread_new ("closer", closer_thread, &c);
  /* The waiting read comes back by itself while both callbacks still run. */
  test_wait_result (&rr, 10);
  g_test_message ("waiting read reported after %" G_GINT64_FORMAT " us",
                  g_get_monotonic_time () - t0);
  rows = msb_db_pools_read_finish (fx->pools, rr, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, SLOW (2 * G_TIME_SPAN_SECOND));

  /* The running transaction is let finish; the snapshot may report either way. */
  blocker_finish (writer_blocker);
  if (!blocker_finish_outcome (reader_blocker, &error))
    assert_msb_error (error, MSB_DB_ERROR_CLOSED);
  g_clear_error (&error);
  g_thread_join (closer);
  g_assert_no_error (c.error);
  g_assert_true (c.ok);

  test_wait_result (&wr, 30);
  rows = msb_db_pools_write_finish (fx->pools, wr, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rows);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'queued at close'"), ==, 1);
}

/* ---- files left behind ------------------------------------------------- */

static void
test_not_last_user (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(MsbDbPools) other = test_open (fx->path, 0, 0, 0);
  g_autoptr(GError) error = NULL;

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('a')", NULL);
  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);

  /* The other user carries on. */
  g_assert_cmpint (test_read_int (other, "SELECT count(*) FROM t"), ==, 1);
  test_write_ok (other, "INSERT INTO t(v) VALUES ('b')", NULL);
  g_assert_cmpint (test_read_int (other, "SELECT count(*) FROM t"), ==, 2);

  g_assert_true (msb_db_pools_close (other, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 2);
}

static void
test_unref_without_close (Fixture       *fx,
                          gconstpointer  data)
{
  GWeakRef weak;
  gint64 deadline;
  GObject *obj;

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('a')", NULL);
  g_assert_true (test_wal_or_shm_exists (fx->path));
  g_weak_ref_init (&weak, fx->pools);
  g_clear_object (&fx->pools);

  deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);
  while ((obj = g_weak_ref_get (&weak)) != NULL && g_get_monotonic_time () < deadline)
    {
      g_object_unref (obj);
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  g_assert_null (obj);
  g_weak_ref_clear (&weak);
  g_assert_false (test_wal_or_shm_exists (fx->path));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
}

/* Async writes in flight keep the pools alive; dropping the caller's ref
 * does not lose them. */
static void
test_unref_with_queued_writes (Fixture       *fx,
                               gconstpointer  data)
{
  QueuedData d = { 0 };
  GWeakRef weak;
  GObject *obj;
  gint64 deadline;

  d.per_write = g_new0 (guint, 500);
  for (guint i = 0; i < 500; i++)
    {
      QueuedItem *item = g_new0 (QueuedItem, 1);

      item->d = &d;
      item->index = i;
      msb_db_pools_write_async (fx->pools, "INSERT INTO t(id, v) VALUES (?, 'q')",
                                g_variant_new ("(u)", i + 1), NULL, queued_cb, item);
    }
  g_weak_ref_init (&weak, fx->pools);
  g_clear_object (&fx->pools);
  test_wait_count (&d.done, 500, 60);
  g_assert_cmpuint (d.other, ==, 0);
  g_assert_cmpuint (d.ok + d.closed, ==, 500);

  deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);
  while ((obj = g_weak_ref_get (&weak)) != NULL && g_get_monotonic_time () < deadline)
    {
      g_object_unref (obj);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  g_assert_null (obj);
  g_weak_ref_clear (&weak);
  g_assert_true (test_wait_files_gone (fx->path, SLOW (5 * G_TIME_SPAN_SECOND)));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, d.ok);
  /* Queued before the last unref: like close, they all finish. */
  g_assert_cmpuint (d.ok, ==, 500);
  g_free (d.per_write);
}

/* ---- no thread, no fd leaked over open / unref cycles ------------------ */

static void
cycle_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);

  g_assert_no_error (error);
  g_clear_object (&rows);
  *done = TRUE;
}

static void
cycle_write_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  g_assert_no_error (error);
  g_clear_object (&rows);
  *done = TRUE;
}

static gboolean
noop_cb (MsbDbConnection  *connection,
         gpointer          user_data,
         GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "SELECT count(*) FROM t",
                                                         NULL, error);
  return rows != NULL;
}

static void
one_cycle (const char *path,
           guint       i)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = test_open (path, 3, 0, 0);
  gboolean read_done = FALSE, write_done = FALSE;
  GWeakRef weak;
  GObject *obj;
  gint64 deadline;

  test_write_ok (pools, "INSERT INTO t(v) VALUES ('cycle')", NULL);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM t"), ==, i + 1);
  g_assert_true (msb_db_pools_transaction (pools, noop_cb, NULL, NULL, &error));
  g_assert_true (msb_db_pools_snapshot (pools, noop_cb, NULL, NULL, &error));
  msb_db_pools_read_async (pools, "SELECT 1", NULL, NULL, cycle_read_cb, &read_done);
  msb_db_pools_write_async (pools, "UPDATE t SET v = v", NULL, NULL, cycle_write_cb, &write_done);
  test_wait_flag (&read_done, 30);
  test_wait_flag (&write_done, 30);

  g_weak_ref_init (&weak, pools);
  g_object_unref (pools);
  deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);
  while ((obj = g_weak_ref_get (&weak)) != NULL && g_get_monotonic_time () < deadline)
    {
      g_object_unref (obj);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (5 * G_TIME_SPAN_MILLISECOND);
    }
  g_assert_null (obj);
  g_weak_ref_clear (&weak);
  g_assert_true (test_wait_files_gone (path, SLOW (5 * G_TIME_SPAN_SECOND)));
}

/* Waits until the thread and fd counts are back to the targets (idle GLib
 * pool threads go away after about half a second; a disposal finishing on
 * another thread may take a moment), or the deadline passes. */
static void
settle (guint  threads_target,
        guint  fds_target,
        guint *threads,
        guint *fds)
{
  gint64 deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);

  for (;;)
    {
      *threads = test_count_threads ();
      *fds = test_count_fds ();
      if ((*threads <= threads_target && *fds <= fds_target) ||
          g_get_monotonic_time () > deadline)
        return;
      g_usleep (50 * G_TIME_SPAN_MILLISECOND);
    }
}

static void
test_dispose_no_leak (Fixture       *fx,
                      gconstpointer  data)
{
  guint fds_before, threads_before, fds_after, threads_after;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);

  g_thread_pool_set_max_unused_threads (0);
  one_cycle (fx->path, 0);  /* warm-up: GLib's own lazily created threads */
  /* Idle pool threads exit after 0.5 s with no unused threads allowed. */
  g_usleep (1 * G_TIME_SPAN_SECOND);
  threads_before = test_count_threads ();
  fds_before = test_count_fds ();

  for (guint i = 1; i <= 6; i++)
    one_cycle (fx->path, i);

  settle (threads_before, fds_before, &threads_after, &fds_after);
  g_test_message ("threads %u -> %u, fds %u -> %u", threads_before, threads_after,
                  fds_before, fds_after);
  g_assert_cmpuint (threads_after, <=, threads_before);
  g_assert_cmpuint (fds_after, <=, fds_before);
  g_thread_pool_set_max_unused_threads (2);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 7);
}

/* Same with close() before the unref. */
static void
test_close_no_leak (Fixture       *fx,
                    gconstpointer  data)
{
  guint fds_before, threads_before, fds_after, threads_after;

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);

  g_thread_pool_set_max_unused_threads (0);
  {
    MsbDbPools *p = test_open (fx->path, 2, 0, 0);
    test_write_ok (p, "INSERT INTO t(v) VALUES ('warm')", NULL);
    g_assert_true (msb_db_pools_close (p, NULL, NULL));
    g_object_unref (p);
  }
  g_usleep (1 * G_TIME_SPAN_SECOND);
  threads_before = test_count_threads ();
  fds_before = test_count_fds ();

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(GError) error = NULL;
      MsbDbPools *p = test_open (fx->path, 2, 0, 0);

      test_write_ok (p, "INSERT INTO t(v) VALUES ('c')", NULL);
      g_assert_cmpint (test_read_int (p, "SELECT count(*) FROM t"), ==, i + 2);
      g_assert_true (msb_db_pools_close (p, NULL, &error));
      g_assert_no_error (error);
      /* Closed: connections and writer thread are gone even before unref. */
      g_assert_false (test_wal_or_shm_exists (fx->path));
      g_object_unref (p);
    }

  settle (threads_before, fds_before, &threads_after, &fds_after);
  g_test_message ("threads %u -> %u, fds %u -> %u", threads_before, threads_after,
                  fds_before, fds_after);
  g_assert_cmpuint (threads_after, <=, threads_before);
  g_assert_cmpuint (fds_after, <=, fds_before);
  g_thread_pool_set_max_unused_threads (2);
}

/* ---- close_async() refuses what comes after it ------------------------- */

/* close_async() stops accepting calls when it is called: writes queued
 * before it finish and report, writes queued after it on the same thread,
 * before the close thread even started, fail with CLOSED and never run. */
static void
test_close_async_refuses_later_calls (Fixture       *fx,
                                      gconstpointer  data)
{
  const guint n_before = 3000, n_after = 100;

  for (guint round = 0; round < 5; round++)
    {
      g_autofree char *path = g_strdup_printf ("%s/round%u.db", fx->dir, round);
      g_autoptr(MsbDbPools) pools = test_open (path, 0, 0, 0);
      g_autoptr(GAsyncResult) close_result = NULL;
      g_autoptr(GError) error = NULL;
      QueuedData before = { 0 }, after = { 0 };

      test_write_ok (pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
      before.per_write = g_new0 (guint, n_before);
      after.per_write = g_new0 (guint, n_after);
      for (guint i = 0; i < n_before; i++)
        {
          QueuedItem *item = g_new0 (QueuedItem, 1);

          *item = (QueuedItem) { &before, i };
          msb_db_pools_write_async (pools, "INSERT INTO t(v) VALUES ('before')", NULL, NULL,
                                    queued_cb, item);
        }
      msb_db_pools_close_async (pools, NULL, test_async_result_cb, &close_result);
      g_assert_true (msb_db_pools_is_closed (pools));
      for (guint i = 0; i < n_after; i++)
        {
          QueuedItem *item = g_new0 (QueuedItem, 1);

          *item = (QueuedItem) { &after, i };
          msb_db_pools_write_async (pools, "INSERT INTO t(v) VALUES ('after')", NULL, NULL,
                                    queued_cb, item);
        }

      test_wait_result (&close_result, 120);
      g_assert_true (msb_db_pools_close_finish (pools, close_result, &error));
      g_assert_no_error (error);
      test_wait_count (&before.done, n_before, 120);
      test_wait_count (&after.done, n_after, 120);

      g_assert_cmpuint (before.ok, ==, n_before);
      g_assert_cmpuint (after.ok, ==, 0);
      g_assert_cmpuint (after.closed, ==, n_after);
      g_assert_cmpint (raw_int (path, "SELECT count(*) FROM t WHERE v = 'after'"), ==, 0);
      g_assert_cmpint (raw_int (path, "SELECT count(*) FROM t WHERE v = 'before'"), ==, n_before);
      g_free (before.per_write);
      g_free (after.per_write);
    }
}

/* ---- a snapshot body that outlives close ------------------------------- */

static gboolean
slow_snapshot_cb (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  Gate *gate = user_data;

  gate_enter_and_wait (gate);
  return TRUE;
}

/* close() does not wait for user code forever, and says nothing alarming
 * about it (a warning would fail this test); once the body returns and the
 * pools are gone, no -wal or -shm file is left behind. */
static void
test_snapshot_outlives_close (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_init (&gate);
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('x')", NULL);
  msb_db_pools_snapshot_async (fx->pools, slow_snapshot_cb, &gate, NULL, NULL,
                               test_async_result_cb, &result);
  g_assert_true (gate_wait_entered (&gate, 10 * G_TIME_SPAN_SECOND));

  g_assert_true (msb_db_pools_close (fx->pools, NULL, &error));
  g_assert_no_error (error);
  gate_release (&gate);
  test_wait_result (&result, 30);
  g_assert_true (msb_db_pools_snapshot_finish (fx->pools, result, &error));
  g_clear_object (&result);
  g_clear_object (&fx->pools);
  g_assert_true (test_wait_files_gone (fx->path, 10 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
  gate_clear (&gate);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func, data) \
  g_test_add ("/close/" name, Fixture, data, setup_table, func, fixture_teardown)

  ADD ("queued-writes-finish/sync", test_queued_writes_finish, GINT_TO_POINTER (FALSE));
  ADD ("queued-writes-finish/async", test_queued_writes_finish, GINT_TO_POINTER (TRUE));
  ADD ("concurrent-writers", test_close_with_concurrent_writers, NULL);
  ADD ("use-after-close", test_use_after_close, NULL);
  ADD ("interrupts-read", test_interrupts_reads, GINT_TO_POINTER (FALSE));
  ADD ("interrupts-snapshot", test_interrupts_reads, GINT_TO_POINTER (TRUE));
  ADD ("running-transaction-finishes", test_running_transaction_finishes, NULL);
  ADD ("waiting-calls", test_waiting_calls, NULL);
  ADD ("not-last-user", test_not_last_user, NULL);
  ADD ("unref-without-close", test_unref_without_close, NULL);
  ADD ("unref-with-queued-writes", test_unref_with_queued_writes, NULL);
  ADD ("dispose-no-leak", test_dispose_no_leak, NULL);
  ADD ("close-no-leak", test_close_no_leak, NULL);
  ADD ("close-async-refuses-later-calls", test_close_async_refuses_later_calls, NULL);
  ADD ("snapshot-outlives-close", test_snapshot_outlives_close, NULL);

  return g_test_run ();
}
