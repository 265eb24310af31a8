/* test-dqlite-wire.c: the dqlite wire protocol and the SQL parameter
 * scanner, without a server
 *
 * Encoders are checked byte for byte against layouts taken from a running
 * dqlite 1.11 node; decoders against crafted messages, including every
 * truncation of valid ones. The scanner is checked against SQLite itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sqlite3.h>
#include <msb-db.h>

#include "msb-db-dqlite-wire.h"
#include "msb-db-sql-scan.h"

/* Helpers ------------------------------------------------------------------ */

static GByteArray *
bytes_new (void)
{
  return g_byte_array_new ();
}

static void
put_u64 (GByteArray *b,
         guint64     v)
{
  guint64 le = GUINT64_TO_LE (v);
  g_byte_array_append (b, (const guint8 *) &le, 8);
}

static void
put_text (GByteArray *b,
          const char *s)
{
  static const guint8 zeros[8] = { 0 };
  gsize n = strlen (s) + 1;

  g_byte_array_append (b, (const guint8 *) s, n);
  if (n % 8)
    g_byte_array_append (b, zeros, 8 - n % 8);
}

static void
put_bytes (GByteArray   *b,
           const guint8 *data,
           gsize         n)
{
  g_byte_array_append (b, data, n);
}

static void
assert_bytes (GByteArray   *got,
              const guint8 *expected,
              gsize         n)
{
  g_assert_cmpmem (got->data, got->len, expected, n);
}

