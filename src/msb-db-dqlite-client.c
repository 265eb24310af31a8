/* msb-db-dqlite-client.c: one blocking connection to a dqlite node
 *
 * Pure GIO: a non-blocking GSocket, and every wait a
 * g_socket_condition_timed_wait() with the caller's GCancellable and a
 * deadline. dqlite answers one request at a time, in order, and does not
 * answer at all a request it does not know, so nothing here ever waits
 * without a deadline: each wait for the next message of a response is
 * bounded by the client's timeout.
 *
 * A call that gives up in the middle of a response (cancelled, timed out,
 * connection dropped) leaves the byte stream out of step with the server;
 * the client then refuses further requests and the owner connects again.
 * The one exception is a query: when its caller cancels between two
 * messages, the client asks the server to stop (INTERRUPT), reads what it
 * still sends for a short while, and stays usable if it is back in step.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sqlite3.h>

#include "msb-db-dqlite-client.h"
#include "msb-db-error-private.h"
#include "msb-db-sql-scan.h"

/* dqlite's own codes on top of SQLite's extended result codes. */
#define DQLITE_IOERR_NOT_LEADER       (SQLITE_IOERR | (40 << 8))
#define DQLITE_IOERR_LEADERSHIP_LOST  (SQLITE_IOERR | (41 << 8))
#define DQLITE_PROTO                  1001
#define DQLITE_PARSE                  1005

#define TARGET_EXAMPLE "dqlite://127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003/app.db"

/* After a cancelled query, how long the client waits for the server to
 * finish sending before it gives the connection up. */
#define ABANDON_LIMIT (250 * G_TIME_SPAN_MILLISECOND)

/* A receive buffer that grew past this is replaced after use. */
#define KEEP_BUFFER (1024 * 1024)

/* Leader discovery backs off from the first delay, doubling up to the last. */
#define BACKOFF_FIRST (100 * G_TIME_SPAN_MILLISECOND)
#define BACKOFF_LAST  (1 * G_TIME_SPAN_SECOND)

struct _MsbDbDqliteClient
{
  GSocketConnection *connection;
  GSocket *socket;
  char *address;             /* numeric "IPv4:PORT" */
  GTimeSpan timeout;

  GByteArray *out;           /* the request being sent */
  GByteArray *in;            /* the body of the last message received */
  MsbDbDqliteHeader header;  /* of the last message received */

  guint32 db_id;
  gboolean db_open;
  gboolean broken;
  guint64 failure_code;      /* of the last FAILURE response, or 0 */
  gint aborted;              /* atomic: msb_db_dqlite_client_abort() */
};

struct _MsbDbDqliteStmt
{
  MsbDbDqliteClient *client;  /* not a reference: only checked against */
  guint32 id;
  guint64 n_params;
  char *sql;
  MsbDbColumns *columns;      /* of the last result, shared by the next */
  gboolean finalized;         /* its id must never be sent again */
};

/* Addresses and targets ---------------------------------------------------- */

static gboolean
is_host_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_';
}

/* "HOST:PORT" with a port in 1-65535 and a host that is an IPv4 address or
 * a name; @context is what the message quotes in full. */
static gboolean
split_host_port (const char  *text,
                 char       **host,
                 guint16     *port,
                 const char  *context,
                 GError     **error)
{
  const char *colon = strrchr (text, ':');
  guint64 value;

  if (text[0] == '[' || (colon != NULL && strchr (text, ':') != colon))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s”: the node address “%s” is IPv6; dqlite nodes have IPv4 "
                   "addresses or host names, as in %s", context, text, TARGET_EXAMPLE);
      return FALSE;
    }
  if (colon == NULL || colon[1] == '\0')
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s”: the node address “%s” has no port; write HOST:PORT, as in %s",
                   context, text, TARGET_EXAMPLE);
      return FALSE;
    }
  if (colon == text)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s”: the node address “%s” has no host; write HOST:PORT, as in %s",
                   context, text, TARGET_EXAMPLE);
      return FALSE;
    }
  for (const char *p = text; p < colon; p++)
    if (!is_host_char (*p))
      {
        g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                     "“%s”: “%.*s” is not a host name or IPv4 address, as in %s",
                     context, (int) (colon - text), text, TARGET_EXAMPLE);
        return FALSE;
      }
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT64, &value, NULL) ||
      value < 1 || value > 65535)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s”: the port “%s” of “%s” is out of range (1-65535), as in %s",
                   context, colon + 1, text, TARGET_EXAMPLE);
      return FALSE;
    }
  if (host != NULL)
    *host = g_strndup (text, colon - text);
  if (port != NULL)
    *port = (guint16) value;
  return TRUE;
}

/* Splits "HOST:PORT[,HOST:PORT...]" and checks each address. */
char **
msb_db_dqlite_parse_addresses (const char  *list,
                               GError     **error)
{
  g_auto(GStrv) parts = NULL;

  g_return_val_if_fail (list != NULL, NULL);

  if (*list == '\0')
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "No node address given: list one or more HOST:PORT, as in %s",
                   TARGET_EXAMPLE);
      return NULL;
    }
  parts = g_strsplit (list, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        {
          g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                       "“%s”: an empty node address in the list; separate HOST:PORT "
                       "with single commas, as in %s", list, TARGET_EXAMPLE);
          return NULL;
        }
      if (!split_host_port (parts[i], NULL, NULL, list, error))
        return NULL;
    }
  return g_steal_pointer (&parts);
}

/**
 * msb_db_dqlite_parse_target:
 * @text: `dqlite://HOST:PORT[,HOST:PORT...]/NAME`
 * @error: return location for a #GError
 *
 * Parses a dqlite target: the nodes where leader discovery starts, and the
 * database inside the cluster. Nothing is resolved or contacted.
 *
 * Returns: (transfer full): the target, or %NULL with
 *   %MSB_DB_ERROR_CANT_OPEN and a message that shows a correct example
 */
MsbDbDqliteTarget *
msb_db_dqlite_parse_target (const char  *text,
                            GError     **error)
{
  g_autoptr(MsbDbDqliteTarget) target = NULL;
  g_autofree char *hosts = NULL;
  const char *rest, *slash;

  g_return_val_if_fail (text != NULL, NULL);

  if (g_ascii_strncasecmp (text, "dqlite://", 9) != 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” is not a dqlite target: write it as %s", text, TARGET_EXAMPLE);
      return NULL;
    }
  rest = text + 9;
  slash = strchr (rest, '/');
  if (slash == NULL || slash[1] == '\0')
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” names no database: end it with /NAME, as in %s", text, TARGET_EXAMPLE);
      return NULL;
    }
  if (slash == rest)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” lists no node: give one or more HOST:PORT before the "
                   "database name, as in %s", text, TARGET_EXAMPLE);
      return NULL;
    }
  if (strchr (slash + 1, '/') != NULL)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s”: the database name “%s” holds a “/”; a dqlite database is "
                   "named by one word, as in %s", text, slash + 1, TARGET_EXAMPLE);
      return NULL;
    }

  target = g_new0 (MsbDbDqliteTarget, 1);
  hosts = g_strndup (rest, slash - rest);
  target->addresses = msb_db_dqlite_parse_addresses (hosts, error);
  if (target->addresses == NULL)
    return NULL;
  target->name = g_strdup (slash + 1);
  return g_steal_pointer (&target);
}

