# SPDX-License-Identifier: LGPL-2.1-or-later
"""The PyGObject override gi.overrides.MsbDb (introspection/gi/overrides).

Conversions of plain Python parameters, Rows as a sequence of tuples,
`with pools:`, transaction/snapshot helpers and decorators, and exceptions
raised in callbacks.
"""

import functools
import os
import threading
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib  # noqa: E402
import gi.overrides.MsbDb as override_module  # noqa: E402

SEC = 1000000


class OverrideTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.pools = MsbDb.Pools.open(self.path, 2, connect_timeout=10)
        self.addCleanup(self.close_quietly, self.pools)
        self.pools.write('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                         'name TEXT UNIQUE, n INTEGER, r REAL, b BLOB)')

    @staticmethod
    def close_quietly(pools):
        try:
            pools.close(None)
        except GLib.Error:
            pass

    def count(self, where='1'):
        return self.pools.read('SELECT count(*) FROM t WHERE ' + where)[0][0]


class TestLoaded(unittest.TestCase):
    def test_override_is_the_source_tree_one(self):
        src = os.environ.get('MSB_DB_OVERRIDE_DIR')
        if src:
            self.assertEqual(
                os.path.realpath(override_module.__file__),
                os.path.realpath(os.path.join(src, 'gi', 'overrides',
                                              'MsbDb.py')))
        self.assertTrue(issubclass(MsbDb.Rows, override_module.Rows))
        self.assertIs(MsbDb.Pools, override_module.Pools)

    def test_c_names_still_there(self):
        for name in ('get_n_rows', 'get_n_columns', 'get_column_name',
                     'is_null', 'get_int64', 'get_double', 'get_string',
                     'get_bytes', 'get_changes', 'get_last_insert_rowid',
                     'to_variant'):
            self.assertTrue(hasattr(MsbDb.Rows, name), name)
        for name in ('read_finish', 'write_finish', 'close', 'close_async',
                     'close_finish', 'get_stats', 'is_closed'):
            self.assertTrue(hasattr(MsbDb.Pools, name), name)
        self.assertTrue(callable(MsbDb.params_to_variant))

    def test_docstrings(self):
        for obj in (MsbDb.params_to_variant, MsbDb.Rows, MsbDb.Rows.as_dicts,
                    MsbDb.Pools.transaction, MsbDb.Pools.snapshot,
                    MsbDb.Pools.__exit__, MsbDb.Pools.read,
                    MsbDb.Connection.execute):
            self.assertTrue(obj.__doc__ and obj.__doc__.strip(), obj)


