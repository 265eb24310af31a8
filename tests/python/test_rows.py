# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rows as a sqlite3 user expects them (Sequence, repr, equality, Row,
rowcount/lastrowid) and values (adapters and converters per pools)."""

import collections.abc
import datetime
import decimal
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib  # noqa: E402


class RowsTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.pools = self.open()
        self.pools.write('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                         'name TEXT UNIQUE, at, b BLOB)')
        self.pools.write("INSERT INTO t (name) VALUES ('ann'), ('bob'), "
                         "('cy')")

    def open(self):
        pools = MsbDb.Pools.open(self.path, 2, connect_timeout=10)
        self.addCleanup(pools.close)
        return pools

    def run_async(self, start):
        """Start one call whose callback returns through ``finish``."""
        loop = GLib.MainLoop()
        got = []

        def done(source, result, finish):
            got.append(finish(source, result))
            loop.quit()

        start(done)
        self.run_loop(loop)
        return got[0]


class TestSequence(RowsTestCase):
    def test_is_a_sequence(self):
        rows = self.pools.read('SELECT id, name FROM t ORDER BY id')
        self.assertIsInstance(rows, collections.abc.Sequence)
        self.assertIsInstance(rows, MsbDb.Rows)
        self.assertIn((2, 'bob'), rows)
        self.assertNotIn((2, 'ann'), rows)
        self.assertEqual(rows.index((3, 'cy')), 2)
        self.assertEqual(rows.index((3, 'cy'), 1, 3), 2)
        with self.assertRaises(ValueError):
            rows.index((3, 'cy'), 0, 2)
        with self.assertRaises(ValueError):
            rows.index((9, 'zed'))
        self.assertEqual(rows.count((1, 'ann')), 1)
        self.assertEqual(rows.count((1, 'zed')), 0)
        self.assertEqual(list(reversed(rows)),
                         [(3, 'cy'), (2, 'bob'), (1, 'ann')])
        # The Sequence mixins work on it through the ABC as well.
        self.assertEqual(collections.abc.Sequence.index(rows, (2, 'bob')), 1)

    def test_equality(self):
        rows = self.pools.read('SELECT id, name FROM t ORDER BY id')
        expected = [(1, 'ann'), (2, 'bob'), (3, 'cy')]
        self.assertTrue(rows == expected)
        self.assertTrue(expected == rows)
        self.assertFalse(rows != expected)
        self.assertEqual(rows, tuple(expected))
        self.assertNotEqual(rows, expected[:2])
        self.assertNotEqual(rows, expected + [(4, 'dee')])
        self.assertNotEqual(rows, [(1, 'ann'), (2, 'bob'), (3, 'CY')])
        self.assertEqual(self.pools.read('SELECT 1'), [(1,)])
        self.assertEqual(self.pools.read('SELECT 1 WHERE 0'), [])
        self.assertNotEqual(rows, None)
        self.assertNotEqual(rows, 'abc')
        self.assertNotEqual(rows, {(1, 'ann'): 1})
        # Two results with the same rows are equal; unhashable, like list.
        again = self.pools.read('SELECT id, name FROM t ORDER BY id')
        self.assertIsNot(rows, again)
        self.assertEqual(rows, again)
        with self.assertRaises(TypeError):
            hash(rows)

    def test_repr(self):
        rows = self.pools.read('SELECT id, name FROM t ORDER BY id')
        self.assertEqual(repr(rows),
                         "<MsbDb.Rows 3 rows × 2 columns (id, name): "
                         "(1, 'ann'), (2, 'bob'), (3, 'cy')>")
        self.pools.write("INSERT INTO t (name) VALUES ('dee')")
        text = repr(self.pools.read('SELECT name FROM t ORDER BY id'))
        self.assertEqual(text, "<MsbDb.Rows 4 rows × 1 column (name): "
                               "('ann',), ('bob',), ('cy',), … 1 more>")
        self.assertEqual(repr(self.pools.read('SELECT 1 AS one WHERE 0')),
                         '<MsbDb.Rows 0 rows × 1 column (one)>')
        w = self.pools.write("INSERT INTO t (name) VALUES ('eve')")
        self.assertEqual(repr(w), '<MsbDb.Rows 0 rows × 0 columns, '
                                  'rowcount=1, lastrowid=5>')

    def test_repr_is_short_and_never_raises(self):
        self.pools.write('UPDATE t SET b = ? WHERE id = 1', (b'x' * 100000,))
        text = repr(self.pools.read('SELECT b, name FROM t WHERE id = 1'))
        self.assertLess(len(text), 200)
        self.assertIn("'ann'", text)
        bad = self.pools.read("SELECT CAST(x'ff41' AS TEXT) AS bad")
        self.assertIn('UnicodeDecodeError', repr(bad))


class TestWriteResults(RowsTestCase):
    def test_rowcount_and_lastrowid(self):
        w = self.pools.write("INSERT INTO t (name) VALUES ('dee')")
        self.assertEqual((w.rowcount, w.lastrowid), (1, 4))
        w = self.pools.write("INSERT INTO t (name) VALUES ('e'), ('f')")
        self.assertEqual((w.rowcount, w.lastrowid), (2, 6))
        w = self.pools.write("INSERT OR IGNORE INTO t (name) VALUES ('e')")
        self.assertEqual((w.rowcount, w.lastrowid), (0, None))
        w = self.pools.write("UPDATE t SET at = 1 WHERE id <= 2")
        self.assertEqual(w.rowcount, 2)
        w = self.pools.write("DELETE FROM t WHERE id = 6")
        self.assertEqual(w.rowcount, 1)
        r = self.pools.read('SELECT * FROM t')
        self.assertEqual((r.rowcount, r.lastrowid), (0, None))
        w = self.pools.write("INSERT INTO t (name) VALUES ('g') "
                             "RETURNING id, name")
        self.assertEqual(w, [(6, 'g')])   # max(rowid) + 1 again
        self.assertEqual((w.rowcount, w.lastrowid), (1, 6))

    def test_inside_transaction_and_async(self):
        def body(conn):
            return conn.execute("INSERT INTO t (name) VALUES ('x')").lastrowid

        self.assertEqual(self.pools.transaction(body), 4)
        w = self.run_async(lambda cb: self.pools.write_async(
            "INSERT INTO t (name) VALUES ('y')", None, None, cb,
            MsbDb.Pools.write_finish))
        self.assertEqual((w.rowcount, w.lastrowid), (1, 5))


class TestRowFactory(RowsTestCase):
    def test_row(self):
        self.pools.row_factory = MsbDb.Row
        self.assertIs(self.pools.row_factory, MsbDb.Row)
        rows = self.pools.read('SELECT id, name AS Name FROM t ORDER BY id')
        row = rows[0]
        self.assertIsInstance(row, MsbDb.Row)
        self.assertEqual(row['name'], 'ann')     # case-insensitive
        self.assertEqual(row['NAME'], 'ann')
        self.assertEqual(row['id'], 1)
        self.assertEqual(row[1], 'ann')
        self.assertEqual(row[-1], 'ann')
        self.assertEqual(row[:1], (1,))
        self.assertEqual(row.keys(), ['id', 'Name'])
        self.assertEqual(dict(row), {'id': 1, 'Name': 'ann'})
        self.assertEqual(len(row), 2)
        self.assertEqual(list(row), [1, 'ann'])
        self.assertEqual(tuple(row), (1, 'ann'))
        with self.assertRaises(IndexError):
            row['nope']
        with self.assertRaises(IndexError):
            row[2]
        self.assertEqual(repr(row), "<MsbDb.Row (id=1, Name='ann')>")
        # Equal to the tuple of its values, hashing like it.
        self.assertEqual(row, (1, 'ann'))
        self.assertEqual(hash(row), hash((1, 'ann')))
        self.assertEqual(rows, [(1, 'ann'), (2, 'bob'), (3, 'cy')])
        self.assertEqual(row, rows[0])
        self.assertNotEqual(row, rows[1])
        other = self.pools.read('SELECT id, name AS other FROM t WHERE id = 1')
        self.assertNotEqual(row, other[0])       # other column names
        self.assertEqual(len({row, rows[0]}), 1)
        self.assertEqual(rows.as_dicts()[2], {'id': 3, 'Name': 'cy'})

    def test_duplicate_column_names(self):
        self.pools.row_factory = MsbDb.Row
        row = self.pools.read('SELECT 1 AS a, 2 AS a')[0]
        self.assertEqual(row['a'], 1)           # the first, as sqlite3.Row
        self.assertEqual(row.keys(), ['a', 'a'])

    def test_everywhere_results_come_from(self):
        self.pools.row_factory = MsbDb.Row
        self.assertEqual(self.pools.write(
            "INSERT INTO t (name) VALUES ('dee') RETURNING id")[0]['id'], 4)
        in_tx = self.pools.transaction(
            lambda conn: conn.execute('SELECT name FROM t WHERE id = 1')[0])
        self.assertEqual(in_tx['name'], 'ann')
        in_snap = self.pools.snapshot(
            lambda conn: conn.execute('SELECT name FROM t WHERE id = 2')[0])
        self.assertEqual(in_snap['name'], 'bob')
        rows = self.run_async(lambda cb: self.pools.read_async(
            'SELECT name FROM t WHERE id = 3', None, None, cb,
            MsbDb.Pools.read_finish))
        self.assertEqual(rows[0]['name'], 'cy')
        ret = self.run_async(lambda cb: self.pools.write_async(
            "INSERT INTO t (name) VALUES ('eve') RETURNING name", None, None,
            cb, MsbDb.Pools.write_finish))
        self.assertEqual(ret[0]['name'], 'eve')

    def test_per_pools_and_reset(self):
        other = self.open()
        self.pools.row_factory = MsbDb.Row
        self.assertIsNone(other.row_factory)
        self.assertIs(type(other.read('SELECT 1')[0]), tuple)
        # A transaction body of the other pools sees tuples too.
        self.assertIs(type(other.transaction(
            lambda conn: conn.execute('SELECT 1')[0])), tuple)
        self.pools.row_factory = None
        self.assertIs(type(self.pools.read('SELECT 1')[0]), tuple)

    def test_custom_factory(self):
        seen = []

        def as_dict(rows, values):
            seen.append(type(values))
            return dict(zip(rows.columns, values))

        self.pools.row_factory = as_dict
        rows = self.pools.read('SELECT id, name FROM t ORDER BY id')
        self.assertEqual(list(rows), [{'id': 1, 'name': 'ann'},
                                      {'id': 2, 'name': 'bob'},
                                      {'id': 3, 'name': 'cy'}])
        self.assertEqual(rows[1:2], [{'id': 2, 'name': 'bob'}])
        self.assertEqual(set(seen), {tuple})
        with self.assertRaises(TypeError):
            self.pools.row_factory = 'not callable'

    def test_row_from_rows(self):
        rows = self.pools.read('SELECT id, name FROM t ORDER BY id')
        row = MsbDb.Row(rows, rows[0])
        self.assertEqual(row['name'], 'ann')
        self.assertEqual(row.keys(), ['id', 'name'])


class TestAdapters(RowsTestCase):
    def roundtrip(self, value, pools=None):
        return tuple((pools or self.pools).read('SELECT ?1, typeof(?1)',
                                                (value,))[0])

    def test_defaults(self):
        self.assertEqual(self.roundtrip(datetime.datetime(2024, 5, 1, 13, 45)),
                         ('2024-05-01 13:45:00', 'text'))
        self.assertEqual(
            self.roundtrip(datetime.datetime(2024, 5, 1, 13, 45, 7, 120,
                                             tzinfo=datetime.timezone.utc)),
            ('2024-05-01 13:45:07.000120+00:00', 'text'))
        self.assertEqual(self.roundtrip(datetime.date(2024, 2, 29)),
                         ('2024-02-29', 'text'))
        self.assertEqual(self.roundtrip(decimal.Decimal('1.10')),
                         ('1.10', 'text'))

        class MyDate(datetime.datetime):
            pass

        self.assertEqual(self.roundtrip(MyDate(2000, 1, 1)),
                         ('2000-01-01 00:00:00', 'text'))
        # SQLite's own date functions read and compare the text.
        self.assertEqual(self.pools.read(
            "SELECT ? < datetime('2024-05-01 13:45:01'), date(?)",
            (datetime.datetime(2024, 5, 1, 13, 45),
             datetime.date(2024, 5, 1)))[0], (1, '2024-05-01'))
        self.assertEqual(
            MsbDb.params_to_variant((datetime.date(2024, 1, 2),)).unpack(),
            ('2024-01-02',))

    def test_unadapted_type_still_refused(self):
        with self.assertRaises(TypeError) as cm:
            self.pools.write('INSERT INTO t (name) VALUES (?)',
                             (datetime.time(1, 2),))
        self.assertIn('parameter 1', str(cm.exception))
        self.assertIn('register_adapter', str(cm.exception))

    def test_register_per_pools(self):
        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

        other = self.open()
        self.pools.register_adapter(Point, lambda p: '%g;%g' % (p.x, p.y))
        self.assertEqual(self.roundtrip(Point(1, 2.5)), ('1;2.5', 'text'))
        with self.assertRaises(TypeError):
            self.roundtrip(Point(1, 2), other)
        # Named parameters, async, transaction and snapshot bodies.
        self.pools.write('INSERT INTO t (name, at) VALUES (:n, :p)',
                         {'n': 'pt', 'p': Point(3, 4)})
        self.assertEqual(self.pools.read("SELECT at FROM t WHERE name = 'pt'"),
                         [('3;4',)])
        self.assertEqual(self.pools.transaction(
            lambda conn: conn.execute('SELECT ?', (Point(5, 6),))[0][0]),
            '5;6')
        self.assertEqual(self.pools.snapshot(
            lambda conn: conn.execute('SELECT ?', (Point(7, 8),))[0][0]),
            '7;8')
        with self.assertRaises(TypeError):
            other.transaction(lambda conn: conn.execute('SELECT ?',
                                                        (Point(5, 6),)))
        rows = self.run_async(lambda cb: self.pools.read_async(
            'SELECT ?', (Point(9, 9),), None, cb, MsbDb.Pools.read_finish))
        self.assertEqual(rows, [('9;9',)])
        self.assertEqual(
            MsbDb.params_to_variant((Point(0, 1),), self.pools).unpack(),
            ('0;1',))
        # Defaults are still there beside it; other pools are unchanged.
        self.assertEqual(self.roundtrip(datetime.date(2024, 1, 2)),
                         ('2024-01-02', 'text'))

    def test_override_and_remove_default(self):
        self.pools.register_adapter(datetime.datetime,
                                    lambda d: int(d.timestamp()))
        utc = datetime.timezone.utc
        self.assertEqual(self.roundtrip(datetime.datetime(1970, 1, 2,
                                                          tzinfo=utc)),
                         (86400, 'integer'))
        # date keeps its own default.
        self.assertEqual(self.roundtrip(datetime.date(1970, 1, 2)),
                         ('1970-01-02', 'text'))
        self.pools.register_adapter(decimal.Decimal, None)
        with self.assertRaises(TypeError):
            self.roundtrip(decimal.Decimal(1))
        # datetime is not adapted as a date once its own adapter is removed.
        self.pools.register_adapter(datetime.datetime, None)
        with self.assertRaises(TypeError):
            self.roundtrip(datetime.datetime(2000, 1, 1))

    def test_bad_adapters(self):
        self.pools.register_adapter(complex, lambda c: [c.real, c.imag])
        with self.assertRaises(TypeError) as cm:
            self.roundtrip(1j)
        self.assertIn('adapter for complex returned a list', str(cm.exception))
        with self.assertRaises(TypeError):
            self.pools.register_adapter('complex', str)
        with self.assertRaises(TypeError):
            self.pools.register_adapter(complex, 'str')
        self.assertEqual(self.pools.read('SELECT count(*) FROM t')[0][0], 3)


class TestConverters(RowsTestCase):
    def setUp(self):
        super().setUp()
        self.pools.write("UPDATE t SET at = '2024-05-01 13:45:00' "
                         'WHERE id = 1')

    def test_tagged_columns(self):
        self.pools.register_converter('DateTime',
                                      datetime.datetime.fromisoformat)
        rows = self.pools.read('SELECT id, at AS "at [datetime]", '
                               'at AS "raw" FROM t ORDER BY id')
        self.assertEqual(rows.columns, ('id', 'at', 'raw'))
        self.assertEqual(rows[0], (1, datetime.datetime(2024, 5, 1, 13, 45),
                                   '2024-05-01 13:45:00'))
        self.assertEqual(rows[1], (2, None, None))      # NULL stays None
        self.assertEqual(rows.value(0, 'at'),
                         datetime.datetime(2024, 5, 1, 13, 45))
        self.assertEqual(rows.value(0, 1), rows[0][1])
        self.assertEqual(rows.as_dicts()[0]['at'],
                         datetime.datetime(2024, 5, 1, 13, 45))
        self.assertEqual(rows.column_index('at'), 1)

    def test_value_types_and_row_factory(self):
        seen = []

        def conv(value):
            seen.append(value)
            return ('converted', value)

        self.pools.register_converter('x', conv)
        self.pools.row_factory = MsbDb.Row
        row = self.pools.read('SELECT 7 AS "i [x]", 2.5 AS "r [X]", '
                              "'s' AS \"s [ x ]\", x'00' AS \"b [x]\"")[0]
        self.assertEqual(seen, [7, 2.5, 's', b'\x00'])
        self.assertEqual(row['i'], ('converted', 7))
        self.assertEqual(row['b'], ('converted', b'\x00'))
        self.assertEqual(row.keys(), ['i', 'r', 's', 'b'])

    def test_unknown_tag_and_removal(self):
        self.pools.register_converter('datetime',
                                      datetime.datetime.fromisoformat)
        rows = self.pools.read('SELECT at AS "at [other]" FROM t '
                               'WHERE id = 1')
        self.assertEqual(rows.columns, ('at',))
        self.assertEqual(rows[0], ('2024-05-01 13:45:00',))
        in_tx = self.pools.transaction(lambda conn: conn.execute(
            'SELECT at AS "at [datetime]" FROM t WHERE id = 1')[0][0])
        self.assertEqual(in_tx, datetime.datetime(2024, 5, 1, 13, 45))
        self.pools.register_converter('datetime', None)
        rows = self.pools.read('SELECT at AS "at [datetime]" FROM t '
                               'WHERE id = 1')
        # Opt-in: with no converter left, names are as SQLite gives them.
        self.assertEqual(rows.columns, ('at [datetime]',))
        self.assertEqual(rows[0], ('2024-05-01 13:45:00',))

    def test_other_pools_untouched(self):
        other = self.open()
        self.pools.register_converter('datetime',
                                      datetime.datetime.fromisoformat)
        rows = other.read('SELECT at AS "at [datetime]" FROM t WHERE id = 1')
        self.assertEqual(rows.columns, ('at [datetime]',))
        self.assertEqual(rows[0], ('2024-05-01 13:45:00',))

    def test_bad_registrations(self):
        for bad in ('', ' ', 'a]', '[a', 3):
            with self.assertRaises(ValueError):
                self.pools.register_converter(bad, str)
        with self.assertRaises(TypeError):
            self.pools.register_converter('ok', 'str')


if __name__ == '__main__':
    unittest.main(verbosity=2)
