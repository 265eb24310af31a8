/* msb-db-dqlite-backend.c: a database in a dqlite cluster
 *
 * The second backend behind msb-db-backend.h: each MsbDbBackendConn is one
 * connection of MsbDb's own dqlite client (msb-db-dqlite-client.c) to the
 * leader of the cluster, with the database opened on it. Reads go to the
 * leader too: dqlite serves nothing anywhere else.
 *
 * Leader changes. A request that meets "not leader" (10250), "leadership
 * lost" (10506), a vanished statement, or a dropped connection gives the
 * connection up: its statements, and any transaction open on it, are gone.
 * The call fails with MSB_DB_ERROR_BUSY, which the library reads as "run
 * the whole unit again" (msb-db-retry.c): a read, a snapshot, a write
 * batch. The next request connects again: leader discovery, OPEN, the
 * settings, and statements prepared again as they are used. Discovery
 * backs off while there is no leader, for at most the connect-timeout;
 * then the call fails with MSB_DB_ERROR_CANT_OPEN naming every node tried.
 *
 * Exactly once. A write transaction that writes also records, just before
 * its COMMIT and inside it, a marker: one row per write connection in
 * `msb_db_commits`, keyed by a random id of that connection, holding the
 * sequence number of its last commit. When the answer to a COMMIT is lost
 * (the leader died or stepped down after it got the request), the
 * transaction may or may not be in the cluster. The connection then finds
 * the new leader, has it commit a write of its own first (settle_log()),
 * and reads its marker there: the new leader either has the commit or
 * never will. Present: the COMMIT is reported done. Absent: it
 * fails with BUSY, and the writer runs the batch again. Only when no leader
 * answers that question within the connect-timeout does the COMMIT fail,
 * with an error that says its outcome is unknown. A write outside any
 * transaction runs in a transaction of its own for the same reason.
 *
 * What the text of a statement says stands in for what SQLite's authorizer
 * tells the local backend (msb-db-sql-scan.c): transaction control, ATTACH
 * and the PRAGMAs MsbDb sets are refused, a statement that may write is
 * refused on a read-only connection, and the kind of statement decides
 * whether it runs as EXEC (its change count and row id kept) or QUERY (its
 * rows). dqlite 1.11 cannot EXEC a statement with RETURNING (it stops at
 * the first row), and does not replicate a QUERY that writes and commits
 * by itself (its leader then fails on the next write); but a QUERY that
 * writes inside a transaction is replicated with the COMMIT. So a write
 * with RETURNING runs as a QUERY, always inside a transaction: every write
 * of the writer is (see above). When a query fails while it runs, dqlite
 * 1.11 sends the column names in place of the error; for a write with
 * RETURNING, the real error is found by running it once more without
 * RETURNING inside a savepoint that is then rolled back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <sqlite3.h>

#include "msb-db-bind.h"
#include "msb-db-dqlite-backend.h"
#include "msb-db-dqlite-client.h"
#include "msb-db-error-private.h"
#include "msb-db-rows-private.h"
#include "msb-db-sql-scan.h"

/* dqlite's extended codes for a node that is not, or no longer, leader. */
#define DQLITE_NOT_LEADER       (SQLITE_IOERR | (40 << 8))
#define DQLITE_LEADERSHIP_LOST  (SQLITE_IOERR | (41 << 8))

#define DEFAULT_TIMEOUT (30 * G_TIME_SPAN_SECOND)

/* dqlite answers SQLITE_BUSY at once where SQLite would wait for the
 * write lock: BEGIN IMMEDIATE waits here instead, for at most the busy
 * timeout. Another connection holds the lock for a Raft round trip per
 * commit, and takes it again a network round trip after; nobody queues
 * for it. Asking again at long intervals would almost never find it free
 * against a busy writer, so the pauses stay short (and random, so that two
 * waiters do not keep asking at the same moments). */
#define BUSY_PAUSE_MIN (500)    /* microseconds */
#define BUSY_PAUSE_MAX (1500)

/* Markers of write connections that have not committed for this long are
 * removed by the next connection that starts writing. Times are the
 * leader's clock (the statement runs there), and the margin is wide: a
 * marker is only ever asked for within a connect-timeout of its commit. */
#define MARKER_KEEP_SECONDS (24 * 60 * 60)

/* The statements the backend runs itself, prepared once per connection. */
typedef enum {
  SQL_BEGIN,
  SQL_BEGIN_IMMEDIATE,
  SQL_COMMIT,
  SQL_ROLLBACK,
  SQL_SAVEPOINT,
  SQL_RELEASE,
  SQL_ROLLBACK_TO,
  SQL_MARKER_READ,
  N_INTERNAL_SQL
} InternalSql;

static const char * const internal_sql[] = {
  [SQL_BEGIN] = "BEGIN",
  [SQL_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
  [SQL_COMMIT] = "COMMIT",
  [SQL_ROLLBACK] = "ROLLBACK",
  [SQL_SAVEPOINT] = "SAVEPOINT msb_db_job",
  [SQL_RELEASE] = "RELEASE msb_db_job",
  [SQL_ROLLBACK_TO] = "ROLLBACK TO msb_db_job",
  [SQL_MARKER_READ] = "SELECT seq FROM msb_db_commits WHERE owner = ?",
};

static const InternalSql tx_op_sql[] = {
  [MSB_DB_TX_BEGIN] = SQL_BEGIN,
  [MSB_DB_TX_BEGIN_IMMEDIATE] = SQL_BEGIN_IMMEDIATE,
  [MSB_DB_TX_COMMIT] = SQL_COMMIT,
  [MSB_DB_TX_ROLLBACK] = SQL_ROLLBACK,
  [MSB_DB_TX_SAVEPOINT] = SQL_SAVEPOINT,
  [MSB_DB_TX_RELEASE] = SQL_RELEASE,
  [MSB_DB_TX_ROLLBACK_TO] = SQL_ROLLBACK_TO,
};

#define MARKER_SCHEMA \
  "CREATE TABLE IF NOT EXISTS msb_db_commits (" \
  " owner INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL)"
#define MARKER_PRUNE \
  "DELETE FROM msb_db_commits WHERE at < CAST (strftime ('%s', 'now') AS INTEGER) - ?"

#define FK_DEFERRABLE_SQL \
  "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE sql LIKE '%deferrable%initially%deferred%')"
#define FK_VIOLATIONS_SQL "SELECT count(*) FROM pragma_foreign_key_check"

/* A cheap statement that reads the database, and so makes the node's
 * SQLite connection load a schema that changed since its last statement. */
#define SCHEMA_REFRESH_SQL "SELECT count(*) FROM sqlite_master WHERE 0"

/* How many schema changes the connections of this process have made: a
 * connection that has not seen the latest refreshes before its next query
 * (see run_statement()). */
static gint schema_changes;

/* The settings every connection gets (dqlite itself decides journaling and
 * synchronisation). */
static const char * const connection_setup[] = {
  "PRAGMA foreign_keys = ON",
};

/* PRAGMAs MsbDb sets, or that would step around its settings: read only.
 * On dqlite a changed journal or locking mode would also break the node. */
static const char * const protected_pragmas[] = {
  "journal_mode", "synchronous", "foreign_keys", "busy_timeout", "trusted_schema",
  "writable_schema", "query_only", "locking_mode", "journal_size_limit",
  "wal_autocheckpoint", "ignore_check_constraints", "cell_size_check",
  "temp_store_directory", "data_store_directory", "mmap_size",
  "soft_heap_limit", "hard_heap_limit",
};

typedef struct
{
  char *sql;
  MsbDbDqliteStmt *stmt;
  GList link;
} CachedStatement;

typedef struct
{
  MsbDbBackendConn parent;

  char **addresses;
  char *name;
  GTimeSpan timeout;           /* connect-timeout: discovery, and each answer */
  GTimeSpan busy_timeout;
  guint cache_size;
  gboolean trusted_schema;

  /* `client` changes only on the thread that uses the connection, under
   * `lock`; interrupt() reads it under `lock` from any thread. */
  GMutex lock;
  MsbDbDqliteClient *client;   /* NULL: connect at the next request */
  GCancellable *discovery;     /* while looking for the leader */
  gint closing;                /* atomic: interrupt() was called */

  /* Statements prepared on `client`: bounded LRU, most recent first. */
  GHashTable *cache;
  GQueue lru;
  MsbDbDqliteStmt *internal[N_INTERNAL_SQL];
  MsbDbColumns *no_columns;

  /* Our transaction, from BEGIN until COMMIT or ROLLBACK. `lost` says why
   * it is gone (the connection dropped, or SQLite rolled it back when a
   * statement failed); until ROLLBACK nothing more runs in it. */
  gboolean tx_open;
  GError *lost;
  gboolean tx_writes;          /* a statement that may write ran in it */
  gboolean in_own_tx;          /* a write outside any transaction, in the
                                * transaction it runs in */
  gboolean release_pending;    /* the last job's RELEASE, not sent yet */
  gboolean tx_used;            /* a statement ran in it */
  gboolean job_failed;         /* a write of the current job failed on the
                                * node: whether it changed rows before it
                                * failed (OR FAIL) is not known */

  /* Deferred foreign keys: checked when a job ends, as the local backend
   * does, by counting violations; only where the schema declares deferred
   * keys or the job deferred them. */
  int fk_deferrable;           /* -1 unknown */
  gint64 fk_baseline;          /* violations at the start; -1 not counted */
  gboolean job_defers_fk;

  gint schema_seen;            /* schema_changes when last refreshed */

  /* Exactly once. */
  guint64 owner;               /* this connection's marker row */
  guint64 seq;                 /* of its last commit */
  gboolean marker_ready;       /* the marker table exists and was pruned */

  /* Change notifications. No update hook across the wire: the tables are
   * those the writes name (msb_db_sql_get_dml_table()), "*" for a write
   * that could have changed any. */
  gboolean tracking;
  GPtrArray *tx_tables;        /* written in the transaction */
  guint job_mark;              /* tx_tables->len when the job began */
  GPtrArray *committed_tables; /* committed since the last take */
  GHashTable *known_tables;    /* lower case -> the schema's name */
  gint known_tables_seen;      /* schema_changes when read; -1: never */
  gboolean schema_side_effects;/* triggers, foreign key actions, virtual
                                * tables: a write changes more than it
                                * names */
} MsbDbDqliteConn;

static const MsbDbBackendVTable dqlite_vtable;

/* Errors ------------------------------------------------------------------ */

static void
set_closed (GError **error)
{
  g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                       "The database is being closed: the statement was interrupted");
}