/* The body of a message in @out, after checking its header. */
static const guint8 *
message_body (GByteArray *out,
              guint8      type,
              gsize      *size)
{
  MsbDbDqliteHeader header;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (out->len % 8, ==, 0);
  g_assert_true (msb_db_dqlite_wire_decode_header (out->data, out->len, &header, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (header.type, ==, type);
  g_assert_cmpuint (header.schema, ==, 0);
  g_assert_cmpuint (header.body_size, ==, out->len - 8);
  *size = header.body_size;
  return out->data + 8;
}

/* Encoding ----------------------------------------------------------------- */

static void
test_encode_simple (void)
{
  g_autoptr(GByteArray) out = bytes_new ();
  static const guint8 handshake[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 leader[] = { 1, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 open[] = {
    3, 0, 0, 0, 3, 0, 0, 0,
    't', 'e', 's', 't', '.', 'd', 'b', 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
  };
  static const guint8 finalize[] = { 1, 0, 0, 0, 7, 0, 0, 0,  0, 0, 0, 0, 5, 0, 0, 0 };
  static const guint8 assign[] = {
    2, 0, 0, 0, 13, 0, 0, 0,  3, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0,
  };
  static const guint8 cluster[] = { 1, 0, 0, 0, 16, 0, 0, 0,  1, 0, 0, 0, 0, 0, 0, 0 };

  msb_db_dqlite_wire_encode_handshake (out);
  assert_bytes (out, handshake, sizeof handshake);

  g_byte_array_set_size (out, 0);
  msb_db_dqlite_wire_encode_leader (out);
  assert_bytes (out, leader, sizeof leader);

  g_byte_array_set_size (out, 0);
  msb_db_dqlite_wire_encode_open (out, "test.db");
  assert_bytes (out, open, sizeof open);

  g_byte_array_set_size (out, 0);
  msb_db_dqlite_wire_encode_finalize (out, 0, 5);
  assert_bytes (out, finalize, sizeof finalize);

  g_byte_array_set_size (out, 0);
  msb_db_dqlite_wire_encode_assign (out, 3, MSB_DB_DQLITE_ROLE_VOTER);
  assert_bytes (out, assign, sizeof assign);

  g_byte_array_set_size (out, 0);
  msb_db_dqlite_wire_encode_cluster (out);
  assert_bytes (out, cluster, sizeof cluster);
}

static void
test_encode_text_padding (void)
{
  /* Text of 7 bytes fills one word with its NUL; 8 bytes need two. */
  const char *sql[] = { "SELECT1", "SELECT 1", "" };
  gsize words[] = { 1, 2, 1 };

  for (gsize i = 0; i < G_N_ELEMENTS (sql); i++)
    {
      g_autoptr(GByteArray) out = bytes_new ();
      gsize size;
      const guint8 *body;

      msb_db_dqlite_wire_encode_prepare (out, 0, sql[i]);
      body = message_body (out, MSB_DB_DQLITE_REQUEST_PREPARE, &size);
      g_assert_cmpuint (size, ==, 8 + words[i] * 8);
      g_assert_cmpstr ((const char *) body + 8, ==, sql[i]);
      for (gsize j = 8 + strlen (sql[i]); j < size; j++)
        g_assert_cmpuint (body[j], ==, 0);
    }
}

/* The tuple a dqlite node accepted for "SELECT ?, ?, ?, ?, ?". */
static void
test_encode_params_layout (void)
{
  g_autoptr(GByteArray) out = bytes_new ();
  g_autoptr(GByteArray) expected = bytes_new ();
  g_autoptr(GError) error = NULL;
  static const guint8 header[] = { 6, 1, 2, 3, 4, 5, 1, 0 };
  static const guint8 blob[] = { 'a', 'b', 'c', 0, 0, 0, 0, 0 };
  double d = 1.5;
  guint64 bits;
  g_autoptr(GVariant) params =
    g_variant_ref_sink (g_variant_new ("(xds@aymsb)", G_GINT64_CONSTANT (-5), 1.5, "hé",
                                       g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "abc", 3, 1),
                                       NULL, TRUE));
  gsize size;
  const guint8 *body;

  g_assert_true (msb_db_dqlite_wire_encode_exec (out, 0, 7, "SELECT ?, ?, ?, ?, ?, ?", 6, params, &error));
  g_assert_no_error (error);
  body = message_body (out, MSB_DB_DQLITE_REQUEST_EXEC, &size);

  put_bytes (expected, (const guint8 *) "\0\0\0\0\7\0\0\0", 8);
  put_bytes (expected, header, sizeof header);
  put_u64 (expected, (guint64) G_GINT64_CONSTANT (-5));
  memcpy (&bits, &d, 8);
  put_u64 (expected, bits);
  put_text (expected, "hé");
  put_u64 (expected, 3);
  put_bytes (expected, blob, sizeof blob);
  put_u64 (expected, 0);
  put_u64 (expected, 1);
  g_assert_cmpmem (body, size, expected->data, expected->len);
}

static void
test_encode_no_params (void)
{
  g_autoptr(GByteArray) out = bytes_new ();
  g_autoptr(GError) error = NULL;
  gsize size;

  /* No parameters: the tuple is left out entirely. */
  g_assert_true (msb_db_dqlite_wire_encode_query (out, 0, 1, "SELECT 1", 0, NULL, &error));
  g_assert_no_error (error);
  message_body (out, MSB_DB_DQLITE_REQUEST_QUERY, &size);
  g_assert_cmpuint (size, ==, 8);

  g_byte_array_set_size (out, 0);
  g_assert_true (msb_db_dqlite_wire_encode_query_sql (out, 0, "SELECT 1", g_variant_new ("()"), &error));
  g_assert_no_error (error);
  message_body (out, MSB_DB_DQLITE_REQUEST_QUERY_SQL, &size);
  g_assert_cmpuint (size, ==, 8 + 16);
}

/* Every integer type, unwrapped variants, maybes, text types, blobs. */
static void
test_encode_param_types (void)
{
  struct {
    const char *text;
    guint8 type;
    guint64 word;   /* the first value word */
  } cases[] = {
    { "(true,)", 1, 1 },
    { "(byte 0xff,)", 1, 255 },
    { "(int16 -2,)", 1, (guint64) -2 },
    { "(uint16 65535,)", 1, 65535 },
    { "(int32 -7,)", 1, (guint64) -7 },
    { "(uint32 4294967295,)", 1, 4294967295u },
    { "(int64 -9223372036854775808,)", 1, G_GUINT64_CONSTANT (0x8000000000000000) },
    { "(uint64 9223372036854775807,)", 1, G_MAXINT64 },
    { "(<int32 5>,)", 1, 5 },
    { "(<<'x'>>,)", 3, 'x' },
    { "(just int32 9,)", 1, 9 },
    { "(@mi nothing,)", 5, 0 },
    { "(@ms nothing,)", 5, 0 },
    { "(objectpath '/a',)", 3, '/' | ('a' << 8) },
    { "(signature 'i',)", 3, 'i' },
    { "(@ay [],)", 4, 0 },
    { "(@ay [0x61, 0x62],)", 4, 2 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) params = g_variant_parse (NULL, cases[i].text, NULL, NULL, NULL);
      g_autoptr(GByteArray) out = bytes_new ();
      g_autoptr(GError) error = NULL;
      const guint8 *body;
      guint64 word;
      gsize size;

      g_test_message ("%s", cases[i].text);
      g_assert_nonnull (params);
      g_assert_true (msb_db_dqlite_wire_encode_exec_sql (out, 0, "SELECT ?", params, &error));
      g_assert_no_error (error);
      body = message_body (out, MSB_DB_DQLITE_REQUEST_EXEC_SQL, &size);
      /* db id, "SELECT ?" (two words), the tuple header, the value. */
      g_assert_cmpuint (size, >=, 8 + 16 + 8 + 8);
      g_assert_cmpuint (body[24], ==, 1);
      g_assert_cmpuint (body[25], ==, cases[i].type);
      memcpy (&word, body + 32, 8);
      g_assert_cmphex (GUINT64_FROM_LE (word), ==, cases[i].word);
    }
}

static void
assert_param_error (const char *sql,
                    gint64      n_params,
                    const char *params_text,
                    const char *needle)
{
  g_autoptr(GVariant) params = params_text
    ? g_variant_parse (NULL, params_text, NULL, NULL, NULL) : NULL;
  g_autoptr(GByteArray) out = bytes_new ();
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_test_message ("%s with %s", sql, params_text ? params_text : "NULL");
  if (params_text != NULL)
    g_assert_nonnull (params);
  g_byte_array_append (out, (const guint8 *) "previous", 8);
  if (n_params < 0)
    ok = msb_db_dqlite_wire_encode_exec_sql (out, 0, sql, params, &error);
  else
    ok = msb_db_dqlite_wire_encode_exec (out, 0, 1, sql, n_params, params, &error);
  g_assert_false (ok);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, needle) == NULL)
    g_error ("“%s” not in “%s”", needle, error->message);
  /* A refused request leaves what was in the buffer before. */
  g_assert_cmpuint (out->len, ==, 8);
}

static void
test_encode_param_errors (void)
{
  assert_param_error ("SELECT ?, ?", -1, "(1,)", "takes 2 parameters but 1 was given");
  assert_param_error ("SELECT ?", 1, "(1, 2)", "takes 1 parameter but 2 were given");
  assert_param_error ("SELECT ?", -1, NULL, "takes 1 parameter but none were given");
  assert_param_error ("SELECT 1", 0, "(1,)", "takes 0 parameters but 1 was given");
  assert_param_error ("SELECT ?", 1, "(uint64 9223372036854775808,)", "above the largest");
  assert_param_error ("SELECT ?", 1, "(handle 1,)", "type “h”");
  assert_param_error ("SELECT ?", 1, "((1, 2),)", "type “(ii)”");
  assert_param_error ("SELECT ?", 1, "([1],)", "type “ai”");
  assert_param_error ("SELECT ?", 1, "(<(1,)>,)", "type “(i)”");
  assert_param_error ("SELECT ?", 1, "1", "must be a tuple");
  assert_param_error ("SELECT ?", 1, "{'a': 1}", "must be a tuple");
  assert_param_error ("SELECT :a", 1, "{'b': <1>}", "no parameter named “b”");
  assert_param_error ("SELECT :a, :b", 2, "{'a': <1>}", "Parameter :b of the statement was given no value");
  assert_param_error ("SELECT :a, ?", 2, "{'a': <1>}", "Parameter 2 of the statement is positional");
  assert_param_error ("SELECT :a", 2, "{'a': <1>}", "Could not match named parameters");
  assert_param_error ("SELECT ?256", -1, "()", "at most 255");
  assert_param_error ("SELECT ?300", 300, "()", "at most 255");
}

static void
test_encode_many_params (void)
{
  g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE_TUPLE);
  g_autoptr(GVariant) params = NULL;
  g_autoptr(GByteArray) out = bytes_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) sql = g_string_new ("SELECT ?");
  const guint8 *body;
  gsize size;

  for (guint i = 0; i < 255; i++)
    g_variant_builder_add (builder, "i", (gint32) i);
  params = g_variant_ref_sink (g_variant_builder_end (builder));
  g_assert_true (msb_db_dqlite_wire_encode_exec (out, 0, 1, NULL, 255, params, &error));
  g_assert_no_error (error);
  body = message_body (out, MSB_DB_DQLITE_REQUEST_EXEC, &size);
  /* 1 count byte + 255 type bytes = 256 = 32 words, then 255 values. */
  g_assert_cmpuint (size, ==, 8 + 256 + 255 * 8);
  g_assert_cmpuint (body[8], ==, 255);

  for (guint i = 1; i < 256; i++)
    g_string_append (sql, ", ?");
  g_byte_array_set_size (out, 0);
  g_variant_unref (params);
  g_variant_builder_unref (builder);
  builder = g_variant_builder_new (G_VARIANT_TYPE_TUPLE);
  for (guint i = 0; i < 256; i++)
    g_variant_builder_add (builder, "i", (gint32) i);
  params = g_variant_ref_sink (g_variant_builder_end (builder));
  g_assert_false (msb_db_dqlite_wire_encode_exec_sql (out, 0, sql->str, params, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "256 parameters"));
  g_assert_cmpuint (out->len, ==, 0);
}

