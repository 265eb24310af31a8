/* test-errors.c: error codes and what their messages carry
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <string.h>

static void
setup_schema (Fixture       *fx,
              gconstpointer  data)
{
  fixture_setup_open (fx, data);
  test_write_ok (fx->pools, "CREATE TABLE parent(id INTEGER PRIMARY KEY)", NULL);
  test_write_ok (fx->pools,
                 "CREATE TABLE t("
                 "  id INTEGER PRIMARY KEY,"
                 "  u TEXT UNIQUE,"
                 "  nn TEXT NOT NULL DEFAULT 'x',"
                 "  pos INTEGER CHECK (pos >= 0),"
                 "  parent INTEGER REFERENCES parent(id))", NULL);
  test_write_ok (fx->pools, "INSERT INTO parent(id) VALUES (1)", NULL);
  test_write_ok (fx->pools, "INSERT INTO t(id, u, pos, parent) VALUES (1, 'taken', 1, 1)", NULL);
}

static void
expect_write_error (Fixture    *fx,
                    const char *sql,
                    GVariant   *params,
                    MsbDbError  code,
                    const char *ext_code,
                    const char *sqlite_words)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;
  g_autoptr(MsbDbRows) before = NULL;
  g_autoptr(MsbDbRows) after = NULL;
  g_autoptr(GVariant) vb = NULL;
  g_autoptr(GVariant) va = NULL;

  before = msb_db_pools_read (fx->pools, "SELECT * FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);

  rows = msb_db_pools_write (fx->pools, sql, params, NULL, &error);
  g_test_message ("%s -> %s", sql, error ? error->message : "(success)");
  g_assert_null (rows);
  assert_msb_error (error, code);
  assert_message_contains (error, ext_code);
  assert_message_contains (error, sql);
  if (sqlite_words)
    assert_message_contains (error, sqlite_words);

  /* A failed write had no effect. */
  g_clear_error (&error);
  after = msb_db_pools_read (fx->pools, "SELECT * FROM t ORDER BY id", NULL, NULL, &error);
  g_assert_no_error (error);
  vb = msb_db_rows_to_variant (before);
  va = msb_db_rows_to_variant (after);
  g_assert_true (g_variant_equal (vb, va));
}

