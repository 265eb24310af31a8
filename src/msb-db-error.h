/* msb-db-error.h: the MsbDb error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

#include <glib.h>

#include "msb-db-version-macros.h"

G_BEGIN_DECLS

/**
 * MSB_DB_ERROR:
 *
 * The error domain of MsbDb. Errors in this domain are from the
 * [enum@MsbDb.Error] enumeration.
 */
#define MSB_DB_ERROR (msb_db_error_quark ())

/**
 * MsbDbError:
 * @MSB_DB_ERROR_FAILED: a failure that fits no other code, including a
 *   blocking call made from inside a transaction or snapshot callback of the
 *   same pools, and a callback that failed without setting an error
 * @MSB_DB_ERROR_SQL: the SQL text is wrong: syntax error, unknown table or
 *   column, a type mismatch reported by SQLite
 * @MSB_DB_ERROR_CONSTRAINT: a constraint (UNIQUE, NOT NULL, CHECK, FOREIGN
 *   KEY, ...) refused the change; nothing was written
 * @MSB_DB_ERROR_BUSY: the database stayed locked by another process through
 *   the busy timeout and every retry
 * @MSB_DB_ERROR_POOL_TIMEOUT: the call waited longer than the
 *   connect timeout for its turn (a free read connection, or the writer);
 *   nothing was executed
 * @MSB_DB_ERROR_READ_ONLY: a statement that writes was sent through a
 *   read-only path (`read()`, a snapshot, or read-only pools)
 * @MSB_DB_ERROR_CLOSED: the pools, or the connection handed to a callback,
 *   are closed
 * @MSB_DB_ERROR_INVALID_ARGUMENT: a parameter has a type that cannot be
 *   bound, the parameter count does not match the statement, or the SQL is
 *   refused by the library (transaction control, several statements)
 * @MSB_DB_ERROR_CANT_OPEN: the database target could not be opened, or is
 *   not a supported target
 * @MSB_DB_ERROR_CORRUPT: the file is not a database or is corrupt
 * @MSB_DB_ERROR_SCHEMA_TOO_NEW: the database's schema is newer than the
 *   migration steps the program knows (see [method@MsbDb.Pools.migrate]);
 *   nothing was changed
 *
 * Error codes in the %MSB_DB_ERROR domain.
 *
 * Messages carry SQLite's own message, the extended result code name (for
 * example `SQLITE_CONSTRAINT_UNIQUE`) and the SQL that failed.
 */
typedef enum {
  MSB_DB_ERROR_FAILED,
  MSB_DB_ERROR_SQL,
  MSB_DB_ERROR_CONSTRAINT,
  MSB_DB_ERROR_BUSY,
  MSB_DB_ERROR_POOL_TIMEOUT,
  MSB_DB_ERROR_READ_ONLY,
  MSB_DB_ERROR_CLOSED,
  MSB_DB_ERROR_INVALID_ARGUMENT,
  MSB_DB_ERROR_CANT_OPEN,
  MSB_DB_ERROR_CORRUPT,
  MSB_DB_ERROR_SCHEMA_TOO_NEW,
} MsbDbError;

MSB_DB_AVAILABLE_IN_ALL
GQuark msb_db_error_quark (void);

G_END_DECLS
