/* msb-db-completions.h: run functions in a main context, batched, and at deadlines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MsbDbCompletions MsbDbCompletions;

typedef void (*MsbDbCompletionFunc) (gpointer data);

/* Embedded by the caller in its own structure, so that queuing costs no
 * allocation. Set `func` and `data`; the rest belongs to MsbDbCompletions
 * while the delivery is queued or the deadline watched. */
typedef struct {
  MsbDbCompletionFunc func;
  gpointer data;
  GList link;
} MsbDbDelivery;

typedef struct {
  MsbDbCompletionFunc func;
  gpointer data;
  gint64 when;              /* monotonic time, µs */
  GList link;
  gpointer watcher;         /* atomic: set while watched */
} MsbDbDeadline;

MsbDbCompletions *msb_db_completions_new      (void);
void              msb_db_completions_unref    (MsbDbCompletions *self);
void              msb_db_completions_deliver  (MsbDbCompletions *self,
                                               GMainContext     *context,
                                               MsbDbDelivery    *delivery);
void              msb_db_completions_watch    (MsbDbCompletions *self,
                                               GMainContext     *context,
                                               MsbDbDeadline    *deadline);
gboolean          msb_db_completions_unwatch  (MsbDbDeadline    *deadline);
void              msb_db_completions_shutdown (MsbDbCompletions *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbCompletions, msb_db_completions_unref)

G_END_DECLS