void
msb_db_dqlite_target_free (MsbDbDqliteTarget *target)
{
  if (target == NULL)
    return;
  g_strfreev (target->addresses);
  g_free (target->name);
  g_free (target);
}

/* A numeric "IPv4:PORT" as a socket address, or NULL. */
static GSocketAddress *
numeric_address (const char *address)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint16 port;

  if (!split_host_port (address, &host, &port, address, NULL))
    return NULL;
  inet = g_inet_address_new_from_string (host);
  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4)
    return NULL;
  return g_inet_socket_address_new (inet, port);
}

/* The numeric "IPv4:PORT" addresses of "HOST:PORT": dqlite nodes know each
 * other by numeric address only, so names are resolved first. */
static GPtrArray *
resolve_address (const char    *address,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GPtrArray) numeric = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSocketAddress) direct = numeric_address (address);
  g_autoptr(GResolver) resolver = NULL;
  g_autofree char *host = NULL;
  GList *found;
  guint16 port;

  if (direct != NULL)
    {
      g_ptr_array_add (numeric, g_strdup (address));
      return g_steal_pointer (&numeric);
    }
  if (!split_host_port (address, &host, &port, address, error))
    return NULL;

  resolver = g_resolver_get_default ();
  found = g_resolver_lookup_by_name (resolver, host, cancellable, error);
  if (found == NULL)
    return NULL;
  for (GList *l = found; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      {
        g_autofree char *ip = g_inet_address_to_string (l->data);

        g_ptr_array_add (numeric, g_strdup_printf ("%s:%u", ip, port));
      }
  g_resolver_free_addresses (found);
  if (numeric->len == 0)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "“%s” has no IPv4 address", host);
      return NULL;
    }
  return g_steal_pointer (&numeric);
}

/* Errors from the server --------------------------------------------------- */

typedef struct { gint64 code; const char *name; } CodeName;
#define CODE(c) { c, #c }

static const CodeName code_names[] = {
  CODE (SQLITE_ERROR), CODE (SQLITE_INTERNAL), CODE (SQLITE_PERM), CODE (SQLITE_ABORT),
  CODE (SQLITE_BUSY), CODE (SQLITE_LOCKED), CODE (SQLITE_NOMEM), CODE (SQLITE_READONLY),
  CODE (SQLITE_INTERRUPT), CODE (SQLITE_IOERR), CODE (SQLITE_CORRUPT), CODE (SQLITE_NOTFOUND),
  CODE (SQLITE_FULL), CODE (SQLITE_CANTOPEN), CODE (SQLITE_PROTOCOL), CODE (SQLITE_EMPTY),
  CODE (SQLITE_SCHEMA), CODE (SQLITE_TOOBIG), CODE (SQLITE_CONSTRAINT), CODE (SQLITE_MISMATCH),
  CODE (SQLITE_MISUSE), CODE (SQLITE_NOLFS), CODE (SQLITE_AUTH), CODE (SQLITE_FORMAT),
  CODE (SQLITE_RANGE), CODE (SQLITE_NOTADB), CODE (SQLITE_NOTICE), CODE (SQLITE_WARNING),
  CODE (SQLITE_ROW), CODE (SQLITE_DONE), CODE (SQLITE_IOERR_WRITE), CODE (SQLITE_BUSY_SNAPSHOT), CODE (SQLITE_ABORT_ROLLBACK),
  CODE (SQLITE_CONSTRAINT_CHECK), CODE (SQLITE_CONSTRAINT_COMMITHOOK),
  CODE (SQLITE_CONSTRAINT_FOREIGNKEY), CODE (SQLITE_CONSTRAINT_FUNCTION),
  CODE (SQLITE_CONSTRAINT_NOTNULL), CODE (SQLITE_CONSTRAINT_PRIMARYKEY),
  CODE (SQLITE_CONSTRAINT_TRIGGER), CODE (SQLITE_CONSTRAINT_UNIQUE),
  CODE (SQLITE_CONSTRAINT_VTAB), CODE (SQLITE_CONSTRAINT_ROWID),
  { DQLITE_IOERR_NOT_LEADER, "SQLITE_IOERR_NOT_LEADER" },
  { DQLITE_IOERR_LEADERSHIP_LOST, "SQLITE_IOERR_LEADERSHIP_LOST" },
  { DQLITE_PROTO, "DQLITE_PROTO" },
  { DQLITE_PARSE, "DQLITE_PARSE" },
};

static const char *
code_name (guint64 code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (code_names); i++)
    if ((guint64) code_names[i].code == code)
      return code_names[i].name;
  for (gsize i = 0; i < G_N_ELEMENTS (code_names); i++)
    if ((guint64) code_names[i].code == (code & 0xff))
      return code_names[i].name;
  return "DQLITE_UNKNOWN";
}

/* SQLite's codes map as for a local database (msb-db-sqlite.c). dqlite
 * reports an empty statement with code 0. */
static MsbDbError
error_code_for (guint64 code)
{
  if (code == 0)
    return MSB_DB_ERROR_INVALID_ARGUMENT;
  if (code == DQLITE_PROTO || code == DQLITE_PARSE)
    return MSB_DB_ERROR_FAILED;
  switch (code & 0xff)
    {
    case SQLITE_CONSTRAINT:
      return MSB_DB_ERROR_CONSTRAINT;
    case SQLITE_BUSY:
      return MSB_DB_ERROR_BUSY;
    case SQLITE_READONLY:
      return MSB_DB_ERROR_READ_ONLY;
    case SQLITE_CANTOPEN:
      return MSB_DB_ERROR_CANT_OPEN;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MSB_DB_ERROR_CORRUPT;
    case SQLITE_ERROR:
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return MSB_DB_ERROR_SQL;
    case SQLITE_AUTH:
      return MSB_DB_ERROR_INVALID_ARGUMENT;
    default:
      return MSB_DB_ERROR_FAILED;
    }
}

static gboolean
is_leader_change_code (guint64 code)
{
  return code == DQLITE_IOERR_NOT_LEADER || code == DQLITE_IOERR_LEADERSHIP_LOST;
}

/* "MESSAGE [CODE]", with " in SQL: ..." when a statement failed. A leader
 * change is about the connection, not the statement: its message never
 * carries SQL, which keeps msb_db_dqlite_error_is_leader_change() exact. */
static void
set_server_error (guint64      code,
                  const char  *message,
                  const char  *sql,
                  GError     **error)
{
  /* The server's message quotes whatever it was sent, and may be as long. */
  g_autofree char *valid = msb_db_error_excerpt (message);
  g_autofree char *valid_sql = NULL;

  if (sql == NULL || is_leader_change_code (code))
    {
      g_set_error (error, MSB_DB_ERROR, error_code_for (code), "%s [%s]", valid, code_name (code));
      return;
    }

  valid_sql = msb_db_error_excerpt (sql);
  g_set_error (error, MSB_DB_ERROR, error_code_for (code), "%s [%s] in SQL: %s",
               valid, code_name (code), valid_sql);
}

