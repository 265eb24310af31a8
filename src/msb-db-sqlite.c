/* msb-db-sqlite.c: the local SQLite file backend
 *
 * Everything that knows about sqlite3 lives here: the one function that
 * opens and configures a connection (msb_db_sqlite_open), the statement
 * cache, the authorizer that keeps SQL from undoing that configuration, and
 * the translation of SQLite's result codes into MsbDbError.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "msb-db-bind.h"
#include "msb-db-change-log.h"
#include "msb-db-error-private.h"
#include "msb-db-retry.h"
#include "msb-db-rows-private.h"
#include "msb-db-sqlite.h"

/* Run the progress handler every this many virtual machine steps: often
 * enough that a cancelled or interrupted read stops within a millisecond,
 * rarely enough to cost nothing measurable on short statements. */
#define PROGRESS_STEPS 1000

/* journal_size_limit: after a checkpoint resets the WAL, SQLite truncates
 * the file back to at most this size. */
#define JOURNAL_SIZE_LIMIT (16 * 1024 * 1024)

/* Where, in the -shm file, every connection to the database holds a read
 * lock for as long as it is open (SQLite's "dead man switch" byte, part of
 * its cross-process locking protocol). */
#define SHM_DMS_OFFSET 128

typedef struct
{
  char *sql;
  sqlite3_stmt *stmt;
  MsbDbColumns *columns;   /* of the last result; NULL before the first */
  gboolean inserts;        /* an INSERT at the top level: has a row id */
  gboolean sets_defer_fk;  /* PRAGMA defer_foreign_keys = ... */
  GVariant *params_type;   /* an empty value of the last parameters' type */
  GList link;
} CachedStatement;

typedef struct
{
  MsbDbBackendConn parent;

  sqlite3 *db;
  char *wal_path;
  int busy_timeout_ms;
  int wal_frames;              /* set by the WAL hook after each commit */

  /* Bounded LRU: most recently used at the head of `lru`. */
  GHashTable *cache;
  GQueue lru;
  guint cache_size;

  sqlite3_stmt *control[MSB_DB_TX_ROLLBACK_TO + 1];
  gboolean failed_with_effects;  /* the last statement failed, yet some of
                                  * its changes stayed (OR FAIL) */

  GCancellable *cancellable;   /* of the statement being stepped */
  gint closing;                /* atomic: interrupt everything from now on */
  gboolean allow_control;      /* our own BEGIN/COMMIT/SAVEPOINT */
  char refusal[256];           /* why the authorizer said no */
  gboolean saw_insert;         /* what the authorizer saw while preparing */
  gboolean saw_defer_fk;
  gboolean in_vacuum;          /* our own VACUUM attaches its scratch database */

  /* Our transaction, from BEGIN until COMMIT or ROLLBACK. SQLite ends it by
   * itself when a statement fails in some ways (OR ROLLBACK, RAISE(ROLLBACK),
   * an interrupted write, a full disk): `lost` then says why, and nothing
   * more runs on the connection until the transaction is ended, so that no
   * later statement of the unit commits on its own. */
  gboolean tx_open;
  GError *lost;
  gboolean defer_fk_changed;   /* reset when the job that set it ends */

  /* A write connection commits to the files it opened; once they are no
   * longer the ones at the path, `broken` says so and nothing commits. */
  gboolean wal_known;
  dev_t wal_dev;
  ino_t wal_ino;
  GError *broken;
  int watch;                   /* inotify on the directory, or -1 */
  gboolean suspect;            /* the watch saw our names (or lost events) */

  /* Which tables commits change, while someone listens (see "Change
   * tracking" below). */
  MsbDbChangeLog *changes;
} MsbDbSqliteConn;

static const MsbDbBackendVTable sqlite_vtable;

static void     remember_wal (MsbDbSqliteConn  *self);
static void     start_watch      (MsbDbSqliteConn  *self);
static gboolean check_files      (MsbDbSqliteConn  *self,
                                  GError          **error);
static gboolean check_not_broken (MsbDbSqliteConn  *self,
                                  GError          **error);

/* Result code names ---------------------------------------------------- */

typedef struct { int code; const char *name; } CodeName;
#define CODE(c) { c, #c }

static const CodeName code_names[] = {
  CODE (SQLITE_ERROR), CODE (SQLITE_INTERNAL), CODE (SQLITE_PERM), CODE (SQLITE_ABORT),
  CODE (SQLITE_BUSY), CODE (SQLITE_LOCKED), CODE (SQLITE_NOMEM), CODE (SQLITE_READONLY),
  CODE (SQLITE_INTERRUPT), CODE (SQLITE_IOERR), CODE (SQLITE_CORRUPT), CODE (SQLITE_NOTFOUND),
  CODE (SQLITE_FULL), CODE (SQLITE_CANTOPEN), CODE (SQLITE_PROTOCOL), CODE (SQLITE_EMPTY),
  CODE (SQLITE_SCHEMA), CODE (SQLITE_TOOBIG), CODE (SQLITE_CONSTRAINT), CODE (SQLITE_MISMATCH),
  CODE (SQLITE_MISUSE), CODE (SQLITE_NOLFS), CODE (SQLITE_AUTH), CODE (SQLITE_FORMAT),
  CODE (SQLITE_RANGE), CODE (SQLITE_NOTADB), CODE (SQLITE_NOTICE), CODE (SQLITE_WARNING),
  CODE (SQLITE_ERROR_MISSING_COLLSEQ), CODE (SQLITE_ERROR_RETRY), CODE (SQLITE_ERROR_SNAPSHOT),
  CODE (SQLITE_BUSY_RECOVERY), CODE (SQLITE_BUSY_SNAPSHOT), CODE (SQLITE_BUSY_TIMEOUT),
  CODE (SQLITE_LOCKED_SHAREDCACHE), CODE (SQLITE_LOCKED_VTAB),
  CODE (SQLITE_READONLY_RECOVERY), CODE (SQLITE_READONLY_CANTLOCK), CODE (SQLITE_READONLY_ROLLBACK),
  CODE (SQLITE_READONLY_DBMOVED), CODE (SQLITE_READONLY_CANTINIT), CODE (SQLITE_READONLY_DIRECTORY),
  CODE (SQLITE_IOERR_READ), CODE (SQLITE_IOERR_SHORT_READ), CODE (SQLITE_IOERR_WRITE),
  CODE (SQLITE_IOERR_FSYNC), CODE (SQLITE_IOERR_TRUNCATE), CODE (SQLITE_IOERR_FSTAT),
  CODE (SQLITE_IOERR_LOCK), CODE (SQLITE_IOERR_NOMEM), CODE (SQLITE_IOERR_ACCESS),
  CODE (SQLITE_IOERR_SHMOPEN), CODE (SQLITE_IOERR_SHMSIZE), CODE (SQLITE_IOERR_SHMMAP),
  CODE (SQLITE_IOERR_DELETE), CODE (SQLITE_IOERR_DELETE_NOENT),
  CODE (SQLITE_CORRUPT_VTAB), CODE (SQLITE_CORRUPT_SEQUENCE), CODE (SQLITE_CORRUPT_INDEX),
  CODE (SQLITE_CANTOPEN_ISDIR), CODE (SQLITE_CANTOPEN_FULLPATH), CODE (SQLITE_CANTOPEN_CONVPATH),
  CODE (SQLITE_CANTOPEN_NOTEMPDIR), CODE (SQLITE_CANTOPEN_SYMLINK),
  CODE (SQLITE_ABORT_ROLLBACK),
  CODE (SQLITE_CONSTRAINT_CHECK), CODE (SQLITE_CONSTRAINT_COMMITHOOK),
  CODE (SQLITE_CONSTRAINT_FOREIGNKEY), CODE (SQLITE_CONSTRAINT_FUNCTION),
  CODE (SQLITE_CONSTRAINT_NOTNULL), CODE (SQLITE_CONSTRAINT_PRIMARYKEY),
  CODE (SQLITE_CONSTRAINT_TRIGGER), CODE (SQLITE_CONSTRAINT_UNIQUE),
  CODE (SQLITE_CONSTRAINT_VTAB), CODE (SQLITE_CONSTRAINT_ROWID),
  CODE (SQLITE_CONSTRAINT_PINNED), CODE (SQLITE_CONSTRAINT_DATATYPE),
};

static const char *
result_code_name (int code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (code_names); i++)
    if (code_names[i].code == code)
      return code_names[i].name;
  for (gsize i = 0; i < G_N_ELEMENTS (code_names); i++)
    if (code_names[i].code == (code & 0xff))
      return code_names[i].name;
  return "SQLITE_UNKNOWN";
}

