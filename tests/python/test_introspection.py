# SPDX-License-Identifier: LGPL-2.1-or-later
"""MsbDb through plain GObject Introspection, with no override.

Everything here is what a binding without gi.overrides.MsbDb sees: params
are explicit GLib.Variant values, results are read through the C accessors,
errors are GLib.Error. The override is blocked (see msbdb_testlib).
"""

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=False)

from gi.repository import GLib, Gio  # noqa: E402

SEC = 1000000  # GTimeSpan is in microseconds


def V(fmt, value):
    return GLib.Variant(fmt, value)


def unpack_rows_variant(rows):
    """Rows.to_variant() unpacked, as a list of lists of Python values.

    Accepts the shapes a sensible to_variant() may have: an array of rows
    (aav, aamv, a(...)) or a tuple/dict holding column names and rows."""
    value = rows.to_variant().unpack()
    if isinstance(value, dict):
        value = value.get('rows', value)
    if isinstance(value, tuple) and len(value) == 2 and \
            all(isinstance(x, str) for x in value[0]):
        value = value[1]
    return [list(r) for r in value]


class TestOverrideBlocked(unittest.TestCase):
    def test_no_override(self):
        # The introspected class itself: no Python sequence protocol.
        self.assertFalse(hasattr(MsbDb.Rows, '__len__'))
        self.assertFalse(hasattr(MsbDb.Pools, '__enter__'))
        self.assertEqual(MsbDb.Rows.__module__, 'gi.repository.MsbDb')


class PlainTestCase(DbTestCase):
    def open(self, **kw):
        pools = MsbDb.Pools.open(self.path, kw.get('max_read', 2),
                                 kw.get('connect_timeout', 10 * SEC),
                                 kw.get('busy_timeout', 5 * SEC), None)
        self.addCleanup(self.close_quietly, pools)
        return pools

    @staticmethod
    def close_quietly(pools):
        try:
            pools.close(None)
        except GLib.Error:
            pass

    def make_table(self, pools):
        pools.write('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                    'name TEXT UNIQUE, n INTEGER, r REAL, b BLOB)', None, None)


class TestOpen(PlainTestCase):
    def test_open_and_properties(self):
        pools = self.open(max_read=3, connect_timeout=7 * SEC,
                          busy_timeout=2 * SEC)
        self.assertIsInstance(pools, MsbDb.Pools)
        self.assertEqual(pools.get_max_read_connections(), 3)
        self.assertEqual(pools.get_connect_timeout(), 7 * SEC)
        self.assertEqual(pools.get_busy_timeout(), 2 * SEC)
        self.assertFalse(pools.get_read_only())
        self.assertFalse(pools.is_closed())
        self.assertEqual(pools.props.max_read_connections, 3)
        self.assertTrue(os.path.exists(self.path))

    def test_constants(self):
        self.assertEqual(MsbDb.DEFAULT_BUSY_TIMEOUT_SECS, 5)
        self.assertIsInstance(MsbDb.DEFAULT_CONNECT_TIMEOUT_SECS, int)
        self.assertIsInstance(MsbDb.DEFAULT_MAX_READ_CONNECTIONS, int)

    def test_sqlite_uri_target(self):
        pools = MsbDb.Pools.open('sqlite://' + self.path, 1, 5 * SEC, SEC,
                                 None)
        self.addCleanup(self.close_quietly, pools)
        pools.write('CREATE TABLE x (a)', None, None)
        self.assertTrue(os.path.exists(self.path))

    def test_unsupported_target(self):
        with self.assertRaises(GLib.Error) as cm:
            MsbDb.Pools.open('mysql://127.0.0.1:9001/app', 1, SEC, SEC, None)
        self.assertMsbError(cm.exception, MsbDb.Error.CANT_OPEN, MsbDb)

    def test_read_only_never_creates(self):
        with self.assertRaises(GLib.Error) as cm:
            MsbDb.Pools.open_read_only(self.path, 1, SEC, SEC, None)
        self.assertEqual(cm.exception.domain, 'msb-db-error-quark')
        self.assertFalse(os.path.exists(self.path))

    def test_read_only_pools(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name) VALUES ('a')", None, None)
        pools.close(None)
        ro = MsbDb.Pools.open_read_only(self.path, 1, SEC, SEC, None)
        self.addCleanup(self.close_quietly, ro)
        self.assertTrue(ro.get_read_only())
        rows = ro.read('SELECT name FROM t', None, None)
        self.assertEqual(rows.get_string(0, 0), 'a')
        with self.assertRaises(GLib.Error) as cm:
            ro.write("INSERT INTO t (name) VALUES ('b')", None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.READ_ONLY, MsbDb)

    def test_gobject_construction(self):
        pools = MsbDb.Pools(path=self.path, max_read_connections=2,
                            connect_timeout=3 * SEC, busy_timeout=SEC)
        self.assertTrue(pools.init(None))
        self.addCleanup(self.close_quietly, pools)
        self.assertEqual(pools.get_connect_timeout(), 3 * SEC)
        rows = pools.read('SELECT 41 + 1', None, None)
        self.assertEqual(rows.get_int64(0, 0), 42)

    def test_open_async(self):
        loop = GLib.MainLoop()
        got = []

        def done(source, result, *user_data):
            got.append((threading.current_thread() is threading.main_thread(),
                        user_data))
            got.append(MsbDb.Pools.open_finish(result))
            loop.quit()

        MsbDb.Pools.open_async(self.path, 2, 5 * SEC, SEC, None, done, 'ud')
        self.run_loop(loop)
        self.assertEqual(got[0], (True, ('ud',)))
        pools = got[1]
        self.addCleanup(self.close_quietly, pools)
        self.assertIsInstance(pools, MsbDb.Pools)
        self.assertEqual(pools.read('SELECT 1', None, None).get_int64(0, 0), 1)