static void
test_constraints (Fixture       *fx,
                  gconstpointer  data)
{
  expect_write_error (fx, "INSERT INTO t(u) VALUES ('taken')", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed");
  expect_write_error (fx, "INSERT INTO t(id) VALUES (1)", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_PRIMARYKEY", NULL);
  expect_write_error (fx, "INSERT INTO t(nn) VALUES (NULL)", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_NOTNULL", "NOT NULL constraint failed");
  expect_write_error (fx, "INSERT INTO t(pos) VALUES (-1)", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_CHECK", "CHECK constraint failed");
  expect_write_error (fx, "INSERT INTO t(parent) VALUES (99)", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_FOREIGNKEY", "FOREIGN KEY constraint failed");
  expect_write_error (fx, "DELETE FROM parent WHERE id = 1", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_FOREIGNKEY", NULL);
  /* With parameters, too. */
  expect_write_error (fx, "INSERT INTO t(u) VALUES (?)", g_variant_new ("(s)", "taken"),
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_UNIQUE", NULL);
}

/* A statement that fails half-way changes nothing at all. */
static void
test_statement_atomic (Fixture       *fx,
                       gconstpointer  data)
{
  expect_write_error (fx, "INSERT INTO t(u) VALUES ('a'), ('b'), ('taken'), ('c')", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_UNIQUE", NULL);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);
  expect_write_error (fx, "UPDATE t SET pos = pos - 5", NULL,
                      MSB_DB_ERROR_CONSTRAINT, "SQLITE_CONSTRAINT_CHECK", NULL);
  g_assert_cmpint (raw_int (fx->path, "SELECT pos FROM t WHERE id = 1"), ==, 1);
}

static void
test_sql_errors (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (fx->pools, "SELEC 1", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "syntax error");
  assert_message_contains (error, "SQLITE_ERROR");
  assert_message_contains (error, "SELEC 1");
  g_clear_error (&error);

  rows = msb_db_pools_read (fx->pools, "SELECT * FROM no_such_table_here", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "no such table");
  assert_message_contains (error, "SELECT * FROM no_such_table_here");
  g_clear_error (&error);

  expect_write_error (fx, "INSERT INTO t(no_such_column) VALUES (1)", NULL,
                      MSB_DB_ERROR_SQL, "SQLITE_ERROR", "no_such_column");
  expect_write_error (fx, "UPDATE nowhere SET x = 1", NULL,
                      MSB_DB_ERROR_SQL, "SQLITE_ERROR", "no such table");
  /* SQLite's own type mismatch (a non-integer rowid). */
  expect_write_error (fx, "INSERT INTO t(id) VALUES ('abc')", NULL,
                      MSB_DB_ERROR_SQL, "SQLITE_MISMATCH", NULL);
  /* A runtime error of a function. */
  rows = msb_db_pools_read (fx->pools, "SELECT abs(-9223372036854775807 - 1)", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_SQL);
  assert_message_contains (error, "integer overflow");
}

static void
test_several_statements (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_pools_read (fx->pools, "SELECT 1; SELECT 2", NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Neither the first nor the second statement runs. */
  rows = msb_db_pools_write (fx->pools,
                             "INSERT INTO t(u) VALUES ('first'); INSERT INTO t(u) VALUES ('second')",
                             NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);

  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(u) VALUES ('x');DROP TABLE t",
                             NULL, NULL, &error);
  g_assert_null (rows);
  assert_msb_error (error, MSB_DB_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 1);

  /* One statement with a trailing semicolon, blanks or a comment is fine. */
  rows = msb_db_pools_read (fx->pools, "SELECT 1;", NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);
  rows = msb_db_pools_read (fx->pools, "SELECT 1 ;  \n", NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);
  rows = msb_db_pools_write (fx->pools, "INSERT INTO t(u) VALUES ('ok'); -- done\n",
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&rows);
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t"), ==, 2);
}

static void
test_empty_sql (Fixture       *fx,
                gconstpointer  data)
{
  static const char *empties[] = { "", "   ", "-- nothing\n", "/* nothing */", ";" };

  for (guint i = 0; i < G_N_ELEMENTS (empties); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;

      rows = msb_db_pools_read (fx->pools, empties[i], NULL, NULL, &error);
      g_test_message ("read \"%s\" -> %s", empties[i], error ? error->message : "(success)");
      g_assert_null (rows);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MSB_DB_ERROR);
      g_assert_true (error->code == MSB_DB_ERROR_INVALID_ARGUMENT ||
                     error->code == MSB_DB_ERROR_SQL);
      g_clear_error (&error);

      rows = msb_db_pools_write (fx->pools, empties[i], NULL, NULL, &error);
      g_assert_null (rows);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MSB_DB_ERROR);
      g_assert_true (error->code == MSB_DB_ERROR_INVALID_ARGUMENT ||
                     error->code == MSB_DB_ERROR_SQL);
    }
}

/* Errors inside callbacks carry the same information. */
static gboolean
constraint_cb (MsbDbConnection  *connection,
               gpointer          user_data,
               GError          **error)
{
  g_autoptr(MsbDbRows) rows = NULL;

  rows = msb_db_connection_execute (connection, "INSERT INTO t(u) VALUES ('new one')", NULL, error);
  g_assert_nonnull (rows);
  g_clear_object (&rows);
  rows = msb_db_connection_execute (connection, "INSERT INTO t(u) VALUES ('taken')", NULL, error);
  g_assert_null (rows);
  return FALSE;
}

static void
test_in_transaction (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (msb_db_pools_transaction (fx->pools, constraint_cb, NULL, NULL, &error));
  assert_msb_error (error, MSB_DB_ERROR_CONSTRAINT);
  assert_message_contains (error, "SQLITE_CONSTRAINT_UNIQUE");
  assert_message_contains (error, "INSERT INTO t(u) VALUES ('taken')");
  g_assert_cmpint (raw_int (fx->path, "SELECT count(*) FROM t WHERE u = 'new one'"), ==, 0);
}

/* Messages quote at most 500 characters of the SQL (and of what SQLite
 * echoes back of it) and are always valid UTF-8, on every path. */
static char *
huge_sql (const char *head,
          const char *tail)
{
  GString *s = g_string_new (head);

  while (s->len < 10 * 1024 * 1024)
    g_string_append (s, "abc\xff\xfe ");
  g_string_append (s, tail);
  return g_string_free (s, FALSE);
}

static void
assert_bounded_message (const GError *error,
                        MsbDbError    code)
{
  g_assert_nonnull (error);
  {
    g_autofree char *head = g_utf8_substring (error->message, 0, 100);

    g_test_message ("%s", head);
  }
  assert_msb_error (error, code);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  /* 500 characters of SQL, 500 of SQLite's message, and the words around
   * them: far below the 10 MB given. */
  g_assert_cmpuint (g_utf8_strlen (error->message, -1), <, 1500);
}

typedef struct {
  const char *sql;
} BodyArg;

static gboolean
execute_in_body (MsbDbConnection  *connection,
                 gpointer          user_data,
                 GError          **error)
{
  BodyArg *arg = user_data;
  g_autoptr(MsbDbRows) rows = msb_db_connection_execute (connection, arg->sql, NULL, error);

  return rows != NULL;
}

static void
test_message_bounds (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *several = huge_sql ("SELECT 1; SELECT '", "'");
  g_autofree char *writes = huge_sql ("INSERT INTO t(u) VALUES ('", "')");
  g_autofree char *syntax = huge_sql ("SELEKT '", "'");
  g_autofree char *unterminated = huge_sql ("SELECT '", "");
  g_autofree char *no_table = huge_sql ("SELECT * FROM \"", "\"");
  g_autofree char *param = huge_sql ("SELECT :p", "");
  struct {
    const char *sql;
    gboolean read;
    MsbDbError code;
  } cases[] = {
    { several, TRUE, MSB_DB_ERROR_INVALID_ARGUMENT },
    { several, FALSE, MSB_DB_ERROR_INVALID_ARGUMENT },
    { writes, TRUE, MSB_DB_ERROR_READ_ONLY },
    { syntax, TRUE, MSB_DB_ERROR_SQL },
    { syntax, FALSE, MSB_DB_ERROR_SQL },
    { unterminated, FALSE, MSB_DB_ERROR_SQL },
    { no_table, TRUE, MSB_DB_ERROR_SQL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsbDbRows) rows = NULL;
      BodyArg arg = { cases[i].sql };

      if (cases[i].read)
        rows = msb_db_pools_read (fx->pools, cases[i].sql, NULL, NULL, &error);
      else
        rows = msb_db_pools_write (fx->pools, cases[i].sql, NULL, NULL, &error);
      g_assert_null (rows);
      assert_bounded_message (error, cases[i].code);
      g_clear_error (&error);

      /* The same through a transaction or snapshot body. */
      if (cases[i].read)
        g_assert_false (msb_db_pools_snapshot (fx->pools, execute_in_body, &arg, NULL, &error));
      else
        g_assert_false (msb_db_pools_transaction (fx->pools, execute_in_body, &arg, NULL, &error));
      assert_bounded_message (error, cases[i].code);
    }

  /* A parameter name is quoted the same way. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MsbDbRows) rows = NULL;

    rows = msb_db_pools_read (fx->pools, param, g_variant_new_parsed ("@a{sv} {}"), NULL, &error);
    g_assert_null (rows);
    g_assert_nonnull (error);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_cmpuint (g_utf8_strlen (error->message, -1), <, 1500);
  }
}

static void
test_enum_types (void)
{
  GEnumClass *klass = g_type_class_ref (msb_db_error_get_type ());
  GEnumClass *vklass = g_type_class_ref (msb_db_value_type_get_type ());

  g_assert_nonnull (g_enum_get_value (klass, MSB_DB_ERROR_CORRUPT));
  g_assert_nonnull (g_enum_get_value (klass, MSB_DB_ERROR_POOL_TIMEOUT));
  g_assert_nonnull (g_enum_get_value (vklass, MSB_DB_VALUE_TYPE_BLOB));
  g_assert_cmpuint (MSB_DB_ERROR, !=, 0);
  g_assert_true (MSB_DB_ERROR == msb_db_error_quark ());
  g_type_class_unref (klass);
  g_type_class_unref (vklass);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/errors/" name, Fixture, NULL, setup_schema, func, fixture_teardown)

  ADD ("constraints", test_constraints);
  ADD ("statement-atomic", test_statement_atomic);
  ADD ("sql", test_sql_errors);
  ADD ("several-statements", test_several_statements);
  ADD ("empty-sql", test_empty_sql);
  ADD ("in-transaction", test_in_transaction);
  ADD ("message-bounds", test_message_bounds);
  g_test_add_func ("/errors/enum-types", test_enum_types);

  return g_test_run ();
}
