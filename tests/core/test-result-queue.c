/* test-result-queue.c: MsbDbResultQueue, outcomes through one file
 * descriptor, with no GLib main loop running anywhere in the test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <poll.h>
#include <string.h>

/* One outcome taken from a drain. */
typedef struct {
  guint64 tag;
  MsbDbResultKind kind;
  GPtrArray *values;          /* the payload, borrowed from the drain */
  guint first;
  guint n;
} Outcome;

static gboolean
fd_readable (int       fd,
             GTimeSpan timeout)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  int timeout_ms = timeout > 0 ? (int) ((timeout + 999) / 1000) : 0;

  return poll (&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* Splits a drain into outcomes, checking its framing. */
static GArray *
split (GPtrArray *drained)
{
  GArray *outcomes = g_array_new (FALSE, TRUE, sizeof (Outcome));
  guint i = 0;

  while (i < drained->len)
    {
      Outcome o = { 0 };

      g_assert_cmpuint (i + 3, <=, drained->len);
      o.tag = g_value_get_uint64 (g_ptr_array_index (drained, i));
      o.kind = g_value_get_int (g_ptr_array_index (drained, i + 1));
      o.n = g_value_get_uint (g_ptr_array_index (drained, i + 2));
      o.values = drained;
      o.first = i + 3;
      g_assert_cmpuint (o.first + o.n, <=, drained->len);
      g_array_append_val (outcomes, o);
      i = o.first + o.n;
    }
  return outcomes;
}

static const GValue *
payload (const Outcome *o,
         guint          i)
{
  g_assert_cmpuint (i, <, o->n);
  return g_ptr_array_index (o->values, o->first + i);
}

/* The integer in the first column of the first row of a ROWS outcome. */
static gint64
first_int (const Outcome *o)
{
  guint n_columns;

  g_assert_cmpint (o->kind, ==, MSB_DB_RESULT_KIND_ROWS);
  n_columns = g_value_get_uint (payload (o, 0));
  g_assert_cmpuint (g_value_get_uint (payload (o, 1)), >=, 1);
  return g_value_get_int64 (payload (o, 5 + n_columns));
}

static void
assert_error_outcome (const Outcome *o,
                      GQuark         domain,
                      int            code)
{
  g_assert_cmpint (o->kind, ==, MSB_DB_RESULT_KIND_ERROR);
  g_assert_cmpuint (o->n, ==, 3);
  g_assert_cmpstr (g_value_get_string (payload (o, 0)), ==, g_quark_to_string (domain));
  g_assert_cmpint (g_value_get_int (payload (o, 1)), ==, code);
}

/* Waits (up to @timeout) until @n outcomes were drained into @all, which
 * keeps the drains alive. Fails on more. */
static GArray *
collect (MsbDbResultQueue *queue,
         guint             n,
         GPtrArray        *all,
         GTimeSpan         timeout)
{
  GArray *outcomes = g_array_new (FALSE, TRUE, sizeof (Outcome));
  gint64 deadline = g_get_monotonic_time () + timeout;
  int fd = msb_db_result_queue_get_fd (queue);

  while (outcomes->len < n)
    {
      GPtrArray *drained;
      g_autoptr(GArray) some = NULL;
      gint64 left = deadline - g_get_monotonic_time ();

      g_assert_cmpint (left, >, 0);
      if (!fd_readable (fd, left))
        continue;
      drained = msb_db_result_queue_drain (queue);
      g_ptr_array_add (all, drained);
      some = split (drained);
      g_array_append_vals (outcomes, some->data, some->len);
    }
  g_assert_cmpuint (outcomes->len, ==, n);
  return outcomes;
}

static const Outcome *
find (GArray  *outcomes,
      guint64  tag)
{
  const Outcome *found = NULL;

  for (guint i = 0; i < outcomes->len; i++)
    if (g_array_index (outcomes, Outcome, i).tag == tag)
      {
        g_assert_null (found);   /* each tag reports once */
        found = &g_array_index (outcomes, Outcome, i);
      }
  g_assert_nonnull (found);
  return found;
}

/* How many threads of this process are called @name. */
static guint
count_threads_named (const char *name)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *task;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((task = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/task", task, "comm", NULL);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_equal (g_strchomp (comm), name))
        n++;
    }
  return n;
}

/* How many eventfds this process has open (a queue has one, and so has
 * the GMainContext of its thread). */
static guint
count_eventfds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *fd;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((fd = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", fd, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && g_str_equal (target, "anon_inode:[eventfd]"))
        n++;
    }
  return n;
}

/* Waits until @n threads are called @name (a thread names itself once it
 * runs); FALSE if they still are not after @timeout. */
static gboolean
wait_threads_named (const char *name,
                    guint       n,
                    GTimeSpan   timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout;

  while (count_threads_named (name) != n)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (2 * G_TIME_SPAN_MILLISECOND);
    }
  return TRUE;
}

