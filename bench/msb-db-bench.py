#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""msb-db-bench.py: MsbDb from Python against stdlib sqlite3 and aiosqlite.

Run (uninstalled):
    GI_TYPELIB_PATH=BUILD/introspection LD_LIBRARY_PATH=BUILD/src \
    PYTHONPATH=SRC/introspection /usr/bin/python3 bench/msb-db-bench.py \
        [--quick] [--scenario PATTERNS] [--json FILE] [--dir DIR] [--duration S]
or `meson compile -C BUILD bench-python` (`bench-python-quick`).

Every scenario runs on a fresh database file, warms up, then counts the
operations that complete inside a fixed measured window, each with its
latency (issue to completion, for async calls to the callback / the awaited
result). The baseline is stdlib sqlite3 on one connection with the PRAGMAs
MsbDb sets; the peer is aiosqlite (one connection on its own thread, driven
by asyncio) doing the same work with the same number of operations in
flight. Benchmarks, not tests: nothing here fails on a number.
"""

import argparse
import array
import asyncio
import fnmatch
import json
import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

import gi
gi.require_version('MsbDb', '1.0')
from gi.repository import GLib, MsbDb  # noqa: E402

try:
    import aiosqlite
except ImportError:  # pragma: no cover
    aiosqlite = None

SCHEMA = ('CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, '
          'k INTEGER NOT NULL, v TEXT NOT NULL)')
INSERT = 'INSERT INTO kv (k, v) VALUES (?, ?)'
SELECT = 'SELECT id, k, v FROM kv WHERE id = ?'
PAYLOAD = 'payload-0123456789abcdefghijklmnopqrstuvwxyz-0123'
PRAGMAS = [
    'PRAGMA busy_timeout = 5000',
    'PRAGMA journal_mode = WAL',
    'PRAGMA foreign_keys = ON',
    'PRAGMA synchronous = NORMAL',
    'PRAGMA trusted_schema = OFF',
    'PRAGMA journal_size_limit = 16777216',
]

now = time.perf_counter_ns   # CLOCK_MONOTONIC on Linux


class Config:
    quick = False
    duration = 5.0
    warmup = 1.0
    rows = 20000
    window = 64
    rss_ops = 1000000
    rss_first_mark = 100000
    dir = None


CFG = Config()


class Rng:
    """xorshift64, so that every runner draws the same ids."""

    def __init__(self, seed=0x9E3779B97F4A7C15):
        self.x = seed

    def next(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        self.x = x
        return x


class Result:
    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.ops = 0
        self.seconds = 0.0
        self.lat = array.array('q')
        self.pct = {}
        self.note = []
        self.extra = {}
        self.foreign_load = 0.0
        # Process CPU time (all threads) and context switches over the timed
        # run, warm-up included, per operation completed in it (as in C).
        self.cpu_us_per_op = None
        self.csw_per_op = None

    def set_usage(self, before, total_ops):
        """From a usage_now() taken when the timed run started."""
        if total_ops:
            after = usage_now()
            self.cpu_us_per_op = (after[0] - before[0]) * 1e6 / total_ops
            self.csw_per_op = (after[1] - before[1]) / total_ops

    @property
    def ops_per_s(self):
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def summarize(self):
        """Computes the percentiles and drops the latency list, so that
        scenarios do not pile up memory."""
        if self.lat is not None and len(self.lat):
            s = sorted(self.lat)
            self.pct = {p: s[min(int(p / 100.0 * len(s)), len(s) - 1)] / 1000.0
                        for p in (50, 99)}
            self.pct[100] = s[-1] / 1000.0
            del s
        self.lat = None

    def percentile(self, p):
        """In µs."""
        return self.pct.get(p, 0.0)


class Hist:
    """Log-linear latency histogram over ns (as in the C benchmark): fixed
    size, for the RSS check, where a growing list would be the growth."""

    def __init__(self):
        self.counts = [0] * ((44 - 6 + 2) * 64)
        self.n = 0

    def append(self, v):
        if v < 64:
            b = v
        else:
            e = v.bit_length() - 1
            b = min((e - 5) * 64 + ((v >> (e - 6)) & 63), len(self.counts) - 1)
        self.counts[b] += 1
        self.n += 1

    def __len__(self):
        return self.n

    def percentile_us(self, p):
        rank = min(int(p / 100.0 * self.n), self.n - 1)
        seen = 0
        for b, c in enumerate(self.counts):
            seen += c
            if seen > rank:
                if b < 64:
                    return b / 1000.0
                group, sub = divmod(b, 64)
                e = group - 1 + 6
                width = 1 << (e - 6)
                return ((1 << e) + sub * width + width / 2) / 1000.0
        return 0.0


class Window:
    def __init__(self, warmup, duration):
        t = now()
        self.start = t + int(warmup * 1e9)
        self.end = self.start + int(duration * 1e9)


def db_path(name):
    path = os.path.join(CFG.dir, name + '.db')
    remove_db(path)
    return path


def remove_db(path):
    for suffix in ('', '-wal', '-shm', '-journal'):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def machine_busy_s():
    """Busy time of the whole machine, all CPUs (/proc/stat), in seconds."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    hz = os.sysconf('SC_CLK_TCK')
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz


