/* msb-db-dqlite-wire.c: the dqlite wire protocol, version 1, schema 0
 *
 * After the handshake (the protocol version as a little-endian u64) every
 * message is an 8-byte header -- u32 body length in 8-byte words, u8 type,
 * u8 schema, u16 zero -- and a body made of 8-byte aligned fields: u64 and
 * u32 pairs little-endian, doubles as IEEE-754 bits, text NUL-terminated
 * and zero-padded to 8 bytes, blobs as a u64 length and the bytes padded to
 * 8.
 *
 * A tuple of parameters is one count byte, one type byte per parameter,
 * padding to 8, then the values. A row is a header of 4-bit type codes (the
 * first value in the low nibble), padded to 8, then the values; the server
 * also sends three types of its own for DATETIME and BOOLEAN columns.
 *
 * The decoders only ever see bytes from the network: every length is
 * checked against what is left before it is used, and nothing is allocated
 * in proportion to a number the server sent, only to bytes it sent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-dqlite-wire.h"
#include "msb-db-error-private.h"
#include "msb-db-error.h"
#include "msb-db-rows-private.h"
#include "msb-db-sql-scan.h"

#define WORD 8

static gsize
pad8 (gsize n)
{
  return (n + (WORD - 1)) & ~(gsize) (WORD - 1);
}

void
msb_db_dqlite_node_free (MsbDbDqliteNode *node)
{
  if (node == NULL)
    return;
  g_free (node->address);
  g_free (node);
}

const char *
msb_db_dqlite_role_to_string (MsbDbDqliteRole role)
{
  switch (role)
    {
    case MSB_DB_DQLITE_ROLE_VOTER:
      return "voter";
    case MSB_DB_DQLITE_ROLE_STANDBY:
      return "standby";
    case MSB_DB_DQLITE_ROLE_SPARE:
      return "spare";
    default:
      return "unknown";
    }
}

/* Encoding ---------------------------------------------------------------- */

static void
put_u64 (GByteArray *out,
         guint64     value)
{
  guint64 le = GUINT64_TO_LE (value);

  g_byte_array_append (out, (const guint8 *) &le, sizeof le);
}

/* Two u32 fields fill one word. */
static void
put_u32_pair (GByteArray *out,
              guint32     first,
              guint32     second)
{
  guint32 le[2] = { GUINT32_TO_LE (first), GUINT32_TO_LE (second) };

  g_byte_array_append (out, (const guint8 *) le, sizeof le);
}

static void
put_padding (GByteArray *out)
{
  static const guint8 zeros[WORD] = { 0 };
  gsize rest = out->len % WORD;

  if (rest != 0)
    g_byte_array_append (out, zeros, WORD - rest);
}

/* Text is sent with its terminating NUL: dqlite reads it as a C string. */
static void
put_text (GByteArray *out,
          const char *text,
          gsize       length)
{
  static const guint8 nul = 0;

  g_byte_array_append (out, (const guint8 *) text, length);
  g_byte_array_append (out, &nul, 1);
  put_padding (out);
}

static void
put_string (GByteArray *out,
            const char *text)
{
  put_text (out, text, strlen (text));
}

/* Messages start at a multiple of 8 in @out (the handshake is 8 bytes). */
static gsize
begin_message (GByteArray *out,
               guint8      type)
{
  gsize start = out->len;
  guint8 header[MSB_DB_DQLITE_HEADER_SIZE] = { 0, 0, 0, 0, type, 0, 0, 0 };

  g_byte_array_append (out, header, sizeof header);
  return start;
}

static gboolean
end_message (GByteArray  *out,
             gsize        start,
             GError     **error)
{
  gsize words = (out->len - start - MSB_DB_DQLITE_HEADER_SIZE) / WORD;
  guint32 le;

  if (words > G_MAXUINT32)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The request takes %" G_GSIZE_FORMAT " bytes, more than a dqlite "
                   "message can hold", out->len - start);
      g_byte_array_set_size (out, start);
      return FALSE;
    }
  le = GUINT32_TO_LE ((guint32) words);
  memcpy (out->data + start, &le, sizeof le);
  return TRUE;
}

/* For messages whose size cannot come near the limit. */
static void
end_small_message (GByteArray *out,
                   gsize       start)
{
  if (!end_message (out, start, NULL))
    g_assert_not_reached ();
}

void
msb_db_dqlite_wire_encode_handshake (GByteArray *out)
{
  put_u64 (out, MSB_DB_DQLITE_PROTOCOL_VERSION);
}

