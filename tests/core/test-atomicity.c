/* test-atomicity.c: all or nothing, and a bad write fails alone
 *
 * Statements that make SQLite roll back the whole transaction (OR ROLLBACK,
 * RAISE(ROLLBACK), an interrupted write), deferred constraints, settings a
 * write leaves behind, and a database file replaced under the pools: none
 * of them may commit part of a transaction, fail a write that did nothing
 * wrong, or acknowledge a commit that is not in the file at the path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <glib/gstdio.h>

#define LONG_UPDATE_SQL \
  "UPDATE t SET v = (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c " \
  "WHERE x < 1000000000) SELECT count(*) FROM c) WHERE id = 1"

static void
setup_schema (Fixture       *fx,
              gconstpointer  data)
{
  fixture_setup (fx, data);
  fx->pools = test_open (fx->path, 2, 0, 0);
  test_write_ok (fx->pools, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE u(k TEXT PRIMARY KEY)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE parent(id INTEGER PRIMARY KEY)", NULL);
  test_write_ok (fx->pools,
                 "CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER "
                 "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)", NULL);
  test_write_ok (fx->pools,
                 "CREATE TABLE strict_child(id INTEGER PRIMARY KEY, parent INTEGER "
                 "REFERENCES parent(id))", NULL);
  test_write_ok (fx->pools, "CREATE TABLE guarded(v TEXT)", NULL);
  test_write_ok (fx->pools,
                 "CREATE TRIGGER guard BEFORE INSERT ON guarded WHEN NEW.v = 'bad' "
                 "BEGIN SELECT RAISE(ROLLBACK, 'guarded refuses bad'); END", NULL);
  test_write_ok (fx->pools, "INSERT INTO parent(id) VALUES (1)", NULL);
  test_write_ok (fx->pools, "INSERT INTO u(k) VALUES ('taken')", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(id, v) VALUES (1, 'first')", NULL);
}

static gint64
count_rows (Fixture    *fx,
            const char *where)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM t WHERE %s", where);
  return raw_int (fx->path, sql);
}

/* ---- a transaction body after SQLite rolled the transaction back ------- */

typedef enum {
  BODY_OR_ROLLBACK,       /* INSERT OR ROLLBACK that conflicts */
  BODY_RAISE_ROLLBACK,    /* a trigger's RAISE(ROLLBACK) */
  BODY_CANCELLED_UPDATE,  /* a long UPDATE interrupted by cancellation */
} BodyBreaker;

typedef struct {
  BodyBreaker breaker;
  gboolean return_true;   /* the body ignores the failure and says TRUE */
  GError *breaker_error;  /* what the breaking statement reported */
  gboolean after_refused; /* the statement after it failed */
} BodyData;

static gboolean
body_breaks_transaction (MsbDbConnection  *connection,
                         gpointer          user_data,
                         GError          **error)
{
  BodyData *d = user_data;
  g_autoptr(MsbDbRows) before = NULL;
  g_autoptr(MsbDbRows) broken = NULL;
  g_autoptr(MsbDbRows) after = NULL;
  g_autoptr(GError) after_error = NULL;

  g_clear_error (&d->breaker_error);
  before = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('before')",
                                      NULL, error);
  if (before == NULL)
    return FALSE;

  switch (d->breaker)
    {
    case BODY_OR_ROLLBACK:
      broken = msb_db_connection_execute (connection, "INSERT OR ROLLBACK INTO u(k) VALUES ('taken')",
                                          NULL, &d->breaker_error);
      break;
    case BODY_RAISE_ROLLBACK:
      broken = msb_db_connection_execute (connection, "INSERT INTO guarded(v) VALUES ('bad')",
                                          NULL, &d->breaker_error);
      break;
    case BODY_CANCELLED_UPDATE:
      broken = msb_db_connection_execute (connection, LONG_UPDATE_SQL, NULL, &d->breaker_error);
      break;
    }
  g_assert_null (broken);
  g_assert_nonnull (d->breaker_error);

  /* What a careless body does next: write an audit row and carry on. */
  after = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('after')",
                                     NULL, &after_error);
  d->after_refused = after == NULL;

  if (d->return_true)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the body gave up");
  return FALSE;
}

typedef struct {
  GCancellable *cancellable;
  GTimeSpan delay;
} DelayedCancel;

static gpointer
delayed_cancel_thread (gpointer data)
{
  DelayedCancel *dc = data;

  g_usleep (dc->delay);
  g_cancellable_cancel (dc->cancellable);
  return NULL;
}