static MsbDbResultQueue *
new_queue (void)
{
  g_autoptr(GError) error = NULL;
  MsbDbResultQueue *queue = msb_db_result_queue_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static void
setup_table (Fixture       *fx,
             gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 2, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)", NULL);
}

/* ---------------------------------------------------------------------- */

/* The descriptor is readable exactly while outcomes wait. */
static void
test_fd_and_drain (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) empty = NULL;
  g_autoptr(GArray) outcomes = NULL;
  const char *values[] = { "7", NULL };
  int fd = msb_db_result_queue_get_fd (queue);

  g_assert_cmpint (fd, >=, 0);
  g_assert_false (fd_readable (fd, 0));
  empty = msb_db_result_queue_drain (queue);
  g_assert_cmpuint (empty->len, ==, 0);

  msb_db_result_queue_read (queue, 41, fx->pools, "SELECT ? * 6", NULL, "i", values, NULL);
  g_assert_true (fd_readable (fd, SLOW (10 * G_TIME_SPAN_SECOND)));
  g_assert_cmpuint (msb_db_result_queue_get_n_in_flight (queue), ==, 0);
  /* Still readable until drained. */
  g_assert_true (fd_readable (fd, 0));
  outcomes = collect (queue, 1, all, SLOW (G_TIME_SPAN_SECOND));
  g_assert_cmpuint (find (outcomes, 41)->tag, ==, 41);
  g_assert_cmpint (first_int (find (outcomes, 41)), ==, 42);
  g_assert_false (fd_readable (fd, 0));
}

/* Many calls from several threads: each tag reports exactly once, in
 * batches, with the right result. */
typedef struct {
  MsbDbResultQueue *queue;
  MsbDbPools *pools;
  guint first_tag;
  guint count;
} Submitter;

static gpointer
submit_many (gpointer data)
{
  Submitter *s = data;

  for (guint i = 0; i < s->count; i++)
    {
      guint64 tag = s->first_tag + i;
      g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, tag);
      const char *values[] = { text, NULL };

      if (tag % 2 == 0)
        msb_db_result_queue_write (s->queue, tag, s->pools, "INSERT INTO t (id) VALUES (?)", NULL,
                                   "i", values, NULL);
      else
        msb_db_result_queue_read (s->queue, tag, s->pools, "SELECT ?", NULL, "i", values, NULL);
    }
  return NULL;
}

static void
test_many_threads (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) outcomes = NULL;
  enum { THREADS = 4, EACH = 2000 };
  Submitter submitters[THREADS];
  GThread *threads[THREADS];

  for (guint t = 0; t < THREADS; t++)
    {
      submitters[t] = (Submitter) { queue, fx->pools, 1 + t * EACH, EACH };
      threads[t] = g_thread_new ("submitter", submit_many, &submitters[t]);
    }
  outcomes = collect (queue, THREADS * EACH, all, SLOW (60 * G_TIME_SPAN_SECOND));
  for (guint t = 0; t < THREADS; t++)
    g_thread_join (threads[t]);

  for (guint64 tag = 1; tag <= THREADS * EACH; tag++)
    {
      const Outcome *o = find (outcomes, tag);

      if (tag % 2 == 0)
        {
          g_assert_cmpint (o->kind, ==, MSB_DB_RESULT_KIND_ROWS);
          g_assert_cmpint (g_value_get_int64 (payload (o, 2)), ==, 1);   /* changes */
          g_assert_cmpint (g_value_get_int64 (payload (o, 3)), ==, (gint64) tag);
        }
      else
        g_assert_cmpint (first_int (o), ==, (gint64) tag);
    }
  /* Fewer drains than calls: outcomes came in batches. */
  g_test_message ("%u outcomes in %u drains", outcomes->len, all->len);
  g_assert_cmpuint (all->len, <, THREADS * EACH);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, THREADS * EACH / 2);
}