static int
timeout_ms (GTimeSpan timeout)
{
  return (int) MIN (timeout / G_TIME_SPAN_MILLISECOND, G_MAXINT);
}

/* TRUE if the last request failed because the connection is no use any
 * more: out of step, or the node is not leader (then its statements and
 * transactions are gone too, as they are when it says a statement does not
 * exist). */
static gboolean
connection_gone (MsbDbDqliteConn *self)
{
  guint64 code;

  if (self->client == NULL || msb_db_dqlite_client_is_broken (self->client))
    return TRUE;
  code = msb_db_dqlite_client_get_failure_code (self->client);
  return code == DQLITE_NOT_LEADER || code == DQLITE_LEADERSHIP_LOST || code == SQLITE_NOTFOUND;
}

static void
clear_statements (MsbDbDqliteConn *self)
{
  GList *link;

  while ((link = g_queue_pop_head_link (&self->lru)) != NULL)
    {
      CachedStatement *entry = link->data;

      g_hash_table_remove (self->cache, entry->sql);
      msb_db_dqlite_stmt_free (entry->stmt);
      g_free (entry->sql);
      g_free (entry);
    }
  for (guint i = 0; i < N_INTERNAL_SQL; i++)
    g_clear_pointer (&self->internal[i], msb_db_dqlite_stmt_free);
}

/* Gives the connection up; the next request connects again. Closing the
 * socket ends whatever transaction was open on the node. */
static void
drop_client (MsbDbDqliteConn *self)
{
  MsbDbDqliteClient *client;

  clear_statements (self);
  g_mutex_lock (&self->lock);
  client = g_steal_pointer (&self->client);
  g_mutex_unlock (&self->lock);
  msb_db_dqlite_client_free (client);
  self->fk_deferrable = -1;
}

/* The transaction is gone, for @cause: remember why, for whatever the unit
 * of work still tries to run in it. */
static void
lose_transaction (MsbDbDqliteConn *self,
                  const GError    *cause,
                  const char      *why)
{
  if (!self->tx_open || self->lost != NULL)
    return;
  self->lost = g_error_new (cause->domain, cause->code, "%s, and nothing of it was committed: %s",
                            why, cause->message);
}

static gboolean
refuse_if_lost (MsbDbDqliteConn  *self,
                GError          **error)
{
  if (!self->tx_open || self->lost == NULL)
    return FALSE;
  g_propagate_error (error, g_error_copy (self->lost));
  return TRUE;
}

/* Turns the error of a failed request into the caller's. A connection
 * that is gone becomes BUSY: the unit of work runs again, on the leader
 * found next time. */
static void
request_failed (MsbDbDqliteConn  *self,
                GError           *local_error,
                GError          **error)
{
  GError *busy;

  if (g_atomic_int_get (&self->closing))
    {
      g_error_free (local_error);
      drop_client (self);
      set_closed (error);
      return;
    }
  if (!connection_gone (self))
    {
      g_propagate_error (error, local_error);
      return;
    }

  g_debug ("dqlite: giving up the connection to %s: %s",
           self->client != NULL ? msb_db_dqlite_client_get_address (self->client) : "the leader",
           local_error->message);
  drop_client (self);
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      lose_transaction (self, local_error, "The transaction was cancelled");
      g_propagate_error (error, local_error);
      return;
    }
  busy = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                      "The dqlite leader changed or went away (%s); the call runs again "
                      "on the new leader", local_error->message);
  g_error_free (local_error);
  lose_transaction (self, busy, "The connection to the dqlite leader was lost in the middle "
                    "of the transaction");
  g_propagate_error (error, busy);
}

/* A statement failed on the node, inside our transaction. SQLite ends the
 * whole transaction for some failures (OR ROLLBACK, RAISE(ROLLBACK), a
 * full disk); later statements would then run in autocommit, outside it.
 * BEGIN tells: it fails inside a transaction, and succeeds only if SQLite
 * ended ours. */
static void
check_transaction_alive (MsbDbDqliteConn *self,
                         const GError    *cause)
{
  g_autoptr(GError) probe_error = NULL;

  if (!self->tx_open || self->lost != NULL || self->in_own_tx || self->client == NULL ||
      connection_gone (self))
    return;
  if (!msb_db_dqlite_client_exec_sql (self->client, "BEGIN", NULL, NULL, NULL, &probe_error))
    {
      if (connection_gone (self))
        {
          drop_client (self);
          lose_transaction (self, cause, "The connection to the dqlite leader was lost in the "
                            "middle of the transaction");
        }
      return;
    }
  if (!msb_db_dqlite_client_exec_sql (self->client, "ROLLBACK", NULL, NULL, NULL, NULL))
    drop_client (self);
  lose_transaction (self, cause, "The transaction was rolled back by SQLite when a statement failed");
}

static void
statement_failed (MsbDbDqliteConn  *self,
                  GError           *local_error,
                  GError          **error)
{
  check_transaction_alive (self, local_error);
  request_failed (self, local_error, error);
}

/* Connecting -------------------------------------------------------------- */

static void
cancel_discovery (GCancellable *cancellable,
                  gpointer      data)
{
  g_cancellable_cancel (data);
}

/* Leader discovery for at most @timeout, which the caller's @cancellable
 * and interrupt() both stop. */
static MsbDbDqliteClient *
find_leader (MsbDbDqliteConn  *self,
             GTimeSpan         timeout,
             GCancellable     *cancellable,
             GError          **error)
{
  g_autoptr(GCancellable) discovery = g_cancellable_new ();
  MsbDbDqliteClient *client;
  GError *local_error = NULL;
  gulong handler = 0;

  g_mutex_lock (&self->lock);
  self->discovery = discovery;
  g_mutex_unlock (&self->lock);
  if (g_atomic_int_get (&self->closing))
    g_cancellable_cancel (discovery);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_discovery), discovery, NULL);

  client = msb_db_dqlite_client_connect_leader ((const char * const *) self->addresses,
                                                MAX (timeout, 1), discovery, &local_error);

  g_cancellable_disconnect (cancellable, handler);
  g_mutex_lock (&self->lock);
  self->discovery = NULL;
  g_mutex_unlock (&self->lock);

  if (client != NULL)
    {
      msb_db_dqlite_client_set_timeout (client, self->timeout);
      return client;
    }
  if (g_atomic_int_get (&self->closing))
    {
      g_error_free (local_error);
      set_closed (error);
    }
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (local_error);
      if (!g_cancellable_set_error_if_cancelled (cancellable, error))
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
    }
  else
    g_propagate_error (error, local_error);
  return NULL;
}

