/* fuzz-common.h: what the MsbDb fuzz harnesses share
 *
 * Each harness defines LLVMFuzzerInitialize() and LLVMFuzzerTestOneInput().
 * Built with clang -fsanitize=fuzzer (meson -Dfuzzing=true) libFuzzer
 * drives them; in every other build the same source gets the small main()
 * below, which replays files and directories given on the command line
 * (the seed corpus): `meson test` runs that as a regression test.
 *
 * A harness reports a bug by calling fuzz_bug(), which aborts: libFuzzer
 * (and the replay main) treat that as a crash and keep the input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define fuzz_bug(...) \
  G_STMT_START { \
    g_printerr ("MSB-DB FUZZ BUG: " __VA_ARGS__); \
    g_printerr ("\n"); \
    abort (); \
  } G_STMT_END

/* The harness's database lives in its own temporary directory, removed at
 * exit: only our own files are in it (the database and its -wal/-shm). */
static char *fuzz_dir;

G_GNUC_UNUSED static void
fuzz_remove_dir (void)
{
  GDir *d = fuzz_dir != NULL ? g_dir_open (fuzz_dir, 0, NULL) : NULL;
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *file = g_build_filename (fuzz_dir, name, NULL);

      g_unlink (file);
      g_free (file);
    }
  g_dir_close (d);
  g_rmdir (fuzz_dir);
}

/* Path of "fuzz.db" in a new directory named after @tag. */
G_GNUC_UNUSED static char *
fuzz_database_path (const char *tag)
{
  char *templ = g_strdup_printf ("msb-db-fuzz-%s-XXXXXX", tag);
  GError *error = NULL;

  fuzz_dir = g_dir_make_tmp (templ, &error);
  g_free (templ);
  if (fuzz_dir == NULL)
    fuzz_bug ("cannot make a temporary directory: %s", error->message);
  atexit (fuzz_remove_dir);
  return g_build_filename (fuzz_dir, "fuzz.db", NULL);
}

#ifndef MSB_DB_LIBFUZZER

static guint fuzz_replayed;

static void
fuzz_replay_path (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      GDir *dir = g_dir_open (path, 0, NULL);
      const char *name;

      if (dir == NULL)
        return;
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_build_filename (path, name, NULL));
      g_dir_close (dir);
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      for (guint i = 0; i < names->len; i++)
        fuzz_replay_path (g_ptr_array_index (names, i));
    }
  else
    {
      g_autofree char *contents = NULL;
      gsize length = 0;

      if (!g_file_get_contents (path, &contents, &length, NULL))
        {
          g_printerr ("cannot read %s\n", path);
          exit (2);
        }
      LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
      fuzz_replayed++;
    }
}

int
main (int    argc,
      char **argv)
{
  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    fuzz_replay_path (argv[i]);
  /* TAP, so that meson counts it like the other tests. */
  printf ("1..1\nok 1 replayed %u inputs\n", fuzz_replayed);
  return fuzz_replayed > 0 ? 0 : 1;
}

#endif
