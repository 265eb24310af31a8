/* msb-db-change-log.c: which tables a write connection's commits changed
 *
 * A backend feeds the log from its hooks while a transaction runs: a row
 * of a named table changed, or something changed that it cannot name.
 * Changes stay pending until the transaction commits; a savepoint rolled
 * back, or the transaction rolled back, takes its own changes with it.
 * Committed changes pile up until the writer takes them, once per batch.
 *
 * Used by one thread at a time (the one using the connection): no lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-change-log.h"

struct _MsbDbChangeLog
{
  /* The open transaction. A batch touches a few tables, so a short array
   * searched from the end (the table of the previous row first) beats a
   * hash table. */
  GPtrArray *pending;        /* of char *, each table once */
  gboolean pending_unseen;   /* changed something no hook names */
  guint mark;                /* pending->len at the savepoint */
  gboolean mark_unseen;
  guint rows_seen;

  /* Committed, not yet taken. */
  gboolean committed;
  gboolean committed_unseen;
  GPtrArray *tables;
};

MsbDbChangeLog *
msb_db_change_log_new (void)
{
  MsbDbChangeLog *log = g_new0 (MsbDbChangeLog, 1);

  log->pending = g_ptr_array_new_with_free_func (g_free);
  log->tables = g_ptr_array_new_with_free_func (g_free);
  return log;
}

void
msb_db_change_log_free (MsbDbChangeLog *log)
{
  if (log == NULL)
    return;
  g_ptr_array_unref (log->pending);
  g_ptr_array_unref (log->tables);
  g_free (log);
}

static gboolean
holds (GPtrArray  *tables,
       const char *table)
{
  for (guint i = tables->len; i > 0; i--)
    if (strcmp (g_ptr_array_index (tables, i - 1), table) == 0)
      return TRUE;
  return FALSE;
}

/* A row of @table was inserted, updated or deleted. */
void
msb_db_change_log_row (MsbDbChangeLog *log,
                       const char     *table)
{
  log->rows_seen++;
  if (log->pending->len > 0 &&
      strcmp (g_ptr_array_index (log->pending, log->pending->len - 1), table) == 0)
    return;
  if (!holds (log->pending, table))
    g_ptr_array_add (log->pending, g_strdup (table));
}

/* How many rows the hooks reported so far: a statement that changed rows
 * while this did not move changed them where no hook looks. */
guint
msb_db_change_log_rows_seen (MsbDbChangeLog *log)
{
  return log->rows_seen;
}

void
msb_db_change_log_unseen (MsbDbChangeLog *log)
{
  log->pending_unseen = TRUE;
}

/* Before a statement: where to go back to should it fail. */
void
msb_db_change_log_tell (MsbDbChangeLog         *log,
                        MsbDbChangeLogPosition *position)
{
  position->n_tables = log->pending->len;
  position->unseen = log->pending_unseen;
}

/* The statement failed and SQLite took back what it did: so does the log.
 * A table it changed that an earlier statement changed too stays. */
void
msb_db_change_log_rewind (MsbDbChangeLog               *log,
                          const MsbDbChangeLogPosition *position)
{
  g_ptr_array_set_size (log->pending, MIN (position->n_tables, log->pending->len));
  log->pending_unseen = position->unseen;
}

void
msb_db_change_log_mark (MsbDbChangeLog *log)
{
  log->mark = log->pending->len;
  log->mark_unseen = log->pending_unseen;
}

void
msb_db_change_log_undo_to_mark (MsbDbChangeLog *log)
{
  g_ptr_array_set_size (log->pending, MIN (log->mark, log->pending->len));
  log->pending_unseen = log->mark_unseen;
}

void
msb_db_change_log_undo (MsbDbChangeLog *log)
{
  g_ptr_array_set_size (log->pending, 0);
  log->pending_unseen = FALSE;
  log->mark = 0;
  log->mark_unseen = FALSE;
}

/* The open transaction committed. */
void
msb_db_change_log_commit (MsbDbChangeLog *log)
{
  gboolean named = log->pending->len > 0;

  if (named || log->pending_unseen)
    {
      log->committed = TRUE;
      if (log->pending_unseen)
        log->committed_unseen = TRUE;
      for (guint i = 0; i < log->pending->len; i++)
        if (!holds (log->tables, g_ptr_array_index (log->pending, i)))
          g_ptr_array_add (log->tables, g_strdup (g_ptr_array_index (log->pending, i)));
    }
  msb_db_change_log_undo (log);
}

/* What was committed since the last call: FALSE if nothing. Else TRUE,
 * and @tables (transfer full) names the tables changed, or is empty when
 * some change could not be named. */
gboolean
msb_db_change_log_take (MsbDbChangeLog  *log,
                        GPtrArray      **tables)
{
  *tables = NULL;
  if (!log->committed)
    return FALSE;
  if (log->committed_unseen)
    g_ptr_array_set_size (log->tables, 0);
  *tables = g_steal_pointer (&log->tables);
  log->tables = g_ptr_array_new_with_free_func (g_free);
  log->committed = FALSE;
  log->committed_unseen = FALSE;
  return TRUE;
}
