/* fault-proxy.c: a TCP proxy in front of a dqlite node that loses a COMMIT
 *
 * Clients connect to the proxy as to the node: every byte is passed on,
 * and the proxy follows the dqlite protocol just enough to do two things.
 * It names itself wherever the node names itself as the leader, so that
 * the client's leader discovery keeps to the proxy. And, when armed, it
 * loses the next COMMIT (EXEC of a statement prepared from "COMMIT", or
 * EXEC_SQL ending in COMMIT) in one of two ways: the request never reaches the
 * node, or the node gets it and its answer never reaches the client. The
 * connection is cut either way, as when a leader dies. With @refuse_after,
 * every later connection is cut at once, as when no leader can be reached
 * any more. Stalled, it holds every answer back (a node that hangs) until
 * it is told to go on.
 *
 * One thread accepts; each connection has a thread per direction, with
 * blocking sockets. Shutting a connection's sockets down ends its threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fault-proxy.h"
#include "msb-db-dqlite-wire.h"

#define RESPONSE_SERVER 1
#define RESPONSE_STMT   5
#define REQUEST_PREPARE 4
#define REQUEST_EXEC    5
#define REQUEST_EXEC_SQL 8

struct _FaultProxy
{
  char *upstream;
  char *address;
  GSocket *listener;
  GCancellable *stop;
  GThread *acceptor;

  GMutex lock;
  GCond resumed;             /* signalled when unstalled, or a link is cut */
  gboolean stalled;
  GPtrArray *links;          /* of Link */
  FaultMode armed;
  gboolean refuse_after;
  gboolean refusing;
  guint fired;
};

typedef struct
{
  FaultProxy *proxy;
  gboolean cut;              /* under the proxy's lock */
  GSocket *client;
  GSocket *server;
  GThread *up;
  GThread *down;

  /* Under the proxy's lock. */
  char *pending_prepare;     /* the SQL of the PREPARE awaiting its STMT */
  gboolean commit_known;
  guint32 commit_stmt;
  gboolean drop_next_answer;
} Link;

