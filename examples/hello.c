/* hello.c: MsbDb in a few lines: a write, a transaction and an async read.
 * Build: cc hello.c $(pkg-config --cflags --libs msb-db-1.0)   Run: ./hello [FILE]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <msb-db.h>

static gboolean
insert_world (MsbDbConnection *conn, gpointer user_data, GError **error)
{ /* Runs on the writer thread, inside BEGIN IMMEDIATE ... COMMIT. */
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (conn,
      "INSERT INTO greeting (text) VALUES (?)", g_variant_new ("(s)", user_data), error);
  return rows != NULL;  /* FALSE (with error set) rolls back */
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer loop)
{ /* Runs in the main context of the thread that called read_async. */
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = msb_db_pools_read_finish (MSB_DB_POOLS (source), result, &error);
  for (guint i = 0; rows != NULL && i < msb_db_rows_get_n_rows (rows); i++)
    g_print ("%s\n", msb_db_rows_get_string (rows, i, 0));
  if (error != NULL)
    g_printerr ("read failed: %s\n", error->message);
  g_main_loop_quit (loop);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(MsbDbPools) pools = msb_db_pools_open (argc > 1 ? argv[1] : "hello.db",
      MSB_DB_DEFAULT_MAX_READ_CONNECTIONS, MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
      MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND, NULL, &error);
  g_autoptr(MsbDbRows) created = pools ? msb_db_pools_write (pools,
      "CREATE TABLE IF NOT EXISTS greeting (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
      NULL, NULL, &error) : NULL;
  g_autoptr(MsbDbRows) hello = created ? msb_db_pools_write (pools,
      "INSERT INTO greeting (text) VALUES (?)", g_variant_new ("(s)", "hello"), NULL, &error) : NULL;
  if (hello == NULL || !msb_db_pools_transaction (pools, insert_world, "world", NULL, &error))
    {
      g_printerr ("hello: %s\n", error->message);
      return 1;
    }
  msb_db_pools_read_async (pools, "SELECT text FROM greeting ORDER BY id", NULL, NULL, on_read, loop);
  g_main_loop_run (loop);
  return msb_db_pools_close (pools, NULL, &error) ? 0 : 1;
}
