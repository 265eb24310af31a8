# SPDX-License-Identifier: LGPL-2.1-or-later
"""Footguns the override removes: timeouts in seconds, async bodies given to
the blocking API, async signatures that passed values to the wrong place,
unobserved failures, and work lost at interpreter exit."""

import contextlib
import functools
import gc
import inspect
import io
import itertools
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import warnings
import weakref

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib  # noqa: E402
import gi.overrides.MsbDb as override_module  # noqa: E402

SEC = 1000000


class FootgunTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.pools = MsbDb.Pools.open(self.path, 2, connect_timeout=10)
        self.addCleanup(self.pools.close)
        self.pools.write('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                         'name TEXT UNIQUE)')

    def count(self):
        return self.pools.read('SELECT count(*) FROM t')[0][0]

    def iterate_until(self, done, timeout=20):
        """Run the default main context until done() or the timeout."""
        context = GLib.MainContext.default()
        deadline = time.monotonic() + timeout
        while not done():
            self.assertLess(time.monotonic(), deadline, 'timed out')
            context.iteration(False)
            time.sleep(0.001)


class TestTimeouts(FootgunTestCase):
    def test_seconds(self):
        path = os.path.join(self.tmpdir, 's.db')
        with MsbDb.Pools.open(path, busy_timeout=2.5,
                              connect_timeout=0.25) as pools:
            self.assertEqual(pools.get_busy_timeout(), 2500000)
            self.assertEqual(pools.get_connect_timeout(), 250000)
        with MsbDb.Pools.open_read_only(path, 1, busy_timeout=1,
                                        connect_timeout=0.000002) as ro:
            self.assertEqual(ro.get_busy_timeout(), SEC)
            self.assertEqual(ro.get_connect_timeout(), 2)
            self.assertEqual(ro.get_max_read_connections(), 1)

    def test_defaults(self):
        with MsbDb.Pools.open(os.path.join(self.tmpdir, 'd.db'),
                              busy_timeout=None, connect_timeout=None,
                              max_read_connections=None) as pools:
            self.assertEqual(pools.get_busy_timeout(),
                             MsbDb.DEFAULT_BUSY_TIMEOUT_SECS * SEC)
            self.assertEqual(pools.get_connect_timeout(),
                             MsbDb.DEFAULT_CONNECT_TIMEOUT_SECS * SEC)
            self.assertEqual(pools.get_max_read_connections(),
                             MsbDb.DEFAULT_MAX_READ_CONNECTIONS)

    def test_nonsense_refused(self):
        path = os.path.join(self.tmpdir, 'never.db')
        bad_values = (-1, -0.5, 0, 0.0, 1e-9, float('nan'), float('inf'),
                      float('-inf'), 2147484, 5 * SEC, 10 * SEC)
        openers = (
            lambda **kw: MsbDb.Pools.open(path, **kw),
            lambda **kw: MsbDb.Pools.open_read_only(self.path, **kw),
            lambda **kw: MsbDb.Pools.open_async(path, callback=self.fail,
                                                **kw),
        )
        for opener in openers:
            for key in ('busy_timeout', 'connect_timeout'):
                for bad in bad_values:
                    with self.assertRaises(ValueError) as cm:
                        opener(**{key: bad})
                    self.assertIn(key, str(cm.exception))
                for bad in ('1', True, 1j, b'1'):
                    with self.assertRaises(TypeError) as cm:
                        opener(**{key: bad})
                    self.assertIn(key, str(cm.exception))
            for bad in (0, -1, 1025):
                with self.assertRaises(ValueError):
                    opener(max_read_connections=bad)
            for bad in (1.5, True, '2'):
                with self.assertRaises(TypeError):
                    opener(max_read_connections=bad)
        self.assertFalse(os.path.exists(path))

    def test_microseconds_positionally_refused(self):
        # The old C order (path, size, connect_timeout, busy_timeout) in
        # microseconds must not be read as seconds.
        path = os.path.join(self.tmpdir, 'never.db')
        with self.assertRaises(TypeError):
            MsbDb.Pools.open(path, 2, 10 * SEC)
        with self.assertRaises(TypeError):
            MsbDb.Pools.open_read_only(self.path, 2, 10 * SEC, 5 * SEC)
        with self.assertRaises(TypeError):
            MsbDb.Pools.open_async(path, 2, 5 * SEC, SEC, None, self.fail)
        self.assertFalse(os.path.exists(path))

    def test_connect_timeout_is_seconds(self):
        # A pool of one connection held by a snapshot on another thread: a
        # read gives up after connect_timeout (0.3 s), long before the 30 s
        # default, and not at once.
        with MsbDb.Pools.open(self.path, 1, connect_timeout=0.3) as pools:
            holding = threading.Event()
            release = threading.Event()

            def hold(conn):
                holding.set()
                release.wait(20)

            holder = threading.Thread(target=pools.snapshot, args=(hold,))
            holder.start()
            try:
                self.assertTrue(holding.wait(20))
                start = time.monotonic()
                with self.assertRaises(MsbDb.PoolTimeoutError):
                    pools.read('SELECT 1')
                waited = time.monotonic() - start
            finally:
                release.set()
                holder.join()
        self.assertGreaterEqual(waited, 0.25)
        self.assertLess(waited, 10)