static MsbDbError
error_code_for (int code)
{
  switch (code & 0xff)
    {
    case SQLITE_CONSTRAINT:
      return MSB_DB_ERROR_CONSTRAINT;
    case SQLITE_BUSY:
      return MSB_DB_ERROR_BUSY;
    case SQLITE_READONLY:
      return MSB_DB_ERROR_READ_ONLY;
    case SQLITE_CANTOPEN:
      return MSB_DB_ERROR_CANT_OPEN;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MSB_DB_ERROR_CORRUPT;
    case SQLITE_ERROR:
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return MSB_DB_ERROR_SQL;
    case SQLITE_AUTH:
      return MSB_DB_ERROR_INVALID_ARGUMENT;
    default:
      return MSB_DB_ERROR_FAILED;
    }
}

static void
set_sqlite_error (MsbDbSqliteConn  *self,
                  int               code,
                  const char       *sql,
                  GError          **error)
{
  /* GError messages are UTF-8, and of a sane size; SQLite echoes whatever
   * bytes it was given, a whole string literal included. */
  g_autofree char *message = msb_db_error_excerpt (sqlite3_errmsg (self->db));
  g_autofree char *shown_sql = sql ? msb_db_error_excerpt (sql) : NULL;

  if ((code & 0xff) == SQLITE_INTERRUPT)
    {
      if (g_atomic_int_get (&self->closing))
        g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                             "The database is being closed: the statement was interrupted");
      else if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
        ;
      else
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                     "%s [%s]", message, result_code_name (code));
      return;
    }

  /* The authorizer said no. SQLite reports a refused function as a plain
   * SQLITE_ERROR, the rest as SQLITE_AUTH: either way, say why. */
  if (self->refusal[0] != '\0')
    {
      g_free (message);
      message = msb_db_error_excerpt (self->refusal);
      code = SQLITE_AUTH;
    }

  if (shown_sql == NULL)
    g_set_error (error, MSB_DB_ERROR, error_code_for (code), "%s [%s]",
                 message, result_code_name (code));
  else
    g_set_error (error, MSB_DB_ERROR, error_code_for (code), "%s [%s] in SQL: %s",
                 message, result_code_name (code), shown_sql);
}

/* The authorizer -------------------------------------------------------- */

/* PRAGMAs whose value MsbDb sets on every connection, or that would let SQL
 * step around the safety settings. They may be read, not changed. */
static const char * const protected_pragmas[] = {
  "journal_mode", "synchronous", "foreign_keys", "busy_timeout", "trusted_schema",
  "writable_schema", "query_only", "locking_mode", "journal_size_limit",
  "wal_autocheckpoint", "ignore_check_constraints", "cell_size_check",
  "temp_store_directory", "data_store_directory", "mmap_size",
  /* process-wide: one connection would change every connection */
  "soft_heap_limit", "hard_heap_limit",
};

/* SQL functions refused outright: extension loading, and fts3_tokenizer(),
 * which hands out and accepts raw pointers. */
static const char * const refused_functions[] = {
  "load_extension", "fts3_tokenizer",
};

static int
refuse (MsbDbSqliteConn *self,
        const char      *format,
        ...) G_GNUC_PRINTF (2, 3);

static int
refuse (MsbDbSqliteConn *self,
        const char      *format,
        ...)
{
  va_list args;

  va_start (args, format);
  g_vsnprintf (self->refusal, sizeof self->refusal, format, args);
  va_end (args);
  return SQLITE_DENY;
}

static gboolean
is_protected_pragma (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (protected_pragmas); i++)
    if (g_ascii_strcasecmp (name, protected_pragmas[i]) == 0)
      return TRUE;
  return FALSE;
}

static int
authorize (void       *data,
           int         action,
           const char *arg1,
           const char *arg2,
           const char *database,
           const char *trigger)
{
  MsbDbSqliteConn *self = data;

  switch (action)
    {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      /* ... and so does VACUUM, which runs its own transaction. */
      if (self->allow_control || self->in_vacuum)
        return SQLITE_OK;
      return refuse (self, "Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, "
                     "RELEASE) is not accepted as SQL: run the statements in a "
                     "transaction callback with msb_db_pools_transaction()");
    case SQLITE_ATTACH:
      /* VACUUM attaches a scratch database of its own, named "". */
      if (self->in_vacuum && arg1 != NULL && arg1[0] == '\0')
        return SQLITE_OK;
      G_GNUC_FALLTHROUGH;
    case SQLITE_DETACH:
      return refuse (self, "ATTACH and DETACH are refused: a pools object serves exactly "
                     "one database file");
    case SQLITE_PRAGMA:
      if (arg2 != NULL && is_protected_pragma (arg1))
        return refuse (self, "PRAGMA %s is set by MsbDb on every connection and cannot "
                       "be changed", arg1);
      if (arg2 != NULL && g_ascii_strcasecmp (arg1, "defer_foreign_keys") == 0)
        self->saw_defer_fk = TRUE;
      return SQLITE_OK;
    case SQLITE_INSERT:
      if (trigger == NULL)
        self->saw_insert = TRUE;
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      for (gsize i = 0; arg2 != NULL && i < G_N_ELEMENTS (refused_functions); i++)
        if (g_ascii_strcasecmp (arg2, refused_functions[i]) == 0)
          return refuse (self, "%s() is refused by MsbDb", refused_functions[i]);
      return SQLITE_OK;
    default:
      return SQLITE_OK;
    }
}

/* Stops a running statement when its caller cancelled or the pools close.
 * Safer than sqlite3_interrupt() from the cancelling thread, which could
 * hit the next statement instead. */
static int
on_progress (void *data)
{
  MsbDbSqliteConn *self = data;

  if (g_atomic_int_get (&self->closing))
    return 1;
  return self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable);
}

/* Replaces SQLite's autocheckpoint (which is itself a WAL hook): only
 * remember how long the log is; the writer decides when to checkpoint. */
static int
on_wal_commit (void       *data,
               sqlite3    *db,
               const char *database,
               int         frames)
{
  MsbDbSqliteConn *self = data;

  self->wal_frames = frames;
  return SQLITE_OK;
}

/* Opening: the canonical connection builder ----------------------------- */

static gboolean
run_setup_statement (MsbDbSqliteConn  *self,
                     const char       *sql,
                     char            **first_value,
                     GError          **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW && first_value != NULL)
        *first_value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      while (rc == SQLITE_ROW)
        rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    }
  if (rc != SQLITE_OK)
    set_sqlite_error (self, sqlite3_extended_errcode (self->db), sql, error);
  sqlite3_finalize (stmt);
  return rc == SQLITE_OK;
}

/* THE place where a connection gets its settings. Every connection the
 * library opens, reader or writer, in every process, goes through here; a
 * new PRAGMA is added to this function and nowhere else. */
static gboolean
configure_connection (MsbDbSqliteConn          *self,
                      const MsbDbConnSettings  *settings,
                      GError                  **error)
{
  g_autofree char *busy_sql = NULL;
  g_autofree char *limit_sql = NULL;
  g_autofree char *journal_mode = NULL;
  const char * const pragmas[] = {
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    settings->trusted_schema ? "PRAGMA trusted_schema = ON" : "PRAGMA trusted_schema = OFF",
  };

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, settings->trusted_schema ? 1 : 0, NULL);

  /* busy_timeout first: switching to WAL below may have to wait for a lock. */
  busy_sql = g_strdup_printf ("PRAGMA busy_timeout = %d", self->busy_timeout_ms);
  if (!run_setup_statement (self, busy_sql, NULL, error))
    return FALSE;

  /* WAL is a property of the file. The writer opens first and sets it; a
   * reader cannot change it, and only reads it back (which also makes a
   * file that is not a database fail here, at open). */
  if (self->parent.mode == MSB_DB_CONN_READ_WRITE)
    {
      if (!run_setup_statement (self, "PRAGMA journal_mode = WAL", &journal_mode, error))
        return FALSE;
      if (g_strcmp0 (journal_mode, "wal") != 0)
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                       "The database could not be switched to WAL mode (it is in “%s” mode)",
                       journal_mode ? journal_mode : "unknown");
          return FALSE;
        }
    }
  else if (!run_setup_statement (self, "PRAGMA journal_mode", NULL, error))
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (pragmas); i++)
    if (!run_setup_statement (self, pragmas[i], NULL, error))
      return FALSE;

  limit_sql = g_strdup_printf ("PRAGMA journal_size_limit = %d", JOURNAL_SIZE_LIMIT);
  if (!run_setup_statement (self, limit_sql, NULL, error))
    return FALSE;

  sqlite3_wal_hook (self->db, on_wal_commit, self);
  sqlite3_set_authorizer (self->db, authorize, self);
  sqlite3_progress_handler (self->db, PROGRESS_STEPS, on_progress, self);
  return TRUE;
}

