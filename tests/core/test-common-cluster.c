/* test-common-cluster.c: the core suites' fixture and observer on a dqlite
 * cluster
 *
 * When MSB_DB_TEST_CLUSTER names the nodes of a running cluster (see
 * tests/cluster/run-on-cluster.c), the fixture opens `dqlite://…/NAME`, a
 * database of its own for each test, and the raw observer reads and writes
 * it with MsbDb's dqlite client, as it would read a file with sqlite3.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "msb-db-dqlite-client.h"
#include "msb-db-sql-scan.h"

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

static MsbDbDqliteClient *
observer_connect (const char *path)
{
  g_autoptr(MsbDbDqliteTarget) target = NULL;
  g_autoptr(MsbDbDqliteClient) client = NULL;
  g_autoptr(GError) error = NULL;

  target = msb_db_dqlite_parse_target (path, &error);
  g_assert_no_error (error);
  client = msb_db_dqlite_client_connect_leader ((const char * const *) target->addresses,
                                                OBSERVER_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (msb_db_dqlite_client_open (client, target->name, NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&client);
}

static MsbDbRows *
observer_query (const char *path,
                const char *sql)
{
  g_autoptr(MsbDbDqliteClient) client = observer_connect (path);
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows = msb_db_dqlite_client_query_sql (client, sql, NULL, NULL, &error);

  if (rows == NULL)
    g_error ("observer query (%s): %s", sql, error->message);
  if (msb_db_rows_get_n_rows (rows) < 1)
    g_error ("observer query (%s): no row", sql);
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

/* Runs each statement of @sql. dqlite keeps its own journal: a PRAGMA
 * journal_mode is left out. */
void
test_cluster_raw_exec (const char *path,
                       const char *sql)
{
  g_autoptr(MsbDbDqliteClient) client = observer_connect (path);
  const char *next = sql;

  while (!msb_db_sql_is_blank (next))
    {
      const char *end = msb_db_sql_statement_end (next);
      g_autofree char *statement = g_strndup (next, (gsize) (end - next));
      g_autofree char *pragma = msb_db_sql_get_pragma (statement, NULL);
      g_autoptr(GError) error = NULL;

      next = end;
      if (g_strcmp0 (pragma, "journal_mode") == 0)
        continue;
      if (!msb_db_dqlite_client_exec_sql (client, statement, NULL, NULL, NULL, &error))
        g_error ("observer exec (%s): %s", statement, error->message);
    }
}

/* A connection of the observer's, for the lock holder (test-common.c). */
gpointer
test_cluster_session_open (const char *path)
{
  return observer_connect (path);
}

/* Runs @sql; NULL, or why it failed. */
char *
test_cluster_session_exec (gpointer    session,
                           const char *sql)
{
  g_autoptr(GError) error = NULL;

  if (msb_db_dqlite_client_exec_sql (session, sql, NULL, NULL, NULL, &error))
    return NULL;
  return g_strdup (error->message);
}

void
test_cluster_session_close (gpointer session)
{
  msb_db_dqlite_client_free (session);
}