class TestConversions(OverrideTestCase):
    def roundtrip(self, value):
        rows = self.pools.read('SELECT ?1, typeof(?1)', (value,))
        return rows[0]

    def test_scalar_types(self):
        self.assertEqual(self.roundtrip(42), (42, 'integer'))
        self.assertEqual(self.roundtrip(-(1 << 63)), (-(1 << 63), 'integer'))
        self.assertEqual(self.roundtrip((1 << 63) - 1),
                         ((1 << 63) - 1, 'integer'))
        self.assertEqual(self.roundtrip(2.5), (2.5, 'real'))
        self.assertEqual(self.roundtrip('héllo'), ('héllo', 'text'))
        self.assertEqual(self.roundtrip(''), ('', 'text'))
        self.assertEqual(self.roundtrip(b'\x00\x01\xff'),
                         (b'\x00\x01\xff', 'blob'))
        self.assertEqual(self.roundtrip(bytearray(b'ab')), (b'ab', 'blob'))
        self.assertEqual(self.roundtrip(memoryview(b'xyz')), (b'xyz', 'blob'))
        self.assertEqual(self.roundtrip(b''), (b'', 'blob'))
        self.assertEqual(self.roundtrip(True), (1, 'integer'))
        self.assertEqual(self.roundtrip(False), (0, 'integer'))
        self.assertEqual(self.roundtrip(None), (None, 'null'))

    def test_variant_value_passes_through(self):
        self.assertEqual(self.roundtrip(GLib.Variant('i', 7)), (7, 'integer'))
        self.assertEqual(self.roundtrip(GLib.Variant('ms', None)),
                         (None, 'null'))

    def test_variant_params_pass_through(self):
        params = GLib.Variant('(xs)', (1, 'a'))
        self.assertIs(MsbDb.params_to_variant(params), params)
        self.assertEqual(self.pools.read('SELECT ?, ?', params)[0], (1, 'a'))

    def test_built_variants(self):
        v = MsbDb.params_to_variant((1, 2.0, 's', b'b', True, None))
        self.assertEqual(v.get_type_string(), '(xdsaybmv)')
        v = MsbDb.params_to_variant([1])
        self.assertEqual(v.get_type_string(), '(x)')
        v = MsbDb.params_to_variant({'a': 1, 'b': None})
        self.assertEqual(v.get_type_string(), 'a{sv}')
        self.assertEqual(v.lookup_value('a', None).get_type_string(), 'x')
        self.assertEqual(v.lookup_value('b', None).get_type_string(), 'mv')
        self.assertIsNone(MsbDb.params_to_variant(None))
        self.assertEqual(MsbDb.params_to_variant(()).get_type_string(), '()')

    def test_integer_tuples(self):
        # Tuples and lists of plain ints take a shortcut: same variants, same
        # checks as any other params.
        for n in range(1, 12):
            params = tuple(range(-n, 0))
            for p in (params, list(params)):
                v = MsbDb.params_to_variant(p)
                self.assertEqual(v.get_type_string(), '(%s)' % ('x' * n))
                self.assertEqual(v.unpack(), params)
        edge = (-(1 << 63), (1 << 63) - 1, 0)
        self.assertEqual(MsbDb.params_to_variant(edge).unpack(), edge)
        self.assertEqual(MsbDb.params_to_variant((1, True)).get_type_string(),
                         '(xb)')
        self.assertEqual(MsbDb.params_to_variant([True]).get_type_string(),
                         '(b)')
        with self.assertRaises(OverflowError) as cm:
            MsbDb.params_to_variant((1, 2, 1 << 63))
        self.assertIn('parameter 3', str(cm.exception))
        self.assertEqual(self.pools.read('SELECT ?3, ?1, ?2', (7, 8, 9))[0],
                         (9, 7, 8))

    def test_none_params_are_independent(self):
        # One SQL NULL variant serves every call; results stay apart.
        a = MsbDb.params_to_variant((None, 1))
        b = MsbDb.params_to_variant([None])
        self.assertEqual(a.get_type_string(), '(mvx)')
        self.assertEqual(b.get_type_string(), '(mv)')
        self.assertEqual(self.roundtrip(None), (None, 'null'))
        self.assertEqual(self.pools.read('SELECT ?, ?', (None, None))[0],
                         (None, None))

    def test_list_and_dict_params(self):
        self.pools.write('INSERT INTO t (name, n, r, b) VALUES (?, ?, ?, ?)',
                         ['a', 1, 0.5, b'\x01'])
        self.pools.write('INSERT INTO t (name, n, r, b) '
                         'VALUES (:name, :n, :r, :b)',
                         {'name': 'b', 'n': 2, 'r': None, 'b': None})
        self.assertEqual(list(self.pools.read('SELECT name, n, r, b FROM t '
                                              'ORDER BY id')),
                         [('a', 1, 0.5, b'\x01'), ('b', 2, None, None)])

    def test_int_out_of_range(self):
        for value in (1 << 63, -(1 << 63) - 1, 1 << 100):
            with self.assertRaises(OverflowError) as cm:
                self.pools.write('INSERT INTO t (n) VALUES (?)', (value,))
            self.assertIn('parameter 1', str(cm.exception))
        self.assertEqual(self.count(), 0)

    def test_refused_types_name_the_parameter(self):
        for bad in ({1, 2}, object(), (1, 2), [1], {'k': 1}, 1j,
                    frozenset()):
            with self.assertRaises(TypeError) as cm:
                self.pools.write('INSERT INTO t (name, n) VALUES (?, ?)',
                                 ('ok', bad))
            self.assertIn('parameter 2', str(cm.exception))
            self.assertIn(type(bad).__name__, str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            self.pools.write('INSERT INTO t (n) VALUES (:n)', {'n': object()})
        self.assertIn("'n'", str(cm.exception))
        with self.assertRaises(TypeError):
            self.pools.write('INSERT INTO t (n) VALUES (:n)', {1: 1})
        self.assertEqual(self.count(), 0)

    def test_refused_params_container(self):
        for bad in ({1}, 5, 'abc', b'abc', object()):
            with self.assertRaises(TypeError):
                self.pools.read('SELECT ?', bad)

    def test_text_with_nul_refused(self):
        with self.assertRaises(ValueError) as cm:
            self.pools.write('INSERT INTO t (name) VALUES (?)', ('a\0b',))
        self.assertIn('parameter 1', str(cm.exception))
        self.assertEqual(self.count(), 0)

    def test_c_side_still_validates(self):
        with self.assertRaises(GLib.Error) as cm:
            self.pools.read('SELECT ?', (GLib.Variant('t', 1 << 63),))
        self.assertEqual(cm.exception.code, int(MsbDb.Error.INVALID_ARGUMENT))
        with self.assertRaises(GLib.Error) as cm:
            self.pools.read('SELECT ?, ?', (1,))
        self.assertEqual(cm.exception.code, int(MsbDb.Error.INVALID_ARGUMENT))


class TestRows(OverrideTestCase):
    def setUp(self):
        super().setUp()
        self.pools.write('INSERT INTO t (name, n, r, b) VALUES '
                         "('a', 1, 1.5, x'00'), ('b', NULL, NULL, NULL), "
                         "('', 0, 0.0, x'')")
        self.rows = self.pools.read('SELECT name, n, r, b FROM t ORDER BY id')

    def test_sequence(self):
        rows = self.rows
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows.columns, ('name', 'n', 'r', 'b'))
        self.assertEqual(list(rows), [('a', 1, 1.5, b'\x00'),
                                      ('b', None, None, None),
                                      ('', 0, 0.0, b'')])
        self.assertEqual(rows[0], ('a', 1, 1.5, b'\x00'))
        self.assertEqual(rows[-1], ('', 0, 0.0, b''))
        self.assertEqual(rows[1:], [('b', None, None, None),
                                    ('', 0, 0.0, b'')])
        with self.assertRaises(IndexError):
            rows[3]
        with self.assertRaises(IndexError):
            rows[-4]
        a, b, c = rows
        self.assertIsInstance(a, tuple)

    def test_null_is_distinct(self):
        row_b, row_c = self.rows[1], self.rows[2]
        self.assertIsNone(row_b[1])
        self.assertEqual(row_c[1], 0)
        self.assertIsNotNone(row_c[1])
        self.assertEqual(row_c[0], '')
        self.assertIsInstance(row_c[3], bytes)

    def test_types(self):
        name, n, r, b = self.rows[0]
        self.assertIs(type(name), str)
        self.assertIs(type(n), int)
        self.assertIs(type(r), float)
        self.assertIs(type(b), bytes)

    def test_dicts_and_value(self):
        self.assertEqual(self.rows.as_dicts()[0],
                         {'name': 'a', 'n': 1, 'r': 1.5, 'b': b'\x00'})
        self.assertEqual(self.rows.value(0, 'n'), 1)
        self.assertEqual(self.rows.value(-1, 0), '')
        self.assertIsNone(self.rows.value(1, 'r'))
        with self.assertRaises(KeyError):
            self.rows.value(0, 'nope')
        self.assertEqual(self.rows.column_index('r'), 2)

    def test_empty_and_write_results(self):
        empty = self.pools.read('SELECT * FROM t WHERE 0')
        self.assertEqual(len(empty), 0)
        self.assertFalse(empty)
        self.assertEqual(list(empty), [])
        self.assertEqual(empty.columns, ('id', 'name', 'n', 'r', 'b'))
        w = self.pools.write('UPDATE t SET n = 5 WHERE n IS NULL')
        self.assertEqual(len(w), 0)
        self.assertEqual(w.get_changes(), 1)
        ret = self.pools.write("INSERT INTO t (name) VALUES ('z') "
                               'RETURNING id, name')
        self.assertEqual(ret.columns, ('id', 'name'))
        self.assertEqual(ret[0], (4, 'z'))

    def test_text_that_is_not_clean_utf8(self):
        # Same as get_string(): not UTF-8 raises, a NUL ends the text.
        rows = self.pools.read("SELECT 1, CAST(x'ff41' AS TEXT) "
                               "UNION ALL SELECT 2, 'a' || char(0) || 'b'")
        with self.assertRaises(UnicodeDecodeError):
            rows[0]
        with self.assertRaises(UnicodeDecodeError):
            list(rows)
        with self.assertRaises(UnicodeDecodeError):
            rows.value(0, 1)
        self.assertEqual(rows[1], (2, 'a'))
        self.assertEqual(rows.value(1, 1), 'a')

    def test_blobs_next_to_other_values(self):
        big = bytes(range(256)) * 1000
        self.pools.write('INSERT INTO t (name, b) VALUES (?, ?)',
                         ('big', big))
        rows = self.pools.read("SELECT b, name, x'', NULL, b FROM t "
                               "WHERE name = 'big'")
        row = rows[0]
        self.assertEqual(row, (big, 'big', b'', None, big))
        self.assertIs(type(row[0]), bytes)
        self.assertIs(type(row[2]), bytes)
        self.assertEqual(rows.value(0, 2), b'')

    def test_index_types(self):
        class Index:
            def __index__(self):
                return 1

        self.assertEqual(self.rows[Index()], self.rows[1])
        self.assertEqual(self.rows[True], self.rows[1])
        self.assertEqual(self.rows[-3], self.rows[0])
        # Not an index (the exact exception is whatever __index__ gives).
        for bad in ('0', 0.0):
            with self.assertRaises((TypeError, AttributeError)):
                self.rows[bad]

    def test_c_accessors_unchanged(self):
        self.assertEqual(self.rows.get_n_rows(), 3)
        self.assertEqual(self.rows.get_string(0, 0), 'a')
        self.assertTrue(self.rows.is_null(1, 1))


