/* test-rel-files.c: hostile database files
 *
 * - Files crafted beforehand with raw SQLite (no defensive settings) so that
 *   the host runs attacker code when it touches them: views, triggers,
 *   DEFAULT and CHECK expressions calling load_extension() or
 *   fts3_tokenizer(), views over virtual tables that leak the host's SQL,
 *   entries injected with writable_schema. Defensive mode,
 *   trusted_schema=OFF and the authorizer must stop every one of them with
 *   a clear error, and the evil extension must never be loaded.
 * - Corrupt, truncated and foreign files, and files that are not regular
 *   files: a clear MSB_DB_ERROR at open or at use, never a crash or a hang,
 *   and the file is not "repaired" into something else.
 * - The file replaced, deleted or truncated under open pools.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rel-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

static guint n_files;    /* hostile files tried, for the figures */

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->dir = rel_make_tmpdir ("files");
  fx->path = g_build_filename (fx->dir, "crafted.db", NULL);
  n_files++;
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  rel_rm_rf (fx->dir);
  g_free (fx->dir);
  g_free (fx->path);
}

static const char *
evil_extension (void)
{
  const char *extension = g_getenv ("MSB_DB_REL_EVIL_EXTENSION");

  /* Without the built module the SQL still names a file: what matters is
   * that nothing tries to load it. */
  return extension ? extension : "/nonexistent/evil.so";
}

static void
assert_not_loaded (void)
{
  const char *marker = g_getenv ("MSB_DB_REL_EVIL_MARKER");

  g_assert_nonnull (marker);
  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    g_error ("the evil extension was loaded");
}

/* Crafts @path with raw SQLite: @sql runs with writable_schema allowed and
 * no defensive mode, as an attacker's own tools would. */
static void
craft (const char *path,
       const char *sql)
{
  sqlite3 *db = rel_raw_open (path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  sqlite3_db_config (db, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL);
  rel_raw_exec (db, sql);
  sqlite3_close (db);
}

static char *
file_digest (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, NULL))
    return g_strdup ("(unreadable)");
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

static MsbDbRows *
expect_error (MsbDbPools  *pools,
              gboolean     write,
              const char  *sql,
              int          code,
              ...)
{
  g_autoptr(GError) error = NULL;
  MsbDbRows *rows;
  gboolean matched = FALSE;
  va_list ap;

  rows = write ? msb_db_pools_write (pools, sql, NULL, NULL, &error)
               : msb_db_pools_read (pools, sql, NULL, NULL, &error);
  if (rows != NULL)
    g_error ("%s accepted: %s", write ? "write" : "read", sql);
  va_start (ap, code);
  for (int c = code; c != -1; c = va_arg (ap, int))
    if (error->domain == MSB_DB_ERROR && error->code == c)
      matched = TRUE;
  va_end (ap);
  if (!matched)
    g_error ("%s: unexpected error for %s: %s #%d: %s", write ? "write" : "read", sql,
             g_quark_to_string (error->domain), error->code, error->message);
  {
    g_autofree char *shown = rel_printable (error->message, 300);
    g_test_message ("%s -> %s", sql, shown);
  }
  return NULL;
}

/* Crafted schemas ----------------------------------------------------------- */

