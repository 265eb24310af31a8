/* msb-db-dqlite-wire.h: the dqlite wire protocol, version 1, schema 0
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "msb-db-columns.h"
#include "msb-db-rows.h"

G_BEGIN_DECLS

/* Pure functions over byte buffers: no I/O, no global state. Encoders append
 * one complete message (header and body) to a GByteArray; decoders read one
 * message body and never trust a length they have not checked against what
 * is left. Every decoding error is MSB_DB_ERROR_FAILED. */

#define MSB_DB_DQLITE_PROTOCOL_VERSION  1
#define MSB_DB_DQLITE_HANDSHAKE_SIZE    8
#define MSB_DB_DQLITE_HEADER_SIZE       8

/* The largest response body accepted. dqlite sends rows in batches of about
 * 4 KiB; only a single row larger than this can come close. */
#define MSB_DB_DQLITE_MAX_MESSAGE       (64 * 1024 * 1024)

/* Schema 0 counts parameters in one byte. */
#define MSB_DB_DQLITE_MAX_PARAMS        255

/* SQLite's hard limit on the columns of a result. */
#define MSB_DB_DQLITE_MAX_COLUMNS       32767

typedef enum {
  MSB_DB_DQLITE_REQUEST_LEADER    = 0,
  MSB_DB_DQLITE_REQUEST_CLIENT    = 1,
  /* 2 HEARTBEAT and 11 CONNECT are never sent: dqlite 1.11 does not answer
   * HEARTBEAT (the connection wedges) and CONNECT hands the socket to Raft. */
  MSB_DB_DQLITE_REQUEST_OPEN      = 3,
  MSB_DB_DQLITE_REQUEST_PREPARE   = 4,
  MSB_DB_DQLITE_REQUEST_EXEC      = 5,
  MSB_DB_DQLITE_REQUEST_QUERY     = 6,
  MSB_DB_DQLITE_REQUEST_FINALIZE  = 7,
  MSB_DB_DQLITE_REQUEST_EXEC_SQL  = 8,
  MSB_DB_DQLITE_REQUEST_QUERY_SQL = 9,
  MSB_DB_DQLITE_REQUEST_INTERRUPT = 10,
  MSB_DB_DQLITE_REQUEST_ADD       = 12,
  MSB_DB_DQLITE_REQUEST_ASSIGN    = 13,
  MSB_DB_DQLITE_REQUEST_REMOVE    = 14,
  MSB_DB_DQLITE_REQUEST_CLUSTER   = 16,
  MSB_DB_DQLITE_REQUEST_TRANSFER  = 17,
} MsbDbDqliteRequestType;

typedef enum {
  MSB_DB_DQLITE_RESPONSE_FAILURE = 0,
  MSB_DB_DQLITE_RESPONSE_SERVER  = 1,
  MSB_DB_DQLITE_RESPONSE_WELCOME = 2,
  MSB_DB_DQLITE_RESPONSE_SERVERS = 3,
  MSB_DB_DQLITE_RESPONSE_DB      = 4,
  MSB_DB_DQLITE_RESPONSE_STMT    = 5,
  MSB_DB_DQLITE_RESPONSE_RESULT  = 6,
  MSB_DB_DQLITE_RESPONSE_ROWS    = 7,
  MSB_DB_DQLITE_RESPONSE_EMPTY   = 8,
} MsbDbDqliteResponseType;

typedef enum {
  MSB_DB_DQLITE_ROLE_VOTER   = 0,
  MSB_DB_DQLITE_ROLE_STANDBY = 1,
  MSB_DB_DQLITE_ROLE_SPARE   = 2,
} MsbDbDqliteRole;

/* Value type codes of parameters and row values. */
typedef enum {
  MSB_DB_DQLITE_TYPE_INTEGER  = 1,
  MSB_DB_DQLITE_TYPE_FLOAT    = 2,
  MSB_DB_DQLITE_TYPE_TEXT     = 3,
  MSB_DB_DQLITE_TYPE_BLOB     = 4,
  MSB_DB_DQLITE_TYPE_NULL     = 5,
  MSB_DB_DQLITE_TYPE_UNIXTIME = 9,   /* rows only: a DATETIME column's integer */
  MSB_DB_DQLITE_TYPE_ISO8601  = 10,  /* a DATETIME column's text */
  MSB_DB_DQLITE_TYPE_BOOLEAN  = 11,  /* a BOOLEAN column's integer */
} MsbDbDqliteValueType;

/* The 8-byte header of every message after the handshake. */
typedef struct {
  guint8 type;
  guint8 schema;
  gsize  body_size;
} MsbDbDqliteHeader;

/* One member of the cluster, as CLUSTER (format 1) lists it. */
typedef struct {
  guint64          id;
  char            *address;
  MsbDbDqliteRole  role;
} MsbDbDqliteNode;

void        msb_db_dqlite_node_free       (MsbDbDqliteNode *node);
const char *msb_db_dqlite_role_to_string  (MsbDbDqliteRole  role);

/* Encoding ---------------------------------------------------------------- */

