#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of msb-db migrate, backup, watch, vacuum, checkpoint and
--trusted-schema, run as subprocesses.

Usage: test_tool_apps.py PATH-TO-MSB-DB [unittest arguments...]

Prints TAP, with the harness of test_tool.py. Databases are checked with
Python's own sqlite3 module.
"""

import json
import os
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tool as harness  # noqa: E402


def sql_value(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def make_big(path, megabytes):
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS big (data BLOB)")
    con.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                "WHERE x < ?) INSERT INTO big SELECT randomblob(4000) FROM c",
                (megabytes * 256,))
    con.commit()
    con.close()


class TestMigrate(harness.ToolTestCase):
    def setUp(self):
        super().setUp()
        self.steps = os.path.join(self.dir, "steps")
        os.mkdir(self.steps)
        self.add_step("0001-notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"
                      "CREATE TABLE applied (step INTEGER);\nINSERT INTO applied VALUES (1);\n")
        self.add_step("0002-created.sql", "ALTER TABLE notes ADD COLUMN created TEXT;\n"
                      "INSERT INTO applied VALUES (2);\n")
        self.add_step("README", "not a step")
        self.target = os.path.join(self.dir, "app.db")

    def add_step(self, name, sql):
        with open(os.path.join(self.steps, name), "w") as f:
            f.write(sql)

    def test_migrate(self):
        out = self.ok("migrate", self.target, self.steps)
        self.assertEqual(out, f"{self.target}: version 0 -> 2\n  0001-notes.sql\n  0002-created.sql\n")
        self.assertEqual(sql_value(self.target, "PRAGMA user_version"), 2)
        self.assertEqual(self.ok("migrate", self.target, self.steps),
                         f"{self.target} is up to date: version 2\n")
        self.add_step("0003-index.sql", "CREATE INDEX notes_created ON notes (created);"
                      "INSERT INTO applied VALUES (3)")
        self.assertEqual(self.ok("migrate", self.target, self.steps),
                         f"{self.target}: version 2 -> 3\n  0003-index.sql\n")
        self.assertEqual(sql_value(self.target, "SELECT group_concat(step) FROM applied"), "1,2,3")

    def test_status(self):
        out = self.ok("migrate", "--status", self.target, self.steps)
        self.assertIn("current version  0 (the database does not exist yet)", out)
        self.assertIn("pending          0001-notes.sql", out)
        self.assertFalse(os.path.exists(self.target))
        self.ok("migrate", self.target, self.steps)
        self.add_step("0003-index.sql", "CREATE INDEX i ON notes (created)")
        status = json.loads(self.ok("migrate", "--status", "--json", self.target, self.steps))
        self.assertEqual(status, {"current": 2, "latest": 3, "pending": ["0003-index.sql"]})
        self.assertEqual(sql_value(self.target, "PRAGMA user_version"), 2)

    def test_failing_step(self):
        self.add_step("0003-bad.sql", "INSERT INTO applied VALUES (3); INSERT INTO nope VALUES (1);")
        p = self.run_tool("migrate", self.target, self.steps)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("0003-bad.sql", err)
        self.assertIn("step 3", err)
        self.assertIn("no such table: nope", err)
        self.assertEqual(sql_value(self.target, "PRAGMA user_version"), 2)
        self.assertEqual(sql_value(self.target, "SELECT count(*) FROM applied"), 2)

    def test_too_new(self):
        self.ok("migrate", self.target, self.steps)
        os.unlink(os.path.join(self.steps, "0002-created.sql"))
        self.fails(1, "migrate", self.target, self.steps, needles=["newer", "nothing was changed"])

    def test_bad_directory(self):
        self.add_step("0004-gap.sql", "SELECT 1")
        self.fails(1, "migrate", self.target, self.steps, needles=["0004-gap.sql", "expected step 3"])
        os.unlink(os.path.join(self.steps, "0004-gap.sql"))
        self.add_step("notes.sql", "SELECT 1")
        self.fails(1, "migrate", self.target, self.steps, needles=["notes.sql", "NNNN-name.sql"])
        self.fails(1, "migrate", self.target, os.path.join(self.dir, "nowhere"))
        self.fails(2, "migrate", self.target)
        self.fails(2, "migrate", "--json", self.target, self.steps, needles=["--status"])
        self.assertFalse(os.path.exists(self.target))

    def test_processes(self):
        # Four processes migrate one fresh file at once: each step once.
        for i in range(3, 9):
            self.add_step(f"{i:04d}-step.sql", f"INSERT INTO applied VALUES ({i})")
        procs = [subprocess.Popen([harness.TOOL, "migrate", self.target, self.steps],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(sql_value(self.target, "PRAGMA user_version"), 8)
        self.assertEqual(sql_value(self.target, "SELECT group_concat(step) FROM "
                                   "(SELECT step FROM applied ORDER BY step)"),
                         "1,2,3,4,5,6,7,8")


class TestBackup(harness.ToolTestCase):
    def test_backup(self):
        dest = os.path.join(self.dir, "copy.db")
        p = self.run_tool("backup", self.db, dest)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), f"{self.db}: copied to {dest} (8.0 KiB)\n")
        # Not a terminal: plain progress lines.
        self.assertIn("backup: 100% (8.0 KiB of 8.0 KiB)", p.stderr.decode())
        self.assertEqual(stat.S_IMODE(os.stat(dest).st_mode), 0o600)
        self.assertEqual(sql_value(dest, "PRAGMA integrity_check"), "ok")
        self.assertEqual(sql_value(dest, "SELECT count(*) FROM items"), 4)
        self.assertFalse(os.path.exists(dest + "-wal"))

        self.fails(1, "backup", self.db, dest, needles=["exists", "--replace"])
        p = self.run_tool("backup", "--replace", self.db, dest)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing(self):
        self.fails(1, "backup", os.path.join(self.dir, "none.db"), os.path.join(self.dir, "c.db"))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "none.db")))
        self.fails(2, "backup", self.db)

    def test_interrupted(self):
        make_big(self.db, 64)
        dest = os.path.join(self.dir, "copy.db")
        # On a busy machine the copy can end before the signal arrives (its
        # first progress line may even say 100 %): such a round proves
        # nothing, and another is tried. A Ctrl-C that never cancels fails
        # every round.
        for _ in range(5):
            p = subprocess.Popen([harness.TOOL, "backup", self.db, dest],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # The first progress line: the copy is under way.
            line = p.stderr.readline().decode()
            self.assertTrue(line.startswith("backup: "), line)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
            if p.returncode == 0 and "backup: 100%" in line + err.decode():
                os.unlink(dest)
                continue
            self.assertEqual(p.returncode, 1, (out, err))
            self.assertIn("cancelled", err.decode().lower())
            self.assertEqual(sorted(n for n in os.listdir(self.dir) if n.startswith("copy")), [])
            return
        self.fail("every copy ended before Ctrl-C reached it")


class TestWatch(harness.ToolTestCase):
    def start_watch(self, *args):
        # Unbuffered: a line read must not pull the next one out of select()'s
        # sight.
        p = subprocess.Popen([harness.TOOL, "watch", "--json", "--interval", "20", self.db, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.addCleanup(self.stop, p)
        # Its first look at the database sets where changes start.
        time.sleep(0.5)
        return p

    @staticmethod
    def stop(p):
        if p.poll() is None:
            p.kill()
            p.wait()

    def read_line(self, p, timeout=10):
        ready, _, _ = select.select([p.stdout], [], [], timeout)
        self.assertTrue(ready, "no line from msb-db watch")
        return json.loads(p.stdout.readline().decode())

    def test_watch(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE other (x)")
        con.commit()
        con.close()
        watch = self.start_watch()
        self.ok("exec", "--quiet", self.db, "INSERT INTO items (name) VALUES ('new')")
        seen = {self.read_line(watch)["table"], self.read_line(watch)["table"]}
        # Another process's change: every table.
        self.assertEqual(seen, {"items", "other"})
        watch.send_signal(signal.SIGINT)
        self.assertEqual(watch.wait(timeout=10), 0)

    def test_watch_tables(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE other (x)")
        con.commit()
        con.close()
        watch = self.start_watch("other")
        self.ok("exec", "--quiet", self.db, "INSERT INTO other VALUES (1)")
        line = self.read_line(watch)
        self.assertEqual(line["table"], "other")
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=10)
        self.assertEqual(watch.returncode, 0, err)
        for extra in out.decode().splitlines():
            self.assertEqual(json.loads(extra)["table"], "other")

    def test_errors(self):
        self.fails(1, "watch", os.path.join(self.dir, "none.db"))
        self.fails(2, "watch")
        self.fails(2, "watch", "--interval", "0", self.db)


class TestMaintenance(harness.ToolTestCase):
    def test_vacuum(self):
        make_big(self.db, 4)
        con = sqlite3.connect(self.db)
        con.execute("DELETE FROM big")
        con.commit()
        con.close()
        self.assertGreater(sql_value(self.db, "PRAGMA freelist_count"), 900)
        out = self.ok("vacuum", self.db)
        self.assertRegex(out, r"^.*: vacuumed, 4\.\d MiB -> 12\.0 KiB\n$")
        self.assertEqual(sql_value(self.db, "PRAGMA freelist_count"), 0)
        self.assertEqual(sql_value(self.db, "SELECT count(*) FROM items"), 4)
        # What users try first does not work.
        self.fails(1, "exec", self.db, "VACUUM", needles=["VACUUM"])

    def test_vacuum_missing(self):
        missing = os.path.join(self.dir, "none.db")
        self.fails(1, "vacuum", missing, needles=["no database"])
        self.fails(1, "checkpoint", missing, needles=["no database"])
        self.assertFalse(os.path.exists(missing))

    def test_checkpoint(self):
        out = self.ok("checkpoint", self.db)
        self.assertRegex(out, r"^.*: (\d+) of \1 frames of the log copied into the database \(passive\)\n$")
        for mode in ("full", "restart", "truncate"):
            result = json.loads(self.ok("checkpoint", "--json", "--mode", mode, self.db))
            self.assertEqual(result["mode"], mode)
            self.assertEqual(result["log_frames"], result["checkpointed_frames"])
        self.fails(2, "checkpoint", "--mode", "sometimes", self.db, needles=["passive"])


class TestTrustedSchema(harness.ToolTestCase):
    RECIPE = [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        "CREATE VIRTUAL TABLE notes_fts USING fts5 (body, content='notes', content_rowid='id')",
        "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN "
        "INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body); END",
    ]

    def test_fts5_recipe(self):
        for sql in self.RECIPE:
            self.ok("exec", "--quiet", self.db, sql)
        self.fails(1, "exec", self.db, "INSERT INTO notes (body) VALUES ('hello world')",
                   needles=["unsafe use of virtual table"])
        self.ok("exec", "--quiet", "--trusted-schema", self.db,
                "INSERT INTO notes (body) VALUES ('hello world')")
        out = self.ok("query", "--csv", self.db,
                      "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'hello'")
        self.assertEqual(out, "rowid\r\n1\r\n")
        out = self.ok("query", "--csv", "--trusted-schema", self.db, "PRAGMA trusted_schema")
        self.assertEqual(out, "trusted_schema\r\n1\r\n")

    def test_migrate(self):
        steps = os.path.join(self.dir, "steps")
        os.mkdir(steps)
        with open(os.path.join(steps, "0001-fts.sql"), "w") as f:
            f.write(";\n".join(self.RECIPE) + ";\nINSERT INTO notes (body) VALUES ('seed');\n")
        target = os.path.join(self.dir, "fts.db")
        p = self.run_tool("migrate", target, steps)
        self.assertEqual(p.returncode, 1)
        self.assertIn("unsafe use of virtual table", p.stderr.decode())
        self.ok("migrate", "--trusted-schema", target, steps)
        self.assertEqual(sql_value(target, "SELECT count(*) FROM notes"), 1)


class TestHelp(harness.ToolTestCase):
    def test_help(self):
        for command in ("migrate", "backup", "watch", "vacuum", "checkpoint"):
            out = self.ok(command, "--help")
            self.assertIn(f"msb-db {command}", out)
        self.assertIn("--trusted-schema", self.ok("exec", "--help"))
        out = self.ok("--help")
        for command in ("migrate", "backup", "watch", "vacuum", "checkpoint"):
            self.assertIn(f"  {command}", out)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: test_tool_apps.py PATH-TO-MSB-DB [TEST-NAME...]")
    harness.TOOL = os.path.abspath(sys.argv[1])
    rest = sys.argv[2:]
    loader = unittest.defaultTestLoader
    module = sys.modules[__name__]
    suite = loader.loadTestsFromNames(rest, module) if rest else loader.loadTestsFromModule(module)
    print(f"1..{suite.countTestCases()}", flush=True)
    result = harness.TapResult(sys.stdout)
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