typedef struct
{
  MsbDbSqliteConn *self;
  const MsbDbConnSettings *settings;
} ConfigureAttempt;

static gboolean
attempt_configure (gpointer   data,
                   guint      attempt,
                   GError   **error)
{
  ConfigureAttempt *configure = data;

  return configure_connection (configure->self, configure->settings, error);
}

/* Two processes creating the same database at once race to switch it to
 * WAL; the loser can see SQLITE_BUSY without its busy handler being asked.
 * Setting up again after a pause is always safe. */
static gboolean
configure_connection_with_retry (MsbDbSqliteConn          *self,
                                 const MsbDbConnSettings  *settings,
                                 GError                  **error)
{
  ConfigureAttempt configure = { self, settings };
  MsbDbRetryPolicy policy;

  msb_db_retry_policy_init_default (&policy);
  return msb_db_retry_run (&policy, NULL, attempt_configure, &configure, error);
}

/* A directory, a FIFO (reading it would block forever) or a device is not
 * a database; a missing file is fine (created, or refused by SQLite). */
static gboolean
check_regular_file (const char  *path,
                    GError     **error)
{
  GStatBuf st;

  g_autofree char *shown = NULL;

  if (g_stat (path, &st) != 0 || S_ISREG (st.st_mode))
    return TRUE;
  shown = msb_db_error_excerpt (path);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
               "Could not open the database “%s”: it is %s, not a regular file", shown,
               S_ISDIR (st.st_mode) ? "a directory" :
               S_ISFIFO (st.st_mode) ? "a FIFO" :
               S_ISSOCK (st.st_mode) ? "a socket" : "a device");
  return FALSE;
}

/* SQLite would create the file with 0644 (less the umask). The database is
 * private to its owner: create it 0600 ourselves; SQLite then gives the
 * -wal and -shm files the same mode as the database. */
static gboolean
create_owner_only (const char  *path,
                   GError     **error)
{
  int fd = g_open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int saved_errno = errno;
  g_autofree char *shown = NULL;

  if (fd >= 0)
    {
      close (fd);
      return TRUE;
    }
  if (saved_errno == EEXIST)
    return TRUE;
  shown = msb_db_error_excerpt (path);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
               "Could not create the database “%s”: %s", shown, g_strerror (saved_errno));
  return FALSE;
}

static void
cached_statement_free (gpointer data)
{
  CachedStatement *entry = data;

  sqlite3_finalize (entry->stmt);
  g_clear_pointer (&entry->columns, msb_db_columns_unref);
  g_clear_pointer (&entry->params_type, g_variant_unref);
  g_free (entry->sql);
  g_free (entry);
}

MsbDbBackendConn *
msb_db_sqlite_open (const char              *path,
                    MsbDbConnMode            mode,
                    const MsbDbConnSettings *settings,
                    GError                 **error)
{
  MsbDbSqliteConn *self;
  g_autofree char *shown = NULL;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc;

  if (!check_regular_file (path, error))
    return NULL;

  if (mode == MSB_DB_CONN_READ_WRITE)
    {
      if (!create_owner_only (path, error))
        return NULL;
      flags |= SQLITE_OPEN_READWRITE;
    }
  else
    flags |= SQLITE_OPEN_READONLY;

  self = g_new0 (MsbDbSqliteConn, 1);
  self->parent.vtable = &sqlite_vtable;
  self->parent.mode = mode;
  self->wal_path = g_strconcat (path, "-wal", NULL);
  self->watch = -1;
  self->cache = g_hash_table_new (g_str_hash, g_str_equal);
  self->cache_size = MAX (settings->statement_cache_size, 1);
  self->busy_timeout_ms = (int) CLAMP (settings->busy_timeout / G_TIME_SPAN_MILLISECOND, 1, G_MAXINT);
  g_queue_init (&self->lru);

  rc = sqlite3_open_v2 (path, &self->db, flags, NULL);
  shown = msb_db_error_excerpt (path);
  if (rc != SQLITE_OK)
    {
      if (self->db != NULL)
        g_set_error (error, MSB_DB_ERROR, error_code_for (rc),
                     "Could not open the database “%s”: %s [%s]", shown,
                     sqlite3_errmsg (self->db), result_code_name (sqlite3_extended_errcode (self->db)));
      else
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                     "Could not open the database “%s”: %s", shown, sqlite3_errstr (rc));
      msb_db_backend_close (&self->parent);
      return NULL;
    }

  if (!configure_connection_with_retry (self, settings, error))
    {
      g_prefix_error (error, "Could not open the database “%s”: ", shown);
      msb_db_backend_close (&self->parent);
      return NULL;
    }
  if (mode == MSB_DB_CONN_READ_WRITE)
    {
      remember_wal (self);
      start_watch (self);
    }
  return &self->parent;
}

/* Statements ------------------------------------------------------------ */

/* Skips white space, comments and stray semicolons. */
static const char *
skip_insignificant (const char *p)
{
  for (;;)
    {
      while (g_ascii_isspace (*p) || *p == ';')
        p++;
      if (p[0] == '-' && p[1] == '-')
        {
          while (*p && *p != '\n')
            p++;
        }
      else if (p[0] == '/' && p[1] == '*')
        {
          const char *end = strstr (p + 2, "*/");
          p = end ? end + 2 : p + strlen (p);
        }
      else
        return p;
    }
}

static sqlite3_stmt *
prepare_statement (MsbDbSqliteConn  *self,
                   const char       *sql,
                   GError          **error)
{
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  int rc;

  self->refusal[0] = '\0';
  self->saw_insert = FALSE;
  self->saw_defer_fk = FALSE;
  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, sqlite3_extended_errcode (self->db), sql, error);
      self->refusal[0] = '\0';
      return NULL;
    }
  self->refusal[0] = '\0';
  if (stmt == NULL)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                           "The SQL text holds no statement");
      return NULL;
    }
  if (tail != NULL && *skip_insignificant (tail) != '\0')
    {
      g_autofree char *shown = msb_db_error_excerpt (sql);

      sqlite3_finalize (stmt);
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The SQL text holds more than one statement; send them one at a "
                   "time (in a transaction callback to make them atomic): %s", shown);
      return NULL;
    }
  return stmt;
}

static void
evict_oldest (MsbDbSqliteConn *self)
{
  GList *oldest = g_queue_peek_tail_link (&self->lru);
  CachedStatement *entry = oldest->data;

  g_queue_unlink (&self->lru, oldest);
  g_hash_table_remove (self->cache, entry->sql);
  cached_statement_free (entry);
}

/* A prepared statement for @sql, from the cache or freshly prepared. It is
 * reset and unbound; the caller resets it again after use. */
static CachedStatement *
lookup_statement (MsbDbSqliteConn  *self,
                  const char       *sql,
                  GError          **error)
{
  CachedStatement *entry = g_hash_table_lookup (self->cache, sql);
  sqlite3_stmt *stmt;

  if (entry != NULL)
    {
      g_queue_unlink (&self->lru, &entry->link);
      g_queue_push_head_link (&self->lru, &entry->link);
      return entry;
    }

  stmt = prepare_statement (self, sql, error);
  if (stmt == NULL)
    return NULL;

  if (g_queue_get_length (&self->lru) >= self->cache_size)
    evict_oldest (self);

  entry = g_new0 (CachedStatement, 1);
  entry->sql = g_strdup (sql);
  entry->stmt = stmt;
  entry->inserts = self->saw_insert;
  entry->sets_defer_fk = self->saw_defer_fk;
  entry->link.data = entry;
  g_hash_table_insert (self->cache, entry->sql, entry);
  g_queue_push_head_link (&self->lru, &entry->link);
  return entry;
}

static gboolean
columns_match (MsbDbColumns *columns,
               sqlite3_stmt *stmt,
               int           n_columns)
{
  if (columns == NULL || msb_db_columns_get_n (columns) != (guint) n_columns)
    return FALSE;
  for (int c = 0; c < n_columns; c++)
    {
      const char *name = sqlite3_column_name (stmt, c);

      if (g_strcmp0 (name ? name : "", msb_db_columns_get_name (columns, c)) != 0)
        return FALSE;
    }
  return TRUE;
}

/* The column names of the statement's next result. Results of one cached
 * statement share them; they are compared each time, because SQLite
 * prepares a statement again after a schema change, and `SELECT *` may
 * then name other columns. */
static MsbDbColumns *
statement_columns (CachedStatement *entry)
{
  sqlite3_stmt *stmt = entry->stmt;
  int n_columns = sqlite3_column_count (stmt);
  g_autofree const char **names = NULL;

  if (columns_match (entry->columns, stmt, n_columns))
    return entry->columns;

  names = g_new (const char *, MAX (n_columns, 1));
  for (int c = 0; c < n_columns; c++)
    names[c] = sqlite3_column_name (stmt, c);
  g_clear_pointer (&entry->columns, msb_db_columns_unref);
  entry->columns = msb_db_columns_new (n_columns, names);
  return entry->columns;
}

