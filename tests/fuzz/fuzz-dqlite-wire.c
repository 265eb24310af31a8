/* fuzz-dqlite-wire.c: the dqlite wire protocol, fed by a hostile server
 *
 * Input: one selector byte, then
 *   0-5: a stream of server messages (8-byte header, body), decoded one
 *        after the other as the client would: ROWS batches accumulate into
 *        one result until the end marker; every other type goes through its
 *        decoder. The header's type byte picks the decoder, so any bytes
 *        reach all of them.
 *   6:   SQL text (up to the first NUL): the parameter scanner against
 *        SQLite's own count and names, whenever SQLite prepares it, and the
 *        write check against sqlite3_stmt_readonly(): a statement taken for
 *        a read must never be one that writes; and where the first
 *        statement ends, against SQLite's tail.
 *   7:   a GVariant (type string, NUL, serialised data) encoded as the
 *        parameters of EXEC_SQL for one of a few statements, and the tuple
 *        read back and compared with the values given.
 *
 * Checked beyond "no crash, no leak, no sanitizer report": a decoder fails
 * only with MSB_DB_ERROR_FAILED and a message; a decoded result holds the
 * values the bytes say (every cell readable, to_variant in normal form);
 * the scanner agrees with SQLite; an encoded tuple says what was given.
 * Nothing the input says can make the decoders allocate more than a small
 * multiple of the input's size: libFuzzer's -malloc_limit_mb would tell.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <msb-db.h>
#include <sqlite3.h>
#include <math.h>

#include "msb-db-dqlite-wire.h"
#include "msb-db-sql-scan.h"
#include "fuzz-common.h"

static sqlite3 *raw;

/* The schema of fuzz-sql, so that its corpus prepares here too. */
static const char schema[] =
  "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB);"
  "CREATE TABLE u (x INTEGER UNIQUE, y TEXT NOT NULL DEFAULT 'y', z INTEGER REFERENCES t (id));"
  "CREATE INDEX t_a ON t (a);"
  "CREATE VIEW v AS SELECT t.id, t.a, u.y FROM t LEFT JOIN u ON u.z = t.id;"
  "CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO u (x, y, z) VALUES (new.id, 'log', new.id); END;"
  "CREATE VIRTUAL TABLE f USING fts5 (body);";

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  if (sqlite3_open (":memory:", &raw) != SQLITE_OK ||
      sqlite3_exec (raw, schema, NULL, NULL, NULL) != SQLITE_OK)
    abort ();
  return 0;
}

static void
check_failure (const char *where,
               GError     *error)
{
  if (error == NULL)
    fuzz_bug ("%s failed without an error", where);
  if (!g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED))
    fuzz_bug ("%s: unexpected error %s #%d: %s", where, g_quark_to_string (error->domain),
              error->code, error->message);
  if (error->message == NULL || error->message[0] == '\0')
    fuzz_bug ("%s: empty error message", where);
}

static void
check_rows (MsbDbRows *rows)
{
  g_autoptr(GVariant) all = msb_db_rows_to_variant (rows);
  guint n_rows = msb_db_rows_get_n_rows (rows);
  guint n_columns = msb_db_rows_get_n_columns (rows);

  if (n_columns == 0)
    fuzz_bug ("a decoded result with no columns");
  if (!g_variant_is_normal_form (all))
    fuzz_bug ("to_variant gave a GVariant not in normal form");
  for (guint c = 0; c < n_columns; c++)
    if (msb_db_rows_get_column_name (rows, c) == NULL)
      fuzz_bug ("column %u has no name", c);
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_columns; c++)
      {
        g_autoptr(GBytes) bytes = msb_db_rows_get_bytes (rows, r, c);
        const char *s = msb_db_rows_get_string (rows, r, c);

        (void) msb_db_rows_get_int64 (rows, r, c);
        (void) msb_db_rows_get_double (rows, r, c);
        if (s != NULL && bytes != NULL && strlen (s) > g_bytes_get_size (bytes))
          fuzz_bug ("get_string runs past the value");
      }
}

