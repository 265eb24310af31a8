/* test-checkpoint.c: keeping the WAL bounded without stalling anybody
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#define N_WRITES 3000

typedef struct {
  MsbDbPools *pools;
  gint done;               /* atomic: this load is over */
  gint *stop;              /* atomic: stop when this is set (another load's done) */
  guint ok;
  guint failed;
  gint64 worst;            /* µs, for the log */
  char *first_failure;
} Load;

static gpointer
write_load (gpointer data)
{
  Load *load = data;
  g_autofree char *blob = g_malloc0 (2000);
  g_autoptr(GBytes) bytes = g_bytes_new_static (blob, 2000);

  for (guint i = 0; i < N_WRITES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      GVariant *value = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);

      rows = msb_db_pools_write (load->pools, "INSERT INTO t(b) VALUES (?)",
                                 g_variant_new_tuple (&value, 1), NULL, &error);
      if (rows != NULL)
        load->ok++;
      else
        {
          if (load->first_failure == NULL)
            load->first_failure = g_strdup (error->message);
          load->failed++;
        }
      /* A steady writer, not a flood: the log a pinned reader lets grow
       * must stay small enough to fold back quickly afterwards. */
      g_usleep (500);
    }
  g_atomic_int_set (&load->done, TRUE);
  return NULL;
}

static gpointer
read_load (gpointer data)
{
  Load *load = data;

  while (!g_atomic_int_get (load->stop))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      gint64 start = g_get_monotonic_time ();

      rows = msb_db_pools_read (load->pools, "SELECT id FROM t WHERE id = 1", NULL, NULL, &error);
      load->worst = MAX (load->worst, g_get_monotonic_time () - start);
      if (rows != NULL)
        load->ok++;
      else
        {
          if (load->first_failure == NULL)
            load->first_failure = g_strdup (error->message);
          load->failed++;
        }
    }
  return NULL;
}

/* A snapshot that has read, so that it holds its read transaction (and
 * with it a place in the log), then waits at a gate. */
typedef struct {
  MsbDbPools *pools;
  Gate gate;
  GThread *thread;
  gboolean ok;
  GError *error;
} LongReader;

static gboolean
long_reader_body (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  LongReader *r = user_data;
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, "SELECT count(*) FROM t",
                                                         NULL, error);

  if (rows == NULL)
    return FALSE;
  gate_enter_and_wait (&r->gate);
  return TRUE;
}

static gpointer
long_reader_thread (gpointer data)
{
  LongReader *r = data;

  r->ok = msb_db_pools_snapshot (r->pools, long_reader_body, r, NULL, &r->error);
  return NULL;
}

static void
long_reader_start (LongReader *r,
                   MsbDbPools *pools)
{
  r->pools = pools;
  gate_init (&r->gate);
  r->thread = g_thread_new ("long-reader", long_reader_thread, r);
  g_assert_true (gate_wait_entered (&r->gate, 10 * G_TIME_SPAN_SECOND));
}

static void
long_reader_finish (LongReader *r)
{
  gate_release (&r->gate);
  g_thread_join (r->thread);
  g_assert_no_error (r->error);
  g_assert_true (r->ok);
  gate_clear (&r->gate);
}

/* A snapshot that stays open for seconds pins the WAL: no checkpoint can
 * restart the log while it lives. The writer must not make every other
 * read wait for it (holding new reads in the hope that the log frees up):
 * with a short connect timeout, not one read or write may time out. The
 * stats say that checkpoints were blocked. */
static void
test_long_reader_does_not_stall (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autoptr(MsbDbStats) stats = NULL;
  LongReader long_reader = { 0 };
  Load writes = { 0 }, reads = { 0 };
  GThread *writer, *reader;

  fx->pools = test_open (fx->path, 4, SLOW (250 * G_TIME_SPAN_MILLISECOND), 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(id) VALUES (1)", NULL);

  long_reader_start (&long_reader, fx->pools);
  writes = (Load) { fx->pools };
  reads = (Load) { fx->pools, .stop = &writes.done };
  writer = g_thread_new ("writes", write_load, &writes);
  reader = g_thread_new ("reads", read_load, &reads);
  g_thread_join (writer);
  g_thread_join (reader);
  long_reader_finish (&long_reader);

  stats = msb_db_pools_get_stats (fx->pools);
  g_test_message ("%u writes, %u reads (worst %" G_GINT64_FORMAT " us), %" G_GUINT64_FORMAT
                  " checkpoints, %" G_GUINT64_FORMAT " blocked, wal %" G_GUINT64_FORMAT " bytes",
                  writes.ok, reads.ok, reads.worst, stats->checkpoints,
                  stats->checkpoints_blocked, stats->wal_bytes);
  if (reads.first_failure != NULL)
    g_test_message ("first read failure: %s", reads.first_failure);
  if (writes.first_failure != NULL)
    g_test_message ("first write failure: %s", writes.first_failure);
  g_assert_cmpuint (writes.failed, ==, 0);
  g_assert_cmpuint (reads.failed, ==, 0);
  g_assert_cmpuint (writes.ok, >, 1000);
  g_assert_cmpuint (stats->checkpoints_blocked, >, 0);
  g_assert_cmpuint (stats->pool_timeouts, ==, 0);

  /* Once the reader is gone, the log restarts again. */
  {
    guint64 before = stats->checkpoints;
    g_autoptr(MsbDbStats) later = NULL;

    gint64 give_up = g_get_monotonic_time () + SLOW (10 * G_TIME_SPAN_SECOND);

    do
      {
        g_clear_pointer (&later, msb_db_stats_free);
        for (guint i = 0; i < 100; i++)
          test_write_ok (fx->pools, "INSERT INTO t(b) VALUES (zeroblob(2000))", NULL);
        later = msb_db_pools_get_stats (fx->pools);
      }
    while (later->checkpoints == before && g_get_monotonic_time () < give_up);
    g_assert_cmpuint (later->checkpoints, >, before);
  }
  g_free (writes.first_failure);
  g_free (reads.first_failure);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/checkpoint/long-reader-does-not-stall", Fixture, NULL, fixture_setup,
              test_long_reader_does_not_stall, fixture_teardown);

  return g_test_run ();
}