static void
test_crafted_views (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *sql = g_strdup_printf (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);"
    "INSERT INTO items VALUES (1, 'a');"
    "CREATE VIRTUAL TABLE ft USING fts4 (body);"
    "INSERT INTO ft VALUES ('secret words');"
    "CREATE VIRTUAL TABLE ftaux USING fts4aux (ft);"
    "CREATE VIEW v_load AS SELECT load_extension('%s') AS x;"
    "CREATE VIEW v_items_load AS SELECT id, load_extension('%s', 'sqlite3_extension_init') AS x FROM items;"
    "CREATE VIEW v_tokenizer AS SELECT fts3_tokenizer('simple', x'4141414141414141') AS x;"
    "CREATE VIEW v_tokenizer_leak AS SELECT hex(fts3_tokenizer('simple')) AS x;"
    "CREATE VIEW v_statements AS SELECT sql FROM sqlite_stmt;"
    "CREATE VIEW v_fts_vocabulary AS SELECT term FROM ftaux;"
    "CREATE VIEW v_pragma AS SELECT * FROM pragma_table_info('items');"
    "CREATE VIEW v_fine AS SELECT value FROM json_each('[1, 2, 3]');",
    evil_extension (), evil_extension ());
  static const char * const refused[] = {
    "SELECT * FROM v_load", "SELECT * FROM v_items_load", "SELECT x FROM v_items_load WHERE id = 1",
    "SELECT * FROM v_tokenizer", "SELECT * FROM v_tokenizer_leak", "SELECT * FROM v_statements",
    "SELECT * FROM v_fts_vocabulary", "SELECT * FROM v_pragma",
    "SELECT (SELECT count(*) FROM v_load)", "SELECT * FROM items WHERE id IN (SELECT x FROM v_load)",
  };
  g_autoptr(MsbDbPools) pools = NULL;

  craft (fx->path, sql);
  pools = rel_open (fx->path, 2, 0, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      expect_error (pools, FALSE, refused[i], MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
      expect_error (pools, TRUE, refused[i], MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
    }
  assert_not_loaded ();

  /* Innocuous views and the tables themselves still work. */
  g_assert_cmpint (rel_read_int (pools, "SELECT sum(value) FROM v_fine", NULL), ==, 6);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM ft WHERE ft MATCH 'secret'", NULL), ==, 1);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  assert_not_loaded ();
}

static void
test_crafted_triggers (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *sql = g_strdup_printf (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);"
    "CREATE TABLE audit (id INTEGER, what TEXT);"
    "CREATE TABLE a (x);"
    "CREATE TABLE b (x);"
    "CREATE TABLE c (x);"
    "CREATE VIRTUAL TABLE ft USING fts4 (body);"
    "CREATE TRIGGER load_on_insert AFTER INSERT ON a BEGIN SELECT load_extension('%s'); END;"
    "CREATE TRIGGER tokenizer_on_insert BEFORE INSERT ON b BEGIN "
    "  SELECT fts3_tokenizer('simple', x'4141414141414141'); END;"
    "CREATE TRIGGER fts_on_insert AFTER INSERT ON c BEGIN INSERT INTO ft (body) VALUES (new.x); END;"
    "CREATE TRIGGER load_on_delete BEFORE DELETE ON items BEGIN SELECT load_extension('%s'); END;"
    "CREATE TRIGGER audit_on_update AFTER UPDATE ON items BEGIN "
    "  INSERT INTO audit VALUES (new.id, 'updated'); END;"
    "INSERT INTO items VALUES (1, 'one');",
    evil_extension (), evil_extension ());
  g_autoptr(MsbDbPools) pools = NULL;

  craft (fx->path, sql);
  pools = rel_open (fx->path, 2, 0, 0);

  expect_error (pools, TRUE, "INSERT INTO a VALUES (1)", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  expect_error (pools, TRUE, "INSERT INTO b VALUES (1)", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  /* A trigger that writes to a virtual table counts as untrusted schema
   * too (trusted_schema=OFF): such files need their FTS maintained by the
   * application, not by triggers. */
  expect_error (pools, TRUE, "INSERT INTO c VALUES ('words')", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  expect_error (pools, TRUE, "DELETE FROM items", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_not_loaded ();

  /* Nothing of the refused statements stayed. */
  g_assert_cmpint (rel_read_int (pools, "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) "
                                        "+ (SELECT count(*) FROM c) + (SELECT count(*) FROM ft)", NULL), ==, 0);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items", NULL), ==, 1);

  /* Plain SQL triggers are the schema's business and do run. */
  rel_write_ok (pools, "UPDATE items SET v = 'uno' WHERE id = 1", NULL);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM audit", NULL), ==, 1);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  assert_not_loaded ();
}

static void
test_crafted_constraints (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *sql = g_strdup_printf (
    "CREATE TABLE d (a, b DEFAULT (load_extension('%s')));"
    "CREATE TABLE k (a CHECK (load_extension('%s') IS NULL));"
    "CREATE TABLE tk (a, b DEFAULT (fts3_tokenizer('simple', x'4141414141414141')));",
    evil_extension (), evil_extension ());
  g_autoptr(MsbDbPools) pools = NULL;

  craft (fx->path, sql);
  pools = rel_open (fx->path, 2, 0, 0);
  expect_error (pools, TRUE, "INSERT INTO d (a) VALUES (1)", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  expect_error (pools, TRUE, "INSERT INTO k (a) VALUES (1)", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  expect_error (pools, TRUE, "INSERT INTO tk (a) VALUES (1)", MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, -1);
  assert_not_loaded ();
  /* Giving the column explicitly does not evaluate the DEFAULT. */
  rel_write_ok (pools, "INSERT INTO d (a, b) VALUES (1, 2)", NULL);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

/* Entries that normal DDL would refuse, put in with writable_schema. */
static void
test_writable_schema_tricks (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *injected = g_strdup_printf (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);"
    "INSERT INTO items VALUES (1, 'one'), (2, 'two');"
    "PRAGMA writable_schema = ON;"
    /* An index on a non-deterministic expression (CREATE INDEX refuses). */
    "INSERT INTO sqlite_schema VALUES ('index', 'i_evil', 'items', 0,"
    "  'CREATE INDEX i_evil ON items (load_extension(''%s''))');"
    /* A generated column calling it (CREATE TABLE refuses). */
    "INSERT INTO sqlite_schema VALUES ('table', 'g', 'g', 0,"
    "  'CREATE TABLE g (a, b AS (load_extension(''%s'')))');"
    "PRAGMA writable_schema = OFF;",
    evil_extension (), evil_extension ());
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GError) error = NULL;

  craft (fx->path, injected);
  pools = msb_db_pools_open (fx->path, 2, 0, 0, NULL, &error);
  if (pools == NULL)
    {
      /* Refusing the whole file is a fine answer too. */
      rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_CANT_OPEN, MSB_DB_ERROR_SQL, -1);
      assert_not_loaded ();
      return;
    }
  expect_error (pools, TRUE, "INSERT INTO items VALUES (3, 'three')",
                MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_CORRUPT, -1);
  expect_error (pools, TRUE, "UPDATE items SET v = 'x'",
                MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_CORRUPT, -1);
  expect_error (pools, TRUE, "INSERT INTO g (a) VALUES (1)",
                MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_CORRUPT, -1);
  expect_error (pools, FALSE, "SELECT b FROM g",
                MSB_DB_ERROR_SQL, MSB_DB_ERROR_INVALID_ARGUMENT, MSB_DB_ERROR_CORRUPT, -1);
  assert_not_loaded ();
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  assert_not_loaded ();
}

static void
test_malformed_schema (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  craft (fx->path,
         "CREATE TABLE items (id INTEGER PRIMARY KEY);"
         "PRAGMA writable_schema = ON;"
         "INSERT INTO sqlite_schema VALUES ('table', 'bad', 'bad', 2, 'CREATE TABLE bad (');"
         "PRAGMA writable_schema = OFF;");
  before = file_digest (fx->path);

  pools = msb_db_pools_open (fx->path, 2, 0, 0, NULL, &error);
  g_assert_null (pools);
  rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
  g_clear_error (&error);
  pools = msb_db_pools_open_read_only (fx->path, 2, 0, 0, NULL, &error);
  g_assert_null (pools);
  rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);

  after = file_digest (fx->path);
  g_assert_cmpstr (before, ==, after);
}

/* A table whose root page is the schema's own page: writing through it
 * would overwrite the schema. */
static void
test_shared_root_page (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  craft (fx->path,
         "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);"
         "INSERT INTO items VALUES (1, 'one');"
         "PRAGMA writable_schema = ON;"
         "UPDATE sqlite_schema SET rootpage = 1 WHERE name = 'items';"
         "PRAGMA writable_schema = OFF;");

  pools = msb_db_pools_open (fx->path, 2, 0, 0, NULL, &error);
  if (pools == NULL)
    {
      rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
      return;
    }
  rows = msb_db_pools_write (pools, "INSERT INTO items VALUES (2, 'two')", NULL, NULL, &error);
  g_assert_null (rows);
  rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_SQL, -1);
  g_clear_error (&error);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));

  /* The schema page was not overwritten: the file reads as it was crafted. */
  {
    sqlite3 *db = rel_raw_open (fx->path, SQLITE_OPEN_READONLY);

    g_assert_cmpint (rel_raw_int (db, "SELECT count(*) FROM sqlite_schema"), ==, 1);
    sqlite3_close (db);
  }
}

