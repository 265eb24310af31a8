/* msb-db-error.c: the MsbDb error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-error-private.h"

/**
 * msb_db_error_quark:
 *
 * The quark of the %MSB_DB_ERROR domain.
 *
 * Returns: the error domain quark
 */
G_DEFINE_QUARK (msb-db-error-quark, msb_db_error)

/* At most this many characters of user text (SQL, SQLite's message, a
 * parameter name) go into a message: a 10 MB statement must not make a
 * 10 MB error. */
#define MAX_EXCERPT_CHARS 500

/* @text as valid UTF-8 and at most MAX_EXCERPT_CHARS characters long, with
 * "…" where it was cut. For every piece of user text put in a message. */
char *
msb_db_error_excerpt (const char *text)
{
  /* A character takes at most 4 bytes: no need to look further. */
  const gsize max_bytes = 4 * MAX_EXCERPT_CHARS;
  gsize length;
  g_autofree char *valid = NULL;
  const char *end;
  glong n_chars = 0;

  if (text == NULL)
    return g_strdup ("");

  length = strnlen (text, max_bytes + 1);
  valid = g_utf8_make_valid (text, MIN (length, max_bytes));
  for (end = valid; *end != '\0' && n_chars < MAX_EXCERPT_CHARS; end = g_utf8_next_char (end))
    n_chars++;
  if (*end == '\0' && length <= max_bytes)
    return g_steal_pointer (&valid);
  return g_strdup_printf ("%.*s…", (int) (end - valid), valid);
}
