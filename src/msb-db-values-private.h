/* msb-db-values-private.h: parameters given as strings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GVariant *msb_db_values_to_params (const char * const  *names,
                                   const char          *types,
                                   const char * const  *values,
                                   GError             **error);

G_END_DECLS
