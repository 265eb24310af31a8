/* msb-db-sql-scan.h: what a statement's text says, without SQLite
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A remote database (dqlite) binds parameters by position only and cannot
 * be asked for their names, so named parameters are matched here, from the
 * SQL text, numbered exactly as SQLite numbers them: `?` takes the next
 * number, `?NNN` that number, and `:name`, `@name`, `$name` the next number
 * the first time they appear and the same number when repeated. Only the
 * first statement of the text is read. */
typedef struct _MsbDbSqlParams MsbDbSqlParams;

MsbDbSqlParams *msb_db_sql_params_scan      (const char           *sql);
void            msb_db_sql_params_free      (MsbDbSqlParams       *self);
guint64         msb_db_sql_params_get_count (const MsbDbSqlParams *self);
const char     *msb_db_sql_params_get_name  (const MsbDbSqlParams *self,
                                             guint                 index);
guint           msb_db_sql_params_find      (const MsbDbSqlParams *self,
                                             const char           *key);

gboolean        msb_db_sql_may_write        (const char           *sql);
gboolean        msb_db_sql_has_returning    (const char           *sql);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbSqlParams, msb_db_sql_params_free)

G_END_DECLS
