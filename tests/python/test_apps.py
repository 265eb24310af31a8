# SPDX-License-Identifier: LGPL-2.1-or-later
"""What applications need next, from Python: migrate, backup, the changed
signal (this process and others), vacuum, checkpoint, trusted_schema.
"""

import os
import stat
import subprocess
import sys
import textwrap
import time
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib, Gio  # noqa: E402

STEPS = [
    'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);'
    'CREATE TABLE applied (step INTEGER)',
    'ALTER TABLE notes ADD COLUMN created TEXT; INSERT INTO applied VALUES (2)',
    'CREATE INDEX notes_created ON notes (created); INSERT INTO applied VALUES (3)',
]

# SQLite's external-content FTS5 recipe.
FTS5_RECIPE = [
    'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)',
    "CREATE VIRTUAL TABLE notes_fts USING fts5 (body, content='notes', "
    "content_rowid='id')",
    'CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN '
    'INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body); END',
    'CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN '
    "INSERT INTO notes_fts (notes_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); END",
]

# A second process, with the same environment (typelib, override).
WRITER = textwrap.dedent('''
    import sys
    import gi
    gi.require_version('MsbDb', '1.0')
    from gi.repository import MsbDb
    with MsbDb.Pools.open(sys.argv[1]) as db:
        db.write(sys.argv[2])
''')


def other_process_writes(path, sql):
    subprocess.run([sys.executable, '-c', WRITER, path, sql], check=True,
                   timeout=60)


class AppsTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.db = MsbDb.Pools.open(self.path, connect_timeout=30)
        self.addCleanup(self.db.close)


class TestMigrate(AppsTestCase):
    def test_migrate(self):
        self.assertEqual(self.db.get_schema_version(), 0)
        self.assertEqual(self.db.migrate(STEPS[:2]), 2)
        self.assertEqual(self.db.get_schema_version(), 2)
        self.assertEqual(self.db.migrate(STEPS), 3)
        self.assertEqual(self.db.migrate(STEPS), 3)
        self.assertEqual(self.db.read('SELECT step FROM applied ORDER BY 1'),
                         [(2,), (3,)])

    def test_too_new(self):
        self.db.migrate(STEPS)
        with self.assertRaises(MsbDb.SchemaTooNewError) as ctx:
            self.db.migrate(STEPS[:1])
        self.assertIsInstance(ctx.exception, MsbDb.OperationalError)
        self.assertMsbError(ctx.exception, MsbDb.Error.SCHEMA_TOO_NEW, MsbDb)
        self.assertEqual(self.db.get_schema_version(), 3)

    def test_failing_step(self):
        bad = STEPS[:2] + ['INSERT INTO applied VALUES (3); SELEC 1']
        with self.assertRaises(MsbDb.SqlError) as ctx:
            self.db.migrate(bad)
        self.assertIn('step 3', ctx.exception.message)
        self.assertIn('syntax error', ctx.exception.message)
        self.assertEqual(self.db.get_schema_version(), 2)
        self.assertEqual(self.db.read('SELECT count(*) FROM applied')[0][0], 1)

    def test_wrong_arguments(self):
        with self.assertRaises(TypeError):
            self.db.migrate('CREATE TABLE t (x)')
        with self.assertRaises(TypeError):
            self.db.migrate([b'CREATE TABLE t (x)'])
        self.assertEqual(self.db.get_schema_version(), 0)

    def test_async(self):
        loop = GLib.MainLoop()
        outcome = []

        def done(db, result):
            outcome.append(db.migrate_finish(result))
            loop.quit()
        self.db.migrate_async(STEPS, None, done)
        self.run_loop(loop)
        self.assertEqual(outcome, [True])
        self.assertEqual(self.db.get_schema_version(), 3)

    def test_processes(self):
        # Three processes migrate one fresh file at once: each step once.
        script = textwrap.dedent('''
            import sys
            import gi
            gi.require_version('MsbDb', '1.0')
            from gi.repository import MsbDb
            steps = ['CREATE TABLE applied (step INTEGER)'] + [
                'INSERT INTO applied VALUES (%d)' % i for i in range(2, 9)]
            sys.stdin.readline()
            with MsbDb.Pools.open(sys.argv[1]) as db:
                print(db.migrate(steps))
        ''')
        path = os.path.join(self.tmpdir, 'race.db')
        children = [subprocess.Popen([sys.executable, '-c', script, path],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
                    for _ in range(3)]
        for child in children:
            child.stdin.write('go\n')
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=60)
            self.assertEqual(child.returncode, 0)
            self.assertEqual(out.strip(), '8')
        with MsbDb.Pools.open_read_only(path) as db:
            self.assertEqual(db.read('SELECT step FROM applied ORDER BY 1'),
                             [(i,) for i in range(2, 9)])


