# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject override for MsbDb: Python conversions and sugar only.

Everything here calls the C API: there is no second implementation. All the
introspected names stay available (``Rows.get_n_rows()``, ``get_int64()``,
``Pools.read()`` with a ``GLib.Variant``...); what changes is:

* every ``params`` argument (``Pools.read``, ``read_async``, ``write``,
  ``write_async``, ``Connection.execute``) also accepts plain Python values,
  converted by :func:`params_to_variant`;
* :class:`Rows` is a read-only sequence of tuples (``len``, iteration,
  indexing, ``columns``, ``as_dicts()``, ``value()``);
* :class:`Pools` is a context manager that closes on exit, its
  ``transaction``/``snapshot`` (and their ``_async``/``_finish``) take a
  plain callable, return its result, and re-raise in the caller an exception
  raised inside it;
* ``Pools.open``/``open_async``/``open_read_only`` get default arguments.

Threads: a callable given to ``transaction``/``snapshot`` runs on the writer
thread or on a read worker, never on the thread that called. PyGObject takes
the GIL for it and releases the GIL while the caller waits in a blocking C
call or in ``GLib.MainLoop.run()``, so waiting for your own callback does not
deadlock. Inside such a callable use only the ``connection`` it is given:
calling a blocking method of the same pools from there fails at once with
``MsbDb.Error.FAILED`` (it would deadlock otherwise).
"""

import traceback
import weakref

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

MsbDb = get_introspection_module('MsbDb')

__all__ = []

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_SECOND = 1000000  # GTimeSpan is in microseconds

_DEFAULT_MAX_READ = getattr(MsbDb, 'DEFAULT_MAX_READ_CONNECTIONS', 4)
_DEFAULT_CONNECT_TIMEOUT = getattr(MsbDb, 'DEFAULT_CONNECT_TIMEOUT_SECS', 30) * _SECOND
_DEFAULT_BUSY_TIMEOUT = getattr(MsbDb, 'DEFAULT_BUSY_TIMEOUT_SECS', 5) * _SECOND

_VT_V = GLib.VariantType.new('v')
_VT_AY = GLib.VariantType.new('ay')
_VT_SV = GLib.VariantType.new('{sv}')

# Bound once: the calls below run for every statement. The introspected
# new_tuple() takes a sequence; the GLib override's wrapper only repacks
# its *args into one.
_Variant = GLib.Variant
_new_int64 = _Variant.new_int64
_new_double = _Variant.new_double
_new_string = _Variant.new_string
_new_tuple = get_introspection_module('GLib').Variant.new_tuple
_parse = _Variant.parse
# SQL NULL. A GVariant is immutable, so one instance serves every call.
_NOTHING = _Variant.new_maybe(_VT_V, None)
# '(x)', '(xx)'...: the types of the all-integer tuples parsed from text.
_VT_INTS = [None] + [GLib.VariantType.new('(%s)' % ('x' * n))
                     for n in range(1, 9)]


# --------------------------------------------------------------------------
# Parameters: Python values -> GVariant
# --------------------------------------------------------------------------

def _value_to_variant(value, where):
    """One SQL value: bool 'b', int 'x', float 'd', str 's', bytes-like 'ay',
    None 'mv' (Nothing, bound as NULL), GLib.Variant unchanged.

    ``where`` names the parameter in errors: its 1-based position (an int)
    or its name (a str, shown with repr()). It is only formatted on the
    error paths."""
    # Exact types first (the common case, one test each), then the
    # isinstance() chain for subclasses. bool before int: bool is a
    # subclass of int.
    kind = type(value)
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return _new_int64(value)
    elif kind is str:
        if '\0' not in value:
            return _new_string(value)
    elif kind is float:
        return _new_double(value)
    elif value is None:
        return _NOTHING
    if isinstance(value, bool):
        return GLib.Variant.new_boolean(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError('parameter %s: %d does not fit in a 64-bit '
                                'signed SQL INTEGER' % (_name(where), value))
        return _new_int64(value)
    if isinstance(value, float):
        return _new_double(value)
    if isinstance(value, str):
        if '\0' in value:
            raise ValueError('parameter %s: text contains a NUL character; '
                             'pass bytes to store it as a BLOB' % _name(where))
        return _new_string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return GLib.Variant.new_from_bytes(_VT_AY, GLib.Bytes.new(data), True)
    if isinstance(value, GLib.Variant):
        return value
    raise TypeError('parameter %s: cannot bind a value of type %s (use None, '
                    'bool, int, float, str, bytes or GLib.Variant)'
                    % (_name(where), type(value).__name__))


def _name(where):
    """A parameter as error messages show it: ``2`` or ``'key'``."""
    return str(where) if type(where) is int else repr(where)


def params_to_variant(params):
    """Convert statement parameters to the ``GLib.Variant`` the C API takes.

    ``params`` may be:

    * ``None``: no parameters (returned as ``None``);
    * a ``GLib.Variant``: returned unchanged;
    * a ``tuple`` or ``list``: positional parameters ``?``/``?NNN``, a GVariant
      tuple of typed values;
    * a ``dict`` with ``str`` keys: named parameters ``:name``/``@name``/
      ``$name``, an ``a{sv}`` whose values are wrapped in ``v``.

    Each value converts as ``bool`` -> ``b``, ``int`` -> ``x`` (OverflowError
    outside the signed 64-bit range), ``float`` -> ``d``, ``str`` -> ``s``
    (ValueError if it contains NUL), ``bytes``/``bytearray``/``memoryview`` ->
    ``ay`` (BLOB), ``None`` -> ``mv`` Nothing (SQL NULL); a ``GLib.Variant``
    value is used unchanged. Any other type raises ``TypeError`` naming the
    parameter (``1``-based position, or the dict key).
    """
    kind = type(params)
    if kind is tuple or kind is list:
        # Only plain ints (keys, ids, limits: the common case): one
        # g_variant_parse() of their decimal text, with the tuple type
        # given, instead of one PyGObject call per value plus one for the
        # tuple. Each such call and the GLib.Variant it returns cost more
        # than GLib's parser spends on a few digits. Same variant either way.
        n = len(params)
        if n == 1:
            v = params[0]
            if type(v) is int and _INT64_MIN <= v <= _INT64_MAX:
                return _parse(_VT_INTS[1], '(%d,)' % v, None, None)
        elif 1 < n < len(_VT_INTS):
            for v in params:
                if type(v) is not int or not _INT64_MIN <= v <= _INT64_MAX:
                    break
            else:
                return _parse(_VT_INTS[n], '(%s)' % ','.join(map(str, params)),
                              None, None)
        return _new_tuple([_value_to_variant(v, i)
                           for i, v in enumerate(params, 1)])
    if params is None or isinstance(params, GLib.Variant):
        return params
    if isinstance(params, (tuple, list)):
        return _new_tuple([_value_to_variant(v, i)
                           for i, v in enumerate(params, 1)])
    if isinstance(params, dict):
        entries = []
        for key, value in params.items():
            if not isinstance(key, str):
                raise TypeError('parameter names must be str, not %s (%r)'
                                % (type(key).__name__, key))
            entries.append(GLib.Variant.new_dict_entry(
                GLib.Variant.new_string(key),
                GLib.Variant.new_variant(_value_to_variant(value, key))))
        return GLib.Variant.new_array(_VT_SV, entries)
    raise TypeError('params must be None, a tuple, a list, a dict or a '
                    'GLib.Variant, not %s' % type(params).__name__)


__all__.append('params_to_variant')


# --------------------------------------------------------------------------
# Rows: a read-only sequence of tuples
# --------------------------------------------------------------------------

_dup_row = MsbDb.Rows.dup_row


class Rows(MsbDb.Rows):
    """An immutable query result, also a read-only sequence of tuples.

    ``len(rows)`` is the number of rows (so an empty result is falsy),
    ``rows[i]`` is row ``i`` as a tuple (negative indices and slices work),
    ``for row in rows`` iterates tuples, ``rows.columns`` is the tuple of
    column names and ``rows.as_dicts()`` a list of ``{column: value}``.

    Values are plain Python: SQL NULL is ``None`` (distinct from ``0`` and
    ``""``), INTEGER ``int``, REAL ``float``, TEXT ``str``, BLOB ``bytes``.
    The C accessors (``get_int64()``, ``is_null()``, ``get_changes()``...)
    are unchanged.
    """

    def value(self, row, column):
        """The value at ``row`` and ``column`` (an index or a column name),
        as a Python value (see the class documentation)."""
        if isinstance(column, str):
            column = self.column_index(column)
        n_rows = self.get_n_rows()
        n_cols = self.get_n_columns()
        if row < 0:
            row += n_rows
        if not 0 <= row < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (row, n_rows))
        if column < 0:
            column += n_cols
        if not 0 <= column < n_cols:
            raise IndexError('column %d out of range (%d columns)'
                             % (column, n_cols))
        return self._value(row, column)

    def _value(self, row, column):
        kind = self.get_value_type(row, column)
        if kind == MsbDb.ValueType.INTEGER:
            return self.get_int64(row, column)
        if kind == MsbDb.ValueType.REAL:
            return self.get_double(row, column)
        if kind == MsbDb.ValueType.TEXT:
            return self.get_string(row, column)
        if kind == MsbDb.ValueType.BLOB:
            data = self.get_bytes(row, column)
            return b'' if data is None else (data.get_data() or b'')
        return None

    def _row(self, row):
        # One C call for the whole row (dup_row() gives a list of plain
        # values, NULL as None); only bytes come back as GLib.Variant.
        values = _dup_row(self, row)
        for v in values:
            if type(v) is _Variant:
                return self._row_with_bytes(row, values)
        return tuple(values)

    def _row_with_bytes(self, row, values):
        """Finish a row of dup_row() that holds ``ay`` variants: a BLOB
        becomes ``bytes``; TEXT that dup_row() gives as bytes (not valid
        UTF-8, or with a NUL inside) goes through get_string() as in
        :meth:`value`: UnicodeDecodeError, or the text up to the NUL."""
        for c, v in enumerate(values):
            if type(v) is _Variant:
                if self.get_value_type(row, c) == MsbDb.ValueType.TEXT:
                    values[c] = self.get_string(row, c)
                else:
                    values[c] = v.get_data_as_bytes().get_data() or b''
        return tuple(values)

    @property
    def columns(self):
        """The column names, a tuple of str."""
        return tuple(self.get_column_name(c)
                     for c in range(self.get_n_columns()))

    def column_index(self, name):
        """The index of the first column called ``name`` (KeyError if none)."""
        for c in range(self.get_n_columns()):
            if self.get_column_name(c) == name:
                return c
        raise KeyError(name)

    def __len__(self):
        return self.get_n_rows()

    def __iter__(self):
        row = self._row
        for r in range(self.get_n_rows()):
            yield row(r)

    def __getitem__(self, index):
        n_rows = self.get_n_rows()
        if type(index) is not int:
            if isinstance(index, slice):
                return [self._row(r) for r in range(*index.indices(n_rows))]
            index = index.__index__()
        if index < 0:
            index += n_rows
        if not 0 <= index < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (index, n_rows))
        return self._row(index)

    def as_dicts(self):
        """The rows as a list of dicts mapping column name to value. With
        duplicate column names the last column of that name wins."""
        names = self.columns
        return [dict(zip(names, row)) for row in self]


Rows = override(Rows)
__all__.append('Rows')


# --------------------------------------------------------------------------
# Callables run by transaction() / snapshot()
# --------------------------------------------------------------------------

class _Body(object):
    """Wraps a Python callable as an MsbDbConnectionFunc.

    It runs on the writer thread (transaction) or a read worker (snapshot).
    A normal return commits and the value is kept for the caller; a return
    of exactly ``False`` rolls back as in C. An exception rolls back: a
    ``GLib.Error`` is handed to C unchanged (PyGObject copies a GLib.Error
    raised in a callback that "throws" into its GError, so the library sees
    the real code, e.g. BUSY, and can retry), any other exception is kept and
    C is given an ``MsbDb.Error.FAILED`` saying so. The caller then re-raises
    the original exception object.

    The library may call a transaction body more than once (on busy), so the
    outcome is reset at every call.
    """

    def __init__(self, func, args, what, unobserved=False):
        if not callable(func):
            raise TypeError('%s() needs a callable, not %s'
                            % (what, type(func).__name__))
        self.func = func
        self.args = args
        self.what = what
        # An _async call without a callback: nobody will see the exception,
        # so print it as PyGObject does for exceptions in callbacks.
        self.unobserved = unobserved
        self.result = None
        self.exc = None

    def __call__(self, connection, *user_data):
        self.result = None
        self.exc = None
        try:
            result = self.func(connection, *self.args)
        except GLib.Error as e:
            self.exc = e
            raise
        except BaseException as e:
            self.exc = e
            if self.unobserved:
                traceback.print_exc()
            raise GLib.Error.new_literal(
                MsbDb.error_quark(),
                '%s callback raised %s: %s' % (self.what, type(e).__name__, e),
                int(MsbDb.Error.FAILED))
        if result is False:
            return False
        self.result = result
        return True

    def finish(self, call, *args):
        """Call a blocking or _finish C function; translate the outcome."""
        try:
            call(*args)
        except GLib.Error:
            exc = self.exc
            if exc is not None:
                self.exc = None
                raise exc from None
            raise
        return self.result


_NO_DATA = object()

# GAsyncResult wrapper -> the _Body of the transaction/snapshot it reports.
# Weak keys, and deliberately no attribute set on the wrapper: an instance
# attribute would switch PyGObject to a toggle reference, and PyGObject drops
# toggle references during garbage collection while holding the GIL. If that
# drop releases the last reference to the pools, their dispose joins the
# writer thread, which may itself be waiting for the GIL (to run or free a
# Python callable): a deadlock.
_bodies = weakref.WeakKeyDictionary()


def _ready_callback(body, callback, user_data):
    """The GAsyncReadyCallback for a transaction/snapshot: remembers which
    ``body`` ``result`` belongs to, so that ``*_finish()`` can return the
    callable's value or re-raise its exception, then calls the user's
    callback."""
    if callback is None:
        return None

    def ready(source, result, *unused):
        _bodies[result] = body
        if user_data is _NO_DATA:
            callback(source, result)
        else:
            callback(source, result, user_data)
    return ready


def _finish_body(result, call, *args):
    body = _bodies.pop(result, None)
    if body is None:
        # Not started by this override: plain C semantics.
        return call(*args)
    return body.finish(call, *args)


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------

class Connection(MsbDb.Connection):
    """The connection handed to a ``transaction``/``snapshot`` callable. It
    is valid only while the callable runs; using it afterwards raises
    ``GLib.Error`` ``MsbDb.Error.CLOSED``."""

    def execute(self, sql, params=None):
        """Run one statement on this connection and return its
        :class:`Rows`. ``params`` as in :func:`params_to_variant`."""
        return super(Connection, self).execute(sql, params_to_variant(params))


Connection = override(Connection)
__all__.append('Connection')


# --------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------

class Pools(MsbDb.Pools):
    """One writer thread and a pool of read connections over a database.

    Python additions: default arguments for ``open*``, plain Python
    ``params``, ``with pools:`` (closes on exit), and ``transaction``/
    ``snapshot`` that take any callable::

        with MsbDb.Pools.open('app.db') as pools:
            pools.write('INSERT INTO t (a, b) VALUES (?, ?)', (1, 'one'))
            for a, b in pools.read('SELECT a, b FROM t WHERE a > :min',
                                   {'min': 0}):
                print(a, b)

            @pools.transaction
            def moved(conn):
                conn.execute('UPDATE t SET a = a + 1')
                return conn.execute('SELECT changes()').value(0, 0)
            # the decorator ran the body at once: `moved` is its result
    """

    # -- opening ----------------------------------------------------------

    @staticmethod
    def open(path, max_read_connections=_DEFAULT_MAX_READ,
             connect_timeout=_DEFAULT_CONNECT_TIMEOUT,
             busy_timeout=_DEFAULT_BUSY_TIMEOUT, cancellable=None):
        """Open ``path`` (a file path or ``sqlite:///abs/path``) for reading
        and writing. Timeouts are GTimeSpan (microseconds); the defaults are
        ``MsbDb.DEFAULT_*``."""
        return MsbDb.Pools.open(path, max_read_connections, connect_timeout,
                                busy_timeout, cancellable)

    @staticmethod
    def open_read_only(path, max_read_connections=_DEFAULT_MAX_READ,
                       connect_timeout=_DEFAULT_CONNECT_TIMEOUT,
                       busy_timeout=_DEFAULT_BUSY_TIMEOUT, cancellable=None):
        """Open ``path`` for reading only (no writer thread; the file is never
        created). Same defaults as :meth:`open`."""
        return MsbDb.Pools.open_read_only(path, max_read_connections,
                                          connect_timeout, busy_timeout,
                                          cancellable)

    @staticmethod
    def open_async(path, max_read_connections=_DEFAULT_MAX_READ,
                   connect_timeout=_DEFAULT_CONNECT_TIMEOUT,
                   busy_timeout=_DEFAULT_BUSY_TIMEOUT, cancellable=None,
                   callback=None, *user_data):
        """Asynchronous :meth:`open`; ``callback(None, result, *user_data)``
        runs in the caller's thread-default main context and calls
        ``MsbDb.Pools.open_finish(result)``."""
        return MsbDb.Pools.open_async(path, max_read_connections,
                                      connect_timeout, busy_timeout,
                                      cancellable, callback, *user_data)

    # -- context manager --------------------------------------------------

    def __enter__(self):
        """``with pools:`` returns the pools themselves."""
        return self

    def __exit__(self, exc_type, exc_value, tb):
        """Close the pools (blocking ``close()``), also when the block
        raised; exceptions are not swallowed."""
        self.close(None)
        return False

    # -- statements -------------------------------------------------------

    def read(self, sql, params=None, cancellable=None):
        """Run one read-only statement on a read connection; returns
        :class:`Rows`. ``params`` as in :func:`params_to_variant`."""
        return super(Pools, self).read(sql, params_to_variant(params),
                                       cancellable)

    def read_async(self, sql, params=None, cancellable=None, callback=None,
                   *user_data):
        """Asynchronous :meth:`read`; finish with ``read_finish(result)``."""
        return super(Pools, self).read_async(sql, params_to_variant(params),
                                             cancellable, callback,
                                             *user_data)

    def write(self, sql, params=None, cancellable=None):
        """Run one statement on the writer thread, committed when this
        returns; returns :class:`Rows` (``RETURNING`` rows, ``get_changes()``,
        ``get_last_insert_rowid()``)."""
        return super(Pools, self).write(sql, params_to_variant(params),
                                        cancellable)

    def write_async(self, sql, params=None, cancellable=None, callback=None,
                    *user_data):
        """Asynchronous :meth:`write`; finish with ``write_finish(result)``."""
        return super(Pools, self).write_async(sql, params_to_variant(params),
                                              cancellable, callback,
                                              *user_data)

    # -- transactions and snapshots ---------------------------------------

    def transaction(self, func, *args, cancellable=None):
        """Run ``func(connection, *args)`` inside one write transaction on
        the writer thread, and return what it returns.

        It commits when ``func`` returns (anything but ``False``); it rolls
        back when ``func`` raises, and the same exception object is raised
        here, or when ``func`` returns exactly ``False`` (as in C; this raises
        ``GLib.Error`` ``MsbDb.Error.FAILED``). ``func`` may be run more than
        once if the database is busy, so it must be safe to repeat.

        Also usable as a decorator that runs the body at once and binds the
        name to its result::

            @pools.transaction
            def new_id(conn):
                return conn.execute('INSERT INTO t (a) VALUES (1)'
                                    ).get_last_insert_rowid()
        """
        body = _Body(func, args, 'transaction')
        return body.finish(super(Pools, self).transaction, body, (),
                           cancellable)

    def transaction_async(self, func, *args, cancellable=None, callback=None,
                          user_data=_NO_DATA):
        """Asynchronous :meth:`transaction`. ``func(connection, *args)`` runs
        on the writer thread; then ``callback(pools, result)`` (or
        ``callback(pools, result, user_data)``) runs in the caller's
        thread-default main context, where ``transaction_finish(result)``
        returns ``func``'s result or raises its exception."""
        body = _Body(func, args, 'transaction', callback is None)
        return super(Pools, self).transaction_async(
            body, (), cancellable, _ready_callback(body, callback, user_data))

    def transaction_finish(self, result):
        """Finish :meth:`transaction_async`: ``func``'s return value, or its
        exception re-raised."""
        return _finish_body(result, super(Pools, self).transaction_finish,
                            result)

    def snapshot(self, func, *args, cancellable=None):
        """Run ``func(connection, *args)`` on a read connection inside one
        read transaction (every statement sees the same committed state),
        and return what it returns. An exception in ``func`` is raised here;
        writes through ``connection`` fail with ``MsbDb.Error.READ_ONLY``.
        Usable as a decorator like :meth:`transaction`."""
        body = _Body(func, args, 'snapshot')
        return body.finish(super(Pools, self).snapshot, body, (), cancellable)

    def snapshot_async(self, func, *args, cancellable=None, callback=None,
                       user_data=_NO_DATA):
        """Asynchronous :meth:`snapshot`; ``snapshot_finish(result)`` in the
        callback returns ``func``'s result or raises its exception."""
        body = _Body(func, args, 'snapshot', callback is None)
        return super(Pools, self).snapshot_async(
            body, (), cancellable, _ready_callback(body, callback, user_data))

    def snapshot_finish(self, result):
        """Finish :meth:`snapshot_async`: ``func``'s return value, or its
        exception re-raised."""
        return _finish_body(result, super(Pools, self).snapshot_finish,
                            result)


Pools = override(Pools)
__all__.append('Pools')
