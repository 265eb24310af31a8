/* msb-db-rows.c: an immutable query result
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "msb-db-rows-private.h"

/**
 * MsbDbRows:
 *
 * The result of one statement: the rows it produced (a `SELECT`, or the
 * `RETURNING` clause of a write), the number of rows it changed and the last
 * inserted rowid.
 *
 * A result is complete when you get it: every row has been read from SQLite
 * and no statement or connection is held. It never changes afterwards, so
 * it may be read from any number of threads at once.
 *
 * Values keep their SQLite storage class ([enum@MsbDb.ValueType]); SQL NULL
 * stays distinct from 0 and from the empty string. Rows and columns are
 * numbered from 0.
 */

typedef struct
{
  MsbDbValueType type;
  union {
    gint64 i;
    double d;
    struct {
      gsize offset;
      gsize length;
    } span;
  } v;
} Cell;

/* While a result is built, its cells and bytes grow in a scratch: the
 * thread's own, reused from one result to the next (a second result built
 * at once on the same thread gets one of its own). Sealing copies both
 * into one block sized to fit: a point read costs the object and one
 * allocation. */
typedef struct
{
  GArray *cells;        /* of Cell */
  GByteArray *bytes;
  gboolean in_use;
} Scratch;

/* A scratch that grew beyond this is not kept for the next result. */
#define SCRATCH_KEEP (64 * 1024)

struct _MsbDbRows
{
  GObject parent_instance;

  guint n_columns;
  guint n_rows;
  MsbDbColumns *columns;

  Scratch *scratch;     /* while building */

  /* Once sealed: one block, the cells (row-major), then the text and blob
   * bytes. */
  gpointer block;
  const Cell *cells;
  gsize n_cells;
  const guint8 *bytes;

  gint64 changes;
  gint64 last_insert_rowid;
  gboolean too_large;   /* the bytes would not fit in a GByteArray */
};

static void
scratch_free (gpointer data)
{
  Scratch *scratch = data;

  g_array_unref (scratch->cells);
  g_byte_array_unref (scratch->bytes);
  g_free (scratch);
}

static GPrivate thread_scratch = G_PRIVATE_INIT (scratch_free);

static Scratch *
scratch_new (void)
{
  Scratch *scratch = g_new0 (Scratch, 1);

  scratch->cells = g_array_new (FALSE, FALSE, sizeof (Cell));
  scratch->bytes = g_byte_array_new ();
  return scratch;
}

static Scratch *
scratch_take (void)
{
  Scratch *scratch = g_private_get (&thread_scratch);

  if (scratch == NULL)
    {
      scratch = scratch_new ();
      g_private_set (&thread_scratch, scratch);
    }
  if (scratch->in_use)
    scratch = scratch_new ();
  scratch->in_use = TRUE;
  return scratch;
}

static void
scratch_give_back (Scratch *scratch)
{
  if (scratch != g_private_get (&thread_scratch) ||
      scratch->cells->len * sizeof (Cell) + scratch->bytes->len > SCRATCH_KEEP)
    {
      if (scratch == g_private_get (&thread_scratch))
        g_private_replace (&thread_scratch, NULL);
      else
        scratch_free (scratch);
      return;
    }
  g_array_set_size (scratch->cells, 0);
  g_byte_array_set_size (scratch->bytes, 0);
  scratch->in_use = FALSE;
}

G_DEFINE_FINAL_TYPE (MsbDbRows, msb_db_rows, G_TYPE_OBJECT)

static void
msb_db_rows_finalize (GObject *object)
{
  MsbDbRows *self = MSB_DB_ROWS (object);

  g_clear_pointer (&self->columns, msb_db_columns_unref);
  /* A result dropped before it was sealed (an error) on its own thread. */
  if (self->scratch != NULL)
    scratch_give_back (self->scratch);
  g_free (self->block);

  G_OBJECT_CLASS (msb_db_rows_parent_class)->finalize (object);
}

static void
msb_db_rows_class_init (MsbDbRowsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = msb_db_rows_finalize;
}

static void
msb_db_rows_init (MsbDbRows *self)
{
}

/* Starts a result, built on the calling thread until it is sealed. */
MsbDbRows *
msb_db_rows_new (MsbDbColumns *columns)
{
  MsbDbRows *self = g_object_new (MSB_DB_TYPE_ROWS, NULL);

  self->columns = msb_db_columns_ref (columns);
  self->n_columns = msb_db_columns_get_n (columns);
  self->scratch = scratch_take ();
  return self;
}