def usage_now():
    """(CPU seconds, context switches) of this process, all its threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def self_cpu_s():
    """CPU time of this process and of its waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# --quiet-gate: start a scenario once other processes used < QUIET_BELOW
# cores for QUIET_WINDOW s; run one they disturbed (> QUIET_RETRY_ABOVE) again.
QUIET_BELOW = 0.15
QUIET_WINDOW = 2.0
QUIET_RETRY_ABOVE = 0.25
QUIET_MAX_ATTEMPTS = 3
QUIET_MAX_WAIT_S = 900


def foreign_load_during(seconds):
    busy0, self0, t0 = machine_busy_s(), self_cpu_s(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy_s() - busy0 - (self_cpu_s() - self0)) / (time.monotonic() - t0)


def wait_for_quiet():
    start = time.monotonic()
    while (foreign_load_during(QUIET_WINDOW) >= QUIET_BELOW and
           time.monotonic() - start < QUIET_MAX_WAIT_S):
        pass
    return time.monotonic() - start


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def raw_connect(path):
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        db.execute(pragma).fetchall()
    db.execute(SCHEMA)
    return db


def prefill(path, rows):
    db = raw_connect(path)
    db.execute('BEGIN')
    db.executemany(INSERT, ((i, PAYLOAD) for i in range(1, rows + 1)))
    db.execute('COMMIT')
    db.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall()
    db.close()


# --------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------

def sync_loop(op, result):
    """Calls op(rng) until the window ends; records what completes inside."""
    w = Window(CFG.warmup, CFG.duration)
    rng = Rng()
    lat = result.lat
    usage = usage_now()
    warm = 0
    t = now()
    while t < w.start:
        op(rng)
        warm += 1
        t = now()
    ops = total = 0
    while t < w.end:
        start = t
        op(rng)
        total += 1
        t = now()
        if t <= w.end:
            lat.append(t - start)
            ops += 1
    result.set_usage(usage, warm + total)
    result.ops = ops
    result.seconds = (w.end - w.start) / 1e9


class GLibDriver:
    """Keeps `window` async MsbDb calls in flight on a GLib main loop.

    issue(driver, slot, rng) starts one call whose callback ends with
    driver.done(slot). In count mode (max_ops) every op is measured."""

    def __init__(self, issue, window, w=None, max_ops=0, marks=(), lat=None):
        self.issue = issue
        self.window = window
        self.w = w
        self.max_ops = max_ops
        self.marks = list(marks)
        self.rss_at = {}
        self.loop = GLib.MainLoop()
        self.rng = Rng()
        self.in_flight = 0
        self.issued = 0
        self.completed = 0
        self.ops = 0
        self.lat = array.array('q') if lat is None else lat
        self.first = self.last = 0

    def _issue(self, slot):
        slot[0] = now()
        self.issued += 1
        self.issue(self, slot, self.rng)

    def done(self, slot):
        t = now()
        self.completed += 1
        self.last = t
        if self.max_ops:
            self.lat.append(t - slot[0])
            self.ops += 1
            if self.marks and self.completed == self.marks[0]:
                self.rss_at[self.marks.pop(0)] = rss_kib()
            more = self.issued < self.max_ops
        else:
            if self.w.start <= t <= self.w.end:
                self.lat.append(t - slot[0])
                self.ops += 1
            more = t < self.w.end
        if more:
            self._issue(slot)
        else:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.loop.quit()

    def run(self):
        self.usage = usage_now()
        self.first = now()
        for _ in range(self.window):
            if self.max_ops and self.issued >= self.max_ops:
                break
            self.in_flight += 1
            self._issue([0, 0])
        if self.in_flight:
            self.loop.run()


async def asyncio_window(op, window, w):
    """`window` asyncio tasks each awaiting op(rng) in a loop."""
    lat = array.array('q')
    counter = [0, 0]   # inside the window, all

    async def worker(seed):
        rng = Rng(seed)
        while True:
            start = now()
            if start >= w.end:
                return
            await op(rng)
            t = now()
            counter[1] += 1
            if w.start <= t <= w.end:
                lat.append(t - start)
                counter[0] += 1

    await asyncio.gather(*(worker(0x9E3779B97F4A7C15 * (i + 1) & 0xFFFFFFFFFFFFFFFF or 1)
                           for i in range(window)))
    return counter[0], counter[1], lat


# --------------------------------------------------------------------------
# stdlib sqlite3: the baseline
# --------------------------------------------------------------------------

def run_sqlite3(name, description, kind, rows):
    path = db_path(name)
    if rows:
        prefill(path, rows)
    db = raw_connect(path)
    key = [1]

    def insert(rng):
        db.execute(INSERT, (key[0], PAYLOAD))
        key[0] += 1

    def read(rng):
        i = rng.next() % rows + 1
        row = db.execute(SELECT, (i,)).fetchone()
        if row is None or row[0] != i:
            raise AssertionError('wrong row')

    def mixed(rng):
        if rng.next() % 10 == 0:
            insert(rng)
        else:
            read(rng)

    r = Result(name, description)
    sync_loop({'insert': insert, 'read': read, 'mixed': mixed}[kind], r)
    db.close()
    remove_db(path)
    return r