static gboolean
is_pragma (sqlite3_stmt *stmt)
{
  const char *sql = skip_insignificant (sqlite3_sql (stmt));

  return g_ascii_strncasecmp (sql, "PRAGMA", 6) == 0;
}

static void
append_column (MsbDbRows    *rows,
               sqlite3_stmt *stmt,
               int           column)
{
  switch (sqlite3_column_type (stmt, column))
    {
    case SQLITE_INTEGER:
      msb_db_rows_append_int64 (rows, sqlite3_column_int64 (stmt, column));
      break;
    case SQLITE_FLOAT:
      msb_db_rows_append_double (rows, sqlite3_column_double (stmt, column));
      break;
    case SQLITE_TEXT:
      {
        const char *text = (const char *) sqlite3_column_text (stmt, column);
        msb_db_rows_append_text (rows, text, sqlite3_column_bytes (stmt, column));
      }
      break;
    case SQLITE_BLOB:
      {
        const void *blob = sqlite3_column_blob (stmt, column);
        msb_db_rows_append_blob (rows, blob, sqlite3_column_bytes (stmt, column));
      }
      break;
    case SQLITE_NULL:
    default:
      msb_db_rows_append_null (rows);
      break;
    }
}

/* Steps the bound statement to its end, appending its rows to *@rows
 * (made at the first step: after a schema change SQLite prepares the
 * statement again inside it, and `SELECT *` may then have other columns),
 * and adding what it changed to *@changes and its row id to *@rowid. */
static gboolean
step_into (MsbDbSqliteConn  *self,
           CachedStatement  *entry,
           MsbDbRows       **rows,
           gint64           *changes,
           gint64           *rowid,
           GError          **error)
{
  sqlite3_stmt *stmt = entry->stmt;
  sqlite3_int64 total_before = sqlite3_total_changes64 (self->db);
  int n_columns;
  int rc;

  self->failed_with_effects = FALSE;
  rc = sqlite3_step (stmt);
  if (*rows == NULL)
    *rows = msb_db_rows_new (statement_columns (entry));
  n_columns = sqlite3_column_count (stmt);

  for (; rc == SQLITE_ROW; rc = sqlite3_step (stmt))
    {
      for (int c = 0; c < n_columns; c++)
        append_column (*rows, stmt, c);
      if (msb_db_rows_is_too_large (*rows))
        {
          g_autofree char *shown = msb_db_error_excerpt (sqlite3_sql (stmt));

          /* A write's changes were all made at its first step: they stay
           * until its transaction is rolled back. */
          self->failed_with_effects = !sqlite3_stmt_readonly (stmt);
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                       "The result holds more than 4 GiB of text and blobs; read it in "
                       "parts (LIMIT/OFFSET, substr()): %s", shown);
          return FALSE;
        }
    }

  if (rc != SQLITE_DONE)
    {
      /* SQLite undoes a failed statement, except with OR FAIL (and
       * RAISE(FAIL)); then what it changed before failing was counted. */
      self->failed_with_effects = sqlite3_total_changes64 (self->db) != total_before;
      set_sqlite_error (self, sqlite3_extended_errcode (self->db), sqlite3_sql (stmt), error);
      return FALSE;
    }

  /* sqlite3_changes64() and sqlite3_last_insert_rowid() keep the values of
   * the last statement that changed or inserted something, which may be
   * another caller's: only trust them if this statement is the one. */
  if (sqlite3_total_changes64 (self->db) != total_before)
    {
      gint64 n = sqlite3_changes64 (self->db);

      *changes += n;
      if (entry->inserts && n > 0)
        *rowid = sqlite3_last_insert_rowid (self->db);
    }
  return TRUE;
}

static MsbDbRows *
step_to_rows (MsbDbSqliteConn  *self,
              CachedStatement  *entry,
              GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;
  gint64 changes = 0, rowid = 0;

  if (!step_into (self, entry, &rows, &changes, &rowid, error))
    return NULL;
  msb_db_rows_seal (rows, changes, rowid);
  return g_steal_pointer (&rows);
}

/* TRUE if SQLite ended our transaction by itself (see `lost`). */
static gboolean
transaction_lost (MsbDbSqliteConn *self)
{
  return self->tx_open && sqlite3_get_autocommit (self->db);
}

/* A statement failed and took the transaction with it: remember why. */
static void
note_if_lost (MsbDbSqliteConn *self,
              const GError    *cause)
{
  if (!transaction_lost (self) || self->lost != NULL)
    return;
  self->lost = g_error_new (cause->domain, cause->code,
                            "The transaction was rolled back by SQLite when a statement "
                            "failed, and nothing of it was committed: %s", cause->message);
}

static gboolean
refuse_if_lost (MsbDbSqliteConn  *self,
                GError          **error)
{
  if (!transaction_lost (self))
    return FALSE;
  if (self->lost != NULL)
    g_propagate_error (error, g_error_copy (self->lost));
  else
    g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                         "The transaction was rolled back by SQLite, and nothing of it "
                         "was committed");
  return TRUE;
}

/* GLib before 2.76 frees the type information of a tuple type such as
 * "(x)" as soon as the last value of that type goes, and builds it again
 * for the next one: that was a third of the cost of a point read, most of
 * it in the caller's g_variant_new (). Keeping one empty value of the type
 * of a statement's parameters keeps it alive for the callers who pass the
 * same type again. */
static void
keep_params_type (CachedStatement *entry,
                  GVariant        *params)
{
  static GBytes *empty;

  if (params == NULL ||
      (entry->params_type != NULL &&
       g_variant_type_equal (g_variant_get_type (entry->params_type), g_variant_get_type (params))))
    return;
  if (g_once_init_enter (&empty))
    g_once_init_leave (&empty, g_bytes_new_static ("", 0));
  g_clear_pointer (&entry->params_type, g_variant_unref);
  entry->params_type = g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (params),
                                                                     empty, FALSE));
}

/* CREATE, DROP, ALTER: a schema change, which no hook reports. */
static gboolean
changes_schema (sqlite3_stmt *stmt)
{
  const char *sql = skip_insignificant (sqlite3_sql (stmt));

  return g_ascii_strncasecmp (sql, "CREATE", 6) == 0 || g_ascii_strncasecmp (sql, "DROP", 4) == 0 ||
         g_ascii_strncasecmp (sql, "ALTER", 5) == 0;
}

/* While changes are tracked, after a statement: a schema change, or rows
 * changed where the update hook does not look (a WITHOUT ROWID table, a
 * DELETE without WHERE), make the change one that cannot be named; a
 * statement that commits on its own commits its changes, or takes them
 * back. */
static void
log_statement_changes (MsbDbSqliteConn              *self,
                       sqlite3_stmt                 *stmt,
                       MsbDbRows                    *rows,
                       guint                         rows_seen,
                       const MsbDbChangeLogPosition *before,
                       gboolean                      commits)
{
  /* A failed statement that kept none of its changes (all but OR FAIL)
   * leaves the transaction as it found it, though the hook saw its rows. */
  if (rows == NULL && !self->failed_with_effects)
    msb_db_change_log_rewind (self->changes, before);
  if (rows != NULL &&
      ((msb_db_rows_get_changes (rows) > 0 && msb_db_change_log_rows_seen (self->changes) == rows_seen) ||
       changes_schema (stmt)))
    msb_db_change_log_unseen (self->changes);
  if (!commits)
    return;
  if (rows != NULL)
    msb_db_change_log_commit (self->changes);
  else
    msb_db_change_log_undo (self->changes);
}

static MsbDbRows *
sqlite_execute (MsbDbBackendConn  *conn,
                const char        *sql,
                GVariant          *params,
                GCancellable      *cancellable,
                GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  CachedStatement *entry;
  sqlite3_stmt *stmt;
  MsbDbRows *rows = NULL;
  gboolean commits;

  if (g_atomic_int_get (&self->closing))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                           "The database is being closed");
      return NULL;
    }
  if (refuse_if_lost (self, error))
    return NULL;

  entry = lookup_statement (self, sql, error);
  if (entry == NULL)
    return NULL;
  stmt = entry->stmt;
  keep_params_type (entry, params);

  if (conn->mode == MSB_DB_CONN_READ_ONLY && !sqlite3_stmt_readonly (stmt) && !is_pragma (stmt))
    {
      g_autofree char *shown = msb_db_error_excerpt (sql);

      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                   "This statement writes, and this connection only reads (use a "
                   "write or a transaction): %s", shown);
      return NULL;
    }

  /* A write outside our transaction commits on its own: it gets the
   * checks a COMMIT gets. */
  commits = conn->mode == MSB_DB_CONN_READ_WRITE && !self->tx_open && !sqlite3_stmt_readonly (stmt);
  if ((!commits || check_not_broken (self, error)) && msb_db_bind_params (stmt, params, error))
    {
      GError *local_error = NULL;
      guint rows_seen = 0;
      MsbDbChangeLogPosition before;

      if (self->changes != NULL)
        {
          rows_seen = msb_db_change_log_rows_seen (self->changes);
          msb_db_change_log_tell (self->changes, &before);
        }
      self->cancellable = cancellable;
      self->defer_fk_changed |= entry->sets_defer_fk;
      rows = step_to_rows (self, entry, &local_error);
      self->cancellable = NULL;
      if (self->changes != NULL)
        log_statement_changes (self, stmt, rows, rows_seen, &before, commits);
      if (rows == NULL)
        {
          note_if_lost (self, local_error);
          g_propagate_error (error, local_error);
        }
      else if (commits)
        {
          remember_wal (self);
          if (!check_files (self, error))
            g_clear_object (&rows);
        }
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rows;
}