static void
encode_u64_request (GByteArray *out,
                    guint8      type,
                    guint64     value)
{
  gsize start = begin_message (out, type);

  put_u64 (out, value);
  end_small_message (out, start);
}

void
msb_db_dqlite_wire_encode_leader (GByteArray *out)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_LEADER, 0);
}

void
msb_db_dqlite_wire_encode_client (GByteArray *out,
                                  guint64     client_id)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_CLIENT, client_id);
}

/* Flags 0 and the default VFS: dqlite opens its replicated database. */
void
msb_db_dqlite_wire_encode_open (GByteArray *out,
                                const char *name)
{
  gsize start = begin_message (out, MSB_DB_DQLITE_REQUEST_OPEN);

  put_string (out, name);
  put_u64 (out, 0);
  put_string (out, "");
  end_small_message (out, start);
}

static gboolean
encode_db_and_text (GByteArray  *out,
                    guint8       type,
                    guint32      db_id,
                    const char  *sql,
                    GError     **error)
{
  gsize start = begin_message (out, type);

  put_u64 (out, db_id);
  put_string (out, sql);
  return end_message (out, start, error);
}

void
msb_db_dqlite_wire_encode_prepare (GByteArray *out,
                                   guint32     db_id,
                                   const char *sql)
{
  if (!encode_db_and_text (out, MSB_DB_DQLITE_REQUEST_PREPARE, db_id, sql, NULL))
    g_assert_not_reached ();
}

void
msb_db_dqlite_wire_encode_finalize (GByteArray *out,
                                    guint32     db_id,
                                    guint32     stmt_id)
{
  gsize start = begin_message (out, MSB_DB_DQLITE_REQUEST_FINALIZE);

  put_u32_pair (out, db_id, stmt_id);
  end_small_message (out, start);
}

void
msb_db_dqlite_wire_encode_interrupt (GByteArray *out,
                                     guint32     db_id)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_INTERRUPT, db_id);
}

/* Format 1: id, address and role of each node. */
void
msb_db_dqlite_wire_encode_cluster (GByteArray *out)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_CLUSTER, 1);
}

void
msb_db_dqlite_wire_encode_add (GByteArray *out,
                               guint64     node_id,
                               const char *address)
{
  gsize start = begin_message (out, MSB_DB_DQLITE_REQUEST_ADD);

  put_u64 (out, node_id);
  put_string (out, address);
  end_small_message (out, start);
}

void
msb_db_dqlite_wire_encode_assign (GByteArray      *out,
                                  guint64          node_id,
                                  MsbDbDqliteRole  role)
{
  gsize start = begin_message (out, MSB_DB_DQLITE_REQUEST_ASSIGN);

  put_u64 (out, node_id);
  put_u64 (out, role);
  end_small_message (out, start);
}

void
msb_db_dqlite_wire_encode_remove (GByteArray *out,
                                  guint64     node_id)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_REMOVE, node_id);
}

void
msb_db_dqlite_wire_encode_transfer (GByteArray *out,
                                    guint64     node_id)
{
  encode_u64_request (out, MSB_DB_DQLITE_REQUEST_TRANSFER, node_id);
}

/* Parameters -------------------------------------------------------------- */

/* One parameter ready to be sent: its wire type and the GVariant leaf that
 * holds its value (NULL for SQL NULL). */
typedef struct {
  MsbDbDqliteValueType type;
  GVariant *leaf;
} Param;

static void
param_clear (gpointer data)
{
  Param *param = data;

  g_clear_pointer (&param->leaf, g_variant_unref);
}

/* The GVariant types and the messages are those of the local binder
 * (msb-db-bind.c), so that a parameter is accepted or refused the same way
 * whichever the database. */
