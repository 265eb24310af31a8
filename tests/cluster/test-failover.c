/* test-failover.c: MsbDbPools on a dqlite cluster when things go wrong
 *
 * Three `msb-db node` processes on 127.0.0.1. The tests:
 *  - open errors: a malformed target fails at once, unreachable nodes within
 *    the connect-timeout, each address named;
 *  - exactly once: a proxy in front of the leader loses a COMMIT, or its
 *    answer, for a lone write, a batch of async writes and a transaction;
 *    every write is then in the database exactly once, and when nobody can
 *    tell whether it committed, the error says the outcome is unknown;
 *  - failover rounds: async writes with unique ids while the leader is
 *    killed with SIGKILL; every acknowledged id is present exactly once,
 *    every failed one at most once, nothing else; the failover time seen by
 *    the callers is logged;
 *  - a killed node restarted with its directory catches up: the leadership
 *    moves to it and the counts are the same;
 *  - quorum lost (two of three nodes down): calls fail with a clear error
 *    within the connect-timeout, close() returns promptly, and the same
 *    pools work again once a node is back;
 *  - Debian's `dqlite` shell, an independent client, reads back exactly
 *    what MsbDbPools wrote.
 *
 * Environment: MSB_DB_TOOL (the msb-db binary), MSB_DB_DQLITE_SHELL (the
 * `dqlite` shell, or empty if it is not installed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <msb-db.h>

#include "cluster-nodes.h"
#include "fault-proxy.h"
#include "../core/test-common.h"

#define N_NODES 3
#define ROUNDS 5
#define WRITES_PER_ROUND 300
#define KILL_AFTER 100
#define IN_FLIGHT 32

static Cluster *cl;

/* Helpers ------------------------------------------------------------------ */

static MsbDbPools *
open_pools (const char *target,
            GTimeSpan   connect_timeout)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools = msb_db_pools_open (target, 2, connect_timeout, 0, NULL, &error);

  g_assert_no_error (error);
  return pools;
}

/* The rows of @sql, read by the cluster's leader directly. */
static MsbDbRows *
observe (const char *db,
         const char *sql)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, db);
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_dqlite_client_query_sql (client, sql, NULL, NULL, &error);

  g_assert_no_error (error);
  return rows;
}

static gint64
observe_int (const char *db,
             const char *sql)
{
  g_autoptr(MsbDbRows) rows = observe (db, sql);

  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

static gint64
count_id (const char *db,
          gint64      id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM ids WHERE id = %" G_GINT64_FORMAT, id);

  return observe_int (db, sql);
}

static void
write_id (MsbDbPools *pools,
          gint64      id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write (pools, "INSERT INTO ids (id) VALUES (?)",
                                                  g_variant_new ("(x)", id), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_changes (rows), ==, 1);
}

/* Outcomes of async writes, each id's on its own. */
typedef struct {
  GHashTable *acked;     /* id -> completion time */
  GHashTable *failed;    /* id -> GError message */
  guint pending;
  gint64 kill_at;        /* 0 before the kill */
  gint64 first_ack_after_kill;
} Outcomes;

typedef struct {
  Outcomes *outcomes;
  gint64 id;
} WriteCall;

static void
write_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  WriteCall *call = user_data;
  Outcomes *o = call->outcomes;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &error);
  gint64 now = g_get_monotonic_time ();

  if (rows != NULL)
    {
      g_hash_table_insert (o->acked, g_memdup2 (&call->id, sizeof call->id),
                           g_memdup2 (&now, sizeof now));
      if (o->kill_at != 0 && o->first_ack_after_kill == 0)
        o->first_ack_after_kill = now;
    }
  else
    g_hash_table_insert (o->failed, g_memdup2 (&call->id, sizeof call->id),
                         g_strdup (error->message));
  o->pending--;
  g_free (call);
}

static void
write_id_async (MsbDbPools *pools,
                Outcomes   *o,
                gint64      id)
{
  WriteCall *call = g_new0 (WriteCall, 1);

  call->outcomes = o;
  call->id = id;
  o->pending++;
  msb_db_pools_write_async (pools, "INSERT INTO ids (id) VALUES (?)", g_variant_new ("(x)", id),
                            NULL, write_done, call);
}

