/* test-cluster.c: MsbDb's dqlite client against three real nodes
 *
 * main() starts three `msb-db node` processes on 127.0.0.1 (free ports,
 * a temporary directory) and waits for their "ready" lines; the tests then
 * use the client end to end, the `msb-db cluster` command, kill a node with
 * SIGKILL and restart it, and read back with Debian's independent `dqlite`
 * shell. The last test stops every node with SIGTERM and expects a clean
 * exit. Nodes die with this process (PR_SET_PDEATHSIG) if it crashes.
 *
 * Environment: MSB_DB_TOOL (the msb-db binary), MSB_DB_DQLITE_SHELL (the
 * `dqlite` shell, or empty if it is not installed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cluster-nodes.h"
#include "msb-db-backend.h"
#include "msb-db-error.h"
#include "../core/test-common.h"

#define N_NODES 3
#define DB_NAME "test"
#define FIND_TIMEOUT (15 * G_TIME_SPAN_SECOND)

static Cluster *cl;
static char *db_target;

/* Helpers ------------------------------------------------------------------ */

/* A socket that accepts connections (in the kernel's backlog) and never
 * answers: a server that hangs. */
static GSocket *
silent_listener (char **address)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *address = g_strdup_printf ("127.0.0.1:%u",
                              g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  return g_steal_pointer (&socket);
}

static void
exec_ok (MsbDbDqliteClient *client,
         const char        *sql,
         GVariant          *params)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (msb_db_dqlite_client_exec_sql (client, sql, params, NULL, NULL, &error));
  g_assert_no_error (error);
}

