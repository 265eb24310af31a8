/* msb-db-sql-scan.c: what a statement's text says, without SQLite
 *
 * A remote database (dqlite) is only given SQL text and binds by position,
 * so two things are read from the text here: the parameters, numbered and
 * named exactly as SQLite does, and whether the statement may write.
 *
 * The tokenizer follows SQLite's (tokenize.c): string literals, quoted
 * identifiers ("", ``, []) and comments are skipped; a word runs over
 * identifier characters (letters, digits, `_`, `$` and every byte of a
 * multi-byte UTF-8 character); a variable is `?` with optional digits, or
 * `:`, `@`, `$`, `#` followed by a name that may hold `::` and end in a
 * Tcl-style `(...)` suffix. `#` followed by a digit is not a parameter
 * (SQLite's parser reserves it). Numbering follows expr.c: `?` takes the
 * next number, `?NNN` that number, a name the next number the first time it
 * appears and the same number after that.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "msb-db-sql-scan.h"

typedef enum {
  TOKEN_END,
  TOKEN_SEMICOLON,
  TOKEN_WORD,
  TOKEN_QUOTED,
  TOKEN_VARIABLE,
  TOKEN_PUNCT,
} TokenKind;

typedef struct {
  TokenKind kind;
  const char *start;
  gsize length;
} Token;

struct _MsbDbSqlParams
{
  guint64 count;         /* the largest parameter number seen */
  GHashTable *names;     /* number -> the first name given to it */
  GHashTable *numbers;   /* name -> number; both GUINT_TO_POINTER */
};

/* The tokenizer ------------------------------------------------------------ */

static gboolean
is_id_char (guchar c)
{
  return c >= 0x80 || g_ascii_isalnum (c) || c == '_' || c == '$';
}

/* Skips a string literal or quoted identifier opened by p[0]; a doubled
 * quote stands for itself. An unterminated one runs to the end. */
static const char *
skip_quoted (const char *p)
{
  char quote = *p++;

  for (; *p != '\0'; p++)
    {
      if (*p != quote)
        continue;
      if (p[1] != quote)
        return p + 1;
      p++;
    }
  return p;
}

/* Spaces and comments. A vertical tab is a space to SQLite inside a run
 * of white space (and an illegal token alone); g_ascii_isspace() does not
 * count it. */
static const char *
skip_space (const char *p)
{
  for (;;)
    {
      if (g_ascii_isspace (*p) || *p == '\v')
        p++;
      else if (p[0] == '-' && p[1] == '-')
        {
          const char *end = strchr (p, '\n');
          p = end ? end + 1 : p + strlen (p);
        }
      else if (p[0] == '/' && p[1] == '*')
        {
          const char *end = strstr (p + 2, "*/");
          p = end ? end + 2 : p + strlen (p);
        }
      else
        return p;
    }
}

/* The length of the variable token at @p (`:name`, `@name`, `$name`,
 * `#name`), or 0 if it is not a valid one. */
static gsize
variable_length (const char *p)
{
  gsize n = 0;
  gsize i;

  for (i = 1; p[i] != '\0'; i++)
    {
      if (is_id_char (p[i]))
        n++;
      else if (p[i] == '(' && n > 0)
        {
          do
            i++;
          while (p[i] != '\0' && !g_ascii_isspace (p[i]) && p[i] != ')');
          if (p[i] != ')')
            return 0;
          i++;
          break;
        }
      else if (p[i] == ':' && p[i + 1] == ':')
        i++;
      else
        break;
    }
  return n > 0 ? i : 0;
}

