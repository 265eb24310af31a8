/* test-threads.c: many threads calling sync and async APIs at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

#define N_THREADS 8
#define N_ITERATIONS 120

static void
setup_tables (Fixture       *fx,
              gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 4, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, thread INTEGER, i INTEGER, kind TEXT)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE counter(n INTEGER)", NULL);
  test_write_ok (fx->pools, "INSERT INTO counter VALUES (0)", NULL);
}

typedef struct {
  MsbDbPools   *pools;
  guint         index;
  guint         failures;
  guint         wrong_place;
  guint         inserted;   /* rows of this thread committed so far */
  guint         reads, writes, transactions, snapshots;
  GMainContext *context;
  gboolean      async_done;
} Worker;

static void
fail (Worker     *w,
      const char *what,
      GError     *error)
{
  g_printerr ("thread %u: %s: %s\n", w->index, what, error ? error->message : "wrong result");
  w->failures++;
}

static gint64
own_count (Worker *w)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows =
    msb_db_pools_read (w->pools, "SELECT count(*) FROM t WHERE thread = ?",
                       g_variant_new ("(u)", w->index), NULL, &error);

  if (rows == NULL)
    {
      fail (w, "read", error);
      return -1;
    }
  w->reads++;
  return msb_db_rows_get_int64 (rows, 0, 0);
}

static gboolean
txn_func (MsbDbConnection  *connection,
          gpointer          user_data,
          GError          **error)
{
  Worker *w = user_data;
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  g_autoptr(MsbDbRows) c = NULL;

  a = msb_db_connection_execute (connection, "INSERT INTO t(thread, kind) VALUES (?, 't1')",
                                 g_variant_new ("(u)", w->index), error);
  if (a == NULL)
    return FALSE;
  b = msb_db_connection_execute (connection, "INSERT INTO t(thread, kind) VALUES (?, 't2')",
                                 g_variant_new ("(u)", w->index), error);
  if (b == NULL)
    return FALSE;
  /* Read-modify-write: lost updates would show in the final counter. */
  c = msb_db_connection_execute (connection, "SELECT n FROM counter", NULL, error);
  if (c == NULL)
    return FALSE;
  g_clear_object (&a);
  a = msb_db_connection_execute (connection, "UPDATE counter SET n = ?",
                                 g_variant_new ("(x)", msb_db_rows_get_int64 (c, 0, 0) + 1), error);
  return a != NULL;
}

static gboolean
snap_func (MsbDbConnection  *connection,
           gpointer          user_data,
           GError          **error)
{
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  g_autoptr(MsbDbRows) c = NULL;
  gboolean *consistent = user_data;

  a = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (a == NULL)
    return FALSE;
  c = msb_db_connection_execute (connection, "SELECT count(*) FROM t WHERE kind = 't1'", NULL, error);
  if (c == NULL)
    return FALSE;
  g_usleep (200);
  b = msb_db_connection_execute (connection, "SELECT count(*) FROM t", NULL, error);
  if (b == NULL)
    return FALSE;
  *consistent = msb_db_rows_get_int64 (a, 0, 0) == msb_db_rows_get_int64 (b, 0, 0);
  return TRUE;
}

static void
async_write_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Worker *w = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);
  GMainContext *current = g_main_context_ref_thread_default ();

  if (current != w->context)
    w->wrong_place++;
  g_main_context_unref (current);
  if (rows == NULL)
    fail (w, "write_async", error);
  else
    {
      w->inserted++;
      w->writes++;
    }
  w->async_done = TRUE;
}

