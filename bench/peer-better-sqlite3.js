#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// peer-better-sqlite3.js: the raw baseline's workloads in better-sqlite3
//
//   node peer-better-sqlite3.js --probe
//   node peer-better-sqlite3.js --workload insert.autocommit|insert.batched|read.point
//        --db FILE [--rows N] [--warmup S] [--duration S]
//
// msb-db-bench runs this as a subprocess, in the same run as its raw sqlite3
// baseline (bench-raw.c), and reads one line from stdout. It does exactly
// what the baseline does: the same table, the same PRAGMAs, statements
// prepared once, one operation per row, 1000 rows per transaction when
// batched, point reads of random ids among the rows the C side prefilled,
// each result checked. Only operations that complete inside the measured
// window count; each one's latency goes into the C benchmark's log-linear
// histogram (same buckets), so both sides report percentiles the same way.
//
// Output (one line each):
//   PEER <better-sqlite3 version> <SQLite version> <node version>      (--probe)
//   RESULT <ops> <total ops> <cpu ns> <context switches> <hist>          (a workload)
// A missing module prints `MISSING <why>` and exits with status 3.

'use strict';

const SCHEMA =
  'CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL)';
const INSERT_SQL = 'INSERT INTO kv (k, v) VALUES (?, ?)';
const SELECT_SQL = 'SELECT id, k, v FROM kv WHERE id = ?';
const PAYLOAD = 'payload-0123456789abcdefghijklmnopqrstuvwxyz-0123';
const BUSY_TIMEOUT_MS = 5000;
const BATCH_ROWS = 1000;

// The PRAGMAs of bench-common.c raw_open(), which are MsbDb's.
const PRAGMAS = [
  `busy_timeout = ${BUSY_TIMEOUT_MS}`,
  'journal_mode = WAL',
  'foreign_keys = ON',
  'synchronous = NORMAL',
  'trusted_schema = OFF',
  'journal_size_limit = 16777216',
];

function loadModule () {
  try {
    return {
      Database: require('better-sqlite3'),
      version: require('better-sqlite3/package.json').version,
    };
  } catch (e) {
    process.stdout.write(`MISSING ${String(e.message).split('\n')[0]}\n`);
    process.exit(3);
  }
}

