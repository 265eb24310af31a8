/* msb-db-demo-verify.c: after the run, every acknowledged write is on disk
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Once every process has closed its pools, the file is opened again,
 * read-only, and the rows on disk are compared with the acknowledged ids:
 * exactly, for this process; by count, min, max and sum of ids, for the
 * other processes, which report them on stdout. Every batch must have its
 * three items, PRAGMA quick_check must say "ok", and the last close must
 * have left no -wal or -shm file behind.
 */
#include "msb-db-demo.h"

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Compares the sorted acknowledged ids with the ids on disk. */
static void
compare_id_sets (GArray    *acked,
                 MsbDbRows *found,
                 guint64   *missing,
                 guint64   *unexpected)
{
  guint n_found = msb_db_rows_get_n_rows (found);
  guint a = 0, f = 0;

  g_array_sort (acked, compare_ids);
  *missing = *unexpected = 0;
  while (a < acked->len || f < n_found)
    {
      gint64 want = a < acked->len ? g_array_index (acked, gint64, a) : G_MAXINT64;
      gint64 have = f < n_found ? msb_db_rows_get_int64 (found, f, 0) : G_MAXINT64;

      if (want == have)
        a++, f++;
      else if (want < have)
        (*missing)++, a++;
      else
        (*unexpected)++, f++;
    }
}

static MsbDbRows *
verify_read (MsbDbPools  *pools,
             const char  *sql,
             const char  *label,
             GError     **error)
{
  return msb_db_pools_read (pools, sql, label != NULL ? g_variant_new ("(s)", label) : NULL,
                            NULL, error);
}

/* Sets child->failure when the file does not hold what the process
 * reported; FALSE only when the file could not be read. */
static gboolean
verify_child (MsbDbPools  *pools,
              DemoChild   *child,
              GError     **error)
{
  g_autoptr(MsbDbRows) items = NULL;
  g_autoptr(MsbDbRows) batches = NULL;

  if (child->failure != NULL)
    return TRUE;  /* already failed: nothing to compare */

  items = verify_read (pools, "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0),"
                       " coalesce(sum(id), 0) FROM demo_items WHERE writer = ?",
                       demo_child_label (child), error);
  if (items == NULL)
    return FALSE;
  batches = verify_read (pools, "SELECT count(*) FROM demo_batches WHERE writer = ?",
                         demo_child_label (child), error);
  if (batches == NULL)
    return FALSE;

  if ((guint64) msb_db_rows_get_int64 (items, 0, 0) != demo_child_value (child, "items") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 1) != demo_child_value (child, "min_id") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 2) != demo_child_value (child, "max_id") ||
      (guint64) msb_db_rows_get_int64 (items, 0, 3) != demo_child_value (child, "sum_id") ||
      (guint64) msb_db_rows_get_int64 (batches, 0, 0) != demo_child_value (child, "batches"))
    child->failure = g_strdup_printf ("on disk: %" G_GINT64_FORMAT " items (ids %" G_GINT64_FORMAT
                                      "..%" G_GINT64_FORMAT ", sum %" G_GINT64_FORMAT "), %"
                                      G_GINT64_FORMAT " batches; acknowledged: %" G_GUINT64_FORMAT
                                      " items (ids %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                                      ", sum %" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " batches",
                                      msb_db_rows_get_int64 (items, 0, 0),
                                      msb_db_rows_get_int64 (items, 0, 1),
                                      msb_db_rows_get_int64 (items, 0, 2),
                                      msb_db_rows_get_int64 (items, 0, 3),
                                      msb_db_rows_get_int64 (batches, 0, 0),
                                      demo_child_value (child, "items"),
                                      demo_child_value (child, "min_id"),
                                      demo_child_value (child, "max_id"),
                                      demo_child_value (child, "sum_id"),
                                      demo_child_value (child, "batches"));
  return TRUE;
}

/* Opens the closed database again, read-only, and compares. FALSE only
 * when the file could not be read; what was found is in @verify. */
gboolean
demo_verify (Demo        *demo,
             DemoVerify  *verify,
             GError     **error)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbRows) items = NULL;
  g_autoptr(MsbDbRows) batches = NULL;
  g_autoptr(MsbDbRows) incomplete = NULL;
  g_autoptr(MsbDbRows) quick = NULL;
  g_autofree char *wal = g_strconcat (demo->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (demo->path, "-shm", NULL);

  /* every process has closed its pools: a clean close of the last user
   * leaves no -wal or -shm behind */
  verify->leftovers = g_file_test (wal, G_FILE_TEST_EXISTS) || g_file_test (shm, G_FILE_TEST_EXISTS);

  pools = msb_db_pools_open_read_only (demo->path, 2,
                                       MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                       MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS * G_TIME_SPAN_SECOND,
                                       NULL, error);
  if (pools == NULL)
    return FALSE;

  items = verify_read (pools, "SELECT id FROM demo_items WHERE writer = ? ORDER BY id",
                       demo->label, error);
  if (items == NULL)
    return FALSE;
  batches = verify_read (pools, "SELECT id FROM demo_batches WHERE writer = ? ORDER BY id",
                         demo->label, error);
  if (batches == NULL)
    return FALSE;
  incomplete = verify_read (pools, "SELECT count(*), (SELECT count(*) FROM demo_batches)"
                            " FROM demo_batches AS b WHERE (SELECT count(*) FROM demo_items AS i"
                            " WHERE i.batch_id = b.id) <> 3", NULL, error);
  if (incomplete == NULL)
    return FALSE;
  quick = verify_read (pools, "PRAGMA quick_check", NULL, error);
  if (quick == NULL)
    return FALSE;

  verify->items_acked = demo->acked_items->len;
  verify->items_found = msb_db_rows_get_n_rows (items);
  compare_id_sets (demo->acked_items, items, &verify->items_missing, &verify->items_unexpected);
  verify->batches_acked = demo->acked_batches->len;
  verify->batches_found = msb_db_rows_get_n_rows (batches);
  compare_id_sets (demo->acked_batches, batches, &verify->batches_missing, &verify->batches_unexpected);
  verify->incomplete_batches = msb_db_rows_get_int64 (incomplete, 0, 0);
  verify->all_batches = msb_db_rows_get_int64 (incomplete, 0, 1);
  verify->quick_check = g_strdup (msb_db_rows_get_string (quick, 0, 0));

  for (guint i = 0; i < demo->children->len; i++)
    if (!verify_child (pools, g_ptr_array_index (demo->children, i), error))
      return FALSE;

  if (!msb_db_pools_close (pools, NULL, error))
    return FALSE;

  verify->ok = verify->items_missing == 0 && verify->items_unexpected == 0 &&
               verify->batches_missing == 0 && verify->batches_unexpected == 0 &&
               verify->incomplete_batches == 0 &&
               g_strcmp0 (verify->quick_check, "ok") == 0 &&
               demo_counter_get (&demo->counters.visibility_misses) == 0 &&
               demo_counter_get (&demo->counters.snapshot_violations) == 0;
  for (guint i = 0; i < demo->children->len; i++)
    if (((DemoChild *) g_ptr_array_index (demo->children, i))->failure != NULL)
      verify->ok = FALSE;
  return TRUE;
}