static void
append_cell (MsbDbRows  *self,
             const Cell *cell)
{
  g_assert (self->scratch != NULL);
  g_array_append_vals (self->scratch->cells, cell, 1);
}

void
msb_db_rows_append_null (MsbDbRows *self)
{
  Cell cell = { .type = MSB_DB_VALUE_TYPE_NULL };

  append_cell (self, &cell);
}

void
msb_db_rows_append_int64 (MsbDbRows *self,
                          gint64     value)
{
  Cell cell = { .type = MSB_DB_VALUE_TYPE_INTEGER, .v.i = value };

  append_cell (self, &cell);
}

void
msb_db_rows_append_double (MsbDbRows *self,
                           double     value)
{
  Cell cell = { .type = MSB_DB_VALUE_TYPE_REAL, .v.d = value };

  append_cell (self, &cell);
}

static void
append_span (MsbDbRows      *self,
             MsbDbValueType  type,
             gconstpointer   data,
             gsize           length)
{
  static const guint8 nul = 0;
  GByteArray *bytes = self->scratch->bytes;
  Cell cell = { .type = type };

  /* A GByteArray holds at most G_MAXUINT bytes: refuse, do not abort. */
  if (self->too_large || length >= G_MAXUINT - 1 - bytes->len)
    {
      self->too_large = TRUE;
      msb_db_rows_append_null (self);
      return;
    }

  cell.v.span.offset = bytes->len;
  cell.v.span.length = length;
  if (length > 0)
    g_byte_array_append (bytes, data, length);
  /* Text is stored NUL-terminated so get_string() can hand out a pointer
   * into the shared bytes. Blobs get one too; it costs a byte and keeps the
   * layout uniform. */
  g_byte_array_append (bytes, &nul, 1);
  append_cell (self, &cell);
}

void
msb_db_rows_append_text (MsbDbRows  *self,
                         const char *text,
                         gsize       length)
{
  append_span (self, MSB_DB_VALUE_TYPE_TEXT, text, length);
}

void
msb_db_rows_append_blob (MsbDbRows    *self,
                         gconstpointer data,
                         gsize         length)
{
  append_span (self, MSB_DB_VALUE_TYPE_BLOB, data, length);
}

/* TRUE if the text and blobs appended so far exceed what one result can
 * hold (4 GiB); the result must then be dropped. */
gboolean
msb_db_rows_is_too_large (MsbDbRows *self)
{
  return self->too_large;
}

void
msb_db_rows_seal (MsbDbRows *self,
                  gint64     changes,
                  gint64     last_insert_rowid)
{
  Scratch *scratch = g_steal_pointer (&self->scratch);
  gsize cells_size;

  g_assert (scratch != NULL);
  self->n_cells = scratch->cells->len;
  g_assert (self->n_columns == 0 || self->n_cells % self->n_columns == 0);

  self->n_rows = self->n_columns ? self->n_cells / self->n_columns : 0;
  self->changes = changes;
  self->last_insert_rowid = last_insert_rowid;

  cells_size = self->n_cells * sizeof (Cell);
  if (cells_size + scratch->bytes->len > 0)
    {
      self->block = g_malloc (cells_size + scratch->bytes->len);
      if (cells_size > 0)
        memcpy (self->block, scratch->cells->data, cells_size);
      if (scratch->bytes->len > 0)
        memcpy ((guint8 *) self->block + cells_size, scratch->bytes->data, scratch->bytes->len);
    }
  self->cells = self->block;
  self->bytes = self->block ? (const guint8 *) self->block + cells_size : NULL;
  scratch_give_back (scratch);
}

/* The bytes of a text or blob cell, sharing the result's memory: the
 * GBytes keeps the result alive. */
static GBytes *
bytes_of (MsbDbRows  *self,
          const Cell *cell)
{
  return g_bytes_new_with_free_func (self->bytes + cell->v.span.offset, cell->v.span.length,
                                     g_object_unref, g_object_ref (self));
}

static const Cell *
get_cell (MsbDbRows *self,
          guint      row,
          guint      column)
{
  return &self->cells[(gsize) row * self->n_columns + column];
}