/**
 * msb_db_dqlite_error_is_leader_change:
 * @error: (nullable): an error from a client call
 *
 * Whether the server refused the request because it is not, or stopped
 * being, the leader (dqlite's extended codes 10250 and 10506). The
 * connection itself is fine, but the statements prepared on it are gone
 * with the leadership: find the new leader, open and prepare again.
 *
 * Returns: %TRUE for "not leader" and "leadership lost"
 */
gboolean
msb_db_dqlite_error_is_leader_change (const GError *error)
{
  if (error == NULL || error->domain != MSB_DB_ERROR || error->code != MSB_DB_ERROR_FAILED ||
      strstr (error->message, " in SQL: ") != NULL)
    return FALSE;
  return g_str_has_suffix (error->message, " [SQLITE_IOERR_NOT_LEADER]") ||
         g_str_has_suffix (error->message, " [SQLITE_IOERR_LEADERSHIP_LOST]");
}

/* Sockets and deadlines ---------------------------------------------------- */

/* Waits for @condition until @deadline (monotonic time). */
static gboolean
socket_wait (GSocket       *socket,
             GIOCondition   condition,
             gint64         deadline,
             GCancellable  *cancellable,
             GError       **error)
{
  gint64 now = g_get_monotonic_time ();

  if (now >= deadline)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timed out");
      return FALSE;
    }
  return g_socket_condition_timed_wait (socket, condition, deadline - now, cancellable, error);
}

static int
timeout_ms (GTimeSpan timeout)
{
  return (int) MIN (timeout / G_TIME_SPAN_MILLISECOND, G_MAXINT);
}

/* Turns a failed socket operation into the error the caller sees, and puts
 * the client out of service. */
static gboolean
transport_failed (MsbDbDqliteClient  *self,
                  GError             *local_error,
                  GError            **error)
{
  self->broken = TRUE;
  if (g_atomic_int_get (&self->aborted))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                   "The connection to dqlite node %s was closed", self->address);
      g_error_free (local_error);
    }
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, local_error);
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "dqlite node %s did not answer within %d ms", self->address,
                   timeout_ms (self->timeout));
      g_error_free (local_error);
    }
  else
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "Lost the connection to dqlite node %s: %s", self->address,
                   local_error->message);
      g_error_free (local_error);
    }
  return FALSE;
}

/* Sends self->out whole, as the socket takes it. */
static gboolean
send_request (MsbDbDqliteClient  *self,
              gint64              deadline,
              GCancellable       *cancellable,
              GError            **error)
{
  gsize done = 0;

  while (done < self->out->len)
    {
      GError *local_error = NULL;
      gssize n = -1;

      if (socket_wait (self->socket, G_IO_OUT, deadline, cancellable, &local_error))
        n = g_socket_send_with_blocking (self->socket, (const char *) self->out->data + done,
                                         self->out->len - done, FALSE, cancellable, &local_error);
      if (n >= 0)
        done += (gsize) n;
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_clear_error (&local_error);
      else
        return transport_failed (self, local_error, error);
    }
  return TRUE;
}

static gboolean
protocol_failed (MsbDbDqliteClient  *self,
                 GError             *local_error,
                 GError            **error)
{
  self->broken = TRUE;
  g_propagate_prefixed_error (error, local_error, "dqlite node %s: ", self->address);
  return FALSE;
}

/* Where a read stands: once a message has started to arrive, a cancel no
 * longer stops it at once; the rest is read without the cancellable for a
 * short while, so that the stream stays in step. */
typedef struct {
  gint64 deadline;
  GCancellable *cancellable;
  GError *cancelled;
} ReadState;

static gboolean
receive_into (MsbDbDqliteClient  *self,
              ReadState          *state,
              guint8             *buffer,
              gsize               size,
              GError            **error)
{
  gsize done = 0;

  while (done < size)
    {
      GError *local_error = NULL;
      gssize n = -1;

      if (socket_wait (self->socket, G_IO_IN, state->deadline, state->cancellable, &local_error))
        n = g_socket_receive_with_blocking (self->socket, (char *) buffer + done, size - done,
                                            FALSE, state->cancellable, &local_error);
      if (n > 0)
        {
          done += (gsize) n;
          continue;
        }
      if (n == 0)
        local_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                           "the node closed the connection");
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&local_error);
          continue;
        }
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
               state->cancelled == NULL && !g_atomic_int_get (&self->aborted))
        {
          state->cancelled = local_error;
          state->cancellable = NULL;
          state->deadline = MIN (state->deadline, g_get_monotonic_time () + ABANDON_LIMIT);
          continue;
        }
      /* Whoever cancelled wants to hear about that, not about the rest. */
      if (state->cancelled != NULL)
        {
          g_error_free (local_error);
          local_error = g_steal_pointer (&state->cancelled);
        }
      return transport_failed (self, local_error, error);
    }
  return TRUE;
}

/* Reads the next message into self->header and self->in.
 *
 * Cancelled before its first byte arrived: FALSE with G_IO_ERROR_CANCELLED,
 * and the stream is still in step (the caller decides what that means for
 * the response it waits for). Cancelled later: the message is still read
 * whole, TRUE, and *@cancelled tells. Anything else that fails breaks the
 * client. The body is read as it arrives, so a header that announces more
 * than the server sends never makes the buffer grow beyond twice what was
 * received. */
static gboolean
receive_message (MsbDbDqliteClient  *self,
                 gint64              deadline,
                 GCancellable       *cancellable,
                 gboolean           *cancelled,
                 GError            **error)
{
  guint8 header[MSB_DB_DQLITE_HEADER_SIZE];
  ReadState state = { deadline, cancellable, NULL };
  GError *local_error = NULL;

  *cancelled = FALSE;
  if (!socket_wait (self->socket, G_IO_IN, deadline, cancellable, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_atomic_int_get (&self->aborted))
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      return transport_failed (self, local_error, error);
    }
  if (!receive_into (self, &state, header, sizeof header, error))
    return FALSE;
  if (!msb_db_dqlite_wire_decode_header (header, sizeof header, &self->header, &local_error))
    {
      g_clear_error (&state.cancelled);
      return protocol_failed (self, local_error, error);
    }

  g_byte_array_set_size (self->in, 0);
  while (self->in->len < self->header.body_size)
    {
      gsize have = self->in->len;
      gsize chunk = MIN (self->header.body_size - have, MAX (have, 65536));

      g_byte_array_set_size (self->in, (guint) (have + chunk));
      if (!receive_into (self, &state, self->in->data + have, chunk, error))
        return FALSE;
    }
  *cancelled = state.cancelled != NULL;
  g_clear_error (&state.cancelled);
  return TRUE;
}

/* Checks the state before a request and starts a new one in self->out. */
static gboolean
begin_request (MsbDbDqliteClient  *self,
               GCancellable       *cancellable,
               GError            **error)
{
  if (g_atomic_int_get (&self->aborted))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CLOSED,
                   "The connection to dqlite node %s was closed", self->address);
      return FALSE;
    }
  if (self->broken)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "The connection to dqlite node %s is out of step after an earlier "
                   "failure; connect again", self->address);
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  self->failure_code = 0;
  if (self->in->len > KEEP_BUFFER)
    {
      g_byte_array_unref (self->in);
      self->in = g_byte_array_new ();
    }
  g_byte_array_set_size (self->out, 0);
  return TRUE;
}