class TestWriteMany(OverrideTestCase):
    def test_rows_of_python_values(self):
        rows = self.pools.write_many(
            'INSERT INTO t (name, n) VALUES (?, ?) RETURNING id',
            [('a%d' % i, i) for i in range(100)])
        self.assertEqual(rows.rowcount, 100)
        self.assertEqual(len(rows), 100)
        self.assertEqual(self.count(), 100)

    def test_all_or_nothing(self):
        with self.assertRaises(MsbDb.IntegrityError) as cm:
            self.pools.write_many('INSERT INTO t (name) VALUES (?)',
                                  [('x',), ('y',), ('x',)])
        self.assertIn('Row 3 of 3', str(cm.exception))
        self.assertEqual(self.count(), 0)

    def test_columns_variant(self):
        columns = GLib.Variant('(asax)', (['p', 'q'], [1, 2]))
        self.pools.write_many('INSERT INTO t (name, n) VALUES (?, ?)', columns)
        self.assertEqual(self.pools.read('SELECT sum(n) FROM t')[0][0], 3)

    def test_not_an_iterable(self):
        with self.assertRaises(TypeError):
            self.pools.write_many('INSERT INTO t (name) VALUES (?)', 'abc')


class TestCursorAndScript(OverrideTestCase):
    def test_cursor_reads_every_row_in_parts(self):
        self.pools.write_many('INSERT INTO t (name, n) VALUES (?, ?)',
                              [('r%d' % i, i) for i in range(2500)])
        with self.pools.open_cursor('SELECT n FROM t ORDER BY n') as cursor:
            self.assertEqual(len(cursor.fetch(10)), 10)
            rest = [n for (n,) in cursor]
        self.assertEqual(rest, list(range(10, 2500)))
        with self.assertRaises(MsbDb.ClosedError):
            cursor.fetch()

    def test_write_script(self):
        self.assertTrue(self.pools.write_script(
            "INSERT INTO t (name) VALUES ('a'); INSERT INTO t (name) VALUES ('b');"))
        self.assertEqual(self.count(), 2)
        with self.assertRaises(MsbDb.IntegrityError):
            self.pools.write_script(
                "INSERT INTO t (name) VALUES ('c'); INSERT INTO t (name) VALUES ('a');")
        self.assertEqual(self.count(), 2)