/* Named parameters become positions, in SQLite's numbering. */
static void
test_encode_named (void)
{
  g_autoptr(GVariant) params =
    g_variant_parse (NULL, "{'b': <'two'>, ':a': <int64 1>, 'c': <@ms nothing>}", NULL, NULL, NULL);
  g_autoptr(GByteArray) out = bytes_new ();
  g_autoptr(GError) error = NULL;
  const guint8 *body;
  guint64 word;
  gsize size;

  /* :a is 1, @b is 2 (and again 2), $c is 3. */
  g_assert_true (msb_db_dqlite_wire_encode_exec_sql (out, 0, "SELECT :a, @b, $c, @b", params, &error));
  g_assert_no_error (error);
  body = message_body (out, MSB_DB_DQLITE_REQUEST_EXEC_SQL, &size);
  /* db id, SQL (3 words), tuple header. */
  g_assert_cmpuint (body[32], ==, 3);
  g_assert_cmpuint (body[33], ==, MSB_DB_DQLITE_TYPE_INTEGER);
  g_assert_cmpuint (body[34], ==, MSB_DB_DQLITE_TYPE_TEXT);
  g_assert_cmpuint (body[35], ==, MSB_DB_DQLITE_TYPE_NULL);
  memcpy (&word, body + 40, 8);
  g_assert_cmpuint (GUINT64_FROM_LE (word), ==, 1);
  g_assert_cmpstr ((const char *) body + 48, ==, "two");
}

/* The scanner against SQLite ----------------------------------------------- */

static const char * const scanner_sql[] = {
  "SELECT 1",
  "SELECT ?",
  "SELECT ?, ?, ?",
  "SELECT ?3",
  "SELECT ?2, ?",
  "SELECT ?, ?1",
  "SELECT :a, :a, :b",
  "SELECT :a, @a, $a",
  "SELECT ?1, :a",
  "SELECT :a, ?1",
  "SELECT :a, ?1, ?",
  "SELECT ?01, ?1",
  "SELECT $a::b, $a::b(x-y), $a::b",
  "SELECT $abc(def), $x",
  "SELECT :é, :ü",
  "SELECT '?' AS \"?\", ? AS `?`, :z AS [?], ?",
  "SELECT 'it''s ?', :x",
  "SELECT 1 AS \"a\"\"?\", :y",
  "SELECT -- ?\n ?",
  "SELECT /* :a ? */ :b",
  "SELECT a$b FROM (SELECT 1 AS a$b) WHERE ?",
  "SELECT x'3f', ?",
  "SELECT 1.5e3, ?, :_x1",
  "SELECT #a, ?",
  "SELECT ?5, :a",
  "SELECT ?\t,\n?\r",
  "SELECT :a1b2, @_, $$",
  "SELECT ?; SELECT ?, ?",
  "SELECT ?1, ?1",
  " ; ;SELECT :a, ?",
};