static gboolean
check_response (MsbDbDqliteClient  *self,
                guint8              expected,
                const char         *sql,
                GError            **error)
{
  GError *local_error = NULL;
  g_autofree char *message = NULL;
  guint64 code;

  if (self->header.type == expected)
    return TRUE;
  if (self->header.type != MSB_DB_DQLITE_RESPONSE_FAILURE)
    {
      self->broken = TRUE;
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
                   "dqlite node %s answered with a message of type %u where type %u "
                   "was expected", self->address, self->header.type, expected);
      return FALSE;
    }
  if (!msb_db_dqlite_wire_decode_failure (self->in->data, self->in->len, &code, &message,
                                          &local_error))
    return protocol_failed (self, local_error, error);
  self->failure_code = code;
  set_server_error (code, message, sql, error);
  return FALSE;
}

/* Sends self->out and reads the response, which must be of type @expected
 * or a FAILURE (turned into an error about @sql, if given). */
static gboolean
call (MsbDbDqliteClient  *self,
      guint8              expected,
      const char         *sql,
      GCancellable       *cancellable,
      GError            **error)
{
  gint64 deadline = g_get_monotonic_time () + self->timeout;

  gboolean cancelled;

  if (!send_request (self, deadline, cancellable, error))
    return FALSE;
  /* A response that arrived is the outcome, even if the caller cancelled
   * meanwhile: a write it reports done is done. */
  if (!receive_message (self, deadline, cancellable, &cancelled, error))
    {
      /* The response is still owed: the stream is out of step. */
      self->broken = TRUE;
      return FALSE;
    }
  return check_response (self, expected, sql, error);
}

/* Connecting --------------------------------------------------------------- */

static GSocket *
open_socket (const char    *address,
             gint64         deadline,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GSocketAddress) target = numeric_address (address);
  g_autoptr(GSocket) socket = NULL;
  GError *local_error = NULL;

  if (target == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a numeric IPv4 address and port", address);
      return NULL;
    }
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);

  if (!g_socket_connect (socket, target, cancellable, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      g_clear_error (&local_error);
      if (!socket_wait (socket, G_IO_OUT, deadline, cancellable, error) ||
          !g_socket_check_connect_result (socket, error))
        return NULL;
    }

  /* Requests and responses are small and strictly alternate: Nagle's
   * algorithm would hold each one back for a round trip. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_keepalive (socket, TRUE);
  return g_steal_pointer (&socket);
}

/* The protocol version: eight bytes into a fresh socket. The node does not
 * answer it. */
static gboolean
send_handshake (GSocket       *socket,
                gint64         deadline,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GByteArray) handshake = g_byte_array_new ();
  gsize sent = 0;

  msb_db_dqlite_wire_encode_handshake (handshake);
  while (sent < handshake->len)
    {
      gssize n;

      if (!socket_wait (socket, G_IO_OUT, deadline, cancellable, error))
        return FALSE;
      n = g_socket_send (socket, (const char *) handshake->data + sent, handshake->len - sent,
                         cancellable, error);
      if (n < 0)
        return FALSE;
      sent += (gsize) n;
    }
  return TRUE;
}

/* Connects and does the handshake, with errors in GIO's domain (the callers
 * word them). */
static MsbDbDqliteClient *
client_new (const char    *address,
            GTimeSpan      timeout,
            GCancellable  *cancellable,
            GError       **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout;
  g_autoptr(GSocket) socket = open_socket (address, deadline, cancellable, error);
  MsbDbDqliteClient *self;

  if (socket == NULL || !send_handshake (socket, deadline, cancellable, error))
    return NULL;

  self = g_new0 (MsbDbDqliteClient, 1);
  self->socket = g_object_ref (socket);
  self->connection = g_socket_connection_factory_create_connection (socket);
  self->address = g_strdup (address);
  self->timeout = MSB_DB_DQLITE_DEFAULT_TIMEOUT;
  self->out = g_byte_array_new ();
  self->in = g_byte_array_new ();
  return self;
}

/**
 * msb_db_dqlite_client_connect:
 * @address: a numeric "IPv4:PORT"
 * @timeout: how long connecting and the handshake may take
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to one dqlite node and sends the protocol version. The node does
 * not answer the handshake: a node that refuses it shows on the first
 * request.
 *
 * Returns: (transfer full): the client, or %NULL with
 *   %MSB_DB_ERROR_CANT_OPEN (or %G_IO_ERROR_CANCELLED)
 */
MsbDbDqliteClient *
msb_db_dqlite_client_connect (const char    *address,
                              GTimeSpan      timeout,
                              GCancellable  *cancellable,
                              GError       **error)
{
  GError *local_error = NULL;
  MsbDbDqliteClient *self;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (timeout > 0, NULL);

  self = client_new (address, timeout, cancellable, &local_error);
  if (self != NULL)
    return self;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, local_error);
  else
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
                   "Could not connect to dqlite node %s: %s", address,
                   g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                   ? "no answer in time" : local_error->message);
      g_error_free (local_error);
    }
  return NULL;
}

void
msb_db_dqlite_client_free (MsbDbDqliteClient *self)
{
  if (self == NULL)
    return;
  if (self->connection != NULL)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->connection);
  g_clear_object (&self->socket);
  g_clear_pointer (&self->out, g_byte_array_unref);
  g_clear_pointer (&self->in, g_byte_array_unref);
  g_free (self->address);
  g_free (self);
}

/* The numeric "IPv4:PORT" the client is connected to. */
const char *
msb_db_dqlite_client_get_address (MsbDbDqliteClient *self)
{
  return self->address;
}

/* How long any one wait for the server may take: for the next message of a
 * response, or for room to send. */
void
msb_db_dqlite_client_set_timeout (MsbDbDqliteClient *self,
                                  GTimeSpan          timeout)
{
  g_return_if_fail (timeout > 0);

  self->timeout = timeout;
}

/* The code of the server's FAILURE response to the last request (SQLite's
 * extended result code, or one of dqlite's own), or 0 if the last request
 * got none. */
guint64
msb_db_dqlite_client_get_failure_code (MsbDbDqliteClient *self)
{
  return self->failure_code;
}

/* TRUE once the connection cannot take requests any more: connect again. */
gboolean
msb_db_dqlite_client_is_broken (MsbDbDqliteClient *self)
{
  return self->broken || g_atomic_int_get (&self->aborted);
}

/**
 * msb_db_dqlite_client_abort:
 * @self: a client
 *
 * Makes the call running on another thread (and every later one) fail at
 * once with %MSB_DB_ERROR_CLOSED, by shutting the socket down. The only
 * function that may be called while another thread uses the client; the
 * client must not be freed meanwhile.
 */
void
msb_db_dqlite_client_abort (MsbDbDqliteClient *self)
{
  g_atomic_int_set (&self->aborted, TRUE);
  g_socket_shutdown (self->socket, TRUE, TRUE, NULL);
}

/* Requests ----------------------------------------------------------------- */

/**
 * msb_db_dqlite_client_leader:
 * @self: a client
 * @node_id: (out): the leader's id, or 0 if the node knows no leader
 * @address: (out) (transfer full): the leader's address, or ""
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the node which node it takes for the leader. Only voters know; a
 * node that is not one, or that sees an election under way, names none.
 *
 * Returns: %TRUE on success
 */
