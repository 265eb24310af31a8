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

/* What the first statement of a text does, by its leading keyword(s). */
typedef enum {
  MSB_DB_SQL_VERB_NONE,         /* no statement at all */
  MSB_DB_SQL_VERB_READ,         /* SELECT, VALUES, WITH ... SELECT */
  MSB_DB_SQL_VERB_INSERT,       /* INSERT, REPLACE, also after WITH */
  MSB_DB_SQL_VERB_UPDATE,
  MSB_DB_SQL_VERB_DELETE,
  MSB_DB_SQL_VERB_TRANSACTION,  /* BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE */
  MSB_DB_SQL_VERB_ATTACH,       /* ATTACH, DETACH */
  MSB_DB_SQL_VERB_PRAGMA,
  MSB_DB_SQL_VERB_VACUUM,
  MSB_DB_SQL_VERB_OTHER,        /* CREATE, DROP, ALTER, ANALYZE, EXPLAIN, ... */
} MsbDbSqlVerb;

MsbDbSqlVerb    msb_db_sql_get_verb         (const char           *sql);
const char     *msb_db_sql_statement_end    (const char           *sql);
gboolean        msb_db_sql_is_blank         (const char           *sql);
char           *msb_db_sql_get_pragma       (const char           *sql,
                                             gboolean             *sets_value);
const char     *msb_db_sql_find_returning   (const char           *sql);
char           *msb_db_sql_get_dml_table    (const char           *sql);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbSqlParams, msb_db_sql_params_free)

G_END_DECLS