class TestContextManager(OverrideTestCase):
    def test_with_closes(self):
        path = os.path.join(self.tmpdir, 'with.db')
        with MsbDb.Pools.open(path) as pools:
            self.assertIsInstance(pools, MsbDb.Pools)
            pools.write('CREATE TABLE x (a)')
            self.assertFalse(pools.is_closed())
        self.assertTrue(pools.is_closed())
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT 1')
        self.assertEqual(cm.exception.code, int(MsbDb.Error.CLOSED))
        self.assertFalse(os.path.exists(path + '-wal'))

    def test_with_closes_on_exception(self):
        path = os.path.join(self.tmpdir, 'with.db')
        with self.assertRaises(RuntimeError):
            with MsbDb.Pools.open(path) as pools:
                raise RuntimeError('leave the block')
        self.assertTrue(pools.is_closed())

    def test_open_async(self):
        loop = GLib.MainLoop()
        got = []

        def opened(source, result, *user_data):
            got.append((user_data, MsbDb.Pools.open_finish(result)))
            if len(got) == 2:
                loop.quit()

        # Library defaults and a keyword callback...
        MsbDb.Pools.open_async(os.path.join(self.tmpdir, 'a.db'),
                               callback=opened)
        # ...or every argument, with user data.
        MsbDb.Pools.open_async(os.path.join(self.tmpdir, 'b.db'), 2,
                               connect_timeout=5, busy_timeout=1,
                               cancellable=None, callback=opened,
                               user_data='tag')
        self.run_loop(loop)
        got.sort(key=lambda g: len(g[0]))
        self.assertEqual([g[0] for g in got], [(), ('tag',)])
        for _, pools in got:
            with pools:
                self.assertEqual(pools.read('SELECT 1')[0], (1,))
        self.assertEqual(got[0][1].get_max_read_connections(),
                         MsbDb.DEFAULT_MAX_READ_CONNECTIONS)
        self.assertEqual(got[1][1].get_max_read_connections(), 2)

    def test_open_defaults(self):
        path = os.path.join(self.tmpdir, 'defaults.db')
        with MsbDb.Pools.open(path) as pools:
            self.assertEqual(pools.get_max_read_connections(),
                             MsbDb.DEFAULT_MAX_READ_CONNECTIONS)
            self.assertEqual(pools.get_busy_timeout(),
                             MsbDb.DEFAULT_BUSY_TIMEOUT_SECS * SEC)
            self.assertEqual(pools.get_connect_timeout(),
                             MsbDb.DEFAULT_CONNECT_TIMEOUT_SECS * SEC)
        with MsbDb.Pools.open_read_only(path) as ro:
            self.assertTrue(ro.get_read_only())
            self.assertEqual(len(ro.read('SELECT 1')), 1)


