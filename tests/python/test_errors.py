# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exceptions of the override: GLib.Error subclasses with DB-API names.

Every failure here is produced for real (a real file, another SQLite
connection holding the lock, a pool held by another thread...), through
each kind of call: blocking, _finish, and inside transaction/snapshot
bodies.
"""

import os
import sqlite3
import threading
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib, Gio  # noqa: E402

DOMAIN = 'msb-db-error-quark'


class ErrorTestCase(DbTestCase):
    def setUp(self):
        super().setUp()
        self.pools = MsbDb.Pools.open(self.path, 2, connect_timeout=10)
        self.addCleanup(self.pools.close)
        self.pools.write('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                         'name TEXT UNIQUE)')
        self.pools.write("INSERT INTO t (name) VALUES ('taken')")

    def assertError(self, exc, cls, code):
        """exc is exactly ``cls``, a DatabaseError and a GLib.Error of the
        MsbDb domain with ``code``, and matches() still works."""
        self.assertIs(type(exc), cls, repr(exc))
        self.assertIsInstance(exc, MsbDb.DatabaseError)
        self.assertIsInstance(exc, GLib.Error)
        self.assertEqual(exc.domain, DOMAIN)
        self.assertEqual(exc.code, int(code), exc.message)
        self.assertTrue(exc.matches(MsbDb.error_quark(), code))
        self.assertTrue(exc.message)

    def count(self):
        return self.pools.read('SELECT count(*) FROM t')[0][0]


class TestHierarchy(unittest.TestCase):
    def test_db_api_names(self):
        self.assertTrue(issubclass(MsbDb.DatabaseError, GLib.Error))
        for name in ('IntegrityError', 'OperationalError', 'ProgrammingError',
                     'CorruptError'):
            self.assertTrue(issubclass(getattr(MsbDb, name),
                                       MsbDb.DatabaseError), name)
        for name in ('BusyError', 'PoolTimeoutError', 'ClosedError',
                     'CantOpenError', 'ReadOnlyError'):
            self.assertTrue(issubclass(getattr(MsbDb, name),
                                       MsbDb.OperationalError), name)
        for name in ('SqlError', 'InvalidArgumentError'):
            self.assertTrue(issubclass(getattr(MsbDb, name),
                                       MsbDb.ProgrammingError), name)

    def test_every_code_has_a_class(self):
        # A code added to MsbDbError must be given its class here on
        # purpose: it would otherwise be a bare DatabaseError.
        expected = {
            'FAILED': MsbDb.DatabaseError,
            'SQL': MsbDb.SqlError,
            'CONSTRAINT': MsbDb.IntegrityError,
            'BUSY': MsbDb.BusyError,
            'POOL_TIMEOUT': MsbDb.PoolTimeoutError,
            'READ_ONLY': MsbDb.ReadOnlyError,
            'CLOSED': MsbDb.ClosedError,
            'INVALID_ARGUMENT': MsbDb.InvalidArgumentError,
            'CANT_OPEN': MsbDb.CantOpenError,
            'CORRUPT': MsbDb.CorruptError,
            'SCHEMA_TOO_NEW': MsbDb.SchemaTooNewError,
        }
        import gi.overrides.MsbDb as override_module
        for info in MsbDb.Error.__info__.get_values():
            name = info.get_name().upper()
            self.assertIn(name, expected, 'no class chosen for %s' % name)
            self.assertIs(override_module._ERROR_CLASSES[info.get_value()],
                          expected[name], name)

    def test_constructed_by_user_code(self):
        e = MsbDb.IntegrityError('mine')
        self.assertEqual((e.message, e.domain, e.code),
                         ('mine', DOMAIN, int(MsbDb.Error.CONSTRAINT)))
        self.assertTrue(e.matches(MsbDb.error_quark(), MsbDb.Error.CONSTRAINT))
        self.assertEqual(MsbDb.OperationalError('x').code,
                         int(MsbDb.Error.FAILED))
        self.assertEqual(MsbDb.BusyError('x').code, int(MsbDb.Error.BUSY))
        self.assertEqual(repr(MsbDb.SqlError('bad')),
                         "MsbDb.SqlError('bad', '%s', %d)"
                         % (DOMAIN, int(MsbDb.Error.SQL)))


class TestBlockingCalls(ErrorTestCase):
    def test_sql(self):
        with self.assertRaises(MsbDb.ProgrammingError) as cm:
            self.pools.read('SELEC 1')
        self.assertError(cm.exception, MsbDb.SqlError, MsbDb.Error.SQL)
        with self.assertRaises(MsbDb.SqlError):
            self.pools.write('INSERT INTO nope VALUES (1)')

    def test_constraint(self):
        with self.assertRaises(MsbDb.IntegrityError) as cm:
            self.pools.write("INSERT INTO t (name) VALUES ('taken')")
        self.assertError(cm.exception, MsbDb.IntegrityError,
                         MsbDb.Error.CONSTRAINT)
        self.assertEqual(self.count(), 1)

    def test_read_only(self):
        with self.assertRaises(MsbDb.OperationalError) as cm:
            self.pools.read("INSERT INTO t (name) VALUES ('no')")
        self.assertError(cm.exception, MsbDb.ReadOnlyError,
                         MsbDb.Error.READ_ONLY)

    def test_invalid_argument(self):
        with self.assertRaises(MsbDb.ProgrammingError) as cm:
            self.pools.read('SELECT ?', (1, 2))
        self.assertError(cm.exception, MsbDb.InvalidArgumentError,
                         MsbDb.Error.INVALID_ARGUMENT)
        with self.assertRaises(MsbDb.InvalidArgumentError):
            self.pools.write('SELECT 1; SELECT 2')

    def test_closed(self):
        self.pools.close()
        for call in (lambda: self.pools.read('SELECT 1'),
                     lambda: self.pools.write('DELETE FROM t'),
                     lambda: self.pools.transaction(lambda c: None),
                     lambda: self.pools.snapshot(lambda c: None)):
            with self.assertRaises(MsbDb.OperationalError) as cm:
                call()
            self.assertError(cm.exception, MsbDb.ClosedError,
                             MsbDb.Error.CLOSED)

    def test_cant_open(self):
        with self.assertRaises(MsbDb.OperationalError) as cm:
            MsbDb.Pools.open_read_only(os.path.join(self.tmpdir, 'none.db'))
        self.assertError(cm.exception, MsbDb.CantOpenError,
                         MsbDb.Error.CANT_OPEN)
        with self.assertRaises(MsbDb.CantOpenError):
            MsbDb.Pools.open(os.path.join(self.tmpdir, 'no', 'dir.db'))

    def test_corrupt(self):
        junk = os.path.join(self.tmpdir, 'junk.db')
        with open(junk, 'wb') as f:
            f.write(b'this is not a database file. ' * 200)
        with self.assertRaises(MsbDb.DatabaseError) as cm:
            MsbDb.Pools.open(junk)
        self.assertError(cm.exception, MsbDb.CorruptError,
                         MsbDb.Error.CORRUPT)

    def test_busy(self):
        # Another connection (stdlib sqlite3, same file) holds the write
        # lock through the busy timeout and every retry.
        with MsbDb.Pools.open(self.path, busy_timeout=0.02) as pools:
            other = sqlite3.connect(self.path, isolation_level=None)
            self.addCleanup(other.close)
            other.execute('BEGIN EXCLUSIVE')
            try:
                with self.assertRaises(MsbDb.OperationalError) as cm:
                    pools.write("INSERT INTO t (name) VALUES ('locked')")
            finally:
                other.execute('ROLLBACK')
            self.assertError(cm.exception, MsbDb.BusyError, MsbDb.Error.BUSY)
            # Usable again at once.
            pools.write("INSERT INTO t (name) VALUES ('unlocked')")
        self.assertEqual(self.count(), 2)

    def test_pool_timeout(self):
        with MsbDb.Pools.open(self.path, 1, connect_timeout=0.2) as pools:
            holding = threading.Event()
            release = threading.Event()

            def hold(conn):
                holding.set()
                release.wait(20)

            holder = threading.Thread(target=pools.snapshot, args=(hold,))
            holder.start()
            try:
                self.assertTrue(holding.wait(20))
                with self.assertRaises(MsbDb.OperationalError) as cm:
                    pools.read('SELECT 1')
            finally:
                release.set()
                holder.join()
            self.assertError(cm.exception, MsbDb.PoolTimeoutError,
                             MsbDb.Error.POOL_TIMEOUT)
            self.assertEqual(pools.read('SELECT 1')[0], (1,))

    def test_false_body_is_failed(self):
        with self.assertRaises(MsbDb.DatabaseError) as cm:
            self.pools.transaction(lambda conn: False)
        self.assertError(cm.exception, MsbDb.DatabaseError,
                         MsbDb.Error.FAILED)

    def test_blocking_call_inside_body(self):
        def body(conn):
            try:
                self.pools.read('SELECT 1')
            except MsbDb.DatabaseError as e:
                return e
            return None

        self.assertError(self.pools.transaction(body), MsbDb.DatabaseError,
                         MsbDb.Error.FAILED)

    def test_close_inside_body(self):
        def body(conn):
            try:
                self.pools.close()
            except MsbDb.DatabaseError as e:
                return e
            return None

        self.assertError(self.pools.transaction(body), MsbDb.DatabaseError,
                         MsbDb.Error.FAILED)
        self.assertFalse(self.pools.is_closed())

    def test_catch_as_glib_error_and_code(self):
        # Code written against bare GLib.Error keeps working.
        try:
            self.pools.write("INSERT INTO t (name) VALUES ('taken')")
        except GLib.Error as e:
            self.assertEqual(e.code, int(MsbDb.Error.CONSTRAINT))
            self.assertTrue(e.matches(MsbDb.error_quark(),
                                      MsbDb.Error.CONSTRAINT))
        else:
            self.fail('no error')

    def test_cancellation_stays_gio(self):
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        for call in (lambda: self.pools.read('SELECT 1', None, cancellable),
                     lambda: self.pools.write('DELETE FROM t', None,
                                              cancellable),
                     lambda: self.pools.transaction(lambda c: None,
                                                    cancellable)):
            with self.assertRaises(GLib.Error) as cm:
                call()
            self.assertIs(type(cm.exception), GLib.Error)
            self.assertNotIsInstance(cm.exception, MsbDb.DatabaseError)
            self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.CANCELLED))
        self.assertEqual(self.count(), 1)


class TestInsideBodies(ErrorTestCase):
    def test_execute_raises_subclass_inside(self):
        seen = []

        def body(conn):
            try:
                conn.execute("INSERT INTO t (name) VALUES ('taken')")
            except MsbDb.IntegrityError as e:
                seen.append(e)
            conn.execute("INSERT INTO t (name) VALUES ('other')")

        self.pools.transaction(body)
        self.assertError(seen[0], MsbDb.IntegrityError, MsbDb.Error.CONSTRAINT)
        self.assertEqual(self.count(), 2)

    def test_uncaught_error_reaches_caller_as_subclass(self):
        raised = []

        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('first')")
            try:
                conn.execute("INSERT INTO t (name) VALUES ('taken')")
            except GLib.Error as e:
                raised.append(e)
                raise

        with self.assertRaises(MsbDb.IntegrityError) as cm:
            self.pools.transaction(body)
        self.assertIs(cm.exception, raised[0])
        self.assertEqual(self.count(), 1)

    def test_snapshot_write_is_read_only_error(self):
        with self.assertRaises(MsbDb.ReadOnlyError) as cm:
            self.pools.snapshot(lambda conn: conn.execute('DELETE FROM t'))
        self.assertError(cm.exception, MsbDb.ReadOnlyError,
                         MsbDb.Error.READ_ONLY)
        self.assertEqual(self.count(), 1)

    def test_plain_glib_error_raised_by_user(self):
        # A bare GLib.Error of the MsbDb domain raised by user code comes
        # back as its subclass: the same object.
        mine = GLib.Error('mine', DOMAIN, int(MsbDb.Error.CONSTRAINT))

        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('gone')")
            raise mine

        with self.assertRaises(MsbDb.IntegrityError) as cm:
            self.pools.transaction(body)
        self.assertIs(cm.exception, mine)
        self.assertEqual(self.count(), 1)

    def test_other_domains_untouched(self):
        mine = GLib.Error('io', 'g-io-error-quark',
                          int(Gio.IOErrorEnum.FAILED))

        def body(conn):
            raise mine

        with self.assertRaises(GLib.Error) as cm:
            self.pools.snapshot(body)
        self.assertIs(cm.exception, mine)
        self.assertIs(type(mine), GLib.Error)

    def test_connection_used_after_body(self):
        kept = []
        self.pools.transaction(kept.append)
        with self.assertRaises(MsbDb.ClosedError) as cm:
            kept[0].execute('SELECT 1')
        self.assertError(cm.exception, MsbDb.ClosedError, MsbDb.Error.CLOSED)


class TestFinish(ErrorTestCase):
    def run_async(self, start, n=1):
        """Start n calls whose callback gets, as user_data, the finish
        function to call; return what each finish raised (or returned)."""
        loop = GLib.MainLoop()
        got = []

        def done(source, result, finish):
            try:
                got.append(finish(source, result))
            except Exception as e:
                got.append(e)
            if len(got) == n:
                loop.quit()

        start(done)
        self.run_loop(loop)
        return got

    def test_read_finish(self):
        e, = self.run_async(lambda cb: self.pools.read_async(
            'SELEC', callback=cb, user_data=MsbDb.Pools.read_finish))
        self.assertError(e, MsbDb.SqlError, MsbDb.Error.SQL)

    def test_write_finish(self):
        e, = self.run_async(lambda cb: self.pools.write_async(
            "INSERT INTO t (name) VALUES (?)", ('taken',), None, cb,
            MsbDb.Pools.write_finish))
        self.assertError(e, MsbDb.IntegrityError, MsbDb.Error.CONSTRAINT)

    def test_transaction_finish(self):
        def body(conn):
            conn.execute("INSERT INTO t (name) VALUES ('taken')")

        e, = self.run_async(lambda cb: self.pools.transaction_async(
            body, callback=cb, user_data=MsbDb.Pools.transaction_finish))
        self.assertError(e, MsbDb.IntegrityError, MsbDb.Error.CONSTRAINT)

    def test_snapshot_finish(self):
        e, = self.run_async(lambda cb: self.pools.snapshot_async(
            lambda conn: conn.execute('SELECT * FROM nope'), callback=cb,
            user_data=MsbDb.Pools.snapshot_finish))
        self.assertError(e, MsbDb.SqlError, MsbDb.Error.SQL)

    def test_finish_on_closed_pools(self):
        self.pools.close()
        got = self.run_async(lambda cb: (
            self.pools.transaction_async(
                lambda c: None, callback=cb,
                user_data=MsbDb.Pools.transaction_finish),
            self.pools.snapshot_async(
                lambda c: None, callback=cb,
                user_data=MsbDb.Pools.snapshot_finish),
            self.pools.read_async('SELECT 1', None, None, cb,
                                  MsbDb.Pools.read_finish),
            self.pools.write_async('DELETE FROM t', None, None, cb,
                                   MsbDb.Pools.write_finish)), n=4)
        for e in got:
            self.assertError(e, MsbDb.ClosedError, MsbDb.Error.CLOSED)

    def test_open_finish(self):
        e, = self.run_async(lambda cb: MsbDb.Pools.open_async(
            os.path.join(self.tmpdir, 'no', 'dir.db'), callback=cb,
            user_data=lambda source, result: MsbDb.Pools.open_finish(result)))
        self.assertError(e, MsbDb.CantOpenError, MsbDb.Error.CANT_OPEN)

    def test_close_finish(self):
        ok, = self.run_async(lambda cb: self.pools.close_async(
            None, cb, MsbDb.Pools.close_finish))
        self.assertIs(ok, True)
        self.assertTrue(self.pools.is_closed())


if __name__ == '__main__':
    unittest.main(verbosity=2)
