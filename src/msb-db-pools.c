/* msb-db-pools.c: a read pool and one writer thread over one SQLite database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "msb-db-backend.h"
#include "msb-db-callback-scope.h"
#include "msb-db-connection-private.h"
#include "msb-db-enum-types.h"
#include "msb-db-error.h"
#include "msb-db-job.h"
#include "msb-db-notify-private.h"
#include "msb-db-pools-private.h"
#include "msb-db-reader.h"
#include "msb-db-retry.h"
#include "msb-db-stats-private.h"
#include "msb-db-target.h"
#include "msb-db-writer.h"

/**
 * MsbDbPools:
 *
 * One SQLite database, shared safely by all the threads of a process and
 * by other processes: a bounded pool of read-only connections whose reads
 * run on worker threads, and one dedicated writer thread that owns the
 * only write connection of the process.
 *
 * ## Opening
 *
 * Every connection gets the same settings: `journal_mode=WAL`,
 * `busy_timeout`, `foreign_keys=ON`, `synchronous=NORMAL`,
 * `trusted_schema=OFF`, defensive mode, no extension loading. The writer
 * connection opens first and creates the file (readable and writable by its
 * owner only), then the read connections open. A database created by
 * [func@MsbDb.Pools.open_read_only] is never created: the file must exist.
 *
 * The `path` is a file path, or `sqlite:///absolute/path`, or
 * `dqlite://HOST:PORT[,HOST:PORT...]/NAME`: the database NAME in a dqlite
 * cluster, found through any of the listed nodes (see the
 * [cluster page](cluster.html): what stays the same, what changes, and
 * dqlite's own limits). Any other `scheme://` target fails with
 * %MSB_DB_ERROR_CANT_OPEN, and so does a malformed `dqlite://` target (the
 * message shows a correct one) and a `file:` URI (SQLite would read its
 * parameters, which could change how the file is opened; a file whose name
 * starts with `file:` is `./file:…`). A cluster where no node names a
 * leader within #MsbDbPools:connect-timeout fails with
 * %MSB_DB_ERROR_CANT_OPEN naming every node tried and why.
 *
 * ## Reads and writes
 *
 * [method@MsbDb.Pools.read] runs one statement on a read connection;
 * statements that write are refused with %MSB_DB_ERROR_READ_ONLY.
 * [method@MsbDb.Pools.write] queues one statement for the writer thread,
 * and [method@MsbDb.Pools.transaction] a callback that runs several in one
 * transaction. Writes run in the order they were queued; writes that are
 * queued together are committed together (each in its own savepoint, so
 * one failing write does not affect the others: a write that makes SQLite
 * abandon the whole transaction, or leaves a deferred foreign key
 * violated, fails alone, and the others run again). A write or transaction
 * reported as successful is committed to the file at the path; one
 * reported as failed had no effect. If the file, or its `-wal` file, is
 * deleted or replaced while open, writes fail with %MSB_DB_ERROR_FAILED
 * from then on.
 *
 * When another process holds the database, statements wait up to the busy
 * timeout, then the whole unit of work is retried with exponential backoff
 * (10 ms, doubling up to 500 ms, 8 attempts), then fails with
 * %MSB_DB_ERROR_BUSY.
 *
 * A call waits at most #MsbDbPools:connect-timeout for its turn (a free
 * read connection, or the writer), then fails with
 * %MSB_DB_ERROR_POOL_TIMEOUT without having run.
 *
 * ## Threads
 *
 * Every method may be called from any thread. Async callbacks run in the
 * thread-default main context of the thread that made the call. Blocking
 * calls made from inside a transaction or snapshot callback of the same
 * pools fail at once with %MSB_DB_ERROR_FAILED (they would deadlock).
 *
 * ## Closing
 *
 * [method@MsbDb.Pools.close] stops accepting calls, lets the queued writes
 * finish, interrupts running reads (they fail with %MSB_DB_ERROR_CLOSED),
 * closes every connection and joins the writer thread. Dropping the last
 * reference does the same.
 */

/* How long close() waits for read connections lent to snapshot callbacks;
 * statements are interrupted at once, but callbacks are user code. */
#define CLOSE_GRACE (2 * G_TIME_SPAN_SECOND)

#define STATEMENT_CACHE_SIZE 64


struct _MsbDbPools
{
  GObject parent_instance;

  char *path;
  MsbDbTarget *target;
  guint max_read_connections;
  GTimeSpan connect_timeout;
  GTimeSpan busy_timeout;
  gboolean read_only;
  gboolean trusted_schema;

  MsbDbCounters *counters;
  MsbDbRetryPolicy retry_policy;

  GMutex init_lock;
  gint init_done;                /* atomic: set once init_error is final */
  GError *init_error;

  MsbDbReader *reader;
  MsbDbWriter *writer;
  MsbDbCompletions *completions; /* reports async calls in their context */
  MsbDbNotify *notify;           /* ::changed */

  GPid owner;                    /* the process that opened the pools */
  gint generation;               /* of fork_generation, then */

  GMutex close_lock;
  gint closed;                   /* atomic: no new calls from now on */
  gboolean close_finished;       /* every connection closed, under close_lock */
};

enum {
  PROP_0,
  PROP_PATH,
  PROP_MAX_READ_CONNECTIONS,
  PROP_CONNECT_TIMEOUT,
  PROP_BUSY_TIMEOUT,
  PROP_READ_ONLY,
  PROP_TRUSTED_SCHEMA,
  PROP_CHANGE_POLL_INTERVAL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void msb_db_pools_initable_iface_init       (GInitableIface      *iface);
static void msb_db_pools_async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MsbDbPools, msb_db_pools, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      msb_db_pools_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      msb_db_pools_async_initable_iface_init))

/* TRUE once init succeeded. Init may have run on another thread (async
 * init): the atomic flag orders init_error and everything init set up
 * before whoever reads it. */
static gboolean
opened_ok (MsbDbPools *self)
{
  return g_atomic_int_get (&self->init_done) && self->init_error == NULL;
}

/* After fork(), the child has the pools' memory but none of their threads,
 * and SQLite connections must never be used across a fork. A counter
 * bumped in every child (pthread_atfork) tells without a getpid() system
 * call per call. */
static gint fork_generation;

static void
count_fork (void)
{
  g_atomic_int_inc (&fork_generation);
}

static gboolean
forked (MsbDbPools *self)
{
  return self->generation != g_atomic_int_get (&fork_generation);
}

/* Closing --------------------------------------------------------------- */