/* Reads the token after @p into @token; returns where it ends. */
static const char *
next_token (const char *p,
            Token      *token)
{
  gsize length = 1;

  p = skip_space (p);
  token->start = p;
  if (*p == '\0')
    {
      token->kind = TOKEN_END;
      token->length = 0;
      return p;
    }

  if (*p == ';')
    token->kind = TOKEN_SEMICOLON;
  else if (*p == '\'' || *p == '"' || *p == '`')
    {
      token->kind = TOKEN_QUOTED;
      length = (gsize) (skip_quoted (p) - p);
    }
  else if (*p == '[')
    {
      const char *end = strchr (p, ']');

      token->kind = TOKEN_QUOTED;
      length = end ? (gsize) (end + 1 - p) : strlen (p);
    }
  else if (*p == '?')
    {
      token->kind = TOKEN_VARIABLE;
      while (g_ascii_isdigit (p[length]))
        length++;
    }
  else if ((*p == ':' || *p == '@' || *p == '$' || *p == '#') && variable_length (p) > 0)
    {
      token->kind = TOKEN_VARIABLE;
      length = variable_length (p);
    }
  else if (is_id_char (*p))
    {
      token->kind = TOKEN_WORD;
      while (is_id_char (p[length]))
        length++;
    }
  else
    token->kind = TOKEN_PUNCT;

  token->length = length;
  return p + length;
}

/* The first token of the first statement: SQLite skips empty statements
 * (lone semicolons) before it. */
static const char *
first_token (const char *sql,
             Token      *token)
{
  const char *p = next_token (sql, token);

  while (token->kind == TOKEN_SEMICOLON)
    p = next_token (p, token);
  return p;
}

static gboolean
token_is (const Token *token,
          const char  *word)
{
  return token->kind == TOKEN_WORD && strlen (word) == token->length &&
         g_ascii_strncasecmp (token->start, word, token->length) == 0;
}

static gboolean
token_is_punct (const Token *token,
                char         c)
{
  return token->kind == TOKEN_PUNCT && token->start[0] == c;
}

/* Parameters --------------------------------------------------------------- */

static guint
lookup_name (const MsbDbSqlParams *self,
             const char           *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->numbers, name));
}

/* Gives @index the name @name unless it already has one. (SQLite allows
 * far fewer parameters than G_MAXUINT.) */
static void
name_index (MsbDbSqlParams *self,
            guint64         index,
            const char     *name,
            gsize           length)
{
  char *copy;

  if (index > G_MAXUINT || g_hash_table_contains (self->names, GUINT_TO_POINTER ((guint) index)))
    return;
  copy = g_strndup (name, length);
  g_hash_table_insert (self->names, GUINT_TO_POINTER ((guint) index), copy);
  g_hash_table_insert (self->numbers, copy, GUINT_TO_POINTER ((guint) index));
}

static void
add_numbered (MsbDbSqlParams *self,
              const Token    *token)
{
  guint64 index = 0;

  for (gsize i = 1; i < token->length; i++)
    index = index > G_MAXUINT64 / 10 - 1 ? G_MAXUINT64 : index * 10 + (guint64) (token->start[i] - '0');
  /* ?0 is an error for SQLite: not counted. */
  if (index == 0)
    return;
  self->count = MAX (self->count, index);
  name_index (self, index, token->start, token->length);
}

static void
add_named (MsbDbSqlParams *self,
           const Token    *token)
{
  g_autofree char *name = g_strndup (token->start, token->length);

  if (lookup_name (self, name) != 0)
    return;
  if (self->count < G_MAXUINT64)
    self->count++;
  name_index (self, self->count, token->start, token->length);
}

static void
add_variable (MsbDbSqlParams *self,
              const Token    *token)
{
  if (token->start[0] == '?' && token->length == 1)
    {
      if (self->count < G_MAXUINT64)
        self->count++;
    }
  else if (token->start[0] == '?')
    add_numbered (self, token);
  else if (!(token->start[0] == '#' && g_ascii_isdigit (token->start[1])))
    add_named (self, token);
}