static void
outcomes_init (Outcomes *o)
{
  memset (o, 0, sizeof *o);
  o->acked = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  o->failed = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
}

static void
outcomes_clear (Outcomes *o)
{
  g_hash_table_unref (o->acked);
  g_hash_table_unref (o->failed);
}

static void
wait_pending (Outcomes *o,
              GTimeSpan timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout;

  while (o->pending > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Every acknowledged id exactly once, every failed one at most once, and
 * no id that was never written. */
static void
check_exactly_once (const char *db,
                    Outcomes   *o,
                    gint64      first_id,
                    gint64      last_id)
{
  g_autoptr(MsbDbRows) rows = observe (db, "SELECT id, count(*) FROM ids GROUP BY id");
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  for (guint r = 0; r < msb_db_rows_get_n_rows (rows); r++)
    {
      gint64 id = msb_db_rows_get_int64 (rows, r, 0);
      gint64 n = msb_db_rows_get_int64 (rows, r, 1);

      if (id < first_id || id > last_id)
        continue;
      if (n != 1)
        g_error ("id %" G_GINT64_FORMAT " is in the database %" G_GINT64_FORMAT " times", id, n);
      if (!g_hash_table_contains (o->acked, &id) && !g_hash_table_contains (o->failed, &id))
        g_error ("id %" G_GINT64_FORMAT " is in the database but was never written", id);
      g_hash_table_add (seen, g_memdup2 (&id, sizeof id));
    }
  g_hash_table_iter_init (&iter, o->acked);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (seen, key))
      g_error ("id %" G_GINT64_FORMAT " was acknowledged but is not in the database",
               *(gint64 *) key);
}

static void
create_ids_table (MsbDbPools *pools)
{
  /* No key: a write applied twice must show as two rows. */
  test_write_ok (pools, "CREATE TABLE IF NOT EXISTS ids (id INTEGER NOT NULL)", NULL);
}

/* Open errors -------------------------------------------------------------- */

static void
test_open_errors (void)
{
  g_autofree char *dead1 = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  g_autofree char *dead2 = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  g_autofree char *unreachable = g_strdup_printf ("dqlite://%s,%s/db", dead1, dead2);
  static const char * const malformed[] = {
    "dqlite://127.0.0.1/db", "dqlite://127.0.0.1:9001", "dqlite:///db",
    "dqlite://127.0.0.1:70000/db", "dqlite://,127.0.0.1:1/db",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbPools) pools = NULL;
      gint64 start = g_get_monotonic_time ();

      pools = msb_db_pools_open (malformed[i], 0, 10 * G_TIME_SPAN_SECOND, 0, NULL, &error);
      g_assert_null (pools);
      g_test_message ("%s -> %s", malformed[i], error->message);
      assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
      assert_message_contains (error, "dqlite://127.0.0.1:9001,127.0.0.1:9002");
      g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (G_TIME_SPAN_SECOND));
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbPools) pools = NULL;
    gint64 start = g_get_monotonic_time ();
    gint64 elapsed;

    pools = msb_db_pools_open (unreachable, 0, 700 * G_TIME_SPAN_MILLISECOND, 0, NULL, &error);
    elapsed = g_get_monotonic_time () - start;
    g_assert_null (pools);
    g_test_message ("%s -> %s (%" G_GINT64_FORMAT " ms)", unreachable, error->message,
                    elapsed / 1000);
    assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
    assert_message_contains (error, dead1);
    assert_message_contains (error, dead2);
    assert_message_contains (error, "refused");
    g_assert_cmpint (elapsed, >=, 600 * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpint (elapsed, <, SLOW (3 * G_TIME_SPAN_SECOND));
  }
}

/* Exactly once, with a COMMIT lost on the way ------------------------------ */

typedef struct {
  gint64 id;
  guint runs;
} TxData;

static gboolean
insert_in_transaction (MsbDbConnection  *connection,
                       gpointer          user_data,
                       GError          **error)
{
  TxData *d = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  d->runs++;
  rows = msb_db_connection_execute (connection, "INSERT INTO ids (id) VALUES (?)",
                                    g_variant_new ("(x)", d->id), error);
  return rows != NULL;
}