/* Corrupt, truncated, foreign files -------------------------------------------- */

static void
make_real_database (const char *path,
                    guint       rows)
{
  g_autoptr(MsbDbPools) pools = rel_open (path, 1, 0, 0);

  rel_write_ok (pools, "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, pad BLOB)", NULL);
  rel_write_ok (pools, "CREATE INDEX items_v ON items (v)", NULL);
  rel_write_ok (pools, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) "
                       "INSERT INTO items SELECT x, 'value ' || x, randomblob(300) FROM c",
                g_variant_new ("(u)", rows));
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

static void
write_bytes (const char *path,
             const void *data,
             gsize       length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents_full (path, data, length, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
}

static void
assert_open_refused (const char *path,
                     int         code,
                     ...)
{
  g_autofree char *before = file_digest (path);
  g_autofree char *after = NULL;
  va_list ap;

  for (int read_only = 0; read_only < 2; read_only++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbPools) pools = read_only ? msb_db_pools_open_read_only (path, 2, 0, 0, NULL, &error)
                                              : msb_db_pools_open (path, 2, 0, 0, NULL, &error);
      gboolean matched = FALSE;

      if (pools != NULL)
        g_error ("%s opened %s", read_only ? "open_read_only" : "open", path);
      va_start (ap, code);
      for (int c = code; c != -1; c = va_arg (ap, int))
        if (error->domain == MSB_DB_ERROR && error->code == c)
          matched = TRUE;
      va_end (ap);
      if (!matched)
        g_error ("unexpected error opening %s: %s #%d: %s", path,
                 g_quark_to_string (error->domain), error->code, error->message);
      g_test_message ("%s -> %s", read_only ? "open_read_only" : "open", error->message);
    }
  /* A file that is not a database is left exactly as it was. */
  after = file_digest (path);
  g_assert_cmpstr (before, ==, after);
}