static gboolean
classify_param (GVariant    *value,
                const char  *label,
                Param       *param,
                GError     **error)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
    case G_VARIANT_CLASS_BYTE:
    case G_VARIANT_CLASS_INT16:
    case G_VARIANT_CLASS_UINT16:
    case G_VARIANT_CLASS_INT32:
    case G_VARIANT_CLASS_UINT32:
    case G_VARIANT_CLASS_INT64:
      param->type = MSB_DB_DQLITE_TYPE_INTEGER;
      break;
    case G_VARIANT_CLASS_UINT64:
      if (g_variant_get_uint64 (value) > G_MAXINT64)
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "Parameter %s is %" G_GUINT64_FORMAT ", above the largest "
                       "SQLite integer (%" G_GINT64_FORMAT ")", label,
                       g_variant_get_uint64 (value), G_MAXINT64);
          return FALSE;
        }
      param->type = MSB_DB_DQLITE_TYPE_INTEGER;
      break;
    case G_VARIANT_CLASS_DOUBLE:
      param->type = MSB_DB_DQLITE_TYPE_FLOAT;
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      param->type = MSB_DB_DQLITE_TYPE_TEXT;
      break;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        return classify_param (inner, label, param, error);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);

        if (inner == NULL)
          {
            param->type = MSB_DB_DQLITE_TYPE_NULL;
            return TRUE;
          }
        return classify_param (inner, label, param, error);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          param->type = MSB_DB_DQLITE_TYPE_BLOB;
          break;
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_HANDLE:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "Parameter %s has type “%s”, which cannot be bound: use "
                   "b/y/n/q/i/u/x/t for INTEGER, d for REAL, s/o/g for TEXT, "
                   "ay for BLOB, or a maybe that is Nothing for NULL",
                   label, g_variant_get_type_string (value));
      return FALSE;
    }
  param->leaf = g_variant_ref (value);
  return TRUE;
}

static gint64
leaf_integer (GVariant *leaf)
{
  switch (g_variant_classify (leaf))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return g_variant_get_boolean (leaf) ? 1 : 0;
    case G_VARIANT_CLASS_BYTE:
      return g_variant_get_byte (leaf);
    case G_VARIANT_CLASS_INT16:
      return g_variant_get_int16 (leaf);
    case G_VARIANT_CLASS_UINT16:
      return g_variant_get_uint16 (leaf);
    case G_VARIANT_CLASS_INT32:
      return g_variant_get_int32 (leaf);
    case G_VARIANT_CLASS_UINT32:
      return g_variant_get_uint32 (leaf);
    case G_VARIANT_CLASS_INT64:
      return g_variant_get_int64 (leaf);
    case G_VARIANT_CLASS_UINT64:
      return (gint64) g_variant_get_uint64 (leaf);
    default:
      g_assert_not_reached ();
    }
}

static void
put_param_value (GByteArray  *out,
                 const Param *param)
{
  switch (param->type)
    {
    case MSB_DB_DQLITE_TYPE_INTEGER:
      put_u64 (out, (guint64) leaf_integer (param->leaf));
      break;
    case MSB_DB_DQLITE_TYPE_FLOAT:
      {
        double d = g_variant_get_double (param->leaf);
        guint64 bits;

        memcpy (&bits, &d, sizeof bits);
        put_u64 (out, bits);
      }
      break;
    case MSB_DB_DQLITE_TYPE_TEXT:
      {
        gsize length;
        const char *text = g_variant_get_string (param->leaf, &length);

        put_text (out, text, length);
      }
      break;
    case MSB_DB_DQLITE_TYPE_BLOB:
      {
        gsize length;
        const guint8 *data = g_variant_get_fixed_array (param->leaf, &length, 1);

        put_u64 (out, length);
        if (length > 0)
          g_byte_array_append (out, data, length);
        put_padding (out);
      }
      break;
    case MSB_DB_DQLITE_TYPE_NULL:
    default:
      put_u64 (out, 0);
      break;
    }
}

/* No parameters: no tuple at all (dqlite binds nothing when the body ends
 * after the fixed fields). */
static void
put_params (GByteArray *out,
            GArray     *params)
{
  guint8 count = (guint8) params->len;

  if (params->len == 0)
    return;

  g_byte_array_append (out, &count, 1);
  for (guint i = 0; i < params->len; i++)
    {
      guint8 type = g_array_index (params, Param, i).type;

      g_byte_array_append (out, &type, 1);
    }
  put_padding (out);
  for (guint i = 0; i < params->len; i++)
    put_param_value (out, &g_array_index (params, Param, i));
}

static gboolean
check_param_limit (guint64   expected,
                   GError  **error)
{
  if (expected <= MSB_DB_DQLITE_MAX_PARAMS)
    return TRUE;
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "The statement takes %" G_GUINT64_FORMAT " parameters; a dqlite "
               "database accepts at most %d per statement", expected,
               MSB_DB_DQLITE_MAX_PARAMS);
  return FALSE;
}