#define CHECK_CELL(self, row, column, val)                   \
  G_STMT_START {                                             \
    g_return_val_if_fail (MSB_DB_IS_ROWS (self), (val));     \
    g_return_val_if_fail ((row) < (self)->n_rows, (val));    \
    g_return_val_if_fail ((column) < (self)->n_columns, (val)); \
  } G_STMT_END

/**
 * msb_db_rows_get_n_rows:
 * @self: a #MsbDbRows
 *
 * Gets the number of rows of the result.
 *
 * Returns: the number of rows
 */
guint
msb_db_rows_get_n_rows (MsbDbRows *self)
{
  g_return_val_if_fail (MSB_DB_IS_ROWS (self), 0);

  return self->n_rows;
}

/**
 * msb_db_rows_get_n_columns:
 * @self: a #MsbDbRows
 *
 * The number of columns of the statement. A statement with no result
 * columns (an `INSERT` without `RETURNING`) has none; a `SELECT` that
 * matched nothing still has its columns.
 *
 * Returns: the number of columns
 */
guint
msb_db_rows_get_n_columns (MsbDbRows *self)
{
  g_return_val_if_fail (MSB_DB_IS_ROWS (self), 0);

  return self->n_columns;
}

/**
 * msb_db_rows_get_column_name:
 * @self: a #MsbDbRows
 * @column: a column number
 *
 * Gets the name of a result column.
 *
 * Returns: (transfer none): the name of @column, as SQLite reports it
 */
const char *
msb_db_rows_get_column_name (MsbDbRows *self,
                             guint      column)
{
  g_return_val_if_fail (MSB_DB_IS_ROWS (self), NULL);
  g_return_val_if_fail (column < self->n_columns, NULL);

  return msb_db_columns_get_name (self->columns, column);
}

/**
 * msb_db_rows_get_value_type:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Gets the storage class of one value, to choose the getter that fits.
 *
 * Returns: the storage class of the value at (@row, @column)
 */
MsbDbValueType
msb_db_rows_get_value_type (MsbDbRows *self,
                            guint      row,
                            guint      column)
{
  CHECK_CELL (self, row, column, MSB_DB_VALUE_TYPE_NULL);

  return get_cell (self, row, column)->type;
}

/**
 * msb_db_rows_is_null:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Tells SQL NULL apart from 0 and from the empty string.
 *
 * Returns: %TRUE if the value at (@row, @column) is SQL NULL
 */
gboolean
msb_db_rows_is_null (MsbDbRows *self,
                     guint      row,
                     guint      column)
{
  CHECK_CELL (self, row, column, TRUE);

  return get_cell (self, row, column)->type == MSB_DB_VALUE_TYPE_NULL;
}

/**
 * msb_db_rows_get_int64:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Gets a value as an integer. A REAL is truncated towards zero and TEXT is
 * parsed as a decimal integer, as SQLite's own conversions do; NULL and
 * BLOB give 0. Use [method@MsbDb.Rows.is_null] to tell NULL from 0.
 *
 * Returns: the value as a 64-bit integer
 */
gint64
msb_db_rows_get_int64 (MsbDbRows *self,
                       guint      row,
                       guint      column)
{
  const Cell *cell;

  CHECK_CELL (self, row, column, 0);

  cell = get_cell (self, row, column);
  switch (cell->type)
    {
    case MSB_DB_VALUE_TYPE_INTEGER:
      return cell->v.i;
    case MSB_DB_VALUE_TYPE_REAL:
      /* Saturate as sqlite3_column_int64() does; a plain cast of an
       * out-of-range double is undefined. */
      if (isnan (cell->v.d))
        return 0;
      if (cell->v.d >= 9223372036854775807.0)
        return G_MAXINT64;
      if (cell->v.d <= -9223372036854775808.0)
        return G_MININT64;
      return (gint64) cell->v.d;
    case MSB_DB_VALUE_TYPE_TEXT:
      return g_ascii_strtoll ((const char *) self->bytes + cell->v.span.offset, NULL, 10);
    case MSB_DB_VALUE_TYPE_NULL:
    case MSB_DB_VALUE_TYPE_BLOB:
    default:
      return 0;
    }
}

/**
 * msb_db_rows_get_double:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Gets a value as a double. An INTEGER is converted and TEXT is parsed;
 * NULL and BLOB give 0.0.
 *
 * Returns: the value as a double
 */