static void
check_lost_commit (MsbDbPools *pools,
                   FaultProxy *proxy,
                   const char *db,
                   FaultMode   mode,
                   gint64      base)
{
  guint fired = fault_proxy_get_fired (proxy);
  g_autoptr(GError) error = NULL;
  TxData tx = { base + 2, 0 };
  Outcomes o;

  /* A lone blocking write: the writer is idle, the caller runs it. */
  fault_proxy_arm (proxy, mode, FALSE);
  write_id (pools, base);
  g_assert_cmpuint (fault_proxy_get_fired (proxy), ==, ++fired);
  g_assert_cmpint (count_id (db, base), ==, 1);

  /* A transaction: its body runs again only if the COMMIT never arrived. */
  fault_proxy_arm (proxy, mode, FALSE);
  g_assert_true (msb_db_pools_transaction (pools, insert_in_transaction, &tx, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fault_proxy_get_fired (proxy), ==, ++fired);
  g_assert_cmpuint (tx.runs, ==, mode == FAULT_DROP_COMMIT ? 2 : 1);
  g_assert_cmpint (count_id (db, tx.id), ==, 1);

  /* A batch of async writes on the writer thread. */
  outcomes_init (&o);
  fault_proxy_arm (proxy, mode, FALSE);
  for (gint64 id = base + 10; id < base + 60; id++)
    write_id_async (pools, &o, id);
  wait_pending (&o, SLOW (30 * G_TIME_SPAN_SECOND));
  g_assert_cmpuint (fault_proxy_get_fired (proxy), ==, ++fired);
  g_assert_cmpuint (g_hash_table_size (o.failed), ==, 0);
  check_exactly_once (db, &o, base + 10, base + 59);
  outcomes_clear (&o);
}

static void
test_exactly_once_lost_commit (void)
{
  const char *db = "exactly-once";
  g_autofree char *leader = NULL;
  g_autoptr(FaultProxy) proxy = NULL;
  g_autofree char *target = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  guint64 id;

  cluster_current_leader (cl, &id, &leader);
  proxy = fault_proxy_new (leader);
  target = g_strdup_printf ("dqlite://%s/%s", fault_proxy_get_address (proxy), db);
  pools = open_pools (target, 5 * G_TIME_SPAN_SECOND);
  create_ids_table (pools);

  /* The node committed; its answer was lost: asked, the leader has it. */
  check_lost_commit (pools, proxy, db, FAULT_DROP_COMMIT_ANSWER, 1000);
  /* The COMMIT never arrived: asked, the leader does not have it. */
  check_lost_commit (pools, proxy, db, FAULT_DROP_COMMIT, 2000);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

/* The answer to COMMIT is lost and no leader can be asked: the error says
 * the outcome is unknown, within the connect-timeout (twice: once waiting
 * for the answer, once for a leader to ask). */
static void
test_exactly_once_unknown (void)
{
  const char *db = "exactly-once-unknown";
  const GTimeSpan timeout = 1 * G_TIME_SPAN_SECOND;
  g_autofree char *leader = NULL;
  g_autoptr(FaultProxy) proxy = NULL;
  g_autofree char *target = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start, elapsed;
  guint64 id;

  cluster_current_leader (cl, &id, &leader);
  proxy = fault_proxy_new (leader);
  target = g_strdup_printf ("dqlite://%s/%s", fault_proxy_get_address (proxy), db);
  pools = open_pools (target, timeout);
  create_ids_table (pools);

  fault_proxy_arm (proxy, FAULT_DROP_COMMIT_ANSWER, TRUE);
  start = g_get_monotonic_time ();
  rows = msb_db_pools_write (pools, "INSERT INTO ids (id) VALUES (?)", g_variant_new ("(x)", 7),
                             NULL, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_null (rows);
  g_test_message ("%s (after %" G_GINT64_FORMAT " ms)", error->message, elapsed / 1000);
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "outcome of the transaction is unknown");
  g_assert_cmpint (elapsed, <, SLOW (2 * timeout + G_TIME_SPAN_SECOND));
  /* It had committed: the node got the COMMIT. */
  g_assert_cmpint (count_id (db, 7), ==, 1);

  start = g_get_monotonic_time ();
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (timeout + G_TIME_SPAN_SECOND));
}

/* A leader that hangs ------------------------------------------------------- */

typedef struct {
  GCancellable *cancellable;
  GTimeSpan delay;
} LaterCancel;

static gpointer
cancel_later (gpointer data)
{
  LaterCancel *later = data;

  g_usleep (later->delay);
  g_cancellable_cancel (later->cancellable);
  return NULL;
}

typedef struct {
  MsbDbPools *pools;
  GError *error;
  gint64 returned_at;
} StalledRead;

static gpointer
read_in_thread (gpointer data)
{
  StalledRead *read = data;
  MsbDbRows *rows = msb_db_pools_read (read->pools, "SELECT count(*) FROM ids", NULL, NULL,
                                       &read->error);

  read->returned_at = g_get_monotonic_time ();
  g_clear_object (&rows);
  return NULL;
}

/* The leader stops answering (the proxy holds its answers back): a call
 * waiting on the network stops when it is cancelled, and when the pools
 * close, within a bounded time, though the connect-timeout is long. */
static void
test_hung_leader (void)
{
  const char *db = "hung";
  g_autofree char *leader = NULL;
  g_autoptr(FaultProxy) proxy = NULL;
  g_autofree char *target = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  LaterCancel later = { cancellable, 200 * G_TIME_SPAN_MILLISECOND };
  StalledRead read = { NULL, NULL, 0 };
  GThread *thread;
  gint64 start, closed_at;
  guint64 id;

  cluster_current_leader (cl, &id, &leader);
  proxy = fault_proxy_new (leader);
  target = g_strdup_printf ("dqlite://%s/%s", fault_proxy_get_address (proxy), db);
  pools = open_pools (target, 60 * G_TIME_SPAN_SECOND);
  create_ids_table (pools);
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM ids"), ==, 0);

  fault_proxy_stall (proxy, TRUE);
  start = g_get_monotonic_time ();
  thread = g_thread_new ("cancel", cancel_later, &later);
  rows = msb_db_pools_read (pools, "SELECT count(*) FROM ids", NULL, cancellable, &error);
  g_thread_join (thread);
  g_assert_null (rows);
  g_test_message ("cancelled read: %s after %" G_GINT64_FORMAT " ms", error->message,
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (G_TIME_SPAN_SECOND));

  /* A read stuck on the network when the pools close. */
  read.pools = pools;
  thread = g_thread_new ("read", read_in_thread, &read);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  start = g_get_monotonic_time ();
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  closed_at = g_get_monotonic_time ();
  g_thread_join (thread);
  g_test_message ("close() with a read waiting on a hung leader: %" G_GINT64_FORMAT " ms; the read: %s",
                  (closed_at - start) / 1000, read.error ? read.error->message : "(success)");
  g_assert_error (read.error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED);
  g_assert_cmpint (closed_at - start, <, SLOW (2 * G_TIME_SPAN_SECOND));
  g_assert_cmpint (read.returned_at - start, <, SLOW (G_TIME_SPAN_SECOND));
  g_clear_error (&read.error);
  fault_proxy_stall (proxy, FALSE);
}

/* Failover ----------------------------------------------------------------- */

static ClusterNode *last_restarted;

static void
test_failover_rounds (void)
{
  const char *db = "failover";
  g_autofree char *target = cluster_target (cl, db);
  g_autoptr(MsbDbPools) pools = open_pools (target, 15 * G_TIME_SPAN_SECOND);
  g_autoptr(GArray) failover_ms = g_array_new (FALSE, FALSE, sizeof (gint64));
  Outcomes o;
  gint64 next_id = 1;

  create_ids_table (pools);
  outcomes_init (&o);
  for (guint round = 0; round < ROUNDS; round++)
    {
      ClusterNode *victim = cluster_leader_node (cl);
      gint64 last = next_id + WRITES_PER_ROUND - 1;
      guint acked_before = g_hash_table_size (o.acked);

      o.kill_at = 0;
      o.first_ack_after_kill = 0;
      while (next_id <= last)
        {
          if (o.pending < IN_FLIGHT)
            write_id_async (pools, &o, next_id++);
          else
            g_main_context_iteration (NULL, TRUE);
          if (o.kill_at == 0 && g_hash_table_size (o.acked) >= acked_before + KILL_AFTER)
            {
              cluster_node_kill (victim);
              o.kill_at = g_get_monotonic_time ();
            }
        }
      wait_pending (&o, SLOW (60 * G_TIME_SPAN_SECOND));
      g_assert_cmpint (o.kill_at, !=, 0);
      g_assert_cmpint (o.first_ack_after_kill, >, 0);
      {
        gint64 ms = (o.first_ack_after_kill - o.kill_at) / 1000;

        g_array_append_val (failover_ms, ms);
        g_test_message ("round %u: leader %s killed; first write acknowledged %" G_GINT64_FORMAT
                        " ms later; %u acknowledged, %u failed so far", round, victim->address,
                        ms, g_hash_table_size (o.acked), g_hash_table_size (o.failed));
      }
      /* Back with its directory, for the next round. */
      cluster_node_start (cl, victim, NULL);
      last_restarted = victim;
    }

  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, o.failed);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_test_message ("id %" G_GINT64_FORMAT " failed: %s", *(gint64 *) key, (char *) value);
  }
  check_exactly_once (db, &o, 1, next_id - 1);
  g_assert_cmpuint (g_hash_table_size (o.acked) + g_hash_table_size (o.failed), ==, next_id - 1);
  outcomes_clear (&o);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

