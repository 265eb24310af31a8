/* test-common-cluster.c: the core suites' fixture and observer on a dqlite
 * cluster
 *
 * When MSB_DB_TEST_CLUSTER names the nodes of a running cluster (see
 * tests/cluster/run-on-cluster.c), the fixture opens `dqlite://…/NAME`, a
 * database of its own for each test. The raw observer then reads and writes
 * it through pools of its own, opened for each call: independent
 * connections to the leader, as the raw sqlite3 observer is a connection of
 * its own to a file. Public API only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

#define OBSERVER_TIMEOUT (15 * G_TIME_SPAN_SECOND)

const char *
test_cluster_addresses (void)
{
  const char *addresses = g_getenv ("MSB_DB_TEST_CLUSTER");

  return addresses != NULL && *addresses != '\0' ? addresses : NULL;
}

gboolean
test_is_cluster_target (const char *path)
{
  return g_str_has_prefix (path, "dqlite://");
}

/* `dqlite://ADDRESSES/NAME`, NAME unique to the test: the basename of its
 * temporary directory. */
char *
test_cluster_target_for (const char *dir)
{
  g_autofree char *name = g_path_get_basename (dir);

  return g_strdup_printf ("dqlite://%s/%s", test_cluster_addresses (), name);
}

static MsbDbPools *
observer_open (const char *path,
               gboolean    writes)
{
  g_autoptr(GError) error = NULL;
  MsbDbPools *pools;

  if (writes)
    pools = msb_db_pools_open (path, 1, OBSERVER_TIMEOUT, 0, NULL, &error);
  else
    pools = msb_db_pools_open_read_only (path, 1, OBSERVER_TIMEOUT, 0, NULL, &error);
  if (pools == NULL)
    g_error ("observer open (%s): %s", path, error->message);
  return pools;
}

static MsbDbRows *
observer_query (const char *path,
                const char *sql)
{
  g_autoptr(MsbDbPools) pools = observer_open (path, FALSE);
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_pools_read (pools, sql, NULL, NULL, &error);

  if (rows == NULL)
    g_error ("observer query (%s): %s", sql, error->message);
  if (msb_db_rows_get_n_rows (rows) < 1)
    g_error ("observer query (%s): no row", sql);
  msb_db_pools_close (pools, NULL, NULL);
  return rows;
}

gint64
test_cluster_raw_int (const char *path,
                      const char *sql)
{
  g_autoptr(MsbDbRows) rows = observer_query (path, sql);

  return msb_db_rows_get_int64 (rows, 0, 0);
}

char *
test_cluster_raw_string (const char *path,
                         const char *sql)
{
  g_autoptr(MsbDbRows) rows = observer_query (path, sql);

  return g_strdup (msb_db_rows_get_string (rows, 0, 0));
}

/* Runs each statement of @sql (the tests' own SQL: no semicolon inside a
 * literal). dqlite keeps its own journal: a PRAGMA journal_mode is left
 * out. */
void
test_cluster_raw_exec (const char *path,
                       const char *sql)
{
  g_autoptr(MsbDbPools) pools = observer_open (path, TRUE);
  g_auto(GStrv) statements = g_strsplit (sql, ";", -1);

  for (guint i = 0; statements[i] != NULL; i++)
    {
      const char *statement = g_strstrip (statements[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      if (*statement == '\0' || g_ascii_strncasecmp (statement, "PRAGMA journal_mode", 19) == 0)
        continue;
      rows = msb_db_pools_write (pools, statement, NULL, NULL, &error);
      if (rows == NULL)
        g_error ("observer exec (%s): %s", statement, error->message);
    }
  msb_db_pools_close (pools, NULL, NULL);
}

/* Runs @body inside a write transaction of pools of its own on @path: it
 * holds the write lock on the leader for as long as it runs. NULL, or why
 * it failed. */
char *
test_cluster_hold_write_lock (const char          *path,
                              MsbDbConnectionFunc  body,
                              gpointer             data)
{
  g_autoptr(MsbDbPools) pools = observer_open (path, TRUE);
  g_autoptr(GError) error = NULL;

  if (!msb_db_pools_transaction (pools, body, data, NULL, &error))
    return g_strdup (error->message);
  msb_db_pools_close (pools, NULL, NULL);
  return NULL;
}