/* Files that are not databases: each must be refused at open with
 * MSB_DB_ERROR_CORRUPT (or CANT_OPEN), and left exactly as they were. */
static void
test_not_a_database (Fixture       *fx,
                     gconstpointer  data)
{
  const char *kind = data;

  if (g_str_equal (kind, "random"))
    {
      GRand *rand = g_rand_new_with_seed (42);
      guint8 garbage[65536];

      for (gsize i = 0; i < sizeof garbage; i++)
        garbage[i] = g_rand_int_range (rand, 0, 256);
      g_rand_free (rand);
      write_bytes (fx->path, garbage, sizeof garbage);
    }
  else if (g_str_equal (kind, "text"))
    write_bytes (fx->path, "hello, I am a text file\n", 24);
  else if (g_str_equal (kind, "short-header"))
    {
      /* The magic and a few header bytes, then nothing. */
      write_bytes (fx->path, "SQLite format 3\0\x10\0\1\1\0@  ", 24);
    }
  else if (g_str_equal (kind, "bad-page-size"))
    {
      g_autofree char *contents = NULL;
      gsize length;

      make_real_database (fx->path, 10);
      g_assert_true (g_file_get_contents (fx->path, &contents, &length, NULL));
      contents[16] = 0x03;
      contents[17] = 0x00;
      write_bytes (fx->path, contents, length);
    }
  else if (g_str_equal (kind, "future-format"))
    {
      g_autofree char *contents = NULL;
      gsize length;

      make_real_database (fx->path, 10);
      g_assert_true (g_file_get_contents (fx->path, &contents, &length, NULL));
      contents[18] = 9;   /* file format write version */
      contents[19] = 9;   /* file format read version */
      write_bytes (fx->path, contents, length);
    }
  else
    g_assert_not_reached ();

  assert_open_refused (fx->path, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_CANT_OPEN, -1);
}

static void
test_empty_file (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = NULL;

  /* SQLite treats an empty file as an empty database: it just works. */
  write_bytes (fx->path, "", 0);
  pools = rel_open (fx->path, 2, 0, 0);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_assert_true (rel_integrity_ok (fx->path, NULL));
}