/* One message of any type; ROWS go to *decoder. */
static void
decode_message (guint8                   type,
                const guint8            *body,
                gsize                    size,
                MsbDbDqliteRowsDecoder **decoder)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint64 a, b;
  guint32 x, y;
  gboolean ok = TRUE;

  switch (type)
    {
    case MSB_DB_DQLITE_RESPONSE_FAILURE:
      ok = msb_db_dqlite_wire_decode_failure (body, size, &a, &text, &error);
      if (ok && text == NULL)
        fuzz_bug ("FAILURE without a message");
      break;
    case MSB_DB_DQLITE_RESPONSE_SERVER:
      ok = msb_db_dqlite_wire_decode_server (body, size, &a, &text, &error);
      if (ok && text == NULL)
        fuzz_bug ("SERVER without an address");
      break;
    case MSB_DB_DQLITE_RESPONSE_WELCOME:
      ok = msb_db_dqlite_wire_decode_welcome (body, size, &a, &error);
      break;
    case MSB_DB_DQLITE_RESPONSE_SERVERS:
      {
        g_autoptr(GPtrArray) nodes = msb_db_dqlite_wire_decode_servers (body, size, &error);

        ok = nodes != NULL;
        for (guint i = 0; ok && i < nodes->len; i++)
          {
            const MsbDbDqliteNode *node = g_ptr_array_index (nodes, i);

            if (node->address == NULL || node->role > MSB_DB_DQLITE_ROLE_SPARE)
              fuzz_bug ("a decoded node without address or with a bad role");
            if (nodes->len * 24 > size)
              fuzz_bug ("more nodes than the bytes can hold");
          }
      }
      break;
    case MSB_DB_DQLITE_RESPONSE_DB:
      ok = msb_db_dqlite_wire_decode_db (body, size, &x, &error);
      break;
    case MSB_DB_DQLITE_RESPONSE_STMT:
      ok = msb_db_dqlite_wire_decode_stmt (body, size, &x, &y, &a, &error);
      break;
    case MSB_DB_DQLITE_RESPONSE_RESULT:
      ok = msb_db_dqlite_wire_decode_result (body, size, &a, &b, &error);
      break;
    case MSB_DB_DQLITE_RESPONSE_ROWS:
      {
        gboolean done = FALSE;

        if (*decoder == NULL)
          *decoder = msb_db_dqlite_rows_decoder_new (NULL);
        ok = msb_db_dqlite_rows_decoder_feed (*decoder, body, size, &done, &error);
        if (!ok)
          g_clear_pointer (decoder, msb_db_dqlite_rows_decoder_free);
        else if (done)
          {
            g_autoptr(MsbDbRows) rows = msb_db_dqlite_rows_decoder_finish (*decoder, 0, 0);

            if (rows == NULL)
              fuzz_bug ("a complete result could not be finished");
            check_rows (rows);
            g_clear_pointer (decoder, msb_db_dqlite_rows_decoder_free);
          }
      }
      break;
    default:
      ok = msb_db_dqlite_wire_decode_empty (body, size, &error);
      break;
    }
  if (!ok)
    check_failure ("decoding", error);
  else if (error != NULL)
    fuzz_bug ("success with an error set");
}

static void
run_stream (const uint8_t *data,
            size_t         size)
{
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = NULL;

  while (size > 0)
    {
      g_autoptr(GError) error = NULL;
      MsbDbDqliteHeader header;
      g_autofree guint8 *body = NULL;

      if (!msb_db_dqlite_wire_decode_header (data, size, &header, &error))
        {
          check_failure ("header", error);
          return;
        }
      data += MSB_DB_DQLITE_HEADER_SIZE;
      size -= MSB_DB_DQLITE_HEADER_SIZE;
      if (header.body_size > size)
        return;
      /* A copy of exactly the body, so that a read past it is caught. */
      body = g_memdup2 (data, header.body_size);
      decode_message (header.type, body, header.body_size, &decoder);
      data += header.body_size;
      size -= header.body_size;
    }
}

/* The scanner and SQLite ---------------------------------------------------- */

/* The tables of the main database that SQLite's authorizer saw a
 * statement write to (lower case). */
static int
note_written (void       *data,
              int         action,
              const char *table,
              const char *unused,
              const char *database,
              const char *trigger)
{
  GPtrArray *written = data;

  if ((action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) &&
      table != NULL && g_strcmp0 (database, "main") == 0)
    g_ptr_array_add (written, g_ascii_strdown (table, -1));
  return SQLITE_OK;
}

