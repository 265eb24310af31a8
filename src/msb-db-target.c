/* msb-db-target.c: what a `path` names
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-dqlite-client.h"
#include "msb-db-error-private.h"
#include "msb-db-target.h"

#define SQLITE_SCHEME "sqlite://"
#define DQLITE_SCHEME "dqlite://"

/* "scheme://" per RFC 3986: a letter, then letters, digits, '+', '-', '.'. */
static gsize
scheme_length (const char *text)
{
  gsize i = 0;

  if (!g_ascii_isalpha (text[0]))
    return 0;
  while (g_ascii_isalnum (text[i]) || text[i] == '+' || text[i] == '-' || text[i] == '.')
    i++;
  if (g_str_has_prefix (text + i, "://"))
    return i;
  return 0;
}

/* `dqlite://HOST:PORT[,HOST:PORT...]/NAME`: checked at once, so that a
 * malformed target fails before any node is contacted. */
static MsbDbTarget *
parse_dqlite (MsbDbTarget  *target,
              const char   *text,
              GError      **error)
{
  g_autoptr(MsbDbTarget) owned = target;
  g_autoptr(MsbDbDqliteTarget) parsed = msb_db_dqlite_parse_target (text, error);

  if (parsed == NULL)
    return NULL;
  owned->kind = MSB_DB_TARGET_DQLITE;
  owned->path = g_strdup (text);
  owned->addresses = g_steal_pointer (&parsed->addresses);
  owned->name = g_steal_pointer (&parsed->name);
  return g_steal_pointer (&owned);
}

MsbDbTarget *
msb_db_target_parse (const char  *text,
                     GError     **error)
{
  g_autoptr(MsbDbTarget) target = g_new0 (MsbDbTarget, 1);
  g_autofree char *shown = NULL;
  gsize scheme_len;

  if (text == NULL || *text == '\0')
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                           "No database target given: pass a file path or sqlite:///absolute/path");
      return NULL;
    }

  shown = msb_db_error_excerpt (text);

  /* An in-memory database is private to one connection: a pool of them
   * would be as many unrelated databases. */
  if (g_str_equal (text, ":memory:") || g_str_has_prefix (text, "file::memory:"))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” is not a supported database target: an in-memory database "
                   "cannot be shared by the connections of a pool; use a file", shown);
      return NULL;
    }

  /* SQLite reads names that start with "file:" as URIs, whose parameters
   * (immutable, mode=memory, nolock, vfs, ...) would undo the settings every
   * connection gets, and whose path is not the one checked here. A file
   * whose name really starts so is reachable as ./file:... */
  if (g_ascii_strncasecmp (text, "file:", 5) == 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” is not a supported database target: file: URIs are not "
                   "accepted (their parameters would change how the database is "
                   "opened); pass the file path, or sqlite:///absolute/path "
                   "(a file whose name starts with “file:” is ./file:…)", shown);
      return NULL;
    }

  target->kind = MSB_DB_TARGET_SQLITE_FILE;
  scheme_len = scheme_length (text);
  if (scheme_len == 0)
    {
      target->path = g_strdup (text);
      return g_steal_pointer (&target);
    }

  if (g_ascii_strncasecmp (text, SQLITE_SCHEME, strlen (SQLITE_SCHEME)) == 0 &&
      text[strlen (SQLITE_SCHEME)] == '/')
    {
      target->path = g_strdup (text + strlen (SQLITE_SCHEME));
      return g_steal_pointer (&target);
    }

  if (g_ascii_strncasecmp (text, DQLITE_SCHEME, strlen (DQLITE_SCHEME)) == 0)
    return parse_dqlite (g_steal_pointer (&target), text, error);

  if (g_ascii_strncasecmp (text, SQLITE_SCHEME, strlen (SQLITE_SCHEME)) == 0)
    g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                 "“%s” is not a supported database target: sqlite:// takes an "
                 "absolute path, as in sqlite:///var/lib/app/data.db", shown);
  else
    g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                 "“%s” is not a supported database target: the “%.*s” scheme is "
                 "not supported (use a file path, sqlite:///absolute/path or "
                 "dqlite://HOST:PORT[,HOST:PORT…]/NAME)",
                 shown, (int) scheme_len, text);
  return NULL;
}

MsbDbTarget *
msb_db_target_copy (const MsbDbTarget *target)
{
  MsbDbTarget *copy = g_new0 (MsbDbTarget, 1);

  copy->kind = target->kind;
  copy->path = g_strdup (target->path);
  copy->addresses = g_strdupv (target->addresses);
  copy->name = g_strdup (target->name);
  return copy;
}

void
msb_db_target_free (MsbDbTarget *target)
{
  if (target == NULL)
    return;
  g_free (target->path);
  g_strfreev (target->addresses);
  g_free (target->name);
  g_free (target);
}