def sqlite3_insert():
    return run_sqlite3('sqlite3.insert.autocommit',
                       'stdlib sqlite3: single-row INSERT, autocommit', 'insert', 0)


def sqlite3_read():
    return run_sqlite3('sqlite3.read.point', 'stdlib sqlite3: point SELECT, one connection',
                       'read', CFG.rows)


def sqlite3_mixed():
    return run_sqlite3('sqlite3.mixed', 'stdlib sqlite3: 90% point reads / 10% inserts',
                       'mixed', CFG.rows)


# --------------------------------------------------------------------------
# aiosqlite: the asyncio peer
# --------------------------------------------------------------------------

def run_aiosqlite(name, description, kind, rows):
    path = db_path(name)
    if rows:
        prefill(path, rows)
    else:
        raw_connect(path).close()
    key = [1]
    r = Result(name, description)

    async def main():
        db = await aiosqlite.connect(path, isolation_level=None)
        for pragma in PRAGMAS:
            await db.execute_fetchall(pragma)

        async def insert(rng):
            k = key[0]
            key[0] += 1
            await db.execute(INSERT, (k, PAYLOAD))

        async def read(rng):
            i = rng.next() % rows + 1
            found = await db.execute_fetchall(SELECT, (i,))
            if not found or found[0][0] != i:
                raise AssertionError('wrong row')

        async def mixed(rng):
            if rng.next() % 10 == 0:
                await insert(rng)
            else:
                await read(rng)

        w = Window(CFG.warmup, CFG.duration)
        usage = usage_now()
        ops, total, lat = await asyncio_window(
            {'insert': insert, 'read': read, 'mixed': mixed}[kind], CFG.window, w)
        r.set_usage(usage, total)
        await db.close()
        return ops, lat, (w.end - w.start) / 1e9

    r.ops, r.lat, r.seconds = asyncio.run(main())
    r.extra['in_flight'] = CFG.window
    remove_db(path)
    return r


def aiosqlite_insert():
    return run_aiosqlite('aiosqlite.insert', 'aiosqlite: INSERT, autocommit, 64 tasks in flight',
                         'insert', 0)


def aiosqlite_read():
    return run_aiosqlite('aiosqlite.read', 'aiosqlite: point SELECT (execute_fetchall), 64 in flight',
                         'read', CFG.rows)


def aiosqlite_mixed():
    return run_aiosqlite('aiosqlite.mixed', 'aiosqlite: 90% reads / 10% inserts, 64 in flight',
                         'mixed', CFG.rows)


# --------------------------------------------------------------------------
# MsbDb through PyGObject
# --------------------------------------------------------------------------

# Pools.read_async without the override's parameter conversion.
_INTROSPECTED_READ_ASYNC = next(c for c in MsbDb.Pools.__mro__
                                if c.__module__ == 'gi.repository.MsbDb').read_async


class Pools:
    def __init__(self, path, rows, read_connections=4):
        if rows:
            prefill(path, rows)
        self.path = path
        self.rows = rows
        self.pools = MsbDb.Pools.open(path, read_connections)
        self.pools.write(SCHEMA)
        self.key = 1

    def close(self, r):
        s = self.pools.get_stats()
        for field in ('reads', 'writes', 'write_batches', 'busy_retries',
                      'retries_exhausted', 'pool_timeouts', 'checkpoints', 'wal_bytes'):
            r.extra[field] = getattr(s, field)
        if s.write_batches and s.writes > s.write_batches:
            r.note.append('%.1f writes/commit' % (s.writes / s.write_batches))
        self.pools.close(None)
        remove_db(self.path)

    # blocking
    def insert(self, rng):
        self.pools.write(INSERT, (self.key, PAYLOAD))
        self.key += 1

    def read(self, rng):
        i = rng.next() % self.rows + 1
        row = self.pools.read(SELECT, (i,))[0]
        if row[0] != i:
            raise AssertionError('wrong row')

    def mixed(self, rng):
        if rng.next() % 10 == 0:
            self.insert(rng)
        else:
            self.read(rng)

    # async
    def _on_write(self, pools, result, driver, slot):
        pools.write_finish(result)
        driver.done(slot)

    def _on_read(self, pools, result, driver, slot):
        row = pools.read_finish(result)[0]
        if row[0] != slot[1]:
            raise AssertionError('wrong row')
        driver.done(slot)

    def issue_insert(self, driver, slot, rng):
        k = self.key
        self.key += 1
        self.pools.write_async(INSERT, (k, PAYLOAD), None, self._on_write, driver, slot)

    def issue_read(self, driver, slot, rng):
        i = rng.next() % self.rows + 1
        slot[1] = i
        self.pools.read_async(SELECT, (i,), None, self._on_read, driver, slot)

    # The same read with the fewest Python-level steps: a typed GVariant
    # built directly, the introspected method (no override conversion), and
    # the columns read with the C accessors. A reference for what PyGObject
    # itself costs, not the recommended style.
    def _on_read_lean(self, pools, result, driver, slot):
        rows = pools.read_finish(result)
        if rows.get_int64(0, 0) != slot[1] or rows.get_string(0, 2) is None:
            raise AssertionError('wrong row')
        driver.done(slot)

    def issue_read_lean(self, driver, slot, rng):
        i = rng.next() % self.rows + 1
        slot[1] = i
        _INTROSPECTED_READ_ASYNC(self.pools, SELECT,
                                 GLib.Variant.new_tuple(GLib.Variant.new_int64(i)),
                                 None, self._on_read_lean, driver, slot)

    def issue_mixed(self, driver, slot, rng):
        if rng.next() % 10 == 0:
            self.issue_insert(driver, slot, rng)
        else:
            self.issue_read(driver, slot, rng)


