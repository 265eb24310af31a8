/* msb-db-demo-data.c: the tables and rows both demo processes write
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * demo_items holds single rows (INSERT ... RETURNING id, through
 * msb_db_pools_write()) and the items of batches; demo_batches the batches,
 * each written with its three items in one transaction. The `writer` column
 * tells which process (and run) wrote a row, so that the verification can
 * compare each writer's acknowledged ids with the file.
 */
#include "msb-db-demo.h"

static const char *const demo_schema[] = {
  "CREATE TABLE IF NOT EXISTS demo_batches ("
  " id INTEGER PRIMARY KEY,"
  " writer TEXT NOT NULL,"
  " created_us INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS demo_items ("
  " id INTEGER PRIMARY KEY,"
  " writer TEXT NOT NULL,"
  " batch_id INTEGER REFERENCES demo_batches (id),"
  " payload TEXT NOT NULL,"
  " data BLOB,"
  " created_us INTEGER NOT NULL)",
  "CREATE INDEX IF NOT EXISTS demo_items_writer ON demo_items (writer)",
  "CREATE INDEX IF NOT EXISTS demo_items_batch ON demo_items (batch_id)",
};

#define SQL_INSERT_BATCH_ITEM \
  "INSERT INTO demo_items (writer, batch_id, payload, data, created_us)" \
  " VALUES (?, ?, ?, ?, ?) RETURNING id"
#define SQL_INSERT_BATCH \
  "INSERT INTO demo_batches (writer, created_us) VALUES (?, ?) RETURNING id"

static gboolean
create_schema_func (MsbDbConnection  *connection,
                    gpointer          user_data,
                    GError          **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (demo_schema); i++)
    {
      g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, demo_schema[i], NULL, error);
      if (rows == NULL)
        return FALSE;
    }
  return TRUE;
}

gboolean
demo_create_schema (MsbDbPools  *pools,
                    GError     **error)
{
  return msb_db_pools_transaction (pools, create_schema_func, NULL, NULL, error);
}

/* Parameters of one item: (writer, [batch_id,] payload, data, created_us). */
GVariant *
demo_item_params (const char *label,
                  gint64      batch_id,
                  guint64     sequence)
{
  guint32 random[2] = { g_random_int (), g_random_int () };
  g_autofree char *payload = g_strdup_printf ("%s item %" G_GUINT64_FORMAT, label, sequence);
  GVariant *data = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, random, sizeof random, 1);

  if (batch_id > 0)
    return g_variant_new ("(sxs@ayx)", label, batch_id, payload, data, g_get_real_time ());
  return g_variant_new ("(ss@ayx)", label, payload, data, g_get_real_time ());
}

/* The id of an INSERT ... RETURNING id. */
gboolean
demo_returned_id (MsbDbRows  *rows,
                  gint64     *id,
                  GError    **error)
{
  if (rows == NULL)
    return FALSE;
  if (msb_db_rows_get_n_rows (rows) != 1 || msb_db_rows_get_n_columns (rows) < 1)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "INSERT … RETURNING id gave %u rows", msb_db_rows_get_n_rows (rows));
      return FALSE;
    }
  *id = msb_db_rows_get_int64 (rows, 0, 0);
  return TRUE;
}

static void
demo_batch_clear (gpointer data)
{
  DemoBatch *batch = data;

  g_free (batch->label);
}

/* A DemoBatch lives in an atomic refcounted box: one reference for the
 * library (dropped with the GDestroyNotify), one for the caller. */
DemoBatch *
demo_batch_new (const char *label,
                guint64     sequence)
{
  DemoBatch *batch = g_atomic_rc_box_new0 (DemoBatch);

  batch->label = g_strdup (label);
  batch->sequence = sequence;
  return batch;
}

void
demo_batch_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, demo_batch_clear);
}

/* The transaction of one batch: see DemoBatch. */
gboolean
demo_batch_func (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  DemoBatch *batch = user_data;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, SQL_INSERT_BATCH,
                                    g_variant_new ("(sx)", batch->label, g_get_real_time ()),
                                    error);
  if (!demo_returned_id (rows, &batch->batch_id, error))
    return FALSE;

  for (guint i = 0; i < DEMO_ITEMS_PER_BATCH; i++)
    {
      g_autoptr(MsbDbRows) item = NULL;

      item = msb_db_connection_execute (connection, SQL_INSERT_BATCH_ITEM,
                                        demo_item_params (batch->label, batch->batch_id,
                                                          batch->sequence * DEMO_ITEMS_PER_BATCH + i),
                                        error);
      if (!demo_returned_id (item, &batch->item_ids[i], error))
        return FALSE;
    }
  return TRUE;
}
