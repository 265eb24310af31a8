/* msb-db-pools.h: a read pool and one writer thread over one SQLite database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-connection.h"
#include "msb-db-rows.h"
#include "msb-db-stats.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

/**
 * MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS:
 *
 * The default `busy_timeout` of every connection, in seconds.
 */
#define MSB_DB_DEFAULT_BUSY_TIMEOUT_SECS 5

/**
 * MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS:
 *
 * The default time a call waits for its turn (a free read connection, or
 * the writer), in seconds.
 */
#define MSB_DB_DEFAULT_CONNECT_TIMEOUT_SECS 30

/**
 * MSB_DB_DEFAULT_MAX_READ_CONNECTIONS:
 *
 * The default size of the read pool.
 */
#define MSB_DB_DEFAULT_MAX_READ_CONNECTIONS 4

/**
 * MSB_DB_MAX_READ_CONNECTIONS:
 *
 * The largest size of the read pool; opening with more fails with
 * %MSB_DB_ERROR_INVALID_ARGUMENT.
 */
#define MSB_DB_MAX_READ_CONNECTIONS 1024

/**
 * MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC:
 *
 * The default #MsbDbPools:change-poll-interval, in milliseconds.
 */
#define MSB_DB_DEFAULT_CHANGE_POLL_INTERVAL_MSEC 100

#define MSB_DB_TYPE_POOLS (msb_db_pools_get_type ())

MSB_DB_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MsbDbPools, msb_db_pools, MSB_DB, POOLS, GObject)

MSB_DB_AVAILABLE_IN_ALL
MsbDbPools *msb_db_pools_open                (const char           *path,
                                              guint                 max_read_connections,
                                              GTimeSpan             connect_timeout,
                                              GTimeSpan             busy_timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_open_async          (const char           *path,
                                              guint                 max_read_connections,
                                              GTimeSpan             connect_timeout,
                                              GTimeSpan             busy_timeout,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
MsbDbPools *msb_db_pools_open_finish         (GAsyncResult         *result,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
MsbDbPools *msb_db_pools_open_read_only      (const char           *path,
                                              guint                 max_read_connections,
                                              GTimeSpan             connect_timeout,
                                              GTimeSpan             busy_timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
const char *msb_db_pools_get_path                 (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
guint       msb_db_pools_get_max_read_connections (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
GTimeSpan   msb_db_pools_get_connect_timeout      (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
GTimeSpan   msb_db_pools_get_busy_timeout         (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_get_read_only            (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_get_trusted_schema       (MsbDbPools *self);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_is_closed                (MsbDbPools *self);

MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_read                (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *params,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_read_async          (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *params,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_read_finish         (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_write               (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *params,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_write_async         (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *params,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_write_finish        (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_write_many          (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *param_rows,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_write_many_async    (MsbDbPools           *self,
                                              const char           *sql,
                                              GVariant             *param_rows,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
MsbDbRows  *msb_db_pools_write_many_finish   (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_write_script        (MsbDbPools           *self,
                                              const char           *sql,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_write_script_async  (MsbDbPools           *self,
                                              const char           *sql,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_write_script_finish (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_transaction         (MsbDbPools           *self,
                                              MsbDbConnectionFunc   func,
                                              gpointer              user_data,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_transaction_async   (MsbDbPools           *self,
                                              MsbDbConnectionFunc   func,
                                              gpointer              user_data,
                                              GDestroyNotify        notify,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              callback_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_transaction_finish  (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_snapshot            (MsbDbPools           *self,
                                              MsbDbConnectionFunc   func,
                                              gpointer              user_data,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_snapshot_async      (MsbDbPools           *self,
                                              MsbDbConnectionFunc   func,
                                              gpointer              user_data,
                                              GDestroyNotify        notify,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              callback_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_snapshot_finish     (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_close               (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GError              **error);
MSB_DB_AVAILABLE_IN_ALL
void        msb_db_pools_close_async         (MsbDbPools           *self,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
MSB_DB_AVAILABLE_IN_ALL
gboolean    msb_db_pools_close_finish        (MsbDbPools           *self,
                                              GAsyncResult         *result,
                                              GError              **error);

MSB_DB_AVAILABLE_IN_ALL
MsbDbStats *msb_db_pools_get_stats           (MsbDbPools           *self);

G_END_DECLS