/* The first half of closing, which never blocks: from now on every call
 * fails with CLOSED, queued reads fail, running reads are interrupted, and
 * the writer finishes what was queued before this and then stops. */
static void
begin_close (MsbDbPools *self)
{
  g_mutex_lock (&self->close_lock);
  if (!g_atomic_int_get (&self->closed))
    {
      g_atomic_int_set (&self->closed, TRUE);
      msb_db_notify_stop (self->notify);
      if (self->reader != NULL)
        msb_db_reader_shutdown (self->reader);
      if (self->writer != NULL)
        msb_db_writer_shutdown (self->writer);
    }
  g_mutex_unlock (&self->close_lock);
}

/* The second half, which waits: for the readers (at most CLOSE_GRACE for
 * snapshot callbacks, which are user code), then for the writer thread.
 * Readers first: the writer's connection is then the last one to the
 * file, and closing it folds the WAL back and removes -wal/-shm. */
static void
finish_close (MsbDbPools *self)
{
  g_mutex_lock (&self->close_lock);
  if (!self->close_finished)
    {
      self->close_finished = TRUE;
      if (self->reader != NULL)
        msb_db_reader_wait_closed (self->reader, CLOSE_GRACE);
      if (self->writer != NULL)
        msb_db_writer_join (self->writer);
      g_debug ("Closed %s", self->path);
    }
  g_mutex_unlock (&self->close_lock);
}

static void
close_pools (MsbDbPools *self)
{
  begin_close (self);
  finish_close (self);
}

/* GObject --------------------------------------------------------------- */

static void
msb_db_pools_dispose (GObject *object)
{
  MsbDbPools *self = MSB_DB_POOLS (object);

  if (opened_ok (self) && !forked (self))
    close_pools (self);

  G_OBJECT_CLASS (msb_db_pools_parent_class)->dispose (object);
}

static void
msb_db_pools_finalize (GObject *object)
{
  MsbDbPools *self = MSB_DB_POOLS (object);

  /* In a forked child the connections and threads are the parent's: the
   * child must not close them (nor wait for threads it does not have).
   * They stay referenced, never freed, for as long as the child lives. */
  if (forked (self))
    {
      static GPtrArray *left_by_parent;

      if (g_once_init_enter (&left_by_parent))
        g_once_init_leave (&left_by_parent, g_ptr_array_new ());
      g_ptr_array_add (left_by_parent, g_steal_pointer (&self->reader));
      g_ptr_array_add (left_by_parent, g_steal_pointer (&self->writer));
      g_ptr_array_add (left_by_parent, g_steal_pointer (&self->completions));
    }

  /* No call is in flight (each holds a reference to the pools), so nothing
   * is queued for the completions any more. */
  if (self->completions != NULL)
    msb_db_completions_shutdown (self->completions);
  g_clear_pointer (&self->completions, msb_db_completions_unref);
  msb_db_notify_stop (self->notify);
  g_clear_pointer (&self->notify, msb_db_notify_unref);
  g_clear_pointer (&self->reader, msb_db_reader_unref);
  g_clear_pointer (&self->writer, msb_db_writer_unref);
  g_clear_pointer (&self->counters, msb_db_counters_unref);
  g_clear_pointer (&self->target, msb_db_target_free);
  g_clear_error (&self->init_error);
  g_free (self->path);
  g_mutex_clear (&self->init_lock);
  g_mutex_clear (&self->close_lock);

  G_OBJECT_CLASS (msb_db_pools_parent_class)->finalize (object);
}