gboolean
msb_db_dqlite_client_leader (MsbDbDqliteClient  *self,
                             guint64            *node_id,
                             char              **address,
                             GCancellable       *cancellable,
                             GError            **error)
{
  GError *local_error = NULL;

  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_leader (self->out);
  if (!call (self, MSB_DB_DQLITE_RESPONSE_SERVER, NULL, cancellable, error))
    return FALSE;
  if (!msb_db_dqlite_wire_decode_server (self->in->data, self->in->len, node_id, address,
                                         &local_error))
    return protocol_failed (self, local_error, error);
  return TRUE;
}

/* Registers the client (CLIENT); the node answers with its heartbeat
 * timeout in milliseconds. Not needed for any other request. */
gboolean
msb_db_dqlite_client_identify (MsbDbDqliteClient  *self,
                               guint64             client_id,
                               guint64            *heartbeat_timeout,
                               GCancellable       *cancellable,
                               GError            **error)
{
  GError *local_error = NULL;
  guint64 heartbeat;

  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_client (self->out, client_id);
  if (!call (self, MSB_DB_DQLITE_RESPONSE_WELCOME, NULL, cancellable, error))
    return FALSE;
  if (!msb_db_dqlite_wire_decode_welcome (self->in->data, self->in->len, &heartbeat, &local_error))
    return protocol_failed (self, local_error, error);
  if (heartbeat_timeout != NULL)
    *heartbeat_timeout = heartbeat;
  return TRUE;
}

/* Opens database @name (created on first use); a connection serves one. */
gboolean
msb_db_dqlite_client_open (MsbDbDqliteClient  *self,
                           const char         *name,
                           GCancellable       *cancellable,
                           GError            **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  if (self->db_open)
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "A database is already open on the connection to dqlite node %s",
                   self->address);
      return FALSE;
    }
  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_open (self->out, name);
  if (!call (self, MSB_DB_DQLITE_RESPONSE_DB, NULL, cancellable, error))
    {
      g_prefix_error (error, "Could not open database “%s” on dqlite node %s: ", name,
                      self->address);
      return FALSE;
    }
  if (!msb_db_dqlite_wire_decode_db (self->in->data, self->in->len, &self->db_id, &local_error))
    return protocol_failed (self, local_error, error);
  self->db_open = TRUE;
  return TRUE;
}

static gboolean
check_open (MsbDbDqliteClient  *self,
            GError            **error)
{
  if (self->db_open)
    return TRUE;
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "No database is open on the connection to dqlite node %s", self->address);
  return FALSE;
}

/* dqlite 1.11 crashes (a NULL dereference in its statement registry) when
 * a request names a statement id that was finalized: refuse it here. */
static gboolean
check_stmt (MsbDbDqliteClient  *self,
            MsbDbDqliteStmt    *stmt,
            GError            **error)
{
  if (!stmt->finalized)
    return TRUE;
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "The statement was finalized and cannot run again: %s", stmt->sql);
  return FALSE;
}

/* dqlite 1.11 runs a query without replicating it: a statement that writes,
 * run as a query (INSERT ... RETURNING), changes the leader alone, and its
 * next write trips an assertion that stops the node. Refused here. */
static gboolean
check_query (const char  *sql,
             GError     **error)
{
  g_autofree char *shown = NULL;

  if (!msb_db_sql_may_write (sql))
    return TRUE;
  shown = msb_db_error_excerpt (sql);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_READ_ONLY,
               "This statement may write, and a dqlite query only reads (dqlite does not "
               "replicate a write run as a query): run it with exec: %s", shown);
  return FALSE;
}

/* A statement with RETURNING, run for its effect, leaves dqlite 1.11's
 * write in flight ("another row available"), and the leader's next write
 * trips the same assertion. Refused here. */
static gboolean
check_exec (const char  *sql,
            GError     **error)
{
  g_autofree char *shown = NULL;

  if (!msb_db_sql_has_returning (sql))
    return TRUE;
  shown = msb_db_error_excerpt (sql);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
               "dqlite cannot run a statement with RETURNING for its effect (its leader would "
               "fail on the next write): run it as a query inside a transaction: %s", shown);
  return FALSE;
}

/**
 * msb_db_dqlite_client_prepare:
 * @self: a client with an open database
 * @sql: one statement
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Prepares @sql on the node. The statement lives on this connection only,
 * and only while the node stays leader.
 *
 * Returns: (transfer full): the statement, or %NULL
 */
MsbDbDqliteStmt *
msb_db_dqlite_client_prepare (MsbDbDqliteClient  *self,
                              const char         *sql,
                              GCancellable       *cancellable,
                              GError            **error)
{
  g_autoptr(MsbDbDqliteStmt) stmt = NULL;
  GError *local_error = NULL;
  guint32 db_id;

  g_return_val_if_fail (sql != NULL, NULL);

  if (!check_open (self, error) || !begin_request (self, cancellable, error))
    return NULL;
  msb_db_dqlite_wire_encode_prepare (self->out, self->db_id, sql);
  if (!call (self, MSB_DB_DQLITE_RESPONSE_STMT, sql, cancellable, error))
    return NULL;

  stmt = g_new0 (MsbDbDqliteStmt, 1);
  stmt->client = self;
  stmt->sql = g_strdup (sql);
  if (!msb_db_dqlite_wire_decode_stmt (self->in->data, self->in->len, &db_id, &stmt->id,
                                       &stmt->n_params, &local_error))
    {
      protocol_failed (self, local_error, error);
      return NULL;
    }
  return g_steal_pointer (&stmt);
}

static gboolean
read_result (MsbDbDqliteClient  *self,
             MsbDbDqliteResult  *result,
             GError            **error)
{
  GError *local_error = NULL;
  MsbDbDqliteResult ignored;

  if (result == NULL)
    result = &ignored;
  if (!msb_db_dqlite_wire_decode_result (self->in->data, self->in->len, &result->last_insert_id,
                                         &result->rows_affected, &local_error))
    return protocol_failed (self, local_error, error);
  return TRUE;
}

/* Runs @stmt for its effect. A statement with RETURNING is refused: dqlite
 * 1.11 cannot run one (its leader fails on the next write). */
gboolean
msb_db_dqlite_client_exec (MsbDbDqliteClient  *self,
                           MsbDbDqliteStmt    *stmt,
                           GVariant           *params,
                           MsbDbDqliteResult  *result,
                           GCancellable       *cancellable,
                           GError            **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;

  g_return_val_if_fail (stmt != NULL && stmt->client == self, FALSE);

  if (!check_stmt (self, stmt, error) || !check_exec (stmt->sql, error) ||
      !begin_request (self, cancellable, error))
    return FALSE;
  if (!msb_db_dqlite_wire_encode_exec (self->out, self->db_id, stmt->id, stmt->sql,
                                       (gint64) MIN (stmt->n_params, (guint64) G_MAXINT64),
                                       owned, error))
    return FALSE;
  if (!call (self, MSB_DB_DQLITE_RESPONSE_RESULT, stmt->sql, cancellable, error))
    return FALSE;
  return read_result (self, result, error);
}

/* Tells the server to stop a query whose caller gave up, and reads what it
 * still sends. Only in step again after the server's EMPTY; if that does
 * not come soon, the connection is given up. */
