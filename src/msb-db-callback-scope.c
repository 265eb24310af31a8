/* msb-db-callback-scope.c: which pools' callback this thread is running
 *
 * A transaction or snapshot callback runs on the writer thread or a read
 * worker, and the destroy notify of its data on the same thread. A
 * blocking call of the same pools made from there would wait for the very
 * thread (or connection) it runs on. The scope lets the pools refuse such
 * a call at once instead of deadlocking.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-callback-scope.h"

static GPrivate current_owner;

/* Marks this thread as running a callback of @owner; returns what to give
 * back to msb_db_callback_scope_leave() (scopes nest). */
gconstpointer
msb_db_callback_scope_enter (gconstpointer owner)
{
  gconstpointer previous = g_private_get (&current_owner);

  g_private_set (&current_owner, (gpointer) owner);
  return previous;
}

void
msb_db_callback_scope_leave (gconstpointer previous)
{
  g_private_set (&current_owner, (gpointer) previous);
}

gboolean
msb_db_callback_scope_is_inside (gconstpointer owner)
{
  return g_private_get (&current_owner) == owner;
}