class TestSync(PlainTestCase):
    def test_write_then_read(self):
        pools = self.open()
        self.make_table(pools)
        r = pools.write('INSERT INTO t (name, n, r, b) VALUES (?, ?, ?, ?)',
                        V('(sxday)', ('alpha', 7, 2.5, b'\x00\xff')), None)
        self.assertIsInstance(r, MsbDb.Rows)
        self.assertEqual(r.get_changes(), 1)
        self.assertEqual(r.get_last_insert_rowid(), 1)
        self.assertEqual(r.get_n_rows(), 0)

        rows = pools.read('SELECT id, name, n, r, b FROM t WHERE n = ?',
                          V('(x)', (7,)), None)
        self.assertEqual(rows.get_n_rows(), 1)
        self.assertEqual(rows.get_n_columns(), 5)
        self.assertEqual([rows.get_column_name(i) for i in range(5)],
                         ['id', 'name', 'n', 'r', 'b'])
        self.assertEqual(rows.get_int64(0, 0), 1)
        self.assertEqual(rows.get_string(0, 1), 'alpha')
        self.assertEqual(rows.get_int64(0, 2), 7)
        self.assertEqual(rows.get_double(0, 3), 2.5)
        blob = rows.get_bytes(0, 4)
        self.assertIsInstance(blob, GLib.Bytes)
        self.assertEqual(blob.get_data(), b'\x00\xff')
        self.assertEqual(rows.get_value_type(0, 4), MsbDb.ValueType.BLOB)
        self.assertEqual(rows.get_value_type(0, 3), MsbDb.ValueType.REAL)

    def test_returning(self):
        pools = self.open()
        self.make_table(pools)
        r = pools.write('INSERT INTO t (name) VALUES (?), (?) RETURNING id, '
                        'name', V('(ss)', ('a', 'b')), None)
        self.assertEqual(r.get_n_rows(), 2)
        self.assertEqual(r.get_changes(), 2)
        self.assertEqual(sorted(r.get_string(i, 1) for i in range(2)),
                         ['a', 'b'])

    def test_named_params(self):
        pools = self.open()
        rows = pools.read('SELECT :a + 1, @b || \'!\', $c',
                          V('a{sv}', {'a': V('x', 41), 'b': V('s', 'hi'),
                                      'c': V('d', 0.5)}), None)
        self.assertEqual(rows.get_int64(0, 0), 42)
        self.assertEqual(rows.get_string(0, 1), 'hi!')
        self.assertEqual(rows.get_double(0, 2), 0.5)

    def test_numbered_params(self):
        pools = self.open()
        rows = pools.read('SELECT ?2, ?1, ?2', V('(xs)', (1, 'two')), None)
        self.assertEqual(rows.get_string(0, 0), 'two')
        self.assertEqual(rows.get_int64(0, 1), 1)

    def test_null_distinct_from_zero_and_empty(self):
        pools = self.open()
        rows = pools.read("SELECT NULL, 0, '', x'', ?",
                          V('(mv)', (None,)), None)
        self.assertTrue(rows.is_null(0, 0))
        self.assertFalse(rows.is_null(0, 1))
        self.assertFalse(rows.is_null(0, 2))
        self.assertFalse(rows.is_null(0, 3))
        self.assertTrue(rows.is_null(0, 4))
        self.assertEqual(rows.get_value_type(0, 0), MsbDb.ValueType.NULL)
        self.assertEqual(rows.get_value_type(0, 1), MsbDb.ValueType.INTEGER)
        self.assertEqual(rows.get_value_type(0, 2), MsbDb.ValueType.TEXT)
        self.assertIsNone(rows.get_string(0, 0))
        self.assertEqual(rows.get_string(0, 2), '')
        self.assertEqual(rows.get_bytes(0, 3).get_data() or b'', b'')

    def test_to_variant_unpacks_to_python(self):
        pools = self.open()
        rows = pools.read("SELECT NULL, 0, '', 1.5, 'x' UNION ALL "
                          "SELECT 3, NULL, 'y', NULL, ''", None, None)
        self.assertEqual(unpack_rows_variant(rows),
                         [[None, 0, '', 1.5, 'x'], [3, None, 'y', None, '']])
        # PyGObject 3.42 unpacks an 'ay' to a list of ints, not bytes:
        # accept either, as long as the bytes are right.
        blob = unpack_rows_variant(pools.read("SELECT x'00ff'", None, None))
        self.assertEqual(bytes(blob[0][0]), b'\x00\xff')

    def test_dup_row_gives_python_values(self):
        # One call per row, converted by PyGObject itself: NULL is None
        # (distinct from 0, '' and 0.0), a BLOB an 'ay' GLib.Variant.
        pools = self.open()
        rows = pools.read("SELECT NULL, 0, '', 0.0, x'', "
                          "-9223372036854775808, 'h\u00e9', 2.5, x'00ff' "
                          "UNION ALL SELECT 1, 2, 3, 4, 5, 6, 7, 8, 9",
                          None, None)
        row = rows.dup_row(0)
        self.assertIsInstance(row, list)
        self.assertEqual(row[:4], [None, 0, '', 0.0])
        self.assertIs(type(row[1]), int)
        self.assertIs(type(row[2]), str)
        self.assertIs(type(row[3]), float)
        self.assertEqual(row[5:8], [-(1 << 63), 'h\u00e9', 2.5])
        for blob, data in ((row[4], b''), (row[8], b'\x00\xff')):
            self.assertIsInstance(blob, GLib.Variant)
            self.assertEqual(blob.get_type_string(), 'ay')
            self.assertEqual(blob.get_data_as_bytes().get_data() or b'',
                             data)
        self.assertEqual(rows.dup_row(1), list(range(1, 10)))

    def test_dup_row_text_that_is_not_clean_utf8(self):
        # Text a Python str cannot hold whole comes as bytes; the value type
        # still says TEXT.
        pools = self.open()
        rows = pools.read("SELECT CAST(x'ff41' AS TEXT), "
                          "'a' || char(0) || 'b', '\U0010ffff'", None, None)
        bad, nul, ok = rows.dup_row(0)
        self.assertEqual(bad.get_data_as_bytes().get_data(), b'\xffA')
        self.assertEqual(nul.get_data_as_bytes().get_data(), b'a\x00b')
        self.assertEqual(ok, '\U0010ffff')
        for c in (0, 1):
            self.assertEqual(rows.get_value_type(0, c), MsbDb.ValueType.TEXT)

    def test_dup_row_values_outlive_rows(self):
        pools = self.open()
        rows = pools.read("SELECT x'0102', 'text'", None, None)
        blob, text = rows.dup_row(0)
        del rows
        gc.collect()
        self.assertEqual(blob.get_data_as_bytes().get_data(), b'\x01\x02')
        self.assertEqual(text, 'text')

    def test_blob_roundtrip(self):
        pools = self.open()
        data = bytes(range(256)) * 64
        rows = pools.read('SELECT ?, length(?1)', V('(ay)', (data,)), None)
        self.assertEqual(rows.get_bytes(0, 0).get_data(), data)
        self.assertEqual(rows.get_int64(0, 1), len(data))
        self.assertEqual(rows.get_value_type(0, 0), MsbDb.ValueType.BLOB)

    def test_integer_kinds_bind_as_integer(self):
        pools = self.open()
        rows = pools.read('SELECT typeof(?1), typeof(?2), typeof(?3), ?3, '
                          'typeof(?4), ?4, typeof(?5)',
                          V('(bitsy)', (True, -5, (1 << 63) - 1, 'x', 9)),
                          None)
        self.assertEqual(rows.get_string(0, 0), 'integer')
        self.assertEqual(rows.get_string(0, 1), 'integer')
        self.assertEqual(rows.get_string(0, 2), 'integer')
        self.assertEqual(rows.get_int64(0, 3), (1 << 63) - 1)
        self.assertEqual(rows.get_string(0, 4), 'text')
        self.assertEqual(rows.get_string(0, 5), 'x')
        self.assertEqual(rows.get_string(0, 6), 'integer')

    def test_python_threads_share_pools(self):
        pools = self.open(max_read=2)
        self.make_table(pools)
        errors = []

        def worker(k):
            try:
                for i in range(20):
                    pools.write('INSERT INTO t (name, n) VALUES (?, ?)',
                                V('(sx)', ('w%d-%d' % (k, i), k)), None)
                    pools.read('SELECT count(*) FROM t', None, None)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        rows = pools.read('SELECT count(*) FROM t', None, None)
        self.assertEqual(rows.get_int64(0, 0), 80)