static gboolean
collect_positional (GVariant  *tuple,
                    guint64    expected,
                    GArray    *params,
                    GError   **error)
{
  gsize given = g_variant_n_children (tuple);

  if (given != expected)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %" G_GUINT64_FORMAT " parameter%s but %"
                   G_GSIZE_FORMAT " %s given", expected, expected == 1 ? "" : "s",
                   given, given == 1 ? "was" : "were");
      return FALSE;
    }

  g_array_set_size (params, (guint) given);
  for (gsize i = 0; i < given; i++)
    {
      g_autoptr(GVariant) value = g_variant_get_child_value (tuple, i);
      char label[32];

      g_snprintf (label, sizeof label, "%" G_GSIZE_FORMAT, i + 1);
      if (!classify_param (value, label, &g_array_index (params, Param, i), error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
report_unbound (const MsbDbSqlParams  *names,
                GArray                *params,
                const guint8          *bound,
                GError               **error)
{
  for (guint i = 1; i <= params->len; i++)
    {
      const char *name;

      if (bound[i])
        continue;
      name = msb_db_sql_params_get_name (names, i);
      if (name != NULL)
        {
          g_autofree char *shown = msb_db_error_excerpt (name);

          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "Parameter %s of the statement was given no value", shown);
        }
      else
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                     "Parameter %u of the statement is positional (?) and cannot "
                     "be given by name: pass a tuple", i);
      return FALSE;
    }
  return TRUE;
}

static gboolean
collect_named (GVariant              *vardict,
               const MsbDbSqlParams  *names,
               guint64                expected,
               GArray                *params,
               GError               **error)
{
  g_autofree guint8 *bound = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  /* The server counted the parameters when it prepared the statement; if
   * the text says otherwise, the names cannot be trusted to match. */
  if (msb_db_sql_params_get_count (names) != expected)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "Could not match named parameters with the statement: its text "
                   "shows %" G_GUINT64_FORMAT " parameters, the database counted %"
                   G_GUINT64_FORMAT "; pass a tuple", msb_db_sql_params_get_count (names),
                   expected);
      return FALSE;
    }

  g_array_set_size (params, (guint) expected);
  bound = g_new0 (guint8, expected + 1);
  g_variant_iter_init (&iter, vardict);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      guint index = msb_db_sql_params_find (names, key);
      Param *param;

      if (index == 0)
        {
          g_autofree char *shown = msb_db_error_excerpt (key);

          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                       "The statement has no parameter named “%s”", shown);
          g_variant_unref (value);
          return FALSE;
        }
      param = &g_array_index (params, Param, index - 1);
      param_clear (param);
      if (!classify_param (value, msb_db_sql_params_get_name (names, index), param, error))
        {
          g_variant_unref (value);
          return FALSE;
        }
      bound[index] = 1;
    }
  return report_unbound (names, params, bound, error);
}

/* The parameters of one statement, checked against what it takes: @expected
 * is the count the server reported when it prepared the statement, or -1 to
 * count them from @sql. */
static GArray *
collect_params (const char  *sql,
                gint64       expected,
                GVariant    *params,
                GError     **error)
{
  g_autoptr(GArray) collected = g_array_new (FALSE, TRUE, sizeof (Param));
  g_autoptr(MsbDbSqlParams) names = NULL;
  guint64 count;

  g_array_set_clear_func (collected, param_clear);

  if (expected < 0 || (params != NULL && g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT)))
    names = msb_db_sql_params_scan (sql);
  count = expected >= 0 ? (guint64) expected : msb_db_sql_params_get_count (names);

  if (params == NULL)
    {
      if (count == 0)
        return g_steal_pointer (&collected);
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "The statement takes %" G_GUINT64_FORMAT " parameter%s but none were given",
                   count, count == 1 ? "" : "s");
      return NULL;
    }

  if (g_variant_is_of_type (params, G_VARIANT_TYPE_TUPLE))
    {
      if (!check_param_limit (count, error) ||
          !collect_positional (params, count, collected, error))
        return NULL;
      return g_steal_pointer (&collected);
    }

  if (g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT))
    {
      if (!check_param_limit (count, error) ||
          !collect_named (params, names, count, collected, error))
        return NULL;
      return g_steal_pointer (&collected);
    }

  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "Parameters must be a tuple (positional), an a{sv} (named) or NULL, "
               "not “%s”", g_variant_get_type_string (params));
  return NULL;
}

static gboolean
encode_statement_request (GByteArray  *out,
                          guint8       type,
                          guint32      db_id,
                          guint32      stmt_id,
                          const char  *sql,
                          gint64       n_params,
                          GVariant    *params,
                          GError     **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(GArray) collected = collect_params (sql, n_params, owned, error);
  gsize start;

  if (collected == NULL)
    return FALSE;
  start = begin_message (out, type);
  put_u32_pair (out, db_id, stmt_id);
  put_params (out, collected);
  return end_message (out, start, error);
}

/* @sql is the statement's text: it names the parameters of an a{sv} and may
 * be NULL when @params is a tuple or NULL. @n_params is what STMT reported.
 * A floating @params is consumed, as by the rest of the library. */