/* Cursors --------------------------------------------------------------- */

struct _MsbDbBackendCursor
{
  CachedStatement entry;     /* not in the cache: the cursor's own */
  GVariant *params;          /* bound without copying: kept while it runs */
  gboolean finished;         /* stepped to its end: stepping again would
                              * start it over */
};

static void
sqlite_cursor_close (MsbDbBackendConn   *conn,
                     MsbDbBackendCursor *cursor)
{
  sqlite3_finalize (cursor->entry.stmt);
  g_clear_pointer (&cursor->entry.columns, msb_db_columns_unref);
  g_clear_pointer (&cursor->params, g_variant_unref);
  g_free (cursor);
}

/* A statement of its own, outside the statement cache: it is held for as
 * long as the cursor lives, and must not be evicted or shared meanwhile. */
static MsbDbBackendCursor *
sqlite_cursor_open (MsbDbBackendConn  *conn,
                    const char        *sql,
                    GVariant          *params,
                    GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  MsbDbBackendCursor *cursor;
  sqlite3_stmt *stmt;

  stmt = prepare_statement (self, sql, error);
  if (stmt == NULL)
    return NULL;
  cursor = g_new0 (MsbDbBackendCursor, 1);
  cursor->entry.stmt = stmt;
  cursor->params = params ? g_variant_ref_sink (params) : NULL;
  if (!sqlite3_stmt_readonly (stmt))
    {
      g_autofree char *shown = msb_db_error_excerpt (sql);

      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                   "A cursor only reads, and this statement writes: %s", shown);
      sqlite_cursor_close (conn, cursor);
      return NULL;
    }
  if (!msb_db_bind_params (stmt, cursor->params, error))
    {
      sqlite_cursor_close (conn, cursor);
      return NULL;
    }
  return cursor;
}

static MsbDbRows *
sqlite_cursor_fetch (MsbDbBackendConn    *conn,
                     MsbDbBackendCursor  *cursor,
                     guint                max_rows,
                     GCancellable        *cancellable,
                     gboolean            *done,
                     GError             **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  sqlite3_stmt *stmt = cursor->entry.stmt;
  g_autoptr(MsbDbRows) rows = NULL;
  int n_columns;
  int rc = SQLITE_ROW;

  if (g_atomic_int_get (&self->closing))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                           "The database is being closed");
      return NULL;
    }

  self->cancellable = cancellable;
  for (guint n = 0; n < max_rows && !cursor->finished; n++)
    {
      rc = sqlite3_step (stmt);
      cursor->finished = rc != SQLITE_ROW;
      if (rows == NULL)
        rows = msb_db_rows_new (statement_columns (&cursor->entry));
      if (rc != SQLITE_ROW)
        break;
      n_columns = sqlite3_column_count (stmt);
      for (int c = 0; c < n_columns; c++)
        append_column (rows, stmt, c);
    }
  self->cancellable = NULL;

  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      set_sqlite_error (self, sqlite3_extended_errcode (self->db), sqlite3_sql (stmt), error);
      return NULL;
    }
  if (rows == NULL)
    rows = msb_db_rows_new (statement_columns (&cursor->entry));
  *done = cursor->finished;
  msb_db_rows_seal (rows, 0, 0);
  return g_steal_pointer (&rows);
}

/* Runs one statement once per element of @param_rows (an array of
 * parameter tuples or dictionaries, each maybe inside a variant; or a
 * tuple of arrays, one per parameter), prepared once: the rows of a
 * RETURNING clause are gathered, the changes added up. The caller provides
 * the transaction that makes it all or nothing. */
static MsbDbRows *
sqlite_execute_many (MsbDbBackendConn  *conn,
                     const char        *sql,
                     GVariant          *param_rows,
                     GCancellable      *cancellable,
                     GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbColumnParams) columns = NULL;
  CachedStatement *entry;
  gint64 changes = 0, rowid = 0;
  gsize n_rows;
  gboolean ok = TRUE;

  /* A tuple of arrays: the parameters column by column. */
  if (g_variant_is_of_type (param_rows, G_VARIANT_TYPE_TUPLE))
    {
      columns = msb_db_column_params_new (param_rows, error);
      if (columns == NULL)
        return NULL;
      n_rows = msb_db_column_params_get_n_rows (columns);
    }
  else
    n_rows = g_variant_n_children (param_rows);

  if (refuse_if_lost (self, error))
    return NULL;
  entry = lookup_statement (self, sql, error);
  if (entry == NULL)
    return NULL;
  if (conn->mode == MSB_DB_CONN_READ_ONLY)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                           "Writing many rows needs the writer");
      return NULL;
    }

  self->cancellable = cancellable;
  self->defer_fk_changed |= entry->sets_defer_fk;
  for (gsize i = 0; ok && i < n_rows; i++)
    {
      GError *local_error = NULL;

      if (columns != NULL)
        ok = msb_db_column_params_bind (columns, entry->stmt, i, &local_error);
      else
        {
          g_autoptr(GVariant) element = g_variant_get_child_value (param_rows, i);
          g_autoptr(GVariant) params = g_variant_is_of_type (element, G_VARIANT_TYPE_VARIANT)
                                       ? g_variant_get_variant (element) : g_variant_ref (element);

          if (i == 0)
            keep_params_type (entry, params);
          ok = msb_db_bind_params (entry->stmt, params, &local_error);
        }
      ok = ok && step_into (self, entry, &rows, &changes, &rowid, &local_error);
      sqlite3_reset (entry->stmt);
      sqlite3_clear_bindings (entry->stmt);
      if (!ok)
        {
          note_if_lost (self, local_error);
          g_prefix_error (&local_error, "Row %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                          " (nothing was written): ", i + 1, n_rows);
          g_propagate_error (error, local_error);
        }
    }
  self->cancellable = NULL;
  if (!ok)
    return NULL;
  if (rows == NULL)
    rows = msb_db_rows_new (statement_columns (entry));
  msb_db_rows_seal (rows, changes, rowid);
  return g_steal_pointer (&rows);
}

/* While changes are tracked: a statement of a script that writes where
 * the update hook does not look (a schema change, a WITHOUT ROWID table)
 * makes the change one that cannot be named. */
static void
log_script_changes (MsbDbSqliteConn *self,
                    sqlite3_stmt    *stmt,
                    guint            rows_seen)
{
  if (!sqlite3_stmt_readonly (stmt) && msb_db_change_log_rows_seen (self->changes) == rows_seen)
    msb_db_change_log_unseen (self->changes);
  if (!self->tx_open)
    msb_db_change_log_commit (self->changes);
}

/* Runs every statement of @sql in turn (a schema script, a migration
 * step). Each one goes through the authorizer like any other, and a
 * statement that writes through a read-only connection is refused. */
static gboolean
sqlite_execute_script (MsbDbBackendConn  *conn,
                       const char        *sql,
                       GCancellable      *cancellable,
                       GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  const char *next = sql;
  gboolean ok = TRUE;

  if (refuse_if_lost (self, error))
    return FALSE;

  self->cancellable = cancellable;
  while (ok && *skip_insignificant (next) != '\0')
    {
      sqlite3_stmt *stmt = NULL;
      const char *tail = NULL;
      int rc;

      self->refusal[0] = '\0';
      rc = sqlite3_prepare_v2 (self->db, next, -1, &stmt, &tail);
      if (rc != SQLITE_OK)
        {
          set_sqlite_error (self, sqlite3_extended_errcode (self->db), next, error);
          ok = FALSE;
        }
      else if (stmt != NULL && conn->mode == MSB_DB_CONN_READ_ONLY && !sqlite3_stmt_readonly (stmt))
        {
          g_autofree char *shown = msb_db_error_excerpt (sqlite3_sql (stmt));

          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                       "This statement writes, and this connection only reads: %s", shown);
          ok = FALSE;
        }
      else if (stmt != NULL)
        {
          guint rows_seen = self->changes ? msb_db_change_log_rows_seen (self->changes) : 0;

          while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
            ;
          if (rc != SQLITE_DONE)
            {
              GError *local_error = NULL;

              set_sqlite_error (self, sqlite3_extended_errcode (self->db), sqlite3_sql (stmt),
                                &local_error);
              note_if_lost (self, local_error);
              g_propagate_error (error, local_error);
              ok = FALSE;
            }
          else if (self->changes != NULL)
            log_script_changes (self, stmt, rows_seen);
        }
      sqlite3_finalize (stmt);
      self->refusal[0] = '\0';
      next = tail != NULL ? tail : "";
    }
  self->cancellable = NULL;
  return ok;
}