/* A node killed while writes go on, restarted with its directory (same id
 * and address, no --join), catches up: once it leads, it has every write.
 * The node killed last by the failover rounds, or a follower. */
static void
test_restarted_node_catches_up (void)
{
  const char *db = "catch-up";
  g_autofree char *target = cluster_target (cl, db);
  g_autoptr(MsbDbPools) pools = open_pools (target, 15 * G_TIME_SPAN_SECOND);
  ClusterNode *leader = cluster_leader_node (cl);
  ClusterNode *victim = last_restarted != NULL && last_restarted != leader ? last_restarted : NULL;
  gint64 count, sum;

  for (guint i = 0; i < N_NODES && victim == NULL; i++)
    if (&cl->nodes[i] != leader)
      victim = &cl->nodes[i];

  create_ids_table (pools);
  write_id (pools, 1);
  cluster_node_kill (victim);
  for (gint64 id = 2; id <= 100; id++)
    write_id (pools, id);
  cluster_node_start (cl, victim, NULL);

  count = observe_int (db, "SELECT count(*) FROM ids");
  sum = observe_int (db, "SELECT sum(id) FROM ids");
  g_assert_cmpint (count, ==, 100);
  cluster_transfer_to (cl, victim);
  g_assert_true (cluster_leader_node (cl) == victim);

  /* The same pools, on the new leader. */
  g_assert_cmpint (test_read_int (pools, "SELECT count(*) FROM ids"), ==, count);
  g_assert_cmpint (test_read_int (pools, "SELECT sum(id) FROM ids"), ==, sum);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

/* Quorum lost -------------------------------------------------------------- */

static void
assert_fails_within (MsbDbPools *pools,
                     gboolean    write,
                     GTimeSpan   timeout)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  if (write)
    rows = msb_db_pools_write (pools, "INSERT INTO ids (id) VALUES (-1)", NULL, NULL, &error);
  else
    rows = msb_db_pools_read (pools, "SELECT count(*) FROM ids", NULL, NULL, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_null (rows);
  g_test_message ("%s without quorum: %s (after %" G_GINT64_FORMAT " ms)",
                  write ? "write" : "read", error->message, elapsed / 1000);
  assert_msb_error (error, MSB_DB_ERROR_CANT_OPEN);
  assert_message_contains (error, "No dqlite leader found");
  g_assert_cmpint (elapsed, <, SLOW (timeout + G_TIME_SPAN_SECOND));
}

static void
test_quorum_lost (void)
{
  const char *db = "quorum";
  const GTimeSpan timeout = 2 * G_TIME_SPAN_SECOND;
  g_autofree char *target = cluster_target (cl, db);
  g_autoptr(MsbDbPools) pools = open_pools (target, timeout);
  g_autoptr(MsbDbPools) other = open_pools (target, timeout);
  ClusterNode *leader = cluster_leader_node (cl);
  ClusterNode *follower = NULL;
  Outcomes o;
  gint64 start;

  create_ids_table (pools);
  write_id (pools, 1);
  for (guint i = 0; i < N_NODES && follower == NULL; i++)
    if (&cl->nodes[i] != leader)
      follower = &cl->nodes[i];

  /* Two of three down: the last node cannot elect itself. */
  cluster_node_kill (leader);
  cluster_node_kill (follower);
  assert_fails_within (pools, TRUE, timeout);
  assert_fails_within (other, FALSE, timeout);

  /* One back: a majority again, and the same pools work again. */
  cluster_node_start (cl, follower, NULL);
  write_id (pools, 2);
  g_assert_cmpint (test_read_int (other, "SELECT count(*) FROM ids WHERE id > 0"), ==, 2);

  /* Down again, with a write in flight: close() ends it, promptly. */
  cluster_node_kill (follower);
  outcomes_init (&o);
  write_id_async (other, &o, 3);
  start = g_get_monotonic_time ();
  g_assert_true (msb_db_pools_close (other, NULL, NULL));
  g_test_message ("close() without quorum, a write in flight: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (timeout + G_TIME_SPAN_SECOND));
  wait_pending (&o, SLOW (timeout + G_TIME_SPAN_SECOND));
  g_assert_cmpuint (g_hash_table_size (o.failed), ==, 1);
  outcomes_clear (&o);

  start = g_get_monotonic_time ();
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (G_TIME_SPAN_SECOND));

  cluster_node_start (cl, follower, NULL);
  cluster_node_start (cl, leader, NULL);
  g_assert_cmpint (observe_int (db, "SELECT count(*) FROM ids WHERE id IN (1, 2)"), ==, 2);
}

/* The independent client --------------------------------------------------- */

static void
test_crosscheck_go_shell (void)
{
  const char *shell = cluster_go_shell_or_skip ();
  const char *db = "crosscheck";
  g_autofree char *target = cluster_target (cl, db);
  g_autoptr(MsbDbPools) pools = NULL;
  static const guint8 blob[] = { 0, 255, 7 };

  if (shell == NULL)
    return;

  pools = open_pools (target, 15 * G_TIME_SPAN_SECOND);
  test_write_ok (pools, "CREATE TABLE cross (i INTEGER, r REAL, t TEXT, b BLOB, n)", NULL);
  test_write_ok (pools, "INSERT INTO cross VALUES (?, ?, ?, ?, ?)",
                 g_variant_new ("(xds@ayms)", G_GINT64_CONSTANT (-9007199254740993), 0.5,
                                "héllo wörld",
                                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, sizeof blob, 1),
                                NULL));
  test_write_ok (pools, "INSERT INTO cross VALUES (:i, :r, :t, :b, :n)",
                 g_variant_new_parsed ("{'i': <int64 42>, 't': <''>, 'r': <-1e300>, "
                                       "'b': <@ay []>, 'n': <@ms nothing>}"));
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));

  cluster_assert_cross_via_go_shell (cl, shell, db);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  /* A node killed mid-response must not kill the tests. */
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/failover/open-errors", test_open_errors);
  g_test_add_func ("/failover/exactly-once/lost-commit", test_exactly_once_lost_commit);
  g_test_add_func ("/failover/exactly-once/unknown", test_exactly_once_unknown);
  g_test_add_func ("/failover/crosscheck-go-shell", test_crosscheck_go_shell);
  g_test_add_func ("/failover/hung-leader", test_hung_leader);
  g_test_add_func ("/failover/rounds", test_failover_rounds);
  g_test_add_func ("/failover/restarted-node-catches-up", test_restarted_node_catches_up);
  g_test_add_func ("/failover/quorum-lost", test_quorum_lost);

  cl = cluster_new (N_NODES, 0);
  cluster_start (cl);
  status = g_test_run ();
  cluster_free (cl);
  return status;
}