gboolean
msb_db_dqlite_wire_encode_exec (GByteArray  *out,
                                guint32      db_id,
                                guint32      stmt_id,
                                const char  *sql,
                                gint64       n_params,
                                GVariant    *params,
                                GError     **error)
{
  g_return_val_if_fail (n_params >= 0, FALSE);
  g_return_val_if_fail (sql != NULL || params == NULL ||
                        !g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT), FALSE);

  return encode_statement_request (out, MSB_DB_DQLITE_REQUEST_EXEC, db_id, stmt_id,
                                   sql, n_params, params, error);
}

gboolean
msb_db_dqlite_wire_encode_query (GByteArray  *out,
                                 guint32      db_id,
                                 guint32      stmt_id,
                                 const char  *sql,
                                 gint64       n_params,
                                 GVariant    *params,
                                 GError     **error)
{
  g_return_val_if_fail (n_params >= 0, FALSE);
  g_return_val_if_fail (sql != NULL || params == NULL ||
                        !g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT), FALSE);

  return encode_statement_request (out, MSB_DB_DQLITE_REQUEST_QUERY, db_id, stmt_id,
                                   sql, n_params, params, error);
}

/* The server binds the parameters to the first statement of @sql only; the
 * count is read from that statement's text. */
static gboolean
encode_sql_request (GByteArray  *out,
                    guint8       type,
                    guint32      db_id,
                    const char  *sql,
                    GVariant    *params,
                    GError     **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(GArray) collected = collect_params (sql, -1, owned, error);
  gsize start;

  if (collected == NULL)
    return FALSE;
  start = begin_message (out, type);
  put_u64 (out, db_id);
  put_string (out, sql);
  put_params (out, collected);
  return end_message (out, start, error);
}

gboolean
msb_db_dqlite_wire_encode_exec_sql (GByteArray  *out,
                                    guint32      db_id,
                                    const char  *sql,
                                    GVariant    *params,
                                    GError     **error)
{
  return encode_sql_request (out, MSB_DB_DQLITE_REQUEST_EXEC_SQL, db_id, sql, params, error);
}

gboolean
msb_db_dqlite_wire_encode_query_sql (GByteArray  *out,
                                     guint32      db_id,
                                     const char  *sql,
                                     GVariant    *params,
                                     GError     **error)
{
  return encode_sql_request (out, MSB_DB_DQLITE_REQUEST_QUERY_SQL, db_id, sql, params, error);
}

/* Decoding ---------------------------------------------------------------- */

typedef struct {
  const guint8 *p;
  gsize left;
} Cursor;

static gboolean
malformed (GError     **error,
           const char  *what)
{
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "Malformed dqlite response: %s", what);
  return FALSE;
}

static gboolean
get_u64 (Cursor  *c,
         guint64 *value)
{
  guint64 le;

  if (c->left < sizeof le)
    return FALSE;
  memcpy (&le, c->p, sizeof le);
  *value = GUINT64_FROM_LE (le);
  c->p += sizeof le;
  c->left -= sizeof le;
  return TRUE;
}

static gboolean
get_u32_pair (Cursor  *c,
              guint32 *first,
              guint32 *second)
{
  guint32 le[2];

  if (c->left < sizeof le)
    return FALSE;
  memcpy (le, c->p, sizeof le);
  *first = GUINT32_FROM_LE (le[0]);
  *second = GUINT32_FROM_LE (le[1]);
  c->p += sizeof le;
  c->left -= sizeof le;
  return TRUE;
}

/* A NUL-terminated string inside the body: the pointer stays valid as long
 * as the body does. */
static gboolean
get_text (Cursor      *c,
          const char **text,
          gsize       *length)
{
  const guint8 *nul = memchr (c->p, '\0', c->left);
  gsize size;

  if (nul == NULL)
    return FALSE;
  size = pad8 ((gsize) (nul - c->p) + 1);
  if (size > c->left)
    return FALSE;
  *text = (const char *) c->p;
  if (length != NULL)
    *length = (gsize) (nul - c->p);
  c->p += size;
  c->left -= size;
  return TRUE;
}

static gboolean
get_blob (Cursor        *c,
          const guint8 **data,
          gsize         *length)
{
  Cursor saved = *c;
  guint64 n;

  if (!get_u64 (c, &n) || n > c->left || pad8 ((gsize) n) > c->left)
    {
      *c = saved;
      return FALSE;
    }
  *data = c->p;
  *length = (gsize) n;
  c->p += pad8 ((gsize) n);
  c->left -= pad8 ((gsize) n);
  return TRUE;
}