static gboolean
read_full (GSocket *socket,
           guint8  *buffer,
           gsize    size)
{
  gsize done = 0;

  while (done < size)
    {
      gssize n = g_socket_receive (socket, (char *) buffer + done, size - done, NULL, NULL);

      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static gboolean
write_full (GSocket      *socket,
            const guint8 *buffer,
            gsize         size)
{
  gsize done = 0;

  while (done < size)
    {
      gssize n = g_socket_send (socket, (const char *) buffer + done, size - done, NULL, NULL);

      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static void
link_cut (Link *link)
{
  g_mutex_lock (&link->proxy->lock);
  link->cut = TRUE;
  g_cond_broadcast (&link->proxy->resumed);
  g_mutex_unlock (&link->proxy->lock);
  g_socket_shutdown (link->client, TRUE, TRUE, NULL);
  g_socket_shutdown (link->server, TRUE, TRUE, NULL);
}

/* One message: the 8-byte header, then the body it announces. */
static GByteArray *
read_message (GSocket *socket)
{
  g_autoptr(GByteArray) message = g_byte_array_sized_new (MSB_DB_DQLITE_HEADER_SIZE);
  guint32 words;

  g_byte_array_set_size (message, MSB_DB_DQLITE_HEADER_SIZE);
  if (!read_full (socket, message->data, MSB_DB_DQLITE_HEADER_SIZE))
    return NULL;
  memcpy (&words, message->data, sizeof words);
  words = GUINT32_FROM_LE (words);
  if (words > MSB_DB_DQLITE_MAX_MESSAGE / 8)
    return NULL;
  g_byte_array_set_size (message, MSB_DB_DQLITE_HEADER_SIZE + words * 8);
  if (!read_full (socket, message->data + MSB_DB_DQLITE_HEADER_SIZE, words * 8))
    return NULL;
  return g_steal_pointer (&message);
}

static const char *
body_text (GByteArray *message,
           gsize       offset)
{
  gsize start = MSB_DB_DQLITE_HEADER_SIZE + offset;

  if (message->len <= start || memchr (message->data + start, '\0', message->len - start) == NULL)
    return "";
  return (const char *) message->data + start;
}

static guint32
body_u32 (GByteArray *message,
          gsize       offset)
{
  guint32 value = 0;

  if (message->len >= MSB_DB_DQLITE_HEADER_SIZE + offset + 4)
    memcpy (&value, message->data + MSB_DB_DQLITE_HEADER_SIZE + offset, 4);
  return GUINT32_FROM_LE (value);
}

/* Under the lock: whether @message, from the client, is a COMMIT. */
static gboolean
is_commit (Link       *link,
           GByteArray *message)
{
  guint8 type = message->data[4];

  if (type == REQUEST_PREPARE)
    {
      g_free (link->pending_prepare);
      link->pending_prepare = g_strdup (body_text (message, 8));
    }
  if (type == REQUEST_EXEC)
    return link->commit_known && body_u32 (message, 4) == link->commit_stmt;
  if (type == REQUEST_EXEC_SQL)
    {
      g_autofree char *sql = g_ascii_strup (body_text (message, 8), -1);

      /* COMMIT alone, or as the last statement of several (the marker). */
      return g_str_has_suffix (g_strstrip (sql), "COMMIT");
    }
  return FALSE;
}

/* Under the lock: the armed fault, taken by the COMMIT that meets it. */
static FaultMode
take_fault (FaultProxy *self)
{
  FaultMode mode = self->armed;

  if (mode == FAULT_NONE)
    return FAULT_NONE;
  self->armed = FAULT_NONE;
  self->fired++;
  if (self->refuse_after)
    self->refusing = TRUE;
  return mode;
}

static gpointer
pump_up (gpointer data)
{
  Link *link = data;
  FaultProxy *self = link->proxy;
  guint8 handshake[MSB_DB_DQLITE_HANDSHAKE_SIZE];

  if (!read_full (link->client, handshake, sizeof handshake) ||
      !write_full (link->server, handshake, sizeof handshake))
    {
      link_cut (link);
      return NULL;
    }
  for (;;)
    {
      g_autoptr(GByteArray) message = read_message (link->client);
      FaultMode fault = FAULT_NONE;

      if (message == NULL)
        break;
      g_mutex_lock (&self->lock);
      if (is_commit (link, message))
        fault = take_fault (self);
      if (fault == FAULT_DROP_COMMIT_ANSWER)
        link->drop_next_answer = TRUE;
      g_mutex_unlock (&self->lock);

      if (fault == FAULT_DROP_COMMIT ||
          !write_full (link->server, message->data, message->len))
        break;
    }
  link_cut (link);
  return NULL;
}

/* SERVER names the leader: where it names the node behind the proxy, it
 * names the proxy instead. */
static GByteArray *
rewrite_server (FaultProxy *self,
                GByteArray *message)
{
  GByteArray *rewritten;
  gsize text_size = strlen (self->address) + 1;
  guint32 words;

  if (message->data[4] != RESPONSE_SERVER ||
      !g_str_equal (body_text (message, 8), self->upstream))
    return g_byte_array_ref (message);
  rewritten = g_byte_array_new ();
  g_byte_array_append (rewritten, message->data, MSB_DB_DQLITE_HEADER_SIZE + 8);
  g_byte_array_append (rewritten, (const guint8 *) self->address, text_size);
  while (rewritten->len % 8 != 0)
    g_byte_array_append (rewritten, (const guint8 *) "", 1);
  words = GUINT32_TO_LE ((rewritten->len - MSB_DB_DQLITE_HEADER_SIZE) / 8);
  memcpy (rewritten->data, &words, sizeof words);
  return rewritten;
}

static gpointer
pump_down (gpointer data)
{
  Link *link = data;
  FaultProxy *self = link->proxy;

  for (;;)
    {
      g_autoptr(GByteArray) message = read_message (link->server);
      g_autoptr(GByteArray) out = NULL;
      gboolean drop;

      if (message == NULL)
        break;
      g_mutex_lock (&self->lock);
      while (self->stalled && !link->cut)
        g_cond_wait (&self->resumed, &self->lock);
      drop = link->drop_next_answer || link->cut;
      if (message->data[4] == RESPONSE_STMT && g_strcmp0 (link->pending_prepare, "COMMIT") == 0)
        {
          link->commit_known = TRUE;
          link->commit_stmt = body_u32 (message, 4);
        }
      g_clear_pointer (&link->pending_prepare, g_free);
      g_mutex_unlock (&self->lock);

      out = rewrite_server (self, message);
      if (drop || !write_full (link->client, out->data, out->len))
        break;
    }
  link_cut (link);
  return NULL;
}

static GSocket *
connect_upstream (FaultProxy *self)
{
  g_autoptr(GSocketClient) connector = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  GSocket *socket;

  connection = g_socket_client_connect_to_host (connector, self->upstream, 0, NULL, NULL);
  if (connection == NULL)
    return NULL;
  socket = g_object_ref (g_socket_connection_get_socket (connection));
  /* The socket outlives the connection object: keep it open. */
  g_object_set_data_full (G_OBJECT (socket), "connection", g_steal_pointer (&connection),
                          g_object_unref);
  return socket;
}

static gpointer
accept_loop (gpointer data)
{
  FaultProxy *self = data;

  for (;;)
    {
      g_autoptr(GSocket) client = g_socket_accept (self->listener, self->stop, NULL);
      GSocket *server;
      Link *link;
      gboolean refusing;

      if (client == NULL)
        break;
      g_mutex_lock (&self->lock);
      refusing = self->refusing;
      g_mutex_unlock (&self->lock);
      if (refusing || (server = connect_upstream (self)) == NULL)
        {
          g_socket_close (client, NULL);
          continue;
        }
      g_socket_set_blocking (client, TRUE);
      link = g_new0 (Link, 1);
      link->proxy = self;
      link->client = g_steal_pointer (&client);
      link->server = server;
      g_mutex_lock (&self->lock);
      g_ptr_array_add (self->links, link);
      g_mutex_unlock (&self->lock);
      link->up = g_thread_new ("proxy-up", pump_up, link);
      link->down = g_thread_new ("proxy-down", pump_down, link);
    }
  return NULL;
}

/* A proxy on 127.0.0.1 (a free port) in front of the node at @upstream. */
FaultProxy *
fault_proxy_new (const char *upstream)
{
  FaultProxy *self = g_new0 (FaultProxy, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  self->upstream = g_strdup (upstream);
  self->stop = g_cancellable_new ();
  self->links = g_ptr_array_new ();
  g_mutex_init (&self->lock);
  g_cond_init (&self->resumed);
  self->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (self->listener, any, TRUE, &error));
  g_assert_true (g_socket_listen (self->listener, &error));
  bound = g_socket_get_local_address (self->listener, &error);
  g_assert_no_error (error);
  self->address = g_strdup_printf ("127.0.0.1:%u",
                                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  self->acceptor = g_thread_new ("proxy-accept", accept_loop, self);
  return self;
}

const char *
fault_proxy_get_address (FaultProxy *self)
{
  return self->address;
}

/* The next COMMIT through the proxy meets @mode; once. */
void
fault_proxy_arm (FaultProxy *self,
                 FaultMode   mode,
                 gboolean    refuse_after)
{
  g_mutex_lock (&self->lock);
  self->armed = mode;
  self->refuse_after = refuse_after;
  g_mutex_unlock (&self->lock);
}

/* Holds every answer back while @stalled. */
void
fault_proxy_stall (FaultProxy *self,
                   gboolean    stalled)
{
  g_mutex_lock (&self->lock);
  self->stalled = stalled;
  g_cond_broadcast (&self->resumed);
  g_mutex_unlock (&self->lock);
}

guint
fault_proxy_get_fired (FaultProxy *self)
{
  guint fired;

  g_mutex_lock (&self->lock);
  fired = self->fired;
  g_mutex_unlock (&self->lock);
  return fired;
}

void
fault_proxy_free (FaultProxy *self)
{
  fault_proxy_stall (self, FALSE);
  g_cancellable_cancel (self->stop);
  g_thread_join (self->acceptor);
  for (guint i = 0; i < self->links->len; i++)
    {
      Link *link = g_ptr_array_index (self->links, i);

      link_cut (link);
      g_thread_join (link->up);
      g_thread_join (link->down);
      g_object_unref (link->client);
      g_object_unref (link->server);
      g_free (link->pending_prepare);
      g_free (link);
    }
  g_ptr_array_unref (self->links);
  g_socket_close (self->listener, NULL);
  g_object_unref (self->listener);
  g_object_unref (self->stop);
  g_cond_clear (&self->resumed);
  g_mutex_clear (&self->lock);
  g_free (self->upstream);
  g_free (self->address);
  g_free (self);
}
