#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpora of the MsbDb fuzz harnesses.

    tests/fuzz/make-seeds.py    # rewrites tests/fuzz/corpus/{sql,bind,dqlite-wire}

corpus/sql: one SQL text per file. corpus/bind: one byte selecting the
statement and the path (see fuzz-bind.c), a GVariant type string, a NUL,
then the serialised GVariant (GLib's own serialisation, via PyGObject).
corpus/dqlite-wire: one selector byte (see fuzz-dqlite-wire.c), then
server messages in dqlite's wire format, SQL text, or a GVariant.
The outputs are committed; run this again after changing the seeds.
"""
import hashlib
import os
import struct
import sys

from gi.repository import GLib

HERE = os.path.dirname(os.path.abspath(__file__))

SQL = [
    "SELECT 1",
    "SELECT * FROM t",
    "SELECT id, a, b, c FROM t WHERE id = 1",
    "SELECT count(*), sum(b), avg(b), min(a), max(a) FROM t",
    "SELECT * FROM t JOIN u ON u.z = t.id ORDER BY t.id DESC LIMIT 2 OFFSET 1",
    "SELECT * FROM v",
    "SELECT a, row_number() OVER (ORDER BY id) FROM t",
    "SELECT a, sum(b) OVER (PARTITION BY a ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) SELECT sum(x) FROM c",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT json_object('a', 1, 'b', json_array(1, 2, 'x'))",
    "SELECT value FROM json_each('[1, {\"a\": 2}, null]')",
    "SELECT json_extract('{\"a\": [1, 2]}', '$.a[1]')",
    "SELECT * FROM f WHERE f MATCH 'quick'",
    "SELECT highlight(f, 0, '[', ']') FROM f WHERE f MATCH 'fox'",
    "SELECT bm25(f), * FROM f WHERE f MATCH 'qu*' ORDER BY rank",
    "SELECT typeof(1), typeof(1.5), typeof('x'), typeof(x'00'), typeof(NULL)",
    "SELECT CAST(x'ff fe' AS TEXT), CAST('12abc' AS INTEGER), CAST(3.9 AS INTEGER)",
    "SELECT 'a' || char(0) || 'b', length('a' || char(0) || 'b')",
    "SELECT upper(CAST(x'c3a9' AS TEXT)), lower('\u00c9'), unicode('\u00e9')",
    "SELECT 9223372036854775807 + 1, -9223372036854775808 - 1, 1e308 * 10",
    "SELECT abs(-9223372036854775808)",
    "SELECT 1 / 0, 1 % 0, 5.0 / 0",
    "SELECT date('now'), strftime('%s', '2024-01-01'), julianday('2000-01-01 12:00')",
    "SELECT instr('hello', 'l'), substr('hello', -3, 2), trim('  x  '), ltrim('xxa', 'x')",
    "SELECT hex(x'deadbeef'), quote(x'00'), quote('it''s')",
    "SELECT likely(1), unlikely(0), coalesce(NULL, 2), ifnull(NULL, 3), nullif(1, 1), iif(1, 'a', 'b')",
    "SELECT * FROM t WHERE a LIKE '%o%' ESCAPE '\\' OR a GLOB 't*'",
    "SELECT * FROM t WHERE id IN (SELECT z FROM u) AND EXISTS (SELECT 1 FROM u)",
    "SELECT * FROM t NATURAL JOIN u",
    "SELECT * FROM t, u, v LIMIT 5",
    "SELECT a FROM t UNION SELECT y FROM u INTERSECT SELECT 'one' EXCEPT SELECT 'two'",
    "SELECT sqlite_version(), sqlite_source_id()",
    "SELECT name, type FROM sqlite_schema",
    "SELECT * FROM pragma_table_info('t')",
    "SELECT * FROM pragma_index_list('t')",
    "SELECT count(*) FROM dbstat",
    "SELECT total_changes(), changes(), last_insert_rowid()",
    "SELECT sqrt(2), pow(2, 10), ln(0), log10(100), pi()",
    "INSERT INTO t (a, b, c) VALUES ('new', 2.5, x'0102')",
    "INSERT INTO t (a) VALUES ('r') RETURNING id, a",
    "INSERT INTO u (x, y, z) VALUES (5, 'five', 1) ON CONFLICT (x) DO UPDATE SET y = excluded.y",
    "INSERT INTO u (x, z) VALUES (-1, 1)",
    "INSERT INTO u (x, z) VALUES (7, 999)",
    "INSERT INTO u (x, y) VALUES (8, NULL)",
    "INSERT INTO t SELECT NULL, a, b, c FROM t",
    "REPLACE INTO t (id, a) VALUES (1, 'uno')",
    "UPDATE t SET b = b * 2 WHERE id > 1 RETURNING *",
    "UPDATE t SET a = NULL",
    "DELETE FROM t WHERE id = 2",
    "DELETE FROM t",
    "DELETE FROM u WHERE rowid IN (SELECT rowid FROM u LIMIT 1)",
    "INSERT INTO f (body) VALUES ('lazy dog')",
    "INSERT INTO f (f) VALUES ('optimize')",
    "CREATE TABLE IF NOT EXISTS w (k TEXT PRIMARY KEY, v) WITHOUT ROWID",
    "CREATE TABLE s (a INTEGER, b TEXT) STRICT",
    "CREATE TEMP TABLE tmp (x)",
    "CREATE INDEX IF NOT EXISTS t_b ON t (b) WHERE b IS NOT NULL",
    "CREATE TRIGGER tr BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END",
    "CREATE VIEW v2 AS SELECT * FROM t WHERE id < 3",
    "CREATE VIRTUAL TABLE r USING rtree (id, x0, x1)",
    "ALTER TABLE t ADD COLUMN d TEXT DEFAULT 'dd'",
    "ALTER TABLE t RENAME COLUMN a TO aa",
    "ALTER TABLE u RENAME TO uu",
    "DROP VIEW v",
    "DROP TRIGGER t_log",
    "DROP INDEX t_a",
    "DROP TABLE u",
    "ANALYZE",
    "REINDEX",
    "EXPLAIN SELECT * FROM t",
    "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = 'x'",
    "PRAGMA table_info(t)",
    "PRAGMA foreign_key_check",
    "PRAGMA integrity_check",
    "PRAGMA quick_check",
    "PRAGMA user_version",
    "PRAGMA user_version = 7",
    "PRAGMA application_id = 42",
    "PRAGMA cache_size = -100",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA optimize",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA main.synchronous = OFF",
    "PRAGMA query_only = 1",
    "PRAGMA locking_mode = EXCLUSIVE",
    "PRAGMA trusted_schema = 1",
    "PRAGMA recursive_triggers = ON",
    "ATTACH DATABASE 'other.db' AS other",
    "ATTACH ':memory:' AS m",
    "DETACH main",
    "SELECT load_extension('libevil.so')",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT s1",
    "RELEASE s1",
    "END",
    "SELECT 1; SELECT 2",
    "SELECT 1;",
    "-- comment\nSELECT 1 /* inline */",
    "",
    ";",
    "SELEC 1",
    "SELECT * FROM nowhere",
    "SELECT (((((((((((1)))))))))))",
    "SELECT ?",
    "SELECT :name",
    "UPDATE sqlite_schema SET sql = ''",
    "UPDATE f_data SET block = x''",
    "CREATE TABLE sqlite_x (a)",
    "SELECT * FROM t WHERE rowid = 1 AND a MATCH 'x'",
    "SELECT CAST(x'80' AS TEXT) || CAST(x'c0af' AS TEXT)",
]

# (selector, GVariant). The selector's low nibble picks the statement
# (mod 16), bits 4-5 the path: 0 direct bind, 1 read, 2 write, 3 transaction.
def v(fmt, value):
    return GLib.Variant(fmt, value)

BIND = [
    (0x00, v("(i)", (1,))),
    (0x10, v("(s)", ("hello",))),
    (0x20, v("(x)", (-9223372036854775808,))),
    (0x30, v("(t)", (9223372036854775807,))),
    (0x10, v("(t)", (9223372036854775808,))),
    (0x01, v("(ay)", (b"a\x00b",))),
    (0x11, v("(dd)", (1.5, float("nan")))),
    (0x11, v("(bb)", (True, False))),
    (0x11, v("(yn)", (255, -32768))),
    (0x11, v("(qu)", (65535, 4294967295))),
    (0x10, v("(ms)", (None,))),
    (0x10, v("(mi)", (5,))),
    (0x10, v("(v)", (GLib.Variant("s", "inner"),))),
    (0x10, v("(v)", (GLib.Variant("v", GLib.Variant("i", 3)),))),
    (0x10, v("(o)", ("/org/example/Path",))),
    (0x10, v("(g)", ("a{sv}",))),
    (0x10, v("(h)", (3,))),
    (0x10, v("((ii))", ((1, 2),))),
    (0x10, v("(ai)", ([1, 2],))),
    (0x10, v("(as)", (["a"],))),
    (0x10, v("(a{sv})", ({},))),
    (0x10, v("(aay)", ([b"x"],))),
    (0x10, v("i", 1)),
    (0x10, v("s", "x")),
    (0x10, v("()", ())),
    (0x10, v("(ii)", (1, 2))),
    (0x13, v("a{sv}", {"a": GLib.Variant("i", 1), "b": GLib.Variant("s", "x"), "c": GLib.Variant("ay", b"\x01")})),
    (0x13, v("a{sv}", {":a": GLib.Variant("i", 1), "@b": GLib.Variant("d", 2.0), "$c": GLib.Variant("mv", None)})),
    (0x14, v("a{sv}", {"a": GLib.Variant("h", 1)})),
    (0x14, v("a{sv}", {"zz": GLib.Variant("i", 1)})),
    (0x14, v("a{sv}", {})),
    (0x14, v("a{ss}", {"a": "x"})),
    (0x18, v("a{sv}", {"name": GLib.Variant("i", 1)})),
    (0x19, v("(ii)", (1, 2))),
    (0x1a, v("(ibnqiuxt)", (1, True, -1, 1, -2, 3, -4, 5))),
    (0x1b, v("(ayay)", (b"\xff\xfe", b"\x00"))),
    (0x1c, v("(s)", ("x",))),
    (0x1d, v("a{sv}", {"a": GLib.Variant("s", "x"), "b": GLib.Variant("i", 2)})),
    (0x2f, v("(s)", ("row",))),
    (0x3f, v("(ay)", (b"blob",))),
    (0x16, v("(sss)", ("a", "b", "c"))),
    (0x15, v("(iii)", (1, 2, 3))),
    (0x1e, v("(ii)", (1, 2))),
]


# dqlite wire protocol: responses as a dqlite 1.11 node sends them.
def pad8(b):
    return b + b"\0" * ((8 - len(b) % 8) % 8)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def text(s):
    return pad8(s.encode() + b"\0")


def blob(b):
    return u64(len(b)) + pad8(b)


def message(mtype, body):
    assert len(body) % 8 == 0
    return struct.pack("<IBBH", len(body) // 8, mtype, 0, 0) + body


def row(values):
    """values: (type, encoded bytes) pairs."""
    header = bytearray((len(values) + 1) // 2)
    for i, (t, _) in enumerate(values):
        header[i // 2] |= t << (4 * (i % 2))
    return pad8(bytes(header)) + b"".join(v for _, v in values)


MORE = b"\xee" * 8
DONE = b"\xff" * 8


def rows(names, rowlist, marker=DONE):
    return message(7, u64(len(names)) + b"".join(text(n) for n in names) +
                   b"".join(row(r) for r in rowlist) + marker)


def i64(v):
    return (1, u64(v))


def dbl(v):
    return (2, struct.pack("<d", v))


def txt(v):
    return (3, text(v))


def blb(v):
    return (4, blob(v))


NULL = (5, u64(0))

RESPONSES = [
    message(0, u64(1) + text("no such table: nosuch")),
    message(0, u64(10250) + text("not leader")),
    message(1, u64(1) + text("127.0.0.1:9001")),
    message(1, u64(0) + text("")),
    message(2, u64(15000)),
    message(3, u64(3) + u64(1) + text("127.0.0.1:9001") + u64(0) + u64(2) +
            text("127.0.0.1:9002") + u64(1) + u64(3) + text("127.0.0.1:9003") + u64(2)),
    message(4, struct.pack("<II", 0, 0)),
    message(5, struct.pack("<II", 0, 3) + u64(2)),
    message(6, u64(7) + u64(1)),
    message(8, u64(0)),
    rows(["x"], [[i64(1)]]),
    rows(["i", "r", "t", "b", "n"], [[i64(-5), dbl(1.5), txt("h\u00e9"), blb(b"abc"), NULL]]),
    rows(["a", "b"], [[i64(i), txt("r%d" % i)] for i in range(20)], MORE) +
    rows(["a", "b"], [[i64(i), txt("r%d" % i)] for i in range(20, 30)]),
    rows(["d", "t", "b"], [[(9, u64(1700000000)), (10, text("2024-01-01 00:00:00")), (11, u64(1))]]),
    rows(["c%d" % i for i in range(17)], [[i64(i) for i in range(17)]]),
    rows(["e"], []),
    rows(["x"], [[blb(b"")], [txt("")], [NULL]]),
]

SCANNER_SQL = [
    "SELECT ?, ?2, :a, @b, $c, :a",
    "SELECT $a::b(x), ?5, :z",
    "SELECT '?', \"?\" AS \"?\", ? -- :x\n, /* @y */ :w",
    "SELECT a$b FROM (SELECT 1 AS a$b) WHERE ?",
    "SELECT #x, ?",
    "WITH c(x) AS (SELECT 1) INSERT INTO t (a) SELECT x FROM c RETURNING id",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c",
    "PRAGMA main.table_info(t)",
    "PRAGMA user_version(7)",
    "EXPLAIN UPDATE t SET a = :a WHERE id = ?",
    "VALUES (?, :v)",
    # found by fuzzing: names of parameters numbered above 32766
    "SELECT ?65201\n,:a, $01\n,:a, $a",
    "\n;SELECT:a",
    # where the first statement ends: trigger bodies, and what follows
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u (x) VALUES (new.id); "
    "UPDATE u SET y = CASE WHEN ? THEN 'a' ELSE 'b' END; END; SELECT :after",
    "EXPLAIN QUERY PLAN CREATE TEMP TRIGGER tr BEFORE DELETE ON t BEGIN SELECT 1; END",
    "SELECT ';' AS x; -- done\n INSERT INTO t (a) VALUES (?) RETURNING id",
    # found by fuzzing: a vertical tab continues a run of white space
    "CREATE \v\v\vTRIGGER tr BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, ''); END",
    # the table a write names
    "INSERT OR REPLACE INTO main.\"t\" (a) VALUES (?)",
    "UPDATE OR IGNORE [u] SET y = ? WHERE x = 1",
    "DELETE FROM `t` WHERE id = ?",
]

WIRE_PARAMS = [
    (0, v("(i)", (1,))),
    (1, v("(sd)", ("x", 2.5))),
    (2, v("(ayms)", (b"a\x00b", None))),
    (3, v("a{sv}", {"a": GLib.Variant("i", 1), "b": GLib.Variant("s", "x"), "c": GLib.Variant("mi", None)})),
    (4, v("a{sv}", {":a": GLib.Variant("t", 9223372036854775808)})),
    (5, v("(bnqx)", (True, -2, 3, -4))),
    (7, v("a{sv}", {"name": GLib.Variant("v", GLib.Variant("o", "/x"))})),
]


def dqlite_wire_seeds():
    seeds = []
    for i, m in enumerate(RESPONSES):
        seeds.append(bytes([i % 6]) + m)
    seeds.append(bytes([0]) + b"".join(RESPONSES))
    # Damaged: truncated bodies, lying lengths.
    for m in RESPONSES[:12]:
        seeds.append(bytes([1]) + m[:-3])
        seeds.append(bytes([2]) + struct.pack("<I", 0xFFFFFFFF) + m[4:])
    for sql in SCANNER_SQL + SQL:
        seeds.append(bytes([6]) + sql.encode())
    for selector, var in WIRE_PARAMS:
        data = var.get_data_as_bytes().get_data() or b""
        seeds.append(bytes([7 | (selector << 3)]) + var.get_type_string().encode() + b"\0" + data)
    return seeds


def write_corpus(name, items):
    out = os.path.join(HERE, "corpus", name)
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        os.unlink(os.path.join(out, old))
    for data in items:
        digest = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(out, digest), "wb") as f:
            f.write(data)
    print(f"{len(items)} seeds in {out}")


def bind_seed(selector, variant):
    data = variant.get_data_as_bytes().get_data()
    return bytes([selector]) + variant.get_type_string().encode() + b"\x00" + (data or b"")


def main():
    write_corpus("sql", [s.encode() for s in SQL])
    seeds = [bind_seed(s, var) for s, var in BIND]
    # The same values through every path.
    seeds += [bind_seed((s & 0x0f) | (path << 4), var) for s, var in BIND[:12] for path in range(4)]
    # Damaged serialisations: truncated and extended.
    seeds += [bind_seed(s, var)[:-1] for s, var in BIND[:10] if len(var.get_data_as_bytes().get_data() or b"") > 1]
    seeds += [bind_seed(s, var) + b"\xff\x00\x7f" for s, var in BIND[:10]]
    write_corpus("bind", sorted(set(seeds)))
    write_corpus("dqlite-wire", sorted(set(dqlite_wire_seeds())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