gboolean
msb_db_dqlite_wire_decode_header (const guint8       *data,
                                  gsize               size,
                                  MsbDbDqliteHeader  *header,
                                  GError            **error)
{
  guint32 words;

  if (size < MSB_DB_DQLITE_HEADER_SIZE)
    return malformed (error, "short message header");
  memcpy (&words, data, sizeof words);
  words = GUINT32_FROM_LE (words);
  if ((guint64) words * WORD > MSB_DB_DQLITE_MAX_MESSAGE)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "Malformed dqlite response: a message of %" G_GUINT64_FORMAT
                   " bytes, above the limit of %d", (guint64) words * WORD,
                   MSB_DB_DQLITE_MAX_MESSAGE);
      return FALSE;
    }
  header->body_size = (gsize) words * WORD;
  header->type = data[4];
  header->schema = data[5];
  return TRUE;
}

gboolean
msb_db_dqlite_wire_decode_failure (const guint8  *body,
                                   gsize          size,
                                   guint64       *code,
                                   char         **message,
                                   GError       **error)
{
  Cursor c = { body, size };
  const char *text;

  if (!get_u64 (&c, code) || !get_text (&c, &text, NULL))
    return malformed (error, "bad FAILURE");
  *message = g_strdup (text);
  return TRUE;
}

/**
 * msb_db_dqlite_wire_failure_is_rows_start:
 * @body: the body of a FAILURE response to a query
 * @size: its size
 * @min_columns: the smallest column count to take for one
 *
 * dqlite 1.11 answers a query that fails while it runs with a FAILURE
 * whose body is the start of the ROWS body it had begun: the column count
 * where the code belongs, the column names where the message belongs.
 * Tells whether @body is exactly that: a count n of at least @min_columns,
 * then n names, then nothing. (With one column it reads like a genuine
 * SQLITE_ERROR: the caller chooses @min_columns.)
 *
 * Returns: %TRUE if @body looks like the start of a ROWS body
 */
gboolean
msb_db_dqlite_wire_failure_is_rows_start (const guint8 *body,
                                          gsize         size,
                                          guint64       min_columns)
{
  Cursor c = { body, size };
  guint64 n;

  if (!get_u64 (&c, &n) || n < MAX (min_columns, 1) || n > MSB_DB_DQLITE_MAX_COLUMNS)
    return FALSE;
  for (guint64 i = 0; i < n; i++)
    {
      const char *name;

      if (!get_text (&c, &name, NULL))
        return FALSE;
    }
  return c.left == 0;
}

gboolean
msb_db_dqlite_wire_decode_server (const guint8  *body,
                                  gsize          size,
                                  guint64       *node_id,
                                  char         **address,
                                  GError       **error)
{
  Cursor c = { body, size };
  const char *text;

  if (!get_u64 (&c, node_id) || !get_text (&c, &text, NULL))
    return malformed (error, "bad SERVER");
  *address = g_strdup (text);
  return TRUE;
}

gboolean
msb_db_dqlite_wire_decode_welcome (const guint8  *body,
                                   gsize          size,
                                   guint64       *heartbeat_timeout,
                                   GError       **error)
{
  Cursor c = { body, size };

  if (!get_u64 (&c, heartbeat_timeout))
    return malformed (error, "bad WELCOME");
  return TRUE;
}

/* Each node takes at least three words, which bounds the count by the
 * bytes actually received. */
GPtrArray *
msb_db_dqlite_wire_decode_servers (const guint8  *body,
                                   gsize          size,
                                   GError       **error)
{
  g_autoptr(GPtrArray) nodes = NULL;
  Cursor c = { body, size };
  guint64 n;

  if (!get_u64 (&c, &n) || n > c.left / (3 * WORD))
    {
      malformed (error, "bad SERVERS count");
      return NULL;
    }

  nodes = g_ptr_array_new_full ((guint) n, (GDestroyNotify) msb_db_dqlite_node_free);
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(MsbDbDqliteNode) node = g_new0 (MsbDbDqliteNode, 1);
      const char *address;
      guint64 role;

      if (!get_u64 (&c, &node->id) || !get_text (&c, &address, NULL) || !get_u64 (&c, &role))
        {
          malformed (error, "bad SERVERS entry");
          return NULL;
        }
      if (role > MSB_DB_DQLITE_ROLE_SPARE)
        {
          malformed (error, "unknown node role in SERVERS");
          return NULL;
        }
      node->address = g_strdup (address);
      node->role = (MsbDbDqliteRole) role;
      g_ptr_array_add (nodes, g_steal_pointer (&node));
    }
  return g_steal_pointer (&nodes);
}

