/* msb-db-dqlite-client.h: one blocking connection to a dqlite node
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "msb-db-dqlite-wire.h"
#include "msb-db-rows.h"

G_BEGIN_DECLS

/* A client is used by one thread at a time; only
 * msb_db_dqlite_client_abort() may be called from another thread while a
 * call runs. Every call takes a GCancellable, and no call waits on the
 * network longer than the client's timeout for the next message. A client
 * whose byte stream got out of step (a dropped connection, a timeout, a
 * cancelled request, a malformed response) refuses further requests:
 * msb_db_dqlite_client_is_broken() tells, and the caller connects again. */
typedef struct _MsbDbDqliteClient MsbDbDqliteClient;

/* A statement prepared on one client's connection; it is freed before that
 * client, and after msb_db_dqlite_client_finalize() it refuses to run. */
typedef struct _MsbDbDqliteStmt MsbDbDqliteStmt;

typedef struct {
  guint64 last_insert_id;
  /* SQLite's changes(): the count of the last INSERT, UPDATE or DELETE on
   * the connection, even when this statement was none of them. */
  guint64 rows_affected;
} MsbDbDqliteResult;

/* A parsed `dqlite://HOST:PORT[,HOST:PORT...]/NAME`. */
typedef struct {
  char **addresses;   /* "HOST:PORT" as written, NULL-terminated */
  char  *name;        /* the database inside the cluster */
} MsbDbDqliteTarget;

#define MSB_DB_DQLITE_DEFAULT_TIMEOUT (10 * G_TIME_SPAN_SECOND)

/* msb_db_dqlite_client_get_failure_code() after a query that failed while
 * it ran: dqlite 1.11 did not say why. */
#define MSB_DB_DQLITE_FAILURE_UNREPORTED G_GUINT64_CONSTANT (0xffffffff00000001)

MsbDbDqliteTarget *msb_db_dqlite_parse_target     (const char         *text,
                                                   GError            **error);
char             **msb_db_dqlite_parse_addresses  (const char         *list,
                                                   GError            **error);
void               msb_db_dqlite_target_free      (MsbDbDqliteTarget  *target);

gboolean           msb_db_dqlite_error_is_leader_change (const GError *error);

MsbDbDqliteClient *msb_db_dqlite_client_connect        (const char          *address,
                                                        GTimeSpan            timeout,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
MsbDbDqliteClient *msb_db_dqlite_client_connect_leader (const char * const  *addresses,
                                                        GTimeSpan            timeout,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
void               msb_db_dqlite_client_free           (MsbDbDqliteClient   *self);

const char        *msb_db_dqlite_client_get_address    (MsbDbDqliteClient   *self);
void               msb_db_dqlite_client_set_timeout    (MsbDbDqliteClient   *self,
                                                        GTimeSpan            timeout);
gboolean           msb_db_dqlite_client_is_broken      (MsbDbDqliteClient   *self);
guint64            msb_db_dqlite_client_get_failure_code (MsbDbDqliteClient *self);
void               msb_db_dqlite_client_abort          (MsbDbDqliteClient   *self);

gboolean           msb_db_dqlite_client_leader         (MsbDbDqliteClient   *self,
                                                        guint64             *node_id,
                                                        char               **address,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_identify       (MsbDbDqliteClient   *self,
                                                        guint64              client_id,
                                                        guint64             *heartbeat_timeout,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_open           (MsbDbDqliteClient   *self,
                                                        const char          *name,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

MsbDbDqliteStmt   *msb_db_dqlite_client_prepare        (MsbDbDqliteClient   *self,
                                                        const char          *sql,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_exec           (MsbDbDqliteClient   *self,
                                                        MsbDbDqliteStmt     *stmt,
                                                        GVariant            *params,
                                                        MsbDbDqliteResult   *result,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
MsbDbRows         *msb_db_dqlite_client_query          (MsbDbDqliteClient   *self,
                                                        MsbDbDqliteStmt     *stmt,
                                                        GVariant            *params,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
MsbDbRows         *msb_db_dqlite_client_query_returning (MsbDbDqliteClient  *self,
                                                        const char          *sql,
                                                        GVariant            *params,
                                                        gboolean             inserts,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_finalize       (MsbDbDqliteClient   *self,
                                                        MsbDbDqliteStmt     *stmt,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_exec_sql       (MsbDbDqliteClient   *self,
                                                        const char          *sql,
                                                        GVariant            *params,
                                                        MsbDbDqliteResult   *result,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
MsbDbRows         *msb_db_dqlite_client_query_sql      (MsbDbDqliteClient   *self,
                                                        const char          *sql,
                                                        GVariant            *params,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_interrupt      (MsbDbDqliteClient   *self,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

GPtrArray         *msb_db_dqlite_client_cluster        (MsbDbDqliteClient   *self,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_add            (MsbDbDqliteClient   *self,
                                                        guint64              node_id,
                                                        const char          *address,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_assign         (MsbDbDqliteClient   *self,
                                                        guint64              node_id,
                                                        MsbDbDqliteRole      role,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_remove         (MsbDbDqliteClient   *self,
                                                        guint64              node_id,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
gboolean           msb_db_dqlite_client_transfer       (MsbDbDqliteClient   *self,
                                                        guint64              node_id,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

guint32            msb_db_dqlite_stmt_get_id           (MsbDbDqliteStmt     *stmt);
guint64            msb_db_dqlite_stmt_get_n_params     (MsbDbDqliteStmt     *stmt);
const char        *msb_db_dqlite_stmt_get_sql          (MsbDbDqliteStmt     *stmt);
void               msb_db_dqlite_stmt_free             (MsbDbDqliteStmt     *stmt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbDqliteClient, msb_db_dqlite_client_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbDqliteStmt, msb_db_dqlite_stmt_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbDqliteTarget, msb_db_dqlite_target_free)

G_END_DECLS