/* The files a write commits to --------------------------------------- */

/* In WAL mode SQLite happily keeps writing to a database file, or a -wal
 * file, that was deleted or replaced under it: those writes would be
 * reported committed and be lost. */
/* Looking at the files costs a stat() each, at every commit. A write
 * connection also watches its directory (inotify): as long as nothing has
 * happened there to the database or its -wal file, a non-blocking read()
 * that finds no event is all a check costs. Any event about those names,
 * or lost events, makes every later check look at the files. */
static void
start_watch (MsbDbSqliteConn *self)
{
  g_autofree char *dir = g_path_get_dirname (sqlite3_db_filename (self->db, "main"));

  self->watch = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (self->watch < 0)
    return;
  /* Not IN_CREATE: SQLite creates the -wal file at the first write; a file
   * replaced is first deleted or moved, which is seen. */
  if (inotify_add_watch (self->watch, dir, IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
                         IN_DELETE_SELF | IN_MOVE_SELF) < 0)
    {
      close (self->watch);
      self->watch = -1;
    }
}

static gboolean
names_ours (MsbDbSqliteConn *self,
            const char      *name)
{
  g_autofree char *db = g_path_get_basename (sqlite3_db_filename (self->db, "main"));
  g_autofree char *wal = g_path_get_basename (self->wal_path);

  return g_str_equal (name, db) || g_str_equal (name, wal);
}

/* FALSE only if the watch shows that neither file can have changed. */
static gboolean
files_may_have_changed (MsbDbSqliteConn *self)
{
  char buffer[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  ssize_t length;

  if (self->watch < 0 || self->suspect)
    return TRUE;
  while ((length = read (self->watch, buffer, sizeof buffer)) > 0)
    for (char *p = buffer; p < buffer + length; )
      {
        const struct inotify_event *event = (const struct inotify_event *) p;

        if ((event->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) ||
            (event->len > 0 && names_ours (self, event->name)))
          self->suspect = TRUE;
        p += sizeof *event + event->len;
      }
  if (length < 0 && errno != EAGAIN)
    self->suspect = TRUE;
  return self->suspect;
}

static gboolean
database_moved (MsbDbSqliteConn *self)
{
  int moved = 0;

  return sqlite3_file_control (self->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
         moved;
}

/* Remembers which -wal file this connection writes to. SQLite never
 * removes or replaces it while a connection is open. */
static void
remember_wal (MsbDbSqliteConn *self)
{
  GStatBuf st;

  if (self->wal_known || g_stat (self->wal_path, &st) != 0)
    return;
  self->wal_known = TRUE;
  self->wal_dev = st.st_dev;
  self->wal_ino = st.st_ino;
}

static gboolean
wal_replaced (MsbDbSqliteConn *self)
{
  GStatBuf st;

  if (!self->wal_known)
    return FALSE;
  return g_stat (self->wal_path, &st) != 0 || st.st_dev != self->wal_dev ||
         st.st_ino != self->wal_ino;
}

/* TRUE if another process holds a lock on the -shm file's dead man switch
 * byte, which every connection holds while it is open. Read from
 * /proc/locks: opening the -shm file ourselves to ask with F_GETLK would
 * drop SQLite's own POSIX locks on it when we closed it. When it cannot
 * be told, assume somebody does. */
static gboolean
others_have_database_open (MsbDbSqliteConn *self)
{
  g_autofree char *shm_path = g_strconcat (self->wal_path, NULL);
  g_autofree char *locks = NULL;
  g_auto(GStrv) lines = NULL;
  GStatBuf st;
  pid_t me = getpid ();

  /* wal_path is "<db>-wal"; the -shm file sits beside it. */
  strcpy (shm_path + strlen (shm_path) - 3, "shm");
  if (g_stat (shm_path, &st) != 0 || !g_file_get_contents ("/proc/locks", &locks, NULL, NULL))
    return TRUE;

  lines = g_strsplit (locks, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned long long ino;
      long long start;
      char end[32];
      int pid;

      if (strstr (lines[i], "->") != NULL ||
          sscanf (lines[i], "%*d: %*s %*s %*s %d %*x:%*x:%llu %lld %31s",
                  &pid, &ino, &start, end) != 4)
        continue;
      if (ino != (unsigned long long) st.st_ino || pid == me)
        continue;
      if (start <= SHM_DMS_OFFSET &&
          (g_str_equal (end, "EOF") || g_ascii_strtoll (end, NULL, 10) >= SHM_DMS_OFFSET))
        return TRUE;
    }
  return FALSE;
}

/* The -wal file was deleted: what this connection committed since the last
 * checkpoint is only in the deleted file. Copy it into the database file,
 * if nobody else can have started a new log meanwhile. */
static gboolean
rescue_deleted_wal (MsbDbSqliteConn *self)
{
  if (others_have_database_open (self))
    return FALSE;
  /* TRUNCATE, not FULL: besides copying every page into the database file
   * it resets the shared log index, so that the next connection reads the
   * database file and does not look for those pages in a new, empty log. */
  return sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK;
}

/* Before a commit: refuse once the files were found replaced, and find out
 * now whether the database file was: frames written to the -wal file at
 * the path would then belong to the file that replaced it. */
static gboolean
check_not_broken (MsbDbSqliteConn  *self,
                  GError          **error)
{
  if (self->broken == NULL && files_may_have_changed (self) && database_moved (self))
    {
      g_autofree char *db_path = msb_db_error_excerpt (sqlite3_db_filename (self->db, "main"));

      self->broken = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                                  "The database file “%s” was deleted, renamed or replaced "
                                  "while open: nothing more can be written (close and open "
                                  "the pools again)", db_path);
    }
  if (self->broken == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (self->broken));
  return FALSE;
}

/* After a COMMIT: are the files it went to still the ones at the path? A
 * commit that went to a database file replaced meanwhile is not in the
 * file at the path: it is reported failed. A commit that went to a deleted
 * -wal file is copied into the database file if nobody else can have
 * started a new log (then it is acknowledged: it is in the file);
 * otherwise it fails. Either way, nothing more is written. */
static gboolean
check_files (MsbDbSqliteConn  *self,
             GError          **error)
{
  g_autofree char *db_path = NULL;
  gboolean rescued;

  if (self->broken == NULL && !files_may_have_changed (self))
    return TRUE;
  if (self->broken == NULL && database_moved (self))
    {
      db_path = msb_db_error_excerpt (sqlite3_db_filename (self->db, "main"));
      self->broken = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                                  "The database file “%s” was deleted, renamed or replaced "
                                  "while open: nothing more can be written (close and open "
                                  "the pools again)", db_path);
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "The transaction was committed to a file that is no longer the database "
                   "at the path: it is not in the database. %s", self->broken->message);
      return FALSE;
    }
  if (self->broken != NULL || !wal_replaced (self))
    return TRUE;

  db_path = msb_db_error_excerpt (sqlite3_db_filename (self->db, "main"));
  rescued = rescue_deleted_wal (self);
  self->broken = g_error_new (MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                              "The -wal file of “%s” was deleted or replaced while the "
                              "database was open: nothing more can be written (close "
                              "and open the pools again). %s", db_path,
                              rescued ? "Every write acknowledged before was saved into "
                                        "the database file."
                                      : "Another process had the database open: writes "
                                        "acknowledged since the last checkpoint may be lost.");
  if (rescued)
    return TRUE;
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "The transaction was committed to a -wal file that was deleted: it is not "
               "in the database. %s", self->broken->message);
  return FALSE;
}

/* Transaction control ----------------------------------------------------- */