def run_msbdb(name, description, kind, rows, mode, read_connections=4):
    p = Pools(db_path(name), rows, read_connections)
    r = Result(name, description)
    if mode == 'sync':
        sync_loop(getattr(p, kind), r)
    else:
        w = Window(CFG.warmup, CFG.duration)
        d = GLibDriver(getattr(p, 'issue_' + kind), CFG.window, w)
        d.run()
        r.set_usage(d.usage, d.completed)
        r.ops, r.lat, r.seconds = d.ops, d.lat, (w.end - w.start) / 1e9
        r.extra['in_flight'] = CFG.window
    p.close(r)
    return r


def msbdb_insert_sync():
    return run_msbdb('msbdb.insert.sync', 'MsbDb: blocking write()', 'insert', 0, 'sync')


def msbdb_read_sync():
    return run_msbdb('msbdb.read.sync', 'MsbDb: blocking read(), 4 connections', 'read',
                     CFG.rows, 'sync')


def msbdb_insert_async():
    return run_msbdb('msbdb.insert.async', 'MsbDb: write_async(), 64 in flight (GLib main loop)',
                     'insert', 0, 'async')


def msbdb_read_async():
    return run_msbdb('msbdb.read.async', 'MsbDb: read_async(), 4 connections, 64 in flight',
                     'read', CFG.rows, 'async')


def msbdb_read_async_1conn():
    # aiosqlite's own shape: one connection on one thread. With the
    # default 4 the pools should do as well: reads that arrive while one
    # runs wait for its worker instead of waking others (see
    # src/msb-db-read-pool.c and bench/RESULTS.md).
    return run_msbdb('msbdb.read.async.1conn',
                     'MsbDb: read_async(), 1 read connection, 64 in flight',
                     'read', CFG.rows, 'async', read_connections=1)


def msbdb_read_async_lean():
    return run_msbdb('msbdb.read.async.lean',
                     'MsbDb: read_async() with a typed GVariant, no override, C accessors',
                     'read_lean', CFG.rows, 'async')


def msbdb_mixed_async():
    return run_msbdb('msbdb.mixed.async', 'MsbDb: 90% read_async / 10% write_async, 64 in flight',
                     'mixed', CFG.rows, 'async')


# --------------------------------------------------------------------------
# MsbDb under asyncio, beside aiosqlite
# --------------------------------------------------------------------------
#
# The scenarios below await `AWAIT.read(sql, params)` / `AWAIT.write(...)`
# only, in the same 64 asyncio tasks as aiosqlite's. asyncio_path() says
# how: NativeAwait, the API (an _async method called without a callback
# returns an awaitable; completions reach the loop through one descriptor),
# or, with MSB_DB_BENCH_ASYNCIO=bridge, the thread bridge a program needed
# before it existed: a GLib main loop on a thread of its own runs the
# callbacks and hands each result over with call_soon_threadsafe() (one
# thread hop and one libffi closure per call). The JSON's `asyncio_path`
# says which one ran.


class NativeAwait:
    """The asyncio API: ``await pools.read_async(sql, params)``."""

    name = 'native-await'

    def __init__(self, pools):
        self.pools = pools

    async def read(self, sql, params):
        """The first row."""
        return (await self.pools.read_async(sql, params))[0]

    async def write(self, sql, params):
        await self.pools.write_async(sql, params)

    def close(self):
        pass


class GLibThreadBridge:
    """Awaitable MsbDb calls through a GLib main loop on another thread."""

    name = 'glib-thread-bridge'

    def __init__(self, pools):
        self.pools = pools
        self.loop = asyncio.get_running_loop()
        # Callbacks go to the context that is thread-default where the call
        # is made: the global default one, since the asyncio thread pushes
        # none. This thread runs it.
        self.glib_loop = GLib.MainLoop.new(None, False)
        started = threading.Event()
        GLib.idle_add(lambda: started.set() and False)
        self.thread = threading.Thread(target=self.glib_loop.run, name='glib-bridge', daemon=True)
        self.thread.start()
        started.wait()

    def _resolve(self, future, value, error):
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def _on_read(self, pools, result, future):
        try:
            value, error = pools.read_finish(result)[0], None
        except GLib.Error as e:
            value, error = None, e
        self.loop.call_soon_threadsafe(self._resolve, future, value, error)

    def _on_write(self, pools, result, future):
        try:
            value, error = pools.write_finish(result), None
        except GLib.Error as e:
            value, error = None, e
        self.loop.call_soon_threadsafe(self._resolve, future, value, error)

    def read(self, sql, params):
        """The first row, as a tuple."""
        future = self.loop.create_future()
        self.pools.read_async(sql, params, None, self._on_read, future)
        return future

    def write(self, sql, params):
        future = self.loop.create_future()
        self.pools.write_async(sql, params, None, self._on_write, future)
        return future

    def close(self):
        GLib.idle_add(lambda: self.glib_loop.quit() or False)
        self.thread.join()


