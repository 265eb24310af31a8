/* msb-db-completions.h: async calls' deadlines and reports, per context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MsbDbJob MsbDbJob;
typedef struct _MsbDbCompletions MsbDbCompletions;

MsbDbCompletions *msb_db_completions_new      (void);
void              msb_db_completions_watch    (MsbDbCompletions  *self,
                                               GMainContext      *context,
                                               MsbDbJob          *job);
void              msb_db_completions_unwatch  (MsbDbJob          *job);
void              msb_db_completions_push     (MsbDbCompletions  *self,
                                               GMainContext      *context,
                                               MsbDbJob          *job);
void              msb_db_completions_shutdown (MsbDbCompletions  *self);
void              msb_db_completions_unref    (MsbDbCompletions  *self);

G_END_DECLS