function parseArgs (argv) {
  const args = { rows: 0, warmup: 1, duration: 5 };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i];
    const value = () => {
      if (i + 1 >= argv.length)
        throw new Error(`${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case '--probe': args.probe = true; break;
      case '--workload': args.workload = value(); break;
      case '--db': args.db = value(); break;
      case '--rows': args.rows = Number(value()); break;
      case '--warmup': args.warmup = Number(value()); break;
      case '--duration': args.duration = Number(value()); break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  return args;
}

// Histogram: the buckets of bench-common.c (exact below 64 ns, then 64
// buckets per power of two), serialized as hist_serialize() does.
const HIST_SUB_BITS = 6;
const HIST_SUB = 1 << HIST_SUB_BITS;
const HIST_MAX_EXP = 44;
const HIST_N_BUCKETS = (HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB;

class Hist {
  constructor () {
    this.counts = new Float64Array(HIST_N_BUCKETS);
    this.maxNs = 0;
  }

  record (ns) {
    let bucket;
    if (ns < HIST_SUB) {
      bucket = Math.max(ns, 0);
    } else {
      const exp = ns < 2 ** 32 ? 31 - Math.clz32(ns)
                               : 63 - Math.clz32(Math.floor(ns / 2 ** 32));
      bucket = exp > HIST_MAX_EXP
        ? HIST_N_BUCKETS - 1
        : (exp - HIST_SUB_BITS + 1) * HIST_SUB +
          (Math.floor(ns / 2 ** (exp - HIST_SUB_BITS)) & (HIST_SUB - 1));
    }
    this.counts[bucket]++;
    if (ns > this.maxNs)
      this.maxNs = ns;
  }

  serialize () {
    let text = String(this.maxNs);
    for (let i = 0; i < HIST_N_BUCKETS; i++)
      if (this.counts[i] !== 0)
        text += `,${i}:${this.counts[i]}`;
    return text;
  }
}

// xorshift64, as rng_next() in bench-common.h, on two 32-bit halves (a
// BigInt version costs more than the point read it picks the id for).
// Returns the next value modulo @n (n < 2^26, so the products stay exact).
function makeRng (hi, lo) {
  return (n) => {
    let h, l;
    h = (hi << 13 | lo >>> 19) >>> 0; l = (lo << 13) >>> 0;          // x ^= x << 13
    hi = (hi ^ h) >>> 0; lo = (lo ^ l) >>> 0;
    l = (lo >>> 7 | hi << 25) >>> 0; h = hi >>> 7;                    // x ^= x >> 7
    hi = (hi ^ h) >>> 0; lo = (lo ^ l) >>> 0;
    h = (hi << 17 | lo >>> 15) >>> 0; l = (lo << 17) >>> 0;          // x ^= x << 17
    hi = (hi ^ h) >>> 0; lo = (lo ^ l) >>> 0;
    return ((hi % n) * (2 ** 32 % n) + lo % n) % n;
  };
}

function open (Database, path) {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  for (const pragma of PRAGMAS)
    db.pragma(pragma);
  db.exec(SCHEMA);
  return db;
}

function makeWorkload (db, name, rows) {
  const insert = db.prepare(INSERT_SQL);
  let nextKey = 1;
  const insertOne = () => { insert.run(nextKey++, PAYLOAD); };

  switch (name) {
    case 'insert.autocommit':
      return { op: insertOne, finish () {} };
    case 'insert.batched': {
      const begin = db.prepare('BEGIN');
      const commit = db.prepare('COMMIT');
      let inBatch = 0;
      return {
        op () {
          if (inBatch === 0)
            begin.run();
          insertOne();
          if (++inBatch === BATCH_ROWS) {
            commit.run();
            inBatch = 0;
          }
        },
        finish () {
          if (inBatch > 0)
            commit.run();
        },
      };
    }
    case 'read.point': {
      if (!(rows > 0))
        throw new Error('read.point needs --rows (the C side prefills the file)');
      const select = db.prepare(SELECT_SQL);
      if (rows >= 2 ** 26)
        throw new Error('--rows must be below 2^26');
      const rng = makeRng(0x9E3779B9, 0x7F4A7C15);   // the seed of run_sync_loop()
      return {
        op () {
          const id = rng(rows) + 1;
          const row = select.get(id);
          if (row === undefined || row.id !== id || typeof row.v !== 'string')
            throw new Error(`point read of ${id} returned the wrong row`);
        },
        finish () {},
      };
    }
    default:
      throw new Error(`unknown workload ${name}`);
  }
}

function usage () {
  const u = process.resourceUsage();
  return {
    cpuNs: (u.userCPUTime + u.systemCPUTime) * 1000,
    csw: u.voluntaryContextSwitches + u.involuntaryContextSwitches,
  };
}

// The loop of sync_loop() in bench-common.c.
function measure (op, warmupS, durationS) {
  const clock = process.hrtime.bigint;
  const hist = new Hist();
  const before = usage();
  let now = clock();
  const measureStart = now + BigInt(Math.round(warmupS * 1e9));
  const end = measureStart + BigInt(Math.round(durationS * 1e9));
  let ops = 0;
  let total = 0;

  while (now < measureStart) {
    op();
    total++;
    now = clock();
  }
  while (now < end) {
    const start = now;
    op();
    total++;
    now = clock();
    if (now <= end) {
      hist.record(Number(now - start));
      ops++;
    }
  }
  const after = usage();
  return { ops, total, hist, cpuNs: after.cpuNs - before.cpuNs, csw: after.csw - before.csw };
}

function main () {
  const args = parseArgs(process.argv);
  const { Database, version } = loadModule();

  if (args.probe) {
    const db = new Database(':memory:');
    const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
    db.close();
    process.stdout.write(`PEER ${version} ${sqlite} ${process.version}\n`);
    return;
  }
  if (!args.workload || !args.db)
    throw new Error('--workload and --db are needed');

  const db = open(Database, args.db);
  const workload = makeWorkload(db, args.workload, args.rows);
  const r = measure(workload.op, args.warmup, args.duration);
  workload.finish();
  db.close();
  process.stdout.write(`RESULT ${r.ops} ${r.total} ${Math.round(r.cpuNs)} ${r.csw} ${r.hist.serialize()}\n`);
}

main();