class TestAsyncBodies(FootgunTestCase):
    def test_async_function_refused(self):
        async def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('never')")

        async def agen(conn):
            yield 1

        before = self.pools.get_stats().transactions
        for func in (body, functools.partial(body), agen):
            for call in (self.pools.transaction, self.pools.snapshot,
                         self.pools.transaction_async,
                         self.pools.snapshot_async):
                with self.assertRaises(TypeError) as cm:
                    call(func)
                self.assertIn('async', str(cm.exception))
        self.assertEqual(self.pools.get_stats().transactions, before)
        self.assertEqual(self.count(), 0)

    def test_body_returning_awaitable_rolls_back(self):
        async def later():
            pass

        class AsyncCallable:
            async def __call__(self, conn):
                pass

        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('rolled back')")
            return later()

        def read_body(conn):
            conn.execute('SELECT count(*) FROM t')
            return later()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            for call, plain in ((self.pools.transaction, body),
                                (self.pools.snapshot, read_body)):
                for func in (plain, AsyncCallable()):
                    with self.assertRaises(TypeError) as cm:
                        call(func)
                    self.assertIn('awaitable', str(cm.exception))
            gc.collect()
        # The coroutine was closed: no "never awaited" warning.
        self.assertEqual([str(w.message) for w in caught], [])
        self.assertEqual(self.count(), 0)
        self.pools.write("INSERT INTO t (name) VALUES ('fine')")
        self.assertEqual(self.count(), 1)