static void
test_scanner_matches_sqlite (void)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (":memory:", &db), ==, SQLITE_OK);
  for (gsize i = 0; i < G_N_ELEMENTS (scanner_sql); i++)
    {
      g_autoptr(MsbDbSqlParams) scanned = msb_db_sql_params_scan (scanner_sql[i]);
      sqlite3_stmt *stmt = NULL;
      int count;

      g_test_message ("%s", scanner_sql[i]);
      if (sqlite3_prepare_v2 (db, scanner_sql[i], -1, &stmt, NULL) != SQLITE_OK)
        g_error ("SQLite could not prepare %s: %s", scanner_sql[i], sqlite3_errmsg (db));
      count = sqlite3_bind_parameter_count (stmt);
      g_assert_cmpuint (msb_db_sql_params_get_count (scanned), ==, (guint64) count);
      for (int p = 1; p <= count; p++)
        {
          const char *name = sqlite3_bind_parameter_name (stmt, p);

          g_assert_cmpstr (msb_db_sql_params_get_name (scanned, (guint) p), ==, name);
          if (name != NULL && name[0] != '?')
            {
              int expected = 0;

              /* The local binder takes keys with these prefixes as given
               * (a `#name` parameter cannot be bound by name). */
              if (strchr (":@$", name[0]) != NULL)
                g_assert_cmpuint (msb_db_sql_params_find (scanned, name), ==,
                                  (guint) sqlite3_bind_parameter_index (stmt, name));
              /* Without its prefix, as the local binder finds it: the
               * first of :name, @name, $name that exists. */
              if (strchr (":@$", name[1]) != NULL)
                expected = sqlite3_bind_parameter_index (stmt, name + 1);
              for (const char *prefix = ":@$"; strchr (":@$", name[1]) == NULL &&
                   *prefix != '\0' && expected == 0; prefix++)
                {
                  g_autofree char *full = g_strdup_printf ("%c%s", *prefix, name + 1);

                  expected = sqlite3_bind_parameter_index (stmt, full);
                }
              g_assert_cmpuint (msb_db_sql_params_find (scanned, name + 1), ==, (guint) expected);
            }
        }
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);
}

/* Whether a statement may write: never FALSE for one that writes. Checked
 * against sqlite3_stmt_readonly() where SQLite can prepare it. */
static void
test_scanner_may_write (void)
{
  static const struct { const char *sql; gboolean may_write; gboolean returning; } cases[] = {
    { "SELECT * FROM t", FALSE, FALSE },
    { "  -- hello\n /* x */ select 1", FALSE, FALSE },
    { "VALUES (1), (2)", FALSE, FALSE },
    { "EXPLAIN INSERT INTO t VALUES (1)", TRUE, FALSE },
    { "EXPLAIN SELECT 1", FALSE, FALSE },
    { "EXPLAIN QUERY PLAN SELECT * FROM t", FALSE, FALSE },
    { "EXPLAIN QUERY PLAN DELETE FROM t", TRUE, FALSE },
    { "WITH c(x) AS (SELECT 1) SELECT * FROM c", FALSE, FALSE },
    { "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT x FROM c", FALSE, FALSE },
    { "WITH c AS MATERIALIZED (SELECT 1 AS x), d AS (SELECT 2 AS y) SELECT * FROM c, d", FALSE, FALSE },
    { "WITH c(x) AS (SELECT 1) INSERT INTO t (a) SELECT x FROM c", TRUE, FALSE },
    { "WITH c(x) AS (SELECT 1) DELETE FROM t WHERE a IN c", TRUE, FALSE },
    { "INSERT INTO t VALUES (1, 2)", TRUE, FALSE },
    { "insert into t values (1, 2) returning a", TRUE, TRUE },
    { "UPDATE t SET a = 1 RETURNING *", TRUE, TRUE },
    { "DELETE FROM t", TRUE, FALSE },
    { "REPLACE INTO t VALUES (1, 2)", TRUE, FALSE },
    { "CREATE TABLE z (a)", TRUE, FALSE },
    { "DROP TABLE t", TRUE, FALSE },
    { "ANALYZE", TRUE, FALSE },
    { "PRAGMA user_version", FALSE, FALSE },
    { "PRAGMA main.user_version", FALSE, FALSE },
    { "PRAGMA user_version = 5", TRUE, FALSE },
    { "PRAGMA user_version(5)", TRUE, FALSE },
    { "PRAGMA table_info(t)", FALSE, FALSE },
    { "PRAGMA main.table_info('t')", FALSE, FALSE },
    { "PRAGMA integrity_check", FALSE, FALSE },
    { "PRAGMA optimize", TRUE, FALSE },
    { "PRAGMA wal_checkpoint(TRUNCATE)", TRUE, FALSE },
    { "SELECT 'RETURNING', \"returning\" FROM (SELECT 1 AS \"returning\") -- RETURNING", FALSE, FALSE },
    { "SELECT 1; INSERT INTO t VALUES (1, 2) RETURNING b", FALSE, TRUE },
    { "", FALSE, FALSE },
    { "(SELECT 1)", TRUE, FALSE },
    { ";; SELECT 1", FALSE, FALSE },
    { "; DELETE FROM t", TRUE, FALSE },
  };
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (":memory:", &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE t (a, b)", NULL, NULL, NULL), ==, SQLITE_OK);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      sqlite3_stmt *stmt = NULL;

      g_test_message ("%s", cases[i].sql);
      g_assert_cmpint (msb_db_sql_may_write (cases[i].sql), ==, cases[i].may_write);
      g_assert_cmpint (msb_db_sql_has_returning (cases[i].sql), ==, cases[i].returning);
      if (sqlite3_prepare_v2 (db, cases[i].sql, -1, &stmt, NULL) == SQLITE_OK && stmt != NULL &&
          !cases[i].may_write)
        g_assert_true (sqlite3_stmt_readonly (stmt));
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);
}