static void
abandon_query (MsbDbDqliteClient *self)
{
  gint64 deadline = g_get_monotonic_time () + MIN (self->timeout, ABANDON_LIMIT);

  g_byte_array_set_size (self->out, 0);
  msb_db_dqlite_wire_encode_interrupt (self->out, self->db_id);
  if (!send_request (self, deadline, NULL, NULL))
    return;
  for (;;)
    {
      gboolean cancelled;

      if (!receive_message (self, deadline, NULL, &cancelled, NULL))
        return;
      if (self->header.type == MSB_DB_DQLITE_RESPONSE_EMPTY)
        return;
      if (self->header.type != MSB_DB_DQLITE_RESPONSE_ROWS &&
          self->header.type != MSB_DB_DQLITE_RESPONSE_FAILURE)
        {
          self->broken = TRUE;
          return;
        }
    }
}

/* A FAILURE that dqlite 1.11 sent in place of the ROWS it had begun (see
 * msb_db_dqlite_wire_failure_is_rows_start()): the statement failed while
 * it ran, and the real code and message are lost. @prepared: a QUERY of a
 * prepared statement, whose own errors came with PREPARE, so that even one
 * column name is not a genuine message. */
static gboolean
unreported_failure (MsbDbDqliteClient  *self,
                    const char         *sql,
                    gboolean            prepared,
                    GError            **error)
{
  g_autofree char *shown = NULL;

  if (self->header.type != MSB_DB_DQLITE_RESPONSE_FAILURE ||
      !msb_db_dqlite_wire_failure_is_rows_start (self->in->data, self->in->len, prepared ? 1 : 2))
    return FALSE;
  self->failure_code = MSB_DB_DQLITE_FAILURE_UNREPORTED;
  shown = msb_db_error_excerpt (sql);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_FAILED,
               "The statement failed while it ran on dqlite node %s, which did not say why "
               "(dqlite 1.11 sends the column names in place of the error) [DQLITE_UNREPORTED] "
               "in SQL: %s", self->address, shown);
  return TRUE;
}

/* Reads the ROWS batches of a query whose request was sent, into a decoder
 * the caller finishes. */
static MsbDbDqliteRowsDecoder *
receive_rows (MsbDbDqliteClient  *self,
              const char         *sql,
              MsbDbColumns      **columns,
              gint64              deadline,
              GCancellable       *cancellable,
              GError            **error)
{
  g_autoptr(MsbDbDqliteRowsDecoder) decoder =
    msb_db_dqlite_rows_decoder_new (columns != NULL ? *columns : NULL);

  for (;;)
    {
      GError *local_error = NULL;
      gboolean cancelled, done;

      if (!receive_message (self, deadline, cancellable, &cancelled, &local_error))
        {
          if (!self->broken)
            abandon_query (self);
          g_propagate_error (error, local_error);
          return NULL;
        }
      if (unreported_failure (self, sql, columns != NULL, error) ||
          !check_response (self, MSB_DB_DQLITE_RESPONSE_ROWS, sql, error))
        return NULL;
      if (!msb_db_dqlite_rows_decoder_feed (decoder, self->in->data, self->in->len, &done,
                                            &local_error))
        {
          protocol_failed (self, local_error, error);
          return NULL;
        }
      /* Complete: a cancel that came too late changes nothing. */
      if (done)
        break;
      if (cancelled || g_cancellable_is_cancelled (cancellable))
        {
          abandon_query (self);
          if (!g_cancellable_set_error_if_cancelled (cancellable, error))
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
          return NULL;
        }
      deadline = g_get_monotonic_time () + self->timeout;
    }

  if (columns != NULL && msb_db_dqlite_rows_decoder_get_columns (decoder) != *columns)
    {
      g_clear_pointer (columns, msb_db_columns_unref);
      *columns = msb_db_columns_ref (msb_db_dqlite_rows_decoder_get_columns (decoder));
    }
  return g_steal_pointer (&decoder);
}

/* Sends the QUERY of @stmt and reads its rows into a decoder. */
static MsbDbDqliteRowsDecoder *
run_query (MsbDbDqliteClient  *self,
           MsbDbDqliteStmt    *stmt,
           GVariant           *params,
           GCancellable       *cancellable,
           GError            **error)
{
  gint64 deadline;

  if (!msb_db_dqlite_wire_encode_query (self->out, self->db_id, stmt->id, stmt->sql,
                                        (gint64) MIN (stmt->n_params, (guint64) G_MAXINT64),
                                        params, error))
    return NULL;
  deadline = g_get_monotonic_time () + self->timeout;
  if (!send_request (self, deadline, cancellable, error))
    return NULL;
  return receive_rows (self, stmt->sql, &stmt->columns, deadline, cancellable, error);
}

/**
 * msb_db_dqlite_client_query:
 * @self: a client
 * @stmt: a statement prepared on @self
 * @params: (nullable): a tuple, an a{sv}, or %NULL; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @stmt and reads all its rows. A statement that may write is refused
 * with %MSB_DB_ERROR_READ_ONLY: dqlite does not replicate a write run as a
 * query (and its leader fails on the next write).
 *
 * Returns: (transfer full): the rows, or %NULL
 */
MsbDbRows *
msb_db_dqlite_client_query (MsbDbDqliteClient  *self,
                            MsbDbDqliteStmt    *stmt,
                            GVariant           *params,
                            GCancellable       *cancellable,
                            GError            **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = NULL;

  g_return_val_if_fail (stmt != NULL && stmt->client == self, NULL);

  if (!check_stmt (self, stmt, error) || !check_query (stmt->sql, error) ||
      !begin_request (self, cancellable, error))
    return NULL;
  decoder = run_query (self, stmt, owned, cancellable, error);
  if (decoder == NULL)
    return NULL;
  return msb_db_dqlite_rows_decoder_finish (decoder, 0, 0);
}

/* Sends QUERY_SQL for @sql and reads its rows into a decoder. */
static MsbDbDqliteRowsDecoder *
run_query_sql (MsbDbDqliteClient  *self,
               const char         *sql,
               GVariant           *params,
               GCancellable       *cancellable,
               GError            **error)
{
  gint64 deadline;

  if (!msb_db_dqlite_wire_encode_query_sql (self->out, self->db_id, sql, params, error))
    return NULL;
  deadline = g_get_monotonic_time () + self->timeout;
  if (!send_request (self, deadline, cancellable, error))
    return NULL;
  return receive_rows (self, sql, NULL, deadline, cancellable, error);
}

/**
 * msb_db_dqlite_client_query_returning:
 * @self: a client
 * @sql: one statement with RETURNING
 * @params: (nullable): a tuple, an a{sv}, or %NULL; a floating reference
 *   is consumed
 * @inserts: whether the result keeps SQLite's last_insert_rowid()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a statement that writes and returns rows (RETURNING) as a query,
 * then reads SQLite's changes() and last_insert_rowid() after it, for the
 * result. Only inside a transaction: dqlite 1.11 replicates what a query
 * wrote with the COMMIT that follows, but not a query that commits by
 * itself (its leader then fails on the next write); and it cannot run such
 * a statement as EXEC at all (it stops at the first row).
 *
 * Returns: (transfer full): the rows, or %NULL
 */