class TestTransaction(OverrideTestCase):
    def test_helper_returns_result_on_writer_thread(self):
        where = []

        def body(conn, name, n):
            where.append(threading.current_thread() is threading.main_thread())
            conn.execute('INSERT INTO t (name, n) VALUES (?, ?)', (name, n))
            return conn.execute('SELECT n FROM t WHERE name = :name',
                                {'name': name})[0][0]

        self.assertEqual(
            self.pools.transaction(functools.partial(body, name='x', n=9)), 9)
        self.assertEqual(where, [False])
        self.assertEqual(self.count("name = 'x'"), 1)

    def test_decorator_runs_at_once(self):
        @self.pools.transaction
        def new_id(conn):
            return conn.execute("INSERT INTO t (name) VALUES ('d')"
                                ).get_last_insert_rowid()
        self.assertEqual(new_id, 1)
        self.assertEqual(self.count("name = 'd'"), 1)

        @self.pools.snapshot
        def names(conn):
            return [r[0] for r in conn.execute('SELECT name FROM t')]
        self.assertEqual(names, ['d'])

    def test_none_result_commits(self):
        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('n')")

        self.assertIsNone(self.pools.transaction(body))
        self.assertEqual(self.count(), 1)

    def test_exception_rolls_back_and_reaches_caller(self):
        class Boom(Exception):
            pass

        raised = Boom('from the writer thread')

        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('gone')")
            raise raised

        with self.assertRaises(Boom) as cm:
            self.pools.transaction(body)
        self.assertIs(cm.exception, raised)
        self.assertEqual(self.count(), 0)
        # The writer is still healthy afterwards.
        self.pools.write("INSERT INTO t (name) VALUES ('after')")
        self.assertEqual(self.count(), 1)

    def test_decorator_exception(self):
        with self.assertRaises(KeyError):
            @self.pools.transaction
            def body(conn):
                conn.execute("INSERT INTO t (name) VALUES ('gone')")
                {}['missing']
        self.assertEqual(self.count(), 0)

    def test_sql_error_inside_reaches_caller(self):
        self.pools.write("INSERT INTO t (name) VALUES ('dup')")

        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('first')")
            conn.execute("INSERT INTO t (name) VALUES ('dup')")

        with self.assertRaises(GLib.Error) as cm:
            self.pools.transaction(body)
        self.assertEqual(cm.exception.domain, 'msb-db-error-quark')
        self.assertEqual(cm.exception.code, int(MsbDb.Error.CONSTRAINT))
        self.assertEqual(self.count(), 1)

    def test_caught_error_inside_does_not_abort(self):
        self.pools.write("INSERT INTO t (name) VALUES ('dup')")

        def body(conn):
            try:
                conn.execute("INSERT INTO t (name) VALUES ('dup')")
            except GLib.Error:
                conn.execute("INSERT INTO t (name) VALUES ('instead')")
            return 'handled'

        self.assertEqual(self.pools.transaction(body), 'handled')
        self.assertEqual(self.count("name = 'instead'"), 1)

    def test_false_rolls_back(self):
        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('gone')")
            return False

        with self.assertRaises(GLib.Error) as cm:
            self.pools.transaction(body)
        self.assertEqual(cm.exception.code, int(MsbDb.Error.FAILED))
        self.assertEqual(self.count(), 0)

    def test_not_callable(self):
        with self.assertRaises(TypeError):
            self.pools.transaction('INSERT INTO t (name) VALUES (1)')

    def test_blocking_call_inside_fails_fast(self):
        def body(conn):
            try:
                self.pools.read('SELECT 1')
            except GLib.Error as e:
                return e.code
            return None

        self.assertEqual(self.pools.transaction(body),
                         int(MsbDb.Error.FAILED))
        self.assertEqual(self.pools.snapshot(body), int(MsbDb.Error.FAILED))

    def test_snapshot_helper(self):
        self.pools.write("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2)")

        def body(conn, factor):
            self.assertTrue(conn.is_read_only())
            total = conn.execute('SELECT sum(n) FROM t')[0][0]
            return total * factor

        self.assertEqual(self.pools.snapshot(lambda c: body(c, 10)), 30)

        def writes(conn):
            conn.execute('DELETE FROM t')

        with self.assertRaises(GLib.Error) as cm:
            self.pools.snapshot(writes)
        self.assertEqual(cm.exception.code, int(MsbDb.Error.READ_ONLY))
        self.assertEqual(self.count(), 2)

    def test_snapshot_exception(self):
        with self.assertRaises(ZeroDivisionError):
            self.pools.snapshot(lambda conn: 1 / 0)