static void
run_scanner (const uint8_t *data,
             size_t         size)
{
  g_autofree char *sql = g_strndup ((const char *) data, MIN (size, 4096));
  g_autoptr(MsbDbSqlParams) scanned = msb_db_sql_params_scan (sql);
  g_autoptr(GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *named = msb_db_sql_get_dml_table (sql);
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  int count, rc;

  sqlite3_set_authorizer (raw, note_written, written);
  rc = sqlite3_prepare_v2 (raw, sql, -1, &stmt, &tail);
  sqlite3_set_authorizer (raw, NULL, NULL);
  if (rc != SQLITE_OK || stmt == NULL)
    {
      sqlite3_finalize (stmt);
      return;
    }
  /* SQLite's own tables go by several names (sqlite_schema is
   * sqlite_master to the authorizer). */
  if (named != NULL && g_ascii_strncasecmp (named, "sqlite_", 7) != 0)
    {
      g_autofree char *key = g_ascii_strdown (named, -1);

      if (!g_ptr_array_find_with_equal_func (written, key, g_str_equal, NULL))
        fuzz_bug ("the scanner names table %s, which SQLite does not write to, in: %s",
                  named, sql);
    }
  if (msb_db_sql_statement_end (sql) != tail)
    fuzz_bug ("the first statement ends at %td for the scanner, at %td for SQLite, in: %s",
              msb_db_sql_statement_end (sql) - sql, tail - sql, sql);
  count = sqlite3_bind_parameter_count (stmt);
  if (msb_db_sql_params_get_count (scanned) != (guint64) count)
    fuzz_bug ("the scanner counts %" G_GUINT64_FORMAT " parameters, SQLite %d, in: %s",
              msb_db_sql_params_get_count (scanned), count, sql);
  for (int p = 1; p <= count; p++)
    if (g_strcmp0 (msb_db_sql_params_get_name (scanned, (guint) p),
                   sqlite3_bind_parameter_name (stmt, p)) != 0)
      fuzz_bug ("parameter %d is %s for the scanner, %s for SQLite, in: %s", p,
                msb_db_sql_params_get_name (scanned, (guint) p),
                sqlite3_bind_parameter_name (stmt, p), sql);
  if (!msb_db_sql_may_write (sql) && !sqlite3_stmt_readonly (stmt))
    fuzz_bug ("taken for a read, but SQLite says it writes: %s", sql);
  sqlite3_finalize (stmt);
}

/* Parameters encoded, and read back ---------------------------------------- */

static const char * const statements[] = {
  "SELECT ?",
  "SELECT ?, ?",
  "SELECT ?1, ?2, ?1",
  "SELECT :a, @b, $c",
  "SELECT :a",
  "SELECT ?3",
  "SELECT 1",
  "SELECT :name, ?",
};

static guint64
read_word (const guint8 *p)
{
  guint64 le;

  memcpy (&le, p, 8);
  return GUINT64_FROM_LE (le);
}

/* What a leaf of the given GVariant should have become on the wire. */
static void
check_value (GVariant     *value,
             guint8        type,
             const guint8 *p,
             gsize         left)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);
        check_value (inner, type, p, left);
        return;
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);

        if (inner != NULL)
          check_value (inner, type, p, left);
        else if (type != MSB_DB_DQLITE_TYPE_NULL)
          fuzz_bug ("Nothing was not sent as NULL");
        return;
      }
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      if (type != MSB_DB_DQLITE_TYPE_TEXT ||
          strnlen ((const char *) p, left) == left ||
          strcmp ((const char *) p, g_variant_get_string (value, NULL)) != 0)
        fuzz_bug ("a string was not sent as itself");
      return;
    case G_VARIANT_CLASS_DOUBLE:
      {
        double d = g_variant_get_double (value);
        guint64 bits;

        memcpy (&bits, &d, 8);
        if (type != MSB_DB_DQLITE_TYPE_FLOAT || read_word (p) != bits)
          fuzz_bug ("a double was not sent as itself");
        return;
      }
    case G_VARIANT_CLASS_ARRAY:
      {
        gsize length;
        const guint8 *bytes = g_variant_get_fixed_array (value, &length, 1);

        if (type != MSB_DB_DQLITE_TYPE_BLOB || read_word (p) != length ||
            (length > 0 && memcmp (p + 8, bytes, length) != 0))
          fuzz_bug ("a byte string was not sent as itself");
        return;
      }
    default:
      if (type != MSB_DB_DQLITE_TYPE_INTEGER)
        fuzz_bug ("an integer type was not sent as INTEGER");
      return;
    }
}