static gboolean
open_database (MsbDbDqliteConn    *self,
               MsbDbDqliteClient  *client,
               GCancellable       *cancellable,
               GError            **error)
{
  if (!msb_db_dqlite_client_open (client, self->name, cancellable, error))
    return FALSE;
  /* These also wait until the node has applied the log it has (dqlite
   * runs a Raft barrier before a statement steps, when one is needed): a
   * node just elected may not have, and dqlite 1.11 prepares a statement
   * before that wait, against what it applied so far ("no such table" for
   * a young table). Nothing is prepared on a connection before this. */
  for (gsize i = 0; i < G_N_ELEMENTS (connection_setup); i++)
    if (!msb_db_dqlite_client_exec_sql (client, connection_setup[i], NULL, NULL, cancellable, error))
      return FALSE;
  if (!msb_db_dqlite_client_exec_sql (client, self->trusted_schema ? "PRAGMA trusted_schema = ON"
                                                                   : "PRAGMA trusted_schema = OFF",
                                      NULL, NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/* Makes sure there is a connection to the leader with the database open,
 * finding the leader for at most @timeout. */
static gboolean
ensure_connected (MsbDbDqliteConn  *self,
                  GTimeSpan         timeout,
                  GCancellable     *cancellable,
                  GError          **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout;

  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return FALSE;
    }
  if (self->client != NULL)
    return TRUE;

  for (gint64 start = g_get_monotonic_time ();;)
    {
      GError *local_error = NULL;
      MsbDbDqliteClient *client = find_leader (self, deadline - g_get_monotonic_time (),
                                               cancellable, error);
      guint64 code;
      gboolean moved;

      if (client == NULL)
        return FALSE;
      if (open_database (self, client, cancellable, &local_error))
        {
          g_mutex_lock (&self->lock);
          self->client = client;
          g_mutex_unlock (&self->lock);
          self->schema_seen = g_atomic_int_get (&schema_changes);
          if (g_atomic_int_get (&self->closing))
            msb_db_dqlite_client_abort (client);
          g_debug ("dqlite: “%s” open on the leader %s after %" G_GINT64_FORMAT " ms", self->name,
                   msb_db_dqlite_client_get_address (client),
                   (g_get_monotonic_time () - start) / 1000);
          return TRUE;
        }
      /* The leader may have moved on between discovery and OPEN. */
      code = msb_db_dqlite_client_get_failure_code (client);
      moved = msb_db_dqlite_client_is_broken (client) || code == DQLITE_NOT_LEADER ||
              code == DQLITE_LEADERSHIP_LOST;
      msb_db_dqlite_client_free (client);
      if (!moved || g_get_monotonic_time () >= deadline ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (g_atomic_int_get (&self->closing))
            {
              g_error_free (local_error);
              set_closed (error);
            }
          else
            g_propagate_error (error, local_error);
          return FALSE;
        }
      g_debug ("dqlite: the leader moved while opening “%s”: %s", self->name, local_error->message);
      g_error_free (local_error);
    }
}

/* Statements --------------------------------------------------------------- */

static void
evict_oldest (MsbDbDqliteConn *self)
{
  GList *oldest = g_queue_pop_tail_link (&self->lru);
  CachedStatement *entry = oldest->data;

  g_hash_table_remove (self->cache, entry->sql);
  /* Best effort: a statement left on the node goes with the connection. */
  msb_db_dqlite_client_finalize (self->client, entry->stmt, NULL, NULL);
  msb_db_dqlite_stmt_free (entry->stmt);
  g_free (entry->sql);
  g_free (entry);
}

/* The statement prepared for @sql on the current connection. */
static MsbDbDqliteStmt *
lookup_statement (MsbDbDqliteConn  *self,
                  const char       *sql,
                  GCancellable     *cancellable,
                  GError          **error)
{
  CachedStatement *entry = g_hash_table_lookup (self->cache, sql);
  MsbDbDqliteStmt *stmt;
  GError *local_error = NULL;

  if (entry != NULL)
    {
      g_queue_unlink (&self->lru, &entry->link);
      g_queue_push_head_link (&self->lru, &entry->link);
      return entry->stmt;
    }

  if (g_queue_get_length (&self->lru) >= self->cache_size)
    {
      evict_oldest (self);
      if (connection_gone (self))
        {
          request_failed (self, g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                                                     "the connection failed while freeing "
                                                     "a statement"), error);
          return NULL;
        }
    }
  stmt = msb_db_dqlite_client_prepare (self->client, sql, cancellable, &local_error);
  if (stmt == NULL)
    {
      statement_failed (self, local_error, error);
      return NULL;
    }
  entry = g_new0 (CachedStatement, 1);
  entry->sql = g_strdup (sql);
  entry->stmt = stmt;
  entry->link.data = entry;
  g_hash_table_insert (self->cache, entry->sql, entry);
  g_queue_push_head_link (&self->lru, &entry->link);
  return stmt;
}

static MsbDbDqliteStmt *
internal_statement (MsbDbDqliteConn  *self,
                    InternalSql       which,
                    GError          **error)
{
  GError *local_error = NULL;

  if (self->internal[which] != NULL)
    return self->internal[which];
  self->internal[which] = msb_db_dqlite_client_prepare (self->client, internal_sql[which], NULL,
                                                       &local_error);
  if (self->internal[which] == NULL)
    request_failed (self, local_error, error);
  return self->internal[which];
}

/* Runs one of the backend's own statements, without a cancellable: once
 * sent, its answer is waited for. */
static gboolean
run_internal (MsbDbDqliteConn  *self,
              InternalSql       which,
              GVariant         *params,
              GError          **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  MsbDbDqliteStmt *stmt;
  GError *local_error = NULL;

  if (self->client == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                           "The connection to the dqlite leader was lost");
      return FALSE;
    }
  stmt = internal_statement (self, which, error);
  if (stmt == NULL)
    return FALSE;
  if (msb_db_dqlite_client_exec (self->client, stmt, owned ? g_variant_ref (owned) : NULL, NULL,
                                 NULL, &local_error))
    return TRUE;
  request_failed (self, local_error, error);
  return FALSE;
}

/* The integer in the first column of the only row of @sql. */
static gboolean
query_int (MsbDbDqliteConn  *self,
           const char       *sql,
           GVariant         *params,
           gint64           *value,
           GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;
  GError *local_error = NULL;

  rows = msb_db_dqlite_client_query_sql (self->client, sql, params, NULL, &local_error);
  if (rows == NULL)
    {
      request_failed (self, local_error, error);
      return FALSE;
    }
  if (msb_db_rows_get_n_rows (rows) != 1 || msb_db_rows_get_n_columns (rows) < 1)
    {
      *value = -1;
      return TRUE;
    }
  *value = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

static gboolean
is_dml (MsbDbSqlVerb verb)
{
  return verb == MSB_DB_SQL_VERB_INSERT || verb == MSB_DB_SQL_VERB_UPDATE ||
         verb == MSB_DB_SQL_VERB_DELETE;
}

/* The result of a statement run for its effect. dqlite reports SQLite's
 * changes() and last_insert_rowid(), which keep the values of the last
 * INSERT, UPDATE or DELETE on the connection: only those statements report
 * them, and only an INSERT that inserted has a row id. */
static MsbDbRows *
result_rows (MsbDbDqliteConn         *self,
             MsbDbSqlVerb             verb,
             const MsbDbDqliteResult *result)
{
  MsbDbRows *rows = msb_db_rows_new (self->no_columns);
  gint64 changes = 0, rowid = 0;

  if (is_dml (verb))
    changes = (gint64) MIN (result->rows_affected, (guint64) G_MAXINT64);
  if (verb == MSB_DB_SQL_VERB_INSERT && changes > 0)
    rowid = (gint64) result->last_insert_id;
  msb_db_rows_seal (rows, changes, rowid);
  return rows;
}

/* A query that failed with SQLITE_ERROR and one word may be a query that
 * failed while it ran (dqlite sent its one column name as the message). */
static gboolean
failure_may_be_unreported (guint64 code)
{
  return code == MSB_DB_DQLITE_FAILURE_UNREPORTED || code == SQLITE_ERROR;
}

/* A write with RETURNING failed while it ran, and dqlite did not say why:
 * run it again without RETURNING, for its error, inside a savepoint that
 * is rolled back whatever happens. The error of the rerun replaces
 * *@error when it is one from SQLite. */
static void
diagnose_returning (MsbDbDqliteConn  *self,
                    const char       *sql,
                    GVariant         *params,
                    GError          **error)
{
  const char *returning = msb_db_sql_find_returning (sql);
  g_autofree char *bare = NULL;
  GError *rerun_error = NULL;
  guint64 code;

  if (returning == NULL || self->client == NULL || connection_gone (self) ||
      !failure_may_be_unreported (msb_db_dqlite_client_get_failure_code (self->client)))
    return;
  /* SQLite may have ended the transaction with the statement. */
  check_transaction_alive (self, *error);
  if (!self->tx_open || self->lost != NULL || self->client == NULL ||
      !msb_db_dqlite_client_exec_sql (self->client, "SAVEPOINT msb_db_diagnose", NULL, NULL, NULL,
                                      NULL))
    return;

  bare = g_strndup (sql, (gsize) (returning - sql));
  if (!msb_db_dqlite_client_exec_sql (self->client, bare, params ? g_variant_ref (params) : NULL,
                                      NULL, NULL, &rerun_error))
    {
      code = msb_db_dqlite_client_get_failure_code (self->client);
      if (code != 0 && !connection_gone (self))
        {
          g_autofree char *shown = msb_db_error_excerpt (sql);
          g_autofree char *message = g_strdup (rerun_error->message);
          char *in_sql = strstr (message, " in SQL: ");

          /* The message names the statement that failed: the caller's. */
          if (in_sql != NULL)
            *in_sql = '\0';
          g_clear_error (error);
          g_set_error (error, rerun_error->domain, rerun_error->code, "%s in SQL: %s",
                       message, shown);
        }
      g_clear_error (&rerun_error);
    }
  if (self->client == NULL || connection_gone (self) ||
      !msb_db_dqlite_client_exec_sql (self->client, "ROLLBACK TO msb_db_diagnose", NULL, NULL,
                                      NULL, NULL) ||
      !msb_db_dqlite_client_exec_sql (self->client, "RELEASE msb_db_diagnose", NULL, NULL, NULL,
                                      NULL))
    {
      g_autoptr(GError) cause = g_error_new_literal (MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                                                     "the connection failed while a failed "
                                                     "statement was looked into");

      if (self->client != NULL)
        drop_client (self);
      lose_transaction (self, cause, "The connection to the dqlite leader was lost in the "
                        "middle of the transaction");
    }
}

/* A read failed while it ran, and dqlite did not say why. Run as EXEC, a
 * statement stops at its first row (harmless for a read), and the error
 * of that first step comes back as it is: the real one, when the first
 * row is where it failed. */
static void
diagnose_read (MsbDbDqliteConn  *self,
               const char       *sql,
               GVariant         *params,
               GError          **error)
{
  g_autoptr(GError) rerun_error = NULL;
  g_autofree char *shown = NULL;
  guint64 code;

  if (self->client == NULL || connection_gone (self) ||
      !failure_may_be_unreported (msb_db_dqlite_client_get_failure_code (self->client)))
    return;
  if (!msb_db_dqlite_client_exec_sql (self->client, sql, params ? g_variant_ref (params) : NULL,
                                      NULL, NULL, &rerun_error))
    {
      code = msb_db_dqlite_client_get_failure_code (self->client);
      if (connection_gone (self) || code == 0)
        return;
      if (code != SQLITE_ROW && code != SQLITE_DONE)
        {
          g_clear_error (error);
          g_propagate_error (error, g_steal_pointer (&rerun_error));
          return;
        }
    }
  /* The first row came: the failure was later, and its cause is lost. */
  shown = msb_db_error_excerpt (sql);
  g_clear_error (error);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "The statement failed while it ran on the dqlite leader, which did not say why "
               "(dqlite 1.11 sends the column names in place of the error) [DQLITE_UNREPORTED] "
               "in SQL: %s", shown);
}

/* dqlite 1.11 sends a query's column names as SQLite has them right after
 * preparing it, before its first step; a node's connection whose schema
 * is out of date (another connection changed it) prepares with the old
 * one, and `SELECT *` would then come with the old columns. After a schema
 * change by this process, each connection first runs a statement that
 * makes its node connection load the new schema. */