static void
msb_db_pools_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  MsbDbPools *self = MSB_DB_POOLS (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_MAX_READ_CONNECTIONS:
      g_value_set_uint (value, self->max_read_connections);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_int64 (value, self->connect_timeout);
      break;
    case PROP_BUSY_TIMEOUT:
      g_value_set_int64 (value, self->busy_timeout);
      break;
    case PROP_READ_ONLY:
      g_value_set_boolean (value, self->read_only);
      break;
    case PROP_TRUSTED_SCHEMA:
      g_value_set_boolean (value, self->trusted_schema);
      break;
    case PROP_CHANGE_POLL_INTERVAL:
      g_value_set_int64 (value, msb_db_notify_get_poll_interval (self->notify));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
msb_db_pools_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  MsbDbPools *self = MSB_DB_POOLS (object);

  /* 0 means "the default" for every number, so the open() shorthands and
   * g_initable_new() agree. */
  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_MAX_READ_CONNECTIONS:
      /* Checked at init, where an error can be reported. */
      self->max_read_connections = g_value_get_uint (value);
      if (self->max_read_connections == 0)
        self->max_read_connections = MSB_DB_DEFAULT_MAX_READ_CONNECTIONS;
      break;
    case PROP_CONNECT_TIMEOUT:
      self->connect_timeout = g_value_get_int64 (value);
      if (self->connect_timeout <= 0)
        self->connect_timeout = MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND;
      break;
    case PROP_BUSY_TIMEOUT:
      self->busy_timeout = g_value_get_int64 (value);
      if (self->busy_timeout <= 0)
        self->busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND;
      break;
    case PROP_READ_ONLY:
      self->read_only = g_value_get_boolean (value);
      break;
    case PROP_TRUSTED_SCHEMA:
      self->trusted_schema = g_value_get_boolean (value);
      break;
    case PROP_CHANGE_POLL_INTERVAL:
      msb_db_notify_set_poll_interval (self->notify, g_value_get_int64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
msb_db_pools_class_init (MsbDbPoolsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = msb_db_pools_dispose;
  object_class->finalize = msb_db_pools_finalize;
  object_class->get_property = msb_db_pools_get_property;
  object_class->set_property = msb_db_pools_set_property;

  /* Results and connections are made on the pools' threads and on the
   * callers'. Set their classes up now, before any pools thread exists:
   * GObject makes a first use from two threads safe, but with atomics
   * that ThreadSanitizer cannot see, and it then reports the class
   * pointers read by finalize as races. */
  pthread_atfork (NULL, NULL, count_fork);
  g_type_class_unref (g_type_class_ref (MSB_DB_TYPE_ROWS));
  g_type_class_unref (g_type_class_ref (MSB_DB_TYPE_CONNECTION));

  /**
   * MsbDbPools:path:
   *
   * The database target: a file path, `sqlite:///absolute/path`, or
   * `dqlite://HOST:PORT[,HOST:PORT...]/NAME` for the database NAME in a
   * dqlite cluster (the nodes listed are where leader discovery starts).
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL, flags);

  /**
   * MsbDbPools:max-read-connections:
   *
   * How many read connections the pool holds, and so how many reads run
   * at once: at most %MSB_DB_MAX_READ_CONNECTIONS (each is an open file
   * and its page cache), and 0 means %MSB_DB_DEFAULT_MAX_READ_CONNECTIONS.
   * A larger value makes opening fail with %MSB_DB_ERROR_INVALID_ARGUMENT.
   *
   * A blocking read runs on the calling thread with an idle connection;
   * async reads and snapshots run on worker threads, one per connection.
   * Calls that find every connection busy wait for one, in order, for at
   * most #MsbDbPools:connect-timeout.
   */
  properties[PROP_MAX_READ_CONNECTIONS] =
    g_param_spec_uint ("max-read-connections", NULL, NULL,
                       0, G_MAXUINT, MSB_DB_DEFAULT_MAX_READ_CONNECTIONS, flags);

  /**
   * MsbDbPools:connect-timeout:
   *
   * How long, in microseconds, a call waits for its turn (a free read
   * connection, or the writer) before failing with
   * %MSB_DB_ERROR_POOL_TIMEOUT. 0 means
   * %MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS. On a `dqlite://` target it also
   * bounds the search for the leader and each wait for its answer.
   */
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_int64 ("connect-timeout", NULL, NULL,
                        0, G_MAXINT64, MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                        flags);

  /**
   * MsbDbPools:busy-timeout:
   *
   * The `busy_timeout` of every connection, in microseconds (SQLite counts
   * in milliseconds). 0 means %MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS.
   */
  properties[PROP_BUSY_TIMEOUT] =
    g_param_spec_int64 ("busy-timeout", NULL, NULL,
                        0, G_MAXINT64, MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                        flags);

  /**
   * MsbDbPools:read-only:
   *
   * Read-only pools never create the database and have no writer thread;
   * writes and transactions fail with %MSB_DB_ERROR_READ_ONLY.
   */
  properties[PROP_READ_ONLY] =
    g_param_spec_boolean ("read-only", NULL, NULL, FALSE, flags);

  /**
   * MsbDbPools:trusted-schema:
   *
   * Whether the database's own schema is trusted: SQLite's
   * `trusted_schema` setting of every connection. Off by default: then
   * triggers, views, CHECK constraints, generated columns and indexes may
   * only use functions SQLite knows to be harmless, and triggers and views
   * may not use virtual tables. So SQLite's external-content FTS5 recipe
   * (an FTS5 table kept up to date by triggers) fails on the first write
   * with "unsafe use of virtual table".
   *
   * Turn it on only for a database whose schema your application wrote
   * itself: a database file from elsewhere could then make every write
   * run what its triggers say, with the functions your connections have.
   */
  properties[PROP_TRUSTED_SCHEMA] =
    g_param_spec_boolean ("trusted-schema", NULL, NULL, FALSE, flags);

  /**
   * MsbDbPools:change-poll-interval:
   *
   * How often, in microseconds, the pools look for changes committed by
   * other processes while a handler is connected to
   * [signal@MsbDb.Pools::changed]; 0 means
   * %MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC milliseconds. While no
   * handler is connected nothing is polled. May be changed at any time.
   */
  properties[PROP_CHANGE_POLL_INTERVAL] =
    g_param_spec_int64 ("change-poll-interval", NULL, NULL,
                        0, G_MAXINT64,
                        MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC * G_TIME_SPAN_MILLISECOND,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  msb_db_notify_class_init (object_class);
}

static void
msb_db_pools_init (MsbDbPools *self)
{
  self->max_read_connections = MSB_DB_DEFAULT_MAX_READ_CONNECTIONS;
  self->connect_timeout = MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND;
  self->busy_timeout = MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND;
  self->counters = msb_db_counters_new ();
  self->completions = msb_db_completions_new ();
  /* Here, on the thread that constructs the pools: ::changed is emitted in
   * its thread-default main context. */
  self->notify = msb_db_notify_new (self);
  msb_db_retry_policy_init_default (&self->retry_policy);
  g_mutex_init (&self->init_lock);
  g_mutex_init (&self->close_lock);
}

/* Opening --------------------------------------------------------------- */

static gboolean
gate_readers (gpointer   data,
              gboolean   hold,
              GTimeSpan *wait)
{
  if (hold)
    return msb_db_reader_hold (data, wait);
  msb_db_reader_unhold (data);
  return TRUE;
}

static gboolean
open_connections (MsbDbPools    *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  MsbDbTarget *target = msb_db_target_parse (self->path, error);
  MsbDbConnSettings settings = {
    .busy_timeout = self->busy_timeout,
    .statement_cache_size = STATEMENT_CACHE_SIZE,
    .connect_timeout = self->connect_timeout,
    .trusted_schema = self->trusted_schema,
  };
  MsbDbBackendConn *writer_conn = NULL;

  if (target == NULL)
    return FALSE;
  self->target = target;

  if (self->max_read_connections > MSB_DB_MAX_READ_CONNECTIONS)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "max-read-connections is %u: at most %u read connections are "
                   "allowed (0 for the default, %u)", self->max_read_connections,
                   MSB_DB_MAX_READ_CONNECTIONS, MSB_DB_DEFAULT_MAX_READ_CONNECTIONS);
      return FALSE;
    }

  /* The writer first: it creates the file and switches it to WAL, which a
   * read-only connection cannot do. */
  if (!self->read_only)
    {
      writer_conn = msb_db_backend_open (target, MSB_DB_CONN_READ_WRITE, &settings, error);
      if (writer_conn == NULL)
        return FALSE;
      msb_db_notify_take_baseline (self->notify, writer_conn);
    }

  self->reader = msb_db_reader_new (target, self->max_read_connections, &settings, self->counters,
                                    &self->retry_policy, writer_conn != NULL, cancellable, error);
  if (self->reader == NULL)
    {
      msb_db_backend_close (writer_conn);
      return FALSE;
    }

  if (writer_conn != NULL)
    {
      self->writer = msb_db_writer_new (writer_conn, self->counters, &self->retry_policy,
                                        gate_readers, msb_db_reader_ref (self->reader),
                                        (GDestroyNotify) msb_db_reader_unref, error);
      if (self->writer == NULL)
        {
          msb_db_reader_shutdown (self->reader);
          msb_db_reader_wait_closed (self->reader, 0);
          g_clear_pointer (&self->reader, msb_db_reader_unref);
          return FALSE;
        }
    }

  g_debug ("Opened %s: %u read connection(s), %s", self->path, self->max_read_connections,
           self->read_only ? "read-only" : "one writer thread");
  return TRUE;
}

static gboolean
msb_db_pools_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  MsbDbPools *self = MSB_DB_POOLS (initable);
  gboolean ok;

  g_mutex_lock (&self->init_lock);
  if (!g_atomic_int_get (&self->init_done))
    {
      GError *local_error = NULL;

      self->owner = getpid ();
      self->generation = g_atomic_int_get (&fork_generation);
      if (!open_connections (self, cancellable, &local_error))
        self->init_error = local_error;
      else
        msb_db_notify_start (self->notify);
      g_atomic_int_set (&self->init_done, TRUE);
    }
  ok = self->init_error == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (self->init_error));
  g_mutex_unlock (&self->init_lock);
  return ok;
}