def asyncio_path(pools):
    """How MsbDb is awaited under asyncio (see above)."""
    if os.environ.get('MSB_DB_BENCH_ASYNCIO') == 'bridge':
        return GLibThreadBridge(pools)
    return NativeAwait(pools)


def run_msbdb_asyncio(name, description, kind, rows):
    p = Pools(db_path(name), rows)
    r = Result(name, description)

    async def main():
        awaiting = asyncio_path(p.pools)
        key = [1]

        async def insert(rng):
            k = key[0]
            key[0] += 1
            await awaiting.write(INSERT, (k, PAYLOAD))

        async def read(rng):
            i = rng.next() % rows + 1
            row = await awaiting.read(SELECT, (i,))
            if row[0] != i:
                raise AssertionError('wrong row')

        async def mixed(rng):
            if rng.next() % 10 == 0:
                await insert(rng)
            else:
                await read(rng)

        w = Window(CFG.warmup, CFG.duration)
        usage = usage_now()
        ops, total, lat = await asyncio_window(
            {'insert': insert, 'read': read, 'mixed': mixed}[kind], CFG.window, w)
        r.set_usage(usage, total)
        awaiting.close()
        r.extra['asyncio_path'] = awaiting.name
        return ops, lat, (w.end - w.start) / 1e9

    r.ops, r.lat, r.seconds = asyncio.run(main())
    r.extra['in_flight'] = CFG.window
    r.note.append('via %s' % r.extra['asyncio_path'])
    p.close(r)
    return r


def msbdb_asyncio_insert():
    return run_msbdb_asyncio('msbdb.asyncio.insert',
                             'MsbDb under asyncio: write_async() awaited, 64 tasks in flight',
                             'insert', 0)


def msbdb_asyncio_read():
    return run_msbdb_asyncio('msbdb.asyncio.read',
                             'MsbDb under asyncio: read_async() awaited, 4 connections, '
                             '64 tasks in flight', 'read', CFG.rows)


def msbdb_asyncio_mixed():
    return run_msbdb_asyncio('msbdb.asyncio.mixed',
                             'MsbDb under asyncio: 90% reads / 10% inserts awaited, 64 tasks',
                             'mixed', CFG.rows)


def msbdb_rss_child():
    """Runs in a fresh interpreter (--rss-child): prints one JSON line."""
    name = 'msbdb.rss.mixed'
    p = Pools(db_path(name), CFG.rows)
    first, last = CFG.rss_first_mark, CFG.rss_ops
    mid = CFG.rss_ops // 2
    out = {'rss_kib_after_open': rss_kib()}
    hist = Hist()
    d = GLibDriver(p.issue_mixed, CFG.window, max_ops=CFG.rss_ops, marks=(first, mid, last),
                   lat=hist)
    d.run()
    r = Result(name, '')
    p.close(r)
    out.update(r.extra)
    out.update({'ops': d.ops, 'seconds': (d.last - d.first) / 1e9,
                'p50_us': hist.percentile_us(50), 'p99_us': hist.percentile_us(99),
                'marks': [first, mid, last], 'rss': [d.rss_at.get(m, -1) for m in (first, mid, last)],
                'note': r.note})
    print(json.dumps(out))


def msbdb_rss():
    """VmRSS of a fresh interpreter doing CFG.rss_ops async operations."""
    import subprocess
    name = 'msbdb.rss.mixed'
    r = Result(name, 'MsbDb: RSS over %d async ops from Python (90/10 mixed, 64 in flight), '
               'fresh interpreter' % CFG.rss_ops)
    cmd = [sys.executable, os.path.abspath(__file__), '--rss-child', '--dir', CFG.dir,
           '--rss-ops', str(CFG.rss_ops), '--rss-first', str(CFG.rss_first_mark)]
    out = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout.decode()
                     .strip().splitlines()[-1])
    r.ops, r.seconds = out['ops'], out['seconds']
    r.lat = None
    r.pct = {50: out['p50_us'], 99: out['p99_us']}
    (first, mid, last), (a, b, c) = out['marks'], out['rss']
    for mark, value in zip(out['marks'], out['rss']):
        r.extra['rss_kib_at_%d' % mark] = value
    r.extra['rss_kib_after_open'] = out['rss_kib_after_open']
    r.extra['rss_growth_kib_first_to_last'] = c - a
    r.extra['rss_bytes_per_op_first_to_last'] = round((c - a) * 1024.0 / max(last - first, 1), 1)
    r.note = out['note'] + ['VmRSS %.1f MiB at %dk ops, %.1f MiB at %dk, %.1f MiB at %dk '
                            '(%+.0f B/op)' % (a / 1024, first // 1000, b / 1024, mid // 1000,
                                              c / 1024, last // 1000,
                                              (c - a) * 1024.0 / max(last - first, 1))]
    for k in ('reads', 'writes', 'write_batches', 'busy_retries', 'retries_exhausted',
              'pool_timeouts', 'checkpoints', 'wal_bytes'):
        if k in out:
            r.extra[k] = out[k]
    return r


