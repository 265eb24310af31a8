#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hello.py: MsbDb from Python: a write, a transaction and an async read.

Run: /usr/bin/python3 hello.py [FILE]   (PyGObject and the MsbDb-1.0 typelib)
"""
import sys

import gi
gi.require_version('MsbDb', '1.0')
from gi.repository import GLib, MsbDb  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else 'hello.db'

with MsbDb.Pools.open(path) as pools:  # closed when the block ends
    pools.write('CREATE TABLE IF NOT EXISTS greeting '
                '(id INTEGER PRIMARY KEY, text TEXT NOT NULL)')
    pools.write('INSERT INTO greeting (text) VALUES (?)', ('hello',))

    @pools.transaction  # runs now, on the writer thread; an exception rolls back
    def world_id(conn):
        return conn.execute('INSERT INTO greeting (text) VALUES (:text)',
                            {'text': 'world'}).get_last_insert_rowid()

    loop = GLib.MainLoop()

    def on_read(pools, result):  # runs in this thread's main context
        for (text,) in pools.read_finish(result):
            print(text)
        loop.quit()

    pools.read_async('SELECT text FROM greeting ORDER BY id', callback=on_read)
    loop.run()
