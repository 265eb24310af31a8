/* msb-db-values.h: statements with parameters as strings and results as plain values
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <gio/gio.h>

#include "msb-db-connection.h"
#include "msb-db-pools.h"
#include "msb-db-version-macros.h"

G_BEGIN_DECLS

MSB_DB_AVAILABLE_IN_ALL
GPtrArray *msb_db_pools_read_values         (MsbDbPools         *self,
                                             const char         *sql,
                                             const char * const *names,
                                             const char         *types,
                                             const char * const *values,
                                             GCancellable       *cancellable,
                                             GError            **error);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray *msb_db_pools_write_values        (MsbDbPools         *self,
                                             const char         *sql,
                                             const char * const *names,
                                             const char         *types,
                                             const char * const *values,
                                             GCancellable       *cancellable,
                                             GError            **error);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray *msb_db_pools_write_many_values   (MsbDbPools         *self,
                                             const char         *sql,
                                             gsize               n_runs,
                                             const char         *types,
                                             const char * const *values,
                                             GCancellable       *cancellable,
                                             GError            **error);
MSB_DB_AVAILABLE_IN_ALL
GPtrArray *msb_db_connection_execute_values (MsbDbConnection    *self,
                                             const char         *sql,
                                             const char * const *names,
                                             const char         *types,
                                             const char * const *values,
                                             GError            **error);

G_END_DECLS