class TestAsyncSignatures(FootgunTestCase):
    def test_same_keywords_everywhere(self):
        # Statements and close: the C order, positionally or by keyword,
        # user_data then any further values for the callback (PyGObject's
        # convention).
        for name in ('read_async', 'write_async', 'close_async'):
            params = list(inspect.signature(
                getattr(MsbDb.Pools, name)).parameters.values())
            self.assertEqual(
                [(p.name, p.kind) for p in params[-4:]],
                [('cancellable', inspect.Parameter.POSITIONAL_OR_KEYWORD),
                 ('callback', inspect.Parameter.POSITIONAL_OR_KEYWORD),
                 ('user_data', inspect.Parameter.POSITIONAL_OR_KEYWORD),
                 ('more_user_data', inspect.Parameter.VAR_POSITIONAL)],
                name)
        # Callables: keyword-only after func (a positional value would be
        # ambiguous: C's user_data, or read_async's cancellable?).
        for name in ('transaction_async', 'snapshot_async', 'open_async'):
            params = list(inspect.signature(
                getattr(MsbDb.Pools, name)).parameters.values())
            self.assertEqual(
                [(p.name, p.kind) for p in params[-3:]],
                [('cancellable', inspect.Parameter.KEYWORD_ONLY),
                 ('callback', inspect.Parameter.KEYWORD_ONLY),
                 ('user_data', inspect.Parameter.KEYWORD_ONLY)], name)
        for name in ('read_async', 'write_async', 'close_async',
                     'transaction_async', 'snapshot_async', 'open_async'):
            params = inspect.signature(getattr(MsbDb.Pools, name)).parameters
            self.assertIsNone(params['cancellable'].default)
            self.assertIsNone(params['callback'].default)
            self.assertEqual(repr(params['user_data'].default), '<omitted>')
        for name in ('transaction', 'snapshot'):
            self.assertEqual(list(inspect.signature(
                getattr(MsbDb.Pools, name)).parameters),
                ['self', 'func', 'cancellable'])

    def test_extra_positionals_do_not_reach_func(self):
        ran = []

        def body(conn, *args):
            ran.append(args)

        with self.assertRaises(TypeError):
            self.pools.transaction(body, 'extra')
        with self.assertRaises(TypeError):
            self.pools.transaction(body, 1, 2)
        with self.assertRaises(TypeError):
            self.pools.snapshot(body, 'extra')
        with self.assertRaises(TypeError):
            self.pools.transaction_async(body, 'extra')
        with self.assertRaises(TypeError):
            self.pools.snapshot_async(body, 'extra')
        # The C order (func, user_data, cancellable, callback), and the
        # read_async order (func where sql is, None where params is).
        with self.assertRaises(TypeError):
            self.pools.transaction_async(body, None, None, self.fail)
        with self.assertRaises(TypeError):
            self.pools.snapshot_async(body, None, None, self.fail)
        with self.assertRaises(TypeError):
            self.pools.transaction_async(body, None)
        # user_data that no callback would receive.
        with self.assertRaises(TypeError):
            self.pools.transaction_async(body, user_data=1)
        with self.assertRaises(TypeError):
            self.pools.write_async("INSERT INTO t (name) VALUES ('no')",
                                   None, None, None, 'data')
        # Anything queued would have run before this write returns.
        self.pools.write("INSERT INTO t (name) VALUES ('after')")
        self.assertEqual(ran, [])

    def test_callback_arguments(self):
        got = []
        names = itertools.count()

        def done(pools, result, *user_data):
            kind = (user_data and user_data[0]) or 'transaction'
            finish = getattr(pools, kind + '_finish')
            got.append((user_data, finish(result)))

        def body(conn):
            return conn.execute("INSERT INTO t (name) VALUES (?)",
                                ('n%d' % next(names),)).lastrowid

        # Positionally in the C order, with one or several user_data.
        self.pools.read_async('SELECT 1', None, None, done, 'read')
        self.pools.read_async('SELECT 2', None, None, done, 'read', 'two')
        # By keyword, the same for every kind.
        self.pools.transaction_async(body, callback=done,
                                     user_data='transaction')
        self.pools.snapshot_async(lambda c: 'snap', cancellable=None,
                                  callback=done, user_data='snapshot')
        self.pools.transaction_async(body, callback=done)
        self.pools.transaction_async(body, callback=done, user_data=None)
        self.iterate_until(lambda: len(got) == 6)
        by_data = {d: r for d, r in got}
        self.assertEqual(by_data[('read',)], [(1,)])
        self.assertEqual(by_data[('read', 'two')], [(2,)])
        self.assertEqual(by_data[('snapshot',)], 'snap')
        self.assertIn(('transaction',), by_data)
        self.assertIn((), by_data)            # omitted: two arguments
        self.assertIn((None,), by_data)       # None is a value
        self.assertEqual(self.count(), 3)