void     msb_db_dqlite_wire_encode_handshake (GByteArray  *out);
void     msb_db_dqlite_wire_encode_leader    (GByteArray  *out);
void     msb_db_dqlite_wire_encode_client    (GByteArray  *out,
                                              guint64      client_id);
void     msb_db_dqlite_wire_encode_open      (GByteArray  *out,
                                              const char  *name);
void     msb_db_dqlite_wire_encode_prepare   (GByteArray  *out,
                                              guint32      db_id,
                                              const char  *sql);
gboolean msb_db_dqlite_wire_encode_exec      (GByteArray  *out,
                                              guint32      db_id,
                                              guint32      stmt_id,
                                              const char  *sql,
                                              gint64       n_params,
                                              GVariant    *params,
                                              GError     **error);
gboolean msb_db_dqlite_wire_encode_query     (GByteArray  *out,
                                              guint32      db_id,
                                              guint32      stmt_id,
                                              const char  *sql,
                                              gint64       n_params,
                                              GVariant    *params,
                                              GError     **error);
void     msb_db_dqlite_wire_encode_finalize  (GByteArray  *out,
                                              guint32      db_id,
                                              guint32      stmt_id);
gboolean msb_db_dqlite_wire_encode_exec_sql  (GByteArray  *out,
                                              guint32      db_id,
                                              const char  *sql,
                                              GVariant    *params,
                                              GError     **error);
gboolean msb_db_dqlite_wire_encode_query_sql (GByteArray  *out,
                                              guint32      db_id,
                                              const char  *sql,
                                              GVariant    *params,
                                              GError     **error);
void     msb_db_dqlite_wire_encode_interrupt (GByteArray  *out,
                                              guint32      db_id);
void     msb_db_dqlite_wire_encode_cluster   (GByteArray  *out);
void     msb_db_dqlite_wire_encode_add       (GByteArray  *out,
                                              guint64      node_id,
                                              const char  *address);
void     msb_db_dqlite_wire_encode_assign    (GByteArray  *out,
                                              guint64      node_id,
                                              MsbDbDqliteRole role);
void     msb_db_dqlite_wire_encode_remove    (GByteArray  *out,
                                              guint64      node_id);
void     msb_db_dqlite_wire_encode_transfer  (GByteArray  *out,
                                              guint64      node_id);

/* Decoding ---------------------------------------------------------------- */

gboolean msb_db_dqlite_wire_decode_header    (const guint8       *data,
                                              gsize               size,
                                              MsbDbDqliteHeader  *header,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_failure   (const guint8       *body,
                                              gsize               size,
                                              guint64            *code,
                                              char              **message,
                                              GError            **error);
gboolean msb_db_dqlite_wire_failure_is_rows_start (const guint8  *body,
                                                   gsize          size,
                                                   guint64        min_columns);
gboolean msb_db_dqlite_wire_decode_server    (const guint8       *body,
                                              gsize               size,
                                              guint64            *node_id,
                                              char              **address,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_welcome   (const guint8       *body,
                                              gsize               size,
                                              guint64            *heartbeat_timeout,
                                              GError            **error);
GPtrArray *msb_db_dqlite_wire_decode_servers (const guint8       *body,
                                              gsize               size,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_db        (const guint8       *body,
                                              gsize               size,
                                              guint32            *db_id,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_stmt      (const guint8       *body,
                                              gsize               size,
                                              guint32            *db_id,
                                              guint32            *stmt_id,
                                              guint64            *n_params,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_result    (const guint8       *body,
                                              gsize               size,
                                              guint64            *last_insert_id,
                                              guint64            *rows_affected,
                                              GError            **error);
gboolean msb_db_dqlite_wire_decode_empty     (const guint8       *body,
                                              gsize               size,
                                              GError            **error);

/* ROWS come in batches, each with the column names again and ending in a
 * marker word: more batches follow, or the result is complete. A decoder
 * collects the batches of one result into one MsbDbRows. */
typedef struct _MsbDbDqliteRowsDecoder MsbDbDqliteRowsDecoder;

MsbDbDqliteRowsDecoder *msb_db_dqlite_rows_decoder_new      (MsbDbColumns           *reuse);
void                    msb_db_dqlite_rows_decoder_free     (MsbDbDqliteRowsDecoder *self);
gboolean                msb_db_dqlite_rows_decoder_feed     (MsbDbDqliteRowsDecoder *self,
                                                             const guint8           *body,
                                                             gsize                   size,
                                                             gboolean               *done,
                                                             GError                **error);
MsbDbColumns           *msb_db_dqlite_rows_decoder_get_columns (MsbDbDqliteRowsDecoder *self);
MsbDbRows              *msb_db_dqlite_rows_decoder_finish   (MsbDbDqliteRowsDecoder *self,
                                                             gint64                  changes,
                                                             gint64                  last_insert_rowid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbDqliteNode, msb_db_dqlite_node_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsbDbDqliteRowsDecoder, msb_db_dqlite_rows_decoder_free)

G_END_DECLS