static const char * const control_sql[] = {
  [MSB_DB_TX_BEGIN] = "BEGIN",
  [MSB_DB_TX_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
  [MSB_DB_TX_COMMIT] = "COMMIT",
  [MSB_DB_TX_ROLLBACK] = "ROLLBACK",
  [MSB_DB_TX_SAVEPOINT] = "SAVEPOINT msb_db_job",
  [MSB_DB_TX_RELEASE] = "RELEASE msb_db_job",
  [MSB_DB_TX_ROLLBACK_TO] = "ROLLBACK TO msb_db_job",
};

static int
step_control (MsbDbSqliteConn *self,
              sqlite3_stmt   **cached,
              const char      *sql)
{
  int rc = SQLITE_OK;

  self->allow_control = TRUE;
  if (*cached == NULL)
    rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, cached, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (*cached);
      rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode (self->db);
      sqlite3_reset (*cached);
    }
  self->allow_control = FALSE;
  return rc;
}

/* A write leaves no foreign key violated, deferred ones included: checked
 * when the job ends (its savepoint is released), not at COMMIT, where it
 * would fail every job of the batch. */
static gboolean
check_deferred_constraints (MsbDbSqliteConn  *self,
                            GError          **error)
{
  int current = 0, highest = 0;

  sqlite3_db_status (self->db, SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highest, FALSE);
  if (current == 0)
    return TRUE;
  g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT,
                       "FOREIGN KEY constraint failed [SQLITE_CONSTRAINT_FOREIGNKEY]: the "
                       "write leaves a deferred foreign key violated");
  return FALSE;
}

/* A job's `PRAGMA defer_foreign_keys` ends with the job, as it would end
 * with its transaction if it ran alone. */
static void
end_job_settings (MsbDbSqliteConn *self)
{
  if (!self->defer_fk_changed)
    return;
  self->defer_fk_changed = FALSE;
  sqlite3_exec (self->db, "PRAGMA defer_foreign_keys = OFF", NULL, NULL, NULL);
}

static gboolean
end_job (MsbDbSqliteConn  *self,
         GError          **error)
{
  gboolean effects = self->failed_with_effects;

  self->failed_with_effects = FALSE;
  if (effects)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "The statement failed after changing rows (OR FAIL): those "
                           "changes must be rolled back with the whole transaction");
      return FALSE;
    }
  if (!check_deferred_constraints (self, error))
    return FALSE;
  end_job_settings (self);
  return TRUE;
}

static gboolean
sqlite_control (MsbDbBackendConn  *conn,
                MsbDbTxOp          op,
                GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  int rc;

  if (op == MSB_DB_TX_ROLLBACK && sqlite3_get_autocommit (self->db))
    {
      /* Nothing open (or SQLite rolled it back already): nothing to report. */
      self->tx_open = FALSE;
      self->defer_fk_changed = FALSE;
      g_clear_error (&self->lost);
      return TRUE;
    }
  if (op != MSB_DB_TX_ROLLBACK && refuse_if_lost (self, error))
    return FALSE;
  if (op == MSB_DB_TX_END_JOB)
    return end_job (self, error);
  if (op == MSB_DB_TX_BEGIN_IMMEDIATE && self->broken != NULL)
    return check_not_broken (self, error);
  if (op == MSB_DB_TX_RELEASE && !check_deferred_constraints (self, error))
    return FALSE;
  if (op == MSB_DB_TX_COMMIT && !check_not_broken (self, error))
    return FALSE;

  rc = step_control (self, &self->control[op], control_sql[op]);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, rc, control_sql[op], error);
      return FALSE;
    }

  switch (op)
    {
    case MSB_DB_TX_BEGIN:
    case MSB_DB_TX_BEGIN_IMMEDIATE:
      self->tx_open = TRUE;
      break;
    case MSB_DB_TX_COMMIT:
    case MSB_DB_TX_ROLLBACK:
      self->tx_open = FALSE;
      self->defer_fk_changed = FALSE;
      if (op == MSB_DB_TX_COMMIT)
        {
          remember_wal (self);
          if (!check_files (self, error))
            return FALSE;
          if (self->changes != NULL)
            msb_db_change_log_commit (self->changes);
          return TRUE;
        }
      if (self->changes != NULL)
        msb_db_change_log_undo (self->changes);
      break;
    case MSB_DB_TX_RELEASE:
    case MSB_DB_TX_ROLLBACK_TO:
      end_job_settings (self);
      if (op == MSB_DB_TX_ROLLBACK_TO && self->changes != NULL)
        msb_db_change_log_undo_to_mark (self->changes);
      break;
    case MSB_DB_TX_SAVEPOINT:
      if (self->changes != NULL)
        msb_db_change_log_mark (self->changes);
      break;
    case MSB_DB_TX_END_JOB:   /* handled above: no statement */
      break;
    }
  return TRUE;
}

static gboolean
sqlite_in_transaction (MsbDbBackendConn *conn)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;

  return !sqlite3_get_autocommit (self->db);
}

static void
sqlite_interrupt (MsbDbBackendConn *conn)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;

  g_atomic_int_set (&self->closing, TRUE);
  sqlite3_interrupt (self->db);
}

static gboolean
sqlite_checkpoint (MsbDbBackendConn     *conn,
                   MsbDbCheckpointMode   mode,
                   GTimeSpan             max_wait,
                   GError              **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  int log_frames = 0, checkpointed = 0;
  int rc;

  static const int sqlite_modes[] = {
    [MSB_DB_CHECKPOINT_PASSIVE] = SQLITE_CHECKPOINT_PASSIVE,
    [MSB_DB_CHECKPOINT_FULL] = SQLITE_CHECKPOINT_FULL,
    [MSB_DB_CHECKPOINT_RESTART] = SQLITE_CHECKPOINT_RESTART,
    [MSB_DB_CHECKPOINT_TRUNCATE] = SQLITE_CHECKPOINT_TRUNCATE,
  };

  /* Restarting the log waits for readers through the busy handler: bound
   * that wait, so a long reader delays the checkpoint, not the writes. */
  if (mode != MSB_DB_CHECKPOINT_PASSIVE)
    sqlite3_busy_timeout (self->db, (int) CLAMP (max_wait / G_TIME_SPAN_MILLISECOND, 1, G_MAXINT));
  rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, sqlite_modes[mode], &log_frames, &checkpointed);
  if (mode != MSB_DB_CHECKPOINT_PASSIVE)
    sqlite3_busy_timeout (self->db, self->busy_timeout_ms);
  if (rc == SQLITE_OK && mode != MSB_DB_CHECKPOINT_PASSIVE)
    self->wal_frames = 0;
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, sqlite3_extended_errcode (self->db), NULL, error);
      return FALSE;
    }
  return TRUE;
}

static guint64
sqlite_wal_size (MsbDbBackendConn *conn)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  GStatBuf st;

  if (g_stat (self->wal_path, &st) != 0)
    return 0;
  return st.st_size;
}

static guint
sqlite_wal_frames (MsbDbBackendConn *conn)
{
  return MAX (((MsbDbSqliteConn *) conn)->wal_frames, 0);
}

static void
sqlite_close (MsbDbBackendConn *conn)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  GList *link;

  while ((link = g_queue_pop_head_link (&self->lru)) != NULL)
    cached_statement_free (link->data);
  g_hash_table_destroy (self->cache);
  for (gsize i = 0; i < G_N_ELEMENTS (self->control); i++)
    sqlite3_finalize (self->control[i]);
  g_clear_error (&self->lost);
  g_clear_error (&self->broken);
  msb_db_change_log_free (self->changes);
  if (self->db != NULL && sqlite3_close (self->db) != SQLITE_OK)
    g_warning ("Could not close a database connection: %s", sqlite3_errmsg (self->db));
  if (self->watch >= 0)
    close (self->watch);
  g_free (self->wal_path);
  g_free (self);
}

/* Change tracking --------------------------------------------------------- */

/* Rows of ordinary (rowid) tables, from every statement, trigger and
 * foreign key action. Changes SQLite's update hook does not report are
 * caught per statement (see log_statement_changes()). */
static void
on_row_changed (void          *data,
                int            operation,
                const char    *database,
                const char    *table,
                sqlite3_int64  rowid)
{
  MsbDbSqliteConn *self = data;

  if (g_strcmp0 (database, "main") == 0)
    msb_db_change_log_row (self->changes, table);
}

/* A rollback SQLite made by itself (a statement that ended the
 * transaction) takes the transaction's changes with it. */
static void
on_rollback (void *data)
{
  MsbDbSqliteConn *self = data;

  msb_db_change_log_undo (self->changes);
}

static void
sqlite_track_changes (MsbDbBackendConn *conn,
                      gboolean          track)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;

  if (track == (self->changes != NULL))
    return;
  if (track)
    {
      self->changes = msb_db_change_log_new ();
      sqlite3_update_hook (self->db, on_row_changed, self);
      sqlite3_rollback_hook (self->db, on_rollback, self);
    }
  else
    {
      sqlite3_update_hook (self->db, NULL, NULL);
      sqlite3_rollback_hook (self->db, NULL, NULL);
      g_clear_pointer (&self->changes, msb_db_change_log_free);
    }
}

