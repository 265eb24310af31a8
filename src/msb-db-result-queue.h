/* msb-db-result-queue.h: finished calls, collected in batches through one file descriptor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-cursor.h"
#include "msb-db-pools.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

/**
 * MsbDbResultKind:
 * @MSB_DB_RESULT_KIND_ROWS: a result, flat, as [method@MsbDb.Rows.dup_values]
 *   gives it
 * @MSB_DB_RESULT_KIND_BOOLEAN: one `G_TYPE_BOOLEAN`, %TRUE: the transaction
 *   committed, the snapshot or the close finished
 * @MSB_DB_RESULT_KIND_OBJECT: one `G_TYPE_OBJECT`: the #MsbDbPools opened,
 *   or the #MsbDbCursor
 * @MSB_DB_RESULT_KIND_ERROR: the error: its domain as a string
 *   (g_quark_to_string()), its code (`G_TYPE_INT`) and its message
 *
 * What a finished call reported, in [method@MsbDb.ResultQueue.drain].
 */
typedef enum {
  MSB_DB_RESULT_KIND_ROWS,
  MSB_DB_RESULT_KIND_BOOLEAN,
  MSB_DB_RESULT_KIND_OBJECT,
  MSB_DB_RESULT_KIND_ERROR,
} MsbDbResultKind;

#define MSB_DB_TYPE_RESULT_QUEUE (msb_db_result_queue_get_type ())

MSB_DB_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MsbDbResultQueue, msb_db_result_queue, MSB_DB, RESULT_QUEUE, GObject)

MSB_DB_AVAILABLE_IN_ALL
MsbDbResultQueue *msb_db_result_queue_new             (GError            **error);
MSB_DB_AVAILABLE_IN_ALL
int               msb_db_result_queue_get_fd          (MsbDbResultQueue   *self);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray        *msb_db_result_queue_drain           (MsbDbResultQueue   *self);
MSB_DB_AVAILABLE_IN_ALL
guint             msb_db_result_queue_get_n_in_flight (MsbDbResultQueue   *self);
MSB_DB_AVAILABLE_IN_ALL
gboolean          msb_db_result_queue_cancel          (MsbDbResultQueue   *self,
                                                       guint64             tag);

MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_read            (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       const char         *sql,
                                                       const char * const *names,
                                                       const char         *types,
                                                       const char * const *values,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_write           (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       const char         *sql,
                                                       const char * const *names,
                                                       const char         *types,
                                                       const char * const *values,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_transaction     (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       guint64             body,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_snapshot        (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       guint64             body,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_open            (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       const char         *path,
                                                       guint               max_read_connections,
                                                       GTimeSpan           connect_timeout,
                                                       GTimeSpan           busy_timeout,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_init_pools      (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_close           (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_open_cursor     (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbPools         *pools,
                                                       const char         *sql,
                                                       const char * const *names,
                                                       const char         *types,
                                                       const char * const *values,
                                                       GCancellable       *cancellable);
MSB_DB_AVAILABLE_IN_ALL
void              msb_db_result_queue_fetch           (MsbDbResultQueue   *self,
                                                       guint64             tag,
                                                       MsbDbCursor        *cursor,
                                                       guint               max_rows,
                                                       GCancellable       *cancellable);

G_END_DECLS