static void
msb_db_pools_initable_iface_init (GInitableIface *iface)
{
  iface->init = msb_db_pools_initable_init;
}

static void
msb_db_pools_async_initable_iface_init (GAsyncInitableIface *iface)
{
  /* GAsyncInitable's default runs GInitable's init in a worker thread. */
}

/**
 * msb_db_pools_open:
 * @path: the database target: a file path, `sqlite:///absolute/path`, or
 *   `dqlite://HOST:PORT[,HOST:PORT...]/NAME`
 * @max_read_connections: the size of the read pool, 0 for the default
 * @connect_timeout: how long a call waits for its turn, in microseconds;
 *   0 for the default
 * @busy_timeout: the `busy_timeout` of every connection, in microseconds;
 *   0 for the default
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the database, creating it if needed, with its writer thread and
 * its read pool. Blocks; see [func@MsbDb.Pools.open_async].
 *
 * Returns: (transfer full): the pools, or %NULL with @error set
 */
MsbDbPools *
msb_db_pools_open (const char    *path,
                   guint          max_read_connections,
                   GTimeSpan      connect_timeout,
                   GTimeSpan      busy_timeout,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MSB_DB_TYPE_POOLS, cancellable, error,
                         "path", path,
                         "max-read-connections", max_read_connections,
                         "connect-timeout", connect_timeout,
                         "busy-timeout", busy_timeout,
                         NULL);
}

/**
 * msb_db_pools_open_read_only:
 * @path: the database target: a file path, `sqlite:///absolute/path`, or
 *   `dqlite://HOST:PORT[,HOST:PORT...]/NAME`
 * @max_read_connections: the size of the read pool, 0 for the default
 * @connect_timeout: how long a call waits for its turn, in microseconds;
 *   0 for the default
 * @busy_timeout: the `busy_timeout` of every connection, in microseconds;
 *   0 for the default
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens an existing database for reading only: no writer thread, and the
 * file is never created (a missing file is %MSB_DB_ERROR_CANT_OPEN).
 *
 * Returns: (transfer full): the pools, or %NULL with @error set
 */
MsbDbPools *
msb_db_pools_open_read_only (const char    *path,
                             guint          max_read_connections,
                             GTimeSpan      connect_timeout,
                             GTimeSpan      busy_timeout,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MSB_DB_TYPE_POOLS, cancellable, error,
                         "path", path,
                         "max-read-connections", max_read_connections,
                         "connect-timeout", connect_timeout,
                         "busy-timeout", busy_timeout,
                         "read-only", TRUE,
                         NULL);
}

/**
 * msb_db_pools_open_async:
 * @path: the database target: a file path, `sqlite:///absolute/path`, or
 *   `dqlite://HOST:PORT[,HOST:PORT...]/NAME`
 * @max_read_connections: the size of the read pool, 0 for the default
 * @connect_timeout: how long a call waits for its turn, in microseconds;
 *   0 for the default
 * @busy_timeout: the `busy_timeout` of every connection, in microseconds;
 *   0 for the default
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the pools are open
 * @user_data: (closure callback): data for @callback
 *
 * Opens the database in a worker thread. Finish with
 * [func@MsbDb.Pools.open_finish].
 */
void
msb_db_pools_open_async (const char          *path,
                         guint                max_read_connections,
                         GTimeSpan            connect_timeout,
                         GTimeSpan            busy_timeout,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_async_initable_new_async (MSB_DB_TYPE_POOLS, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data,
                              "path", path,
                              "max-read-connections", max_read_connections,
                              "connect-timeout", connect_timeout,
                              "busy-timeout", busy_timeout,
                              NULL);
}

/**
 * msb_db_pools_open_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@MsbDb.Pools.open_async].
 *
 * Returns: (transfer full): the pools, or %NULL with @error set
 */
MsbDbPools *
msb_db_pools_open_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GObject) source = NULL;
  GObject *object;

  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  source = g_async_result_get_source_object (result);
  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
  return object ? MSB_DB_POOLS (object) : NULL;
}

/* Getters --------------------------------------------------------------- */

/**
 * msb_db_pools_get_path:
 * @self: a #MsbDbPools
 *
 * Gets the database target @self was opened with.
 *
 * Returns: (transfer none): the database target given at open
 */
const char *
msb_db_pools_get_path (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);

  return self->path;
}

/**
 * msb_db_pools_get_max_read_connections:
 * @self: a #MsbDbPools
 *
 * Gets the number of read connections in the pool.
 *
 * Returns: the size of the read pool
 */
guint
msb_db_pools_get_max_read_connections (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), 0);

  return self->max_read_connections;
}

/**
 * msb_db_pools_get_connect_timeout:
 * @self: a #MsbDbPools
 *
 * Gets how long a call waits for a read connection or for the writer.
 *
 * Returns: how long a call waits for its turn, in microseconds
 */
GTimeSpan
msb_db_pools_get_connect_timeout (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), 0);

  return self->connect_timeout;
}

/**
 * msb_db_pools_get_busy_timeout:
 * @self: a #MsbDbPools
 *
 * Gets the `busy_timeout` applied to every connection.
 *
 * Returns: the busy timeout of every connection, in microseconds
 */
GTimeSpan
msb_db_pools_get_busy_timeout (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), 0);

  return self->busy_timeout;
}

/**
 * msb_db_pools_get_read_only:
 * @self: a #MsbDbPools
 *
 * Gets whether @self was opened read-only.
 *
 * Returns: %TRUE if the pools only read (no writer thread)
 */
gboolean
msb_db_pools_get_read_only (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);

  return self->read_only;
}