/* The table a write names, for change notifications. */
static void
test_scanner_dml_table (void)
{
  static const struct { const char *sql; const char *table; } cases[] = {
    { "INSERT INTO notes (body) VALUES (1)", "notes" },
    { "  insert or replace into \"Odd \"\"name\"\"\" VALUES (1)", "Odd \"name\"" },
    { "REPLACE INTO main.kv VALUES (1, 2)", "kv" },
    { "UPDATE OR IGNORE [t 1] SET a = 1", "t 1" },
    { "UPDATE `t` SET a = 1", "t" },
    { "DELETE FROM \"main\".tags WHERE id = 1", "tags" },
    { "; DELETE FROM tags", "tags" },
    { "DELETE FROM temp.tags", NULL },
    { "INSERT INTO aux.t VALUES (1)", NULL },
    { "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", NULL },
    { "SELECT * FROM t", NULL },
    { "CREATE TABLE t (a)", NULL },
    { "INSERT t VALUES (1)", NULL },
    { "DELETE", NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *table = msb_db_sql_get_dml_table (cases[i].sql);

      g_assert_cmpstr (table, ==, cases[i].table);
    }
}

/* Where the first statement ends, checked against SQLite's own tail, and
 * what it does. */
static void
test_scanner_statements (void)
{
  static const struct { const char *sql; MsbDbSqlVerb verb; gsize end; } cases[] = {
    { "SELECT 1", MSB_DB_SQL_VERB_READ, 8 },
    { "SELECT 1; SELECT 2", MSB_DB_SQL_VERB_READ, 9 },
    { "  ;; select ';' ; x", MSB_DB_SQL_VERB_READ, 17 },
    { "INSERT INTO t VALUES (';')", MSB_DB_SQL_VERB_INSERT, 26 },
    { "replace into t values (1, 2);", MSB_DB_SQL_VERB_INSERT, 29 },
    { "WITH c(x) AS (SELECT 1) UPDATE t SET a = 1;", MSB_DB_SQL_VERB_UPDATE, 43 },
    { "WITH c(x) AS (SELECT 1) DELETE FROM t", MSB_DB_SQL_VERB_DELETE, 37 },
    { "WITH c(x) AS (SELECT 1) INSERT INTO t (a) SELECT x FROM c", MSB_DB_SQL_VERB_INSERT, 57 },
    { "BEGIN IMMEDIATE", MSB_DB_SQL_VERB_TRANSACTION, 15 },
    { "end", MSB_DB_SQL_VERB_TRANSACTION, 3 },
    { "savepoint a", MSB_DB_SQL_VERB_TRANSACTION, 11 },
    { "ATTACH 'x' AS y", MSB_DB_SQL_VERB_ATTACH, 15 },
    { "PRAGMA user_version = 3", MSB_DB_SQL_VERB_PRAGMA, 23 },
    { "VACUUM", MSB_DB_SQL_VERB_VACUUM, 6 },
    { "CREATE TABLE z (a) -- ; no", MSB_DB_SQL_VERB_OTHER, 26 },
    { "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO t VALUES (1, 2); "
      "UPDATE t SET a = CASE WHEN b THEN 1 ELSE 2 END; END; SELECT 1",
      MSB_DB_SQL_VERB_OTHER, 123 },
    { "create temp trigger tr after delete on t begin delete from t; end", MSB_DB_SQL_VERB_OTHER, 65 },
    /* A vertical tab after a space is a space to SQLite (found by fuzzing). */
    { "CREATE \v\vTRIGGER tr BEFORE DELETE ON t BEGIN SELECT 1; END", MSB_DB_SQL_VERB_OTHER, 58 },
    { "", MSB_DB_SQL_VERB_NONE, 0 },
    { " -- nothing\n ; ", MSB_DB_SQL_VERB_NONE, 15 },
  };
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (":memory:", &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE t (a, b)", NULL, NULL, NULL), ==, SQLITE_OK);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *sql = cases[i].sql;
      const char *end = msb_db_sql_statement_end (sql);
      sqlite3_stmt *stmt = NULL;
      const char *tail = NULL;

      g_test_message ("%s", sql);
      g_assert_cmpint (msb_db_sql_get_verb (sql), ==, cases[i].verb);
      g_assert_cmpuint ((gsize) (end - sql), ==, cases[i].end);
      g_assert_cmpint (msb_db_sql_is_blank (sql), ==, cases[i].verb == MSB_DB_SQL_VERB_NONE);
      if (sqlite3_prepare_v2 (db, sql, -1, &stmt, &tail) == SQLITE_OK && stmt != NULL)
        g_assert_true (tail == end);
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);

  {
    gboolean sets = FALSE;
    g_autofree char *a = msb_db_sql_get_pragma ("pragma Main.Journal_Mode = DELETE", &sets);
    g_autofree char *b = msb_db_sql_get_pragma ("PRAGMA table_info(t)", &sets);
    g_autofree char *c = msb_db_sql_get_pragma ("PRAGMA cache_size(10)", &sets);
    g_autofree char *d = msb_db_sql_get_pragma ("SELECT 1", &sets);

    g_assert_cmpstr (a, ==, "journal_mode");
    g_assert_cmpstr (b, ==, "table_info");
    g_assert_true (sets);
    g_assert_cmpstr (c, ==, "cache_size");
    g_assert_null (d);
    g_free (b);
    b = msb_db_sql_get_pragma ("PRAGMA table_info(t)", &sets);
    g_assert_false (sets);
  }
}

/* Decoding ----------------------------------------------------------------- */

static void
test_decode_header (void)
{
  g_autoptr(GError) error = NULL;
  MsbDbDqliteHeader header;
  guint8 data[8] = { 2, 0, 0, 0, 7, 0, 0, 0 };
  guint32 words;

  g_assert_true (msb_db_dqlite_wire_decode_header (data, 8, &header, &error));
  g_assert_cmpuint (header.type, ==, 7);
  g_assert_cmpuint (header.body_size, ==, 16);

  g_assert_false (msb_db_dqlite_wire_decode_header (data, 7, &header, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_clear_error (&error);

  /* Above the cap, and the largest the header can say. */
  words = GUINT32_TO_LE (MSB_DB_DQLITE_MAX_MESSAGE / 8 + 1);
  memcpy (data, &words, 4);
  g_assert_false (msb_db_dqlite_wire_decode_header (data, 8, &header, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_clear_error (&error);
  memset (data, 0xff, 4);
  g_assert_false (msb_db_dqlite_wire_decode_header (data, 8, &header, &error));
  g_clear_error (&error);

  words = GUINT32_TO_LE (MSB_DB_DQLITE_MAX_MESSAGE / 8);
  memcpy (data, &words, 4);
  g_assert_true (msb_db_dqlite_wire_decode_header (data, 8, &header, &error));
  g_assert_no_error (error);
}

typedef gboolean (*DecodeFunc) (GByteArray *body, GError **error);

/* A valid body decodes; every shorter prefix of it fails cleanly. */
static void
assert_truncations_fail (GByteArray *body,
                         DecodeFunc  decode)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (decode (body, &error));
  g_assert_no_error (error);
  for (gsize n = 0; n < body->len; n++)
    {
      /* A fresh allocation of exactly n bytes, so that ASan sees any read
       * past the end. */
      g_autoptr(GByteArray) prefix = g_byte_array_sized_new ((guint) n);

      g_byte_array_append (prefix, body->data, (guint) n);
      if (decode (prefix, &error))
        g_error ("a prefix of %" G_GSIZE_FORMAT " of %u bytes decoded", n, body->len);
      g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
      g_clear_error (&error);
    }
}

static gboolean
decode_failure (GByteArray  *body,
                GError     **error)
{
  g_autofree char *message = NULL;
  guint64 code;

  if (!msb_db_dqlite_wire_decode_failure (body->data, body->len, &code, &message, error))
    return FALSE;
  g_assert_cmpuint (code, ==, 10250);
  g_assert_cmpstr (message, ==, "not leader");
  return TRUE;
}

static gboolean
decode_server (GByteArray  *body,
               GError     **error)
{
  g_autofree char *address = NULL;
  guint64 id;

  if (!msb_db_dqlite_wire_decode_server (body->data, body->len, &id, &address, error))
    return FALSE;
  g_assert_cmpuint (id, ==, 1);
  g_assert_cmpstr (address, ==, "127.0.0.1:9101");
  return TRUE;
}

static gboolean
decode_servers (GByteArray  *body,
                GError     **error)
{
  g_autoptr(GPtrArray) nodes = msb_db_dqlite_wire_decode_servers (body->data, body->len, error);
  const MsbDbDqliteNode *node;

  if (nodes == NULL)
    return FALSE;
  g_assert_cmpuint (nodes->len, ==, 2);
  node = g_ptr_array_index (nodes, 1);
  g_assert_cmpuint (node->id, ==, 2);
  g_assert_cmpstr (node->address, ==, "127.0.0.1:9102");
  g_assert_cmpint (node->role, ==, MSB_DB_DQLITE_ROLE_SPARE);
  return TRUE;
}

static gboolean
decode_stmt (GByteArray  *body,
             GError     **error)
{
  guint32 db, stmt;
  guint64 n;

  if (!msb_db_dqlite_wire_decode_stmt (body->data, body->len, &db, &stmt, &n, error))
    return FALSE;
  g_assert_cmpuint (db, ==, 0);
  g_assert_cmpuint (stmt, ==, 3);
  g_assert_cmpuint (n, ==, 2);
  return TRUE;
}

static gboolean
decode_result (GByteArray  *body,
               GError     **error)
{
  guint64 id, changes;

  if (!msb_db_dqlite_wire_decode_result (body->data, body->len, &id, &changes, error))
    return FALSE;
  g_assert_cmpuint (id, ==, 7);
  g_assert_cmpuint (changes, ==, 1);
  return TRUE;
}

static void
test_decode_responses (void)
{
  g_autoptr(GByteArray) failure = bytes_new ();
  g_autoptr(GByteArray) server = bytes_new ();
  g_autoptr(GByteArray) servers = bytes_new ();
  g_autoptr(GByteArray) stmt = bytes_new ();
  g_autoptr(GByteArray) result = bytes_new ();

  put_u64 (failure, 10250);
  put_text (failure, "not leader");
  assert_truncations_fail (failure, decode_failure);

  put_u64 (server, 1);
  put_text (server, "127.0.0.1:9101");
  assert_truncations_fail (server, decode_server);

  put_u64 (servers, 2);
  put_u64 (servers, 1);
  put_text (servers, "127.0.0.1:9101");
  put_u64 (servers, 0);
  put_u64 (servers, 2);
  put_text (servers, "127.0.0.1:9102");
  put_u64 (servers, 2);
  assert_truncations_fail (servers, decode_servers);

  put_bytes (stmt, (const guint8 *) "\0\0\0\0\3\0\0\0", 8);
  put_u64 (stmt, 2);
  assert_truncations_fail (stmt, decode_stmt);

  put_u64 (result, 7);
  put_u64 (result, 1);
  assert_truncations_fail (result, decode_result);
}

static void
test_decode_servers_lies (void)
{
  g_autoptr(GByteArray) body = bytes_new ();
  g_autoptr(GError) error = NULL;
  GPtrArray *nodes;

  /* A count far beyond the bytes: refused before anything is allocated. */
  put_u64 (body, G_MAXUINT64);
  put_u64 (body, 1);
  put_text (body, "x");
  put_u64 (body, 0);
  nodes = msb_db_dqlite_wire_decode_servers (body->data, body->len, &error);
  g_assert_null (nodes);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_clear_error (&error);

  /* An unknown role. */
  g_byte_array_set_size (body, 0);
  put_u64 (body, 1);
  put_u64 (body, 1);
  put_text (body, "x");
  put_u64 (body, 3);
  nodes = msb_db_dqlite_wire_decode_servers (body->data, body->len, &error);
  g_assert_null (nodes);
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
}

/* A ROWS body: two columns, then @n_rows rows of (INTEGER i, TEXT "r<i>"),
 * and a marker. */
static GByteArray *
rows_batch (guint    first,
            guint    n_rows,
            guint64  marker)
{
  GByteArray *body = bytes_new ();

  put_u64 (body, 2);
  put_text (body, "n");
  put_text (body, "s");
  for (guint i = first; i < first + n_rows; i++)
    {
      static const guint8 types[8] = { 0x31, 0, 0, 0, 0, 0, 0, 0 };
      g_autofree char *text = g_strdup_printf ("r%u", i);

      put_bytes (body, types, sizeof types);
      put_u64 (body, i);
      put_text (body, text);
    }
  put_u64 (body, marker);
  return body;
}

static gboolean
decode_rows_once (GByteArray  *body,
                  GError     **error)
{
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = msb_db_dqlite_rows_decoder_new (NULL);
  g_autoptr(MsbDbRows) rows = NULL;
  gboolean done;

  if (!msb_db_dqlite_rows_decoder_feed (decoder, body->data, body->len, &done, error))
    return FALSE;
  g_assert_true (done);
  rows = msb_db_dqlite_rows_decoder_finish (decoder, 0, 0);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 3);
  return TRUE;
}

static void
test_decode_rows_paged (void)
{
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = msb_db_dqlite_rows_decoder_new (NULL);
  g_autoptr(MsbDbDqliteRowsDecoder) second = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) again = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done;

  for (guint batch = 0; batch < 4; batch++)
    {
      g_autoptr(GByteArray) body = rows_batch (batch * 10, 10, batch == 3 ? G_MAXUINT64
                                               : G_GUINT64_CONSTANT (0xeeeeeeeeeeeeeeee));

      g_assert_true (msb_db_dqlite_rows_decoder_feed (decoder, body->data, body->len, &done, &error));
      g_assert_no_error (error);
      g_assert_cmpint (done, ==, batch == 3);
    }
  rows = msb_db_dqlite_rows_decoder_finish (decoder, 0, 0);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 40);
  g_assert_cmpuint (msb_db_rows_get_n_columns (rows), ==, 2);
  g_assert_cmpstr (msb_db_rows_get_column_name (rows, 1), ==, "s");
  for (guint r = 0; r < 40; r++)
    {
      g_autofree char *text = g_strdup_printf ("r%u", r);

      g_assert_cmpint (msb_db_rows_get_int64 (rows, r, 0), ==, r);
      g_assert_cmpstr (msb_db_rows_get_string (rows, r, 1), ==, text);
    }

  /* Feeding past the end is refused. */
  {
    g_autoptr(GByteArray) body = rows_batch (0, 1, G_MAXUINT64);

    g_assert_false (msb_db_dqlite_rows_decoder_feed (decoder, body->data, body->len, &done, &error));
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
    g_clear_error (&error);
  }

  /* The names of an earlier result are shared when they are the same. */
  second = msb_db_dqlite_rows_decoder_new (msb_db_dqlite_rows_decoder_get_columns (decoder));
  {
    g_autoptr(GByteArray) body = rows_batch (0, 0, G_MAXUINT64);

    g_assert_true (msb_db_dqlite_rows_decoder_feed (second, body->data, body->len, &done, &error));
    g_assert_true (done);
  }
  g_assert_true (msb_db_dqlite_rows_decoder_get_columns (second) ==
                 msb_db_dqlite_rows_decoder_get_columns (decoder));
  again = msb_db_dqlite_rows_decoder_finish (second, 0, 0);
  g_assert_cmpuint (msb_db_rows_get_n_rows (again), ==, 0);
  g_assert_cmpuint (msb_db_rows_get_n_columns (again), ==, 2);
}

static void
test_decode_rows_truncated (void)
{
  g_autoptr(GByteArray) body = rows_batch (0, 3, G_MAXUINT64);

  assert_truncations_fail (body, decode_rows_once);
}

static void
assert_rows_refused (GByteArray *body,
                     const char *what)
{
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = msb_db_dqlite_rows_decoder_new (NULL);
  g_autoptr(GError) error = NULL;
  gboolean done;

  g_test_message ("%s", what);
  g_assert_false (msb_db_dqlite_rows_decoder_feed (decoder, body->data, body->len, &done, &error));
  g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  g_assert_false (done);
}

static void
test_decode_rows_hostile (void)
{
  static const guint8 bad_type[8] = { 0x0f, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 blob_type[8] = { 0x04, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 text_type[8] = { 0x03, 0, 0, 0, 0, 0, 0, 0 };
  g_autoptr(GByteArray) body = NULL;

  body = rows_batch (0, 1, 0x1234);
  assert_rows_refused (body, "bad marker");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, 0);
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "no columns");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, G_MAXUINT64);
  put_text (body, "a");
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "column count beyond the bytes");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, 1);
  put_text (body, "a");
  put_bytes (body, bad_type, 8);
  put_u64 (body, 0);
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "unknown value type");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, 1);
  put_text (body, "a");
  put_bytes (body, blob_type, 8);
  put_u64 (body, G_MAXUINT64 - 3);
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "blob length beyond the bytes");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, 1);
  put_text (body, "a");
  put_bytes (body, text_type, 8);
  put_bytes (body, (const guint8 *) "abcdefgh", 8);
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "text without its NUL before the marker");
  g_byte_array_unref (body);

  body = bytes_new ();
  put_u64 (body, 1);
  put_bytes (body, (const guint8 *) "abcdefgh", 8);
  put_u64 (body, G_MAXUINT64);
  assert_rows_refused (body, "column name without NUL");

  /* A second batch with other column names. */
  {
    g_autoptr(MsbDbDqliteRowsDecoder) decoder = msb_db_dqlite_rows_decoder_new (NULL);
    g_autoptr(GByteArray) first = rows_batch (0, 1, G_GUINT64_CONSTANT (0xeeeeeeeeeeeeeeee));
    g_autoptr(GByteArray) other = bytes_new ();
    g_autoptr(GError) error = NULL;
    gboolean done;

    g_assert_true (msb_db_dqlite_rows_decoder_feed (decoder, first->data, first->len, &done, &error));
    put_u64 (other, 2);
    put_text (other, "n");
    put_text (other, "t");
    put_u64 (other, G_MAXUINT64);
    g_assert_false (msb_db_dqlite_rows_decoder_feed (decoder, other->data, other->len, &done, &error));
    g_assert_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED);
  }
}