static void
test_truncated (Fixture       *fx,
                gconstpointer  data)
{
  GStatBuf st;

  make_real_database (fx->path, 2000);
  g_assert_cmpint (g_stat (fx->path, &st), ==, 0);
  g_test_message ("database of %" G_GINT64_FORMAT " bytes", (gint64) st.st_size);

  for (int cut = 1; cut <= 3; cut++)
    {
      g_autofree char *copy = g_strdup_printf ("%s.%d", fx->path, cut);
      g_autofree char *contents = NULL;
      gsize length;
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbPools) pools = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      g_assert_true (g_file_get_contents (fx->path, &contents, &length, NULL));
      write_bytes (copy, contents, length * cut / 4);
      n_files++;

      pools = msb_db_pools_open (copy, 2, 0, 0, NULL, &error);
      if (pools == NULL)
        {
          rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
          continue;
        }
      /* Opening works (the header is there); using the missing pages is
       * an error that says so. */
      rows = msb_db_pools_read (pools, "SELECT sum(length(pad)), count(*) FROM items", NULL, NULL, &error);
      g_assert_null (rows);
      rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
      g_clear_error (&error);
      rows = msb_db_pools_write (pools, "INSERT INTO items (v) VALUES ('more')", NULL, NULL, &error);
      if (rows == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
      g_clear_error (&error);
      g_clear_object (&rows);

      /* integrity_check is a read like any other: it reports, it works. */
      rows = msb_db_pools_read (pools, "PRAGMA integrity_check", NULL, NULL, &error);
      if (rows != NULL)
        {
          g_assert_cmpuint (msb_db_rows_get_n_rows (rows), >=, 1);
          g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), !=, "ok");
        }
      else
        rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
      g_clear_error (&error);

      /* The pools still serve what is not broken, and close. */
      g_assert_cmpint (rel_read_int (pools, "SELECT 6 * 7", NULL), ==, 42);
      g_assert_true (msb_db_pools_close (pools, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
test_corrupt_page (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *contents = NULL;
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;
  guint n_pages;

  make_real_database (fx->path, 2000);
  g_assert_true (g_file_get_contents (fx->path, &contents, &length, NULL));
  n_pages = length / 4096;
  g_assert_cmpuint (n_pages, >, 10);
  /* Scribble over the middle pages (b-tree pages of the table). */
  for (gsize i = 4096 * (n_pages / 2); i < 4096 * (n_pages / 2 + 3); i++)
    contents[i] = (char) (i * 7);
  write_bytes (fx->path, contents, length);

  pools = rel_open (fx->path, 2, 0, 0);
  rows = msb_db_pools_read (pools, "SELECT sum(length(pad)) FROM items", NULL, NULL, &error);
  g_assert_null (rows);
  rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
  g_clear_error (&error);

  /* integrity_check reports the damage, or fails on it. */
  rows = msb_db_pools_read (pools, "PRAGMA integrity_check", NULL, NULL, &error);
  if (rows != NULL)
    g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 0), !=, "ok");
  else
    rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, -1);
  g_clear_error (&error);
  g_clear_object (&rows);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
}