static void
async_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Worker *w = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);
  GMainContext *current = g_main_context_ref_thread_default ();

  if (current != w->context)
    w->wrong_place++;
  g_main_context_unref (current);
  if (rows == NULL)
    fail (w, "read_async", error);
  else
    {
      w->reads++;
      /* Read-your-writes from this thread. */
      if (msb_db_rows_get_int64 (rows, 0, 0) != w->inserted)
        fail (w, "read_async count", NULL);
    }
  w->async_done = TRUE;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;

  w->context = g_main_context_new ();
  g_main_context_push_thread_default (w->context);

  for (guint i = 0; i < N_ITERATIONS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      gboolean consistent = FALSE;

      switch (i % 6)
        {
        case 0:
          rows = msb_db_pools_write (w->pools, "INSERT INTO t(thread, i, kind) VALUES (?, ?, 'w')",
                                     g_variant_new ("(uu)", w->index, i), NULL, &error);
          if (rows == NULL)
            fail (w, "write", error);
          else
            {
              w->inserted++;
              w->writes++;
            }
          break;
        case 1:
          /* A committed write is visible to the very next read. */
          if (own_count (w) != w->inserted)
            fail (w, "read-your-writes", NULL);
          break;
        case 2:
          if (!msb_db_pools_transaction (w->pools, txn_func, w, NULL, &error))
            fail (w, "transaction", error);
          else
            {
              w->inserted += 2;
              w->transactions++;
            }
          break;
        case 3:
          if (!msb_db_pools_snapshot (w->pools, snap_func, &consistent, NULL, &error))
            fail (w, "snapshot", error);
          else
            {
              w->snapshots++;
              if (!consistent)
                fail (w, "snapshot consistency", NULL);
            }
          break;
        case 4:
          w->async_done = FALSE;
          msb_db_pools_write_async (w->pools, "INSERT INTO t(thread, i, kind) VALUES (?, ?, 'a')",
                                    g_variant_new ("(uu)", w->index, i), NULL,
                                    async_write_cb, w);
          while (!w->async_done)
            g_main_context_iteration (w->context, TRUE);
          break;
        case 5:
          w->async_done = FALSE;
          msb_db_pools_read_async (w->pools, "SELECT count(*) FROM t WHERE thread = ?",
                                   g_variant_new ("(u)", w->index), NULL, async_read_cb, w);
          while (!w->async_done)
            g_main_context_iteration (w->context, TRUE);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  g_main_context_pop_thread_default (w->context);
  g_main_context_unref (w->context);
  return NULL;
}

static void
test_many_threads (Fixture       *fx,
                   gconstpointer  data)
{
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  g_autoptr(MsbDbStats) before = msb_db_pools_get_stats (fx->pools);
  g_autoptr(MsbDbStats) after = NULL;
  guint64 inserted = 0, reads = 0, writes = 0, transactions = 0, snapshots = 0;

  for (guint i = 0; i < N_THREADS; i++)
    {
      memset (&workers[i], 0, sizeof workers[i]);
      workers[i].pools = fx->pools;
      workers[i].index = i;
      threads[i] = g_thread_new ("worker", worker_thread, &workers[i]);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  for (guint i = 0; i < N_THREADS; i++)
    {
      g_assert_cmpuint (workers[i].failures, ==, 0);
      g_assert_cmpuint (workers[i].wrong_place, ==, 0);
      inserted += workers[i].inserted;
      reads += workers[i].reads;
      writes += workers[i].writes;
      transactions += workers[i].transactions;
      snapshots += workers[i].snapshots;
    }

  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, inserted);
  g_assert_cmpint (raw_int (fx->path, "SELECT n FROM counter"), ==, transactions);
  g_assert_cmpuint (transactions, ==, N_THREADS * (N_ITERATIONS / 6));

  after = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (after->reads - before->reads, ==, reads);
  g_assert_cmpuint (after->writes - before->writes, ==, writes);
  g_assert_cmpuint (after->transactions - before->transactions, ==, transactions);
  g_assert_cmpuint (after->snapshots - before->snapshots, ==, snapshots);
}

/* Several pools objects in one process on one file, each with threads. */
typedef struct {
  char  *path;
  guint  index;
  guint  failures;
} PoolsWorker;

static gpointer
own_pools_thread (gpointer data)
{
  PoolsWorker *w = data;
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = msb_db_pools_open (w->path, 2, 0, 0, NULL, &error);

  if (pools == NULL)
    {
      g_printerr ("open: %s\n", error->message);
      w->failures++;
      return NULL;
    }
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_write (pools, "INSERT INTO t(thread, i, kind) VALUES (?, ?, 'own')",
                                 g_variant_new ("(uu)", w->index, i), NULL, &error);
      if (rows == NULL)
        {
          g_printerr ("write: %s\n", error->message);
          g_clear_error (&error);
          w->failures++;
        }
      g_clear_object (&rows);
      rows = msb_db_pools_read (pools, "SELECT count(*) FROM t WHERE thread = ?",
                                g_variant_new ("(u)", w->index), NULL, &error);
      if (rows == NULL || msb_db_rows_get_int64 (rows, 0, 0) != i + 1)
        {
          g_printerr ("read: %s\n", error ? error->message : "wrong count");
          g_clear_error (&error);
          w->failures++;
        }
    }
  if (!msb_db_pools_close (pools, NULL, &error))
    {
      g_printerr ("close: %s\n", error->message);
      w->failures++;
    }
  g_object_unref (pools);
  return NULL;
}

