/* msb-db-target.h: what a `path` names
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MSB_DB_TARGET_SQLITE_FILE,
  MSB_DB_TARGET_DQLITE,
} MsbDbTargetKind;

/* A parsed database target: a local SQLite file, or a database in a dqlite
 * cluster (`dqlite://HOST:PORT[,HOST:PORT...]/NAME`). */
typedef struct {
  MsbDbTargetKind kind;
  char *path;         /* the file, for MSB_DB_TARGET_SQLITE_FILE; the
                       * target as written, for MSB_DB_TARGET_DQLITE */
  char **addresses;   /* MSB_DB_TARGET_DQLITE: "HOST:PORT" of the nodes where
                       * leader discovery starts */
  char *name;         /* MSB_DB_TARGET_DQLITE: the database in the cluster */
} MsbDbTarget;

MsbDbTarget *msb_db_target_parse (const char   *text,
                                  GError      **error);
MsbDbTarget *msb_db_target_copy  (const MsbDbTarget *target);
void         msb_db_target_free  (MsbDbTarget  *target);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbTarget, msb_db_target_free)

G_END_DECLS