static gboolean
refresh_schema (MsbDbDqliteConn  *self,
                GError          **error)
{
  gint changes = g_atomic_int_get (&schema_changes);
  g_autoptr(MsbDbRows) rows = NULL;
  GError *local_error = NULL;

  if (self->schema_seen == changes)
    return TRUE;
  rows = msb_db_dqlite_client_query_sql (self->client, SCHEMA_REFRESH_SQL, NULL, NULL, &local_error);
  if (rows == NULL)
    {
      request_failed (self, local_error, error);
      return FALSE;
    }
  self->schema_seen = changes;
  return TRUE;
}

/* A write that succeeded in the transaction, while changes are tracked:
 * the table it names, or "*" when it may have changed any (DDL, WITH).
 * A write that changed no row changed no table (SQLite has no statement
 * triggers). */
static void
note_write (MsbDbDqliteConn  *self,
            const char       *sql,
            MsbDbSqlVerb      verb,
            MsbDbRows        *rows)
{
  char *table;

  if (verb == MSB_DB_SQL_VERB_PRAGMA)
    return;
  if (!is_dml (verb))
    {
      g_ptr_array_add (self->tx_tables, g_strdup ("*"));
      return;
    }
  if (msb_db_rows_get_changes (rows) == 0)
    return;
  table = msb_db_sql_get_dml_table (sql);
  g_ptr_array_add (self->tx_tables, table != NULL ? table : g_strdup ("*"));
}

/* Runs one statement on the current connection. A statement that may
 * write runs as EXEC, prepared once and kept (@cache) or as text (a
 * script); with RETURNING, as a query (we are in a transaction). A read
 * runs as QUERY_SQL, prepared afresh each time: dqlite 1.11 sends the
 * column names of a kept statement as they were when it was prepared, even
 * after a schema change gave it other columns. */
static MsbDbRows *
run_statement (MsbDbDqliteConn  *self,
               const char       *sql,
               GVariant         *params,
               gboolean          may_write,
               gboolean          cache,
               GCancellable     *cancellable,
               GError          **error)
{
  MsbDbSqlVerb verb = msb_db_sql_get_verb (sql);
  GError *local_error = NULL;
  MsbDbRows *rows = NULL;

  if ((!may_write || msb_db_sql_has_returning (sql)) && !refresh_schema (self, error))
    return NULL;

  if (may_write && msb_db_sql_has_returning (sql))
    {
      self->tx_writes = TRUE;
      rows = msb_db_dqlite_client_query_returning (self->client, sql,
                                                   params ? g_variant_ref (params) : NULL,
                                                   verb == MSB_DB_SQL_VERB_INSERT, cancellable,
                                                   &local_error);
      if (rows == NULL)
        diagnose_returning (self, sql, params, &local_error);
    }
  else if (may_write)
    {
      MsbDbDqliteStmt *stmt = NULL;
      MsbDbDqliteResult result = { 0 };
      gboolean ok;

      if (cache && (stmt = lookup_statement (self, sql, cancellable, error)) == NULL)
        return NULL;
      self->tx_writes = TRUE;
      if (stmt != NULL)
        ok = msb_db_dqlite_client_exec (self->client, stmt, params ? g_variant_ref (params) : NULL,
                                        &result, cancellable, &local_error);
      else
        ok = msb_db_dqlite_client_exec_sql (self->client, sql, params ? g_variant_ref (params) : NULL,
                                            &result, cancellable, &local_error);
      if (ok)
        rows = result_rows (self, verb, &result);
      /* The schema may have changed: ask again about deferred keys, and
       * let the other connections know. */
      if (ok && verb == MSB_DB_SQL_VERB_OTHER)
        {
          self->fk_deferrable = -1;
          self->schema_seen = g_atomic_int_add (&schema_changes, 1) + 1;
        }
    }
  else
    {
      rows = msb_db_dqlite_client_query_sql (self->client, sql, params ? g_variant_ref (params) : NULL,
                                             cancellable, &local_error);
      if (rows == NULL)
        diagnose_read (self, sql, params, &local_error);
    }

  if (self->tx_open)
    self->tx_used = TRUE;
  if (rows != NULL && may_write && self->tracking && self->tx_open)
    note_write (self, sql, verb, rows);
  if (rows == NULL && may_write && self->tx_open && self->client != NULL &&
      !connection_gone (self))
    self->job_failed = TRUE;
  if (rows == NULL)
    statement_failed (self, local_error, error);
  return rows;
}

/* Refusals: what SQLite's authorizer refuses on a local file. */
static gboolean
check_statement (MsbDbDqliteConn  *self,
                 const char       *sql,
                 gboolean          may_write,
                 GError          **error)
{
  g_autofree char *shown = msb_db_error_excerpt (sql);
  g_autofree char *pragma = NULL;
  gboolean sets_value = FALSE;

  if (msb_db_sql_is_blank (sql))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                           "The SQL text holds no statement");
      return FALSE;
    }
  if (!msb_db_sql_is_blank (msb_db_sql_statement_end (sql)))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The SQL text holds more than one statement; send them one at a "
                   "time (in a transaction callback to make them atomic): %s", shown);
      return FALSE;
    }
  switch (msb_db_sql_get_verb (sql))
    {
    case MSB_DB_SQL_VERB_TRANSACTION:
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not "
                   "accepted as SQL: run the statements in a transaction callback with "
                   "msb_db_pools_transaction() [SQLITE_AUTH] in SQL: %s", shown);
      return FALSE;
    case MSB_DB_SQL_VERB_ATTACH:
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "ATTACH and DETACH are refused: a pools object serves exactly one "
                   "database [SQLITE_AUTH] in SQL: %s", shown);
      return FALSE;
    case MSB_DB_SQL_VERB_VACUUM:
      /* On a read connection: refused as a write, below. */
      if (self->parent.mode == MSB_DB_CONN_READ_ONLY)
        break;
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "VACUUM cannot run inside the writer's transaction: use "
                   "msb_db_pools_vacuum() [SQLITE_AUTH] in SQL: %s", shown);
      return FALSE;
    default:
      break;
    }
  pragma = msb_db_sql_get_pragma (sql, &sets_value);
  if (pragma != NULL && sets_value && g_strv_contains (protected_pragmas, pragma))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "PRAGMA %s is set by MsbDb on every connection and cannot be changed "
                   "[SQLITE_AUTH] in SQL: %s", pragma, shown);
      return FALSE;
    }
  return TRUE;
}

/* Deferred foreign keys -------------------------------------------------- */

static gboolean
count_fk_violations (MsbDbDqliteConn  *self,
                     gint64           *count,
                     GError          **error)
{
  return query_int (self, FK_VIOLATIONS_SQL, NULL, count, error);
}

/* At the start of a job: whether its end must count violations. */
static gboolean
prepare_fk_check (MsbDbDqliteConn  *self,
                  GError          **error)
{
  gint64 deferrable;

  self->job_defers_fk = FALSE;
  if (self->fk_deferrable < 0)
    {
      if (!query_int (self, FK_DEFERRABLE_SQL, NULL, &deferrable, error))
        return FALSE;
      self->fk_deferrable = deferrable > 0;
    }
  if (self->fk_deferrable && self->fk_baseline < 0)
    return count_fk_violations (self, &self->fk_baseline, error);
  return TRUE;
}

/* `PRAGMA defer_foreign_keys = ...` in a job: its end must count too. */
static gboolean
note_defer_pragma (MsbDbDqliteConn  *self,
                   const char       *sql,
                   GError          **error)
{
  g_autofree char *pragma = NULL;
  gboolean sets_value = FALSE;

  if (!self->tx_open)
    return TRUE;
  pragma = msb_db_sql_get_pragma (sql, &sets_value);
  if (pragma == NULL || !sets_value || !g_str_equal (pragma, "defer_foreign_keys"))
    return TRUE;
  self->job_defers_fk = TRUE;
  if (self->fk_baseline < 0)
    return count_fk_violations (self, &self->fk_baseline, error);
  return TRUE;
}

/* A job leaves no deferred foreign key violated: checked when it ends, not
 * at COMMIT, where it would fail every job of the batch. */
static gboolean
check_deferred_constraints (MsbDbDqliteConn  *self,
                            GError          **error)
{
  gint64 count;

  if (self->fk_baseline < 0 || !(self->fk_deferrable > 0 || self->job_defers_fk))
    return TRUE;
  if (!count_fk_violations (self, &count, error))
    return FALSE;
  if (count <= self->fk_baseline)
    return TRUE;
  g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT,
                       "FOREIGN KEY constraint failed [SQLITE_CONSTRAINT_FOREIGNKEY]: the "
                       "write leaves a deferred foreign key violated");
  return FALSE;
}

/* A job's `PRAGMA defer_foreign_keys` ends with the job. */
static void
end_job_settings (MsbDbDqliteConn *self)
{
  if (!self->job_defers_fk)
    return;
  self->job_defers_fk = FALSE;
  if (self->client != NULL)
    msb_db_dqlite_client_exec_sql (self->client, "PRAGMA defer_foreign_keys = OFF", NULL, NULL,
                                   NULL, NULL);
}

/* Transactions ------------------------------------------------------------- */

static void
end_transaction (MsbDbDqliteConn *self)
{
  self->tx_open = FALSE;
  self->release_pending = FALSE;
  self->tx_writes = FALSE;
  self->tx_used = FALSE;
  self->job_failed = FALSE;
  g_ptr_array_set_size (self->tx_tables, 0);
  self->job_mark = 0;
  self->fk_baseline = -1;
  self->job_defers_fk = FALSE;
  g_clear_error (&self->lost);
}

static gboolean
is_busy (MsbDbDqliteConn *self)
{
  return self->client != NULL &&
         (msb_db_dqlite_client_get_failure_code (self->client) & 0xff) == SQLITE_BUSY;
}

/* After a request that failed: TRUE, having paused, when the failure was
 * another connection's write transaction and there is time to try again
 * before @deadline; FALSE when the failure is the answer. */