class TestBackup(AppsTestCase):
    def fill(self):
        self.db.write('CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)')
        self.db.write('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1'
                      ' FROM c WHERE x < 2000) INSERT INTO t (data) '
                      'SELECT randomblob(4000) FROM c')

    def test_backup(self):
        self.fill()
        dest = os.path.join(self.tmpdir, 'copy.db')
        reports = []
        self.assertTrue(self.db.backup(
            dest, progress=lambda done, total: reports.append((done, total))))
        self.assertGreaterEqual(len(reports), 2)
        self.assertEqual(reports[-1][0], reports[-1][1])
        self.assertEqual(stat.S_IMODE(os.stat(dest).st_mode), 0o600)
        self.assertFalse(os.path.exists(dest + '-wal'))
        with MsbDb.Pools.open_read_only(dest) as copy:
            self.assertEqual(copy.read('PRAGMA integrity_check')[0][0], 'ok')
            self.assertEqual(copy.read('SELECT count(*) FROM t')[0][0], 2000)

        with self.assertRaises(MsbDb.InvalidArgumentError):
            self.db.backup(dest)
        self.assertTrue(self.db.backup(dest, replace=True))

    def test_progress_exception(self):
        self.fill()
        dest = os.path.join(self.tmpdir, 'copy.db')

        def fails(done, total):
            raise ValueError('from the progress callback')
        with self.assertRaises(ValueError):
            self.db.backup(dest, progress=fails)

    def test_backup_async(self):
        self.fill()
        dest = os.path.join(self.tmpdir, 'copy.db')
        loop = GLib.MainLoop()
        events = []

        def ready(db, result):
            events.append(('done', db.backup_finish(result)))
            loop.quit()
        self.db.backup_async(dest, progress=lambda d, t: events.append(d),
                             callback=ready)
        self.run_loop(loop)
        self.assertEqual(events[-1], ('done', True))
        self.assertGreaterEqual(len(events), 2)
        with MsbDb.Pools.open_read_only(dest) as copy:
            self.assertEqual(copy.read('SELECT count(*) FROM t')[0][0], 2000)

    def test_cancelled(self):
        # Big enough that the copy is far from done when the first report
        # (after 4 MiB) cancels it.
        self.db.write('CREATE TABLE big (data BLOB)')
        self.db.write('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1'
                      ' FROM c WHERE x < 12000) INSERT INTO big '
                      'SELECT randomblob(4000) FROM c')
        dest = os.path.join(self.tmpdir, 'copy.db')
        cancellable = Gio.Cancellable()
        with self.assertRaises(GLib.Error) as ctx:
            self.db.backup(dest, cancellable=cancellable,
                           progress=lambda d, t: cancellable.cancel())
        self.assertEqual(ctx.exception.domain, 'g-io-error-quark')
        self.assertEqual(sorted(os.listdir(self.tmpdir)),
                         ['test.db', 'test.db-shm', 'test.db-wal'])