static gint64
query_int (MsbDbDqliteClient *client,
           const char        *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_dqlite_client_query_sql (client, sql, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  return msb_db_rows_get_int64 (rows, 0, 0);
}

/* Runs msb-db with @args; returns its exit status, stdout in *@out. */
static int
run_tool (char               **out,
          char               **err,
          const char * const  *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = cluster_spawn_tool (cl->tool, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                               G_SUBPROCESS_FLAGS_STDERR_PIPE, args, &error);
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  return g_subprocess_get_exit_status (process);
}

typedef struct {
  GCancellable *cancellable;
  MsbDbDqliteClient *client;
  GTimeSpan delay;
  gint64 done_at;
} Later;

static gpointer
cancel_later_thread (gpointer data)
{
  Later *later = data;

  g_usleep (later->delay);
  later->done_at = g_get_monotonic_time ();
  if (later->cancellable != NULL)
    g_cancellable_cancel (later->cancellable);
  else
    msb_db_dqlite_client_abort (later->client);
  return NULL;
}

/* Handshake and simple requests -------------------------------------------- */

static void
test_handshake (void)
{
  g_autofree char *first_leader = NULL;

  for (guint i = 0; i < N_NODES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbDqliteClient) client =
        msb_db_dqlite_client_connect (cl->nodes[i].address, 5 * G_TIME_SPAN_SECOND, NULL, &error);
      g_autofree char *address = NULL;
      guint64 heartbeat = 0, id = 0;

      g_assert_no_error (error);
      g_assert_cmpstr (msb_db_dqlite_client_get_address (client), ==, cl->nodes[i].address);
      g_assert_true (msb_db_dqlite_client_identify (client, 42, &heartbeat, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (heartbeat, >, 0);
      g_assert_true (msb_db_dqlite_client_leader (client, &id, &address, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (id, >=, 1);
      g_assert_cmpuint (id, <=, N_NODES);
      if (first_leader == NULL)
        first_leader = g_strdup (address);
      g_assert_cmpstr (address, ==, first_leader);
      g_assert_false (msb_db_dqlite_client_is_broken (client));
    }
}

/* Leader discovery --------------------------------------------------------- */

static void
test_leader_follower_first (void)
{
  g_autofree char *leader = NULL;
  g_autofree char *dead = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  g_autoptr(GPtrArray) list = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbDqliteClient) client = NULL;
  guint64 id;

  cluster_current_leader (cl, &id, &leader);
  /* A dead address, then the followers, the leader last. */
  g_ptr_array_add (list, dead);
  for (guint i = 0; i < N_NODES; i++)
    if (!g_str_equal (cl->nodes[i].address, leader))
      g_ptr_array_add (list, cl->nodes[i].address);
  g_ptr_array_add (list, leader);
  g_ptr_array_add (list, NULL);

  client = msb_db_dqlite_client_connect_leader ((const char * const *) list->pdata,
                                                FIND_TIMEOUT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msb_db_dqlite_client_get_address (client), ==, leader);

  /* Through a host name: resolved to its IPv4 address first. */
  g_clear_pointer (&client, msb_db_dqlite_client_free);
  {
    g_autofree char *by_name = g_strdup_printf ("localhost:%s", strrchr (list->pdata[1], ':') + 1);
    const char *named[] = { by_name, NULL };

    client = msb_db_dqlite_client_connect_leader (named, FIND_TIMEOUT, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (msb_db_dqlite_client_get_address (client), ==, leader);
  }
}

static void
test_leader_none_reachable (void)
{
  g_autofree char *dead1 = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  g_autofree char *dead2 = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  g_autofree char *silent = NULL;
  /* Kept open to the end of the test: connections to it hang. */
  g_autoptr(GSocket) listener = silent_listener (&silent);
  const char *list[] = { dead1, dead2, silent, NULL };
  g_autoptr(GError) error = NULL;
  MsbDbDqliteClient *client;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  client = msb_db_dqlite_client_connect_leader (list, 800 * G_TIME_SPAN_MILLISECOND, NULL, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_false (g_socket_is_closed (listener));
  g_assert_null (client);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN);
  g_test_message ("%s (after %" G_GINT64_FORMAT " ms)", error->message, elapsed / 1000);
  g_assert_nonnull (strstr (error->message, dead1));
  g_assert_nonnull (strstr (error->message, dead2));
  g_assert_nonnull (strstr (error->message, silent));
  g_assert_nonnull (strstr (error->message, "refused"));
  g_assert_cmpint (elapsed, >=, 700 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, SLOW (3 * G_TIME_SPAN_SECOND));
}

static void
test_target_parse (void)
{
  static const struct { const char *text; const char *needle; } bad[] = {
    { "dqlite://127.0.0.1:9001", "names no database" },
    { "dqlite://127.0.0.1:9001/", "names no database" },
    { "dqlite:///app.db", "lists no node" },
    { "dqlite://127.0.0.1/app.db", "has no port" },
    { "dqlite://127.0.0.1:/app.db", "has no port" },
    { "dqlite://127.0.0.1:0/app.db", "out of range" },
    { "dqlite://127.0.0.1:65536/app.db", "out of range" },
    { "dqlite://127.0.0.1:9x/app.db", "out of range" },
    { "dqlite://a:1,,b:2/app.db", "empty node address" },
    { "dqlite://[::1]:9001/app.db", "IPv6" },
    { "dqlite://:9001/app.db", "has no host" },
    { "dqlite://a:1/x/y", "holds a “/”" },
    { "sqlite:///x", "not a dqlite target" },
  };
  g_autoptr(MsbDbDqliteTarget) target = NULL;
  g_autoptr(GError) error = NULL;

  target = msb_db_dqlite_parse_target ("dqlite://127.0.0.1:9001,db.example:9002/app.db", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (target->addresses), ==, 2);
  g_assert_cmpstr (target->addresses[1], ==, "db.example:9002");
  g_assert_cmpstr (target->name, ==, "app.db");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(MsbDbDqliteTarget) refused = msb_db_dqlite_parse_target (bad[i].text, &error);

      g_assert_null (refused);
      g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN);
      if (strstr (error->message, bad[i].needle) == NULL ||
          strstr (error->message, "dqlite://127.0.0.1:9001,") == NULL)
        g_error ("%s: unexpected message: %s", bad[i].text, error->message);
      g_clear_error (&error);
    }
}

/* Values ------------------------------------------------------------------- */

static void
test_values (void)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(MsbDbDqliteStmt) insert = NULL;
  g_autoptr(MsbDbDqliteStmt) select = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  MsbDbDqliteResult result = { 0 };
  static const guint8 blob[] = { 0, 1, 2, 255, 0 };
  gsize length;

  exec_ok (client, "CREATE TABLE vals (k INTEGER PRIMARY KEY, v)", NULL);
  insert = msb_db_dqlite_client_prepare (client, "INSERT INTO vals (k, v) VALUES (?, ?)", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_dqlite_stmt_get_n_params (insert), ==, 2);

  {
    GVariant *values[] = {
      g_variant_new ("(xx)", G_GINT64_CONSTANT (1), G_MININT64),
      g_variant_new ("(xx)", G_GINT64_CONSTANT (2), G_MAXINT64),
      g_variant_new ("(xd)", G_GINT64_CONSTANT (3), -1.25e-300),
      g_variant_new ("(xs)", G_GINT64_CONSTANT (4), "héllo, wörld"),
      g_variant_new ("(xs)", G_GINT64_CONSTANT (5), ""),
      g_variant_new ("(x@ay)", G_GINT64_CONSTANT (6),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, sizeof blob, 1)),
      g_variant_new ("(x@ay)", G_GINT64_CONSTANT (7),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1)),
      g_variant_new ("(xms)", G_GINT64_CONSTANT (8), NULL),
      g_variant_new ("(xx)", G_GINT64_CONSTANT (9), G_GINT64_CONSTANT (0)),
      g_variant_new ("(xb)", G_GINT64_CONSTANT (10), TRUE),
      g_variant_new ("(xt)", G_GINT64_CONSTANT (11), (guint64) G_MAXINT64),
      g_variant_new ("(xv)", G_GINT64_CONSTANT (12), g_variant_new_int32 (-7)),
    };

    for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
      {
        g_variant_ref_sink (values[i]);
        g_assert_true (msb_db_dqlite_client_exec (client, insert, values[i], &result, NULL, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (result.last_insert_id, ==, i + 1);
        g_assert_cmpuint (result.rows_affected, ==, 1);
        g_variant_unref (values[i]);
      }
  }

  select = msb_db_dqlite_client_prepare (client, "SELECT k, v, typeof(v) FROM vals ORDER BY k",
                                         NULL, &error);
  g_assert_no_error (error);
  rows = msb_db_dqlite_client_query (client, select, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 12);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 3);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 2), ==, "typeof(v)");

  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 1), ==, G_MININT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 1, 1), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 2, 1), ==, MSB_DB_VALUE_TYPE_REAL);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 2, 1), ==, -1.25e-300);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 3, 1), ==, "héllo, wörld");
  /* "", an empty blob, NULL and 0 stay four different things. */
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 4, 1), ==, MSB_DB_VALUE_TYPE_TEXT);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 4, 1), ==, "");
  {
    g_autoptr(GBytes) b = msb_db_rows_get_bytes (rows, 5, 1);
    g_assert_cmpmem (g_bytes_get_data (b, &length), length, blob, sizeof blob);
  }
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 6, 1), ==, MSB_DB_VALUE_TYPE_BLOB);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 6, 2), ==, "blob");
  g_assert_true (msb_db_rows_is_null (rows, 7, 1));
  g_assert_cmpstr (msb_db_rows_get_string (rows, 7, 2), ==, "null");
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 8, 1), ==, MSB_DB_VALUE_TYPE_INTEGER);
  g_assert_false (msb_db_rows_is_null (rows, 8, 1));
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 9, 1), ==, 1);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 10, 1), ==, G_MAXINT64);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 11, 1), ==, -7);

  /* The same statement again shares the column names. */
  {
    g_autoptr(MsbDbRows) again = msb_db_dqlite_client_query (client, select, NULL, NULL, &error);

    g_assert_no_error (error);
    g_assert_true (msb_db_rows_get_column_name (again, 0) == msb_db_rows_get_column_name (rows, 0));
  }

  g_assert_true (msb_db_dqlite_client_finalize (client, insert, NULL, &error));
  g_assert_no_error (error);
  /* A finalized statement is refused here: dqlite 1.11 would crash on its
   * id. The node is still there afterwards. */
  g_assert_false (msb_db_dqlite_client_exec (client, insert, g_variant_new ("(xi)", 99, 1),
                                             NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (msb_db_dqlite_client_is_broken (client));
  g_assert_cmpint (query_int (client, "SELECT count(*) FROM vals"), ==, 12);
}

static void
test_named_params (void)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(MsbDbDqliteStmt) stmt = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  GVariantDict dict;

  exec_ok (client, "CREATE TABLE named (a, b, c)", NULL);
  stmt = msb_db_dqlite_client_prepare (client, "INSERT INTO named VALUES (:a, @b, $c)", NULL, &error);
  g_assert_no_error (error);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "c", "s", "three");
  g_variant_dict_insert (&dict, ":a", "i", 1);
  g_variant_dict_insert (&dict, "b", "d", 2.5);
  g_assert_true (msb_db_dqlite_client_exec (client, stmt, g_variant_dict_end (&dict), NULL, NULL, &error));
  g_assert_no_error (error);

  rows = msb_db_dqlite_client_query_sql (client, "SELECT a, b, c FROM named WHERE a = :a",
                                         g_variant_new_parsed ("{'a': <1>}"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 1), ==, 2.5);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 2), ==, "three");

  /* Refused before anything is sent: the connection is untouched. */
  g_assert_false (msb_db_dqlite_client_exec (client, stmt, g_variant_new_parsed ("{'a': <1>}"),
                                             NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (msb_db_dqlite_client_exec (client, stmt, g_variant_new ("(ii)", 1, 2),
                                             NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_assert_false (msb_db_dqlite_client_is_broken (client));
  g_assert_cmpint (query_int (client, "SELECT count(*) FROM named"), ==, 1);
}

/* A result of many batches: about 4 KiB each, this one is ~1.3 MB. */
static void
test_paged_rows (void)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  const guint n = 40000;

  rows = msb_db_dqlite_client_query_sql (client,
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT x, printf('row %08d', x) AS label, NULL AS empty FROM c",
    g_variant_new ("(u)", n), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, n);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 3);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 1), ==, "label");
  for (guint r = 0; r < n; r++)
    {
      char expected[32];

      g_snprintf (expected, sizeof expected, "row %08u", r + 1);
      g_assert_cmpint (msb_db_rows_get_int64 (rows, r, 0), ==, r + 1);
      g_assert_cmpstr (msb_db_rows_get_string (rows, r, 1), ==, expected);
      g_assert_true (msb_db_rows_is_null (rows, r, 2));
    }
  /* Still in step afterwards. */
  g_assert_cmpint (query_int (client, "SELECT 7"), ==, 7);
}