static void
test_several_pools (Fixture       *fx,
                    gconstpointer  data)
{
  PoolsWorker w[4];
  GThread *threads[4];

  for (guint i = 0; i < 4; i++)
    {
      w[i] = (PoolsWorker) { fx->path, 100 + i, 0 };
      threads[i] = g_thread_new ("own-pools", own_pools_thread, &w[i]);
    }
  for (guint i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (w[i].failures, ==, 0);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE kind = 'own'"), ==, 400);
}

/* The last reference may be dropped anywhere, even on a library thread
 * (a GTask finishing there): no deadlock, no leak of the file. */
static void
dropped_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  guint *done = user_data;
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);

  g_assert_no_error (error);
  g_clear_object (&rows);
  (*done)++;
}

static gboolean
drop_txn_func (MsbDbConnection  *connection,
               gpointer          user_data,
               GError          **error)
{
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "INSERT INTO t(kind) VALUES ('txn')",
                                                         NULL, error);
  return rows != NULL;
}

static void
drop_txn_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  guint *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_transaction_finish (MSB_DB_POOLS (source), result, &error));
  g_assert_no_error (error);
  (*done)++;
}

static void
test_last_ref_anywhere (Fixture       *fx,
                        gconstpointer  data)
{
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_clear_object (&fx->pools);

  for (guint round = 0; round < 20; round++)
    {
      MsbDbPools *pools = test_open (fx->path, 1, 0, 0);
      guint done = 0;
      GWeakRef weak;
      GObject *obj;
      gint64 deadline;

      msb_db_pools_write_async (pools, "INSERT INTO t(kind) VALUES ('dropped')", NULL, NULL,
                                dropped_cb, &done);
      msb_db_pools_transaction_async (pools, drop_txn_func, NULL, NULL, NULL, drop_txn_cb, &done);
      g_weak_ref_init (&weak, pools);
      g_object_unref (pools);
      test_wait_count (&done, 2, 30);

      deadline = g_get_monotonic_time () + SLOW (5 * G_TIME_SPAN_SECOND);
      while ((obj = g_weak_ref_get (&weak)) != NULL && g_get_monotonic_time () < deadline)
        {
          g_object_unref (obj);
          g_main_context_iteration (NULL, FALSE);
          g_usleep (2000);
        }
      g_assert_null (obj);
      g_weak_ref_clear (&weak);
      g_assert_true (test_wait_files_gone (fx->path, SLOW (5 * G_TIME_SPAN_SECOND)));
    }
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE kind = 'dropped'"), ==, 20);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE kind = 'txn'"), ==, 20);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/threads/" name, Fixture, NULL, setup_tables, func, fixture_teardown)

  ADD ("many-threads", test_many_threads);
  ADD ("several-pools", test_several_pools);
  ADD ("last-ref-anywhere", test_last_ref_anywhere);

  return g_test_run ();
}