MsbDbRows *
msb_db_dqlite_client_query_returning (MsbDbDqliteClient  *self,
                                      const char         *sql,
                                      GVariant           *params,
                                      gboolean            inserts,
                                      GCancellable       *cancellable,
                                      GError            **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = NULL;
  g_autoptr(MsbDbRows) counts = NULL;
  gint64 changes, rowid;

  g_return_val_if_fail (sql != NULL, NULL);

  if (!msb_db_sql_has_returning (sql))
    {
      g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_INVALID_ARGUMENT,
                   "Only a statement with RETURNING runs as a query that writes: %s", sql);
      return NULL;
    }
  if (!check_open (self, error) || !begin_request (self, cancellable, error))
    return NULL;
  decoder = run_query_sql (self, sql, owned, cancellable, error);
  if (decoder == NULL)
    return NULL;
  /* Asked at once, on the same connection: nothing ran in between. */
  counts = msb_db_dqlite_client_query_sql (self, "SELECT changes (), last_insert_rowid ()", NULL,
                                           NULL, error);
  if (counts == NULL)
    return NULL;
  changes = msb_db_rows_get_int64 (counts, 0, 0);
  rowid = inserts && changes > 0 ? msb_db_rows_get_int64 (counts, 0, 1) : 0;
  return msb_db_dqlite_rows_decoder_finish (decoder, changes, rowid);
}

/* Frees @stmt on the server; the caller still frees the local object, which
 * refuses to run from now on. */
gboolean
msb_db_dqlite_client_finalize (MsbDbDqliteClient  *self,
                               MsbDbDqliteStmt    *stmt,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_return_val_if_fail (stmt != NULL && stmt->client == self, FALSE);

  if (!check_stmt (self, stmt, error) || !begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_finalize (self->out, self->db_id, stmt->id);
  /* Sent is gone: whatever the answer, the id is not used again. */
  stmt->finalized = TRUE;
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, stmt->sql, cancellable, error);
}

/* Runs @sql (several statements allowed; @params bind to the first). */
gboolean
msb_db_dqlite_client_exec_sql (MsbDbDqliteClient  *self,
                               const char         *sql,
                               GVariant           *params,
                               MsbDbDqliteResult  *result,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;

  g_return_val_if_fail (sql != NULL, FALSE);

  if (!check_open (self, error) || !check_exec (sql, error) ||
      !begin_request (self, cancellable, error))
    return FALSE;
  if (!msb_db_dqlite_wire_encode_exec_sql (self->out, self->db_id, sql, owned, error))
    return FALSE;
  if (!call (self, MSB_DB_DQLITE_RESPONSE_RESULT, sql, cancellable, error))
    return FALSE;
  return read_result (self, result, error);
}

/* Runs the one statement @sql and reads all its rows. */
MsbDbRows *
msb_db_dqlite_client_query_sql (MsbDbDqliteClient  *self,
                                const char         *sql,
                                GVariant           *params,
                                GCancellable       *cancellable,
                                GError            **error)
{
  g_autoptr(GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  g_autoptr(MsbDbDqliteRowsDecoder) decoder = NULL;

  g_return_val_if_fail (sql != NULL, NULL);

  if (!check_open (self, error) || !check_query (sql, error) ||
      !begin_request (self, cancellable, error))
    return NULL;
  decoder = run_query_sql (self, sql, owned, cancellable, error);
  if (decoder == NULL)
    return NULL;
  return msb_db_dqlite_rows_decoder_finish (decoder, 0, 0);
}

/* INTERRUPT on an idle connection: a round trip that leaves nothing
 * running. (Queries send it themselves when cancelled; dqlite 1.11 reads it
 * only after the last batch of rows.) */
gboolean
msb_db_dqlite_client_interrupt (MsbDbDqliteClient  *self,
                                GCancellable       *cancellable,
                                GError            **error)
{
  if (!check_open (self, error) || !begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_interrupt (self->out, self->db_id);
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, NULL, cancellable, error);
}

/**
 * msb_db_dqlite_client_cluster:
 * @self: a client
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The members of the cluster as the node knows them.
 *
 * Returns: (transfer full) (element-type MsbDbDqliteNode): the nodes
 */
GPtrArray *
msb_db_dqlite_client_cluster (MsbDbDqliteClient  *self,
                              GCancellable       *cancellable,
                              GError            **error)
{
  GError *local_error = NULL;
  GPtrArray *nodes;

  if (!begin_request (self, cancellable, error))
    return NULL;
  msb_db_dqlite_wire_encode_cluster (self->out);
  if (!call (self, MSB_DB_DQLITE_RESPONSE_SERVERS, NULL, cancellable, error))
    return NULL;
  nodes = msb_db_dqlite_wire_decode_servers (self->in->data, self->in->len, &local_error);
  if (nodes == NULL)
    protocol_failed (self, local_error, error);
  return nodes;
}

/* Membership changes go to the leader; each returns once applied. */
gboolean
msb_db_dqlite_client_add (MsbDbDqliteClient  *self,
                          guint64             node_id,
                          const char         *address,
                          GCancellable       *cancellable,
                          GError            **error)
{
  g_return_val_if_fail (address != NULL, FALSE);

  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_add (self->out, node_id, address);
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, NULL, cancellable, error);
}

gboolean
msb_db_dqlite_client_assign (MsbDbDqliteClient  *self,
                             guint64             node_id,
                             MsbDbDqliteRole     role,
                             GCancellable       *cancellable,
                             GError            **error)
{
  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_assign (self->out, node_id, role);
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, NULL, cancellable, error);
}

gboolean
msb_db_dqlite_client_remove (MsbDbDqliteClient  *self,
                             guint64             node_id,
                             GCancellable       *cancellable,
                             GError            **error)
{
  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_remove (self->out, node_id);
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, NULL, cancellable, error);
}

gboolean
msb_db_dqlite_client_transfer (MsbDbDqliteClient  *self,
                               guint64             node_id,
                               GCancellable       *cancellable,
                               GError            **error)
{
  if (!begin_request (self, cancellable, error))
    return FALSE;
  msb_db_dqlite_wire_encode_transfer (self->out, node_id);
  return call (self, MSB_DB_DQLITE_RESPONSE_EMPTY, NULL, cancellable, error);
}

guint32
msb_db_dqlite_stmt_get_id (MsbDbDqliteStmt *stmt)
{
  return stmt->id;
}

/* The number of parameters, as the server counted them. */
guint64
msb_db_dqlite_stmt_get_n_params (MsbDbDqliteStmt *stmt)
{
  return stmt->n_params;
}

const char *
msb_db_dqlite_stmt_get_sql (MsbDbDqliteStmt *stmt)
{
  return stmt->sql;
}

void
msb_db_dqlite_stmt_free (MsbDbDqliteStmt *stmt)
{
  if (stmt == NULL)
    return;
  g_clear_pointer (&stmt->columns, msb_db_columns_unref);
  g_free (stmt->sql);
  g_free (stmt);
}

/* Leader discovery --------------------------------------------------------- */

/* The last reason each address failed, in the order first tried. */
typedef struct {
  GPtrArray *order;
  GHashTable *reasons;
} Attempts;