/* Errors ------------------------------------------------------------------- */

static void
assert_contains (const GError *error,
                 const char   *needle)
{
  if (strstr (error->message, needle) == NULL)
    g_error ("“%s” not in “%s”", needle, error->message);
}

static void
test_failures (void)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(MsbDbDqliteClient) follower = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  guint64 leader_id;
  g_autofree char *leader = NULL;

  exec_ok (client, "CREATE TABLE uniq (x INTEGER UNIQUE NOT NULL)", NULL);
  exec_ok (client, "INSERT INTO uniq VALUES (1)", NULL);

  g_assert_false (msb_db_dqlite_client_exec_sql (client, "INSERT INTO uniq VALUES (1)", NULL,
                                                 NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  assert_contains (error, "UNIQUE constraint failed: uniq.x");
  assert_contains (error, "[SQLITE_CONSTRAINT_UNIQUE]");
  assert_contains (error, " in SQL: INSERT INTO uniq VALUES (1)");
  g_assert_false (msb_db_dqlite_error_is_leader_change (error));
  g_clear_error (&error);

  g_assert_false (msb_db_dqlite_client_exec_sql (client, "INSERT INTO uniq VALUES (NULL)", NULL,
                                                 NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CONSTRAINT);
  assert_contains (error, "NOT NULL constraint failed");
  g_clear_error (&error);

  /* A statement error, with the server's message. */
  rows = msb_db_dqlite_client_query_sql (client, "SELECT * FROM nosuch", NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  assert_contains (error, "no such table: nosuch [SQLITE_ERROR] in SQL: SELECT * FROM nosuch");
  g_clear_error (&error);

  g_assert_null (msb_db_dqlite_client_prepare (client, "SELEC 1", NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  assert_contains (error, "syntax error");
  g_clear_error (&error);

  g_assert_null (msb_db_dqlite_client_prepare (client, "  -- nothing", NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_contains (error, "empty statement");
  g_clear_error (&error);

  /* Writes with RETURNING and writes run as queries are refused before
   * they reach the node: dqlite 1.11 would leave the write half done and
   * its leader would abort on the next one. */
  rows = msb_db_dqlite_client_query_sql (client, "INSERT INTO uniq VALUES (5) RETURNING x",
                                         NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (msb_db_dqlite_client_exec_sql (client, "INSERT INTO uniq VALUES (5) RETURNING x",
                                                 NULL, NULL, NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  assert_contains (error, "RETURNING");
  g_clear_error (&error);

  /* A query run for its effect is the server's error, harmless. */
  g_assert_false (msb_db_dqlite_client_exec_sql (client, "SELECT 1 UNION SELECT 2", NULL, NULL,
                                                 NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  assert_contains (error, "another row available");
  g_clear_error (&error);

  /* None of that broke the connection, or the node: it still writes. */
  g_assert_false (msb_db_dqlite_client_is_broken (client));
  exec_ok (client, "INSERT INTO uniq VALUES (2)", NULL);
  exec_ok (client, "DELETE FROM uniq WHERE x = 2", NULL);
  g_assert_cmpint (query_int (client, "SELECT count(*) FROM uniq"), ==, 1);

  /* A follower refuses, and the refusal is recognisable as such. */
  g_assert_true (msb_db_dqlite_client_leader (client, &leader_id, &leader, NULL, &error));
  for (guint i = 0; i < N_NODES && follower == NULL; i++)
    if (!g_str_equal (cl->nodes[i].address, leader))
      follower = msb_db_dqlite_client_connect (cl->nodes[i].address, G_TIME_SPAN_SECOND * 5,
                                               NULL, &error);
  g_assert_no_error (error);
  g_assert_true (msb_db_dqlite_client_open (follower, DB_NAME, NULL, &error));
  rows = msb_db_dqlite_client_query_sql (follower, "SELECT count(*) FROM uniq", NULL, NULL, &error);
  g_assert_null (rows);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  assert_contains (error, "not leader [SQLITE_IOERR_NOT_LEADER]");
  g_assert_true (msb_db_dqlite_error_is_leader_change (error));
  g_clear_error (&error);
  g_assert_false (msb_db_dqlite_client_add (follower, 99, "127.0.0.1:1", NULL, &error));
  g_assert_true (msb_db_dqlite_error_is_leader_change (error));
  g_assert_false (msb_db_dqlite_client_is_broken (follower));
}

/* Interrupting and cancelling ---------------------------------------------- */

/* About 2.8 MB in some 700 batches. */
#define BIG_QUERY_ROWS 50000
#define BIG_QUERY \
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) " \
  "SELECT x, 'some text to make the rows longer' FROM c"

static void
test_interrupt (void)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(GError) error = NULL;
  guint in_step = 0, given_up = 0, completed = 0;

  g_assert_true (msb_db_dqlite_client_interrupt (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (client, "SELECT 3"), ==, 3);

  /* A query cancelled while its rows stream in: the client sends INTERRUPT
   * and reads what the server still sends. If that ends soon enough, the
   * connection is back in step and serves the next query; if not, it is
   * given up. The cancel may also come too late (the result complete).
   * Whatever happened, the call returns promptly after the cancel. */
  for (guint round = 0; round < 30 && in_step < 3; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      Later later = { cancellable, NULL, (round % 5 + 1) * G_TIME_SPAN_MILLISECOND };
      GThread *thread = g_thread_new ("cancel", cancel_later_thread, &later);
      g_autoptr(MsbDbRows) rows = msb_db_dqlite_client_query_sql (client, BIG_QUERY, NULL,
                                                                   cancellable, &error);
      gint64 returned = g_get_monotonic_time ();

      g_thread_join (thread);
      if (rows != NULL)
        {
          g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, BIG_QUERY_ROWS);
          completed++;
          continue;
        }
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpint (returned - later.done_at, <, SLOW (G_TIME_SPAN_SECOND));
      if (msb_db_dqlite_client_is_broken (client))
        {
          given_up++;
          g_clear_pointer (&client, msb_db_dqlite_client_free);
          client = cluster_leader_client (cl, DB_NAME);
          continue;
        }
      in_step++;
      g_assert_cmpint (query_int (client, "SELECT 11"), ==, 11);
    }
  g_test_message ("cancelled: %u back in step, %u given up; %u completed",
                  in_step, given_up, completed);
  g_assert_cmpuint (in_step, >, 0);
}

/* A server that accepts and never answers: a cancelled call returns at
 * once, a call without cancellation after the client's timeout, and
 * abort() from another thread ends a call with CLOSED. */
static void
test_cancel_blocked (void)
{
  g_autofree char *address = NULL;
  g_autoptr(GSocket) listener = silent_listener (&address);
  g_autoptr(GError) error = NULL;
  g_autofree char *leader = NULL;
  guint64 id;

  g_assert_false (g_socket_is_closed (listener));

  {
    g_autoptr(MsbDbDqliteClient) client = msb_db_dqlite_client_connect (address, G_TIME_SPAN_SECOND,
                                                                        NULL, &error);
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    Later later = { cancellable, NULL, 200 * G_TIME_SPAN_MILLISECOND, 0 };
    GThread *thread;
    gint64 start;

    g_assert_no_error (error);
    start = g_get_monotonic_time ();
    thread = g_thread_new ("cancel", cancel_later_thread, &later);
    g_assert_false (msb_db_dqlite_client_leader (client, &id, &leader, cancellable, &error));
    g_thread_join (thread);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (G_TIME_SPAN_SECOND));
    /* The answer is still owed: the client refuses further requests. */
    g_assert_true (msb_db_dqlite_client_is_broken (client));
    g_clear_error (&error);
    g_assert_false (msb_db_dqlite_client_leader (client, &id, &leader, NULL, &error));
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
    assert_contains (error, "out of step");
    g_clear_error (&error);
  }

  {
    g_autoptr(MsbDbDqliteClient) client = msb_db_dqlite_client_connect (address, G_TIME_SPAN_SECOND,
                                                                        NULL, &error);
    gint64 start, elapsed;

    g_assert_no_error (error);
    msb_db_dqlite_client_set_timeout (client, 300 * G_TIME_SPAN_MILLISECOND);
    start = g_get_monotonic_time ();
    g_assert_false (msb_db_dqlite_client_open (client, DB_NAME, NULL, &error));
    elapsed = g_get_monotonic_time () - start;
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
    assert_contains (error, "did not answer within 300 ms");
    g_assert_cmpint (elapsed, >=, 290 * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpint (elapsed, <, SLOW (G_TIME_SPAN_SECOND));
    g_clear_error (&error);
  }

  {
    g_autoptr(MsbDbDqliteClient) client = msb_db_dqlite_client_connect (address, G_TIME_SPAN_SECOND,
                                                                        NULL, &error);
    Later later = { NULL, NULL, 200 * G_TIME_SPAN_MILLISECOND, 0 };
    GThread *thread;
    gint64 start;

    g_assert_no_error (error);
    later.client = client;
    start = g_get_monotonic_time ();
    thread = g_thread_new ("abort", cancel_later_thread, &later);
    g_assert_false (msb_db_dqlite_client_leader (client, &id, &leader, NULL, &error));
    g_thread_join (thread);
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED);
    g_assert_cmpint (g_get_monotonic_time () - start, <, SLOW (G_TIME_SPAN_SECOND));
    g_clear_error (&error);
    g_assert_false (msb_db_dqlite_client_leader (client, &id, &leader, NULL, &error));
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED);
  }
}

/* The command-line tool ---------------------------------------------------- */

static JsonObject *
cluster_json (JsonParser *parser)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *args[] = { "cluster", "--json", db_target, NULL };

  g_assert_cmpint (run_tool (&out, &err, args), ==, 0);
  /* Exactly one object, on one line. */
  g_assert_true (g_str_has_suffix (out, "}\n"));
  g_assert_true (strchr (out, '\n') == out + strlen (out) - 1);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static guint
wait_for_leader_other_than (const char *old_leader)
{
  gint64 deadline = g_get_monotonic_time () + FIND_TIMEOUT;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *address = NULL;
      guint64 id;

      cluster_current_leader (cl, &id, &address);
      if (!g_str_equal (address, old_leader))
        return (guint) id;
      g_usleep (50 * G_TIME_SPAN_MILLISECOND);
    }
  g_error ("the leadership stayed with %s", old_leader);
}

static void
test_cli_cluster (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *leader = NULL;
  g_autofree char *target_id = NULL;
  JsonObject *root, *leader_object;
  JsonArray *nodes;
  guint64 leader_id;
  guint new_leader;
  const char *table_args[] = { "cluster", cl->addresses[0], NULL };

  cluster_current_leader (cl, &leader_id, &leader);
  root = cluster_json (parser);
  leader_object = json_object_get_object_member (root, "leader");
  g_assert_cmpint (json_object_get_int_member (leader_object, "id"), ==, (gint64) leader_id);
  g_assert_cmpstr (json_object_get_string_member (leader_object, "address"), ==, leader);
  nodes = json_object_get_array_member (root, "nodes");
  g_assert_cmpuint (json_array_get_length (nodes), ==, N_NODES);
  for (guint i = 0; i < N_NODES; i++)
    {
      JsonObject *node = json_array_get_object_element (nodes, i);
      gint64 id = json_object_get_int_member (node, "id");

      g_assert_cmpint (id, >=, 1);
      g_assert_cmpint (id, <=, N_NODES);
      g_assert_cmpstr (json_object_get_string_member (node, "address"), ==,
                       cl->nodes[id - 1].address);
      g_assert_cmpstr (json_object_get_string_member (node, "role"), ==, "voter");
    }

  g_assert_cmpint (run_tool (&out, &err, table_args), ==, 0);
  g_assert_true (g_str_has_prefix (out, "ID"));
  g_assert_nonnull (strstr (out, "LEADER"));
  g_assert_nonnull (strstr (out, leader));
  g_assert_nonnull (strstr (out, "yes"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Move the leadership to another node. */
  target_id = g_strdup_printf ("%" G_GUINT64_FORMAT, leader_id % N_NODES + 1);
  {
    const char *args[] = { "cluster", db_target, "transfer", target_id, NULL };

    g_assert_cmpint (run_tool (&out, &err, args), ==, 0);
    g_test_message ("%s", out);
  }
  new_leader = wait_for_leader_other_than (leader);
  g_assert_cmpuint (new_leader, ==, leader_id % N_NODES + 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Usage errors. */
  {
    const char *args[] = { "cluster", db_target, "transfer", "x", NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 2);
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "cluster", "dqlite:///db", NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 2);
    g_assert_nonnull (strstr (err, "No node address"));
    g_clear_pointer (&err, g_free);
  }
}

/* A fourth node joins, shows in the listing, and is removed. */
static void
test_cli_remove (void)
{
  ClusterNode *extra = &cl->nodes[N_NODES];
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *join = g_strjoinv (",", cl->addresses);
  const char *args[] = { "cluster", db_target, "remove", "4", NULL };
  JsonObject *root;

  cluster_node_start (cl, extra, join);
  root = cluster_json (parser);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "nodes")), ==,
                    N_NODES + 1);

  g_assert_cmpint (run_tool (&out, &err, args), ==, 0);
  g_assert_nonnull (strstr (out, "Node 4 removed"));
  root = cluster_json (parser);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "nodes")), ==,
                    N_NODES);
  g_assert_cmpint (cluster_node_stop (extra), ==, 0);
}

static void
test_cli_node_usage (void)
{
  g_autofree char *err = NULL;
  g_autofree char *fresh = g_build_filename (cl->tmp, "fresh", "deeper", NULL);
  g_autofree char *port = g_strdup_printf ("127.0.0.1:%u", cluster_free_port ());
  struct stat st;

  {
    const char *args[] = { "node", "--id", "1", "--address", port, "--dir", fresh,
                           "--join", cl->addresses[0], NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 2);
    g_assert_nonnull (strstr (err, "bootstraps"));
    g_clear_pointer (&err, g_free);
  }
  {
    /* A new node other than 1 needs --join; its directory is created
     * owner-only all the same. */
    const char *args[] = { "node", "--id", "5", "--address", port, "--dir", fresh, NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 2);
    g_assert_nonnull (strstr (err, "needs --join"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (stat (fresh, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 0777, ==, 0700);
  }
  {
    const char *args[] = { "node", "--id", "5", "--address", "localhost:9", "--dir", fresh, NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 2);
    g_assert_nonnull (strstr (err, "numeric IPv4"));
    g_clear_pointer (&err, g_free);
  }
}

/* Every subcommand that opens a database takes a dqlite:// target. */
static void
test_cli_subcommands (void)
{
  g_autofree char *target = cluster_target (cl, "cli");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonObject *check;

  {
    const char *args[] = { "exec", target, "CREATE TABLE kv (k TEXT PRIMARY KEY, v)", NULL };
    g_assert_cmpint (run_tool (NULL, NULL, args), ==, 0);
  }
  {
    const char *args[] = { "exec", "--json", target, "INSERT INTO kv VALUES (?, ?)", "a", "1", NULL };
    g_assert_cmpint (run_tool (&out, NULL, args), ==, 0);
    g_assert_cmpstr (out, ==, "{\"changes\":1,\"last_insert_rowid\":1}\n");
    g_clear_pointer (&out, g_free);
  }
  {
    /* RETURNING prints its rows, as on a file. */
    const char *args[] = { "exec", "--csv", target, "INSERT INTO kv VALUES ('b', 2) RETURNING k, v", NULL };
    g_assert_cmpint (run_tool (&out, NULL, args), ==, 0);
    g_assert_cmpstr (out, ==, "k,v\r\nb,2\r\n");
    g_clear_pointer (&out, g_free);
  }
  {
    const char *args[] = { "query", "--json", "--stats", target, "SELECT k, v FROM kv ORDER BY k", NULL };
    g_assert_cmpint (run_tool (&out, &err, args), ==, 0);
    g_assert_cmpstr (out, ==, "{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"v\":2}\n");
    g_assert_nonnull (strstr (err, "stats: reads=1 "));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "query", target, "DELETE FROM kv", NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 1);
    g_assert_nonnull (strstr (err, "only reads"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "check", "--json", target, NULL };
    g_assert_cmpint (run_tool (&out, NULL, args), ==, 0);
    g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
    g_assert_no_error (error);
    check = json_node_get_object (json_parser_get_root (parser));
    g_assert_true (json_object_get_boolean_member (check, "ok"));
    g_assert_cmpint (json_object_get_int_member (check, "file_size"), ==,
                     json_object_get_int_member (check, "page_size") *
                     json_object_get_int_member (check, "page_count"));
    g_assert_cmpint (json_object_get_int_member (check, "foreign_keys"), ==, 1);
    g_clear_pointer (&out, g_free);
  }
  {
    /* migrate and vacuum as on a file; checkpoint and backup say no. */
    g_autofree char *dir = g_dir_make_tmp ("msb-db-migrate-XXXXXX", &error);
    g_autofree char *step = g_build_filename (dir, "0001-notes.sql", NULL);
    g_autofree char *dest = g_build_filename (dir, "copy.db", NULL);
    const char *migrate[] = { "migrate", target, dir, NULL };
    const char *status[] = { "migrate", "--status", "--json", target, dir, NULL };
    const char *vacuum[] = { "vacuum", target, NULL };
    const char *checkpoint[] = { "checkpoint", target, NULL };
    const char *backup[] = { "backup", target, dest, NULL };

    g_assert_no_error (error);
    g_assert_true (g_file_set_contents (step, "CREATE TABLE notes (body TEXT);", -1, &error));
    g_assert_no_error (error);
    g_assert_cmpint (run_tool (NULL, NULL, migrate), ==, 0);
    g_assert_cmpint (run_tool (&out, NULL, status), ==, 0);
    g_assert_nonnull (strstr (out, "\"current\":1"));
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (run_tool (NULL, NULL, vacuum), ==, 0);
    g_assert_cmpint (run_tool (NULL, &err, checkpoint), ==, 1);
    g_assert_nonnull (strstr (err, "not supported by the dqlite backend"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_tool (NULL, &err, backup), ==, 1);
    g_assert_nonnull (strstr (err, "not supported by the dqlite backend"));
    g_clear_pointer (&err, g_free);
    g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
    g_remove (step);
    g_rmdir (dir);
  }
  {
    const char *args[] = { "exec", "dqlite://127.0.0.1/cli", "SELECT 1", NULL };
    g_assert_cmpint (run_tool (NULL, &err, args), ==, 1);
    g_assert_nonnull (strstr (err, "has no port"));
  }
}

/* The backend's script call (the library's maintenance work): every
 * statement in turn, a trigger body whole, writes refused on a read
 * connection. */
static void
test_backend_script (void)
{
  g_autofree char *text = cluster_target (cl, "script");
  g_autoptr(MsbDbTarget) target = NULL;
  MsbDbConnSettings settings = { 5 * G_TIME_SPAN_SECOND, 16, 10 * G_TIME_SPAN_SECOND };
  MsbDbBackendConn *writer, *reader;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  target = msb_db_target_parse (text, &error);
  g_assert_no_error (error);
  writer = msb_db_backend_open (target, MSB_DB_CONN_READ_WRITE, &settings, &error);
  g_assert_no_error (error);
  reader = msb_db_backend_open (target, MSB_DB_CONN_READ_ONLY, &settings, &error);
  g_assert_no_error (error);

  g_assert_true (msb_db_backend_execute_script (writer,
    "CREATE TABLE a (x INTEGER);\n"
    "CREATE TABLE log (x INTEGER);\n"
    "CREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.x); "
    "INSERT INTO log VALUES (new.x * 10); END;\n"
    "SELECT 'rows are dropped';\n"
    "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);", NULL, &error));
  g_assert_no_error (error);
  rows = msb_db_backend_execute (reader, "SELECT group_concat(x) FROM (SELECT x FROM log ORDER BY x)",
                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "1,2,10,20");

  /* A failing statement stops the script; what ran before it stays. */
  g_assert_false (msb_db_backend_execute_script (writer, "INSERT INTO a VALUES (3); INSERT INTO nowhere VALUES (1); INSERT INTO a VALUES (4)",
                                                 NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_SQL);
  g_clear_error (&error);
  g_assert_false (msb_db_backend_execute_script (writer, "BEGIN; INSERT INTO a VALUES (5); COMMIT",
                                                 NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (msb_db_backend_execute_script (reader, "SELECT 1; DELETE FROM a", NULL, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_clear_object (&rows);
  rows = msb_db_backend_execute (reader, "SELECT group_concat(x) FROM (SELECT x FROM a ORDER BY x)",
                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), ==, "1,2,3");
  g_assert_false (msb_db_backend_in_transaction (writer));

  msb_db_backend_close (reader);
  msb_db_backend_close (writer);
}

/* The scale-out demo: its own three nodes, the leader killed half-way. */
static void
test_cli_demo_cluster (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *args[] = { "demo", "--cluster", "--seconds", "3", NULL };
  int status = run_tool (&out, &err, args);

  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "killed with SIGKILL"));
  g_assert_nonnull (strstr (out, "callers waited"));
  g_assert_nonnull (strstr (out, "0 missing, 0 unexpected"));
  g_assert_nonnull (strstr (out, "result: OK"));
}

/* Kill and restart --------------------------------------------------------- */

static void
write_rows (guint first,
            guint n)
{
  g_autoptr(MsbDbDqliteClient) client = cluster_leader_client (cl, DB_NAME);
  g_autoptr(MsbDbDqliteStmt) stmt = NULL;
  g_autoptr(GError) error = NULL;

  stmt = msb_db_dqlite_client_prepare (client, "INSERT INTO survivors (id) VALUES (?)", NULL, &error);
  g_assert_no_error (error);
  for (guint i = first; i < first + n; i++)
    {
      g_assert_true (msb_db_dqlite_client_exec (client, stmt, g_variant_new ("(u)", i), NULL,
                                                NULL, &error));
      g_assert_no_error (error);
    }
}

static void
test_kill_and_restart (void)
{
  g_autofree char *leader = NULL;
  g_autoptr(MsbDbDqliteClient) client = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  g_autoptr(GError) error = NULL;
  ClusterNode *victim;
  guint64 id;
  gint64 killed_at, found_at;

  client = cluster_leader_client (cl, DB_NAME);
  exec_ok (client, "CREATE TABLE survivors (id INTEGER PRIMARY KEY)", NULL);
  g_clear_pointer (&client, msb_db_dqlite_client_free);
  write_rows (0, 50);

  cluster_current_leader (cl, &id, &leader);
  victim = cluster_node_by_address (cl, leader);
  killed_at = g_get_monotonic_time ();
  cluster_node_kill (victim);

  /* The two others elect a leader of their own; writes go on. */
  client = cluster_leader_client (cl, DB_NAME);
  found_at = g_get_monotonic_time ();
  g_test_message ("new leader %s found %" G_GINT64_FORMAT " ms after the kill",
                  msb_db_dqlite_client_get_address (client), (found_at - killed_at) / 1000);
  g_assert_cmpstr (msb_db_dqlite_client_get_address (client), !=, leader);
  g_clear_pointer (&client, msb_db_dqlite_client_free);
  write_rows (50, 50);

  /* Restarted with its directory, same id and address, no --join: it is
   * the member it was, and catches up. */
  cluster_node_start (cl, victim, NULL);
  client = cluster_leader_client (cl, NULL);
  nodes = msb_db_dqlite_client_cluster (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nodes->len, ==, N_NODES);
  g_clear_pointer (&client, msb_db_dqlite_client_free);

  cluster_transfer_to (cl, victim);
  client = cluster_leader_client (cl, DB_NAME);
  g_assert_cmpstr (msb_db_dqlite_client_get_address (client), ==, victim->address);
  g_assert_cmpint (query_int (client, "SELECT count(*) FROM survivors"), ==, 100);
  g_assert_cmpint (query_int (client, "SELECT sum(id) FROM survivors"), ==, 99 * 100 / 2);
}

/* The independent client --------------------------------------------------- */

static void
test_crosscheck_go_shell (void)
{
  const char *shell = cluster_go_shell_or_skip ();
  g_autoptr(MsbDbDqliteClient) client = NULL;
  static const guint8 blob[] = { 0, 255, 7 };

  if (shell == NULL)
    return;

  client = cluster_leader_client (cl, DB_NAME);
  exec_ok (client, "CREATE TABLE cross (i INTEGER, r REAL, t TEXT, b BLOB, n)", NULL);
  exec_ok (client, "INSERT INTO cross VALUES (?, ?, ?, ?, ?)",
           g_variant_new ("(xds@ayms)", G_GINT64_CONSTANT (-9007199254740993), 0.5, "héllo wörld",
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, sizeof blob, 1),
                          NULL));
  exec_ok (client, "INSERT INTO cross VALUES (?, ?, ?, ?, ?)",
           g_variant_new ("(xds@ayms)", G_GINT64_CONSTANT (42), -1e300, "",
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1), NULL));

  cluster_assert_cross_via_go_shell (cl, shell, DB_NAME);
}

static void
test_stop_cleanly (void)
{
  for (guint i = 0; i < N_NODES; i++)
    {
      gint64 start = g_get_monotonic_time ();
      int status = cluster_node_stop (&cl->nodes[i]);

      g_assert_true (g_spawn_check_wait_status (status, NULL));
      g_test_message ("node %u stopped in %" G_GINT64_FORMAT " ms", i + 1,
                      (g_get_monotonic_time () - start) / 1000);
    }
}

/* Setup -------------------------------------------------------------------- */

static void
start_cluster (void)
{
  cl = cluster_new (N_NODES, 1);
  db_target = cluster_target (cl, DB_NAME);
  cluster_start (cl);
}

static void
stop_cluster (void)
{
  cluster_free (cl);
  g_free (db_target);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  /* A node killed mid-response must not kill the tests. */
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/cluster/handshake", test_handshake);
  g_test_add_func ("/cluster/leader-follower-first", test_leader_follower_first);
  g_test_add_func ("/cluster/leader-none-reachable", test_leader_none_reachable);
  g_test_add_func ("/cluster/target-parse", test_target_parse);
  g_test_add_func ("/cluster/values", test_values);
  g_test_add_func ("/cluster/named-params", test_named_params);
  g_test_add_func ("/cluster/paged-rows", test_paged_rows);
  g_test_add_func ("/cluster/failures", test_failures);
  g_test_add_func ("/cluster/interrupt", test_interrupt);
  g_test_add_func ("/cluster/cancel-blocked", test_cancel_blocked);
  g_test_add_func ("/cluster/cli-cluster", test_cli_cluster);
  g_test_add_func ("/cluster/cli-remove", test_cli_remove);
  g_test_add_func ("/cluster/cli-node-usage", test_cli_node_usage);
  g_test_add_func ("/cluster/cli-subcommands", test_cli_subcommands);
  g_test_add_func ("/cluster/cli-demo-cluster", test_cli_demo_cluster);
  g_test_add_func ("/cluster/backend-script", test_backend_script);
  g_test_add_func ("/cluster/kill-and-restart", test_kill_and_restart);
  g_test_add_func ("/cluster/crosscheck-go-shell", test_crosscheck_go_shell);
  g_test_add_func ("/cluster/stop-cleanly", test_stop_cleanly);

  start_cluster ();
  status = g_test_run ();
  stop_cluster ();
  return status;
}
