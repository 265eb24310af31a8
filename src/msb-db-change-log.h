/* msb-db-change-log.h: which tables a write connection's commits changed
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MsbDbChangeLog MsbDbChangeLog;

/* Where the open transaction's changes stood before a statement. */
typedef struct {
  guint n_tables;
  gboolean unseen;
} MsbDbChangeLogPosition;

MsbDbChangeLog *msb_db_change_log_new        (void);
void            msb_db_change_log_free       (MsbDbChangeLog *log);

void            msb_db_change_log_row        (MsbDbChangeLog *log,
                                              const char     *table);
guint           msb_db_change_log_rows_seen  (MsbDbChangeLog *log);
void            msb_db_change_log_unseen     (MsbDbChangeLog *log);

void            msb_db_change_log_tell       (MsbDbChangeLog         *log,
                                              MsbDbChangeLogPosition *position);
void            msb_db_change_log_rewind     (MsbDbChangeLog               *log,
                                              const MsbDbChangeLogPosition *position);
void            msb_db_change_log_mark       (MsbDbChangeLog *log);
void            msb_db_change_log_undo_to_mark (MsbDbChangeLog *log);
void            msb_db_change_log_undo       (MsbDbChangeLog *log);
void            msb_db_change_log_commit     (MsbDbChangeLog *log);

gboolean        msb_db_change_log_take       (MsbDbChangeLog *log,
                                              GPtrArray     **tables);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbChangeLog, msb_db_change_log_free)

G_END_DECLS