/**
 * msb_db_pools_get_trusted_schema:
 * @self: a #MsbDbPools
 *
 * Gets whether @self trusts the database's schema (see
 * #MsbDbPools:trusted-schema).
 *
 * Returns: %TRUE if every connection runs with `trusted_schema=ON`
 */
gboolean
msb_db_pools_get_trusted_schema (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);

  return self->trusted_schema;
}

/**
 * msb_db_pools_is_closed:
 * @self: a #MsbDbPools
 *
 * Gets whether @self was closed; a closed pools object refuses every call.
 *
 * Returns: %TRUE once [method@MsbDb.Pools.close] was called
 */
gboolean
msb_db_pools_is_closed (MsbDbPools *self)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), TRUE);

  return g_atomic_int_get (&self->closed);
}

/**
 * msb_db_pools_get_stats:
 * @self: a #MsbDbPools
 *
 * Takes a copy of the counters of @self.
 *
 * Returns: (transfer full): a new #MsbDbStats
 */
MsbDbStats *
msb_db_pools_get_stats (MsbDbPools *self)
{
  MsbDbStats *stats;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);

  stats = g_new0 (MsbDbStats, 1);
  msb_db_counters_snapshot (self->counters, stats);
  return stats;
}

/* Checks shared by every call ------------------------------------------- */

static gboolean
check_usable (MsbDbPools  *self,
              GError     **error)
{
  if (!opened_ok (self))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "The pools were not opened successfully");
      return FALSE;
    }
  if (g_atomic_int_get (&self->closed))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                           "The database pools are closed");
      return FALSE;
    }
  if (forked (self))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                   "These pools were opened by process %d and cannot be used after "
                   "fork() (SQLite connections must not cross a fork): open new pools "
                   "in this process", (int) self->owner);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_writable (MsbDbPools  *self,
                GError     **error)
{
  if (!check_usable (self, error))
    return FALSE;
  if (self->read_only)
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
                           "These pools were opened read-only: they have no writer");
      return FALSE;
    }
  return TRUE;
}

/* A blocking call from inside a callback of the same pools would wait for
 * the very thread (or connection) it is running on. */
static gboolean
check_may_block (MsbDbPools  *self,
                 const char  *function,
                 GError     **error)
{
  if (!msb_db_callback_scope_is_inside (self))
    return TRUE;
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "%s() was called from inside a transaction or snapshot callback of "
               "the same pools, where it would deadlock: use the MsbDbConnection "
               "given to the callback, or the _async variant", function);
  return FALSE;
}

/* Calls ------------------------------------------------------------------ */

static GTask *
new_call_task (MsbDbPools          *self,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data,
               gpointer             source_tag,
               const char          *name)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, name);
  /* A write that committed stays a success even if its cancellable fired
   * afterwards: the outcome decides, not the cancellable. */
  g_task_set_check_cancellable (task, FALSE);
  return task;
}

static MsbDbJob *
new_statement_job (MsbDbPools    *self,
                   MsbDbJobKind   kind,
                   const char    *sql,
                   GVariant      *params,
                   GCancellable  *cancellable)
{
  return msb_db_job_new_statement (kind, sql, params, cancellable, self->connect_timeout);
}

static MsbDbJob *
new_callback_job (MsbDbPools           *self,
                  MsbDbJobKind          kind,
                  MsbDbConnectionFunc   func,
                  gpointer              user_data,
                  GDestroyNotify        notify,
                  GCancellable         *cancellable)
{
  return msb_db_job_new_callback (kind, func, user_data, notify, self, cancellable,
                                  self->connect_timeout);
}

/* Hands @job to the reader or the writer, which complete it. */
static void
submit (MsbDbPools *self,
        MsbDbJob   *job)
{
  if (msb_db_job_get_kind (job) == MSB_DB_JOB_READ ||
      msb_db_job_get_kind (job) == MSB_DB_JOB_SNAPSHOT)
    msb_db_reader_submit (self->reader, job);
  else
    msb_db_writer_submit (self->writer, job);
}

/* Whether the pools take @job now: a job that writes needs a writable
 * database, any other only open pools. */
static gboolean
check_accepts (MsbDbPools  *self,
               MsbDbJob    *job,
               GError     **error)
{
  switch (msb_db_job_get_kind (job))
    {
    case MSB_DB_JOB_WRITE:
    case MSB_DB_JOB_WRITE_MANY:
    case MSB_DB_JOB_TRANSACTION:
    case MSB_DB_JOB_MAINTENANCE:
      return check_writable (self, error);
    default:
      return check_usable (self, error);
    }
}

/* An async call: the job reports through @task, which it takes over, in
 * the caller's main context; a call the pools refuse reports so there. */
static void
submit_async (MsbDbPools *self,
              MsbDbJob   *job,
              GTask      *task)
{
  GError *error = NULL;

  msb_db_job_set_task (job, task, self->completions);
  if (check_accepts (self, job, &error))
    submit (self, job);
  else if (msb_db_job_claim (job))
    msb_db_job_fail (job, error);
}

/* An async job that reports by itself (one with a sink, made by
 * MsbDbResultQueue): queued like any async call, or failed at once, on
 * this thread, when the pools refuse it. */
void
msb_db_pools_submit_job (MsbDbPools *self,
                         MsbDbJob   *job)
{
  GError *error = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (msb_db_job_is_async (job));

  if (check_accepts (self, job, &error))
    submit (self, job);
  else if (msb_db_job_claim (job))
    msb_db_job_fail (job, error);
  else
    g_error_free (error);   /* cancelled meanwhile: it reported that */
}

/* The first half of msb_db_pools_close_async(), for a caller that starts
 * the second half later, elsewhere: from now on every call fails with
 * CLOSED. */
void
msb_db_pools_begin_close (MsbDbPools *self)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));

  if (opened_ok (self))
    begin_close (self);
  else
    g_atomic_int_set (&self->closed, TRUE);
}

/* A blocking call: queues @job and waits for its outcome. */
static gboolean
submit_and_wait (MsbDbPools  *self,
                 MsbDbJob    *job,
                 MsbDbRows  **rows,
                 GError     **error)
{
  submit (self, job);
  return msb_db_job_wait (job, rows, error);
}

static gboolean
run_callback (MsbDbPools           *self,
              MsbDbJobKind          kind,
              MsbDbConnectionFunc   func,
              gpointer              user_data,
              GCancellable         *cancellable,
              GError              **error)
{
  g_autoptr(MsbDbJob) job = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  job = new_callback_job (self, kind, func, user_data, NULL, cancellable);
  return submit_and_wait (self, job, NULL, error);
}