/* The parameters of the first statement of @sql (after any empty ones). */
MsbDbSqlParams *
msb_db_sql_params_scan (const char *sql)
{
  MsbDbSqlParams *self = g_new0 (MsbDbSqlParams, 1);
  const char *p = sql;
  Token token;

  self->names = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  self->numbers = g_hash_table_new (g_str_hash, g_str_equal);

  for (p = first_token (p, &token); token.kind != TOKEN_END && token.kind != TOKEN_SEMICOLON;
       p = next_token (p, &token))
    if (token.kind == TOKEN_VARIABLE)
      add_variable (self, &token);
  return self;
}

void
msb_db_sql_params_free (MsbDbSqlParams *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->numbers);
  g_hash_table_unref (self->names);
  g_free (self);
}

/* The number of parameters the statement takes: its largest parameter
 * number. */
guint64
msb_db_sql_params_get_count (const MsbDbSqlParams *self)
{
  return self->count;
}

/* The name of parameter @index (from 1), with its prefix (":id", "?3"), or
 * NULL for a plain `?`. */
const char *
msb_db_sql_params_get_name (const MsbDbSqlParams *self,
                            guint                 index)
{
  return g_hash_table_lookup (self->names, GUINT_TO_POINTER (index));
}

/* The number of the parameter that @key names, or 0. As for a local
 * statement, a key may be written with its prefix (":id") or without
 * ("id"): then `:`, `@` and `$` are tried in that order. */
guint
msb_db_sql_params_find (const MsbDbSqlParams *self,
                        const char           *key)
{
  static const char prefixes[] = ":@$";

  if (key[0] != '\0' && strchr (prefixes, key[0]) != NULL)
    return lookup_name (self, key);

  for (const char *prefix = prefixes; *prefix != '\0'; prefix++)
    {
      g_autofree char *name = g_strdup_printf ("%c%s", *prefix, key);
      guint index = lookup_name (self, name);

      if (index != 0)
        return index;
    }
  return 0;
}

/* Writing ------------------------------------------------------------------ */

/* After WITH: the common table expressions are SELECTs; the first keyword
 * outside their parentheses says what the statement does. */
static MsbDbSqlVerb
with_verb (const char *p)
{
  int depth = 0;
  Token token;

  for (p = next_token (p, &token); token.kind != TOKEN_END && token.kind != TOKEN_SEMICOLON;
       p = next_token (p, &token))
    {
      if (token_is_punct (&token, '('))
        depth++;
      else if (token_is_punct (&token, ')'))
        depth--;
      else if (depth == 0 && (token_is (&token, "SELECT") || token_is (&token, "VALUES")))
        return MSB_DB_SQL_VERB_READ;
      else if (depth == 0 && (token_is (&token, "INSERT") || token_is (&token, "REPLACE")))
        return MSB_DB_SQL_VERB_INSERT;
      else if (depth == 0 && token_is (&token, "UPDATE"))
        return MSB_DB_SQL_VERB_UPDATE;
      else if (depth == 0 && token_is (&token, "DELETE"))
        return MSB_DB_SQL_VERB_DELETE;
    }
  return MSB_DB_SQL_VERB_OTHER;
}

static gboolean
with_may_write (const char *p)
{
  return with_verb (p) != MSB_DB_SQL_VERB_READ;
}

/* PRAGMAs that change the database even when only read. */
static const char * const writing_pragmas[] = {
  "optimize", "wal_checkpoint", "incremental_vacuum",
};

/* PRAGMAs whose argument in parentheses names what to read. (For the
 * others, `PRAGMA name(value)` sets the value, like `PRAGMA name = value`.) */
static const char * const reading_pragmas_with_argument[] = {
  "table_info", "table_xinfo", "index_info", "index_xinfo", "index_list",
  "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "table_list",
};

static gboolean
pragma_in (const Token        *name,
           const char * const *list,
           gsize               n)
{
  for (gsize i = 0; i < n; i++)
    if (token_is (name, list[i]))
      return TRUE;
  return FALSE;
}