SCENARIOS = [
    ('sqlite3.insert.autocommit', sqlite3_insert),
    ('sqlite3.read.point', sqlite3_read),
    ('sqlite3.mixed', sqlite3_mixed),
    ('aiosqlite.insert', aiosqlite_insert),
    ('aiosqlite.read', aiosqlite_read),
    ('aiosqlite.mixed', aiosqlite_mixed),
    ('msbdb.insert.sync', msbdb_insert_sync),
    ('msbdb.read.sync', msbdb_read_sync),
    ('msbdb.insert.async', msbdb_insert_async),
    ('msbdb.read.async', msbdb_read_async),
    ('msbdb.read.async.1conn', msbdb_read_async_1conn),
    ('msbdb.read.async.lean', msbdb_read_async_lean),
    ('msbdb.mixed.async', msbdb_mixed_async),
    ('msbdb.asyncio.insert', msbdb_asyncio_insert),
    ('msbdb.asyncio.read', msbdb_asyncio_read),
    ('msbdb.asyncio.mixed', msbdb_asyncio_mixed),
    ('msbdb.rss.mixed', msbdb_rss),
]

BASELINES = [
    ('aiosqlite.insert', 'sqlite3.insert.autocommit'),
    ('msbdb.insert.', 'sqlite3.insert.autocommit'),
    ('msbdb.asyncio.insert', 'sqlite3.insert.autocommit'),
    ('aiosqlite.read', 'sqlite3.read.point'),
    ('msbdb.read.', 'sqlite3.read.point'),
    ('msbdb.asyncio.read', 'sqlite3.read.point'),
    ('aiosqlite.mixed', 'sqlite3.mixed'),
    ('msbdb.mixed.', 'sqlite3.mixed'),
    ('msbdb.asyncio.mixed', 'sqlite3.mixed'),
    ('msbdb.rss.', 'sqlite3.mixed'),
]

# The peer that an async MsbDb row is compared with (the "vs peer" column).
PEERS = [
    ('msbdb.insert.async', 'aiosqlite.insert'),
    ('msbdb.asyncio.insert', 'aiosqlite.insert'),
    ('msbdb.read.async', 'aiosqlite.read'),
    ('msbdb.asyncio.read', 'aiosqlite.read'),
    ('msbdb.mixed.async', 'aiosqlite.mixed'),
    ('msbdb.asyncio.mixed', 'aiosqlite.mixed'),
]

TARGETS = [
    ('async inserts >= 2x aiosqlite', 'msbdb.insert.async', 'aiosqlite.insert', 2.0),
    ('async point reads >= 2x aiosqlite', 'msbdb.read.async', 'aiosqlite.read', 2.0),
    ('async point reads, 1 read connection like aiosqlite, >= 2x aiosqlite',
     'msbdb.read.async.1conn', 'aiosqlite.read', 2.0),
    ('async mixed 90/10 vs aiosqlite (no target; for reference)', 'msbdb.mixed.async',
     'aiosqlite.mixed', None),
    # Under asyncio: the awaitable API (see asyncio_path()).
    ('asyncio: awaited inserts >= 2x aiosqlite', 'msbdb.asyncio.insert', 'aiosqlite.insert', 2.0),
    ('asyncio: awaited point reads >= 2x aiosqlite', 'msbdb.asyncio.read', 'aiosqlite.read', 2.0),
    ('asyncio: awaited mixed 90/10 vs aiosqlite (for reference)', 'msbdb.asyncio.mixed',
     'aiosqlite.mixed', None),
    # Blocking calls against stdlib sqlite3 on one connection.
    ('blocking write() single-row inserts >= 0.6x stdlib sqlite3', 'msbdb.insert.sync',
     'sqlite3.insert.autocommit', 0.6),
    ('blocking read() point reads >= 0.6x stdlib sqlite3', 'msbdb.read.sync',
     'sqlite3.read.point', 0.6),
]


def baseline_of(name):
    for prefix, base in BASELINES:
        if name.startswith(prefix):
            return base
    return None


def peer_of(name):
    for prefix, peer in PEERS:
        if name.startswith(prefix):
            return peer
    return None


def selected(name, patterns):
    if not patterns:
        return True
    for p in patterns:
        if not p:
            continue
        if any(c in p for c in '*?['):
            if fnmatch.fnmatchcase(name, p):
                return True
        elif name.startswith(p):
            return True
    return False


def machine():
    cpu = '?'
    mem = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal'):
                    mem = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        'cpu': cpu, 'cores': os.cpu_count(), 'mem': mem,
        'kernel': ' '.join(platform.uname()[i] for i in (0, 2, 4)),
        'python': platform.python_version(), 'sqlite': sqlite3.sqlite_version,
        'aiosqlite': getattr(aiosqlite, '__version__', None) if aiosqlite else None,
        'pygobject': '.'.join(str(v) for v in gi.version_info),
        'glib': '%d.%d.%d' % (GLib.MAJOR_VERSION, GLib.MINOR_VERSION, GLib.MICRO_VERSION),
        'loadavg_start': open('/proc/loadavg').read().strip(),
        'dir': CFG.dir,
    }


