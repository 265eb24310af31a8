/* msb-db-target.h: what a `path` names
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MSB_DB_TARGET_SQLITE_FILE,
} MsbDbTargetKind;

/* A parsed database target. Today only local SQLite files exist; a
 * `dqlite://` kind will join them, served by a second backend. */
typedef struct {
  MsbDbTargetKind kind;
  char *path;     /* the file, for MSB_DB_TARGET_SQLITE_FILE */
} MsbDbTarget;

MsbDbTarget *msb_db_target_parse (const char   *text,
                                  GError      **error);
MsbDbTarget *msb_db_target_copy  (const MsbDbTarget *target);
void         msb_db_target_free  (MsbDbTarget  *target);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbTarget, msb_db_target_free)

G_END_DECLS