gboolean
msb_db_dqlite_wire_decode_db (const guint8  *body,
                              gsize          size,
                              guint32       *db_id,
                              GError       **error)
{
  Cursor c = { body, size };
  guint32 padding;

  if (!get_u32_pair (&c, db_id, &padding))
    return malformed (error, "bad DB");
  return TRUE;
}

gboolean
msb_db_dqlite_wire_decode_stmt (const guint8  *body,
                                gsize          size,
                                guint32       *db_id,
                                guint32       *stmt_id,
                                guint64       *n_params,
                                GError       **error)
{
  Cursor c = { body, size };

  if (!get_u32_pair (&c, db_id, stmt_id) || !get_u64 (&c, n_params))
    return malformed (error, "bad STMT");
  return TRUE;
}

gboolean
msb_db_dqlite_wire_decode_result (const guint8  *body,
                                  gsize          size,
                                  guint64       *last_insert_id,
                                  guint64       *rows_affected,
                                  GError       **error)
{
  Cursor c = { body, size };

  if (!get_u64 (&c, last_insert_id) || !get_u64 (&c, rows_affected))
    return malformed (error, "bad RESULT");
  return TRUE;
}

/* EMPTY carries one unused word; nothing in it is needed. */
gboolean
msb_db_dqlite_wire_decode_empty (const guint8  *body,
                                 gsize          size,
                                 GError       **error)
{
  return TRUE;
}

/* Rows -------------------------------------------------------------------- */

#define ROWS_MORE G_GUINT64_CONSTANT (0xeeeeeeeeeeeeeeee)
#define ROWS_DONE G_GUINT64_CONSTANT (0xffffffffffffffff)

struct _MsbDbDqliteRowsDecoder
{
  MsbDbColumns *reuse;    /* names of an earlier result, to share if equal */
  MsbDbColumns *columns;  /* set by the first batch */
  MsbDbRows *rows;
  guint64 n_rows;
  gboolean done;
  gboolean failed;
};

/* @reuse (nullable): the columns of an earlier result of the same
 * statement, shared by this result if the names are the same. */
MsbDbDqliteRowsDecoder *
msb_db_dqlite_rows_decoder_new (MsbDbColumns *reuse)
{
  MsbDbDqliteRowsDecoder *self = g_new0 (MsbDbDqliteRowsDecoder, 1);

  if (reuse != NULL)
    self->reuse = msb_db_columns_ref (reuse);
  return self;
}

void
msb_db_dqlite_rows_decoder_free (MsbDbDqliteRowsDecoder *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->reuse, msb_db_columns_unref);
  g_clear_pointer (&self->columns, msb_db_columns_unref);
  g_clear_object (&self->rows);
  g_free (self);
}

static gboolean
names_match (MsbDbColumns       *columns,
             guint               n,
             const char * const *names)
{
  if (columns == NULL || msb_db_columns_get_n (columns) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp (msb_db_columns_get_name (columns, i), names[i]) != 0)
      return FALSE;
  return TRUE;
}

/* The column count and names that start every batch. The first batch sets
 * them; later batches must repeat them exactly. */
static gboolean
read_columns (MsbDbDqliteRowsDecoder  *self,
              Cursor                  *c,
              GError                 **error)
{
  g_autofree const char **names = NULL;
  guint64 n;

  /* Each name takes at least one word: a count larger than the words left
   * is a lie, and is refused before anything is allocated for it. */
  if (!get_u64 (c, &n) || n == 0 || n > MSB_DB_DQLITE_MAX_COLUMNS || n > c->left / WORD)
    return malformed (error, "bad column count in ROWS");

  names = g_new (const char *, n);
  for (guint i = 0; i < n; i++)
    if (!get_text (c, &names[i], NULL))
      return malformed (error, "bad column name in ROWS");

  if (self->columns != NULL)
    {
      if (!names_match (self->columns, (guint) n, names))
        return malformed (error, "the columns changed between batches of ROWS");
      return TRUE;
    }

  if (names_match (self->reuse, (guint) n, names))
    self->columns = msb_db_columns_ref (self->reuse);
  else
    self->columns = msb_db_columns_new ((guint) n, names);
  self->rows = msb_db_rows_new (self->columns);
  return TRUE;
}

