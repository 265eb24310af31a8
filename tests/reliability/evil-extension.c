/* evil-extension.c: a SQLite extension that must never be loaded
 *
 * Loading it (dlopen runs the constructor, sqlite3_load_extension() the
 * entry point) creates the file named by MSB_DB_REL_EVIL_MARKER. The
 * reliability tests point crafted schemas and hostile SQL at it and check
 * that the marker never appears.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sqlite3ext.h>

SQLITE_EXTENSION_INIT1

static void
leave_marker (const char *why)
{
  const char *path = getenv ("MSB_DB_REL_EVIL_MARKER");
  int fd;

  if (path == NULL)
    return;
  fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      ssize_t ignored = write (fd, why, 1);
      (void) ignored;
      close (fd);
    }
}

__attribute__((constructor)) static void
on_load (void)
{
  leave_marker ("c");
}

int sqlite3_extension_init (sqlite3 *db, char **error, const sqlite3_api_routines *api);

int
sqlite3_extension_init (sqlite3                    *db,
                        char                      **error,
                        const sqlite3_api_routines *api)
{
  SQLITE_EXTENSION_INIT2 (api);
  leave_marker ("e");
  return SQLITE_OK;
}