def run_scenario(name, func, quiet_gate):
    """One run of a scenario; with --quiet-gate, the quietest of up to
    QUIET_MAX_ATTEMPTS runs."""
    best = None
    for attempt in range(1, QUIET_MAX_ATTEMPTS + 1):
        waited = wait_for_quiet() if quiet_gate else 0.0
        print('  %-28s ...' % name, end='', file=sys.stderr, flush=True)
        busy0, self0, wall0 = machine_busy_s(), self_cpu_s(), time.monotonic()
        r = func()
        wall = time.monotonic() - wall0
        # CPU used by other processes meanwhile, in cores: a noisy neighbour.
        r.foreign_load = max(0.0, (machine_busy_s() - busy0 - (self_cpu_s() - self0)) / wall)
        r.extra['other_processes_cpu_cores'] = round(r.foreign_load, 2)
        r.extra['attempt'] = attempt
        r.extra['waited_for_quiet_s'] = round(waited, 1)
        r.summarize()
        print(' %10.0f ops/s  p50 %8.1f us  p99 %8.1f us  (others used %.2f cores)' % (
            r.ops_per_s, r.percentile(50), r.percentile(99), r.foreign_load), file=sys.stderr)
        if best is None or r.foreign_load < best.foreign_load:
            best = r
        if not quiet_gate or best.foreign_load <= QUIET_RETRY_ABOVE:
            break
        print('    other processes were busy: running it again', file=sys.stderr)
    if best.extra['attempt'] > 1:
        best.note.append('kept attempt %d' % best.extra['attempt'])
    return best


