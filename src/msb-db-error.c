/* msb-db-error.c: the MsbDb error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-error.h"

/**
 * msb_db_error_quark:
 *
 * The quark of the %MSB_DB_ERROR domain.
 *
 * Returns: the error domain quark
 */
G_DEFINE_QUARK (msb-db-error-quark, msb_db_error)