class TestErrors(PlainTestCase):
    def test_domain(self):
        self.assertEqual(GLib.quark_to_string(MsbDb.error_quark()),
                         'msb-db-error-quark')
        self.assertEqual(int(MsbDb.Error.FAILED), 0)
        for name in ('FAILED', 'SQL', 'CONSTRAINT', 'BUSY', 'POOL_TIMEOUT',
                     'READ_ONLY', 'CLOSED', 'INVALID_ARGUMENT', 'CANT_OPEN',
                     'CORRUPT'):
            self.assertTrue(hasattr(MsbDb.Error, name), name)

    def test_sql_error(self):
        pools = self.open()
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT * FROM no_such_table', None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.SQL, MsbDb)
        self.assertIn('no_such_table', cm.exception.message)

    def test_constraint(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name) VALUES ('a')", None, None)
        with self.assertRaises(GLib.Error) as cm:
            pools.write("INSERT INTO t (name) VALUES ('a')", None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.CONSTRAINT, MsbDb)
        self.assertIn('SQLITE_CONSTRAINT_UNIQUE', cm.exception.message)
        self.assertIn('INSERT INTO t', cm.exception.message)
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 1)

    def test_write_through_read_is_refused(self):
        pools = self.open()
        self.make_table(pools)
        with self.assertRaises(GLib.Error) as cm:
            pools.read("INSERT INTO t (name) VALUES ('x')", None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.READ_ONLY, MsbDb)
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 0)

    def test_transaction_control_is_refused(self):
        pools = self.open()
        for sql in ('BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT s'):
            with self.assertRaises(GLib.Error) as cm:
                pools.write(sql, None, None)
            self.assertMsbError(cm.exception, MsbDb.Error.INVALID_ARGUMENT,
                                MsbDb)
            self.assertIn('transaction', cm.exception.message.lower())

    def test_param_count_mismatch(self):
        pools = self.open()
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT ?, ?', V('(x)', (1,)), None)
        self.assertMsbError(cm.exception, MsbDb.Error.INVALID_ARGUMENT, MsbDb)
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT ?', None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.INVALID_ARGUMENT, MsbDb)

    def test_unbindable_type_names_parameter(self):
        pools = self.open()
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT ?, ?', V('(xas)', (1, ['a'])), None)
        self.assertMsbError(cm.exception, MsbDb.Error.INVALID_ARGUMENT, MsbDb)
        self.assertIn('2', cm.exception.message)

    def test_uint64_above_int64_refused(self):
        pools = self.open()
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT ?', V('(t)', ((1 << 63),)), None)
        self.assertMsbError(cm.exception, MsbDb.Error.INVALID_ARGUMENT, MsbDb)

    def test_cancelled_before_start(self):
        pools = self.open()
        c = Gio.Cancellable()
        c.cancel()
        with self.assertRaises(GLib.Error) as cm:
            pools.read('SELECT 1', None, c)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.CANCELLED),
                        cm.exception.message)
        self.make_table(pools)
        with self.assertRaises(GLib.Error) as cm:
            pools.write("INSERT INTO t (name) VALUES ('x')", None, c)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.CANCELLED))
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 0)


