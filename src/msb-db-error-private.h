/* msb-db-error-private.h: helpers for building MsbDb error messages
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-error.h"

G_BEGIN_DECLS

char *msb_db_error_excerpt (const char *text);

G_END_DECLS
