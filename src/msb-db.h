/* msb-db.h: one safe, fast way for GLib programs to share one SQLite database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define MSB_DB_INSIDE

#include "msb-db-version.h"
#include "msb-db-version-macros.h"
#include "msb-db-error.h"
#include "msb-db-enum-types.h"
#include "msb-db-stats.h"
#include "msb-db-rows.h"
#include "msb-db-connection.h"
#include "msb-db-pools.h"
#include "msb-db-cursor.h"
#include "msb-db-migrate.h"
#include "msb-db-backup.h"
#include "msb-db-maintenance.h"
#include "msb-db-notify.h"
#include "msb-db-body.h"
#include "msb-db-result-queue.h"
#include "msb-db-values.h"

#undef MSB_DB_INSIDE