static gboolean
pause_if_busy (MsbDbDqliteConn *self,
               gint64           deadline)
{
  if (!is_busy (self) || g_get_monotonic_time () >= deadline ||
      g_atomic_int_get (&self->closing))
    return FALSE;
  g_usleep (g_random_int_range (BUSY_PAUSE_MIN, BUSY_PAUSE_MAX));
  return TRUE;
}

/* BEGIN IMMEDIATE, waiting out another connection's write transaction for
 * at most the busy timeout. */
static gboolean
begin_write (MsbDbDqliteConn  *self,
             GError          **error)
{
  gint64 deadline = g_get_monotonic_time () + self->busy_timeout;

  for (;;)
    {
      GError *local_error = NULL;

      if (run_internal (self, SQL_BEGIN_IMMEDIATE, NULL, &local_error))
        return TRUE;
      if (!pause_if_busy (self, deadline))
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      g_error_free (local_error);
    }
}

static gboolean
begin (MsbDbDqliteConn  *self,
       MsbDbTxOp         op,
       GError          **error)
{
  if (self->tx_open)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "A transaction is already open on this connection");
      return FALSE;
    }
  if (!ensure_connected (self, self->timeout, NULL, error))
    return FALSE;
  if (op == MSB_DB_TX_BEGIN_IMMEDIATE ? !begin_write (self, error)
                                      : !run_internal (self, SQL_BEGIN, NULL, error))
    return FALSE;
  end_transaction (self);
  self->tx_open = TRUE;
  return TRUE;
}

/* The marker table exists (it is made on first use) and old markers are
 * gone: once per connection, inside its first write transaction. */
static gboolean
prepare_marker (MsbDbDqliteConn  *self,
                GError          **error)
{
  GError *local_error = NULL;

  if (self->marker_ready)
    return TRUE;
  if (!msb_db_dqlite_client_exec_sql (self->client, MARKER_SCHEMA, NULL, NULL, NULL, &local_error) ||
      !msb_db_dqlite_client_exec_sql (self->client, MARKER_PRUNE,
                                      g_variant_new ("(x)", (gint64) MARKER_KEEP_SECONDS),
                                      NULL, NULL, &local_error))
    {
      request_failed (self, local_error, error);
      return FALSE;
    }
  self->marker_ready = TRUE;
  return TRUE;
}

/* The marker and the COMMIT in one request (EXEC_SQL runs its statements
 * in turn and stops at the first that fails, so the COMMIT runs only after
 * the marker is in). Its parameters bind to the first statement. */
#define MARKER_AND_COMMIT \
  "INSERT OR REPLACE INTO msb_db_commits (owner, seq, at) " \
  "VALUES (?, ?, CAST (strftime ('%s', 'now') AS INTEGER)); COMMIT"

static gboolean
send_marker_and_commit (MsbDbDqliteConn  *self,
                        guint64           seq,
                        GError          **error)
{
  return prepare_marker (self, error) &&
         msb_db_dqlite_client_exec_sql (self->client, MARKER_AND_COMMIT,
                                        g_variant_new ("(xx)", (gint64) self->owner, (gint64) seq),
                                        NULL, NULL, error);
}

/* The marker table was dropped under us: the transaction is still open. */
static gboolean
marker_table_missing (MsbDbDqliteConn *self,
                      const GError    *error)
{
  return self->client != NULL && !connection_gone (self) &&
         (msb_db_dqlite_client_get_failure_code (self->client) & 0xff) == SQLITE_ERROR &&
         strstr (error->message, "msb_db_commits") != NULL;
}

typedef enum {
  MARKER_PRESENT,
  MARKER_ABSENT,
  MARKER_UNKNOWN,
} MarkerAnswer;

/* A write that always changes a page, so that it is a Raft entry: row 0,
 * no connection's, with a random number. */
#define MARKER_SETTLE \
  "INSERT OR REPLACE INTO msb_db_commits (owner, seq, at) " \
  "VALUES (0, ?, CAST (strftime ('%s', 'now') AS INTEGER))"

/* Before the leader can say that a commit is not there, it must have
 * committed an entry of its own term: until then an entry it lacks may
 * still be on another node, which a later election could make leader and
 * which would then commit it. (dqlite's own wait before a query does not
 * suffice: it is skipped when the node applied all it has, or while a
 * write transaction is open, as the lost one may still be.) So the leader
 * first commits a write of ours, waiting out another writer for at most
 * the deadline; once that is applied, so is every entry before it, and an
 * absent marker is absent for good. */
static gboolean
settle_log (MsbDbDqliteConn  *self,
            gint64            deadline,
            GError          **error)
{
  for (;;)
    {
      GError *local_error = NULL;
      gint64 nonce = (gint64) ((((guint64) g_random_int () << 32) | g_random_int ()) & G_MAXINT64);

      if (msb_db_dqlite_client_exec_sql (self->client, MARKER_SCHEMA, NULL, NULL, NULL,
                                         &local_error) &&
          msb_db_dqlite_client_exec_sql (self->client, MARKER_SETTLE,
                                         g_variant_new ("(x)", nonce), NULL, NULL, &local_error))
        return TRUE;
      if (!pause_if_busy (self, deadline))
        {
          request_failed (self, local_error, error);
          return FALSE;
        }
      g_error_free (local_error);
    }
}

static MarkerAnswer
read_marker (MsbDbDqliteConn  *self,
             guint64           seq,
             gint64            deadline,
             GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;
  GError *local_error = NULL;
  MsbDbDqliteStmt *stmt;

  if (!settle_log (self, deadline, error))
    return MARKER_UNKNOWN;
  stmt = internal_statement (self, SQL_MARKER_READ, error);
  if (stmt == NULL)
    return MARKER_UNKNOWN;
  rows = msb_db_dqlite_client_query (self->client, stmt, g_variant_new ("(x)", (gint64) self->owner),
                                     NULL, &local_error);
  if (rows == NULL)
    {
      /* A missing table holds no marker: nothing was ever committed. */
      if (!connection_gone (self) &&
          (msb_db_dqlite_client_get_failure_code (self->client) & 0xff) == SQLITE_ERROR)
        {
          g_error_free (local_error);
          return MARKER_ABSENT;
        }
      request_failed (self, local_error, error);
      return MARKER_UNKNOWN;
    }
  if (msb_db_rows_get_n_rows (rows) == 1 && msb_db_rows_get_int64 (rows, 0, 0) == (gint64) seq)
    return MARKER_PRESENT;
  return MARKER_ABSENT;
}

/* Asks the current leader for the marker of commit @seq, waiting for no
 * answer past @deadline. */
static MarkerAnswer
ask_marker (MsbDbDqliteConn  *self,
            guint64           seq,
            gint64            deadline,
            GError          **error)
{
  MarkerAnswer answer;

  if (!ensure_connected (self, deadline - g_get_monotonic_time (), NULL, error))
    return MARKER_UNKNOWN;
  msb_db_dqlite_client_set_timeout (self->client, MAX (deadline - g_get_monotonic_time (),
                                                       G_TIME_SPAN_MILLISECOND));
  answer = read_marker (self, seq, deadline, error);
  if (self->client != NULL)
    msb_db_dqlite_client_set_timeout (self->client, self->timeout);
  return answer;
}

/* The answer to COMMIT number @seq was lost: ask the leader found next
 * whether it has the commit, for at most the connect-timeout. */
static gboolean
resolve_commit (MsbDbDqliteConn  *self,
                guint64           seq,
                const GError     *cause,
                GError          **error)
{
  gint64 deadline = g_get_monotonic_time () + self->timeout;
  g_autoptr(GError) last_error = NULL;

  while (g_get_monotonic_time () < deadline && !g_atomic_int_get (&self->closing))
    {
      g_clear_error (&last_error);
      switch (ask_marker (self, seq, deadline, &last_error))
        {
        case MARKER_PRESENT:
          g_debug ("dqlite: the answer to a COMMIT was lost (%s); the leader has it: committed",
                   cause->message);
          return TRUE;
        case MARKER_ABSENT:
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                       "The dqlite leader went away during COMMIT (%s), and the cluster does "
                       "not have the transaction: it runs again", cause->message);
          return FALSE;
        case MARKER_UNKNOWN:
          break;
        }
    }
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "The outcome of the transaction is unknown: the dqlite leader went away during "
               "COMMIT (%s), and no leader could tell within %d ms whether it was committed (%s)",
               cause->message, timeout_ms (self->timeout),
               last_error != NULL ? last_error->message : "the database is being closed");
  return FALSE;
}

/* A failed COMMIT whose outcome is not known: the node may have passed it
 * to Raft before it went away, or stepped down. */
static gboolean
commit_outcome_unknown (MsbDbDqliteConn *self)
{
  guint64 code;

  if (self->client == NULL || msb_db_dqlite_client_is_broken (self->client))
    return TRUE;
  code = msb_db_dqlite_client_get_failure_code (self->client);
  return code == DQLITE_NOT_LEADER || code == DQLITE_LEADERSHIP_LOST ||
         (code & 0xff) == SQLITE_IOERR;
}

/* Change notifications: what a commit wrote, noted while tracked. */
static void
note_committed (MsbDbDqliteConn *self,
                GPtrArray       *written)
{
  if (!self->tracking)
    return;
  for (guint i = 0; i < written->len; i++)
    g_ptr_array_add (self->committed_tables, g_strdup (written->pdata[i]));
}