static void
test_garbage_wal_and_shm (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (fx->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (fx->path, "-shm", NULL);
  guint8 junk[40000];
  g_autoptr(MsbDbPools) pools = NULL;

  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (i * 131 + 17);
  make_real_database (fx->path, 100);
  write_bytes (wal, junk, sizeof junk);
  write_bytes (shm, junk, 32768);
  n_files += 2;

  /* SQLite's WAL checksums reject the junk; the data is intact. */
  pools = rel_open (fx->path, 2, 0, 0);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items", NULL), ==, 100);
  rel_assert_pools_usable (pools);
  g_assert_true (msb_db_pools_close (pools, NULL, NULL));
  g_assert_true (rel_integrity_ok (fx->path, NULL));
}

static void
test_not_a_regular_file (Fixture       *fx,
                         gconstpointer  data)
{
  /* A directory. */
  g_assert_cmpint (g_mkdir (fx->path, 0700), ==, 0);
  assert_open_refused (fx->path, MSB_DB_ERROR_CANT_OPEN, -1);
  g_rmdir (fx->path);

  /* A missing directory on the way. */
  {
    g_autofree char *missing = g_build_filename (fx->dir, "no", "such", "dir.db", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbPools) pools = msb_db_pools_open (missing, 1, 0, 0, NULL, &error);

    g_assert_null (pools);
    rel_assert_db_error (error, MSB_DB_ERROR_CANT_OPEN, -1);
  }

  /* A character device (size 0, reads as zeros): SQLite sees an empty
   * database; a read-only pools object may open it, and finds nothing. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbPools) pools = msb_db_pools_open_read_only ("/dev/zero", 1, 0, 0, NULL, &error);

    if (pools == NULL)
      rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_CANT_OPEN, -1);
    else
      {
        g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM sqlite_schema", NULL), ==, 0);
        g_assert_true (msb_db_pools_close (pools, NULL, NULL));
      }
  }
}

/* A FIFO where the database should be: reading its header would block
 * forever. Opening must fail (or at least return) instead of hanging. */
static void
test_fifo (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = rel_subprocess_dir ("fifo");
      g_autofree char *path = g_build_filename (dir, "fifo.db", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbPools) pools = NULL;

      g_assert_cmpint (mkfifo (path, 0600), ==, 0);
      pools = msb_db_pools_open_read_only (path, 1, G_TIME_SPAN_SECOND, G_TIME_SPAN_SECOND, NULL, &error);
      g_assert_null (pools);
      rel_assert_db_error (error, MSB_DB_ERROR_CANT_OPEN, MSB_DB_ERROR_CORRUPT, -1);
      g_clear_error (&error);
      pools = msb_db_pools_open (path, 1, G_TIME_SPAN_SECOND, G_TIME_SPAN_SECOND, NULL, &error);
      g_assert_null (pools);
      rel_assert_db_error (error, MSB_DB_ERROR_CANT_OPEN, MSB_DB_ERROR_CORRUPT, -1);
      rel_rm_rf (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 10 * G_TIME_SPAN_SECOND, G_TEST_SUBPROCESS_INHERIT_STDERR);
  rel_subprocess_dir_remove ("fifo");
  if (g_test_trap_reached_timeout ())
    g_test_fail_printf ("opening a FIFO as the database hung (still blocked after 10 s)");
  else if (!g_test_trap_has_passed ())
    g_test_fail_printf ("opening a FIFO as the database failed the wrong way");
}

/* The file replaced, deleted, truncated under open pools ----------------------- */

static void
test_replaced_under_pools (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *replacement = g_build_filename (fx->dir, "replacement.db", NULL);
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) fresh = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;

  make_real_database (replacement, 3);
  pools = rel_open (fx->path, 2, 0, 0);
  rel_write_ok (pools, "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, pad BLOB)", NULL);
  rel_write_ok (pools, "INSERT INTO items (v) VALUES ('original')", NULL);

  /* Atomically replaced, as an installer or a backup restore would. */
  g_assert_cmpint (g_rename (replacement, fx->path), ==, 0);

  /* The open pools notice on their next write; SQLite refuses to write a
   * file that moved (SQLITE_READONLY_DBMOVED). */
  rows = msb_db_pools_write (pools, "INSERT INTO items (v) VALUES ('after replace')", NULL, NULL, &error);
  if (rows != NULL)
    {
      /* Acknowledged, yet it went to the file that is no longer at the
       * path: whoever opens the path never sees it. */
      g_test_fail_printf ("a write after the file was replaced was reported successful "
                          "(it went to the old, unlinked file)");
      g_clear_object (&rows);
    }
  else
    rel_assert_db_error (error, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_FAILED, MSB_DB_ERROR_CANT_OPEN, -1);
  g_clear_error (&error);

  /* Reads answer (from what they have open) without crashing. */
  rows = msb_db_pools_read (pools, "SELECT count(*) FROM items", NULL, NULL, &error);
  g_test_message ("read after replace: %s", rows ? "answered" : error->message);
  g_clear_object (&rows);
  g_clear_error (&error);

  g_assert_true (msb_db_pools_close (pools, NULL, &error));
  g_assert_no_error (error);

  /* The replacement is intact and usable by new pools. */
  g_assert_true (rel_integrity_ok (fx->path, NULL));
  fresh = rel_open (fx->path, 2, 0, 0);
  g_assert_cmpint (rel_read_int (fresh, "SELECT count(*) FROM items", NULL), ==, 3);
  rel_assert_pools_usable (fresh);
  g_assert_true (msb_db_pools_close (fresh, NULL, NULL));
}

static void
test_deleted_under_pools (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(MsbDbPools) fresh = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;

  pools = rel_open (fx->path, 2, 0, 0);
  rel_write_ok (pools, "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)", NULL);
  g_assert_cmpint (g_unlink (fx->path), ==, 0);

  rows = msb_db_pools_write (pools, "INSERT INTO items (v) VALUES ('into the void')", NULL, NULL, &error);
  if (rows != NULL)
    {
      g_test_fail_printf ("a write after the file was deleted was reported successful");
      g_clear_object (&rows);
    }
  else
    rel_assert_db_error (error, MSB_DB_ERROR_READ_ONLY, MSB_DB_ERROR_FAILED, MSB_DB_ERROR_CANT_OPEN, -1);
  g_clear_error (&error);
  g_assert_true (msb_db_pools_close (pools, NULL, &error));
  g_assert_no_error (error);

  /* A new pools object starts a new database. */
  fresh = rel_open (fx->path, 2, 0, 0);
  rel_assert_pools_usable (fresh);
  g_assert_true (msb_db_pools_close (fresh, NULL, NULL));
}

static void
test_truncated_under_pools (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(MsbDbPools) pools = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  make_real_database (fx->path, 2000);
  pools = rel_open (fx->path, 2, 0, 0);
  g_assert_cmpint (rel_read_int (pools, "SELECT count(*) FROM items", NULL), ==, 2000);

  /* Same inode, cut to a quarter behind SQLite's back. */
  fd = g_open (fx->path, O_RDWR, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 8192), ==, 0);
  close (fd);

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(MsbDbRows) a = msb_db_pools_read (pools, "SELECT sum(length(pad)) FROM items", NULL, NULL, &error);
      g_autoptr(MsbDbRows) b = NULL;

      if (a == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_FAILED, -1);
      g_clear_error (&error);
      b = msb_db_pools_write (pools, "INSERT INTO items (v) VALUES ('x')", NULL, NULL, &error);
      if (b == NULL)
        rel_assert_db_error (error, MSB_DB_ERROR_CORRUPT, MSB_DB_ERROR_FAILED, -1);
      g_clear_error (&error);
    }
  g_assert_cmpint (rel_read_int (pools, "SELECT 1", NULL), ==, 1);
  g_assert_true (msb_db_pools_close (pools, NULL, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  int status;
  int result;

  if (rel_dispatch_child (argc, argv, (const RelChildMode[]) { { NULL, NULL } }, &status))
    return status;

  rel_setup_evil_marker ();
  g_test_init (&argc, &argv, NULL);
#define ADD(name, func) g_test_add ("/reliability/files/" name, Fixture, NULL, setup, func, teardown)
  ADD ("crafted-views", test_crafted_views);
  ADD ("crafted-triggers", test_crafted_triggers);
  ADD ("crafted-constraints", test_crafted_constraints);
  ADD ("writable-schema-tricks", test_writable_schema_tricks);
  ADD ("malformed-schema", test_malformed_schema);
  ADD ("shared-root-page", test_shared_root_page);
  g_test_add ("/reliability/files/not-a-database/random", Fixture, "random", setup, test_not_a_database, teardown);
  g_test_add ("/reliability/files/not-a-database/text", Fixture, "text", setup, test_not_a_database, teardown);
  g_test_add ("/reliability/files/not-a-database/short-header", Fixture, "short-header", setup, test_not_a_database, teardown);
  g_test_add ("/reliability/files/not-a-database/bad-page-size", Fixture, "bad-page-size", setup, test_not_a_database, teardown);
  g_test_add ("/reliability/files/not-a-database/future-format", Fixture, "future-format", setup, test_not_a_database, teardown);
  ADD ("empty-file", test_empty_file);
  ADD ("truncated", test_truncated);
  ADD ("corrupt-page", test_corrupt_page);
  ADD ("garbage-wal-and-shm", test_garbage_wal_and_shm);
  ADD ("not-a-regular-file", test_not_a_regular_file);
  ADD ("replaced-under-pools", test_replaced_under_pools);
  ADD ("deleted-under-pools", test_deleted_under_pools);
  ADD ("truncated-under-pools", test_truncated_under_pools);
#undef ADD
  g_test_add_func ("/reliability/files/fifo", test_fifo);
  result = g_test_run ();
  if (!g_test_subprocess ())
    rel_figure ("files.hostile_files", "%u", n_files);
  return result;
}