static void
check_body_outcome (Fixture    *fx,
                    BodyBreaker breaker,
                    gboolean    return_true)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  BodyData d = { breaker, return_true, NULL, FALSE };
  DelayedCancel dc = { cancellable, 200 * G_TIME_SPAN_MILLISECOND };
  GThread *canceller = NULL;
  gint64 later_before;
  gboolean ok;

  if (breaker == BODY_CANCELLED_UPDATE)
    canceller = g_thread_new ("canceller", delayed_cancel_thread, &dc);
  ok = msb_db_pools_transaction (fx->pools, body_breaks_transaction, &d, cancellable, &error);
  if (canceller != NULL)
    g_thread_join (canceller);

  /* All or nothing: nothing of the body is in the file, and the call says
   * it failed, whatever the body returned. */
  g_assert_false (ok);
  g_assert_nonnull (error);
  g_assert_cmpint (count_rows (fx, "v = 'before'"), ==, 0);
  g_assert_cmpint (count_rows (fx, "v = 'after'"), ==, 0);
  g_assert_true (d.after_refused);
  if (return_true)
    assert_message_contains (error, "rolled back");
  else
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);

  /* The pools carry on. */
  later_before = count_rows (fx, "v = 'later'");
  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('later')", NULL);
  g_assert_cmpint (count_rows (fx, "v = 'later'"), ==, later_before + 1);
  g_clear_error (&d.breaker_error);
}

static void
test_body_or_rollback (Fixture       *fx,
                       gconstpointer  data)
{
  check_body_outcome (fx, BODY_OR_ROLLBACK, TRUE);
  check_body_outcome (fx, BODY_OR_ROLLBACK, FALSE);
}

static void
test_body_raise_rollback (Fixture       *fx,
                          gconstpointer  data)
{
  check_body_outcome (fx, BODY_RAISE_ROLLBACK, TRUE);
  check_body_outcome (fx, BODY_RAISE_ROLLBACK, FALSE);
}

static void
test_body_cancelled_update (Fixture       *fx,
                            gconstpointer  data)
{
  check_body_outcome (fx, BODY_CANCELLED_UPDATE, TRUE);
  check_body_outcome (fx, BODY_CANCELLED_UPDATE, FALSE);
}

/* ---- batch-mates of a bad write ---------------------------------------- */

typedef struct {
  MsbDbRows *rows;
  GError *error;
  gboolean done;
} Outcome;

typedef struct {
  Outcome *outcomes;
  guint n;
  guint done;
} Outcomes;

typedef struct {
  Outcomes *all;
  guint index;
} OutcomeRef;

static void
write_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  OutcomeRef *ref = user_data;
  Outcome *o = &ref->all->outcomes[ref->index];

  o->rows = msb_db_pools_write_finish (MSB_DB_POOLS (source), result, &o->error);
  o->done = TRUE;
  ref->all->done++;
  g_free (ref);
}

static void
queue_write (MsbDbPools   *pools,
             Outcomes     *all,
             guint         index,
             const char   *sql,
             GVariant     *params,
             GCancellable *cancellable)
{
  OutcomeRef *ref = g_new0 (OutcomeRef, 1);

  ref->all = all;
  ref->index = index;
  msb_db_pools_write_async (pools, sql, params, cancellable, write_done, ref);
}

static void
outcomes_clear (Outcomes *all)
{
  for (guint i = 0; i < all->n; i++)
    {
      g_clear_object (&all->outcomes[i].rows);
      g_clear_error (&all->outcomes[i].error);
    }
  g_free (all->outcomes);
}

/* Queues 50 good writes and one bad one after the 11th while the writer is
 * busy, so that all of them land in one group-commit batch; then checks
 * that the good ones all committed and the bad one failed alone. */