static void
queue_callback_async (MsbDbPools           *self,
                      MsbDbJobKind          kind,
                      MsbDbConnectionFunc   func,
                      gpointer              user_data,
                      GDestroyNotify        notify,
                      GCancellable         *cancellable,
                      GAsyncReadyCallback   callback,
                      gpointer              callback_data,
                      gpointer              source_tag,
                      const char           *name)
{
  g_autoptr(GTask) task = new_call_task (self, cancellable, callback, callback_data, source_tag, name);
  g_autoptr(MsbDbJob) job = new_callback_job (self, kind, func, user_data, notify, cancellable);

  submit_async (self, job, task);
}

static void
queue_statement_async (MsbDbPools          *self,
                       MsbDbJobKind         kind,
                       const char          *sql,
                       GVariant            *params,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag,
                       const char          *name)
{
  g_autoptr(GTask) task = new_call_task (self, cancellable, callback, user_data, source_tag, name);
  g_autoptr(MsbDbJob) job = new_statement_job (self, kind, sql, params, cancellable);

  submit_async (self, job, task);
}

/* read ------------------------------------------------------------------ */

/**
 * msb_db_pools_read:
 * @self: a #MsbDbPools
 * @sql: one SQL statement that only reads
 * @params: (nullable): a tuple for positional parameters (`?`, `?NNN`), an
 *   `a{sv}` for named ones (`:name`, `@name`, `$name`), or %NULL; a
 *   floating reference is consumed
 * @cancellable: (nullable): a #GCancellable; cancelling interrupts the
 *   statement
 * @error: return location for a #GError
 *
 * Runs @sql on a read connection, on the calling thread, waiting at most
 * #MsbDbPools:connect-timeout for a free connection. A statement that
 * writes fails with %MSB_DB_ERROR_READ_ONLY and changes nothing.
 *
 * Read connections are not the write connection: a `TEMP` table, view
 * or trigger created through [method@MsbDb.Pools.write] lives on the
 * write connection only, and a read does not see it ("no such table").
 * Use it inside one [method@MsbDb.Pools.transaction] callback instead.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
MsbDbRows *
msb_db_pools_read (MsbDbPools    *self,
                   const char    *sql,
                   GVariant      *params,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) owned_params = params ? g_variant_ref_sink (params) : NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_may_block (self, "msb_db_pools_read", error) || !check_usable (self, error))
    return NULL;
  return msb_db_reader_read (self->reader, sql, owned_params, cancellable,
                             self->connect_timeout, error);
}

/**
 * msb_db_pools_read_async:
 * @self: a #MsbDbPools
 * @sql: one SQL statement that only reads
 * @params: (nullable): parameters, as for [method@MsbDb.Pools.read]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: (closure callback): data for @callback
 *
 * Runs @sql on a read connection in a worker thread. A read waiting for a
 * connection holds no thread. Finish with [method@MsbDb.Pools.read_finish].
 */