static gsize
value_size (guint8        type,
            const guint8 *p,
            gsize         left)
{
  switch (type)
    {
    case MSB_DB_DQLITE_TYPE_TEXT:
      return (strnlen ((const char *) p, left) + 8) & ~(gsize) 7;
    case MSB_DB_DQLITE_TYPE_BLOB:
      return 8 + ((read_word (p) + 7) & ~(guint64) 7);
    default:
      return 8;
    }
}

static void
check_tuple (const char   *sql,
             GVariant     *params,
             const guint8 *message,
             gsize         size)
{
  gsize offset = MSB_DB_DQLITE_HEADER_SIZE + 8 + ((strlen (sql) + 8) & ~(gsize) 7);
  const guint8 *header;
  guint8 n;

  if (offset == size)
    {
      if (params != NULL && g_variant_n_children (params) != 0)
        fuzz_bug ("parameters were given but no tuple was sent");
      return;
    }
  n = message[offset];
  header = message + offset + 1;
  offset += ((gsize) n + 1 + 7) & ~(gsize) 7;
  if (params == NULL || !g_variant_is_of_type (params, G_VARIANT_TYPE_TUPLE))
    {
      /* Named: at least the count is that of the statement. */
      g_autoptr(MsbDbSqlParams) names = msb_db_sql_params_scan (sql);

      if (msb_db_sql_params_get_count (names) != n)
        fuzz_bug ("%u named parameters sent for a statement of %" G_GUINT64_FORMAT, n,
                  msb_db_sql_params_get_count (names));
    }
  else if (g_variant_n_children (params) != n)
    fuzz_bug ("%u parameters sent, %" G_GSIZE_FORMAT " given", n, g_variant_n_children (params));

  for (guint i = 0; i < n; i++)
    {
      if (offset + 8 > size)
        fuzz_bug ("the tuple runs past the message");
      if (params != NULL && g_variant_is_of_type (params, G_VARIANT_TYPE_TUPLE))
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (params, i);
          check_value (child, header[i], message + offset, size - offset);
        }
      offset += value_size (header[i], message + offset, size - offset);
    }
  if (offset != size)
    fuzz_bug ("the tuple does not end the message (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT ")",
              offset, size);
}

static void
run_params (guint          selector,
            const uint8_t *data,
            size_t         size)
{
  const char *sql = statements[selector % G_N_ELEMENTS (statements)];
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree char *type_string = NULL;
  g_autoptr(GVariant) params = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const uint8_t *nul = memchr (data, '\0', MIN (size, 64));

  if (nul == NULL)
    return;
  type_string = g_strndup ((const char *) data, nul - data);
  if (!g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite (G_VARIANT_TYPE (type_string)))
    return;
  bytes = g_bytes_new (nul + 1, size - (nul + 1 - data));
  params = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string), bytes, FALSE));

  if (!msb_db_dqlite_wire_encode_exec_sql (out, 0, sql, params, &error))
    {
      if (!g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT) ||
          error->message[0] == '\0')
        fuzz_bug ("refused parameters without INVALID_ARGUMENT: %s", error->message);
      if (out->len != 0)
        fuzz_bug ("a refused request left bytes behind");
      return;
    }
  if (out->len % 8 != 0)
    fuzz_bug ("a request of %u bytes", out->len);
  check_tuple (sql, params, out->data, out->len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  guint selector;

  if (size < 1)
    return 0;
  selector = data[0];
  switch (selector & 7)
    {
    case 6:
      run_scanner (data + 1, size - 1);
      break;
    case 7:
      run_params (selector >> 3, data + 1, size - 1);
      break;
    default:
      run_stream (data + 1, size - 1);
      break;
    }
  return 0;
}