class TestUnobservedFailures(FootgunTestCase):
    def test_logged_once_for_every_kind(self):
        self.pools.write("INSERT INTO t (name) VALUES ('taken')")

        def insert_taken(conn):
            conn.execute("INSERT INTO t (name) VALUES ('taken')")

        def raise_value_error(conn):
            conn.execute("INSERT INTO t (name) VALUES ('rolled back')")
            raise ValueError('from the body')

        stderr = io.StringIO()
        with self.assertLogs('MsbDb', 'ERROR') as logs, \
                contextlib.redirect_stderr(stderr):
            # Seven failures...
            self.pools.write_async("INSERT INTO t (name) VALUES ('taken')")
            self.pools.read_async('SELEC 1')
            self.pools.transaction_async(insert_taken)
            self.pools.transaction_async(raise_value_error)
            self.pools.snapshot_async(lambda conn: {}['missing'])
            self.pools.snapshot_async(lambda conn: conn.execute('DELETE '
                                                                'FROM t'))
            MsbDb.Pools.open_async(os.path.join(self.tmpdir, 'no', 'x.db'))
            # ...and successes, which log nothing.
            self.pools.write_async("INSERT INTO t (name) VALUES ('ok')")
            self.pools.read_async('SELECT 1')
            self.pools.transaction_async(lambda conn: None)
            self.pools.snapshot_async(lambda conn: None)
            self.iterate_until(lambda: len(logs.records) >= 7)
            # Let anything else that would log arrive.
            end = time.monotonic() + 0.3
            self.iterate_until(lambda: time.monotonic() > end)
        self.assertEqual(len(logs.records), 7, logs.output)
        kinds = sorted(r.getMessage().split('(')[0].split()[-1]
                       for r in logs.records)
        self.assertEqual(kinds, ['open_async', 'read_async',
                                 'snapshot_async', 'snapshot_async',
                                 'transaction_async', 'transaction_async',
                                 'write_async'])
        errors = sorted(type(r.exc_info[1]).__name__ for r in logs.records)
        self.assertEqual(errors, ['CantOpenError', 'IntegrityError',
                                  'IntegrityError', 'KeyError',
                                  'ReadOnlyError', 'SqlError', 'ValueError'])
        # Nothing printed besides the log records (no second report).
        self.assertEqual(stderr.getvalue(), '')
        self.assertEqual(
            [r for r, in self.pools.read('SELECT name FROM t ORDER BY id')],
            ['taken', 'ok'])

    def test_close_async_without_callback(self):
        self.pools.close_async()
        self.iterate_until(self.pools.is_closed)


class TestExit(DbTestCase):
    CHILD = textwrap.dedent('''
        import sys
        sys.path.insert(0, sys.argv[2])
        from msbdb_testlib import import_msbdb
        MsbDb = import_msbdb(use_override=True)

        pools = MsbDb.Pools.open(sys.argv[1], 2)
        pools.write('CREATE TABLE t (kind TEXT, n INTEGER)')

        def insert(i):
            def body(conn):
                conn.execute("INSERT INTO t VALUES ('tx', ?)", (i,))
            return body

        for i in range(100):
            pools.transaction_async(insert(i))
            pools.write_async("INSERT INTO t VALUES ('write', ?)", (i,))
            pools.snapshot_async(lambda conn: conn.execute('SELECT 1'))
        # No close(), no main loop: the interpreter exits now.
    ''')

    def test_queued_work_of_unclosed_pools_finishes(self):
        here = os.path.dirname(os.path.abspath(__file__))
        for run in range(3):
            path = os.path.join(self.tmpdir, 'exit%d.db' % run)
            out = subprocess.run([sys.executable, '-c', self.CHILD, path,
                                  here],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr, '')
            with MsbDb.Pools.open_read_only(path) as ro:
                counts = dict(ro.read('SELECT kind, count(*) FROM t '
                                      'GROUP BY kind'))
            self.assertEqual(counts, {'tx': 100, 'write': 100})

    def test_tracking_is_weak(self):
        pools = MsbDb.Pools.open(self.path)
        pools.write('CREATE TABLE t (a)')
        self.assertIn(pools, override_module._open_pools)
        ref = weakref.ref(pools)
        del pools
        gc.collect()
        self.assertIsNone(ref())
        # Dropping the pools closed them (the WAL is folded back).
        self.assertFalse(os.path.exists(self.path + '-wal'))


if __name__ == '__main__':
    unittest.main(verbosity=2)
