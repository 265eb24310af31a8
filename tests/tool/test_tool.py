#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of the msb-db command-line tool, run as a subprocess.

Usage: test_tool.py PATH-TO-MSB-DB [VERSION] [unittest arguments...]

Prints TAP (meson's `protocol: 'tap'`). Fixture databases are made with
Python's own sqlite3 module, so that what the tool prints is checked against
data it did not write itself.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
import unittest

TOOL = None
VERSION = None

# The fixture table: NULL, integers (with the int64 extremes), reals (one
# that %.17g would spell 0.10000000000000001), text with a comma, quotes and
# a newline, an empty string, blobs (one empty).
FIXTURE_ROWS = [
    (1, "plain", 1.5, b"\x0a\x0b", 42),
    (2, 'a, "quoted"\nline', -2.0, None, -7),
    (3, None, None, b"", None),
    (4, "", 0.1, b"\xff\x00", 9223372036854775807),
]


def make_fixture(path):
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, n INTEGER)")
    con.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", FIXTURE_ROWS)
    con.commit()
    con.close()


def make_corrupt_index(path):
    """A database whose index does not match its table: integrity_check
    reports "row N missing from index t_a", but the file opens fine."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
    con.execute("CREATE INDEX t_a ON t (a)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, i * 7 + 1) for i in range(20)])
    con.commit()
    con.execute("PRAGMA writable_schema=ON")
    con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX t_a ON t (b)' WHERE name = 't_a'")
    con.commit()
    con.close()


class ToolTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="msb-db-tool-test-")
        self.db = os.path.join(self.dir, "fixture.db")
        make_fixture(self.db)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_tool(self, *args, stdin=None, timeout=120):
        return subprocess.run([TOOL, *args], input=stdin, capture_output=True,
                              cwd=self.dir, timeout=timeout)

    def ok(self, *args, **kwargs):
        """Runs the tool, expects exit status 0 and nothing on stderr; returns stdout."""
        p = self.run_tool(*args, **kwargs)
        self.assertEqual(p.returncode, 0, f"msb-db {args}: stderr: {p.stderr!r}")
        self.assertEqual(p.stderr, b"", f"msb-db {args}")
        return p.stdout.decode()

    def fails(self, status, *args, needles=(), **kwargs):
        """Runs the tool, expects @status, no output, one line on stderr
        that holds every needle (case-insensitive); returns that line."""
        p = self.run_tool(*args, **kwargs)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, status, f"msb-db {args}: stdout {p.stdout!r} stderr {err!r}")
        self.assertEqual(p.stdout, b"", f"msb-db {args}")
        self.assertTrue(err.endswith("\n") and err.count("\n") == 1,
                        f"expected one line on stderr, got {err!r}")
        for needle in needles:
            self.assertIn(needle.lower(), err.lower())
        return err

    def csv_value(self, *params):
        """SELECT typeof(?1), quote(?1) with the params, as CSV fields."""
        out = self.ok("query", "--csv", self.db, "SELECT typeof(?1), quote(?1)", *params)
        lines = out.split("\r\n")
        self.assertEqual(lines[0], "typeof(?1),quote(?1)")
        self.assertEqual(lines[2], "")
        return tuple(lines[1].split(",", 1))


class TestGlobal(ToolTestCase):
    def test_version(self):
        out = self.ok("--version")
        self.assertRegex(out, r"^msb-db \d+\.\d+\.\d+\n$")
        if VERSION:
            self.assertEqual(out, f"msb-db {VERSION}\n")

    def test_help_lists_commands(self):
        out = self.ok("--help")
        self.assertIn("Usage:", out)
        for command in ("demo", "exec", "query", "check"):
            self.assertRegex(out, rf"(?m)^  {command} ")
        self.assertNotIn("demo-writer", out)  # hidden
        self.assertEqual(self.ok("help"), out)

    def test_no_command_is_usage_error(self):
        p = self.run_tool()
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"Usage:", p.stderr)

    def test_unknown_command(self):
        self.fails(2, "frobnicate", needles=("unknown command", "frobnicate"))
        self.fails(2, "--frobnicate", needles=("unknown option",))

    def test_help_of_each_command(self):
        for command, words in (("exec", ("DB SQL", "--json", "--csv", "--text", "--stats", "--quiet")),
                               ("query", ("DB SQL", "--json", "--csv", "--text", "--stats")),
                               ("check", ("DB", "--json", "--stats")),
                               ("demo", ("--seconds", "--readers", "--writers", "--db", "--keep", "--stats"))):
            with self.subTest(command=command):
                out = self.ok(command, "--help")
                self.assertIn("Usage:", out)
                self.assertIn(f"msb-db {command}", out)
                for word in words:
                    self.assertIn(word, out)
                self.assertEqual(self.ok("help", command), out)

    def test_bad_option(self):
        self.fails(2, "query", "--bogus", self.db, "SELECT 1", needles=("--bogus",))
        self.fails(2, "query", self.db, needles=("expected DB and SQL",))
        self.fails(2, "query", "--json=xml", self.db, "SELECT 1", needles=("xml",))
        self.fails(2, "query", "--csv", "--json", self.db, "SELECT 1", needles=("one output format",))
        self.fails(2, "check", needles=("expected DB",))


class TestOutput(ToolTestCase):
    SQL = "SELECT id, name, score, data, n FROM items ORDER BY id"

    def test_table(self):
        expected = (
            "id | name              | score | data    | n\n"
            "---+-------------------+-------+---------+--------------------\n"
            " 1 | plain             |   1.5 | x'0a0b' |                  42\n"
            " 2 | a, \"quoted\"\\nline |  -2.0 | NULL    |                  -7\n"
            " 3 | NULL              |  NULL | x''     |                NULL\n"
            " 4 |                   |   0.1 | x'ff00' | 9223372036854775807\n"
            "(4 rows)\n")
        self.assertEqual(self.ok("query", self.db, self.SQL), expected)
        self.assertEqual(self.ok("query", "--table", self.db, self.SQL), expected)

    def test_table_null_text_and_empty(self):
        out = self.ok("query", "--null=∅", self.db, "SELECT name FROM items WHERE id = 3")
        self.assertEqual(out, "name\n----\n∅\n(1 row)\n")
        out = self.ok("query", self.db, "SELECT id FROM items WHERE id > 100")
        self.assertEqual(out, "id\n--\n(0 rows)\n")

    def test_table_wide_characters_align(self):
        out = self.ok("query", self.db, "SELECT '好好' AS w, 'x' AS y UNION ALL SELECT 'ab', 'y'")
        self.assertEqual(out, "w    | y\n-----+--\n好好 | x\nab   | y\n(2 rows)\n")

    def test_csv(self):
        p = self.run_tool("query", "--csv", self.db, self.SQL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(),
                         "id,name,score,data,n\r\n"
                         "1,plain,1.5,x'0a0b',42\r\n"
                         "2,\"a, \"\"quoted\"\"\nline\",-2.0,,-7\r\n"
                         "3,,,x'',\r\n"
                         "4,\"\",0.1,x'ff00',9223372036854775807\r\n")

    def test_csv_reads_back(self):
        import csv
        import io
        out = self.ok("query", "--csv", self.db, self.SQL)
        rows = list(csv.reader(io.StringIO(out, newline="")))
        self.assertEqual(rows[0], ["id", "name", "score", "data", "n"])
        self.assertEqual(rows[2][1], 'a, "quoted"\nline')
        self.assertEqual(len(rows), 5)

    JSON_LINES = (
        '{"id":1,"name":"plain","score":1.5,"data":"x\'0a0b\'","n":42}\n'
        '{"id":2,"name":"a, \\"quoted\\"\\nline","score":-2.0,"data":null,"n":-7}\n'
        '{"id":3,"name":null,"score":null,"data":"x\'\'","n":null}\n'
        '{"id":4,"name":"","score":0.1,"data":"x\'ff00\'","n":9223372036854775807}\n')

    def test_json_lines(self):
        out = self.ok("query", "--json", self.db, self.SQL)
        self.assertEqual(out, self.JSON_LINES)
        self.assertEqual(self.ok("query", "--json=lines", self.db, self.SQL), out)
        parsed = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(parsed[1]["name"], 'a, "quoted"\nline')
        self.assertIsNone(parsed[2]["name"])
        self.assertEqual(parsed[3]["n"], 2**63 - 1)
        self.assertEqual(parsed[3]["score"], 0.1)
        self.assertIsInstance(parsed[1]["score"], float)

    def test_json_array(self):
        expected = "[\n" + ",\n".join(self.JSON_LINES.splitlines()) + "\n]\n"
        self.assertEqual(self.ok("query", "--json=array", self.db, self.SQL), expected)
        self.assertEqual(self.ok("query", "--json-array", self.db, self.SQL), expected)
        self.assertEqual(len(json.loads(expected)), 4)
        self.assertEqual(self.ok("query", "--json-array", self.db, "SELECT 1 WHERE 0"), "[]\n")
        self.assertEqual(self.ok("query", "--json", self.db, "SELECT 1 WHERE 0"), "")

    def test_json_repeated_column_names(self):
        out = self.ok("query", "--json", self.db, "SELECT 1 AS a, 2 AS a")
        self.assertEqual(json.loads(out), {"a": 1, "a_2": 2})

    def test_option_after_arguments(self):
        # options may follow DB and SQL; --json must not eat the DB as its value
        self.assertEqual(self.ok("query", self.db, self.SQL, "--json"), self.JSON_LINES)


class TestParams(ToolTestCase):
    def test_integers(self):
        self.assertEqual(self.csv_value("42"), ("integer", "42"))
        self.assertEqual(self.csv_value("-7"), ("integer", "-7"))
        self.assertEqual(self.csv_value("0"), ("integer", "0"))
        self.assertEqual(self.csv_value("9223372036854775807"), ("integer", "9223372036854775807"))
        self.assertEqual(self.csv_value("-9223372036854775808"), ("integer", "-9223372036854775808"))

    def test_not_quite_integers_stay_text(self):
        self.assertEqual(self.csv_value("007"), ("text", "'007'"))
        self.assertEqual(self.csv_value("+5"), ("text", "'+5'"))
        self.assertEqual(self.csv_value("9223372036854775808"), ("text", "'9223372036854775808'"))
        self.assertEqual(self.csv_value("1_000"), ("text", "'1_000'"))

    def test_reals(self):
        self.assertEqual(self.csv_value("1.5"), ("real", "1.5"))
        self.assertEqual(self.csv_value("-0.25"), ("real", "-0.25"))
        self.assertEqual(self.csv_value(".5"), ("real", "0.5"))
        self.assertEqual(self.csv_value("1e3"), ("real", "1000.0"))
        self.assertEqual(self.csv_value("nan"), ("text", "'nan'"))
        self.assertEqual(self.csv_value("inf"), ("text", "'inf'"))

    def test_null(self):
        self.assertEqual(self.csv_value("NULL"), ("null", "NULL"))
        self.assertEqual(self.csv_value("null"), ("text", "'null'"))

    def test_text(self):
        self.assertEqual(self.csv_value("hello"), ("text", "'hello'"))
        self.assertEqual(self.csv_value("é ü"), ("text", "'é ü'"))
        self.assertEqual(self.csv_value(""), ("text", "''"))

    def test_hex_blob(self):
        self.assertEqual(self.csv_value("x'0A0b'"), ("blob", "X'0A0B'"))
        self.assertEqual(self.csv_value("X''"), ("blob", "X''"))
        self.fails(2, "query", self.db, "SELECT ?", "x'0g'", needles=("parameter 1", "hexadecimal"))
        self.fails(2, "query", self.db, "SELECT ?", "x'abc'", needles=("parameter 1", "odd"))

    def test_file_blob(self):
        with open(os.path.join(self.dir, "blob.bin"), "wb") as f:
            f.write(b"a\x00\xff")
        self.assertEqual(self.csv_value("@blob.bin"), ("blob", "X'6100FF'"))
        out = self.ok("query", "--csv", self.db, "SELECT quote(?)", "@-", stdin=b"hi\n")
        self.assertEqual(out, "quote(?)\r\nX'68690A'\r\n")
        self.fails(2, "query", self.db, "SELECT ?", "@missing.bin", needles=("parameter 1", "missing.bin"))

    def test_force_text(self):
        out = self.ok("query", "--csv", "--text", self.db,
                      "SELECT typeof(?1), typeof(?2), typeof(?3), typeof(?4)", "5", "NULL", "x'00'", "1.5")
        self.assertEqual(out.split("\r\n")[1], "text,text,text,text")

    def test_negative_numbers_and_separator(self):
        # a negative number is a parameter, not an option
        self.assertEqual(self.csv_value("-5"), ("integer", "-5"))
        self.assertEqual(self.csv_value("-.5"), ("real", "-0.5"))
        # after --, anything is a parameter
        out = self.ok("query", "--csv", self.db, "SELECT ?1, ?2", "--", "--json", "-x")
        self.assertEqual(out.split("\r\n")[1], "--json,-x")

    def test_parameter_count_mismatch(self):
        self.fails(1, "query", self.db, "SELECT ?, ?", "1", needles=("parameter",))

    def test_round_trip_through_exec(self):
        with open(os.path.join(self.dir, "b.bin"), "wb") as f:
            f.write(bytes(range(256)))
        self.ok("exec", "--quiet", self.db, "CREATE TABLE p (i, r, t, b, f, z)")
        out = self.ok("exec", self.db, "INSERT INTO p VALUES (?, ?, ?, ?, ?, ?)",
                      "-12", "2.5", "some, \"text\"", "x'DEAD'", "@b.bin", "NULL")
        self.assertEqual(out, "1 row changed\n")
        con = sqlite3.connect(self.db)
        row = con.execute("SELECT i, r, t, b, f, z, typeof(i), typeof(r) FROM p").fetchone()
        con.close()
        self.assertEqual(row, (-12, 2.5, 'some, "text"', b"\xde\xad", bytes(range(256)), None,
                               "integer", "real"))


class TestExec(ToolTestCase):
    def test_changes_message(self):
        self.assertEqual(self.ok("exec", self.db, "UPDATE items SET n = n + 1 WHERE n IS NOT NULL AND n < 100"),
                         "2 rows changed\n")
        self.assertEqual(self.ok("exec", self.db, "UPDATE items SET n = 0 WHERE id = 1"), "1 row changed\n")
        self.assertEqual(self.ok("exec", "-q", self.db, "UPDATE items SET n = 1 WHERE id = 1"), "")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT n FROM items WHERE id = 1").fetchone(), (1,))
        con.close()

    def test_changes_in_json_and_csv(self):
        out = self.ok("exec", "--json", self.db, "INSERT INTO items (id, name) VALUES (10, 'x')")
        self.assertEqual(json.loads(out), {"changes": 1, "last_insert_rowid": 10})
        # a new process: its connection inserted nothing yet
        out = self.ok("exec", "--csv", self.db, "DELETE FROM items WHERE id >= 10")
        self.assertEqual(out, "changes,last_insert_rowid\r\n1,0\r\n")

    def test_returning(self):
        out = self.ok("exec", self.db, "INSERT INTO items (name, score) VALUES (?, ?) RETURNING id, name, score",
                      "new", "3.5")
        self.assertEqual(out, "id | name | score\n---+------+------\n 5 | new  |   3.5\n(1 row)\n")
        out = self.ok("exec", "--json", "--quiet", self.db,
                      "UPDATE items SET name = upper(name) WHERE id = 5 RETURNING id, name")
        self.assertEqual(out, '{"id":5,"name":"NEW"}\n')

    def test_creates_database(self):
        path = os.path.join(self.dir, "new.db")
        self.ok("exec", "-q", path, "CREATE TABLE t (a)")
        self.assertTrue(os.path.exists(path))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)  # owner only
        con = sqlite3.connect(path)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone(), ("wal",))
        con.close()

    def test_bad_sql(self):
        err = self.fails(1, "exec", self.db, "INSRT INTO items VALUES (1)", needles=("syntax error", "INSRT"))
        self.assertTrue(err.startswith("msb-db exec: "), err)

    def test_constraint(self):
        self.fails(1, "exec", self.db, "INSERT INTO items (id) VALUES (1)", needles=("constraint",))

    def test_transaction_control_refused(self):
        self.fails(1, "exec", self.db, "BEGIN", needles=("transaction",))

    def test_multiline_sql_error_is_one_line(self):
        self.fails(1, "exec", self.db, "SELECT *\nFROM no_such_table\nWHERE 1", needles=("no_such_table",))

    def test_directory_as_database(self):
        self.fails(1, "exec", self.dir, "CREATE TABLE t (a)", needles=(self.dir, "directory"))

    def test_stats(self):
        p = self.run_tool("exec", "--stats", "-q", self.db, "UPDATE items SET n = 5 WHERE id = 1")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"")
        self.assertRegex(p.stderr.decode(), r"^stats: reads=0 writes=1 transactions=0 .*busy_retries=\d+ "
                                            r".*pool_timeouts=0 .*\n$")


class TestQuery(ToolTestCase):
    def test_bad_sql(self):
        err = self.fails(1, "query", self.db, "SELEC 1", needles=("syntax error", "SELEC"))
        self.assertTrue(err.startswith("msb-db query: "), err)
        self.fails(1, "query", self.db, "SELECT nope FROM items", needles=("nope",))

    def test_missing_database_is_not_created(self):
        path = os.path.join(self.dir, "missing.db")
        self.fails(1, "query", path, "SELECT 1", needles=("missing.db",))
        self.assertEqual(sorted(os.listdir(self.dir)), ["fixture.db"])

    def test_directory_as_database(self):
        self.fails(1, "query", self.dir, "SELECT 1", needles=(self.dir, "directory"))

    def test_refuses_to_write(self):
        self.fails(1, "query", self.db, "DELETE FROM items", needles=("read",))
        self.fails(1, "query", self.db, "CREATE TABLE t (a)", needles=("read",))
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM items").fetchone(), (4,))
        con.close()

    def test_clean_close_leaves_no_wal(self):
        # A clean close of the last user leaves no -wal
        # or -shm behind. The fixture has none to start with.
        self.ok("exec", "-q", self.db, "UPDATE items SET n = 1 WHERE id = 1")
        self.assertEqual(sorted(os.listdir(self.dir)), ["fixture.db"], "after exec")
        self.ok("query", self.db, "SELECT * FROM items")
        self.assertEqual(sorted(os.listdir(self.dir)), ["fixture.db"], "after query (read-only pools)")
        self.ok("check", self.db)
        self.assertEqual(sorted(os.listdir(self.dir)), ["fixture.db"], "after check (read-only pools)")

    def test_sqlite_target(self):
        out = self.ok("query", "--csv", "sqlite://" + self.db, "SELECT count(*) AS c FROM items")
        self.assertEqual(out, "c\r\n4\r\n")
        self.fails(1, "query", "postgres://host/db", "SELECT 1", needles=("postgres://",))

    def test_stats(self):
        p = self.run_tool("query", "--stats", "--csv", self.db, "SELECT 1 AS one")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"one\r\n1\r\n")
        self.assertRegex(p.stderr.decode(), r"^stats: reads=1 writes=0 transactions=0 snapshots=0 "
                                            r"busy_retries=\d+ retries_exhausted=0 pool_timeouts=0 "
                                            r"write_batches=\d+ checkpoints=\d+ wal_bytes=\d+\n$")

    def test_busy_timeout_option(self):
        self.assertEqual(self.ok("query", "--busy-timeout=1.5", "--csv", self.db, "PRAGMA busy_timeout"),
                         "timeout\r\n1500\r\n")
        self.fails(2, "query", "--busy-timeout=-1", self.db, "SELECT 1", needles=("--busy-timeout",))


class TestCheck(ToolTestCase):
    def test_good_database(self):
        out = self.ok("check", self.db)
        lines = out.splitlines()
        self.assertEqual(lines[0], f"database        {self.db}")
        for line in ("integrity       ok", "journal_mode    wal", "page_size       4096",
                     "freelist_count  0", "synchronous     1 (NORMAL)", "foreign_keys    1 (ON)",
                     "busy_timeout    5000 ms", "trusted_schema  0 (OFF)"):
            self.assertIn(line, lines)
        self.assertRegex(out, r"(?m)^page_count      [1-9]\d*$")
        self.assertRegex(out, r"(?m)^file_size       [1-9]\d* bytes$")
        self.assertRegex(out, r"(?m)^wal_size        (\d+ bytes|none \(no -wal file\))$")

    def test_wal_size_as_found(self):
        # a writer that is still open: its -wal holds the new pages
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("INSERT INTO items (name) VALUES (zeroblob(100000))")
        con.commit()
        size = os.path.getsize(self.db + "-wal")
        out = self.ok("check", self.db)
        con.close()
        self.assertIn(f"wal_size        {size} bytes", out.splitlines())

    def test_json(self):
        out = self.ok("check", "--json", "--busy-timeout=2", self.db)
        report = json.loads(out)
        self.assertEqual(report["ok"], True)
        self.assertEqual(report["integrity"], ["ok"])
        self.assertEqual(report["journal_mode"], "wal")
        self.assertEqual(report["busy_timeout"], 2000)
        self.assertEqual((report["synchronous"], report["foreign_keys"], report["trusted_schema"]), (1, 1, 0))
        self.assertEqual(report["page_size"] * report["page_count"], os.path.getsize(self.db))

    def test_integrity_failure(self):
        path = os.path.join(self.dir, "corrupt.db")
        make_corrupt_index(path)
        p = self.run_tool("check", path)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("row 1 missing from index t_a", p.stdout.decode())
        self.assertNotIn("integrity       ok", p.stdout.decode())
        self.assertEqual(p.stderr.decode(), "msb-db check: integrity check failed: 20 problems\n")
        p = self.run_tool("check", "--json", path)
        self.assertEqual(p.returncode, 1)
        report = json.loads(p.stdout)
        self.assertEqual(report["ok"], False)
        self.assertEqual(len(report["integrity"]), 20)

    def test_not_a_database(self):
        path = os.path.join(self.dir, "junk.db")
        with open(path, "wb") as f:
            f.write(b"this is not an SQLite database, only some text" * 100)
        self.fails(1, "check", path, needles=("not a database",))

    def test_missing_database_is_not_created(self):
        path = os.path.join(self.dir, "missing.db")
        self.fails(1, "check", path, needles=("missing.db",))
        self.assertFalse(os.path.exists(path))

    def test_directory(self):
        self.fails(1, "check", self.dir, needles=("directory",))

    def test_does_not_write(self):
        before = os.path.getsize(self.db), os.path.getmtime(self.db)
        self.ok("check", self.db)
        self.assertEqual((os.path.getsize(self.db), os.path.getmtime(self.db)), before)


class TestDemo(ToolTestCase):
    def check_report(self, out):
        self.assertRegex(out, r"(?m)^errors            0$")
        self.assertRegex(out, r"(?m)^  this process    (\d+) acknowledged items, \1 on disk, 0 missing, 0 unexpected$")
        self.assertRegex(out, r"(?m)^                  (\d+) acknowledged batches, \1 on disk, 0 missing, 0 unexpected$")
        self.assertRegex(out, r"(?m)^  batches         \d+ in the file, 0 without exactly 3 items$")
        self.assertRegex(out, r"(?m)^  read after ack  \d+ checks, 0 misses$")
        self.assertRegex(out, r"(?m)^  snapshots       \d+ checks, 0 inconsistent$")
        self.assertRegex(out, r"(?m)^  quick_check     ok$")
        self.assertIn("\nresult: OK", out)
        # it did something: writes and transactions in both processes
        m = re.search(r"(?m)^  writes +(\d+) +(\d+) ", out)
        self.assertTrue(m and int(m.group(1)) > 0 and int(m.group(2)) > 0, out)
        m = re.search(r"(?m)^  transactions +(\d+) +(\d+) ", out)
        self.assertTrue(m and int(m.group(1)) > 0 and int(m.group(2)) > 0, out)

    def test_demo_default_temporary_database(self):
        p = self.run_tool("demo", "--seconds", "1", timeout=120)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.check_report(out)
        self.assertRegex(out, r"(?m)^  process \d+ +\d+ acknowledged items \(ids \d+\.\.\d+\), \d+ batches: all on disk$")
        self.assertNotIn("\r", out)  # not a tty: plain lines
        self.assertIn("  -wal/-shm       none left by the last writer's close\n", out)
        path = re.search(r"(?m)^database: (.*)$", out).group(1)
        self.assertFalse(os.path.exists(os.path.dirname(path)), "temporary directory not removed")

    def test_demo_given_database_and_stats(self):
        path = os.path.join(self.dir, "demo.db")
        p = self.run_tool("demo", "--seconds=1", "--readers=2", "--writers=3", "--processes=2",
                          "--db", path, "--stats", timeout=120)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.check_report(out)
        self.assertEqual(len(re.findall(r"(?m)^  process \d+ .*: all on disk$", out)), 2, out)
        self.assertRegex(p.stderr.decode(), r"(?m)^stats: reads=[1-9]\d* writes=[1-9]\d* transactions=[1-9]\d* ")
        # the file stays, and is sound
        self.assertTrue(os.path.exists(path))
        self.assertIn("integrity       ok", self.ok("check", path))
        con = sqlite3.connect(path)
        writers = con.execute("SELECT count(DISTINCT writer) FROM demo_items").fetchone()[0]
        con.close()
        self.assertEqual(writers, 3)  # this process and two others

    def test_demo_bad_options(self):
        self.fails(2, "demo", "--seconds=0", needles=("--seconds",))
        self.fails(2, "demo", "--readers=-1", needles=("--readers",))
        self.fails(2, "demo", "extra", needles=("no arguments",))


class TapResult(unittest.TestResult):
    """Writes one TAP line per test; failures as # comments."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.number = 0

    def startTest(self, test):
        super().startTest(test)
        self.number += 1
        self.reported = False

    def stopTest(self, test):
        super().stopTest(test)
        if not self.reported:  # a failed subtest: no addSuccess/addFailure
            self._line(False, test)

    def _line(self, ok, test, directive=""):
        self.reported = True
        name = test.id().split(".", 1)[-1]
        self.stream.write(f"{'ok' if ok else 'not ok'} {self.number} - {name}{directive}\n")
        self.stream.flush()

    def _diagnostic(self, err):
        for line in "".join(traceback.format_exception(*err)).splitlines():
            self.stream.write(f"# {line}\n")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diagnostic(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diagnostic(err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.stream.write(f"# failed: {subtest.id()}\n")
            self._diagnostic(err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")


def main():
    global TOOL, VERSION
    if len(sys.argv) < 2:
        sys.exit("usage: test_tool.py PATH-TO-MSB-DB [VERSION] [TEST-NAME...]")
    TOOL = os.path.abspath(sys.argv[1])
    rest = sys.argv[2:]
    if rest and re.fullmatch(r"\d+\.\d+\.\d+", rest[0]):
        VERSION = rest.pop(0)

    loader = unittest.defaultTestLoader
    module = sys.modules[__name__]
    suite = loader.loadTestsFromNames(rest, module) if rest else loader.loadTestsFromModule(module)
    print(f"1..{suite.countTestCases()}", flush=True)
    result = TapResult(sys.stdout)
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