static gboolean
commit (MsbDbDqliteConn  *self,
        GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) written = NULL;
  guint64 seq;

  if (refuse_if_lost (self, error))
    return FALSE;
  if (self->client == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                           "The connection to the dqlite leader was lost");
      return FALSE;
    }

  /* A transaction that wrote nothing has nothing to lose. */
  if (!self->tx_writes || self->parent.mode == MSB_DB_CONN_READ_ONLY)
    {
      if (!run_internal (self, SQL_COMMIT, NULL, &local_error) && self->client != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      end_transaction (self);
      return TRUE;
    }

  seq = ++self->seq;
  if (!send_marker_and_commit (self, seq, &local_error) && marker_table_missing (self, local_error))
    {
      g_clear_error (&local_error);
      self->marker_ready = FALSE;
      send_marker_and_commit (self, seq, &local_error);
    }
  if (local_error == NULL)
    {
      note_committed (self, self->tx_tables);
      end_transaction (self);
      return TRUE;
    }
  if (!commit_outcome_unknown (self))
    {
      /* SQLite refused the marker or the COMMIT (a deferred constraint,
       * say): the transaction is still open. */
      request_failed (self, g_steal_pointer (&local_error), error);
      return FALSE;
    }

  written = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->tx_tables->len; i++)
    g_ptr_array_add (written, g_strdup (self->tx_tables->pdata[i]));
  drop_client (self);
  end_transaction (self);
  if (!resolve_commit (self, seq, local_error, error))
    return FALSE;
  note_committed (self, written);
  return TRUE;
}

static gboolean
rollback (MsbDbDqliteConn *self)
{
  gboolean had_writes = self->tx_writes;

  if (!self->tx_open)
    return TRUE;
  /* Nothing to undo on the node: the connection, or SQLite, ended it. */
  if (self->lost != NULL || self->client == NULL || g_atomic_int_get (&self->closing))
    {
      end_transaction (self);
      return TRUE;
    }
  end_transaction (self);
  if (!run_internal (self, SQL_ROLLBACK, NULL, NULL) && self->client != NULL)
    {
      /* State unknown on the node: closing the connection ends it there. */
      g_debug ("dqlite: ROLLBACK failed; the connection is given up%s",
               had_writes ? " (the node rolls back)" : "");
      drop_client (self);
    }
  return TRUE;
}

/* Savepoints around jobs ----------------------------------------------------
 *
 * Each job of a batch runs between SAVEPOINT and RELEASE; a round trip each
 * would be a third of a single-statement job's cost. So RELEASE is only
 * noted, and sent with the next job's SAVEPOINT as one EXEC_SQL of two
 * statements (dqlite runs them in turn and stops at the first that fails);
 * COMMIT and ROLLBACK end every savepoint anyway. A RELEASE inside a
 * transaction cannot fail unless the transaction is gone, which the job's
 * own failure would have shown. */

#define RELEASE_AND_SAVEPOINT "RELEASE msb_db_job; SAVEPOINT msb_db_job"

/* Sends a noted RELEASE before anything else runs in the transaction. */
static gboolean
flush_release (MsbDbDqliteConn  *self,
               GError          **error)
{
  if (!self->release_pending)
    return TRUE;
  self->release_pending = FALSE;
  return run_internal (self, SQL_RELEASE, NULL, error);
}

static gboolean
savepoint (MsbDbDqliteConn  *self,
           GError          **error)
{
  GError *local_error = NULL;

  if (!self->release_pending)
    return run_internal (self, SQL_SAVEPOINT, NULL, error);
  self->release_pending = FALSE;
  if (self->client == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                           "The connection to the dqlite leader was lost");
      return FALSE;
    }
  if (msb_db_dqlite_client_exec_sql (self->client, RELEASE_AND_SAVEPOINT, NULL, NULL, NULL,
                                     &local_error))
    return TRUE;
  request_failed (self, local_error, error);
  return FALSE;
}

/* The vtable --------------------------------------------------------------- */

/* A write outside any transaction, on the write connection: in a
 * transaction of its own, so that it gets a marker and a lost answer to
 * its COMMIT cannot make it run twice. */
static MsbDbRows *
execute_in_own_transaction (MsbDbDqliteConn  *self,
                            const char       *sql,
                            GVariant         *params,
                            GCancellable     *cancellable,
                            GError          **error)
{
  MsbDbRows *rows;

  if (!begin (self, MSB_DB_TX_BEGIN_IMMEDIATE, error))
    return NULL;
  self->in_own_tx = TRUE;
  rows = run_statement (self, sql, params, TRUE, TRUE, cancellable, error);
  self->in_own_tx = FALSE;
  if (rows != NULL && !commit (self, error))
    g_clear_object (&rows);
  if (rows == NULL)
    rollback (self);
  return rows;
}

/* A statement that may write, on a read connection. It is prepared first,
 * so that a statement that is wrong says so, as on a file. */
static void
refuse_write (MsbDbDqliteConn  *self,
              const char       *sql,
              GCancellable     *cancellable,
              GError          **error)
{
  g_autofree char *shown = NULL;

  if (lookup_statement (self, sql, cancellable, error) == NULL)
    return;
  shown = msb_db_error_excerpt (sql);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
               "This statement writes, and this connection only reads (use a "
               "write or a transaction): %s", shown);
}

static MsbDbRows *
execute_one (MsbDbDqliteConn  *self,
             const char       *sql,
             GVariant         *params,
             gboolean          cache,
             GCancellable     *cancellable,
             GError          **error)
{
  gboolean may_write = msb_db_sql_may_write (sql);

  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return NULL;
    }
  if (!check_statement (self, sql, may_write, error) || refuse_if_lost (self, error))
    return NULL;
  if (!self->tx_open && !ensure_connected (self, self->timeout, cancellable, error))
    return NULL;
  if (self->tx_open && self->client == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                           "The connection to the dqlite leader was lost");
      return NULL;
    }

  if (may_write && self->parent.mode == MSB_DB_CONN_READ_ONLY)
    {
      refuse_write (self, sql, cancellable, error);
      return NULL;
    }
  if (may_write && self->parent.mode == MSB_DB_CONN_READ_WRITE && !self->tx_open)
    return execute_in_own_transaction (self, sql, params, cancellable, error);
  if (!flush_release (self, error) || (may_write && !note_defer_pragma (self, sql, error)))
    return NULL;
  return run_statement (self, sql, params, may_write, cache, cancellable, error);
}

static MsbDbRows *
dqlite_execute (MsbDbBackendConn  *conn,
                const char        *sql,
                GVariant          *params,
                GCancellable      *cancellable,
                GError           **error)
{
  return execute_one ((MsbDbDqliteConn *) conn, sql, params, TRUE, cancellable, error);
}

/* Every statement of @sql in turn, each checked and run as execute() runs
 * it (a write outside a transaction in a transaction of its own), but not
 * kept prepared. */
static gboolean
dqlite_execute_script (MsbDbBackendConn  *conn,
                       const char        *sql,
                       GCancellable      *cancellable,
                       GError           **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  const char *next = sql;

  while (!msb_db_sql_is_blank (next))
    {
      const char *end = msb_db_sql_statement_end (next);
      g_autofree char *statement = g_strndup (next, (gsize) (end - next));
      g_autoptr(MsbDbRows) rows = execute_one (self, statement, NULL, FALSE, cancellable, error);

      if (rows == NULL)
        return FALSE;
      next = end;
    }
  return TRUE;
}

/* Results gathered from several runs ----------------------------------------- */

static MsbDbColumns *
columns_of (MsbDbRows *rows)
{
  guint n = msb_db_rows_get_n_columns (rows);
  g_autofree const char **names = g_new0 (const char *, n + 1);

  for (guint c = 0; c < n; c++)
    names[c] = msb_db_rows_get_column_name (rows, c);
  return msb_db_columns_new (n, names);
}

/* Appends rows @first to @end of @from to @into, which has its columns. */
static void
copy_rows (MsbDbRows *into,
           MsbDbRows *from,
           guint      first,
           guint      end)
{
  guint n_columns = msb_db_rows_get_n_columns (from);

  for (guint r = first; r < end; r++)
    for (guint c = 0; c < n_columns; c++)
      switch (msb_db_rows_get_value_type (from, r, c))
        {
        case MSB_DB_VALUE_TYPE_INTEGER:
          msb_db_rows_append_int64 (into, msb_db_rows_get_int64 (from, r, c));
          break;
        case MSB_DB_VALUE_TYPE_REAL:
          msb_db_rows_append_double (into, msb_db_rows_get_double (from, r, c));
          break;
        case MSB_DB_VALUE_TYPE_TEXT:
          {
            const char *text = msb_db_rows_get_string (from, r, c);

            msb_db_rows_append_text (into, text, strlen (text));
          }
          break;
        case MSB_DB_VALUE_TYPE_BLOB:
          {
            g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (from, r, c);
            gsize length = 0;
            gconstpointer data = g_bytes_get_data (bytes, &length);

            msb_db_rows_append_blob (into, data, length);
          }
          break;
        case MSB_DB_VALUE_TYPE_NULL:
        default:
          msb_db_rows_append_null (into);
          break;
        }
}

/* Many rows of parameters ---------------------------------------------------- */

/* The parameters of run @i: element @i of an array of tuples or
 * dictionaries (each maybe in a variant), or element @i of each array of a
 * tuple of arrays. */
static GVariant *
row_params (GVariant *param_rows,
            gboolean  by_column,
            gsize     i)
{
  g_autoptr(GVariant) element = NULL;

  if (by_column)
    {
      gsize n = g_variant_n_children (param_rows);
      g_autofree GVariant **values = g_new0 (GVariant *, n + 1);
      GVariant *tuple;

      for (gsize c = 0; c < n; c++)
        {
          g_autoptr(GVariant) array = g_variant_get_child_value (param_rows, c);

          values[c] = g_variant_get_child_value (array, i);
        }
      tuple = g_variant_ref_sink (g_variant_new_tuple (values, n));
      for (gsize c = 0; c < n; c++)
        g_variant_unref (values[c]);
      return tuple;
    }
  element = g_variant_get_child_value (param_rows, i);
  if (g_variant_is_of_type (element, G_VARIANT_TYPE_VARIANT))
    return g_variant_get_variant (element);
  return g_steal_pointer (&element);
}