static gboolean
append_value (MsbDbRows *rows,
              guint      type,
              Cursor    *c)
{
  guint64 word;
  const char *text;
  const guint8 *data;
  gsize length;

  switch (type)
    {
    case MSB_DB_DQLITE_TYPE_INTEGER:
    case MSB_DB_DQLITE_TYPE_UNIXTIME:
    case MSB_DB_DQLITE_TYPE_BOOLEAN:
      if (!get_u64 (c, &word))
        return FALSE;
      msb_db_rows_append_int64 (rows, (gint64) word);
      return TRUE;
    case MSB_DB_DQLITE_TYPE_FLOAT:
      {
        double d;

        if (!get_u64 (c, &word))
          return FALSE;
        memcpy (&d, &word, sizeof d);
        msb_db_rows_append_double (rows, d);
        return TRUE;
      }
    case MSB_DB_DQLITE_TYPE_TEXT:
    case MSB_DB_DQLITE_TYPE_ISO8601:
      if (!get_text (c, &text, &length))
        return FALSE;
      msb_db_rows_append_text (rows, text, length);
      return TRUE;
    case MSB_DB_DQLITE_TYPE_BLOB:
      if (!get_blob (c, &data, &length))
        return FALSE;
      msb_db_rows_append_blob (rows, data, length);
      return TRUE;
    case MSB_DB_DQLITE_TYPE_NULL:
      if (!get_u64 (c, &word))
        return FALSE;
      msb_db_rows_append_null (rows);
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
read_row (MsbDbDqliteRowsDecoder  *self,
          Cursor                  *c,
          GError                 **error)
{
  guint n = msb_db_columns_get_n (self->columns);
  gsize header_size = pad8 ((n + 1) / 2);
  const guint8 *types = c->p;

  if (header_size > c->left)
    return malformed (error, "short row header in ROWS");
  c->p += header_size;
  c->left -= header_size;

  for (guint i = 0; i < n; i++)
    {
      guint type = (i % 2 == 0) ? (types[i / 2] & 0x0f) : (types[i / 2] >> 4);

      if (!append_value (self->rows, type, c))
        return malformed (error, "bad value in ROWS");
    }
  if (msb_db_rows_is_too_large (self->rows))
    {
      g_set_error_literal (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                           "The result holds more than 4 GiB of text and blobs; read it in "
                           "parts (LIMIT/OFFSET, substr())");
      return FALSE;
    }
  if (++self->n_rows >= G_MAXUINT)
    return malformed (error, "too many rows");
  return TRUE;
}

static gboolean
decode_batch (MsbDbDqliteRowsDecoder  *self,
              const guint8            *body,
              gsize                    size,
              GError                 **error)
{
  Cursor c = { body, size };
  Cursor rows_part;
  guint64 marker;

  if (size < WORD)
    return malformed (error, "short ROWS");

  /* The last word is the marker; the rows are what lies before it. */
  c.left -= WORD;
  if (!read_columns (self, &c, error))
    return FALSE;
  rows_part = c;
  while (rows_part.left > 0)
    if (!read_row (self, &rows_part, error))
      return FALSE;

  c.p = body + size - WORD;
  c.left = WORD;
  get_u64 (&c, &marker);
  if (marker == ROWS_DONE)
    self->done = TRUE;
  else if (marker != ROWS_MORE)
    return malformed (error, "bad end marker in ROWS");
  return TRUE;
}

/* Feeds one ROWS body; *@done becomes TRUE with the last batch. After an
 * error the decoder refuses more input. */
gboolean
msb_db_dqlite_rows_decoder_feed (MsbDbDqliteRowsDecoder  *self,
                                 const guint8            *body,
                                 gsize                    size,
                                 gboolean                *done,
                                 GError                 **error)
{
  *done = FALSE;
  if (self->failed || self->done)
    return malformed (error, "ROWS after the end of the result");
  if (!decode_batch (self, body, size, error))
    {
      self->failed = TRUE;
      return FALSE;
    }
  *done = self->done;
  return TRUE;
}

/* The names of the result (NULL before the first batch): a caller may keep
 * them to pass as @reuse to the decoder of the next result. */
MsbDbColumns *
msb_db_dqlite_rows_decoder_get_columns (MsbDbDqliteRowsDecoder *self)
{
  return self->columns;
}

/* The sealed result, once the last batch was fed. */
MsbDbRows *
msb_db_dqlite_rows_decoder_finish (MsbDbDqliteRowsDecoder *self,
                                   gint64                  changes,
                                   gint64                  last_insert_rowid)
{
  g_return_val_if_fail (self->done && !self->failed, NULL);

  msb_db_rows_seal (self->rows, changes, last_insert_rowid);
  return g_steal_pointer (&self->rows);
}