void
msb_db_pools_read_async (MsbDbPools          *self,
                         const char          *sql,
                         GVariant            *params,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (sql != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  queue_statement_async (self, MSB_DB_JOB_READ, sql, params, cancellable,
                         callback, user_data, msb_db_pools_read_async, "[msb-db] read");
}

/**
 * msb_db_pools_read_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.read_async].
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
MsbDbRows *
msb_db_pools_read_finish (MsbDbPools    *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_read_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* write ----------------------------------------------------------------- */

/**
 * msb_db_pools_write:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @params: (nullable): parameters, as for [method@MsbDb.Pools.read]; a
 *   floating reference is consumed
 * @cancellable: (nullable): a #GCancellable; a write cancelled while it
 *   waits in the queue never runs
 * @error: return location for a #GError
 *
 * Queues @sql for the writer thread and waits for it to be committed. The
 * result holds the rows of a `RETURNING` clause, the number of changed rows
 * and the row id of the last row the statement inserted (0 if it inserted
 * none). `BEGIN`, `COMMIT`, `ROLLBACK` and
 * `SAVEPOINT` are refused: use [method@MsbDb.Pools.transaction].
 * `VACUUM` fails here (it cannot run inside the writer's transaction):
 * use [method@MsbDb.Pools.vacuum].
 *
 * A `TEMP` table, view or trigger created here lives on the write
 * connection only: later writes and transactions of @self see it, reads
 * and snapshots (other connections) do not, and other processes never
 * do. Prefer creating and using it inside one transaction callback.
 *
 * Returns: (transfer full): the result, or %NULL with @error set (and
 *   nothing written)
 */
MsbDbRows *
msb_db_pools_write (MsbDbPools    *self,
                    const char    *sql,
                    GVariant      *params,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GVariant) owned_params = params ? g_variant_ref_sink (params) : NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_may_block (self, "msb_db_pools_write", error) || !check_writable (self, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  return msb_db_writer_run (self->writer, sql, owned_params, cancellable, self->connect_timeout,
                            error);
}

/**
 * msb_db_pools_write_async:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @params: (nullable): parameters, as for [method@MsbDb.Pools.read]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the write is committed or failed
 * @user_data: (closure callback): data for @callback
 *
 * Queues @sql for the writer thread. Finish with
 * [method@MsbDb.Pools.write_finish].
 */
void
msb_db_pools_write_async (MsbDbPools          *self,
                          const char          *sql,
                          GVariant            *params,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (sql != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  queue_statement_async (self, MSB_DB_JOB_WRITE, sql, params, cancellable,
                         callback, user_data, msb_db_pools_write_async, "[msb-db] write");
}

/**
 * msb_db_pools_write_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.write_async].
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
MsbDbRows *
msb_db_pools_write_finish (MsbDbPools    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_write_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* write_many ------------------------------------------------------------ */

/* An array of tuples, of a{sv}, or of variants holding either; or a
 * tuple of arrays (checked further when it is bound). */
static gboolean
check_param_rows (GVariant  *param_rows,
                  GError   **error)
{
  const GVariantType *element;

  if (g_variant_is_of_type (param_rows, G_VARIANT_TYPE_TUPLE))
    return TRUE;
  if (g_variant_is_of_type (param_rows, G_VARIANT_TYPE_ARRAY))
    {
      element = g_variant_type_element (g_variant_get_type (param_rows));
      if (g_variant_type_is_tuple (element) || g_variant_type_equal (element, G_VARIANT_TYPE_VARDICT) ||
          g_variant_type_equal (element, G_VARIANT_TYPE_VARIANT))
        return TRUE;
    }
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "The rows of parameters must be an array of tuples (a(...)), of a{sv}, or "
               "of variants holding those (av), or a tuple of arrays, not “%s”",
               g_variant_get_type_string (param_rows));
  return FALSE;
}

/**
 * msb_db_pools_write_many:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @param_rows: the parameters of every run of @sql: an array with one
 *   element per run, a tuple for positional parameters or an `a{sv}` for
 *   named ones (type `a(...)`, `aa{sv}`, or `av` of either); or, column
 *   by column, a tuple of arrays of one length, one array per positional
 *   parameter (type `(a..a..)`, for example `(axas)`); a floating
 *   reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @sql once for each element of @param_rows, all in one transaction
 * on the writer thread: the statement is prepared once, and either every
 * run is committed or, if one fails, none is (the error names the element
 * that failed). This is the fast way to insert many rows; the column form
 * is the fastest, since arrays of numbers (`ax`, `ad`, ...) are read in
 * place, with no #GVariant per value.
 *
 * The result holds the rows of a `RETURNING` clause of every run, the
 * total number of changed rows, and the row id of the last row inserted.
 *
 * Returns: (transfer full): the result, or %NULL with @error set (and
 *   nothing written)
 */
MsbDbRows *
msb_db_pools_write_many (MsbDbPools    *self,
                         const char    *sql,
                         GVariant      *param_rows,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GVariant) owned_rows = NULL;
  g_autoptr(MsbDbJob) job = NULL;
  MsbDbRows *rows = NULL;

  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (param_rows != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned_rows = g_variant_ref_sink (param_rows);
  if (!check_may_block (self, "msb_db_pools_write_many", error) ||
      !check_writable (self, error) || !check_param_rows (owned_rows, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  job = new_statement_job (self, MSB_DB_JOB_WRITE_MANY, sql, owned_rows, cancellable);
  submit_and_wait (self, job, &rows, error);
  return rows;
}

/**
 * msb_db_pools_write_many_async:
 * @self: a #MsbDbPools
 * @sql: one SQL statement
 * @param_rows: an array of parameters, as for
 *   [method@MsbDb.Pools.write_many]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the rows are committed or failed
 * @user_data: (closure callback): data for @callback
 *
 * Queues [method@MsbDb.Pools.write_many] for the writer thread. Finish
 * with [method@MsbDb.Pools.write_many_finish].
 */
void
msb_db_pools_write_many_async (MsbDbPools          *self,
                               const char          *sql,
                               GVariant            *param_rows,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GVariant) owned_rows = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(MsbDbJob) job = NULL;
  GError *error = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (sql != NULL);
  g_return_if_fail (param_rows != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  owned_rows = g_variant_ref_sink (param_rows);
  task = new_call_task (self, cancellable, callback, user_data, msb_db_pools_write_many_async,
                        "[msb-db] write_many");
  if (!check_param_rows (owned_rows, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  job = new_statement_job (self, MSB_DB_JOB_WRITE_MANY, sql, owned_rows, cancellable);
  submit_async (self, job, task);
}

/**
 * msb_db_pools_write_many_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.write_many_async].
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
MsbDbRows *
msb_db_pools_write_many_finish (MsbDbPools    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_write_many_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* transaction ----------------------------------------------------------- */

/**
 * msb_db_pools_transaction:
 * @self: a #MsbDbPools
 * @func: (scope call) (closure user_data): the body of the transaction
 * @user_data: data for @func
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @func on the writer thread inside a transaction (`BEGIN IMMEDIATE`)
 * and waits for the outcome: the transaction is committed whole, or not at
 * all. If @func returns %FALSE everything it did is rolled back and its
 * error is returned. If one of its statements makes SQLite roll back the
 * whole transaction (`INSERT OR ROLLBACK` on a conflict, a trigger's
 * `RAISE(ROLLBACK)`, a write interrupted by cancellation, a full disk),
 * every later statement of @func fails and so does the call, whatever
 * @func returns. A deferred foreign key that @func leaves violated fails
 * the call with %MSB_DB_ERROR_CONSTRAINT.
 *
 * If the database is busy the whole transaction is rolled back and @func
 * runs again from the start; it may also run again when a write queued in
 * the same group commit fails in a way that abandons the transaction. So
 * @func must be safe to call more than once.
 *
 * Returns: %TRUE if the transaction committed
 */
gboolean
msb_db_pools_transaction (MsbDbPools           *self,
                          MsbDbConnectionFunc   func,
                          gpointer              user_data,
                          GCancellable         *cancellable,
                          GError              **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_may_block (self, "msb_db_pools_transaction", error) || !check_writable (self, error))
    return FALSE;
  return run_callback (self, MSB_DB_JOB_TRANSACTION, func, user_data, cancellable, error);
}

/**
 * msb_db_pools_transaction_async:
 * @self: a #MsbDbPools
 * @func: (scope notified) (closure user_data) (destroy notify): the body of
 *   the transaction
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once @func will not run again;
 *   called on the thread that ran @func, before @callback runs (a blocking
 *   call of @self made from it fails at once, as from @func)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure callback_data): called with the outcome
 * @callback_data: data for @callback
 *
 * Queues @func for the writer thread, as [method@MsbDb.Pools.transaction]
 * does. @func runs on the writer thread, not in the caller's context.
 */
void
msb_db_pools_transaction_async (MsbDbPools           *self,
                                MsbDbConnectionFunc   func,
                                gpointer              user_data,
                                GDestroyNotify        notify,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              callback_data)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  queue_callback_async (self, MSB_DB_JOB_TRANSACTION, func, user_data, notify, cancellable,
                        callback, callback_data, msb_db_pools_transaction_async,
                        "[msb-db] transaction");
}

/**
 * msb_db_pools_transaction_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.transaction_async].
 *
 * Returns: %TRUE if the transaction committed
 */
gboolean
msb_db_pools_transaction_finish (MsbDbPools    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_transaction_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* snapshot -------------------------------------------------------------- */

/**
 * msb_db_pools_snapshot:
 * @self: a #MsbDbPools
 * @func: (scope call) (closure user_data): the body of the snapshot
 * @user_data: data for @func
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @func with a read connection inside one read transaction, on a read
 * worker thread, and waits for it: every statement it runs sees the same
 * committed state. Statements that write fail with %MSB_DB_ERROR_READ_ONLY.
 * Like every callback, @func never runs on the calling thread.
 *
 * Returns: %TRUE if @func returned %TRUE
 */
gboolean
msb_db_pools_snapshot (MsbDbPools           *self,
                       MsbDbConnectionFunc   func,
                       gpointer              user_data,
                       GCancellable         *cancellable,
                       GError              **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_may_block (self, "msb_db_pools_snapshot", error) || !check_usable (self, error))
    return FALSE;
  return run_callback (self, MSB_DB_JOB_SNAPSHOT, func, user_data, cancellable, error);
}

/**
 * msb_db_pools_snapshot_async:
 * @self: a #MsbDbPools
 * @func: (scope notified) (closure user_data) (destroy notify): the body of
 *   the snapshot
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once @func will not run again;
 *   called on the thread that ran @func, before @callback runs (a blocking
 *   call of @self made from it fails at once, as from @func)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure callback_data): called with the outcome
 * @callback_data: data for @callback
 *
 * Runs @func on a read worker inside one read transaction, as
 * [method@MsbDb.Pools.snapshot] does.
 */
void
msb_db_pools_snapshot_async (MsbDbPools           *self,
                             MsbDbConnectionFunc   func,
                             gpointer              user_data,
                             GDestroyNotify        notify,
                             GCancellable         *cancellable,
                             GAsyncReadyCallback   callback,
                             gpointer              callback_data)
{
  g_return_if_fail (MSB_DB_IS_POOLS (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  queue_callback_async (self, MSB_DB_JOB_SNAPSHOT, func, user_data, notify, cancellable,
                        callback, callback_data, msb_db_pools_snapshot_async,
                        "[msb-db] snapshot");
}

/**
 * msb_db_pools_snapshot_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.snapshot_async].
 *
 * Returns: %TRUE if the snapshot callback returned %TRUE
 */
gboolean
msb_db_pools_snapshot_finish (MsbDbPools    *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_snapshot_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* close ----------------------------------------------------------------- */

/**
 * msb_db_pools_close:
 * @self: a #MsbDbPools
 * @cancellable: (nullable): not used yet; close always completes
 * @error: return location for a #GError
 *
 * Stops accepting calls, lets the queued writes finish (each reports its
 * own outcome), interrupts running reads (they fail with
 * %MSB_DB_ERROR_CLOSED), closes every connection and joins the writer
 * thread. In a child process after fork() it only marks @self closed:
 * the connections and threads are the parent's. A snapshot callback still running is waited for at most two
 * seconds; its connection closes (and the `-wal` and `-shm` files are
 * removed, if it was the last) when the callback returns. Afterwards every call fails with %MSB_DB_ERROR_CLOSED. Closing
 * twice is harmless.
 *
 * Returns: %TRUE, or %FALSE if called from inside a callback of @self
 */
gboolean
msb_db_pools_close (MsbDbPools    *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_may_block (self, "msb_db_pools_close", error))
    return FALSE;
  if (opened_ok (self) && !forked (self))
    close_pools (self);
  else
    g_atomic_int_set (&self->closed, TRUE);
  return TRUE;
}

static void
close_in_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  MsbDbPools *self = source_object;

  if (opened_ok (self) && !forked (self))
    finish_close (self);
  g_task_return_boolean (task, TRUE);
}

/**
 * msb_db_pools_close_async:
 * @self: a #MsbDbPools
 * @cancellable: (nullable): not used yet; close always completes
 * @callback: (scope async): called once everything is closed
 * @user_data: (closure callback): data for @callback
 *
 * Closes @self as [method@MsbDb.Pools.close] does. @self stops accepting
 * calls at once: every call made after this returns fails with
 * %MSB_DB_ERROR_CLOSED, while the writes queued before it still run and
 * report their own outcome. The waiting (for running reads and for the
 * writer thread) happens in a worker thread.
 */
void
msb_db_pools_close_async (MsbDbPools          *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MSB_DB_IS_POOLS (self));

  if (opened_ok (self) && !forked (self))
    begin_close (self);
  else
    g_atomic_int_set (&self->closed, TRUE);
  task = new_call_task (self, NULL, callback, user_data, msb_db_pools_close_async,
                        "[msb-db] close");
  g_task_run_in_thread (task, close_in_thread);
}

/**
 * msb_db_pools_close_finish:
 * @self: a #MsbDbPools
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@MsbDb.Pools.close_async].
 *
 * Returns: %TRUE once closed
 */
gboolean
msb_db_pools_close_finish (MsbDbPools    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (MSB_DB_IS_POOLS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == msb_db_pools_close_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* For the modules that build on the pools (msb-db-pools-private.h) ------ */

MsbDbReader *
msb_db_pools_get_reader (MsbDbPools *self)
{
  return self->reader;
}

MsbDbWriter *
msb_db_pools_get_writer (MsbDbPools *self)
{
  return self->writer;
}

const MsbDbTarget *
msb_db_pools_get_target (MsbDbPools *self)
{
  return self->target;
}

void
msb_db_pools_get_conn_settings (MsbDbPools        *self,
                                MsbDbConnSettings *settings)
{
  settings->busy_timeout = self->busy_timeout;
  settings->statement_cache_size = STATEMENT_CACHE_SIZE;
  settings->connect_timeout = self->connect_timeout;
  settings->trusted_schema = self->trusted_schema;
}

/* A blocking read-side call may be made now: not from inside a callback of
 * @self, and with @self open. */
gboolean
msb_db_pools_check_readable (MsbDbPools  *self,
                             const char  *function,
                             GError     **error)
{
  return check_may_block (self, function, error) && check_usable (self, error);
}

gboolean
msb_db_pools_check_usable (MsbDbPools  *self,
                           GError     **error)
{
  return check_usable (self, error);
}

gboolean
msb_db_pools_check_writable (MsbDbPools  *self,
                             GError     **error)
{
  return check_writable (self, error);
}

gboolean
msb_db_pools_check_may_block (MsbDbPools  *self,
                              const char  *function,
                              GError     **error)
{
  return check_may_block (self, function, error);
}

GTask *
msb_db_pools_new_task (MsbDbPools          *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag,
                       const char          *name)
{
  return new_call_task (self, cancellable, callback, user_data, source_tag, name);
}

void
msb_db_pools_submit_async (MsbDbPools *self,
                           MsbDbJob   *job,
                           GTask      *task)
{
  submit_async (self, job, task);
}

gboolean
msb_db_pools_submit_and_wait (MsbDbPools  *self,
                              MsbDbJob    *job,
                              MsbDbRows  **rows,
                              GError     **error)
{
  return submit_and_wait (self, job, rows, error);
}