/* One statement once per row of parameters (see the local backend's
 * execute_many()): one request each, the statement prepared once. The
 * rows of a RETURNING clause are gathered, the changes added up. Inside
 * the caller's transaction; outside any, in one of its own. */
static MsbDbRows *
dqlite_execute_many (MsbDbBackendConn  *conn,
                     const char        *sql,
                     GVariant          *param_rows,
                     GCancellable      *cancellable,
                     GError           **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  gboolean by_column = g_variant_is_of_type (param_rows, G_VARIANT_TYPE_TUPLE);
  gboolean may_write = msb_db_sql_may_write (sql);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MsbDbColumns) columns = NULL;
  MsbDbDqliteStmt *stmt;
  MsbDbRows *rows;
  gint64 changes = 0, rowid = 0;
  gboolean own_tx = FALSE, ok = TRUE;
  gsize n_rows;

  if (by_column)
    {
      g_autoptr(MsbDbColumnParams) checked = msb_db_column_params_new (param_rows, error);

      if (checked == NULL)
        return NULL;
      n_rows = msb_db_column_params_get_n_rows (checked);
    }
  else
    n_rows = g_variant_n_children (param_rows);

  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return NULL;
    }
  if (!check_statement (self, sql, may_write, error) || refuse_if_lost (self, error))
    return NULL;
  if (!self->tx_open && !ensure_connected (self, self->timeout, cancellable, error))
    return NULL;
  if (self->client == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                           "The connection to the dqlite leader was lost");
      return NULL;
    }
  stmt = lookup_statement (self, sql, cancellable, error);
  if (stmt == NULL)
    return NULL;
  if (conn->mode == MSB_DB_CONN_READ_ONLY)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                           "Writing many rows needs the writer");
      return NULL;
    }
  if (by_column && msb_db_dqlite_stmt_get_n_params (stmt) != g_variant_n_children (param_rows))
    {
      guint64 expected = msb_db_dqlite_stmt_get_n_params (stmt);

      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %" G_GUINT64_FORMAT " parameter%s but %" G_GSIZE_FORMAT
                   " columns were given", expected, expected == 1 ? "" : "s",
                   g_variant_n_children (param_rows));
      return NULL;
    }

  if (may_write && !self->tx_open)
    {
      if (!begin (self, MSB_DB_TX_BEGIN_IMMEDIATE, error))
        return NULL;
      own_tx = TRUE;
      self->in_own_tx = TRUE;
    }
  else if (!flush_release (self, error) || (may_write && !note_defer_pragma (self, sql, error)))
    return NULL;

  for (gsize i = 0; ok && i < n_rows; i++)
    {
      g_autoptr(GVariant) params = row_params (param_rows, by_column, i);
      GError *local_error = NULL;

      rows = run_statement (self, sql, params, may_write, TRUE, cancellable, &local_error);
      if (rows == NULL)
        {
          g_prefix_error (&local_error, "Row %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                          " (nothing was written): ", i + 1, n_rows);
          g_propagate_error (error, local_error);
          ok = FALSE;
          break;
        }
      changes += msb_db_rows_get_changes (rows);
      if (msb_db_rows_get_last_insert_rowid (rows) != 0)
        rowid = msb_db_rows_get_last_insert_rowid (rows);
      g_ptr_array_add (results, rows);
    }

  if (own_tx)
    {
      self->in_own_tx = FALSE;
      if (ok && !commit (self, error))
        ok = FALSE;
      if (!ok)
        rollback (self);
    }
  if (!ok)
    return NULL;

  if (results->len > 0 && msb_db_rows_get_n_columns (results->pdata[0]) > 0)
    columns = columns_of (results->pdata[0]);
  else
    columns = msb_db_columns_ref (self->no_columns);
  rows = msb_db_rows_new (columns);
  for (guint i = 0; i < results->len && msb_db_columns_get_n (columns) > 0; i++)
    copy_rows (rows, results->pdata[i], 0, msb_db_rows_get_n_rows (results->pdata[i]));
  msb_db_rows_seal (rows, changes, rowid);
  return rows;
}

/* Cursors ---------------------------------------------------------------------
 *
 * dqlite sends a query's rows in batches, one after the other, and reads
 * nothing from the client until the last one: a query cannot be held open
 * between two fetches. A cursor reads the whole result when it opens, and
 * hands it out in parts. */

struct _MsbDbBackendCursor
{
  MsbDbRows *rows;
  MsbDbColumns *columns;
  guint next;
  gboolean finished;
};

static void
dqlite_cursor_close (MsbDbBackendConn   *conn,
                     MsbDbBackendCursor *cursor)
{
  g_clear_object (&cursor->rows);
  g_clear_pointer (&cursor->columns, msb_db_columns_unref);
  g_free (cursor);
}

/* Inside a read transaction nothing has read from yet, a leader change
 * starts the transaction again on the new leader, for at most the
 * connect-timeout: nothing was seen from the old one. */
static MsbDbBackendCursor *
dqlite_cursor_open (MsbDbBackendConn  *conn,
                    const char        *sql,
                    GVariant          *params,
                    GError           **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  gint64 deadline = g_get_monotonic_time () + self->timeout;
  gboolean fresh = !self->tx_open || (!self->tx_used && !self->tx_writes);
  MsbDbBackendCursor *cursor;
  MsbDbRows *rows;

  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return NULL;
    }
  if (!check_statement (self, sql, FALSE, error) || refuse_if_lost (self, error))
    return NULL;

  for (;;)
    {
      GError *local_error = NULL;

      if (!self->tx_open && !ensure_connected (self, self->timeout, NULL, error))
        return NULL;
      if (self->client == NULL)
        g_set_error_literal (&local_error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY,
                             "The connection to the dqlite leader was lost");
      else if (msb_db_sql_may_write (sql))
        {
          g_autofree char *shown = NULL;

          if (lookup_statement (self, sql, NULL, error) == NULL)
            return NULL;
          shown = msb_db_error_excerpt (sql);
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                       "A cursor only reads, and this statement writes: %s", shown);
          return NULL;
        }
      else if (flush_release (self, &local_error))
        {
          rows = run_statement (self, sql, params, FALSE, FALSE, NULL, &local_error);
          if (rows != NULL)
            break;
        }

      if (!fresh || !g_error_matches (local_error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY) ||
          g_get_monotonic_time () >= deadline || g_atomic_int_get (&self->closing))
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      g_debug ("dqlite: a cursor starts again on the new leader: %s", local_error->message);
      g_error_free (local_error);
      if (self->tx_open)
        {
          rollback (self);
          if (!begin (self, MSB_DB_TX_BEGIN, error))
            return NULL;
        }
    }

  cursor = g_new0 (MsbDbBackendCursor, 1);
  cursor->rows = rows;
  cursor->columns = columns_of (rows);
  return cursor;
}

/* The next rows of the result read at open; no request. *@done as the
 * local backend sets it: once a fetch got fewer rows than it asked for. */
static MsbDbRows *
dqlite_cursor_fetch (MsbDbBackendConn    *conn,
                     MsbDbBackendCursor  *cursor,
                     guint                max_rows,
                     GCancellable        *cancellable,
                     gboolean            *done,
                     GError             **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  guint n_rows = msb_db_rows_get_n_rows (cursor->rows);
  guint first = cursor->next;
  guint end = first + MIN (max_rows, n_rows - first);
  MsbDbRows *rows;

  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  rows = msb_db_rows_new (cursor->columns);
  copy_rows (rows, cursor->rows, first, end);
  msb_db_rows_seal (rows, 0, 0);
  cursor->next = end;
  if (max_rows > 0 && end - first < max_rows)
    cursor->finished = TRUE;
  *done = cursor->finished;
  return rows;
}

/* After a job that ran without a savepoint (one statement): SQLite undid
 * the statement if it failed, unless it failed after changing rows (OR
 * FAIL, or a conflict clause of the table), which the local backend sees
 * from SQLite's change count. dqlite does not send that count with an
 * error, so a write that failed on the node fails its job here: the writer
 * then runs the rest of the batch again without it. Then, as after a
 * savepoint, no deferred foreign key may be left violated. */
static gboolean
end_job (MsbDbDqliteConn  *self,
         GError          **error)
{
  gboolean failed = self->job_failed;

  self->job_failed = FALSE;
  if (refuse_if_lost (self, error))
    return FALSE;
  if (failed)
    {
      end_job_settings (self);
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "The statement failed on the dqlite leader, which does not say "
                           "whether it changed rows first (OR FAIL): the transaction is "
                           "rolled back and run again without it");
      return FALSE;
    }
  if (!check_deferred_constraints (self, error))
    return FALSE;
  end_job_settings (self);
  /* A job that changed the schema may have brought deferred keys. */
  return prepare_fk_check (self, error);
}