/* Failures report like successes: wrong parameters, SQL errors,
 * constraints, read-only statements, closed pools. */
static void
test_errors (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) outcomes = NULL;
  g_autoptr(GArray) late = NULL;
  const char *bad[] = { "x", NULL };
  const char *dup[] = { "a", NULL };

  msb_db_result_queue_read (queue, 1, fx->pools, "SELECT ?", NULL, "i", bad, NULL);
  msb_db_result_queue_read (queue, 2, fx->pools, "SELEC 1", NULL, NULL, NULL, NULL);
  msb_db_result_queue_write (queue, 3, fx->pools, "INSERT INTO t (v) VALUES (?)", NULL, "t", dup,
                             NULL);
  msb_db_result_queue_write (queue, 4, fx->pools, "INSERT INTO t (v) VALUES (?)", NULL, "t", dup,
                             NULL);
  msb_db_result_queue_read (queue, 5, fx->pools, "DELETE FROM t", NULL, NULL, NULL, NULL);
  outcomes = collect (queue, 5, all, SLOW (10 * G_TIME_SPAN_SECOND));
  assert_error_outcome (find (outcomes, 1), MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_error_outcome (find (outcomes, 2), MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  g_assert_cmpint (find (outcomes, 3)->kind, ==, MSB_DB_RESULT_KIND_ROWS);
  assert_error_outcome (find (outcomes, 4), MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  assert_error_outcome (find (outcomes, 5), MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY);

  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  msb_db_result_queue_read (queue, 6, fx->pools, "SELECT 1", NULL, NULL, NULL, NULL);
  msb_db_result_queue_transaction (queue, 7, fx->pools, 1, NULL);
  late = collect (queue, 2, all, SLOW (10 * G_TIME_SPAN_SECOND));
  assert_error_outcome (find (late, 6), MSB_DB_ERROR, MSB_DB_ERROR_CLOSED);
  /* No body function on these pools: that is said first. */
  assert_error_outcome (find (late, 7), MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
}

/* A call that waits for a connection is cancelled by its tag at once,
 * without ever running; the pools stay usable. */
static void
test_cancel_waiting (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(MsbDbPools) one = NULL;
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;
  g_autoptr(GCancellable) mine = g_cancellable_new ();
  Blocker *blocker;
  MsbDbStats *before;
  MsbDbStats *after;

  g_clear_object (&fx->pools);
  one = test_open (fx->path, 1, 0, 0);
  blocker = blocker_start (one, FALSE);
  before = msb_db_pools_get_stats (one);

  msb_db_result_queue_read (queue, 1, one, "SELECT 1", NULL, NULL, NULL, NULL);
  msb_db_result_queue_read (queue, 2, one, "SELECT 2", NULL, NULL, NULL, mine);
  g_assert_cmpuint (msb_db_result_queue_get_n_in_flight (queue), ==, 2);
  g_assert_true (msb_db_result_queue_cancel (queue, 1));
  g_cancellable_cancel (mine);
  first = collect (queue, 2, all, SLOW (5 * G_TIME_SPAN_SECOND));
  assert_error_outcome (find (first, 1), G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_error_outcome (find (first, 2), G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (msb_db_result_queue_cancel (queue, 1));
  g_assert_false (msb_db_result_queue_cancel (queue, 12345));

  blocker_finish (blocker);
  after = msb_db_pools_get_stats (one);
  g_assert_cmpuint (after->reads, ==, before->reads);   /* they never ran */

  msb_db_result_queue_read (queue, 3, one, "SELECT 3", NULL, NULL, NULL, NULL);
  second = collect (queue, 1, all, SLOW (5 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (first_int (find (second, 3)), ==, 3);
  msb_db_stats_free (before);
  msb_db_stats_free (after);
  g_assert_true (msb_db_pools_close (one, NULL, NULL));
}

/* A running read is interrupted and its connection freed: the next read
 * on the only connection runs at once. */
static void
test_cancel_running (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(MsbDbPools) one = NULL;
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;
  gint64 start;

  g_clear_object (&fx->pools);
  one = test_open (fx->path, 1, 0, 0);
  msb_db_result_queue_read (queue, 1, one, LONG_READ_SQL, NULL, NULL, NULL, NULL);
  /* Let it start. */
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (msb_db_result_queue_get_n_in_flight (queue), ==, 1);
  start = g_get_monotonic_time ();
  g_assert_true (msb_db_result_queue_cancel (queue, 1));
  first = collect (queue, 1, all, SLOW (5 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (find (first, 1)->kind, ==, MSB_DB_RESULT_KIND_ERROR);
  g_assert_cmpint (g_value_get_int (payload (find (first, 1), 1)), ==, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (2 * G_TIME_SPAN_SECOND));

  msb_db_result_queue_read (queue, 2, one, "SELECT 5", NULL, NULL, NULL, NULL);
  second = collect (queue, 1, all, SLOW (2 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (first_int (find (second, 2)), ==, 5);
  g_assert_true (msb_db_pools_close (one, NULL, NULL));
}

/* The connect timeout holds with nobody running a main loop: the queue's
 * own thread watches it. */
static void
test_deadline (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(MsbDbPools) one = NULL;
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) outcomes = NULL;
  Blocker *blocker;
  gint64 start;
  GTimeSpan waited;

  g_clear_object (&fx->pools);
  one = test_open (fx->path, 1, 200 * G_TIME_SPAN_MILLISECOND, 0);
  blocker = blocker_start (one, FALSE);
  start = g_get_monotonic_time ();
  msb_db_result_queue_read (queue, 9, one, "SELECT 1", NULL, NULL, NULL, NULL);
  outcomes = collect (queue, 1, all, SLOW (10 * G_TIME_SPAN_SECOND));
  waited = g_get_monotonic_time () - start;
  assert_error_outcome (find (outcomes, 9), MSB_DB_ERROR, MSB_DB_ERROR_POOL_TIMEOUT);
  g_assert_cmpint (waited, >=, 150 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (waited, <, SLOW (5 * G_TIME_SPAN_SECOND));
  blocker_finish (blocker);
  g_assert_true (msb_db_pools_close (one, NULL, NULL));
}

/* Numbered bodies ------------------------------------------------------- */

static gboolean
body_insert (MsbDbConnection  *connection,
             guint64           body,
             gpointer          user_data,
             GError          **error)
{
  g_autofree char *id = g_strdup_printf ("%" G_GUINT64_FORMAT, body);
  const char *values[] = { id, NULL };
  g_autoptr(GPtrArray) done = NULL;

  if (body == 0)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED, "body zero refuses");
      return FALSE;
    }
  if (msb_db_connection_is_read_only (connection))
    done = msb_db_connection_execute_values (connection, "SELECT count(*) FROM t", NULL, NULL,
                                             NULL, error);
  else
    done = msb_db_connection_execute_values (connection, "INSERT INTO t (id) VALUES (?)", NULL,
                                             "i", values, error);
  return done != NULL;
}

static void
test_bodies (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) outcomes = NULL;

  msb_db_pools_set_body_func (fx->pools, body_insert, NULL, NULL);
  for (guint64 i = 1; i <= 50; i++)
    msb_db_result_queue_transaction (queue, 100 + i, fx->pools, i, NULL);
  msb_db_result_queue_transaction (queue, 200, fx->pools, 0, NULL);
  msb_db_result_queue_snapshot (queue, 201, fx->pools, 1, NULL);
  msb_db_result_queue_snapshot (queue, 202, fx->pools, 0, NULL);
  outcomes = collect (queue, 53, all, SLOW (20 * G_TIME_SPAN_SECOND));
  for (guint64 i = 1; i <= 50; i++)
    {
      const Outcome *o = find (outcomes, 100 + i);

      g_assert_cmpint (o->kind, ==, MSB_DB_RESULT_KIND_BOOLEAN);
      g_assert_true (g_value_get_boolean (payload (o, 0)));
    }
  assert_error_outcome (find (outcomes, 200), MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_assert_cmpint (find (outcomes, 201)->kind, ==, MSB_DB_RESULT_KIND_BOOLEAN);
  assert_error_outcome (find (outcomes, 202), MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_assert_cmpint (test_read_int (fx->pools, "SELECT count(*) FROM t"), ==, 50);
}

/* Opening and closing --------------------------------------------------- */

static void
test_open_and_close (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) opened = NULL;
  g_autoptr(GArray) closed = NULL;
  g_autofree char *missing = g_build_filename (fx->dir, "no", "such", "dir.db", NULL);
  MsbDbPools *pools;

  msb_db_result_queue_open (queue, 1, fx->path, 3, 0, 0, NULL);
  msb_db_result_queue_open (queue, 2, missing, 0, 0, 0, NULL);
  opened = collect (queue, 2, all, SLOW (10 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (find (opened, 1)->kind, ==, MSB_DB_RESULT_KIND_OBJECT);
  pools = g_value_get_object (payload (find (opened, 1), 0));
  g_assert_true (MSB_DB_IS_POOLS (pools));
  g_assert_cmpuint (msb_db_pools_get_max_read_connections (pools), ==, 3);
  assert_error_outcome (find (opened, 2), MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN);

  /* Pools made with their properties, opened through the queue. */
  {
    g_autoptr(MsbDbPools) made = g_object_new (MSB_DB_TYPE_POOLS, "path", fx->path,
                                               "trusted-schema", TRUE, NULL);
    g_autoptr(MsbDbPools) broken = g_object_new (MSB_DB_TYPE_POOLS, "path", missing, NULL);
    g_autoptr(GArray) inited = NULL;

    msb_db_result_queue_init_pools (queue, 5, made, NULL);
    msb_db_result_queue_init_pools (queue, 6, broken, NULL);
    inited = collect (queue, 2, all, SLOW (10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint (find (inited, 5)->kind, ==, MSB_DB_RESULT_KIND_OBJECT);
    g_assert_true (g_value_get_object (payload (find (inited, 5), 0)) == made);
    g_assert_true (msb_db_pools_get_trusted_schema (made));
    g_assert_cmpint (test_read_int (made, "SELECT count(*) FROM t"), ==, 0);
    assert_error_outcome (find (inited, 6), MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN);
    g_assert_true (msb_db_pools_close (made, NULL, NULL));
  }

  /* Calls made after close() are refused, those made before finish. */
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *text = g_strdup_printf ("before %u", i);
      const char *values[] = { text, NULL };

      msb_db_result_queue_write (queue, 10 + i, pools, "INSERT INTO t (v) VALUES (?)", NULL, "t",
                                 values, NULL);
    }
  msb_db_result_queue_close (queue, 3, pools);
  msb_db_result_queue_write (queue, 4, pools, "INSERT INTO t (v) VALUES ('after')", NULL, NULL,
                             NULL, NULL);
  closed = collect (queue, 202, all, SLOW (20 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (find (closed, 3)->kind, ==, MSB_DB_RESULT_KIND_BOOLEAN);
  assert_error_outcome (find (closed, 4), MSB_DB_ERROR, MSB_DB_ERROR_CLOSED);
  for (guint i = 0; i < 200; i++)
    g_assert_cmpint (find (closed, 10 + i)->kind, ==, MSB_DB_RESULT_KIND_ROWS);
  g_assert_true (msb_db_pools_is_closed (pools));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 200);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE v = 'after'"), ==, 0);
}

/* A cursor opened and read through the queue, part after part. */
static void
test_cursor (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) opened = NULL;
  const char *values[] = { "0", NULL };
  MsbDbCursor *cursor;
  gint64 expected = 1;
  guint parts = 0;

  test_write_ok (fx->pools, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                            "WHERE x < 2500) INSERT INTO t (id) SELECT x FROM c", NULL);
  msb_db_result_queue_open_cursor (queue, 1, fx->pools, "SELECT id FROM t WHERE id > ? ORDER BY id",
                                   NULL, "i", values, NULL);
  opened = collect (queue, 1, all, SLOW (10 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (find (opened, 1)->kind, ==, MSB_DB_RESULT_KIND_OBJECT);
  cursor = g_value_get_object (payload (find (opened, 1), 0));
  g_assert_true (MSB_DB_IS_CURSOR (cursor));

  for (;;)
    {
      g_autoptr(GArray) part = NULL;
      const Outcome *o;
      guint n_rows;

      msb_db_result_queue_fetch (queue, 10 + parts, cursor, 1000, NULL);
      part = collect (queue, 1, all, SLOW (10 * G_TIME_SPAN_SECOND));
      o = find (part, 10 + parts);
      g_assert_cmpint (o->kind, ==, MSB_DB_RESULT_KIND_ROWS);
      n_rows = g_value_get_uint (payload (o, 1));
      g_assert_cmpuint (n_rows, <=, 1000);
      for (guint r = 0; r < n_rows; r++)
        g_assert_cmpint (g_value_get_int64 (payload (o, 5 + 1 + r)), ==, expected++);
      parts++;
      if (n_rows < 1000)
        break;
    }
  g_assert_cmpint (expected, ==, 2501);
  g_assert_cmpuint (parts, ==, 3);
  g_assert_true (msb_db_cursor_is_done (cursor));
  msb_db_cursor_close (cursor);

  /* A bad statement reports its error. */
  {
    g_autoptr(GArray) failed = NULL;

    msb_db_result_queue_open_cursor (queue, 99, fx->pools, "SELEC x", NULL, NULL, NULL, NULL);
    failed = collect (queue, 1, all, SLOW (10 * G_TIME_SPAN_SECOND));
    assert_error_outcome (find (failed, 99), MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  }
}

/* Dropping the queue with calls in flight: they still run, their outcomes
 * are dropped, its thread ends, nothing leaks or crashes. */
static void
test_abandon (Fixture       *fx,
              gconstpointer  data)
{
  MsbDbResultQueue *queue = new_queue ();

  g_assert_true (wait_threads_named ("msb-db-results", 1, SLOW (5 * G_TIME_SPAN_SECOND)));
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *text = g_strdup_printf ("%u", i);
      const char *values[] = { text, NULL };

      msb_db_result_queue_write (queue, i, fx->pools, "INSERT INTO t (v) VALUES (?)", NULL, "t",
                                 values, NULL);
    }
  g_object_unref (queue);

  /* The writes were queued: closing lets them finish. */
  g_assert_true (msb_db_pools_close (fx->pools, NULL, NULL));
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 500);

  /* The queue's thread ends once the last of them was freed. */
  g_assert_true (wait_threads_named ("msb-db-results", 0, SLOW (10 * G_TIME_SPAN_SECOND)));
}

static void
round_trip (MsbDbPools *pools,
            guint64     tag)
{
  g_autoptr(MsbDbResultQueue) queue = new_queue ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GArray) outcomes = NULL;

  g_assert_true (wait_threads_named ("msb-db-results", 1, SLOW (5 * G_TIME_SPAN_SECOND)));
  msb_db_result_queue_read (queue, tag, pools, "SELECT 1", NULL, NULL, NULL, NULL);
  outcomes = collect (queue, 1, all, SLOW (5 * G_TIME_SPAN_SECOND));
}

/* An idle queue's thread is joined, and its descriptor closed, when the
 * queue goes. */
static void
test_idle_queue_joins (Fixture       *fx,
                       gconstpointer  data)
{
  guint eventfds_before;

  /* The pools start their read workers on the first async read. */
  round_trip (fx->pools, 0);
  eventfds_before = count_eventfds ();
  for (guint i = 1; i <= 20; i++)
    {
      round_trip (fx->pools, i);
      /* Joined at once when the read's job was already freed; when the
       * read worker still held it, the thread ends as that job goes. */
      g_assert_true (wait_threads_named ("msb-db-results", 0, SLOW (5 * G_TIME_SPAN_SECOND)));
    }
  /* Not ==: the pools own eventfds of their own, made and dropped as they
   * go; a queue that kept its two would leave forty here. */
  g_assert_cmpuint (count_eventfds (), <=, eventfds_before);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/result-queue/" name, Fixture, NULL, setup_table, func, fixture_teardown)

  ADD ("fd-and-drain", test_fd_and_drain);
  ADD ("many-threads", test_many_threads);
  ADD ("errors", test_errors);
  ADD ("cancel-waiting", test_cancel_waiting);
  ADD ("cancel-running", test_cancel_running);
  ADD ("deadline", test_deadline);
  ADD ("bodies", test_bodies);
  ADD ("open-and-close", test_open_and_close);
  ADD ("cursor", test_cursor);
  ADD ("abandon", test_abandon);
  ADD ("idle-queue-joins", test_idle_queue_joins);

  return g_test_run ();
}