/* After PRAGMA: [schema.]name, then nothing, "= value" or "(argument)". */
static gboolean
pragma_may_write (const char *p)
{
  Token name, token;

  p = next_token (p, &name);
  p = next_token (p, &token);
  if (token_is_punct (&token, '.'))
    {
      p = next_token (p, &name);
      p = next_token (p, &token);
    }
  if (name.kind != TOKEN_WORD)
    return TRUE;
  if (token.kind == TOKEN_END || token.kind == TOKEN_SEMICOLON)
    return pragma_in (&name, writing_pragmas, G_N_ELEMENTS (writing_pragmas));
  if (token_is_punct (&token, '('))
    return !pragma_in (&name, reading_pragmas_with_argument,
                       G_N_ELEMENTS (reading_pragmas_with_argument));
  return TRUE;
}

/**
 * msb_db_sql_may_write:
 * @sql: SQL text
 *
 * Whether the first statement of @sql may change the database, read from
 * its text. Errs towards %TRUE: only SELECT, VALUES, WITH ... SELECT,
 * PRAGMAs that only read, and EXPLAIN of those are taken for reads.
 *
 * Returns: %FALSE only for a statement that cannot write
 */
gboolean
msb_db_sql_may_write (const char *sql)
{
  Token token;
  const char *p = first_token (sql, &token);

  if (token.kind == TOKEN_END)
    return FALSE;
  if (token_is (&token, "SELECT") || token_is (&token, "VALUES"))
    return FALSE;
  /* SQLite counts EXPLAIN of a write as a write (sqlite3_stmt_readonly()),
   * though it only lists the program: follow it. */
  if (token_is (&token, "EXPLAIN"))
    {
      const char *explained = p;
      const char *after = next_token (p, &token);

      if (token_is (&token, "QUERY"))
        {
          after = next_token (after, &token);
          if (token_is (&token, "PLAN"))
            explained = after;
        }
      return msb_db_sql_may_write (explained);
    }
  if (token_is (&token, "WITH"))
    return with_may_write (p);
  if (token_is (&token, "PRAGMA"))
    return pragma_may_write (p);
  return TRUE;
}

/**
 * msb_db_sql_has_returning:
 * @sql: SQL text
 *
 * Whether any statement of @sql holds the keyword RETURNING (outside
 * literals, quoted identifiers and comments). An identifier spelt
 * `returning` without quotes counts too.
 *
 * Returns: %TRUE if RETURNING appears
 */
gboolean
msb_db_sql_has_returning (const char *sql)
{
  const char *p = sql;
  Token token;

  for (p = next_token (p, &token); token.kind != TOKEN_END; p = next_token (p, &token))
    if (token_is (&token, "RETURNING"))
      return TRUE;
  return FALSE;
}

/* Statements ---------------------------------------------------------------- */

static gboolean
token_in (const Token        *token,
          const char * const *words)
{
  for (gsize i = 0; words[i] != NULL; i++)
    if (token_is (token, words[i]))
      return TRUE;
  return FALSE;
}

/**
 * msb_db_sql_get_verb:
 * @sql: SQL text
 *
 * What the first statement of @sql does, from its leading keywords (and,
 * after WITH, the first keyword outside the common table expressions).
 *
 * Returns: the kind of statement
 */