double
msb_db_rows_get_double (MsbDbRows *self,
                        guint      row,
                        guint      column)
{
  const Cell *cell;

  CHECK_CELL (self, row, column, 0.0);

  cell = get_cell (self, row, column);
  switch (cell->type)
    {
    case MSB_DB_VALUE_TYPE_INTEGER:
      return (double) cell->v.i;
    case MSB_DB_VALUE_TYPE_REAL:
      return cell->v.d;
    case MSB_DB_VALUE_TYPE_TEXT:
      return g_ascii_strtod ((const char *) self->bytes + cell->v.span.offset, NULL);
    case MSB_DB_VALUE_TYPE_NULL:
    case MSB_DB_VALUE_TYPE_BLOB:
    default:
      return 0.0;
    }
}

/**
 * msb_db_rows_get_string:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Gets a TEXT value. The string is owned by @self and lives as long as it.
 * Values of other storage classes give %NULL (numbers are not formatted
 * behind your back); use [method@MsbDb.Rows.get_value_type] to know which
 * getter fits.
 *
 * Returns: (nullable) (transfer none): the text, or %NULL if the value is
 *   not TEXT
 */
const char *
msb_db_rows_get_string (MsbDbRows *self,
                        guint      row,
                        guint      column)
{
  const Cell *cell;

  CHECK_CELL (self, row, column, NULL);

  cell = get_cell (self, row, column);
  if (cell->type != MSB_DB_VALUE_TYPE_TEXT)
    return NULL;
  return (const char *) self->bytes + cell->v.span.offset;
}

/**
 * msb_db_rows_get_bytes:
 * @self: a #MsbDbRows
 * @row: a row number
 * @column: a column number
 *
 * Gets a BLOB, or the bytes of a TEXT value (without a trailing NUL). The
 * bytes are shared with @self, not copied.
 *
 * Returns: (nullable) (transfer full): a new reference to the bytes, or
 *   %NULL if the value is NULL or a number
 */
GBytes *
msb_db_rows_get_bytes (MsbDbRows *self,
                       guint      row,
                       guint      column)
{
  const Cell *cell;

  CHECK_CELL (self, row, column, NULL);

  cell = get_cell (self, row, column);
  if (cell->type != MSB_DB_VALUE_TYPE_BLOB && cell->type != MSB_DB_VALUE_TYPE_TEXT)
    return NULL;
  return bytes_of (self, cell);
}

/**
 * msb_db_rows_get_changes:
 * @self: a #MsbDbRows
 *
 * The number of rows inserted, updated or deleted by the statement; 0 for a
 * statement that does not write.
 *
 * Returns: the number of changed rows
 */
gint64
msb_db_rows_get_changes (MsbDbRows *self)
{
  g_return_val_if_fail (MSB_DB_IS_ROWS (self), 0);

  return self->changes;
}

/**
 * msb_db_rows_get_last_insert_rowid:
 * @self: a #MsbDbRows
 *
 * The rowid of the last row inserted on the connection as seen right after
 * the statement ran. Only meaningful after an `INSERT`.
 *
 * Returns: the last inserted rowid
 */
gint64
msb_db_rows_get_last_insert_rowid (MsbDbRows *self)
{
  g_return_val_if_fail (MSB_DB_IS_ROWS (self), 0);

  return self->last_insert_rowid;
}

/* TRUE if a TEXT cell can be handed out as a C string as it is: valid
 * UTF-8 and no NUL inside (to_variant() and dup_row() give anything else
 * as bytes). */
static gboolean
text_is_clean (MsbDbRows  *self,
               const Cell *cell)
{
  const char *text = (const char *) self->bytes + cell->v.span.offset;

  return g_utf8_validate_len (text, cell->v.span.length, NULL) &&
         strlen (text) == cell->v.span.length;
}

static GVariant *
cell_to_variant (MsbDbRows  *self,
                 const Cell *cell)
{
  GVariant *value = NULL;

  switch (cell->type)
    {
    case MSB_DB_VALUE_TYPE_NULL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case MSB_DB_VALUE_TYPE_INTEGER:
      value = g_variant_new_int64 (cell->v.i);
      break;
    case MSB_DB_VALUE_TYPE_REAL:
      value = g_variant_new_double (cell->v.d);
      break;
    case MSB_DB_VALUE_TYPE_TEXT:
      {
        const char *text = (const char *) self->bytes + cell->v.span.offset;

        /* GVariant strings must be valid UTF-8; SQLite does not check. */
        if (text_is_clean (self, cell))
          value = g_variant_new_string (text);
        else
          value = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, text, cell->v.span.length, 1);
      }
      break;
    case MSB_DB_VALUE_TYPE_BLOB:
      {
        g_autoptr(GBytes) bytes = bytes_of (self, cell);
        value = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
      }
      break;
    default:
      g_assert_not_reached ();
    }
  return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, g_variant_new_variant (value));
}