static void
check_bad_write_fails_alone (Fixture      *fx,
                             const char   *bad_sql,
                             gboolean      cancel_bad,
                             GQuark        domain,
                             gint          code)
{
  const guint n_good = 50, bad_at = 11;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcomes all = { g_new0 (Outcome, n_good + 1), n_good + 1, 0 };
  Blocker *blocker = blocker_start (fx->pools, TRUE);
  g_autoptr(MsbDbStats) stats = NULL;
  DelayedCancel dc = { cancellable, 300 * G_TIME_SPAN_MILLISECOND };
  GThread *canceller = NULL;
  guint good = 0;

  for (guint i = 0; i <= n_good; i++)
    {
      if (i == bad_at)
        queue_write (fx->pools, &all, i, bad_sql, NULL, cancel_bad ? cancellable : NULL);
      else
        queue_write (fx->pools, &all, i, "INSERT INTO t(v) VALUES (?)",
                     g_variant_new ("(s)", "good"), NULL);
    }
  /* The blocker's transaction is batched with the writes queued behind it,
   * so it only returns once they have run: cancel from another thread. */
  if (cancel_bad)
    canceller = g_thread_new ("canceller", delayed_cancel_thread, &dc);
  blocker_finish (blocker);
  test_wait_count (&all.done, all.n, 60);
  if (canceller != NULL)
    g_thread_join (canceller);

  for (guint i = 0; i <= n_good; i++)
    {
      Outcome *o = &all.outcomes[i];

      if (i == bad_at)
        {
          g_assert_null (o->rows);
          g_assert_error (o->error, domain, code);
          continue;
        }
      g_assert_no_error (o->error);
      g_assert_nonnull (o->rows);
      g_assert_cmpint (msb_db_rows_get_changes (o->rows), ==, 1);
      good++;
    }
  g_assert_cmpuint (good, ==, n_good);
  g_assert_cmpint (count_rows (fx, "v = 'good'"), ==, n_good);
  /* An innocent write is not counted as a busy retry. */
  stats = msb_db_pools_get_stats (fx->pools);
  g_assert_cmpuint (stats->busy_retries, ==, 0);
  outcomes_clear (&all);
}