MsbDbSqlVerb
msb_db_sql_get_verb (const char *sql)
{
  static const char * const transaction[] = {
    "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", NULL
  };
  Token token;
  const char *p = first_token (sql, &token);

  if (token.kind == TOKEN_END)
    return MSB_DB_SQL_VERB_NONE;
  if (token_is (&token, "SELECT") || token_is (&token, "VALUES"))
    return MSB_DB_SQL_VERB_READ;
  if (token_is (&token, "INSERT") || token_is (&token, "REPLACE"))
    return MSB_DB_SQL_VERB_INSERT;
  if (token_is (&token, "UPDATE"))
    return MSB_DB_SQL_VERB_UPDATE;
  if (token_is (&token, "DELETE"))
    return MSB_DB_SQL_VERB_DELETE;
  if (token_is (&token, "WITH"))
    return with_verb (p);
  if (token_in (&token, transaction))
    return MSB_DB_SQL_VERB_TRANSACTION;
  if (token_is (&token, "ATTACH") || token_is (&token, "DETACH"))
    return MSB_DB_SQL_VERB_ATTACH;
  if (token_is (&token, "PRAGMA"))
    return MSB_DB_SQL_VERB_PRAGMA;
  if (token_is (&token, "VACUUM"))
    return MSB_DB_SQL_VERB_VACUUM;
  return MSB_DB_SQL_VERB_OTHER;
}

/* TRUE if the statement whose first token is @token creates a trigger:
 * [EXPLAIN [QUERY PLAN]] CREATE [TEMP|TEMPORARY] TRIGGER. Its body holds
 * statements of its own, each ending in a semicolon. */
static gboolean
starts_trigger (const char *p,
                Token      *token)
{
  if (token_is (token, "EXPLAIN"))
    {
      p = next_token (p, token);
      if (token_is (token, "QUERY"))
        {
          p = next_token (p, token);
          p = next_token (p, token);
        }
    }
  if (!token_is (token, "CREATE"))
    return FALSE;
  p = next_token (p, token);
  if (token_is (token, "TEMP") || token_is (token, "TEMPORARY"))
    next_token (p, token);
  return token_is (token, "TRIGGER");
}

/**
 * msb_db_sql_statement_end:
 * @sql: SQL text
 *
 * Where the first statement of @sql ends, as SQLite's prepare reports it:
 * just past its semicolon, or at the end of the text. Empty statements
 * before it are skipped, and the semicolons inside the body of CREATE
 * TRIGGER (which ends with `END;`) do not end it.
 *
 * Returns: (transfer none): a pointer into @sql
 */
const char *
msb_db_sql_statement_end (const char *sql)
{
  Token token;
  const char *p = first_token (sql, &token);
  gboolean trigger, after_semicolon = FALSE, after_end = FALSE;

  if (token.kind == TOKEN_END)
    return p;
  {
    Token first = token;

    trigger = starts_trigger (p, &first);
  }
  for (; token.kind != TOKEN_END; p = next_token (p, &token))
    {
      if (token.kind != TOKEN_SEMICOLON)
        {
          after_end = trigger && after_semicolon && token_is (&token, "END");
          after_semicolon = FALSE;
          continue;
        }
      if (!trigger || after_end)
        return p;
      after_semicolon = TRUE;
      after_end = FALSE;
    }
  return p;
}

/**
 * msb_db_sql_is_blank:
 * @sql: SQL text
 *
 * Returns: %TRUE if @sql holds nothing but white space, comments and
 *   semicolons
 */
gboolean
msb_db_sql_is_blank (const char *sql)
{
  Token token;

  first_token (sql, &token);
  return token.kind == TOKEN_END;
}

/**
 * msb_db_sql_get_pragma:
 * @sql: SQL text
 * @sets_value: (out) (optional): whether the PRAGMA is given a value
 *   (`= value`, or `(value)` for a PRAGMA that is not a query of a table)
 *
 * The name of the PRAGMA that the first statement of @sql runs.
 *
 * Returns: (transfer full) (nullable): the name in lower case, or %NULL if
 *   the statement is no PRAGMA
 */
