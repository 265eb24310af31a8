/* msb-db-body-private.h: running a numbered body from another module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "msb-db-body.h"

G_BEGIN_DECLS

GQuark   msb_db_body_func_quark (void);
gboolean msb_db_body_bind (MsbDbPools           *pools,
                           guint64               body,
                           MsbDbConnectionFunc  *func,
                           gpointer             *data,
                           GDestroyNotify       *notify,
                           GError              **error);

G_END_DECLS