static void
attempts_init (Attempts *attempts)
{
  attempts->order = g_ptr_array_new_with_free_func (g_free);
  attempts->reasons = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
}

static void
attempts_clear (Attempts *attempts)
{
  g_hash_table_unref (attempts->reasons);
  g_ptr_array_unref (attempts->order);
}

static void
attempts_note (Attempts   *attempts,
               const char *address,
               const char *reason)
{
  char *key = NULL;

  for (guint i = 0; i < attempts->order->len && key == NULL; i++)
    if (g_str_equal (g_ptr_array_index (attempts->order, i), address))
      key = g_ptr_array_index (attempts->order, i);
  if (key == NULL)
    {
      key = g_strdup (address);
      g_ptr_array_add (attempts->order, key);
    }
  g_hash_table_insert (attempts->reasons, key, g_strdup (reason));
}

static char *
attempts_describe (Attempts *attempts)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < attempts->order->len; i++)
    {
      const char *address = g_ptr_array_index (attempts->order, i);

      g_string_append_printf (text, "%s%s (%s)", i > 0 ? "; " : "", address,
                              (const char *) g_hash_table_lookup (attempts->reasons, address));
    }
  return g_string_free (text, FALSE);
}

/* Connects to @address and asks it for the leader. */
static MsbDbDqliteClient *
ask_leader (const char     *address,
            gint64          deadline,
            guint64        *leader_id,
            char          **leader_address,
            GCancellable   *cancellable,
            Attempts       *attempts,
            GError        **error)
{
  g_autoptr(MsbDbDqliteClient) client = NULL;
  GError *local_error = NULL;
  gint64 left = deadline - g_get_monotonic_time ();

  if (left <= 0)
    return NULL;
  client = client_new (address, left, cancellable, &local_error);
  if (client != NULL)
    {
      client->timeout = MAX (deadline - g_get_monotonic_time (), 1);
      if (msb_db_dqlite_client_leader (client, leader_id, leader_address, cancellable, &local_error))
        return g_steal_pointer (&client);
    }
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, local_error);
  else
    {
      attempts_note (attempts, address,
                     g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                     ? "no answer in time" : local_error->message);
      g_error_free (local_error);
    }
  return NULL;
}

/* One attempt through @address: the leader's client, or NULL. */
static MsbDbDqliteClient *
find_leader_via (const char     *address,
                 gint64          deadline,
                 GCancellable   *cancellable,
                 Attempts       *attempts,
                 GError        **error)
{
  g_autoptr(MsbDbDqliteClient) client = NULL;
  g_autofree char *named = NULL;
  g_autofree char *confirmed = NULL;
  g_autofree char *reason = NULL;
  guint64 id;

  client = ask_leader (address, deadline, &id, &named, cancellable, attempts, error);
  if (client == NULL)
    return NULL;
  if (named[0] == '\0')
    {
      attempts_note (attempts, address, "knows no leader: an election may be under way");
      return NULL;
    }
  if (g_str_equal (named, address))
    return g_steal_pointer (&client);

  /* Follow the lead, and trust it only if the node agrees it leads. */
  g_clear_pointer (&client, msb_db_dqlite_client_free);
  client = ask_leader (named, deadline, &id, &confirmed, cancellable, attempts, error);
  if (client == NULL)
    return NULL;
  if (g_str_equal (confirmed, named))
    return g_steal_pointer (&client);
  reason = g_strdup_printf ("named the leader by %s, but names %s", address,
                            confirmed[0] != '\0' ? confirmed : "no leader");
  attempts_note (attempts, named, reason);
  return NULL;
}

static MsbDbDqliteClient *
find_leader_once (const char * const  *addresses,
                  gint64               deadline,
                  GCancellable        *cancellable,
                  Attempts            *attempts,
                  GError             **error)
{
  for (guint i = 0; addresses[i] != NULL; i++)
    {
      GError *local_error = NULL;
      g_autoptr(GPtrArray) numeric = resolve_address (addresses[i], cancellable, &local_error);

      if (numeric == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, local_error);
              return NULL;
            }
          attempts_note (attempts, addresses[i], local_error->message);
          g_error_free (local_error);
          continue;
        }
      for (guint j = 0; j < numeric->len; j++)
        {
          MsbDbDqliteClient *client = find_leader_via (g_ptr_array_index (numeric, j), deadline,
                                                       cancellable, attempts, error);

          if (client != NULL || (error != NULL && *error != NULL))
            return client;
        }
    }
  return NULL;
}

/* Sleeps @duration, or less if @cancellable is cancelled. */
static void
sleep_cancellable (GTimeSpan     duration,
                   GCancellable *cancellable)
{
  GPollFD pfd;

  if (duration <= 0)
    return;
  if (cancellable == NULL || !g_cancellable_make_pollfd (cancellable, &pfd))
    {
      g_usleep (duration);
      return;
    }
  g_poll (&pfd, 1, (int) ((duration + 999) / 1000));
  g_cancellable_release_fd (cancellable);
}

/**
 * msb_db_dqlite_client_connect_leader:
 * @addresses: (array zero-terminated=1): "HOST:PORT" of some nodes
 * @timeout: how long to look for the leader
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Finds the leader of the cluster and connects to it: asks each listed
 * node which node leads, connects to that one and keeps it only if it
 * names itself. While no node knows a leader (an election), tries again
 * after 100 ms, doubling the pause up to 1 s, until @timeout. Host names
 * are resolved to IPv4 addresses first.
 *
 * Returns: (transfer full): a client connected to the leader, or %NULL
 *   with %MSB_DB_ERROR_CANT_OPEN naming every address tried and why it
 *   failed (or %G_IO_ERROR_CANCELLED)
 */
MsbDbDqliteClient *
msb_db_dqlite_client_connect_leader (const char * const  *addresses,
                                     GTimeSpan            timeout,
                                     GCancellable        *cancellable,
                                     GError             **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout;
  GTimeSpan pause = BACKOFF_FIRST;
  g_autofree char *tried = NULL;
  Attempts attempts;

  g_return_val_if_fail (addresses != NULL && addresses[0] != NULL, NULL);
  g_return_val_if_fail (timeout > 0, NULL);

  attempts_init (&attempts);
  for (;;)
    {
      GError *local_error = NULL;
      MsbDbDqliteClient *client = find_leader_once (addresses, deadline, cancellable,
                                                    &attempts, &local_error);
      gint64 left;

      if (client != NULL)
        {
          client->timeout = MSB_DB_DQLITE_DEFAULT_TIMEOUT;
          attempts_clear (&attempts);
          return client;
        }
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          attempts_clear (&attempts);
          return NULL;
        }
      left = deadline - g_get_monotonic_time ();
      if (left <= 0 || g_cancellable_is_cancelled (cancellable))
        break;
      sleep_cancellable (MIN (pause, left), cancellable);
      pause = MIN (pause * 2, BACKOFF_LAST);
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      attempts_clear (&attempts);
      return NULL;
    }
  tried = attempts_describe (&attempts);
  g_set_error (error, MSB_DB_ERROR, MSB_DB_ERROR_CANT_OPEN,
               "No dqlite leader found within %d ms; tried %s", timeout_ms (timeout),
               tried[0] != '\0' ? tried : "no address in time");
  attempts_clear (&attempts);
  return NULL;
}