class TestChanged(AppsTestCase):
    def setUp(self):
        super().setUp()
        self.db.write('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
        self.db.write('CREATE TABLE tags (name TEXT)')
        self.db.set_change_poll_interval(20000)

    def wait_for(self, got, what, timeout=20):
        loop = GLib.MainLoop()
        deadline = time.monotonic() + timeout

        def check():
            if what in got or time.monotonic() > deadline:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE
        GLib.timeout_add(5, check)
        loop.run()
        self.assertIn(what, got)

    def test_this_process(self):
        notes, everything = [], []
        self.db.connect('changed::notes', lambda db, table: notes.append(table))
        self.db.connect('changed', lambda db, table: everything.append(table))
        self.db.write('INSERT INTO notes (body) VALUES (?)', ('hello',))
        self.db.write('INSERT INTO tags VALUES (?)', ('x',))
        self.wait_for(everything, 'tags')
        self.assertEqual(notes, ['notes'])
        self.assertEqual(everything, ['notes', 'tags'])

    def test_other_process(self):
        notes = []
        self.db.connect('changed::notes', lambda db, table: notes.append(table))
        other_process_writes(self.path, "INSERT INTO notes (body) VALUES ('far')")
        self.wait_for(notes, 'notes')
        self.assertEqual(self.db.read('SELECT body FROM notes'), [('far',)])


class TestMaintenance(AppsTestCase):
    def test_vacuum(self):
        self.db.write('CREATE TABLE t (data BLOB)')
        self.db.write('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1'
                      ' FROM c WHERE x < 500) INSERT INTO t '
                      'SELECT zeroblob(4000) FROM c')
        self.db.write('DELETE FROM t')
        self.assertGreater(self.db.read('PRAGMA freelist_count')[0][0], 0)
        with self.assertRaises(MsbDb.DatabaseError):
            self.db.write('VACUUM')
        self.assertTrue(self.db.vacuum())
        self.assertEqual(self.db.read('PRAGMA freelist_count')[0][0], 0)

    def test_checkpoint(self):
        self.db.write('CREATE TABLE t (x)')
        self.db.write('INSERT INTO t VALUES (1)')
        log, done = self.db.checkpoint()
        self.assertGreater(log, 0)
        self.assertEqual(done, log)
        self.db.write('INSERT INTO t VALUES (2)')
        log, done = self.db.checkpoint(MsbDb.CheckpointMode.TRUNCATE)
        self.assertEqual(done, log)
        self.assertEqual(os.path.getsize(self.path + '-wal'), 0)
        with self.assertRaises(TypeError):
            self.db.checkpoint('truncate')

    def test_checkpoint_async(self):
        self.db.write('CREATE TABLE t (x)')
        loop = GLib.MainLoop()
        outcome = []

        def done(db, result):
            outcome.append(db.checkpoint_finish(result))
            loop.quit()
        self.db.checkpoint_async(MsbDb.CheckpointMode.FULL, None, done)
        self.run_loop(loop)
        log, copied = outcome[0]
        self.assertEqual(copied, log)


class TestTrustedSchema(DbTestCase):
    def test_fts5_recipe(self):
        with MsbDb.Pools.open(self.path) as db:
            self.assertFalse(db.get_trusted_schema())
            for sql in FTS5_RECIPE:
                db.write(sql)
            with self.assertRaises(MsbDb.SqlError) as ctx:
                db.write("INSERT INTO notes (body) VALUES ('hello world')")
            self.assertIn('unsafe use of virtual table', ctx.exception.message)
        with MsbDb.Pools.open(self.path, trusted_schema=True) as db:
            self.assertTrue(db.get_trusted_schema())
            self.assertTrue(db.props.trusted_schema)
            db.write("INSERT INTO notes (body) VALUES ('hello world')")
            self.assertEqual(
                db.read("SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?",
                        ('hello',)), [(1,)])
        with MsbDb.Pools.open_read_only(self.path, trusted_schema=True) as db:
            self.assertEqual(db.read('PRAGMA trusted_schema')[0][0], 1)

    def test_open_async(self):
        loop = GLib.MainLoop()
        opened = []

        def done(source, result):
            opened.append(MsbDb.Pools.open_finish(result))
            loop.quit()
        MsbDb.Pools.open_async(self.path, trusted_schema=True, callback=done)
        self.run_loop(loop)
        with opened[0] as db:
            self.assertTrue(db.get_trusted_schema())
            self.assertEqual(db.write('PRAGMA trusted_schema')[0][0], 1)

    def test_open_error(self):
        with self.assertRaises(MsbDb.CantOpenError):
            MsbDb.Pools.open('dqlite-nope://x', trusted_schema=True)


class TestTempTables(AppsTestCase):
    def test_temp_table_invisible_to_reads(self):
        self.db.write('CREATE TEMP TABLE scratch (x)')
        self.db.write('INSERT INTO scratch VALUES (1)')
        with self.assertRaises(MsbDb.SqlError):
            self.db.read('SELECT * FROM scratch')


if __name__ == '__main__':
    unittest.main(verbosity=2)