static const GVariantType *
row_type (MsbDbRows *self)
{
  static GVariantType *cached[16];
  static GMutex lock;
  const GVariantType *type;
  g_autoptr(GPtrArray) items = NULL;

  if (self->n_columns < G_N_ELEMENTS (cached) && (type = g_atomic_pointer_get (&cached[self->n_columns])))
    return type;

  items = g_ptr_array_new ();
  for (guint i = 0; i < self->n_columns; i++)
    g_ptr_array_add (items, (gpointer) G_VARIANT_TYPE ("mv"));

  g_mutex_lock (&lock);
  if (self->n_columns < G_N_ELEMENTS (cached))
    {
      if (cached[self->n_columns] == NULL)
        g_atomic_pointer_set (&cached[self->n_columns],
                              g_variant_type_new_tuple ((const GVariantType * const *) items->pdata, items->len));
      type = cached[self->n_columns];
    }
  else
    type = NULL;
  g_mutex_unlock (&lock);
  return type;
}

/**
 * msb_db_rows_to_variant:
 * @self: a #MsbDbRows
 *
 * The whole result as one #GVariant of type `a(mv…)`: an array with one
 * tuple per row, holding one `mv` per column. SQL NULL is `nothing`; any
 * other value is a variant holding an `x` (INTEGER), a `d` (REAL), an `s`
 * (TEXT) or an `ay` (BLOB, and TEXT that is not valid UTF-8).
 *
 * PyGObject's `GLib.Variant.unpack()` turns it into a list of tuples of
 * plain Python values, with NULL as `None` (PyGObject 3.42 unpacks an `ay`
 * as a list of ints; the `MsbDb` Python override gives `bytes`).
 *
 * Returns: (transfer full): a new non-floating #GVariant
 */
