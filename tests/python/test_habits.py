# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a sqlite3 user reaches for: executemany(), executescript(),
iterate(); and fork(): a child refuses its parent's pools at once and opens
its own."""

import asyncio
import datetime
import os
import sys
import textwrap
import time
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib  # noqa: E402


class HabitsTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.pools = MsbDb.Pools.open(self.path, 2, connect_timeout=10)
        self.addCleanup(self.pools.close)
        self.pools.executescript('''
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n);
            CREATE INDEX t_n ON t (n);
        ''')

    def count(self):
        return self.pools.read('SELECT count(*) FROM t')[0][0]


class TestExecutemany(HabitsTestCase):
    def test_rows_of_every_kind(self):
        when = datetime.date(2024, 5, 1)
        rows = self.pools.executemany(
            'INSERT INTO t (name, n) VALUES (?, ?)',
            [('a', 1), ('b', 2.5), ('c', None), ('d', b'\x00\x01'),
             ('e', when), ['f', True], ('g', GLib.Variant('q', 7))])
        self.assertEqual((rows.rowcount, rows.lastrowid), (7, 7))
        self.assertEqual(
            self.pools.read('SELECT name, n, typeof(n) FROM t ORDER BY id'),
            [('a', 1, 'integer'), ('b', 2.5, 'real'), ('c', None, 'null'),
             ('d', b'\x00\x01', 'blob'), ('e', '2024-05-01', 'text'),
             ('f', 1, 'integer'), ('g', 7, 'integer')])

    def test_a_generator_and_returning(self):
        rows = self.pools.executemany(
            'INSERT INTO t (name, n) VALUES (?, ?) RETURNING id, n * 2',
            (('g%d' % i, i) for i in range(1000)))
        self.assertEqual(rows.rowcount, 1000)
        self.assertEqual(len(rows), 1000)
        self.assertEqual(rows[999], (1000, 1998))
        self.assertEqual(self.count(), 1000)

    def test_named_parameters(self):
        self.pools.executemany('INSERT INTO t (name, n) VALUES (:name, :n)',
                               [{'name': 'x', 'n': 1}, {'name': 'y', 'n': 2}])
        self.assertEqual(self.pools.read('SELECT sum(n) FROM t'), [(3,)])

    def test_all_or_nothing(self):
        with self.assertRaises(MsbDb.IntegrityError) as cm:
            self.pools.executemany('INSERT INTO t (name) VALUES (?)',
                                   [('x',), ('y',), ('x',)])
        self.assertIn('3', str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            self.pools.executemany('INSERT INTO t (name) VALUES (?)',
                                   [('x',), (object(),)])
        self.assertIn('run 2', str(cm.exception))
        with self.assertRaises(MsbDb.InvalidArgumentError) as cm:
            self.pools.executemany('INSERT INTO t (name, n) VALUES (?, ?)',
                                   [('x', 1), ('y',)])
        self.assertIn('Run 2', str(cm.exception))
        with self.assertRaises(TypeError):
            self.pools.executemany('INSERT INTO t (name) VALUES (?)', 'abc')
        self.assertEqual(self.count(), 0)

    def test_nothing_to_do(self):
        rows = self.pools.executemany('INSERT INTO t (name) VALUES (?)', [])
        self.assertEqual(rows.rowcount, 0)
        self.pools.executescript('CREATE TABLE d (a DEFAULT 1)')
        self.pools.executemany('INSERT INTO d DEFAULT VALUES', [(), (), ()])
        self.assertEqual(self.pools.read('SELECT count(*) FROM d'), [(3,)])


class TestExecutescript(HabitsTestCase):
    def test_all_or_nothing(self):
        self.assertTrue(self.pools.executescript('''
            INSERT INTO t (name) VALUES ('one');
            INSERT INTO t (name) VALUES ('two');
        '''))
        self.assertEqual(self.count(), 2)
        with self.assertRaises(MsbDb.IntegrityError):
            self.pools.executescript('''
                INSERT INTO t (name) VALUES ('three');
                INSERT INTO t (name) VALUES ('one');
            ''')
        self.assertEqual(self.count(), 2)
        with self.assertRaises(MsbDb.DatabaseError):
            self.pools.executescript('BEGIN; INSERT INTO t (name) VALUES (1);'
                                     ' COMMIT;')
        self.assertEqual(self.count(), 2)


class TestIterate(HabitsTestCase):
    def test_every_row_a_part_at_a_time(self):
        self.pools.executemany('INSERT INTO t (name, n) VALUES (?, ?)',
                               (('r%d' % i, i) for i in range(2345)))
        got = [n for (n,) in self.pools.iterate(
            'SELECT n FROM t WHERE n >= ? ORDER BY n', (0,), size=100)]
        self.assertEqual(got, list(range(2345)))
        # Shaped by the pools' row factory.
        self.pools.row_factory = MsbDb.Row
        first = next(iter(self.pools.iterate('SELECT name FROM t ORDER BY id')))
        self.assertEqual(first['name'], 'r0')

    def test_one_snapshot(self):
        # Rows written while an iteration runs are not in it.
        self.pools.executemany('INSERT INTO t (n) VALUES (?)',
                               [(i,) for i in range(50)])
        seen = 0
        for row in self.pools.iterate('SELECT n FROM t', size=10):
            if seen == 0:
                self.pools.write('INSERT INTO t (n) VALUES (99)')
            seen += 1
        self.assertEqual(seen, 50)
        self.assertEqual(self.count(), 51)

    def test_breaking_out_gives_the_connection_back(self):
        with MsbDb.Pools.open(self.path, 1, connect_timeout=2) as one:
            one.executemany('INSERT INTO t (n) VALUES (?)',
                            [(i,) for i in range(100)])
            for row in one.iterate('SELECT n FROM t', size=10):
                break
            self.assertEqual(one.read('SELECT count(*) FROM t'), [(100,)])


class TestFork(HabitsTestCase):
    CHILD = textwrap.dedent('''
        import asyncio, os, sys, time
        sys.path.insert(0, sys.argv[2])
        from msbdb_testlib import import_msbdb
        MsbDb = import_msbdb(use_override=True)

        path = sys.argv[1]
        pools = MsbDb.Pools.open(path, 2)
        pools.write('INSERT INTO t (name) VALUES (?)', ('parent',))
        # A queue for this loop exists before the fork as well.
        async def warm():
            return await pools.read_async('SELECT count(*) FROM t')
        asyncio.run(warm())

        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            report = []
            start = time.monotonic()
            try:
                pools.read('SELECT 1')
                report.append('read worked')
            except MsbDb.ClosedError as e:
                report.append('read refused: ' + e.message)
            try:
                pools.write("INSERT INTO t (name) VALUES ('inherited')")
                report.append('write worked')
            except MsbDb.ClosedError as e:
                report.append('write refused')
            report.append('waited %.1f' % (time.monotonic() - start))
            with MsbDb.Pools.open(path, 1) as mine:
                mine.write("INSERT INTO t (name) VALUES ('child')")
                async def child_async():
                    return (await mine.read_async(
                        'SELECT count(*) FROM t'))[0][0]
                report.append('child sees %d' % asyncio.run(child_async()))
            os.write(w, '\\n'.join(report).encode())
            os.close(w)
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            print(f.read())
        _, status = os.waitpid(pid, 0)
        print('child status', status)
        print('parent sees', pools.read('SELECT group_concat(name) FROM '
                                        '(SELECT name FROM t ORDER BY id)')[0][0])
        pools.close()
    ''')

    def test_child_refuses_inherited_pools_and_opens_its_own(self):
        self.pools.close()
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, '-c', self.CHILD, self.path,
                              here], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        refused = [line for line in lines if line.startswith('read refused')]
        self.assertEqual(len(refused), 1, out.stdout)
        self.assertIn('fork', refused[0])
        self.assertIn('write refused', lines)
        waited = float([line for line in lines
                        if line.startswith('waited')][0].split()[1])
        self.assertLess(waited, 2.0)      # at once, not a connect timeout
        self.assertIn('child sees 2', lines)
        self.assertIn('child status 0', lines)
        self.assertIn('parent sees parent,child', lines)


if __name__ == '__main__':
    unittest.main(verbosity=2)