class TestAsync(PlainTestCase):
    def test_read_write_async(self):
        pools = self.open()
        self.make_table(pools)
        loop = GLib.MainLoop()
        got = {}

        def wrote(source, result, tag):
            got['write_thread'] = threading.current_thread()
            got['write'] = source.write_finish(result)
            source.read_async('SELECT name FROM t', None, None, read, 'r')

        def read(source, result, tag):
            got['read_tag'] = tag
            got['read'] = source.read_finish(result)
            loop.quit()

        pools.write_async("INSERT INTO t (name) VALUES (?)",
                          V('(s)', ('async',)), None, wrote, 'w')
        self.run_loop(loop)
        self.assertIs(got['write_thread'], threading.main_thread())
        self.assertEqual(got['write'].get_changes(), 1)
        self.assertEqual(got['read_tag'], 'r')
        self.assertEqual(got['read'].get_string(0, 0), 'async')

    def test_many_in_flight(self):
        pools = self.open(max_read=4)
        self.make_table(pools)
        loop = GLib.MainLoop()
        n = 300
        state = {'pending': 2 * n, 'errors': [], 'threads': set()}

        def finished(source, result, kind):
            state['threads'].add(threading.current_thread().ident)
            try:
                if kind == 'w':
                    source.write_finish(result)
                else:
                    source.read_finish(result)
            except GLib.Error as e:
                state['errors'].append(e.message)
            state['pending'] -= 1
            if state['pending'] == 0:
                loop.quit()

        for i in range(n):
            pools.write_async('INSERT INTO t (name, n) VALUES (?, ?)',
                              V('(sx)', ('n%d' % i, i)), None, finished, 'w')
            pools.read_async('SELECT count(*) FROM t', None, None,
                             finished, 'r')
        self.run_loop(loop, timeout=60)
        self.assertEqual(state['errors'], [])
        self.assertEqual(state['threads'], {threading.main_thread().ident})
        rows = pools.read('SELECT count(*), sum(n) FROM t', None, None)
        self.assertEqual(rows.get_int64(0, 0), n)
        self.assertEqual(rows.get_int64(0, 1), n * (n - 1) // 2)

    def test_async_error(self):
        pools = self.open()
        loop = GLib.MainLoop()
        got = []

        def done(source, result):
            try:
                source.read_finish(result)
            except GLib.Error as e:
                got.append(e)
            loop.quit()

        pools.read_async('SELEKT 1', None, None, done)
        self.run_loop(loop)
        self.assertEqual(len(got), 1)
        self.assertMsbError(got[0], MsbDb.Error.SQL, MsbDb)


class TestCallbacks(PlainTestCase):
    def test_transaction_runs_on_writer_thread(self):
        pools = self.open()
        self.make_table(pools)
        seen = []

        def body(connection, *user_data):
            seen.append((threading.current_thread() is threading.main_thread(),
                         user_data))
            self.assertIsInstance(connection, MsbDb.Connection)
            connection.execute('INSERT INTO t (name) VALUES (?)',
                               V('(s)', ('in-tx',)))
            connection.execute('UPDATE t SET n = 1', None)
            return True

        self.assertTrue(pools.transaction(body, 'ud', None))
        # PyGObject 3.42: scope-call user_data arrives as one extra argument.
        self.assertEqual(seen, [(False, ('ud',))])
        rows = pools.read('SELECT name, n FROM t', None, None)
        self.assertEqual(rows.get_string(0, 0), 'in-tx')
        self.assertEqual(rows.get_int64(0, 1), 1)
        self.assertGreaterEqual(pools.get_stats().transactions, 1)

    def test_transaction_raising_gerror_rolls_back(self):
        pools = self.open()
        self.make_table(pools)

        def body(connection, *user_data):
            connection.execute("INSERT INTO t (name) VALUES ('gone')", None)
            raise GLib.Error.new_literal(MsbDb.error_quark(), 'body says no',
                                         int(MsbDb.Error.CONSTRAINT))

        with self.assertRaises(GLib.Error) as cm:
            pools.transaction(body, None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.CONSTRAINT, MsbDb)
        self.assertIn('body says no', cm.exception.message)
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 0)

    def test_transaction_constraint_inside_reaches_caller(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name) VALUES ('dup')", None, None)

        def body(connection, *user_data):
            connection.execute("INSERT INTO t (name) VALUES ('first')", None)
            connection.execute("INSERT INTO t (name) VALUES ('dup')", None)
            return True

        with self.assertRaises(GLib.Error) as cm:
            pools.transaction(body, None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.CONSTRAINT, MsbDb)
        rows = pools.read('SELECT count(*) FROM t', None, None)
        self.assertEqual(rows.get_int64(0, 0), 1)

    def test_transaction_returning_false_rolls_back(self):
        pools = self.open()
        self.make_table(pools)

        def body(connection, *user_data):
            connection.execute("INSERT INTO t (name) VALUES ('gone')", None)
            return False

        with self.assertRaises(GLib.Error) as cm:
            pools.transaction(body, None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.FAILED, MsbDb)
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 0)

    def test_transaction_python_exception_rolls_back(self):
        # Without the override a non-GLib exception is printed by PyGObject
        # and the callback returns FALSE without an error: FAILED.
        pools = self.open()
        self.make_table(pools)

        def body(connection, *user_data):
            connection.execute("INSERT INTO t (name) VALUES ('gone')", None)
            raise ZeroDivisionError('expected by the test')

        with self.assertRaises(GLib.Error) as cm:
            pools.transaction(body, None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.FAILED, MsbDb)
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 0)

    def test_blocking_call_inside_callback_fails_fast(self):
        pools = self.open()
        self.make_table(pools)
        got = []

        def body(connection, *user_data):
            for call in (lambda: pools.read('SELECT 1', None, None),
                         lambda: pools.write('SELECT 1', None, None),
                         lambda: pools.transaction(lambda c, *u: True, None,
                                                   None),
                         lambda: pools.snapshot(lambda c, *u: True, None,
                                                None)):
                try:
                    call()
                    got.append(None)
                except GLib.Error as e:
                    got.append((e.domain, e.code))
            return True

        start = time.monotonic()
        pools.transaction(body, None, None)
        pools.snapshot(body, None, None)
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(got, [('msb-db-error-quark',
                                int(MsbDb.Error.FAILED))] * 8)

    def test_connection_invalid_after_callback(self):
        pools = self.open()
        kept = []

        def body(connection, *user_data):
            kept.append(connection)
            return True

        pools.transaction(body, None, None)
        pools.snapshot(body, None, None)
        for connection in kept:
            with self.assertRaises(GLib.Error) as cm:
                connection.execute('SELECT 1', None)
            self.assertMsbError(cm.exception, MsbDb.Error.CLOSED, MsbDb)

    def test_snapshot(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2)",
                    None, None)
        seen = []

        def body(connection, *user_data):
            seen.append(threading.current_thread() is threading.main_thread())
            self.assertTrue(connection.is_read_only())
            a = connection.execute('SELECT count(*) FROM t', None)
            b = connection.execute('SELECT sum(n) FROM t', None)
            seen.append((a.get_int64(0, 0), b.get_int64(0, 0)))
            try:
                connection.execute("DELETE FROM t", None)
            except GLib.Error as e:
                seen.append(e.code)
            return True

        self.assertTrue(pools.snapshot(body, None, None))
        self.assertEqual(seen, [False, (2, 3), int(MsbDb.Error.READ_ONLY)])
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 2)

    def test_snapshot_sees_one_state(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name) VALUES ('a')", None, None)
        counts = []

        def body(connection, *user_data):
            counts.append(connection.execute('SELECT count(*) FROM t',
                                             None).get_int64(0, 0))
            # A write commits on the writer thread meanwhile (async, so this
            # callback does not block on it).
            done = threading.Event()

            def writer():
                pools.write("INSERT INTO t (name) VALUES ('b')", None, None)
                done.set()

            threading.Thread(target=writer).start()
            self.assertTrue(done.wait(10))
            counts.append(connection.execute('SELECT count(*) FROM t',
                                             None).get_int64(0, 0))
            return True

        pools.snapshot(body, None, None)
        self.assertEqual(counts, [1, 1])
        n = pools.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 2)

    def test_transaction_async_and_snapshot_async(self):
        # PyGObject 3.42: the user_data of a callback that is not the last
        # argument must be a tuple (its items become extra arguments).
        pools = self.open()
        self.make_table(pools)
        loop = GLib.MainLoop()
        state = {'pending': 40, 'bodies': [], 'done': [], 'errors': []}

        def tx_body(connection, i):
            state['bodies'].append(threading.current_thread()
                                   is threading.main_thread())
            connection.execute('INSERT INTO t (name, n) VALUES (?, ?)',
                               V('(sx)', ('tx%d' % i, i)))
            return True

        def snap_body(connection, *user_data):
            state['bodies'].append(threading.current_thread()
                                   is threading.main_thread())
            connection.execute('SELECT count(*) FROM t', None)
            return True

        def finished(source, result, kind):
            state['done'].append(threading.current_thread()
                                 is threading.main_thread())
            try:
                if kind == 'tx':
                    ok = source.transaction_finish(result)
                else:
                    ok = source.snapshot_finish(result)
                self.assertTrue(ok)
            except GLib.Error as e:
                state['errors'].append(e.message)
            state['pending'] -= 1
            if state['pending'] == 0:
                loop.quit()

        for i in range(20):
            pools.transaction_async(tx_body, (i,), None, finished, 'tx')
            pools.snapshot_async(snap_body, (), None, finished, 'snap')
        self.run_loop(loop, timeout=60)
        self.assertEqual(state['errors'], [])
        self.assertEqual(state['bodies'], [False] * 40)
        self.assertEqual(state['done'], [True] * 40)
        rows = pools.read('SELECT count(*) FROM t', None, None)
        self.assertEqual(rows.get_int64(0, 0), 20)

    def test_sync_call_waiting_behind_python_callback(self):
        # The writer runs a Python callback (needs the GIL) while the main
        # thread is blocked in a sync write queued behind it: PyGObject must
        # have released the GIL, or this deadlocks.
        pools = self.open()
        self.make_table(pools)
        started = threading.Event()

        def slow(connection, *user_data):
            started.set()
            time.sleep(0.3)
            connection.execute("INSERT INTO t (name) VALUES ('slow')", None)
            return True

        loop = GLib.MainLoop()
        results = []
        pools.transaction_async(slow, (), None,
                                lambda s, r, *u: results.append(
                                    s.transaction_finish(r)))
        self.assertTrue(started.wait(10))
        pools.write("INSERT INTO t (name) VALUES ('after')", None, None)
        rows = pools.read('SELECT name FROM t ORDER BY id', None, None)
        self.assertEqual([rows.get_string(i, 0) for i in range(2)],
                         ['slow', 'after'])
        GLib.idle_add(loop.quit)
        self.run_loop(loop)
        self.assertEqual(results, [True])

    def test_pool_timeout(self):
        pools = self.open(max_read=1, connect_timeout=SEC // 5)
        held = threading.Event()
        release = threading.Event()

        def hold(connection, *user_data):
            held.set()
            release.wait(10)
            return True

        loop = GLib.MainLoop()
        pools.snapshot_async(hold, (), None,
                             lambda s, r, *u: (s.snapshot_finish(r),
                                               loop.quit()))
        self.assertTrue(held.wait(10))
        try:
            with self.assertRaises(GLib.Error) as cm:
                pools.read('SELECT 1', None, None)
        finally:
            release.set()
        self.assertMsbError(cm.exception, MsbDb.Error.POOL_TIMEOUT, MsbDb)
        self.assertIn('read pool', cm.exception.message)
        self.run_loop(loop)
        self.assertGreaterEqual(pools.get_stats().pool_timeouts, 1)


class TestContention(PlainTestCase):
    """A lock held by another connection (SQLite treats a second connection
    like another process): absorbed by busy_timeout plus retries, and
    reported as BUSY, never as POOL_TIMEOUT, when it lasts too long."""

    def hold_write_lock(self, seconds):
        import sqlite3
        ready = threading.Event()

        def holder():
            con = sqlite3.connect(self.path, timeout=10,
                                  isolation_level=None)
            con.execute('BEGIN IMMEDIATE')
            con.execute("INSERT INTO t (name) VALUES ('other')")
            ready.set()
            time.sleep(seconds)
            con.execute('COMMIT')
            con.close()

        thread = threading.Thread(target=holder)
        thread.start()
        self.addCleanup(thread.join)
        self.assertTrue(ready.wait(10))
        return thread

    def test_short_lock_is_retried(self):
        pools = self.open(busy_timeout=SEC // 20)
        self.make_table(pools)
        before = pools.get_stats()
        self.hold_write_lock(0.4)
        r = pools.write("INSERT INTO t (name) VALUES ('mine')", None, None)
        self.assertEqual(r.get_changes(), 1)
        rows = pools.read('SELECT name FROM t ORDER BY id', None, None)
        self.assertEqual([rows.get_string(i, 0) for i in range(2)],
                         ['other', 'mine'])
        self.assertGreaterEqual(pools.get_stats().busy_retries,
                                before.busy_retries + 1)

    def test_long_lock_is_busy(self):
        pools = self.open(busy_timeout=SEC // 100, connect_timeout=60 * SEC)
        self.make_table(pools)
        self.hold_write_lock(4)
        start = time.monotonic()
        with self.assertRaises(GLib.Error) as cm:
            pools.write("INSERT INTO t (name) VALUES ('mine')", None, None)
        self.assertMsbError(cm.exception, MsbDb.Error.BUSY, MsbDb)
        self.assertLess(time.monotonic() - start, 4)
        stats = pools.get_stats()
        self.assertGreaterEqual(stats.retries_exhausted, 1)
        self.assertEqual(stats.pool_timeouts, 0)


class TestCloseAndStats(PlainTestCase):
    def test_stats(self):
        pools = self.open()
        self.make_table(pools)
        before = pools.get_stats()
        self.assertIsInstance(before, MsbDb.Stats)
        for name in ('reads', 'writes', 'transactions', 'busy_retries',
                     'retries_exhausted', 'pool_timeouts', 'write_batches'):
            self.assertIsInstance(getattr(before, name), int, name)
        for i in range(3):
            pools.write('INSERT INTO t (n) VALUES (?)', V('(x)', (i,)), None)
        for i in range(5):
            pools.read('SELECT * FROM t', None, None)
        pools.transaction(lambda c, *u: True, None, None)
        after = pools.get_stats()
        self.assertEqual(after.reads - before.reads, 5)
        self.assertEqual(after.writes - before.writes, 3)
        self.assertEqual(after.transactions - before.transactions, 1)
        self.assertGreaterEqual(after.write_batches - before.write_batches, 1)
        self.assertEqual(after.retries_exhausted, 0)
        copy = after.copy()
        self.assertEqual(copy.writes, after.writes)

    def test_close_then_use(self):
        pools = self.open()
        self.make_table(pools)
        pools.write("INSERT INTO t (name) VALUES ('kept')", None, None)
        self.assertTrue(pools.close(None))
        self.assertTrue(pools.is_closed())
        for call in (lambda: pools.read('SELECT 1', None, None),
                     lambda: pools.write('SELECT 1', None, None),
                     lambda: pools.transaction(lambda c, *u: True, None,
                                               None),
                     lambda: pools.snapshot(lambda c, *u: True, None, None)):
            with self.assertRaises(GLib.Error) as cm:
                call()
            self.assertMsbError(cm.exception, MsbDb.Error.CLOSED, MsbDb)

        loop = GLib.MainLoop()
        got = []

        def done(source, result):
            try:
                source.read_finish(result)
            except GLib.Error as e:
                got.append(e)
            loop.quit()

        pools.read_async('SELECT 1', None, None, done)
        self.run_loop(loop)
        self.assertEqual(len(got), 1)
        self.assertMsbError(got[0], MsbDb.Error.CLOSED, MsbDb)

        # A clean close of the last user leaves no -wal/-shm behind, and
        # what was written is in the file.
        self.assertFalse(os.path.exists(self.path + '-wal'))
        self.assertFalse(os.path.exists(self.path + '-shm'))
        again = MsbDb.Pools.open_read_only(self.path, 1, SEC, SEC, None)
        self.addCleanup(self.close_quietly, again)
        rows = again.read('SELECT name FROM t', None, None)
        self.assertEqual(rows.get_string(0, 0), 'kept')

    def test_close_lets_queued_writes_finish(self):
        pools = self.open()
        self.make_table(pools)
        loop = GLib.MainLoop()
        results = []

        def done(source, result):
            try:
                results.append(source.write_finish(result).get_changes())
            except GLib.Error as e:
                results.append(e.message)

        for i in range(50):
            pools.write_async('INSERT INTO t (n) VALUES (?)', V('(x)', (i,)),
                              None, done)
        closed = []
        pools.close_async(None, lambda s, r: (closed.append(
            s.close_finish(r)), loop.quit()))
        self.run_loop(loop)
        # close_async may report before the last write callbacks dispatch.
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + 10
        while len(results) < 50 and time.monotonic() < deadline:
            ctx.iteration(False)
        self.assertEqual(closed, [True])
        self.assertEqual(results, [1] * 50)
        ro = MsbDb.Pools.open_read_only(self.path, 1, SEC, SEC, None)
        self.addCleanup(self.close_quietly, ro)
        n = ro.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        self.assertEqual(n, 50)

    def test_last_unref_with_gil_held_does_not_deadlock(self):
        # PyGObject drops a *toggle* reference (any wrapper that has a Python
        # attribute) with the GIL held. If that is the last reference, the
        # pools' dispose joins the writer thread; the writer must not be
        # waiting for the GIL then (e.g. to free the Python body of an
        # already-reported transaction_async through its GDestroyNotify).
        # Run in a child so that a deadlock fails this test cleanly.
        script = textwrap.dedent('''
            import os, sys, time
            sys.modules['gi.overrides.MsbDb'] = None
            import gi
            gi.require_version('MsbDb', '1.0')
            from gi.repository import MsbDb, GLib

            class SlowToFree:
                # Freeing a body (through its GDestroyNotify) takes a moment
                # and drops the GIL meanwhile, as Python finalizers may.
                def __del__(self):
                    time.sleep(0.002)

            def make_body():
                slow = SlowToFree()
                def body(conn, *ud):
                    return slow is not None
                return body

            d = sys.argv[1]
            for it in range(100):
                pools = MsbDb.Pools.open(os.path.join(d, 'r%d.db' % it), 1,
                                         5000000, 1000000, None)
                pools.tag = it  # PyGObject now holds a toggle ref
                loop = GLib.MainLoop()
                left = [20]
                def done(p, r, *ud):
                    p.transaction_finish(r)
                    left[0] -= 1
                    if not left[0]:
                        loop.quit()
                for i in range(20):
                    pools.transaction_async(make_body(), (), None, done)
                loop.run()
                del pools  # last unref, GIL held
            print('done')
        ''')
        try:
            out = subprocess.run([sys.executable, '-c', script, self.tmpdir],
                                 capture_output=True, text=True, timeout=40)
        except subprocess.TimeoutExpired:
            self.fail('deadlock: the last unref of MsbDbPools (GIL held) '
                      'joined a writer thread that waited for the GIL')
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), 'done')

    def test_drop_without_close(self):
        pools = MsbDb.Pools.open(self.path, 2, 10 * SEC, 5 * SEC, None)
        self.make_table(pools)
        loop = GLib.MainLoop()
        results = []
        pools.write_async("INSERT INTO t (name) VALUES ('x')", None, None,
                          lambda s, r: (results.append(
                              s.write_finish(r).get_changes()), loop.quit()))
        # Drop every Python reference while the write is in flight: the
        # pending task keeps the pools alive; the last unref may then run
        # on a library thread. Neither may hang or crash.
        del pools
        gc.collect()
        self.run_loop(loop)
        self.assertEqual(results, [1])
        for _ in range(3):
            gc.collect()
            GLib.MainContext.default().iteration(False)
        ro = MsbDb.Pools.open_read_only(self.path, 1, SEC, SEC, None)
        n = ro.read('SELECT count(*) FROM t', None, None).get_int64(0, 0)
        ro.close(None)
        self.assertEqual(n, 1)


if __name__ == '__main__':
    unittest.main(verbosity=2)