GVariant *
msb_db_rows_to_variant (MsbDbRows *self)
{
  g_autoptr(GVariantType) owned_type = NULL;
  const GVariantType *tuple_type;
  g_autoptr(GVariantType) array_type = NULL;
  GVariantBuilder builder;

  g_return_val_if_fail (MSB_DB_IS_ROWS (self), NULL);

  tuple_type = row_type (self);
  if (tuple_type == NULL)
    {
      g_autoptr(GString) s = g_string_new ("(");
      for (guint i = 0; i < self->n_columns; i++)
        g_string_append (s, "mv");
      g_string_append_c (s, ')');
      owned_type = g_variant_type_new (s->str);
      tuple_type = owned_type;
    }
  array_type = g_variant_type_new_array (tuple_type);

  g_variant_builder_init (&builder, array_type);
  for (guint r = 0; r < self->n_rows; r++)
    {
      g_variant_builder_open (&builder, tuple_type);
      for (guint c = 0; c < self->n_columns; c++)
        g_variant_builder_add_value (&builder, cell_to_variant (self, get_cell (self, r, c)));
      g_variant_builder_close (&builder);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* The values of the arrays that dup_row(), dup_values() and the result
 * queue hand out are allocated a chunk at a time, one allocation for a row
 * or a whole result rather than one per value: the array's free function
 * unsets each value and frees the chunk with its last one. (Bindings pay
 * for every allocation of a point read.) A chunk's values stay in one
 * array, so one thread frees them all. */
typedef struct
{
  gsize remaining;       /* values of the chunk not freed yet */
} ValueChunk;

typedef struct
{
  ValueChunk *chunk;
  GValue value;
} ChunkValue;

/* The element free function of those arrays. */
static void
value_free (gpointer data)
{
  ChunkValue *slot = (ChunkValue *) ((char *) data - G_STRUCT_OFFSET (ChunkValue, value));
  ValueChunk *chunk = slot->chunk;

  g_value_unset (&slot->value);
  if (--chunk->remaining == 0)
    g_free (chunk);
}

/* Appends @n zero-filled values to @values, allocated together; each must
 * be initialized before @values is freed. */
static void
add_values (GPtrArray *values,
            gsize      n)
{
  ValueChunk *chunk;
  ChunkValue *slots;

  if (n == 0)
    return;
  chunk = g_malloc0 (sizeof (ValueChunk) + n * sizeof (ChunkValue));
  slots = (ChunkValue *) (chunk + 1);
  chunk->remaining = n;
  for (gsize i = 0; i < n; i++)
    {
      slots[i].chunk = chunk;
      g_ptr_array_add (values, &slots[i].value);
    }
}

/* The value at @index of @values. */
static GValue *
value_at (GPtrArray *values,
          guint      index)
{
  return g_ptr_array_index (values, index);
}

/* Sets @value (zero-filled) to one cell, as dup_row() and dup_values()
 * describe it. TEXT that a string cannot carry comes as its bytes in an
 * `ay`, or with @mark_text in an `(ay)`, told apart from a BLOB. */
static void
cell_to_value (MsbDbRows  *self,
               const Cell *cell,
               gboolean    mark_text,
               GValue     *value)
{
  switch (cell->type)
    {
    case MSB_DB_VALUE_TYPE_NULL:
      g_value_init (value, G_TYPE_POINTER);
      break;
    case MSB_DB_VALUE_TYPE_INTEGER:
      g_value_init (value, G_TYPE_INT64);
      g_value_set_int64 (value, cell->v.i);
      break;
    case MSB_DB_VALUE_TYPE_REAL:
      g_value_init (value, G_TYPE_DOUBLE);
      g_value_set_double (value, cell->v.d);
      break;
    case MSB_DB_VALUE_TYPE_TEXT:
      if (text_is_clean (self, cell))
        {
          g_value_init (value, G_TYPE_STRING);
          g_value_set_string (value, (const char *) self->bytes + cell->v.span.offset);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case MSB_DB_VALUE_TYPE_BLOB:
      {
        g_autoptr(GBytes) bytes = bytes_of (self, cell);
        GVariant *data = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);

        if (mark_text && cell->type == MSB_DB_VALUE_TYPE_TEXT)
          data = g_variant_new_tuple (&data, 1);
        g_value_init (value, G_TYPE_VARIANT);
        g_value_set_variant (value, data);
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Appends one value of @type to @values, made by msb_db_rows_new_values(). */
GValue *
msb_db_rows_add_value (GPtrArray *values,
                       GType      type)
{
  add_values (values, 1);
  return g_value_init (value_at (values, values->len - 1), type);
}

/**
 * msb_db_rows_dup_row:
 * @self: a #MsbDbRows
 * @row: a row number
 *
 * Copies one whole row into new values (#GValue), one per column, in
 * column order. This is one call instead of one or two per value, meant
 * for language bindings: PyGObject turns the result into a list of Python
 * values, SQL NULL as `None`.
 *
 * Each value holds:
 *
 * - for SQL NULL, a `G_TYPE_POINTER` set to %NULL, so NULL stays distinct
 *   from 0, from "" and from an empty blob: test it with
 *   `G_VALUE_HOLDS_POINTER()`;
 * - for INTEGER, a `G_TYPE_INT64`;
 * - for REAL, a `G_TYPE_DOUBLE`;
 * - for TEXT, a `G_TYPE_STRING` (never %NULL) with a copy of the text;
 * - for BLOB, a `G_TYPE_VARIANT` of type `ay` (never %NULL, possibly empty)
 *   that shares the bytes of @self; g_variant_get_data_as_bytes() gives
 *   them as #GBytes. (A `G_TYPE_BYTES` would not do: PyGObject 3.42 wraps a
 *   boxed value inside a #GValue without taking a reference to it.)
 *
 * TEXT that is not valid UTF-8, or that holds a NUL byte, comes as an `ay`
 * variant too, as in [method@MsbDb.Rows.to_variant]: a #GValue string
 * could not carry it whole, and PyGObject could not convert it. Use
 * [method@MsbDb.Rows.get_value_type] to tell such text from a BLOB.
 *
 * The array frees its values: g_ptr_array_unref() releases everything.
 *
 * Returns: (transfer full) (element-type GValue): the values of @row, or
 *   %NULL if @row is out of range
 */
GPtrArray *
msb_db_rows_dup_row (MsbDbRows *self,
                     guint      row)
{
  GPtrArray *values;

  g_return_val_if_fail (MSB_DB_IS_ROWS (self), NULL);
  g_return_val_if_fail (row < self->n_rows, NULL);

  values = g_ptr_array_new_full (self->n_columns, value_free);
  add_values (values, self->n_columns);
  for (guint c = 0; c < self->n_columns; c++)
    cell_to_value (self, get_cell (self, row, c), FALSE, value_at (values, c));
  return values;
}

/* An empty array of #GValue that frees them, for
 * msb_db_rows_append_values(). */
GPtrArray *
msb_db_rows_new_values (gsize reserved)
{
  return g_ptr_array_new_full (reserved < G_MAXUINT ? (guint) reserved : 0, value_free);
}

/* Appends the flat form of @self (see msb_db_rows_dup_values()) to
 * @values, made by msb_db_rows_new_values(). Returns how many values it
 * appended. */
guint
msb_db_rows_append_values (MsbDbRows *self,
                           GPtrArray *values)
{
  gsize n_cells = (gsize) self->n_rows * self->n_columns;
  guint n_variants = 0;
  guint at = values->len;

  add_values (values, 5 + self->n_columns + n_cells);
  g_value_set_uint (g_value_init (value_at (values, at++), G_TYPE_UINT), self->n_columns);
  g_value_set_uint (g_value_init (value_at (values, at++), G_TYPE_UINT), self->n_rows);
  g_value_set_int64 (g_value_init (value_at (values, at++), G_TYPE_INT64), self->changes);
  g_value_set_int64 (g_value_init (value_at (values, at++), G_TYPE_INT64), self->last_insert_rowid);
  for (gsize i = 0; i < n_cells; i++)
    if (self->cells[i].type == MSB_DB_VALUE_TYPE_BLOB ||
        (self->cells[i].type == MSB_DB_VALUE_TYPE_TEXT && !text_is_clean (self, &self->cells[i])))
      n_variants++;
  g_value_set_uint (g_value_init (value_at (values, at++), G_TYPE_UINT), n_variants);
  for (guint c = 0; c < self->n_columns; c++)
    g_value_set_string (g_value_init (value_at (values, at++), G_TYPE_STRING),
                        msb_db_columns_get_name (self->columns, c));
  for (gsize i = 0; i < n_cells; i++)
    cell_to_value (self, &self->cells[i], TRUE, value_at (values, at++));
  return (guint) (5 + self->n_columns + n_cells);
}

/**
 * msb_db_rows_dup_values:
 * @self: a #MsbDbRows
 *
 * Copies the whole result into one flat array of values (#GValue): a
 * header, the column names, then every value, row after row. It is one
 * call for everything a language binding needs, where the accessors take
 * one or two calls per value; PyGObject turns it into one Python list.
 *
 * The array holds, in this order:
 *
 * 1. the number of columns `n` (`G_TYPE_UINT`);
 * 2. the number of rows `r` (`G_TYPE_UINT`);
 * 3. the number of changed rows, as [method@MsbDb.Rows.get_changes]
 *    (`G_TYPE_INT64`);
 * 4. the last inserted rowid, as
 *    [method@MsbDb.Rows.get_last_insert_rowid] (`G_TYPE_INT64`);
 * 5. how many of the values below are `G_TYPE_VARIANT`s (`G_TYPE_UINT`),
 *    so that a binding which has none to convert can skip looking;
 * 6. the `n` column names (`G_TYPE_STRING`);
 * 7. the `r × n` values, row-major, each as [method@MsbDb.Rows.dup_row]
 *    gives it (SQL NULL a `G_TYPE_POINTER` set to %NULL, INTEGER a
 *    `G_TYPE_INT64`, REAL a `G_TYPE_DOUBLE`, TEXT a `G_TYPE_STRING`, BLOB a
 *    `G_TYPE_VARIANT` of type `ay`), except TEXT that a string cannot
 *    carry (not valid UTF-8, or holding a NUL byte): a `G_TYPE_VARIANT` of
 *    type `(ay)` holding its bytes, so that it is told apart from a BLOB
 *    without another call.
 *
 * The array frees its values: g_ptr_array_unref() releases everything.
 *
 * Returns: (transfer full) (element-type GValue): the result, flat
 */
GPtrArray *
msb_db_rows_dup_values (MsbDbRows *self)
{
  GPtrArray *values;

  g_return_val_if_fail (MSB_DB_IS_ROWS (self), NULL);

  values = msb_db_rows_new_values (5 + self->n_columns +
                                   (gsize) self->n_rows * self->n_columns);
  msb_db_rows_append_values (self, values);
  return values;
}
