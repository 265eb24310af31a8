# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio: an _async method called without a callback returns an
awaitable, in a plain asyncio.run() program (no GLib main loop anywhere,
no thread per call); cancellation; close_async() refusing later calls;
iterate() with async for; and the other ways MsbDb is awaited."""

import asyncio
import os
import threading
import time
import unittest

from msbdb_testlib import DbTestCase, import_msbdb

MsbDb = import_msbdb(use_override=True)

from gi.repository import GLib, Gio  # noqa: E402

LONG_READ = ('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
             'WHERE x < 1000000000) SELECT count(*) FROM c')


def threads_named(name):
    """How many threads of this process are called ``name``."""
    n = 0
    for task in os.listdir('/proc/self/task'):
        try:
            with open('/proc/self/task/%s/comm' % task) as f:
                n += f.read().strip() == name
        except OSError:
            pass
    return n


class AsyncTestCase(DbTestCase):
    def run_async(self, coro, timeout=60):
        """asyncio.run() with a deadline; the GLib default main context is
        never iterated."""
        async def bounded():
            return await asyncio.wait_for(coro, timeout)
        return asyncio.run(bounded())

    async def open_table(self, **kw):
        db = await MsbDb.Pools.open_async(self.path, **kw)
        await db.write_async('CREATE TABLE IF NOT EXISTS t '
                             '(id INTEGER PRIMARY KEY, v TEXT UNIQUE)')
        return db


class TestAwaitables(AsyncTestCase):
    def test_every_call_awaits(self):
        async def main():
            db = await MsbDb.Pools.open_async(self.path, 2,
                                              connect_timeout=10)
            self.assertIsInstance(db, MsbDb.Pools)
            await db.write_async('CREATE TABLE t (id INTEGER PRIMARY KEY, '
                                 'v TEXT UNIQUE)')
            w = await db.write_async('INSERT INTO t (v) VALUES (?)', ('a',))
            self.assertEqual((w.rowcount, w.lastrowid), (1, 1))
            rows = await db.read_async('SELECT id, v FROM t WHERE id = :id',
                                       {'id': 1})
            self.assertEqual(rows, [(1, 'a')])
            self.assertEqual(rows.columns, ('id', 'v'))

            def body(conn):
                conn.execute("INSERT INTO t (v) VALUES ('b')")
                return conn.execute('SELECT count(*) FROM t')[0][0]
            self.assertEqual(await db.transaction_async(body), 2)
            self.assertEqual(await db.snapshot_async(
                lambda conn: conn.execute('SELECT v FROM t ORDER BY id')
                .as_dicts()), [{'v': 'a'}, {'v': 'b'}])
            self.assertTrue(await db.close_async())
            self.assertTrue(db.is_closed())
            trusting = await MsbDb.Pools.open_async(self.path,
                                                    trusted_schema=True)
            self.assertTrue(trusting.get_trusted_schema())
            self.assertEqual(await trusting.read_async('SELECT v FROM t '
                                                       'ORDER BY id'),
                             [('a',), ('b',)])
            await trusting.close_async()
        self.run_async(main())

    def test_awaitable_only_in_a_running_loop(self):
        # Outside a loop, without a callback: it runs and returns None, as
        # it always did (a failure is logged).
        pools = MsbDb.Pools.open(self.path)
        self.addCleanup(pools.close)
        self.assertIsNone(pools.write_async('CREATE TABLE t (a)'))
        pools.write('INSERT INTO t VALUES (1)')   # after the queued one
        self.assertEqual(pools.read('SELECT count(*) FROM t')[0][0], 1)

        async def main():
            call = pools.read_async('SELECT a FROM t')
            self.assertIsInstance(call, asyncio.Future)
            self.assertEqual(await call, [(1,)])
        self.run_async(main())

    def test_errors_are_the_db_api_classes(self):
        async def main():
            db = await self.open_table()
            await db.write_async("INSERT INTO t (v) VALUES ('x')")
            with self.assertRaises(MsbDb.IntegrityError) as cm:
                await db.write_async("INSERT INTO t (v) VALUES ('x')")
            self.assertTrue(cm.exception.matches(MsbDb.error_quark(),
                                                 MsbDb.Error.CONSTRAINT))
            with self.assertRaises(MsbDb.SqlError):
                await db.read_async('SELEC 1')
            with self.assertRaises(MsbDb.ReadOnlyError):
                await db.read_async('DELETE FROM t')
            with self.assertRaises(MsbDb.InvalidArgumentError):
                await db.read_async('SELECT ?', (1, 2))
            with self.assertRaises(TypeError):
                db.read_async('SELECT ?', (object(),))
            with self.assertRaises(MsbDb.CantOpenError):
                await MsbDb.Pools.open_async(os.path.join(self.tmpdir, 'no',
                                                          'dir', 'x.db'))
            await db.close_async()
            with self.assertRaises(MsbDb.ClosedError):
                await db.read_async('SELECT 1')
        self.run_async(main())

    def test_bodies_return_and_raise(self):
        class Refused(Exception):
            pass

        async def main():
            db = await self.open_table()
            error = Refused('no')

            def failing(conn):
                conn.execute("INSERT INTO t (v) VALUES ('rolled back')")
                raise error
            with self.assertRaises(Refused) as cm:
                await db.transaction_async(failing)
            self.assertIs(cm.exception, error)
            with self.assertRaises(MsbDb.IntegrityError):
                await db.transaction_async(lambda conn: conn.execute(
                    "INSERT INTO t (v) VALUES ('d'), ('d')"))
            with self.assertRaises(MsbDb.DatabaseError):
                await db.transaction_async(lambda conn: False)
            with self.assertRaises(KeyError):
                await db.snapshot_async(lambda conn: {}['missing'])
            self.assertEqual(await db.read_async('SELECT count(*) FROM t'),
                             [(0,)])

            async def coroutine_body(conn):
                pass
            with self.assertRaises(TypeError):
                db.transaction_async(coroutine_body)
            await db.close_async()
        self.run_async(main())

    def test_async_with_closes(self):
        async def main():
            async with await self.open_table() as db:
                await db.write_async("INSERT INTO t (v) VALUES ('in')")
            self.assertTrue(db.is_closed())
            with self.assertRaises(ValueError):
                async with await MsbDb.Pools.open_async(self.path) as again:
                    raise ValueError('out')
            self.assertTrue(again.is_closed())
        self.run_async(main())
        self.assertFalse(os.path.exists(self.path + '-wal'))

    def test_row_factory_and_converters(self):
        async def main():
            db = await self.open_table()
            db.row_factory = MsbDb.Row
            db.register_converter('upper', str.upper)
            await db.write_async("INSERT INTO t (v) VALUES ('low')")
            row = (await db.read_async(
                'SELECT id, v AS "v [upper]" FROM t'))[0]
            self.assertEqual((row['id'], row['v']), (1, 'LOW'))
            await db.close_async()
        self.run_async(main())

    def test_many_calls_one_thread(self):
        # 2000 calls in flight at once: each gets its own answer, and the
        # only thread added is the queue's (plus the pools' own workers,
        # bounded by the pool size): no thread per call.
        async def main():
            db = await self.open_table(max_read_connections=2)
            ids = [(await db.write_async('INSERT INTO t (v) VALUES (?)',
                                         ('v%d' % i,))).lastrowid
                   for i in range(200)]
            before = threading.active_count()
            calls = [db.read_async('SELECT id, v FROM t WHERE id = ?', (i,))
                     for i in ids for _ in range(10)]
            results = await asyncio.gather(*calls)
            for n, rows in enumerate(results):
                i = ids[n // 10]
                self.assertEqual(rows, [(i, 'v%d' % (i - 1))])
            self.assertEqual(threading.active_count(), before)
            self.assertEqual(threads_named('msb-db-results'), 1)
            tasks = len(os.listdir('/proc/self/task'))
            await db.close_async()
            return tasks
        tasks = self.run_async(main())
        # Main thread, the queue's thread, the writer, two read workers,
        # GLib's own (GTask pool, at most a few): not thousands.
        self.assertLess(tasks, 16)

    def test_loops_come_and_go(self):
        # Each asyncio.run() gets a queue of its own; the previous one (and
        # its thread) goes with its loop.
        pools = MsbDb.Pools.open(self.path)
        self.addCleanup(pools.close)
        pools.write('CREATE TABLE t (a)')

        async def once(i):
            await pools.write_async('INSERT INTO t VALUES (?)', (i,))
            return (await pools.read_async('SELECT count(*) FROM t'))[0][0]
        for i in range(5):
            self.assertEqual(asyncio.run(once(i)), i + 1)
        import gc
        gc.collect()
        deadline = time.monotonic() + 10
        while threads_named('msb-db-results') > 0 and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(threads_named('msb-db-results'), 0)


class TestCancellation(AsyncTestCase):
    def test_cancelling_the_task_interrupts_a_running_read(self):
        async def main():
            db = await self.open_table(max_read_connections=1)
            task = asyncio.ensure_future(db.read_async(LONG_READ))
            await asyncio.sleep(0.2)          # it runs
            started = time.monotonic()
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertLess(time.monotonic() - started, 1)
            # The only read connection is free again at once.
            started = time.monotonic()
            self.assertEqual(await db.read_async('SELECT 7'), [(7,)])
            self.assertLess(time.monotonic() - started, 2)
            await db.close_async()
        self.run_async(main())

    def test_timeouts_cancel(self):
        async def main():
            db = await self.open_table(max_read_connections=1)
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(db.read_async(LONG_READ), 0.2)
            self.assertEqual(await db.read_async('SELECT 8'), [(8,)])
            await db.close_async()
        self.run_async(main())

    def test_a_cancelled_waiting_write_never_runs(self):
        async def main():
            db = await self.open_table()
            entered = threading.Event()
            release = threading.Event()

            def hold(conn):
                entered.set()
                release.wait(20)
            holder = asyncio.ensure_future(db.transaction_async(hold))
            while not entered.is_set():
                await asyncio.sleep(0.01)
            write = asyncio.ensure_future(db.write_async(
                "INSERT INTO t (v) VALUES ('never')"))
            body_ran = []
            body = asyncio.ensure_future(db.transaction_async(
                lambda conn: body_ran.append(1)))
            await asyncio.sleep(0.05)
            write.cancel()
            body.cancel()
            for task in (write, body):
                with self.assertRaises(asyncio.CancelledError):
                    await task
            release.set()
            await holder
            self.assertEqual(await db.read_async('SELECT count(*) FROM t'),
                             [(0,)])
            self.assertEqual(body_ran, [])
            await db.write_async("INSERT INTO t (v) VALUES ('after')")
            await db.close_async()
        self.run_async(main())

    def test_gio_cancellable(self):
        async def main():
            db = await self.open_table(max_read_connections=1)
            cancellable = Gio.Cancellable()
            call = db.read_async(LONG_READ, None, cancellable)
            await asyncio.sleep(0.2)
            cancellable.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await call
            self.assertEqual(await db.read_async('SELECT 9'), [(9,)])
            await db.close_async()
        self.run_async(main())


class TestCloseAsync(AsyncTestCase):
    def test_calls_after_close_async_are_refused(self):
        # close_async() stops accepting calls when it is called: writes
        # queued before it commit and report success, every call made
        # after it fails with ClosedError and changes nothing.
        for run in range(20):
            path = os.path.join(self.tmpdir, 'close%d.db' % run)

            async def main():
                db = await MsbDb.Pools.open_async(path)
                await db.write_async('CREATE TABLE t (n INTEGER)')
                before = [db.write_async('INSERT INTO t VALUES (?)', (i,))
                          for i in range(300)]
                closing = db.close_async()
                after = [db.write_async('INSERT INTO t VALUES (?)', (i,))
                         for i in range(100)]
                after.append(db.read_async('SELECT 1'))
                after.append(db.transaction_async(lambda conn: None))
                results = await asyncio.gather(*after, return_exceptions=True)
                for r in results:
                    self.assertIsInstance(r, MsbDb.ClosedError)
                for w in await asyncio.gather(*before):
                    self.assertEqual(w.rowcount, 1)
                self.assertTrue(await closing)
            self.run_async(main())
            with MsbDb.Pools.open_read_only(path) as ro:
                self.assertEqual(ro.read('SELECT count(*) FROM t')[0][0], 300)


class TestIterate(AsyncTestCase):
    def test_async_for_reads_every_row_in_parts(self):
        async def main():
            db = await self.open_table()
            db.executemany('INSERT INTO t (v) VALUES (?)',
                           (('r%05d' % i,) for i in range(2500)))
            seen = [v async for (v,) in db.iterate(
                'SELECT v FROM t WHERE id > ? ORDER BY id', (0,), size=300)]
            self.assertEqual(seen, ['r%05d' % i for i in range(2500)])
            await db.close_async()
        self.run_async(main())

    def test_leaving_early_gives_the_connection_back(self):
        async def main():
            db = await self.open_table(max_read_connections=1,
                                       connect_timeout=2)
            db.executemany('INSERT INTO t (v) VALUES (?)',
                           [('x%d' % i,) for i in range(100)])
            async with db.iterate('SELECT v FROM t', size=10) as rows:
                async for row in rows:
                    break
            # One read connection: it was given back, or this would wait
            # for the connect timeout and fail.
            self.assertEqual(await db.read_async('SELECT count(*) FROM t'),
                             [(100,)])
            await db.close_async()
        self.run_async(main())

    def test_errors(self):
        async def main():
            db = await self.open_table()
            with self.assertRaises(MsbDb.SqlError):
                async for row in db.iterate('SELEC 1'):
                    pass
            with self.assertRaises(ValueError):
                db.iterate('SELECT 1', size=0)
            await db.close_async()
        self.run_async(main())


if __name__ == '__main__':
    unittest.main(verbosity=2)