def take_median(runs):
    """The run with the median rate (the lower middle one of an even
    count), its note and JSON giving the spread."""
    runs = sorted(runs, key=lambda r: r.ops_per_s)
    median = runs[(len(runs) - 1) // 2]
    if len(runs) > 1:
        lowest, highest = runs[0].ops_per_s, runs[-1].ops_per_s
        median.extra.update({'runs': len(runs), 'ops_per_s_min': round(lowest, 1),
                             'ops_per_s_max': round(highest, 1)})
        median.note.append('median of %d runs (%.0f-%.0f ops/s)' % (len(runs), lowest, highest))
    return median


def main():
    ap = argparse.ArgumentParser(description='Benchmark MsbDb from Python')
    ap.add_argument('--quick', '-q', action='store_true', help='a few seconds in all')
    ap.add_argument('--scenario', '-s', default='',
                    help='comma-separated prefixes or globs')
    ap.add_argument('--json', '-j', help='also write the results as JSON')
    ap.add_argument('--dir', '-d', help='where the database files go')
    ap.add_argument('--duration', type=float, help='measured seconds per scenario')
    ap.add_argument('--rounds', type=int, default=1,
                    help='run every scenario N times, round after round, and keep the median '
                         '(default 1; the RSS check runs once)')
    ap.add_argument('--list', '-l', action='store_true')
    ap.add_argument('--quiet-gate', action='store_true',
                    help='start each scenario only when other processes are idle; '
                         'rerun one they disturbed')
    ap.add_argument('--rss-child', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--rss-ops', type=int, help=argparse.SUPPRESS)
    ap.add_argument('--rss-first', type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.rss_child:
        CFG.dir = args.dir
        CFG.rss_ops, CFG.rss_first_mark = args.rss_ops, args.rss_first
        CFG.warmup = 0
        msbdb_rss_child()
        return 0

    if args.list:
        for name, _ in SCENARIOS:
            print(name)
        return 0

    if args.quick:
        CFG.quick = True
        CFG.duration = 0.3
        CFG.warmup = 0.1
        CFG.rss_ops = 50000
        CFG.rss_first_mark = 5000
    if args.duration:
        CFG.duration = args.duration
    made = None
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        CFG.dir = args.dir
    else:
        CFG.dir = made = tempfile.mkdtemp(prefix='msb-db-bench-py-')
    patterns = [p.strip() for p in args.scenario.split(',')] if args.scenario else []

    m = machine()
    print('msb-db-bench.py (%s mode): %s, %s cores, %s, %s' % (
        'quick' if CFG.quick else 'full', m['cpu'], m['cores'], m['mem'], m['kernel']))
    print('Python %s, SQLite %s, aiosqlite %s, PyGObject %s, files in %s, load average at start: %s'
          % (m['python'], m['sqlite'], m['aiosqlite'], m['pygobject'], CFG.dir, m['loadavg_start']))
    print('%.2f s measured after %.2f s warm-up per scenario, %d async ops in flight, %d rows for reads'
          % (CFG.duration, CFG.warmup, CFG.window, CFG.rows))
    if args.rounds > 1:
        print('%d rounds through the scenarios; each rate is the median run' % args.rounds)
    sys.stdout.flush()

    chosen = []
    for name, func in SCENARIOS:
        if not selected(name, patterns):
            continue
        if name.startswith('aiosqlite') and aiosqlite is None:
            print('  %-28s skipped: aiosqlite is not installed' % name, file=sys.stderr)
            continue
        chosen.append((name, func))

    # Round after round through the selection, as the C benchmark does: a
    # baseline and the scenario compared with it see the machine in the same
    # states; each row is the run with the median rate.
    runs = {name: [] for name, _ in chosen}
    for round_no in range(1, args.rounds + 1):
        if args.rounds > 1:
            print('round %d of %d' % (round_no, args.rounds), file=sys.stderr)
        for name, func in chosen:
            if round_no > 1 and name.startswith('msbdb.rss.'):
                continue   # one long run, not a rate
            runs[name].append(run_scenario(name, func, args.quiet_gate))
    results = [take_median(runs[name]) for name, _ in chosen]

    by_name = {r.name: r for r in results}

    print()
    print('%-26s %10s %11s %9s %9s %7s %6s %5s  %-26s %6s %7s  %s' % (
        'scenario', 'ops', 'ops/s', 'p50 us', 'p99 us', 'cpu us', 'csw', 'bg', 'baseline',
        'ratio', 'vs peer', 'note'))
    print('-' * 150)
    rows = []

    def optional(value, fmt):
        return '-' if value is None else fmt % value

    for r in results:
        base = by_name.get(baseline_of(r.name) or '')
        ratio = r.ops_per_s / base.ops_per_s if base and base.ops_per_s else None
        peer = by_name.get(peer_of(r.name) or '')
        peer_ratio = r.ops_per_s / peer.ops_per_s if peer and peer.ops_per_s else None
        print('%-26s %10d %11.0f %9.1f %9.1f %7s %6s %5.2f  %-26s %6s %7s  %s' % (
            r.name, r.ops, r.ops_per_s, r.percentile(50), r.percentile(99),
            optional(r.cpu_us_per_op, '%.2f'), optional(r.csw_per_op, '%.2f'), r.foreign_load,
            base.name if ratio else '-', optional(ratio, '%.2fx'), optional(peer_ratio, '%.2fx'),
            '; '.join(r.note)))
        row = {'name': r.name, 'description': r.description, 'ops': r.ops,
               'seconds': round(r.seconds, 3), 'ops_per_s': round(r.ops_per_s, 1),
               'p50_us': round(r.percentile(50), 2), 'p99_us': round(r.percentile(99), 2),
               'max_us': round(r.percentile(100), 2),
               'cpu_us_per_op': None if r.cpu_us_per_op is None else round(r.cpu_us_per_op, 3),
               'context_switches_per_op': None if r.csw_per_op is None else round(r.csw_per_op, 3),
               'baseline': base.name if ratio else None,
               'ratio': round(ratio, 3) if ratio else None,
               'peer': peer.name if peer_ratio else None,
               'ratio_to_peer': round(peer_ratio, 3) if peer_ratio else None,
               'note': '; '.join(r.note)}
        row.update(r.extra)
        rows.append(row)

    under_asyncio = [r for r in results if r.name.startswith('msbdb.asyncio.')]
    if under_asyncio:
        print()
        print('Under asyncio, against aiosqlite (same run, %d tasks in flight each)' % CFG.window)
        for r in under_asyncio:
            peer = by_name.get(peer_of(r.name) or '')
            if peer and peer.ops_per_s:
                print('  %-22s %9.0f ops/s  p99 %8.1f us   %-18s %9.0f ops/s  p99 %8.1f us   '
                      '%.2fx  (MsbDb via %s)' % (
                          r.name, r.ops_per_s, r.percentile(99), peer.name, peer.ops_per_s,
                          peer.percentile(99), r.ops_per_s / peer.ops_per_s,
                          r.extra.get('asyncio_path')))
            else:
                print('  %-22s %9.0f ops/s  (no aiosqlite row in this run)' % (r.name, r.ops_per_s))

    print()
    print('Targets (ratios from this run)')
    targets = []
    for what, scenario, versus, need in TARGETS:
        a, b = by_name.get(scenario), by_name.get(versus)
        if a and not (b and b.ops_per_s):
            print('  [ -- ] %-72s not measured: %s did not run' % (what, versus))
            targets.append({'target': what, 'scenario': scenario, 'versus': versus,
                            'ratio': None, 'required': need, 'met': None})
        if not a or not b or not b.ops_per_s:
            continue
        ratio = a.ops_per_s / b.ops_per_s
        met = None if need is None else ratio >= need
        print('  [%s] %-72s %.2fx (%.0f vs %.0f ops/s)%s' % (
            '    ' if met is None else ('MET ' if met else 'MISS'), what, ratio,
            a.ops_per_s, b.ops_per_s, '' if need is None else '  (need >= %.1fx)' % need))
        targets.append({'target': what, 'scenario': scenario, 'versus': versus,
                        'ratio': round(ratio, 3), 'required': need, 'met': met})

    m['loadavg_end'] = open('/proc/loadavg').read().strip()
    print('\nload average at end: %s' % m['loadavg_end'])
    if args.json:
        doc = {'benchmark': 'msb-db-bench.py', 'mode': 'quick' if CFG.quick else 'full',
               'machine': m,
               'config': {'duration_s': CFG.duration, 'warmup_s': CFG.warmup,
                          'prefill_rows': CFG.rows, 'in_flight': CFG.window,
                          'rss_ops': CFG.rss_ops, 'quiet_gate': args.quiet_gate,
                          'rounds': args.rounds},
               'results': rows, 'targets': targets}
        with open(args.json, 'w') as f:
            json.dump(doc, f, indent=2)
            f.write('\n')
        print('JSON written to %s' % args.json)
    if made:
        shutil.rmtree(made, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