static gboolean
dqlite_control (MsbDbBackendConn  *conn,
                MsbDbTxOp          op,
                GError           **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;

  if (op == MSB_DB_TX_ROLLBACK)
    return rollback (self);
  if (g_atomic_int_get (&self->closing))
    {
      set_closed (error);
      return FALSE;
    }
  switch (op)
    {
    case MSB_DB_TX_BEGIN:
      return begin (self, op, error);
    case MSB_DB_TX_BEGIN_IMMEDIATE:
      /* Jobs of one statement run without a savepoint: the baseline of
       * deferred violations is taken here for them. */
      if (!begin (self, op, error))
        return FALSE;
      if (!prepare_fk_check (self, error))
        {
          rollback (self);
          return FALSE;
        }
      return TRUE;
    case MSB_DB_TX_COMMIT:
      return commit (self, error);
    case MSB_DB_TX_SAVEPOINT:
      self->job_failed = FALSE;
      self->job_mark = self->tx_tables->len;
      return !refuse_if_lost (self, error) && savepoint (self, error) &&
             prepare_fk_check (self, error);
    case MSB_DB_TX_RELEASE:
      self->job_failed = FALSE;
      if (refuse_if_lost (self, error) || !check_deferred_constraints (self, error))
        return FALSE;
      self->release_pending = TRUE;
      end_job_settings (self);
      return TRUE;
    case MSB_DB_TX_ROLLBACK_TO:
      self->job_failed = FALSE;
      if (refuse_if_lost (self, error) || !flush_release (self, error) ||
          !run_internal (self, tx_op_sql[op], NULL, error))
        return FALSE;
      g_ptr_array_set_size (self->tx_tables, self->job_mark);
      end_job_settings (self);
      return TRUE;
    case MSB_DB_TX_END_JOB:
      return end_job (self, error);
    case MSB_DB_TX_ROLLBACK:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
dqlite_in_transaction (MsbDbBackendConn *conn)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;

  return self->tx_open && self->lost == NULL;
}

/* From any thread: every request from now on fails with CLOSED; one that
 * waits on the network, or for a leader, stops at once. */
static void
dqlite_interrupt (MsbDbBackendConn *conn)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;

  g_atomic_int_set (&self->closing, TRUE);
  g_mutex_lock (&self->lock);
  if (self->client != NULL)
    msb_db_dqlite_client_abort (self->client);
  if (self->discovery != NULL)
    g_cancellable_cancel (self->discovery);
  g_mutex_unlock (&self->lock);
}

/* dqlite checkpoints its own log: nothing to do, nothing to report. */
static gboolean
dqlite_checkpoint (MsbDbBackendConn     *conn,
                   MsbDbCheckpointMode   mode,
                   GTimeSpan             max_wait,
                   GError              **error)
{
  return TRUE;
}

static guint64
dqlite_wal_size (MsbDbBackendConn *conn)
{
  return 0;
}

static guint
dqlite_wal_frames (MsbDbBackendConn *conn)
{
  return 0;
}

static void
dqlite_close (MsbDbBackendConn *conn)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;

  drop_client (self);
  g_hash_table_destroy (self->cache);
  g_clear_pointer (&self->no_columns, msb_db_columns_unref);
  g_clear_error (&self->lost);
  g_ptr_array_unref (self->tx_tables);
  g_ptr_array_unref (self->committed_tables);
  g_clear_pointer (&self->known_tables, g_hash_table_unref);
  g_strfreev (self->addresses);
  g_free (self->name);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Maintenance ------------------------------------------------------------- */

/* VACUUM, outside any transaction: dqlite 1.11 replicates the rebuilt
 * database like any other commit. Run again after a leader change (BUSY),
 * which is harmless. */
static gboolean
dqlite_vacuum (MsbDbBackendConn  *conn,
               GCancellable      *cancellable,
               GError           **error)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  GError *local_error = NULL;

  if (self->tx_open)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "VACUUM cannot run inside a transaction");
      return FALSE;
    }
  if (!ensure_connected (self, self->timeout, cancellable, error))
    return FALSE;
  if (msb_db_dqlite_client_exec_sql (self->client, "VACUUM", NULL, NULL, cancellable,
                                     &local_error))
    return TRUE;
  request_failed (self, local_error, error);
  return FALSE;
}

/* Change notifications --------------------------------------------------- */

static void
dqlite_track_changes (MsbDbBackendConn *conn,
                      gboolean          track)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;

  self->tracking = track;
  g_ptr_array_set_size (self->committed_tables, 0);
}

static gboolean
contains_ascii_nocase (const char *haystack,
                       const char *needle)
{
  g_autofree char *down = g_ascii_strdown (haystack, -1);

  return strstr (down, needle) != NULL;
}

/* The tables of the schema (to give each name as the schema has it), and
 * whether a write may change more than the table it names: read again
 * after a schema change through this process. */
static gboolean
load_known_tables (MsbDbDqliteConn *self)
{
  gint changes = g_atomic_int_get (&schema_changes);
  g_autoptr(MsbDbRows) rows = NULL;
  GError *local_error = NULL;

  if (self->known_tables != NULL && self->known_tables_seen == changes)
    return TRUE;
  if (self->client == NULL)
    return FALSE;
  rows = msb_db_dqlite_client_query_sql (self->client, "SELECT type, name, sql FROM sqlite_master",
                                         NULL, NULL, &local_error);
  if (rows == NULL)
    {
      request_failed (self, local_error, NULL);
      return FALSE;
    }
  g_clear_pointer (&self->known_tables, g_hash_table_unref);
  self->known_tables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->schema_side_effects = FALSE;
  for (guint r = 0; r < msb_db_rows_get_n_rows (rows); r++)
    {
      const char *type = msb_db_rows_get_string (rows, r, 0);
      const char *name = msb_db_rows_get_string (rows, r, 1);
      const char *sql = msb_db_rows_get_string (rows, r, 2);

      if (g_strcmp0 (type, "trigger") == 0)
        self->schema_side_effects = TRUE;
      if (g_strcmp0 (type, "table") != 0 || name == NULL)
        continue;
      if (sql != NULL && (contains_ascii_nocase (sql, "on delete") ||
                          contains_ascii_nocase (sql, "on update") ||
                          contains_ascii_nocase (sql, "create virtual")))
        self->schema_side_effects = TRUE;
      g_hash_table_replace (self->known_tables, g_ascii_strdown (name, -1), g_strdup (name));
    }
  self->known_tables_seen = changes;
  return TRUE;
}

/* What was committed since the last call: the tables the writes named, as
 * the schema names them; an empty list (every table) when a write may
 * have changed others, or named one the schema does not have. */
static gboolean
dqlite_take_changes (MsbDbBackendConn  *conn,
                     GPtrArray        **tables)
{
  MsbDbDqliteConn *self = (MsbDbDqliteConn *) conn;
  g_autoptr(GPtrArray) named = g_ptr_array_new_with_free_func (g_free);
  gboolean all;

  *tables = NULL;
  if (self->committed_tables->len == 0)
    return FALSE;
  all = !load_known_tables (self) || self->schema_side_effects;
  for (guint i = 0; i < self->committed_tables->len && !all; i++)
    {
      g_autofree char *key = g_ascii_strdown (self->committed_tables->pdata[i], -1);
      const char *table = g_hash_table_lookup (self->known_tables, key);

      if (table == NULL)
        all = TRUE;
      else if (!g_ptr_array_find_with_equal_func (named, table, g_str_equal, NULL))
        g_ptr_array_add (named, g_strdup (table));
    }
  g_ptr_array_set_size (self->committed_tables, 0);
  if (all)
    g_ptr_array_set_size (named, 0);
  *tables = g_steal_pointer (&named);
  return TRUE;
}

static const MsbDbBackendVTable dqlite_vtable = {
  .name = "dqlite",
  .execute = dqlite_execute,
  .execute_many = dqlite_execute_many,
  .execute_script = dqlite_execute_script,
  .control = dqlite_control,
  .in_transaction = dqlite_in_transaction,
  .interrupt = dqlite_interrupt,
  .checkpoint = dqlite_checkpoint,
  .wal_size = dqlite_wal_size,
  .wal_frames = dqlite_wal_frames,
  .cursor_open = dqlite_cursor_open,
  .cursor_fetch = dqlite_cursor_fetch,
  .cursor_close = dqlite_cursor_close,
  .close = dqlite_close,
  .vacuum = dqlite_vacuum,
  .track_changes = dqlite_track_changes,
  .take_changes = dqlite_take_changes,
};

/* A random id, the same for no two write connections. */
static guint64
new_owner_id (void)
{
  guint64 id;

  do
    id = (((guint64) g_random_int () << 32) | g_random_int ()) & G_MAXINT64;
  while (id == 0);
  return id;
}

/**
 * msb_db_dqlite_backend_open:
 * @target: a %MSB_DB_TARGET_DQLITE target
 * @mode: the writer's connection, or a reader's
 * @settings: the pools' settings; the connect-timeout bounds leader
 *   discovery and each wait for an answer
 * @error: return location for a #GError
 *
 * Finds the leader of the cluster and opens the database on it.
 *
 * Returns: (transfer full): the connection, or %NULL with
 *   %MSB_DB_ERROR_CANT_OPEN naming every node tried and why it failed
 */
MsbDbBackendConn *
msb_db_dqlite_backend_open (const MsbDbTarget       *target,
                            MsbDbConnMode            mode,
                            const MsbDbConnSettings *settings,
                            GError                 **error)
{
  MsbDbDqliteConn *self;
  GError *local_error = NULL;

  g_return_val_if_fail (target->kind == MSB_DB_TARGET_DQLITE, NULL);

  self = g_new0 (MsbDbDqliteConn, 1);
  self->parent.vtable = &dqlite_vtable;
  self->parent.mode = mode;
  self->addresses = g_strdupv (target->addresses);
  self->name = g_strdup (target->name);
  self->timeout = settings->connect_timeout > 0 ? settings->connect_timeout : DEFAULT_TIMEOUT;
  self->busy_timeout = MAX (settings->busy_timeout, 0);
  self->cache_size = MAX (settings->statement_cache_size, 1);
  self->trusted_schema = settings->trusted_schema;
  g_mutex_init (&self->lock);
  self->cache = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->lru);
  self->no_columns = msb_db_columns_new (0, NULL);
  self->fk_deferrable = -1;
  self->fk_baseline = -1;
  self->owner = new_owner_id ();
  self->tx_tables = g_ptr_array_new_with_free_func (g_free);
  self->committed_tables = g_ptr_array_new_with_free_func (g_free);
  self->known_tables_seen = -1;

  if (!ensure_connected (self, self->timeout, NULL, &local_error))
    {
      g_autofree char *shown = msb_db_error_excerpt (target->path);

      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "Could not open the database “%s”: %s", shown, local_error->message);
      g_error_free (local_error);
      dqlite_close (&self->parent);
      return NULL;
    }
  return &self->parent;
}