static gboolean
sqlite_take_changes (MsbDbBackendConn  *conn,
                     GPtrArray        **tables)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;

  *tables = NULL;
  return self->changes != NULL && msb_db_change_log_take (self->changes, tables);
}

/* Maintenance -------------------------------------------------------------- */

static gboolean
sqlite_vacuum (MsbDbBackendConn  *conn,
               GCancellable      *cancellable,
               GError           **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  gboolean ok;

  if (self->tx_open || !sqlite3_get_autocommit (self->db))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "VACUUM cannot run inside a transaction");
      return FALSE;
    }
  if (!check_not_broken (self, error))
    return FALSE;

  /* Not through the statement cache: VACUUM runs rarely, and its scratch
   * database is only let through the authorizer while it runs. */
  self->cancellable = cancellable;
  self->in_vacuum = TRUE;
  ok = run_setup_statement (self, "VACUUM", NULL, error);
  self->in_vacuum = FALSE;
  self->cancellable = NULL;
  if (ok)
    {
      remember_wal (self);
      ok = check_files (self, error);
    }
  /* It rewrote every page, and changed no row. */
  if (self->changes != NULL)
    msb_db_change_log_undo (self->changes);
  return ok;
}

static gboolean
sqlite_checkpoint_counted (MsbDbBackendConn     *conn,
                           MsbDbCheckpointMode   mode,
                           GTimeSpan             max_wait,
                           gint                 *log_frames,
                           gint                 *checkpointed_frames,
                           GError              **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  int log = -1, copied = -1;
  int rc;

  static const int sqlite_modes[] = {
    [MSB_DB_CHECKPOINT_PASSIVE] = SQLITE_CHECKPOINT_PASSIVE,
    [MSB_DB_CHECKPOINT_FULL] = SQLITE_CHECKPOINT_FULL,
    [MSB_DB_CHECKPOINT_RESTART] = SQLITE_CHECKPOINT_RESTART,
    [MSB_DB_CHECKPOINT_TRUNCATE] = SQLITE_CHECKPOINT_TRUNCATE,
  };

  /* A TRUNCATE checkpoint reports an empty log, which it is afterwards:
   * count the pages with a PASSIVE one first. */
  if (mode == MSB_DB_CHECKPOINT_TRUNCATE &&
      sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) != SQLITE_OK)
    log = copied = -1;

  /* Every mode but PASSIVE waits for locks through the busy handler. */
  sqlite3_busy_timeout (self->db, (int) CLAMP (max_wait / G_TIME_SPAN_MILLISECOND, 1, G_MAXINT));
  if (mode == MSB_DB_CHECKPOINT_TRUNCATE)
    {
      rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
      if (rc == SQLITE_OK)
        copied = log;
    }
  else
    rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, sqlite_modes[mode], &log, &copied);
  sqlite3_busy_timeout (self->db, self->busy_timeout_ms);
  if (log_frames != NULL)
    *log_frames = log;
  if (checkpointed_frames != NULL)
    *checkpointed_frames = copied;
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, sqlite3_extended_errcode (self->db), NULL, error);
      if ((rc & 0xff) == SQLITE_BUSY)
        g_prefix_error (error, "The checkpoint could not finish: %d of %d pages of the log "
                        "were copied, and %s: ", MAX (copied, 0), MAX (log, 0),
                        mode == MSB_DB_CHECKPOINT_FULL ? "another writer holds the database"
                        : "a reader still uses the log");
      return FALSE;
    }
  if (mode == MSB_DB_CHECKPOINT_RESTART || mode == MSB_DB_CHECKPOINT_TRUNCATE)
    self->wal_frames = 0;
  return TRUE;
}

/* Online backup ------------------------------------------------------------ */

/* Pages copied per step: 4 MiB with the default page size. Between steps
 * the cancellable is looked at and progress reported. */
#define BACKUP_STEP_PAGES 1024

/* The caller names the file: the backup's own, not the temporary one. */
static void
set_dest_error (sqlite3     *dest,
                int          code,
                GError     **error)
{
  g_autofree char *message = msb_db_error_excerpt (dest ? sqlite3_errmsg (dest) : sqlite3_errstr (code));

  g_set_error (error, MSB_DB_ERROR, error_code_for (code), "%s [%s]", message,
               result_code_name (code));
}

/* Copies the database, as seen by the read transaction open on @conn,
 * into the empty file at @path. With the source's snapshot held for the
 * whole copy, SQLite never restarts it: writers go on (in the log) and the
 * copy is of one committed state. */
static gboolean
sqlite_backup (MsbDbBackendConn     *conn,
               const char           *path,
               MsbDbBackupStepFunc   step,
               gpointer              step_data,
               GCancellable         *cancellable,
               GError              **error)
{
  MsbDbSqliteConn *self = (MsbDbSqliteConn *) conn;
  g_autofree char *page_size_text = NULL;
  sqlite3 *dest = NULL;
  sqlite3_backup *backup;
  guint page_size;
  int rc;

  if (!self->tx_open)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "A backup needs the read transaction of a snapshot");
      return FALSE;
    }
  /* A deferred BEGIN takes its snapshot at the first read: take it now,
   * or each step would read the latest state instead. */
  if (!run_setup_statement (self, "SELECT count(*) FROM sqlite_schema", NULL, error) ||
      !run_setup_statement (self, "PRAGMA page_size", &page_size_text, error))
    return FALSE;
  page_size = (guint) g_ascii_strtoull (page_size_text ? page_size_text : "0", NULL, 10);

  rc = sqlite3_open_v2 (path, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK)
    {
      set_dest_error (dest, rc, error);
      sqlite3_close (dest);
      return FALSE;
    }
  sqlite3_extended_result_codes (dest, 1);
  sqlite3_db_config (dest, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

  backup = sqlite3_backup_init (dest, "main", self->db, "main");
  if (backup == NULL)
    {
      set_dest_error (dest, sqlite3_extended_errcode (dest), error);
      sqlite3_close (dest);
      return FALSE;
    }

  do
    {
      if (g_cancellable_is_cancelled (cancellable) || g_atomic_int_get (&self->closing))
        break;
      rc = sqlite3_backup_step (backup, BACKUP_STEP_PAGES);
      if ((rc == SQLITE_OK || rc == SQLITE_DONE) && step != NULL)
        {
          guint64 total = (guint64) sqlite3_backup_pagecount (backup);

          step (total - (guint64) sqlite3_backup_remaining (backup), total, page_size, step_data);
        }
    }
  while (rc == SQLITE_OK);

  sqlite3_backup_finish (backup);
  if (rc != SQLITE_DONE)
    {
      if (g_atomic_int_get (&self->closing))
        g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                             "The database is being closed: the backup was stopped");
      else if (!g_cancellable_set_error_if_cancelled (cancellable, error))
        set_dest_error (dest, sqlite3_extended_errcode (dest) != SQLITE_OK
                              ? sqlite3_extended_errcode (dest) : rc, error);
      sqlite3_close (dest);
      return FALSE;
    }
  rc = sqlite3_close (dest);
  if (rc != SQLITE_OK)
    {
      set_dest_error (NULL, rc, error);
      return FALSE;
    }
  return TRUE;
}

static const MsbDbBackendVTable sqlite_vtable = {
  .name = "sqlite",
  .execute = sqlite_execute,
  .execute_many = sqlite_execute_many,
  .execute_script = sqlite_execute_script,
  .cursor_open = sqlite_cursor_open,
  .cursor_fetch = sqlite_cursor_fetch,
  .cursor_close = sqlite_cursor_close,
  .control = sqlite_control,
  .in_transaction = sqlite_in_transaction,
  .interrupt = sqlite_interrupt,
  .checkpoint = sqlite_checkpoint,
  .wal_size = sqlite_wal_size,
  .wal_frames = sqlite_wal_frames,
  .close = sqlite_close,
  .vacuum = sqlite_vacuum,
  .checkpoint_counted = sqlite_checkpoint_counted,
  .backup = sqlite_backup,
  .track_changes = sqlite_track_changes,
  .take_changes = sqlite_take_changes,
};

/* After the last read-only connection of a process closed: a read-only
 * connection cannot fold the WAL back, so if it was the last user of the
 * file the -wal and -shm files stay. Open the existing file read-write
 * (never creating it), touch it, and close: if nobody else has it open,
 * SQLite checkpoints and removes them. Any failure (no write permission,
 * another user) just leaves things as they are. */
void
msb_db_sqlite_tidy (const char *path)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK)
    {
      sqlite3_db_config (db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
      sqlite3_exec (db, "PRAGMA schema_version", NULL, NULL, NULL);
    }
  sqlite3_close (db);
}