static void
test_batch_deferred_fk (Fixture       *fx,
                        gconstpointer  data)
{
  check_bad_write_fails_alone (fx, "INSERT INTO child(parent) VALUES (42)", FALSE,
                               MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM child"), ==, 0);
}

static void
test_batch_or_rollback (Fixture       *fx,
                        gconstpointer  data)
{
  check_bad_write_fails_alone (fx, "INSERT OR ROLLBACK INTO u(k) VALUES ('taken')", FALSE,
                               MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
}

static void
test_batch_raise_rollback (Fixture       *fx,
                           gconstpointer  data)
{
  check_bad_write_fails_alone (fx, "INSERT INTO guarded(v) VALUES ('bad')", FALSE,
                               MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM guarded"), ==, 0);
}

static void
test_batch_cancelled_update (Fixture       *fx,
                             gconstpointer  data)
{
  check_bad_write_fails_alone (fx, LONG_UPDATE_SQL, TRUE, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE id = 1 AND v = 'first'"), ==, 1);
}

/* OR FAIL keeps what a failing statement changed before the failure: in a
 * batch, that write still fails alone and leaves nothing. */
static void
test_batch_or_fail (Fixture       *fx,
                    gconstpointer  data)
{
  check_bad_write_fails_alone (fx, "INSERT OR FAIL INTO u(k) VALUES ('new1'), ('new2'), ('taken')",
                               FALSE, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM u WHERE k LIKE 'new%'"), ==, 0);
}

/* A setting a write changes for its own transaction does not reach the
 * writes batched after it: an immediate foreign key still fails at once,
 * alone. */
static void
test_batch_defer_pragma (Fixture       *fx,
                         gconstpointer  data)
{
  Outcomes all = { g_new0 (Outcome, 4), 4, 0 };
  Blocker *blocker = blocker_start (fx->pools, TRUE);

  queue_write (fx->pools, &all, 0, "INSERT INTO t(v) VALUES ('good')", NULL, NULL);
  queue_write (fx->pools, &all, 1, "PRAGMA defer_foreign_keys = ON", NULL, NULL);
  queue_write (fx->pools, &all, 2, "INSERT INTO strict_child(parent) VALUES (42)", NULL, NULL);
  queue_write (fx->pools, &all, 3, "INSERT INTO t(v) VALUES ('good')", NULL, NULL);
  blocker_finish (blocker);
  test_wait_count (&all.done, all.n, 60);

  g_assert_no_error (all.outcomes[0].error);
  g_assert_no_error (all.outcomes[1].error);
  g_assert_error (all.outcomes[2].error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  g_assert_no_error (all.outcomes[3].error);
  g_assert_cmpint (count_rows (fx, "v = 'good'"), ==, 2);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM strict_child"), ==, 0);
  outcomes_clear (&all);
}

/* A deferred violation that a transaction body repairs before it returns
 * is fine; one it leaves fails that transaction alone. */
static gboolean
body_repairs_fk (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  g_autoptr(MsbDbRows) a = NULL;
  g_autoptr(MsbDbRows) b = NULL;
  gboolean repair = GPOINTER_TO_INT (user_data);

  a = msb_db_connection_execute (connection, "INSERT INTO child(parent) VALUES (7)", NULL, error);
  if (a == NULL)
    return FALSE;
  if (!repair)
    return TRUE;
  b = msb_db_connection_execute (connection, "INSERT INTO parent(id) VALUES (7)", NULL, error);
  return b != NULL;
}

static void
test_body_deferred_fk (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_transaction (fx->pools, body_repairs_fk, GINT_TO_POINTER (FALSE),
                                            NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM child"), ==, 0);
  g_clear_error (&error);

  g_assert_true (msb_db_pools_transaction (fx->pools, body_repairs_fk, GINT_TO_POINTER (TRUE),
                                           NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM child"), ==, 1);
}

/* ---- the row id of a write that inserted nothing ----------------------- */

static void
test_rowid_of_nothing (Fixture       *fx,
                       gconstpointer  data)
{
  Outcomes all = { g_new0 (Outcome, 4), 4, 0 };
  Blocker *blocker = blocker_start (fx->pools, TRUE);
  g_autoptr(MsbDbRows) parent = NULL;
  g_autoptr(MsbDbRows) child = NULL;
  g_autoptr(GError) error = NULL;

  /* Batched behind another caller's insert of row 777001. */
  queue_write (fx->pools, &all, 0, "INSERT INTO t(id, v) VALUES (777001, 'other')", NULL, NULL);
  queue_write (fx->pools, &all, 1, "INSERT OR IGNORE INTO u(k) VALUES ('taken')", NULL, NULL);
  queue_write (fx->pools, &all, 2, "UPDATE t SET v = 'x' WHERE id = -5", NULL, NULL);
  queue_write (fx->pools, &all, 3, "UPDATE t SET v = 'y' WHERE id = 1", NULL, NULL);
  blocker_finish (blocker);
  test_wait_count (&all.done, all.n, 60);

  for (guint i = 0; i < all.n; i++)
    g_assert_no_error (all.outcomes[i].error);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (all.outcomes[0].rows), ==, 777001);
  g_assert_cmpint (msb_db_rows_get_changes (all.outcomes[1].rows), ==, 0);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (all.outcomes[1].rows), ==, 0);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (all.outcomes[2].rows), ==, 0);
  g_assert_cmpint (msb_db_rows_get_changes (all.outcomes[3].rows), ==, 1);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (all.outcomes[3].rows), ==, 0);
  outcomes_clear (&all);

  /* An insert whose row id equals the previous insert's (another table)
   * still reports it. */
  test_write_ok (fx->pools, "CREATE TABLE a(id INTEGER PRIMARY KEY)", NULL);
  test_write_ok (fx->pools, "CREATE TABLE b(id INTEGER PRIMARY KEY)", NULL);
  parent = msb_db_pools_write (fx->pools, "INSERT INTO a(id) VALUES (5)", NULL, NULL, &error);
  g_assert_no_error (error);
  child = msb_db_pools_write (fx->pools, "INSERT INTO b(id) VALUES (5)", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (parent), ==, 5);
  g_assert_cmpint (msb_db_rows_get_last_insert_rowid (child), ==, 5);
}

/* last_insert_rowid() keeps working inside a body, across statements. */
static gboolean
body_links_child (MsbDbConnection  *connection,
                  gpointer          user_data,
                  GError          **error)
{
  g_autoptr(MsbDbRows) p = NULL;
  g_autoptr(MsbDbRows) c = NULL;

  p = msb_db_connection_execute (connection, "INSERT INTO parent(id) VALUES (900)", NULL, error);
  if (p == NULL)
    return FALSE;
  c = msb_db_connection_execute (connection,
                                 "INSERT INTO strict_child(parent) VALUES (last_insert_rowid())",
                                 NULL, error);
  return c != NULL;
}

static void
test_rowid_in_body (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_pools_transaction (fx->pools, body_links_child, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx->path, "SELECT parent FROM strict_child"), ==, 900);
}

/* ---- the file replaced under the pools --------------------------------- */

typedef struct {
  const char *path;
  char *replacement;
} ReplaceData;

static void
make_replacement (ReplaceData *r,
                  const char  *dir)
{
  r->replacement = g_build_filename (dir, "replacement.db", NULL);
  raw_exec (r->replacement, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
}

static gboolean
body_replaces_file (MsbDbConnection  *connection,
                    gpointer          user_data,
                    GError          **error)
{
  ReplaceData *r = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(v) VALUES ('during')", NULL, error);
  if (rows == NULL)
    return FALSE;
  g_assert_cmpint (g_rename (r->replacement, r->path), ==, 0);
  return TRUE;
}

static void
test_replaced_during_transaction (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  ReplaceData r = { fx->path, NULL };
  g_autoptr(MsbDbRows) later = NULL;

  make_replacement (&r, fx->dir);
  g_assert_false (msb_db_pools_transaction (fx->pools, body_replaces_file, &r, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "replaced");
  /* What is at the path does not have the row. */
  g_assert_cmpint (count_rows (fx, "v = 'during'"), ==, 0);
  g_clear_error (&error);

  /* And every later write says why it cannot be done. */
  later = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('later')", NULL, NULL, &error);
  g_assert_null (later);
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "replaced");
  g_assert_cmpint (count_rows (fx, "v = 'later'"), ==, 0);
  g_free (r.replacement);
}

static void
test_replaced_during_batch (Fixture       *fx,
                            gconstpointer  data)
{
  const guint n = 20;
  Outcomes all = { g_new0 (Outcome, n), n, 0 };
  ReplaceData r = { fx->path, NULL };
  Blocker *blocker = blocker_start (fx->pools, TRUE);
  g_autoptr(GError) error = NULL;

  make_replacement (&r, fx->dir);
  for (guint i = 0; i < n; i++)
    queue_write (fx->pools, &all, i, "INSERT INTO t(v) VALUES ('batched')", NULL, NULL);
  g_assert_cmpint (g_rename (r.replacement, r.path), ==, 0);
  /* The blocker's own (empty) transaction commits after the rename: it
   * cannot be acknowledged either. */
  g_assert_false (blocker_finish_outcome (blocker, &error));
  assert_message_contains (error, "replaced");
  test_wait_count (&all.done, all.n, 60);

  for (guint i = 0; i < n; i++)
    {
      g_assert_null (all.outcomes[i].rows);
      assert_msb_error (all.outcomes[i].error, MSB_DB_ERROR_FAILED);
    }
  g_assert_cmpint (count_rows (fx, "v = 'batched'"), ==, 0);
  outcomes_clear (&all);
  g_free (r.replacement);
}

/* The -wal file deleted while the pools are open: SQLite would keep
 * writing to the deleted file. What was acknowledged must reach the
 * database file: the write that finds the log deleted copies it there,
 * with every write before it, since no other process has the database
 * open (and only then is it acknowledged); every later write fails. */
static void
test_wal_deleted (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (fx->path, "-wal", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) later = NULL;

  for (guint i = 0; i < 100; i++)
    test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('acknowledged')", NULL);
  g_assert_cmpint (g_unlink (wal), ==, 0);

  test_write_ok (fx->pools, "INSERT INTO t(v) VALUES ('acknowledged')", NULL);
  later = msb_db_pools_write (fx->pools, "INSERT INTO t(v) VALUES ('later')", NULL, NULL, &error);
  g_assert_null (later);
  assert_msb_error (error, MSB_DB_ERROR_FAILED);
  assert_message_contains (error, "-wal");

  /* A new connection, as after a crash, finds every acknowledged row. */
  g_assert_cmpint (count_rows (fx, "v = 'acknowledged'"), ==, 101);
  g_assert_cmpint (count_rows (fx, "v = 'later'"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/atomicity/" name, Fixture, NULL, setup_schema, func, fixture_teardown)

  ADD ("body/or-rollback", test_body_or_rollback);
  ADD ("body/raise-rollback", test_body_raise_rollback);
  ADD ("body/cancelled-update", test_body_cancelled_update);
  ADD ("body/deferred-fk", test_body_deferred_fk);
  ADD ("batch/deferred-fk", test_batch_deferred_fk);
  ADD ("batch/or-rollback", test_batch_or_rollback);
  ADD ("batch/raise-rollback", test_batch_raise_rollback);
  ADD ("batch/cancelled-update", test_batch_cancelled_update);
  ADD ("batch/or-fail", test_batch_or_fail);
  ADD ("batch/defer-pragma", test_batch_defer_pragma);
  ADD ("rowid/nothing-inserted", test_rowid_of_nothing);
  ADD ("rowid/in-body", test_rowid_in_body);
  ADD ("replaced/during-transaction", test_replaced_during_transaction);
  ADD ("replaced/during-batch", test_replaced_during_batch);
  ADD ("replaced/wal-deleted", test_wal_deleted);

  return g_test_run ();
}
