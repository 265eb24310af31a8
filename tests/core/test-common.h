/* test-common.h: helpers shared by the core GTest suites
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <msb-db.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* One temp directory per test, with the path of a database file inside it. */
typedef struct {
  char       *dir;
  char       *path;
  MsbDbPools *pools;
} Fixture;

void        fixture_setup          (Fixture       *fx,
                                    gconstpointer  data);
void        fixture_setup_open     (Fixture       *fx,
                                    gconstpointer  data);
void        fixture_teardown       (Fixture       *fx,
                                    gconstpointer  data);

/* Recursively removes @path (a file or a directory). */
void        test_rm_rf             (const char    *path);

/* Opens read-write pools; asserts success. */
MsbDbPools *test_open              (const char    *path,
                                    guint          max_read,
                                    GTimeSpan      connect_timeout,
                                    GTimeSpan      busy_timeout);

/* Runs @sql through the pools (read or write) and returns the integer in
 * the first column of the only row; asserts success. */
gint64      test_read_int          (MsbDbPools    *pools,
                                    const char    *sql);
gint64      test_write_int         (MsbDbPools    *pools,
                                    const char    *sql);
char       *test_read_string       (MsbDbPools    *pools,
                                    const char    *sql);
void        test_write_ok          (MsbDbPools    *pools,
                                    const char    *sql,
                                    GVariant      *params);

/* Independent observer: a raw SQLite connection of our own (for a
 * `dqlite://` target, pools of its own for each call). */
gint64      raw_int                (const char    *path,
                                    const char    *sql);
char       *raw_string             (const char    *path,
                                    const char    *sql);
void        raw_exec               (const char    *path,
                                    const char    *sql);

/* The core suites on a dqlite cluster (test-common-cluster.c): with
 * MSB_DB_TEST_CLUSTER set, the fixture's path is `dqlite://…/NAME`. */
const char *test_cluster_addresses   (void);
gboolean    test_is_cluster_target   (const char    *path);
char       *test_cluster_target_for  (const char    *dir);
gint64      test_cluster_raw_int     (const char    *path,
                                      const char    *sql);
char       *test_cluster_raw_string  (const char    *path,
                                      const char    *sql);
void        test_cluster_raw_exec    (const char    *path,
                                      const char    *sql);
char       *test_cluster_hold_write_lock (const char          *path,
                                          MsbDbConnectionFunc  body,
                                          gpointer             data);

/* How much slower than a plain build this process runs: 1 normally, more
 * under AddressSanitizer or valgrind. Multiply upper time bounds by it. */
guint       test_time_factor       (void);
#define SLOW(usec) ((GTimeSpan) (usec) * test_time_factor ())

/* Process resources. */
guint       test_count_fds         (void);
guint       test_count_threads     (void);
gboolean    test_file_exists       (const char    *path);
gboolean    test_wal_or_shm_exists (const char    *path);
/* Polls until neither -wal nor -shm exists; FALSE if they are still there
 * after @timeout. (Disposal may finish on another thread when the last
 * reference was held by a task completing there.) */
gboolean    test_wait_files_gone   (const char    *path,
                                    GTimeSpan      timeout);

/* A gate: a callback enters it and blocks until the test releases it. */
typedef struct {
  GMutex   mutex;
  GCond    cond;
  gboolean entered;
  gboolean released;
  guint    n_entered;
} Gate;

void        gate_init              (Gate          *gate);
void        gate_clear             (Gate          *gate);
void        gate_enter_and_wait    (Gate          *gate);
gboolean    gate_wait_entered      (Gate          *gate,
                                    GTimeSpan      timeout);
void        gate_release           (Gate          *gate);

/* Blocker: a thread running a transaction (writer side) or a snapshot (read
 * side) whose callback sits in a gate until released. */
typedef struct {
  MsbDbPools *pools;
  Gate        gate;
  gboolean    is_transaction;
  GThread    *thread;
  gboolean    ok;
  GError     *error;
} Blocker;

Blocker    *blocker_start          (MsbDbPools    *pools,
                                    gboolean       is_transaction);
/* Releases the gate, joins the thread and asserts the call succeeded. */
void        blocker_finish         (Blocker       *blocker);
/* Same, but hands back the outcome instead of asserting success. */
gboolean    blocker_finish_outcome (Blocker       *blocker,
                                    GError       **error);

/* Lock holder: a raw sqlite3 connection on its own thread doing
 * BEGIN IMMEDIATE (plus optional @sql_inside), holding the write lock for
 * @hold_usec (or until released when @hold_usec < 0), then COMMIT. */
typedef struct LockHolder LockHolder;

LockHolder *lock_holder_start      (const char    *path,
                                    GTimeSpan      hold_usec,
                                    const char    *sql_inside);
void        lock_holder_release    (LockHolder    *holder);
/* Joins; returns the monotonic time at which the lock was released. */
gint64      lock_holder_join       (LockHolder    *holder);

/* Main-context helpers. */
void        test_async_result_cb   (GObject       *source,
                                    GAsyncResult  *result,
                                    gpointer       user_data);
/* Iterates the thread-default main context until *@result is set, failing
 * the test after @timeout_sec. */
void        test_wait_result       (GAsyncResult **result,
                                    guint          timeout_sec);
/* Iterates the thread-default main context until *@flag is TRUE. */
void        test_wait_flag         (volatile gboolean *flag,
                                    guint          timeout_sec);
void        test_wait_count        (volatile guint *count,
                                    guint          target,
                                    guint          timeout_sec);

#define LONG_READ_SQL \
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) " \
  "SELECT count(*) FROM c"

#define assert_msb_error(err, code) g_assert_error ((err), MSB_DB_ERROR, (int) (code))

void        test_assert_contains   (const char    *file,
                                    int            line,
                                    const char    *func,
                                    const GError  *error,
                                    const char    *needle);

/* Asserts that the message of @err contains @needle. */
#define assert_message_contains(err, needle) \
  test_assert_contains (__FILE__, __LINE__, G_STRFUNC, (err), (needle))

G_END_DECLS