/* All value types, including dqlite's DATETIME and BOOLEAN codes, and 17
 * columns (a header of two words). */
static void
test_decode_rows_types (void)
{
  g_autoptr(GByteArray) body = bytes_new ();
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = msb_db_dqlite_rows_decoder_new (NULL);
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(GError) error = NULL;
  static const guint8 types[16] = {
    0x21, 0x43, 0x95, 0xba, 0x11, 0x11, 0x11, 0x11,  0x01, 0, 0, 0, 0, 0, 0, 0,
  };
  double d = -2.25;
  guint64 bits;
  gboolean done;
  gsize length;

  put_u64 (body, 17);
  for (guint c = 0; c < 17; c++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", c);
      put_text (body, name);
    }
  put_bytes (body, types, sizeof types);
  put_u64 (body, (guint64) G_GINT64_CONSTANT (-42));
  memcpy (&bits, &d, 8);
  put_u64 (body, bits);
  put_text (body, "text");
  put_u64 (body, 3);
  put_bytes (body, (const guint8 *) "\0\1\2\0\0\0\0\0", 8);
  put_u64 (body, 0);
  put_u64 (body, 1700000000);
  put_text (body, "2024-01-01 00:00:00");
  put_u64 (body, 1);
  for (guint c = 8; c < 17; c++)
    put_u64 (body, c);
  put_u64 (body, G_MAXUINT64);

  g_assert_true (msb_db_dqlite_rows_decoder_feed (decoder, body->data, body->len, &done, &error));
  g_assert_no_error (error);
  rows = msb_db_dqlite_rows_decoder_finish (decoder, 0, 0);
  g_assert_cmpuint (msb_db_rows_get_n_rows (rows), ==, 1);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 0), ==, MSB_DB_VALUE_TYPE_INTEGER);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 0), ==, -42);
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 1), ==, MSB_DB_VALUE_TYPE_REAL);
  g_assert_cmpfloat (msb_db_rows_get_double (rows, 0, 1), ==, -2.25);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 2), ==, "text");
  g_assert_cmpint (msb_db_rows_get_value_type (rows, 0, 3), ==, MSB_DB_VALUE_TYPE_BLOB);
  {
    g_autoptr(GBytes) blob = msb_db_rows_get_bytes (rows, 0, 3);
    g_assert_cmpmem (g_bytes_get_data (blob, &length), length, "\0\1\2", 3);
  }
  g_assert_true (msb_db_rows_is_null (rows, 0, 4));
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 5), ==, 1700000000);
  g_assert_cmpstr (msb_db_rows_get_string (rows, 0, 6), ==, "2024-01-01 00:00:00");
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 7), ==, 1);
  g_assert_cmpint (msb_db_rows_get_int64 (rows, 0, 16), ==, 16);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dqlite-wire/encode/simple", test_encode_simple);
  g_test_add_func ("/dqlite-wire/encode/text-padding", test_encode_text_padding);
  g_test_add_func ("/dqlite-wire/encode/params-layout", test_encode_params_layout);
  g_test_add_func ("/dqlite-wire/encode/no-params", test_encode_no_params);
  g_test_add_func ("/dqlite-wire/encode/param-types", test_encode_param_types);
  g_test_add_func ("/dqlite-wire/encode/param-errors", test_encode_param_errors);
  g_test_add_func ("/dqlite-wire/encode/many-params", test_encode_many_params);
  g_test_add_func ("/dqlite-wire/encode/named", test_encode_named);
  g_test_add_func ("/dqlite-wire/scanner/matches-sqlite", test_scanner_matches_sqlite);
  g_test_add_func ("/dqlite-wire/scanner/may-write", test_scanner_may_write);
  g_test_add_func ("/dqlite-wire/scanner/statements", test_scanner_statements);
  g_test_add_func ("/dqlite-wire/scanner/dml-table", test_scanner_dml_table);
  g_test_add_func ("/dqlite-wire/decode/header", test_decode_header);
  g_test_add_func ("/dqlite-wire/decode/responses", test_decode_responses);
  g_test_add_func ("/dqlite-wire/decode/servers-lies", test_decode_servers_lies);
  g_test_add_func ("/dqlite-wire/decode/rows-paged", test_decode_rows_paged);
  g_test_add_func ("/dqlite-wire/decode/rows-truncated", test_decode_rows_truncated);
  g_test_add_func ("/dqlite-wire/decode/rows-hostile", test_decode_rows_hostile);
  g_test_add_func ("/dqlite-wire/decode/rows-types", test_decode_rows_types);

  return g_test_run ();
}