class TestAsync(OverrideTestCase):
    def test_read_write_async_with_python_params(self):
        loop = GLib.MainLoop()
        got = []

        def read(pools, result, tag):
            got.append((tag, list(pools.read_finish(result))))
            loop.quit()

        def wrote(pools, result, tag):
            got.append((tag, pools.write_finish(result).get_changes()))
            pools.read_async('SELECT name, n FROM t WHERE n = ?', (3,), None,
                             read, 'r')

        self.pools.write_async('INSERT INTO t (name, n) VALUES (?, ?)',
                               ('three', 3), None, wrote, 'w')
        self.run_loop(loop)
        self.assertEqual(got, [('w', 1), ('r', [('three', 3)])])

    def test_transaction_async_result_and_exception(self):
        loop = GLib.MainLoop()
        got = []

        def finished(pools, result, tag):
            self.assertIs(threading.current_thread(), threading.main_thread())
            try:
                got.append((tag, pools.transaction_finish(result)))
            except Exception as e:  # the test checks which one
                got.append((tag, e))
            if len(got) == 3:
                loop.quit()

        def insert(conn, name):
            return conn.execute('INSERT INTO t (name) VALUES (?)',
                                (name,)).get_last_insert_rowid()

        boom = ValueError('async boom')

        def fail(conn):
            conn.execute("INSERT INTO t (name) VALUES ('gone')")
            raise boom

        self.pools.transaction_async(functools.partial(insert, name='one'),
                                     callback=finished, user_data='a')
        self.pools.transaction_async(fail, callback=finished, user_data='b')
        self.pools.transaction_async(lambda conn: insert(conn, 'two'),
                                     callback=finished, user_data='c')
        self.run_loop(loop)
        self.assertEqual(dict(got), {'a': 1, 'b': boom, 'c': 2})
        self.assertIs(dict(got)['b'], boom)
        self.assertEqual(self.count("name = 'gone'"), 0)

    def test_snapshot_async(self):
        self.pools.write("INSERT INTO t (name) VALUES ('s')")
        loop = GLib.MainLoop()
        got = {}

        def finished(pools, result, tag):
            try:
                got[tag] = pools.snapshot_finish(result)
            except Exception as e:
                got[tag] = e
            if len(got) == 2:
                loop.quit()

        # Snapshots run concurrently on read workers: completion order is
        # not fixed, hence the tags.
        self.pools.snapshot_async(
            lambda conn: conn.execute('SELECT name FROM t')[0][0],
            callback=finished, user_data='ok')
        self.pools.snapshot_async(lambda conn: {}['k'], callback=finished,
                                  user_data='raises')
        self.run_loop(loop)
        self.assertEqual(got['ok'], 's')
        self.assertIsInstance(got['raises'], KeyError)

    def test_fire_and_forget(self):
        self.pools.transaction_async(
            lambda conn: conn.execute("INSERT INTO t (name) VALUES ('ff')"))
        # A blocking write is queued behind it: when it returns, the
        # transaction has run.
        self.pools.write("INSERT INTO t (name) VALUES ('after')")
        self.assertEqual(self.count("name = 'ff'"), 1)


if __name__ == '__main__':
    unittest.main(verbosity=2)