char *
msb_db_sql_get_pragma (const char *sql,
                       gboolean   *sets_value)
{
  Token name, token;
  const char *p = first_token (sql, &token);

  if (!token_is (&token, "PRAGMA"))
    return NULL;
  p = next_token (p, &name);
  p = next_token (p, &token);
  if (token_is_punct (&token, '.'))
    {
      p = next_token (p, &name);
      next_token (p, &token);
    }
  if (name.kind != TOKEN_WORD)
    return NULL;
  if (sets_value != NULL)
    *sets_value = token_is_punct (&token, '=') ||
                  (token_is_punct (&token, '(') &&
                   !pragma_in (&name, reading_pragmas_with_argument,
                               G_N_ELEMENTS (reading_pragmas_with_argument)));
  return g_ascii_strdown (name.start, (gssize) name.length);
}

/**
 * msb_db_sql_find_returning:
 * @sql: SQL text
 *
 * Where the RETURNING clause of the first statement of @sql starts: the
 * keyword outside any parentheses.
 *
 * Returns: (transfer none) (nullable): a pointer into @sql, or %NULL
 */
const char *
msb_db_sql_find_returning (const char *sql)
{
  Token token;
  const char *p = first_token (sql, &token);
  int depth = 0;

  for (; token.kind != TOKEN_END && token.kind != TOKEN_SEMICOLON; p = next_token (p, &token))
    {
      if (token_is_punct (&token, '('))
        depth++;
      else if (token_is_punct (&token, ')'))
        depth--;
      else if (depth == 0 && token_is (&token, "RETURNING"))
        return token.start;
    }
  return NULL;
}

/* An identifier as SQLite reads it: without its quotes, a doubled quote
 * standing for one. */
static char *
identifier_text (const Token *token)
{
  char open, close;
  GString *text;

  if (token->kind == TOKEN_WORD)
    return g_strndup (token->start, token->length);
  open = token->start[0];
  close = open == '[' ? ']' : open;
  if (token->length < 2 || token->start[token->length - 1] != close)
    return NULL;
  text = g_string_new (NULL);
  for (gsize i = 1; i + 1 < token->length; i++)
    {
      g_string_append_c (text, token->start[i]);
      if (close != ']' && token->start[i] == close)
        i++;
    }
  return g_string_free (text, FALSE);
}

/**
 * msb_db_sql_get_dml_table:
 * @sql: SQL text
 *
 * The table that the first statement of @sql writes rows to, if it is an
 * `INSERT`, `REPLACE`, `UPDATE` or `DELETE` of a table of the main
 * database, not after `WITH`. What triggers or foreign key actions also
 * change is not told.
 *
 * Returns: (transfer full) (nullable): the name as written, unquoted, or
 *   %NULL
 */
char *
msb_db_sql_get_dml_table (const char *sql)
{
  Token token, name, after;
  const char *p = first_token (sql, &token);
  g_autofree char *schema = NULL;

  if (token_is (&token, "INSERT") || token_is (&token, "UPDATE"))
    {
      gboolean insert = token_is (&token, "INSERT");

      p = next_token (p, &token);
      if (token_is (&token, "OR"))
        {
          p = next_token (p, &token);   /* ROLLBACK, ABORT, REPLACE, FAIL, IGNORE */
          p = next_token (p, &token);
        }
      if (insert && !token_is (&token, "INTO"))
        return NULL;
      if (insert)
        p = next_token (p, &token);
    }
  else if (token_is (&token, "REPLACE") || token_is (&token, "DELETE"))
    {
      const char *expected = token_is (&token, "REPLACE") ? "INTO" : "FROM";

      p = next_token (p, &token);
      if (!token_is (&token, expected))
        return NULL;
      p = next_token (p, &token);
    }
  else
    return NULL;

  name = token;
  p = next_token (p, &after);
  if (token_is_punct (&after, '.'))
    {
      schema = name.kind == TOKEN_WORD || name.kind == TOKEN_QUOTED ? identifier_text (&name) : NULL;
      if (schema == NULL || g_ascii_strcasecmp (schema, "main") != 0)
        return NULL;
      next_token (p, &name);
    }
  if (name.kind != TOKEN_WORD && name.kind != TOKEN_QUOTED)
    return NULL;
  return identifier_text (&name);
}
