# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject override for MsbDb: Python conversions and sugar only.

Everything here calls the C API: there is no second implementation. All the
introspected names stay available (``Rows.get_n_rows()``, ``get_int64()``,
``Pools.read()`` with a ``GLib.Variant``...); what changes is:

* errors of the ``MsbDb.Error`` domain are raised as subclasses of
  ``GLib.Error`` with the DB-API names (:class:`DatabaseError`,
  :class:`IntegrityError`, :class:`OperationalError`,
  :class:`ProgrammingError` and one class per code);
* every ``params`` argument also accepts plain Python values, converted by
  :func:`params_to_variant`, with per-pools adapters for other types
  (``datetime``, ``date`` and ``Decimal`` by default);
* :class:`Rows` is a read-only ``collections.abc.Sequence`` of tuples (or of
  :class:`Row`, or of what the pools' ``row_factory`` makes), comparable
  with lists of tuples, with ``rowcount`` and ``lastrowid``;
* :class:`Pools` is a context manager that closes on exit; ``open*`` take
  their timeouts in seconds; ``transaction``/``snapshot`` (and their
  ``_async``/``_finish``) take a plain callable, return its result, and
  re-raise in the caller an exception raised inside it;
* an ``_async`` call made without a callback logs its failure (logger
  ``MsbDb``), and pools still open at interpreter exit are closed, which
  lets their queued work finish.

Threads: a callable given to ``transaction``/``snapshot`` runs on the writer
thread or on a read worker, never on the thread that called. PyGObject takes
the GIL for it and releases the GIL while the caller waits in a blocking C
call or in ``GLib.MainLoop.run()``, so waiting for your own callback does not
deadlock. Inside such a callable use only the ``connection`` it is given:
calling a blocking method of the same pools from there fails at once with
:class:`DatabaseError` (code ``MsbDb.Error.FAILED``): it would deadlock
otherwise.
"""

import atexit
import collections.abc
import datetime
import decimal
import inspect
import logging
import math
import numbers
import reprlib
import threading
import weakref

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

MsbDb = get_introspection_module('MsbDb')

__all__ = []

_log = logging.getLogger('MsbDb')

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_SECOND = 1000000  # GTimeSpan is in microseconds

_VT_V = GLib.VariantType.new('v')
_VT_AY = GLib.VariantType.new('ay')
_VT_SV = GLib.VariantType.new('{sv}')

# Bound once: the calls below run for every statement. The introspected
# new_tuple() takes a sequence; the GLib override's wrapper only repacks
# its *args into one.
_GError = GLib.Error
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


class _Omitted(object):
    """The default of ``user_data``: the callback gets no third argument."""

    def __repr__(self):
        return '<omitted>'


_OMITTED = _Omitted()

# Short reprs of values for Rows and Row reprs: a few rows of a result must
# not print a megabyte BLOB.
_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 60
_short.maxtuple = 8
_short.maxlong = 40


# --------------------------------------------------------------------------
# Exceptions: GLib.Error subclasses with the DB-API names
# --------------------------------------------------------------------------

# The domain as GLib.Error carries it (a string), e.g. 'msb-db-error-quark'.
_DOMAIN = GLib.quark_to_string(MsbDb.error_quark())


class DatabaseError(GLib.Error):
    """Base class of every error of the ``MsbDb.Error`` domain.

    It is a ``GLib.Error``: ``domain``, ``code`` and ``message`` are there,
    ``e.matches(MsbDb.error_quark(), MsbDb.Error.BUSY)`` works, and
    ``except GLib.Error`` still catches it. The subclasses follow Python's
    DB-API (PEP 249) and ``sqlite3``:

    * :class:`IntegrityError`: ``CONSTRAINT``;
    * :class:`OperationalError`: ``BUSY``, ``POOL_TIMEOUT``, ``CLOSED``,
      ``CANT_OPEN``, ``READ_ONLY``;
    * :class:`ProgrammingError`: ``SQL``, ``INVALID_ARGUMENT``;
    * ``DatabaseError`` itself: ``FAILED``, and codes added to the library
      later that have no class of their own yet; ``CORRUPT`` is
      :class:`CorruptError`, a direct subclass;
    * ``SCHEMA_TOO_NEW`` is :class:`SchemaTooNewError`, an
      :class:`OperationalError`.

    Each code also has its own class (:class:`BusyError`,
    :class:`SqlError`...). Cancellation is not a ``DatabaseError``: it stays
    GIO's ``Gio.IOErrorEnum.CANCELLED`` ``GLib.Error``.

    These classes may be raised by your code too, e.g. inside a transaction
    body; ``code`` then defaults to the class's own code (``FAILED`` for the
    three broad classes).
    """

    _default_code = MsbDb.Error.FAILED

    def __init__(self, message='unknown error', domain=_DOMAIN, code=None):
        """``message``, the MsbDb domain, and ``code`` (default: the
        class's own code, see the class documentation)."""
        if code is None:
            code = self._default_code
        super(DatabaseError, self).__init__(message, domain, int(code))

    def __repr__(self):
        """``MsbDb.IntegrityError('message', 'msb-db-error-quark', 2)``."""
        return 'MsbDb.%s(%r, %r, %d)' % (type(self).__name__, self.message,
                                         self.domain, self.code)


class IntegrityError(DatabaseError):
    """A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY...) refused the
    change; nothing was written. Code ``MsbDb.Error.CONSTRAINT``."""
    _default_code = MsbDb.Error.CONSTRAINT


class OperationalError(DatabaseError):
    """The database could not do the work for a reason outside the SQL:
    busy, a pool timeout, closed pools, a file that cannot be opened, a
    write through a read-only path."""


class ProgrammingError(DatabaseError):
    """The call is wrong: bad SQL, or parameters the statement cannot
    take."""


class BusyError(OperationalError):
    """The database stayed locked by another process through the busy
    timeout and every retry. Code ``MsbDb.Error.BUSY``."""
    _default_code = MsbDb.Error.BUSY


class PoolTimeoutError(OperationalError):
    """The call waited longer than the connect timeout for its turn;
    nothing was executed. Code ``MsbDb.Error.POOL_TIMEOUT``."""
    _default_code = MsbDb.Error.POOL_TIMEOUT


class ClosedError(OperationalError):
    """The pools, or the connection handed to a callback, are closed. Code
    ``MsbDb.Error.CLOSED``."""
    _default_code = MsbDb.Error.CLOSED


class CantOpenError(OperationalError):
    """The database target could not be opened. Code
    ``MsbDb.Error.CANT_OPEN``."""
    _default_code = MsbDb.Error.CANT_OPEN


class ReadOnlyError(OperationalError):
    """A statement that writes went through a read-only path (``read()``,
    a snapshot, read-only pools). Code ``MsbDb.Error.READ_ONLY``."""
    _default_code = MsbDb.Error.READ_ONLY


class SqlError(ProgrammingError):
    """The SQL text is wrong: syntax, unknown table or column. Code
    ``MsbDb.Error.SQL``."""
    _default_code = MsbDb.Error.SQL


class InvalidArgumentError(ProgrammingError):
    """A parameter cannot be bound, the parameter count does not match, or
    the library refuses the SQL (transaction control, several statements).
    Code ``MsbDb.Error.INVALID_ARGUMENT``."""
    _default_code = MsbDb.Error.INVALID_ARGUMENT


class CorruptError(DatabaseError):
    """The file is not a database or is corrupt. Code
    ``MsbDb.Error.CORRUPT``."""
    _default_code = MsbDb.Error.CORRUPT


class SchemaTooNewError(OperationalError):
    """The database's schema is newer than the migration steps the program
    knows (see :meth:`Pools.migrate`); nothing was changed. Code
    ``MsbDb.Error.SCHEMA_TOO_NEW``."""
    _default_code = MsbDb.Error.SCHEMA_TOO_NEW


# Code -> class. By name, so that a code the library adds later lands in
# the class chosen here as soon as it exists, and DatabaseError until then.
_ERROR_CLASSES = {}
for _name, _class in (('FAILED', DatabaseError),
                      ('SQL', SqlError),
                      ('CONSTRAINT', IntegrityError),
                      ('BUSY', BusyError),
                      ('POOL_TIMEOUT', PoolTimeoutError),
                      ('READ_ONLY', ReadOnlyError),
                      ('CLOSED', ClosedError),
                      ('INVALID_ARGUMENT', InvalidArgumentError),
                      ('CANT_OPEN', CantOpenError),
                      ('CORRUPT', CorruptError),
                      ('SCHEMA_TOO_NEW', SchemaTooNewError)):
    _code = getattr(MsbDb.Error, _name, None)
    if _code is not None:
        _ERROR_CLASSES[int(_code)] = _class
del _name, _class, _code

for _class in (DatabaseError, IntegrityError, OperationalError,
               ProgrammingError, BusyError, PoolTimeoutError, ClosedError,
               CantOpenError, ReadOnlyError, SqlError, InvalidArgumentError,
               CorruptError, SchemaTooNewError):
    _class.__module__ = 'gi.repository.MsbDb'
    __all__.append(_class.__name__)
del _class


def _classify(error):
    """Turn a plain ``GLib.Error`` of the MsbDb domain into the subclass
    for its code, in place: the same object, its traceback and identity
    kept, so ``raise`` after this re-raises it as the subclass. Any other
    error (GIO's CANCELLED, a subclass already) is left alone."""
    if type(error) is _GError and error.domain == _DOMAIN:
        error.__class__ = _ERROR_CLASSES.get(error.code, DatabaseError)


# --------------------------------------------------------------------------
# Per-pools settings: row factory, adapters, converters
# --------------------------------------------------------------------------

def _adapt_datetime(value):
    return value.isoformat(' ')


# The adapters every pools starts with. datetime first is not needed: the
# lookup walks the value's type's MRO, and datetime is a subclass of date.
_DEFAULT_ADAPTERS = {
    datetime.datetime: _adapt_datetime,
    datetime.date: datetime.date.isoformat,
    decimal.Decimal: str,
}


class _Settings(object):
    """What a pools converts differently from the defaults. Kept beside the
    Python object, never on it: an attribute on a PyGObject wrapper turns it
    into a toggle reference, which the garbage collector may drop while
    holding the GIL; if that released the last reference to the pools,
    their dispose would join the writer thread, which may be waiting for
    the GIL (a deadlock)."""

    __slots__ = ('row_factory', 'adapters', 'converters')

    def __init__(self):
        self.row_factory = None
        self.adapters = None      # None: _DEFAULT_ADAPTERS
        self.converters = None    # None or {lower-case name: callable}


# Pools -> _Settings, for pools that changed any. Weak keys: settings never
# keep pools alive.
_settings = weakref.WeakKeyDictionary()
# True once some pools has a row factory or a converter: results are then
# checked for a shape. Until then a read pays one global lookup for it.
_shaping = False
# The settings of the pools whose transaction/snapshot body runs on this
# thread, for Connection.execute() (the connection does not know them).
_tls = threading.local()
# An owner value: "the pools whose body runs on this thread".
_IN_BODY = object()


def _settings_of(owner):
    """The _Settings for ``owner`` (pools, _Settings, _IN_BODY or None), or
    None for the defaults."""
    if owner is None or type(owner) is _Settings:
        return owner
    if owner is _IN_BODY:
        return getattr(_tls, 'settings', None)
    return _settings.get(owner)


def _settings_for(pools):
    """The _Settings of ``pools``, created if needed."""
    settings = _settings.get(pools)
    if settings is None:
        settings = _settings[pools] = _Settings()
    return settings


def _find_adapter(kind, owner):
    settings = _settings_of(owner)
    if settings is None or settings.adapters is None:
        adapters = _DEFAULT_ADAPTERS
    else:
        adapters = settings.adapters
    for klass in kind.__mro__:
        if klass in adapters:
            return adapters[klass]     # None: unregistered
    return None


# --------------------------------------------------------------------------
# Parameters: Python values -> GVariant
# --------------------------------------------------------------------------

# An owner value for _value_to_variant(): no adapters (an adapter's result).
_NO_ADAPTERS = object()


def _value_to_variant(value, where, owner):
    """One SQL value: bool 'b', int 'x', float 'd', str 's', bytes-like 'ay',
    None 'mv' (Nothing, bound as NULL), GLib.Variant unchanged; any other
    type through an adapter of ``owner`` (see :func:`_settings_of`).

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
    if owner is not _NO_ADAPTERS:
        adapter = _find_adapter(kind, owner)
        if adapter is not None:
            adapted = adapter(value)
            try:
                return _value_to_variant(adapted, where, _NO_ADAPTERS)
            except TypeError:
                raise TypeError('parameter %s: the adapter for %s returned '
                                'a %s, which cannot be bound either'
                                % (_name(where), kind.__name__,
                                   type(adapted).__name__)) from None
    raise TypeError('parameter %s: cannot bind a value of type %s (use None, '
                    'bool, int, float, str, bytes or GLib.Variant, or '
                    'register an adapter with Pools.register_adapter())'
                    % (_name(where), kind.__name__))


def _name(where):
    """A parameter as error messages show it: ``2`` or ``'key'``."""
    return str(where) if type(where) is int else repr(where)


def _rows_to_variant(param_rows, owner):
    """The ``param_rows`` of :meth:`Pools.write_many`: a ``GLib.Variant``
    as is, or an iterable of parameters (each as :func:`params_to_variant`
    takes them) as an ``av``."""
    if isinstance(param_rows, GLib.Variant):
        return param_rows
    if isinstance(param_rows, (str, bytes, dict)) or not hasattr(param_rows, '__iter__'):
        raise TypeError('param_rows must be an iterable of parameters or a '
                        'GLib.Variant, not %s' % type(param_rows).__name__)
    return GLib.Variant.new_array(_VT_V, [GLib.Variant.new_variant(_to_variant(p, owner))
                                          for p in param_rows])


def _to_variant(params, owner):
    """:func:`params_to_variant`, with the adapters of ``owner``."""
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
        return _new_tuple([_value_to_variant(v, i, owner)
                           for i, v in enumerate(params, 1)])
    if params is None or isinstance(params, GLib.Variant):
        return params
    if isinstance(params, (tuple, list)):
        return _new_tuple([_value_to_variant(v, i, owner)
                           for i, v in enumerate(params, 1)])
    if isinstance(params, dict):
        entries = []
        for key, value in params.items():
            if not isinstance(key, str):
                raise TypeError('parameter names must be str, not %s (%r)'
                                % (type(key).__name__, key))
            entries.append(GLib.Variant.new_dict_entry(
                GLib.Variant.new_string(key),
                GLib.Variant.new_variant(_value_to_variant(value, key,
                                                           owner))))
        return GLib.Variant.new_array(_VT_SV, entries)
    raise TypeError('params must be None, a tuple, a list, a dict or a '
                    'GLib.Variant, not %s' % type(params).__name__)


def params_to_variant(params, pools=None):
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
    value is used unchanged. A value of any other type goes through the
    adapter registered for its type (or a base type) with
    :meth:`Pools.register_adapter` on ``pools``, or through the default
    adapters when ``pools`` is None: ``datetime`` -> ISO-8601 text
    ``YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]``, ``date`` -> ``YYYY-MM-DD``,
    ``Decimal`` -> ``str(value)``. Without an adapter it raises
    ``TypeError`` naming the parameter (``1``-based position, or the dict
    key).
    """
    return _to_variant(params, pools)


__all__.append('params_to_variant')


# --------------------------------------------------------------------------
# Rows: a read-only sequence of tuples
# --------------------------------------------------------------------------

_dup_row = MsbDb.Rows.dup_row
_c_get_n_rows = MsbDb.Rows.get_n_rows
_c_get_n_columns = MsbDb.Rows.get_n_columns
_c_get_column_name = MsbDb.Rows.get_column_name
_c_get_value_type = MsbDb.Rows.get_value_type
_c_is_null = MsbDb.Rows.is_null
_c_get_int64 = MsbDb.Rows.get_int64
_c_get_double = MsbDb.Rows.get_double
_c_get_string = MsbDb.Rows.get_string
_c_get_bytes = MsbDb.Rows.get_bytes
_c_get_changes = MsbDb.Rows.get_changes
_c_get_last_insert_rowid = MsbDb.Rows.get_last_insert_rowid
_c_to_variant = MsbDb.Rows.to_variant
_VALUE_TEXT = MsbDb.ValueType.TEXT


class _Shape(object):
    """How a result's rows are made when its pools set a row factory or
    converters: computed once per result, kept on that result."""

    __slots__ = ('factory', 'converters', 'columns', '_index')

    def __init__(self, factory, converters, columns):
        self.factory = factory
        self.converters = converters    # None, or one callable/None a column
        self.columns = columns          # tuple of str, [type] tags removed
        self._index = None

    def index(self):
        """Lower-case column name -> position of its first column."""
        if self._index is None:
            index = {}
            for i, name in enumerate(self.columns):
                index.setdefault(name.lower(), i)
            self._index = index
        return self._index

    def convert(self, values):
        converters = self.converters
        if converters is None:
            return tuple(values)
        return tuple(v if conv is None or v is None else conv(v)
                     for v, conv in zip(values, converters))


def _column_tag(name):
    """``'when [datetime]'`` -> ``('when', 'datetime')``; no tag -> None."""
    start = name.find('[')
    if start < 0:
        return None
    end = name.find(']', start)
    if end < 0:
        return None
    return name[:start].rstrip(), name[start + 1:end].strip().lower()


def _shape_for(rows, settings):
    """The _Shape of ``rows`` under ``settings``, or None for plain tuples."""
    factory = settings.row_factory
    converters = settings.converters
    if factory is None and not converters:
        return None
    columns = [_c_get_column_name(rows, c)
               for c in range(_c_get_n_columns(rows))]
    per_column = None
    if converters:
        per_column = []
        for i, name in enumerate(columns):
            tag = _column_tag(name)
            if tag is None:
                per_column.append(None)
            else:
                columns[i] = tag[0]
                per_column.append(converters.get(tag[1]))
        if not any(per_column):
            per_column = None
    return _Shape(factory, per_column and tuple(per_column), tuple(columns))


def _apply_shape(rows, owner):
    """Give ``rows`` the shape ``owner``'s settings ask for, if any."""
    settings = _settings_of(owner)
    if settings is not None:
        shape = _shape_for(rows, settings)
        if shape is not None:
            # A toggle reference for this Rows: harmless, its dispose only
            # frees memory (unlike the pools', see _Settings).
            rows._shape = shape
    return rows


class Row(object):
    """A row that is also read by column name, as ``sqlite3.Row``.

    Set ``pools.row_factory = MsbDb.Row`` and every result of those pools
    yields ``Row`` objects: ``row[0]``, ``row['name']`` (case-insensitive;
    the first column of that name; ``IndexError`` if none, as
    ``sqlite3.Row``), ``row.keys()``, ``len(row)``, iteration over the
    values, ``dict(row)``. A ``Row`` equals another with the same columns
    and values, and a tuple of the same values; it hashes like that tuple.
    ``Row(rows, values)`` builds one from a :class:`Rows` and a tuple, the
    signature of a row factory.
    """

    __slots__ = ('_values', '_shape')

    def __init__(self, rows, values):
        """A row of ``rows`` holding ``values``: the signature of a row
        factory, so ``MsbDb.Row`` itself is one."""
        shape = getattr(rows, '_shape', None)
        if shape is None:
            shape = _Shape(None, None, tuple(rows.columns))
        self._values = tuple(values)
        self._shape = shape

    @classmethod
    def _make(cls, values, shape):
        row = object.__new__(cls)
        row._values = values
        row._shape = shape
        return row

    def keys(self):
        """The column names, a list of str (as ``sqlite3.Row.keys()``)."""
        return list(self._shape.columns)

    def __getitem__(self, key):
        """``row[i]``, ``row[i:j]`` (a tuple) or ``row['name']`` (the first
        column of that name, case-insensitive; IndexError if none)."""
        if type(key) is str:
            try:
                return self._values[self._shape.index()[key.lower()]]
            except KeyError:
                raise IndexError('no column named %r' % key) from None
        return self._values[key]

    def __len__(self):
        """The number of columns."""
        return len(self._values)

    def __iter__(self):
        """The values, in column order."""
        return iter(self._values)

    def __eq__(self, other):
        """Equal to a Row with the same columns and values, or to the tuple
        of its values."""
        if isinstance(other, Row):
            return (self._values == other._values and
                    self._shape.columns == other._shape.columns)
        if isinstance(other, tuple):
            return self._values == other
        return NotImplemented

    def __ne__(self, other):
        """The opposite of ``==``."""
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        """The hash of the tuple of its values."""
        return hash(self._values)

    def __repr__(self):
        """``<MsbDb.Row (id=1, name='ann')>``, values shortened."""
        return '<MsbDb.Row (%s)>' % ', '.join(
            '%s=%s' % (name, _short.repr(value))
            for name, value in zip(self._shape.columns, self._values))


Row.__module__ = 'gi.repository.MsbDb'
__all__.append('Row')


def _make_row(rows, values, shape):
    values = shape.convert(values)
    factory = shape.factory
    if factory is None:
        return values
    if factory is Row:
        return Row._make(values, shape)
    return factory(rows, values)


class Rows(MsbDb.Rows):
    """An immutable query result, also a read-only sequence of rows.

    ``len(rows)`` is the number of rows (so an empty result is falsy),
    ``rows[i]`` is row ``i`` (negative indices and slices work), ``for row
    in rows`` iterates them, ``rows.columns`` is the tuple of column names,
    ``rows.as_dicts()`` a list of ``{column: value}``. It is registered as a
    ``collections.abc.Sequence`` (``index()``, ``count()``, ``in``,
    ``reversed()``) and compares equal to a list (or tuple) of the same
    rows: ``rows == [(1, 'a')]``. Like a list, it is not hashable.

    A row is a tuple, unless the pools that made the result have a
    ``row_factory`` (e.g. :class:`Row`) or converters.

    Values are plain Python: SQL NULL is ``None`` (distinct from ``0`` and
    ``""``), INTEGER ``int``, REAL ``float``, TEXT ``str``, BLOB ``bytes``.

    After a write, ``rowcount`` is the number of rows changed and
    ``lastrowid`` the rowid of the row inserted. The C accessors
    (``get_int64()``, ``is_null()``, ``get_changes()``...) are unchanged.
    """

    # The result's _Shape, set on the instance only when its pools ask for
    # one (see _apply_shape()).
    _shape = None
    __hash__ = None

    def value(self, row, column):
        """The value at ``row`` and ``column`` (an index or a column name),
        as a Python value (see the class documentation); a converter of the
        pools applies to it."""
        if isinstance(column, str):
            column = self.column_index(column)
        n_rows = _c_get_n_rows(self)
        n_cols = _c_get_n_columns(self)
        if row < 0:
            row += n_rows
        if not 0 <= row < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (row, n_rows))
        if column < 0:
            column += n_cols
        if not 0 <= column < n_cols:
            raise IndexError('column %d out of range (%d columns)'
                             % (column, n_cols))
        value = self._value(row, column)
        shape = self._shape
        if shape is not None and shape.converters is not None and \
                value is not None and shape.converters[column] is not None:
            value = shape.converters[column](value)
        return value

    def _value(self, row, column):
        kind = _c_get_value_type(self, row, column)
        if kind == MsbDb.ValueType.INTEGER:
            return _c_get_int64(self, row, column)
        if kind == MsbDb.ValueType.REAL:
            return _c_get_double(self, row, column)
        if kind == MsbDb.ValueType.TEXT:
            return _c_get_string(self, row, column)
        if kind == MsbDb.ValueType.BLOB:
            data = _c_get_bytes(self, row, column)
            return b'' if data is None else (data.get_data() or b'')
        return None

    def _values(self, row):
        """Row ``row`` as a list of Python values, before any shape."""
        # One C call for the whole row (dup_row() gives a list of plain
        # values, NULL as None); only bytes come back as GLib.Variant.
        values = _dup_row(self, row)
        for v in values:
            if type(v) is _Variant:
                return self._values_with_bytes(row, values)
        return values

    def _row(self, row):
        values = _dup_row(self, row)
        for v in values:
            if type(v) is _Variant:
                values = self._values_with_bytes(row, values)
                break
        shape = self._shape
        if shape is None:
            return tuple(values)
        return _make_row(self, values, shape)

    def _values_with_bytes(self, row, values):
        """Finish a row of dup_row() that holds ``ay`` variants: a BLOB
        becomes ``bytes``; TEXT that dup_row() gives as bytes (not valid
        UTF-8, or with a NUL inside) goes through get_string() as in
        :meth:`value`: UnicodeDecodeError, or the text up to the NUL."""
        for c, v in enumerate(values):
            if type(v) is _Variant:
                if _c_get_value_type(self, row, c) == _VALUE_TEXT:
                    values[c] = _c_get_string(self, row, c)
                else:
                    values[c] = v.get_data_as_bytes().get_data() or b''
        return values

    @property
    def columns(self):
        """The column names, a tuple of str (without the ``[type]`` tags
        read by converters)."""
        shape = self._shape
        if shape is not None:
            return shape.columns
        return tuple(_c_get_column_name(self, c)
                     for c in range(_c_get_n_columns(self)))

    def column_index(self, name):
        """The index of the first column called ``name`` (KeyError if none)."""
        for c, column in enumerate(self.columns):
            if column == name:
                return c
        raise KeyError(name)

    @property
    def rowcount(self):
        """The number of rows the statement inserted, updated or deleted
        (``get_changes()``); 0 for a statement that does not write (where
        ``sqlite3`` says -1)."""
        return _c_get_changes(self)

    @property
    def lastrowid(self):
        """The rowid of the row the statement inserted, or None if it
        inserted nothing (a read, an ``INSERT OR IGNORE`` that ignored, a
        statement that changed nothing). As the library reports it: rowid 0
        reads as None."""
        rowid = _c_get_last_insert_rowid(self)
        if rowid == 0 or _c_get_changes(self) == 0:
            return None
        return rowid

    def __len__(self):
        """The number of rows."""
        return _c_get_n_rows(self)

    def __iter__(self):
        """The rows, first to last."""
        row = self._row
        for r in range(_c_get_n_rows(self)):
            yield row(r)

    def __reversed__(self):
        """The rows, last to first."""
        row = self._row
        for r in reversed(range(_c_get_n_rows(self))):
            yield row(r)

    def __getitem__(self, index):
        """``rows[i]`` (negative counts from the end; IndexError out of
        range) or ``rows[i:j:k]`` (a list)."""
        n_rows = _c_get_n_rows(self)
        if type(index) is not int:
            if isinstance(index, slice):
                return [self._row(r) for r in range(*index.indices(n_rows))]
            index = index.__index__()
        if index < 0:
            index += n_rows
        if not 0 <= index < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (index, n_rows))
        return self._row(index)

    def __contains__(self, value):
        """Whether a row equals ``value``."""
        for row in self:
            if row is value or row == value:
                return True
        return False

    def index(self, value, start=0, stop=None):
        """The index of the first row equal to ``value`` (ValueError if
        none), searching ``rows[start:stop]``, as ``list.index()``."""
        n_rows = _c_get_n_rows(self)
        for r in range(*slice(start, stop).indices(n_rows)):
            row = self._row(r)
            if row is value or row == value:
                return r
        raise ValueError('%r is not in the rows' % (value,))

    def count(self, value):
        """How many rows equal ``value``."""
        return sum(1 for row in self if row is value or row == value)

    def __eq__(self, other):
        """Equal to another Rows, a list or a tuple holding equal rows in
        the same order (``rows == [(1, 'a')]``)."""
        if isinstance(other, Rows):
            if other is self:
                return True
        elif not isinstance(other, (list, tuple)):
            return NotImplemented
        if len(other) != _c_get_n_rows(self):
            return False
        for mine, theirs in zip(self, other):
            if not mine == theirs:
                return False
        return True

    def __ne__(self, other):
        """The opposite of ``==``."""
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self):
        """The size, the column names and the first rows, shortened:
        ``<MsbDb.Rows 3 rows × 2 columns (id, name): (1, 'a'), ...>``."""
        n_rows = _c_get_n_rows(self)
        n_cols = _c_get_n_columns(self)
        try:
            columns = ', '.join(self.columns)
            shown = [_short.repr(tuple(self._row(r)))
                     for r in range(min(n_rows, 3))]
        except Exception as e:   # a repr must not raise: say why instead
            columns = '?'
            shown = ['<%s: %s>' % (type(e).__name__, e)]
        text = '<MsbDb.Rows %d row%s × %d column%s' % (
            n_rows, '' if n_rows == 1 else 's', n_cols,
            '' if n_cols == 1 else 's')
        if n_cols:
            text += ' (%s)' % columns
        if _c_get_changes(self):
            text += ', rowcount=%d' % _c_get_changes(self)
            if self.lastrowid is not None:
                text += ', lastrowid=%d' % self.lastrowid
        if shown:
            text += ': ' + ', '.join(shown)
            if n_rows > len(shown):
                text += ', … %d more' % (n_rows - len(shown))
        return text + '>'

    def as_dicts(self):
        """The rows as a list of dicts mapping column name to value. With
        duplicate column names the last column of that name wins."""
        names = self.columns
        shape = self._shape
        if shape is None:
            return [dict(zip(names, row)) for row in self]
        return [dict(zip(names, shape.convert(self._values(r))))
                for r in range(_c_get_n_rows(self))]

    # -- the C accessors, with a Python signature and help ------------------

    def get_n_rows(self):
        """The number of rows (``len(rows)``)."""
        return _c_get_n_rows(self)

    def get_n_columns(self):
        """The number of columns of the statement. A statement with no
        result columns (an ``INSERT`` without ``RETURNING``) has none; a
        ``SELECT`` that matched nothing still has its columns."""
        return _c_get_n_columns(self)

    def get_column_name(self, column):
        """The name of result column ``column``, as SQLite reports it (with
        any ``[type]`` tag; see :attr:`columns`)."""
        return _c_get_column_name(self, column)

    def get_value_type(self, row, column):
        """The storage class (``MsbDb.ValueType``) of one value."""
        return _c_get_value_type(self, row, column)

    def is_null(self, row, column):
        """Whether the value at ``row``, ``column`` is SQL NULL."""
        return _c_is_null(self, row, column)

    def get_int64(self, row, column):
        """A value as an int, converted as SQLite does: a REAL is truncated
        towards zero, TEXT is parsed; NULL and BLOB give 0."""
        return _c_get_int64(self, row, column)

    def get_double(self, row, column):
        """A value as a float: an INTEGER is converted, TEXT is parsed;
        NULL and BLOB give 0.0."""
        return _c_get_double(self, row, column)

    def get_string(self, row, column):
        """A TEXT value as str; None for a value of another storage class
        (numbers are not formatted)."""
        return _c_get_string(self, row, column)

    def get_bytes(self, row, column):
        """A BLOB, or the bytes of a TEXT value, as ``GLib.Bytes``; None
        for NULL or a number."""
        return _c_get_bytes(self, row, column)

    def get_changes(self):
        """The number of rows the statement inserted, updated or deleted
        (see :attr:`rowcount`)."""
        return _c_get_changes(self)

    def get_last_insert_rowid(self):
        """The rowid of the last row inserted on the connection, as seen
        right after the statement ran (see :attr:`lastrowid`)."""
        return _c_get_last_insert_rowid(self)

    def to_variant(self):
        """The whole result as one ``GLib.Variant`` of type ``a(mv...)``:
        one tuple per row, one ``mv`` per column, NULL as nothing."""
        return _c_to_variant(self)

    def dup_row(self, row):
        """Row ``row`` as the C library copies it: a list of values, NULL
        as None, a BLOB (or TEXT that is not clean UTF-8) as an ``ay``
        ``GLib.Variant``. ``rows[row]`` is the Python form."""
        return _dup_row(self, row)


Rows = override(Rows)
collections.abc.Sequence.register(Rows)
__all__.append('Rows')


# --------------------------------------------------------------------------
# Callables run by transaction() / snapshot()
# --------------------------------------------------------------------------

def _is_async_function(func):
    return (inspect.iscoroutinefunction(func) or
            inspect.isasyncgenfunction(func))


def _is_async_result(value):
    return (inspect.iscoroutine(value) or inspect.isasyncgen(value) or
            inspect.isawaitable(value))


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

    It holds the pools' settings, never the pools: C releases the body on
    the thread that ran it, and the last reference to the pools dropped
    there would make their dispose join that very thread.
    """

    def __init__(self, func, what, settings):
        if not callable(func):
            raise TypeError('%s() needs a callable, not %s'
                            % (what, type(func).__name__))
        if _is_async_function(func):
            raise TypeError(
                '%s() got an async function (%s): its awaits would not run '
                'inside the %s. Pass a plain function.'
                % (what, getattr(func, '__qualname__', func), what))
        self.func = func
        self.what = what
        self.settings = settings
        self.result = None
        self.exc = None

    def __call__(self, connection, *user_data):
        self.result = None
        self.exc = None
        settings = self.settings
        if settings is not None:
            previous = getattr(_tls, 'settings', None)
            _tls.settings = settings
        try:
            result = self.func(connection)
        except _GError as e:
            self.exc = e
            raise
        except BaseException as e:
            self.exc = e
            raise GLib.Error.new_literal(
                MsbDb.error_quark(),
                '%s callback raised %s: %s' % (self.what, type(e).__name__, e),
                int(MsbDb.Error.FAILED))
        finally:
            if settings is not None:
                _tls.settings = previous
        if result is False:
            return False
        if result is not None and result is not True and \
                _is_async_result(result):
            if inspect.iscoroutine(result):
                result.close()   # no "never awaited" warning: we say why
            self.exc = TypeError(
                '%s() body returned %s, an awaitable: the %s was rolled back. '
                'Pass a plain function that does its work before it returns.'
                % (self.what, type(result).__name__, self.what))
            raise GLib.Error.new_literal(
                MsbDb.error_quark(), str(self.exc), int(MsbDb.Error.FAILED))
        self.result = result
        return True

    def finish(self, call, *args):
        """Call a blocking or _finish C function; translate the outcome."""
        try:
            call(*args)
        except _GError as e:
            exc = self.exc
            if exc is None:
                _classify(e)
                raise
            self.exc = None
            _classify(exc)
            raise exc from None
        return self.result


# GAsyncResult wrapper -> the _Body of the transaction/snapshot it reports.
# Weak keys, and deliberately no attribute set on the wrapper: an instance
# attribute would switch PyGObject to a toggle reference (see _Settings).
_bodies = weakref.WeakKeyDictionary()


def _log_unobserved(source, result, finish):
    """The callback of an _async call made without one: finish it, and log
    a failure, which nobody else would see. One record per failed call."""
    try:
        finish(source, result)
    except Exception as e:
        _log.error('MsbDb: %s_async() without a callback failed: %s',
                   finish.__name__[:-len('_finish')], e, exc_info=e)


def _callback_args(callback, user_data, more_user_data, finish):
    """The (callback, user_data...) to give C for an _async call."""
    if callback is None:
        _check_no_user_data(user_data, more_user_data)
        return (_log_unobserved, finish)
    if user_data is _OMITTED:
        return (callback,)
    return (callback, user_data) + more_user_data


def _check_no_user_data(user_data, more_user_data=()):
    if user_data is not _OMITTED or more_user_data:
        raise TypeError('user_data given without a callback to receive it')


def _ready_callback(body, callback, user_data, finish):
    """The GAsyncReadyCallback for a transaction/snapshot: remembers which
    ``body`` ``result`` belongs to, so that ``*_finish()`` can return the
    callable's value or re-raise its exception, then calls the user's
    callback (or logs an unobserved failure)."""
    if callback is None:
        _check_no_user_data(user_data)

    def ready(source, result, *unused):
        _bodies[result] = body
        if callback is None:
            _log_unobserved(source, result, finish)
        elif user_data is _OMITTED:
            callback(source, result)
        else:
            callback(source, result, user_data)
    return ready


def _finish_body(result, call, *args):
    body = _bodies.pop(result, None)
    if body is None:
        # Not started by this override: plain C semantics.
        try:
            return call(*args)
        except _GError as e:
            _classify(e)
            raise
    return body.finish(call, *args)


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------

_c_execute = MsbDb.Connection.execute
_c_is_read_only = MsbDb.Connection.is_read_only


class Connection(MsbDb.Connection):
    """The connection handed to a ``transaction``/``snapshot`` callable. It
    is valid only while the callable runs; using it afterwards raises
    :class:`ClosedError`."""

    def execute(self, sql, params=None):
        """Run one statement on this connection and return its
        :class:`Rows`. ``params`` as in :func:`params_to_variant`, with the
        adapters of the pools running the callable; their row factory and
        converters shape the result."""
        try:
            rows = _c_execute(self, sql, _to_variant(params, _IN_BODY))
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, _IN_BODY)
        return rows

    def is_read_only(self):
        """True inside a snapshot (a read connection), False inside a
        transaction."""
        return _c_is_read_only(self)


Connection = override(Connection)
__all__.append('Connection')


# --------------------------------------------------------------------------
# Cursor
# --------------------------------------------------------------------------

_c_fetch = MsbDb.Cursor.fetch
_c_fetch_async = MsbDb.Cursor.fetch_async
_c_fetch_finish = MsbDb.Cursor.fetch_finish
_c_cursor_is_done = MsbDb.Cursor.is_done
_c_cursor_close = MsbDb.Cursor.close

_FETCH_ROWS = 1000


class Cursor(MsbDb.Cursor):
    """A result read in parts (see :meth:`Pools.open_cursor`): iterating it
    yields its rows, :data:`_FETCH_ROWS` at a time from the database, so
    memory stays bounded by a part. Use it in a ``with`` block, or call
    :meth:`close`: it holds a read connection until then."""

    def fetch(self, max_rows=_FETCH_ROWS, cancellable=None):
        """The next rows, at most ``max_rows``, as :class:`Rows`; empty
        at the end."""
        try:
            return _c_fetch(self, max_rows, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def fetch_async(self, max_rows=_FETCH_ROWS, cancellable=None, callback=None,
                    user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`fetch`; the callback calls
        :meth:`fetch_finish`."""
        _c_fetch_async(self, max_rows, cancellable,
                       *_callback_args(callback, user_data, more_user_data,
                                       Cursor.fetch_finish))

    def fetch_finish(self, result):
        """Finish :meth:`fetch_async`: the :class:`Rows`, or the error."""
        try:
            return _c_fetch_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    def is_done(self):
        """True once every row was read (or the cursor failed or closed)."""
        return _c_cursor_is_done(self)

    def close(self):
        """Give the read connection back; fetching afterwards raises
        :class:`ClosedError`."""
        _c_cursor_close(self)

    def __iter__(self):
        """The rows not read yet, fetched a part at a time."""
        while not self.is_done():
            yield from self.fetch()

    def __enter__(self):
        """The cursor itself; the ``with`` block closes it."""
        return self

    def __exit__(self, *exc):
        """Close the cursor."""
        self.close()
        return False


Cursor = override(Cursor)
__all__.append('Cursor')


# --------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------

# The largest timeout, in seconds: SQLite counts its busy timeout in
# milliseconds in a C int.
_MAX_TIMEOUT_S = 2147483


_MAX_READ_CONNECTIONS = MsbDb.MAX_READ_CONNECTIONS


def _timeout_us(name, seconds):
    """A timeout argument in seconds -> GTimeSpan; None -> 0 (the default)."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError('%s is in seconds: an int or a float, not %s'
                        % (name, type(seconds).__name__))
    value = float(seconds)
    if not (math.isfinite(value) and 0 < value <= _MAX_TIMEOUT_S) or \
            round(value * _SECOND) < 1:
        raise ValueError('%s must be a number of seconds from 0.000001 to '
                         '%d (about 24.8 days), or None for the default; '
                         'got %r' % (name, _MAX_TIMEOUT_S, seconds))
    return round(value * _SECOND)


def _pool_size(max_read_connections):
    if max_read_connections is None:
        return 0
    if isinstance(max_read_connections, bool) or \
            not isinstance(max_read_connections, int):
        raise TypeError('max_read_connections must be an int, not %s'
                        % type(max_read_connections).__name__)
    if not 1 <= max_read_connections <= _MAX_READ_CONNECTIONS:
        raise ValueError('max_read_connections must be from 1 to %d, or None '
                         'for the default (%d); got %d'
                         % (_MAX_READ_CONNECTIONS,
                            MsbDb.DEFAULT_MAX_READ_CONNECTIONS,
                            max_read_connections))
    return max_read_connections


# Every pools this override opened, weakly: closed at interpreter exit if the
# program did not, so that their queued work finishes.
_open_pools = weakref.WeakSet()


@atexit.register
def _close_at_exit():
    for pools in list(_open_pools):
        try:
            pools.close(None)
        except Exception as e:
            _log.error('MsbDb: closing %s at exit failed: %s',
                       pools.get_path(), e, exc_info=e)


def _opened(pools):
    _open_pools.add(pools)
    return pools


def _open_trusted(path, size, connect, busy, read_only, cancellable):
    """open() with the trusted-schema property, which the C shorthands do
    not take: the GObject way, properties then GInitable."""
    pools = Pools(path=path, max_read_connections=size,
                  connect_timeout=connect, busy_timeout=busy,
                  read_only=read_only, trusted_schema=True)
    try:
        pools.init(cancellable)
    except _GError as e:
        _classify(e)
        raise
    return _opened(pools)


def _finish_open(source, result):
    return Pools.open_finish(result)


_finish_open.__name__ = 'open_finish'


_c_open = MsbDb.Pools.open
_c_open_read_only = MsbDb.Pools.open_read_only
_c_open_async = MsbDb.Pools.open_async
_c_open_finish = MsbDb.Pools.open_finish
_c_read = MsbDb.Pools.read
_c_read_async = MsbDb.Pools.read_async
_c_read_finish = MsbDb.Pools.read_finish
_c_write = MsbDb.Pools.write
_c_write_async = MsbDb.Pools.write_async
_c_write_finish = MsbDb.Pools.write_finish
_c_write_script = MsbDb.Pools.write_script
_c_write_script_async = MsbDb.Pools.write_script_async
_c_write_script_finish = MsbDb.Pools.write_script_finish
_c_open_cursor = MsbDb.Pools.open_cursor
_c_write_many = MsbDb.Pools.write_many
_c_write_many_async = MsbDb.Pools.write_many_async
_c_write_many_finish = MsbDb.Pools.write_many_finish
_c_transaction = MsbDb.Pools.transaction
_c_transaction_async = MsbDb.Pools.transaction_async
_c_transaction_finish = MsbDb.Pools.transaction_finish
_c_snapshot = MsbDb.Pools.snapshot
_c_snapshot_async = MsbDb.Pools.snapshot_async
_c_snapshot_finish = MsbDb.Pools.snapshot_finish
_c_close = MsbDb.Pools.close
_c_close_async = MsbDb.Pools.close_async
_c_close_finish = MsbDb.Pools.close_finish
_c_get_path = MsbDb.Pools.get_path
_c_get_max_read_connections = MsbDb.Pools.get_max_read_connections
_c_get_connect_timeout = MsbDb.Pools.get_connect_timeout
_c_get_busy_timeout = MsbDb.Pools.get_busy_timeout
_c_get_read_only = MsbDb.Pools.get_read_only
_c_get_trusted_schema = MsbDb.Pools.get_trusted_schema
_c_get_change_poll_interval = MsbDb.Pools.get_change_poll_interval
_c_set_change_poll_interval = MsbDb.Pools.set_change_poll_interval
_c_is_closed = MsbDb.Pools.is_closed
_c_get_stats = MsbDb.Pools.get_stats
_c_migrate = MsbDb.Pools.migrate
_c_migrate_async = MsbDb.Pools.migrate_async
_c_migrate_finish = MsbDb.Pools.migrate_finish
_c_get_schema_version = MsbDb.Pools.get_schema_version
_c_backup = MsbDb.Pools.backup
_c_backup_async = MsbDb.Pools.backup_async
_c_backup_finish = MsbDb.Pools.backup_finish
_c_vacuum = MsbDb.Pools.vacuum
_c_vacuum_async = MsbDb.Pools.vacuum_async
_c_vacuum_finish = MsbDb.Pools.vacuum_finish
_c_checkpoint = MsbDb.Pools.checkpoint
_c_checkpoint_async = MsbDb.Pools.checkpoint_async
_c_checkpoint_finish = MsbDb.Pools.checkpoint_finish


def _steps_list(steps):
    """Migration steps: a sequence of str (not one str, which would be
    taken for a sequence of one-character steps)."""
    if isinstance(steps, (str, bytes)) or \
            not isinstance(steps, collections.abc.Sequence):
        raise TypeError('steps must be a list of SQL strings, not %s'
                        % type(steps).__name__)
    for i, step in enumerate(steps):
        if not isinstance(step, str):
            raise TypeError('steps[%d] must be a str of SQL, not %s'
                            % (i, type(step).__name__))
        if '\0' in step:
            raise ValueError('steps[%d] contains a NUL character' % i)
    return list(steps)


def _backup_flags(replace):
    return MsbDb.BackupFlags.REPLACE if replace else MsbDb.BackupFlags.NONE


class _Progress(object):
    """A backup's progress callable, called from C, which cannot take an
    exception: the blocking backup raises it again once the copy is over,
    the async one logs it (logger ``MsbDb``). Either way the callable is
    not called again."""

    __slots__ = ('func', 'error', 'log')

    def __init__(self, func, log):
        if not callable(func):
            raise TypeError('progress must be callable, not %s'
                            % type(func).__name__)
        self.func = func
        self.error = None
        self.log = log

    def __call__(self, current, total, *unused):
        if self.error is not None:
            return
        try:
            self.func(current, total)
        except BaseException as e:
            self.error = e
            if self.log:
                _log.error('MsbDb: the progress callback of backup_async() '
                           'raised: %s', e, exc_info=e)


def _checkpoint_mode(mode):
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError('mode must be an MsbDb.CheckpointMode, not %s'
                        % type(mode).__name__)
    return MsbDb.CheckpointMode(mode)


class Pools(MsbDb.Pools):
    """One writer thread and a pool of read connections over a database.

    Python additions: keyword arguments in seconds for ``open*``, plain
    Python ``params``, DB-API exceptions, ``with pools:`` (closes on exit),
    ``transaction``/``snapshot`` that take any callable, a ``row_factory``,
    adapters and converters::

        with MsbDb.Pools.open('app.db', busy_timeout=2.5) as pools:
            pools.write('INSERT INTO t (a, b) VALUES (?, ?)', (1, 'one'))
            for a, b in pools.read('SELECT a, b FROM t WHERE a > :min',
                                   {'min': 0}):
                print(a, b)

            @pools.transaction
            def moved(conn):
                return conn.execute('UPDATE t SET a = a + 1').rowcount
            # the decorator ran the body at once: `moved` is its result
    """

    # -- opening ----------------------------------------------------------

    @staticmethod
    def open(path, max_read_connections=None, *, connect_timeout=None,
             busy_timeout=None, trusted_schema=False, cancellable=None):
        """Open ``path`` (a file path or ``sqlite:///abs/path``) for reading
        and writing, creating it if needed. Blocks.

        ``max_read_connections``: the size of the read pool, 1 to 1024
        (None: ``MsbDb.DEFAULT_MAX_READ_CONNECTIONS``). ``connect_timeout``:
        how long a call waits for its turn before :class:`PoolTimeoutError`,
        and ``busy_timeout``: how long SQLite waits for a lock held by
        another process, both in seconds (int or float) from 0.000001 to
        2147483 (None: ``MsbDb.DEFAULT_CONNECT_TIMEOUT_SECS``, ``_BUSY_``);
        anything else raises ``ValueError`` (``TypeError`` if not a number).
        SQLite counts the busy timeout in whole milliseconds, rounding up.

        ``trusted_schema=True`` sets the construct-only property
        ``trusted-schema``: for a database whose schema the application
        wrote itself, it lets triggers and views use virtual tables and
        functions (SQLite's external-content FTS5 recipe needs it); see
        ``docs/python.md`` for what it trades away.

        The pools are closed at interpreter exit if the program did not
        close them."""
        size = _pool_size(max_read_connections)
        connect = _timeout_us('connect_timeout', connect_timeout)
        busy = _timeout_us('busy_timeout', busy_timeout)
        if trusted_schema:
            return _open_trusted(path, size, connect, busy, False, cancellable)
        try:
            return _opened(_c_open(path, size, connect, busy, cancellable))
        except _GError as e:
            _classify(e)
            raise

    @staticmethod
    def open_read_only(path, max_read_connections=None, *,
                       connect_timeout=None, busy_timeout=None,
                       trusted_schema=False, cancellable=None):
        """Open ``path`` for reading only: no writer thread, the file is
        never created (a missing file raises :class:`CantOpenError`). Same
        arguments as :meth:`open`."""
        size = _pool_size(max_read_connections)
        connect = _timeout_us('connect_timeout', connect_timeout)
        busy = _timeout_us('busy_timeout', busy_timeout)
        if trusted_schema:
            return _open_trusted(path, size, connect, busy, True, cancellable)
        try:
            return _opened(_c_open_read_only(path, size, connect, busy,
                                             cancellable))
        except _GError as e:
            _classify(e)
            raise

    @staticmethod
    def open_async(path, max_read_connections=None, *, connect_timeout=None,
                   busy_timeout=None, trusted_schema=False, cancellable=None,
                   callback=None, user_data=_OMITTED):
        """Asynchronous :meth:`open` (same arguments), in a worker thread.
        ``callback(source, result)`` (or ``callback(source, result,
        user_data)``) runs in the caller's thread-default main context and
        calls ``MsbDb.Pools.open_finish(result)``, which returns the pools
        or raises (``source`` is not to be used before that). Without a
        callback, a failure is logged."""
        size = _pool_size(max_read_connections)
        connect = _timeout_us('connect_timeout', connect_timeout)
        busy = _timeout_us('busy_timeout', busy_timeout)
        args = _callback_args(callback, user_data, (), _finish_open)
        if trusted_schema:
            # What open_async() does in C, with one more property.
            pools = Pools(path=path, max_read_connections=size,
                          connect_timeout=connect, busy_timeout=busy,
                          trusted_schema=True)
            pools.init_async(GLib.PRIORITY_DEFAULT, cancellable, *args)
            return
        _c_open_async(path, size, connect, busy, cancellable, *args)

    @staticmethod
    def open_finish(result):
        """Finish :meth:`open_async`: the open pools, or the error raised."""
        try:
            return _opened(_c_open_finish(result))
        except _GError as e:
            _classify(e)
            raise

    # -- properties -------------------------------------------------------

    def get_path(self):
        """The database target given at open."""
        return _c_get_path(self)

    def get_max_read_connections(self):
        """The number of read connections in the pool."""
        return _c_get_max_read_connections(self)

    def get_connect_timeout(self):
        """How long a call waits for its turn, in **microseconds** (the C
        unit; :meth:`open` takes seconds)."""
        return _c_get_connect_timeout(self)

    def get_busy_timeout(self):
        """The busy timeout of every connection, in **microseconds** (the
        C unit; :meth:`open` takes seconds)."""
        return _c_get_busy_timeout(self)

    def get_read_only(self):
        """True if these pools only read (no writer thread)."""
        return _c_get_read_only(self)

    def get_trusted_schema(self):
        """True if the pools were opened with ``trusted_schema=True``."""
        return _c_get_trusted_schema(self)

    def get_change_poll_interval(self):
        """How often changes of other processes are looked for while a
        ``changed`` handler is connected, in **microseconds** (the C
        unit)."""
        return _c_get_change_poll_interval(self)

    def set_change_poll_interval(self, interval):
        """Set how often changes of other processes are looked for while a
        ``changed`` handler is connected, in **microseconds**; 0 for the
        default (``MsbDb.DEFAULT_CHANGE_POLL_INTERVAL_MSEC`` ms)."""
        _c_set_change_poll_interval(self, interval)

    def is_closed(self):
        """True once :meth:`close` was called."""
        return _c_is_closed(self)

    def get_stats(self):
        """A copy of the counters (``MsbDb.Stats``: reads, writes,
        transactions, busy_retries...); compare two copies to see what
        happened between them."""
        return _c_get_stats(self)

    # -- settings ---------------------------------------------------------

    @property
    def row_factory(self):
        """What makes each row of these pools' results: None (the default)
        for a tuple, :class:`Row` for rows also read by column name, or any
        callable ``factory(rows, values)`` given the :class:`Rows` and the
        row's tuple, as ``sqlite3``'s ``row_factory``. Applies to results
        returned from then on, including ``connection.execute()`` in
        transaction and snapshot bodies."""
        settings = _settings.get(self)
        return None if settings is None else settings.row_factory

    @row_factory.setter
    def row_factory(self, factory):
        global _shaping
        if factory is not None and not callable(factory):
            raise TypeError('row_factory must be callable or None, not %s'
                            % type(factory).__name__)
        _settings_for(self).row_factory = factory
        if factory is not None:
            _shaping = True

    def register_adapter(self, kind, adapter):
        """Bind values of type ``kind`` (and its subclasses) as
        ``adapter(value)``, which must return something bindable (None,
        bool, int, float, str, bytes, GLib.Variant), as
        ``sqlite3.register_adapter()`` but for these pools only. ``adapter``
        None removes the adapter of ``kind``, including a default one.

        The defaults: ``datetime.datetime`` -> ISO-8601 text with a space
        between date and time (``2024-05-01 13:45:00``, with
        ``.ffffff`` and ``+HH:MM`` when the value has them: the form
        SQLite's date functions use and compare), ``datetime.date`` ->
        ``YYYY-MM-DD``, ``decimal.Decimal`` -> ``str(value)`` (text; a
        NUMERIC column would store it as a number)."""
        if not isinstance(kind, type):
            raise TypeError('register_adapter() needs a type, not %r'
                            % (kind,))
        if adapter is not None and not callable(adapter):
            raise TypeError('adapter must be callable or None, not %s'
                            % type(adapter).__name__)
        settings = _settings_for(self)
        if settings.adapters is None:
            settings.adapters = dict(_DEFAULT_ADAPTERS)
        settings.adapters[kind] = adapter

    def register_converter(self, name, converter):
        """Convert the values of result columns tagged ``[name]`` with
        ``converter(value)``, as ``sqlite3``'s ``PARSE_COLNAMES``: in
        ``SELECT created AS "created [datetime]" FROM t`` the column is
        named ``created`` and its values go through the converter registered
        as ``datetime``. Names are case-insensitive. The converter gets the
        value as read (``str`` for TEXT, ``int``, ``float``, ``bytes``),
        never None (NULL stays None), e.g.
        ``pools.register_converter('datetime', datetime.fromisoformat)``.
        ``converter`` None removes it. Opt-in: results are read as they are
        until the pools have a converter. The declared type of a table
        column is not used."""
        global _shaping
        if not isinstance(name, str) or not name.strip() or \
                '[' in name or ']' in name:
            raise ValueError('a converter name is non-empty text without '
                             'brackets, not %r' % (name,))
        if converter is not None and not callable(converter):
            raise TypeError('converter must be callable or None, not %s'
                            % type(converter).__name__)
        settings = _settings_for(self)
        converters = dict(settings.converters or ())
        if converter is None:
            converters.pop(name.strip().lower(), None)
        else:
            converters[name.strip().lower()] = converter
        settings.converters = converters or None
        if converters:
            _shaping = True

    # -- context manager --------------------------------------------------

    def __enter__(self):
        """``with pools:`` returns the pools themselves."""
        return self

    def __exit__(self, exc_type, exc_value, tb):
        """Close the pools (blocking :meth:`close`), also when the block
        raised; exceptions are not swallowed."""
        self.close()
        return False

    # -- closing ----------------------------------------------------------

    def close(self, cancellable=None):
        """Stop accepting calls, let the queued writes and transactions
        finish, interrupt running reads (they fail with
        :class:`ClosedError`), close every connection and join the writer
        thread. Afterwards every call raises :class:`ClosedError`. Closing
        twice is harmless. Returns True; raises :class:`DatabaseError` when
        called from inside a transaction or snapshot body of these pools."""
        try:
            return _c_close(self, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def close_async(self, cancellable=None, callback=None,
                    user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`close`; ``callback(pools, result,
        *user_data)`` calls :meth:`close_finish`. Arguments as for
        :meth:`read_async`."""
        _c_close_async(self, cancellable,
                       *_callback_args(callback, user_data, more_user_data,
                                       Pools.close_finish))

    def close_finish(self, result):
        """Finish :meth:`close_async`: True, or the error raised."""
        try:
            return _c_close_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    # -- statements -------------------------------------------------------

    def read(self, sql, params=None, cancellable=None):
        """Run one read-only statement on a read connection; returns
        :class:`Rows`. ``params`` as in :func:`params_to_variant`. A
        statement that writes raises :class:`ReadOnlyError`."""
        try:
            rows = _c_read(self, sql, _to_variant(params, self), cancellable)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def read_async(self, sql, params=None, cancellable=None, callback=None,
                   user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`read`. ``callback(pools, result)`` runs in
        the caller's thread-default main context and calls
        :meth:`read_finish`. The arguments are those of the C function, in
        its order, and may also be given by keyword; as with PyGObject,
        ``user_data`` and any further positional values are passed on:
        ``read_async(sql, params, None, callback, a, b)`` calls
        ``callback(pools, result, a, b)``; without them the callback gets
        two arguments. Without a callback, a failure is logged (logger
        ``MsbDb``) when the call completes."""
        _c_read_async(self, sql, _to_variant(params, self), cancellable,
                      *_callback_args(callback, user_data, more_user_data,
                                      Pools.read_finish))

    def read_finish(self, result):
        """Finish :meth:`read_async`: the :class:`Rows`, or the error
        raised."""
        try:
            rows = _c_read_finish(self, result)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def write(self, sql, params=None, cancellable=None):
        """Run one statement on the writer thread, committed when this
        returns; returns :class:`Rows` (``RETURNING`` rows, ``rowcount``,
        ``lastrowid``)."""
        try:
            rows = _c_write(self, sql, _to_variant(params, self), cancellable)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def write_async(self, sql, params=None, cancellable=None, callback=None,
                    user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`write`; the callback calls
        :meth:`write_finish`. Arguments as for :meth:`read_async`."""
        _c_write_async(self, sql, _to_variant(params, self), cancellable,
                       *_callback_args(callback, user_data, more_user_data,
                                       Pools.write_finish))

    def write_finish(self, result):
        """Finish :meth:`write_async`: the :class:`Rows`, or the error
        raised."""
        try:
            rows = _c_write_finish(self, result)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def write_script(self, sql, cancellable=None):
        """Run every statement of ``sql`` (separated by semicolons) in one
        transaction on the writer thread: all committed, or none."""
        try:
            return _c_write_script(self, sql, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def write_script_async(self, sql, cancellable=None, callback=None,
                           user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`write_script`; the callback calls
        :meth:`write_script_finish`."""
        _c_write_script_async(self, sql, cancellable,
                              *_callback_args(callback, user_data, more_user_data,
                                              Pools.write_script_finish))

    def write_script_finish(self, result):
        """Finish :meth:`write_script_async`: True, or the error raised."""
        try:
            return _c_write_script_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    def open_cursor(self, sql, params=None, cancellable=None):
        """A :class:`Cursor` over the result of ``sql``, read in parts
        inside one read transaction. ``for row in pools.open_cursor(...)``
        reads every row with bounded memory; close it (or use ``with``)."""
        try:
            return _c_open_cursor(self, sql, _to_variant(params, self), cancellable)
        except _GError as e:
            _classify(e)
            raise

    def write_many(self, sql, param_rows, cancellable=None):
        """Run one statement once for each element of ``param_rows`` (an
        iterable of parameters, each as :meth:`write` takes them, or a
        ``GLib.Variant`` as the C function takes it), all in one
        transaction: every run is committed, or none. Returns one
        :class:`Rows` with the ``RETURNING`` rows of every run, the total
        ``rowcount`` and the last ``lastrowid``."""
        param_rows = _rows_to_variant(param_rows, self)
        try:
            rows = _c_write_many(self, sql, param_rows, cancellable)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def write_many_async(self, sql, param_rows, cancellable=None, callback=None,
                         user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`write_many`; the callback calls
        :meth:`write_many_finish`. Arguments as for :meth:`read_async`."""
        _c_write_many_async(self, sql, _rows_to_variant(param_rows, self), cancellable,
                            *_callback_args(callback, user_data, more_user_data,
                                            Pools.write_many_finish))

    def write_many_finish(self, result):
        """Finish :meth:`write_many_async`: the :class:`Rows`, or the error
        raised."""
        try:
            rows = _c_write_many_finish(self, result)
        except _GError as e:
            _classify(e)
            raise
        if _shaping:
            _apply_shape(rows, self)
        return rows

    # -- transactions and snapshots ---------------------------------------

    def transaction(self, func, cancellable=None):
        """Run ``func(connection)`` inside one write transaction on the
        writer thread, and return what it returns.

        It commits when ``func`` returns (anything but ``False``); it rolls
        back when ``func`` raises, and the same exception object is raised
        here, or when ``func`` returns exactly ``False`` (as in C; this
        raises :class:`DatabaseError`, code ``FAILED``). ``func`` may be run
        more than once if the database is busy, so it must be safe to
        repeat. To pass arguments, use ``functools.partial`` or a lambda.
        An ``async def`` function raises ``TypeError`` (its awaits would run
        outside the transaction), and so does a body that returns an
        awaitable (after rolling back).

        Also usable as a decorator that runs the body at once and binds the
        name to its result::

            @pools.transaction
            def new_id(conn):
                return conn.execute('INSERT INTO t (a) VALUES (1)').lastrowid
        """
        body = _Body(func, 'transaction', _settings.get(self))
        return body.finish(_c_transaction, self, body, (), cancellable)

    def transaction_async(self, func, *, cancellable=None, callback=None,
                          user_data=_OMITTED):
        """Asynchronous :meth:`transaction`. ``func(connection)`` runs on
        the writer thread; then ``callback(pools, result)`` (or
        ``callback(pools, result, user_data)``) runs in the caller's
        thread-default main context, where :meth:`transaction_finish`
        returns ``func``'s result or raises its exception.

        Everything after ``func`` is keyword-only: a positional value
        could be meant as C's ``user_data`` (the C order is func,
        user_data, cancellable, callback) or as :meth:`read_async`'s
        cancellable, so any is refused with ``TypeError``. Without a
        callback, a failure is logged (logger ``MsbDb``)."""
        body = _Body(func, 'transaction', _settings.get(self))
        _c_transaction_async(
            self, body, (), cancellable,
            _ready_callback(body, callback, user_data,
                            Pools.transaction_finish))

    def transaction_finish(self, result):
        """Finish :meth:`transaction_async`: ``func``'s return value, or its
        exception re-raised."""
        return _finish_body(result, _c_transaction_finish, self, result)

    def snapshot(self, func, cancellable=None):
        """Run ``func(connection)`` on a read connection inside one read
        transaction (every statement sees the same committed state), and
        return what it returns. An exception in ``func`` is raised here;
        writes through ``connection`` raise :class:`ReadOnlyError`. Usable
        as a decorator like :meth:`transaction`, and refuses async
        functions the same way."""
        body = _Body(func, 'snapshot', _settings.get(self))
        return body.finish(_c_snapshot, self, body, (), cancellable)

    def snapshot_async(self, func, *, cancellable=None, callback=None,
                       user_data=_OMITTED):
        """Asynchronous :meth:`snapshot`; :meth:`snapshot_finish` in the
        callback returns ``func``'s result or raises its exception.
        Keyword-only arguments after ``func``, as
        :meth:`transaction_async`."""
        body = _Body(func, 'snapshot', _settings.get(self))
        _c_snapshot_async(
            self, body, (), cancellable,
            _ready_callback(body, callback, user_data,
                            Pools.snapshot_finish))

    def snapshot_finish(self, result):
        """Finish :meth:`snapshot_async`: ``func``'s return value, or its
        exception re-raised."""
        return _finish_body(result, _c_snapshot_finish, self, result)

    # -- schema migrations ------------------------------------------------

    def migrate(self, steps, cancellable=None):
        """Bring the schema to version ``len(steps)``: ``steps[i]`` is the
        SQL (one or more statements) that takes it from version ``i`` to
        ``i + 1``; the version is ``PRAGMA user_version``. Each pending step
        runs on the writer thread in one transaction with the version bump.
        Returns the version reached, ``len(steps)``.

        Several processes may migrate the same file at once: each step is
        applied once. A step that fails is rolled back (the ones before it
        stay) and raises with the step number and the SQL error. A database
        newer than ``steps`` raises :class:`SchemaTooNewError` and is left
        unchanged."""
        steps = _steps_list(steps)
        try:
            _c_migrate(self, steps, cancellable)
        except _GError as e:
            _classify(e)
            raise
        return len(steps)

    def migrate_async(self, steps, cancellable=None, callback=None,
                      user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`migrate`; the callback calls
        :meth:`migrate_finish`. Arguments as for :meth:`read_async`."""
        _c_migrate_async(self, _steps_list(steps), cancellable,
                         *_callback_args(callback, user_data, more_user_data,
                                         Pools.migrate_finish))

    def migrate_finish(self, result):
        """Finish :meth:`migrate_async`: True, or the error raised."""
        try:
            return _c_migrate_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    def get_schema_version(self, cancellable=None):
        """The schema version, ``PRAGMA user_version``: the number of
        migration steps applied (0 in a new database)."""
        try:
            return _c_get_schema_version(self, cancellable)
        except _GError as e:
            _classify(e)
            raise

    # -- online backup ----------------------------------------------------

    def backup(self, path, *, replace=False, progress=None,
               cancellable=None):
        """Write a consistent copy of the database to ``path`` while readers
        and writers keep going (SQLite's online backup API, in steps, inside
        one read transaction). The copy is one self-contained file, written
        to a temporary file beside ``path`` and renamed into place when
        complete; on failure (a full disk, cancellation) nothing is left. An
        existing ``path`` raises :class:`InvalidArgumentError` unless
        ``replace`` is true. ``progress(copied_bytes, total_bytes)`` is
        called on this thread after each step (4 MiB) and at the end; an
        exception it raises is raised here once the backup is over.
        Returns True."""
        report = None if progress is None else _Progress(progress, False)
        try:
            done = _c_backup(self, path, _backup_flags(replace), cancellable,
                             report, None)
        except _GError as e:
            _classify(e)
            raise
        if report is not None and report.error is not None:
            raise report.error
        return done

    def backup_async(self, path, *, replace=False, progress=None,
                     cancellable=None, callback=None, user_data=_OMITTED):
        """Asynchronous :meth:`backup`. ``progress(copied, total)`` runs in
        the caller's thread-default main context, as
        ``Gio.File.copy_async()``'s does, the last time before
        ``callback(pools, result)`` (or ``callback(pools, result,
        user_data)``), which calls :meth:`backup_finish`; an exception it
        raises is logged (logger ``MsbDb``). Keyword-only arguments after
        ``path``. Without a callback, a failure is logged too."""
        report = None if progress is None else _Progress(progress, True)
        # PyGObject takes the data of a callback it must keep (scope
        # notified) as a tuple of extra arguments: () for none.
        _c_backup_async(self, path, _backup_flags(replace), cancellable,
                        report, (),
                        *_callback_args(callback, user_data, (),
                                        Pools.backup_finish))

    def backup_finish(self, result):
        """Finish :meth:`backup_async`: True, or the error raised."""
        try:
            return _c_backup_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    # -- maintenance ------------------------------------------------------

    def vacuum(self, cancellable=None):
        """Rebuild the database file (``VACUUM``), on the writer thread
        outside any transaction (``write('VACUUM')`` cannot do it), while
        reads go on. Returns True."""
        try:
            return _c_vacuum(self, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def vacuum_async(self, cancellable=None, callback=None,
                     user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`vacuum`; the callback calls
        :meth:`vacuum_finish`. Arguments as for :meth:`read_async`."""
        _c_vacuum_async(self, cancellable,
                        *_callback_args(callback, user_data, more_user_data,
                                        Pools.vacuum_finish))

    def vacuum_finish(self, result):
        """Finish :meth:`vacuum_async`: True, or the error raised."""
        try:
            return _c_vacuum_finish(self, result)
        except _GError as e:
            _classify(e)
            raise

    def checkpoint(self, mode=MsbDb.CheckpointMode.PASSIVE,
                   cancellable=None):
        """Copy the write-ahead log back into the database file, on the
        writer thread between batches. ``mode`` is an
        ``MsbDb.CheckpointMode``: ``PASSIVE`` (the default, as SQLite's
        ``PRAGMA wal_checkpoint``), ``FULL``, ``RESTART`` or ``TRUNCATE``
        (which also empties the ``-wal`` file). Returns ``(log_frames,
        checkpointed_frames)``: the pages in the log, and how many of them
        are in the database file now. A reader of an old snapshot makes
        ``RESTART``/``TRUNCATE`` raise :class:`BusyError` after the busy
        timeout."""
        try:
            _, log, done = _c_checkpoint(self, _checkpoint_mode(mode),
                                         cancellable)
        except _GError as e:
            _classify(e)
            raise
        return log, done

    def checkpoint_async(self, mode=MsbDb.CheckpointMode.PASSIVE,
                         cancellable=None, callback=None,
                         user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`checkpoint`; the callback calls
        :meth:`checkpoint_finish`. Arguments as for :meth:`read_async`,
        with ``mode`` first."""
        _c_checkpoint_async(self, _checkpoint_mode(mode), cancellable,
                            *_callback_args(callback, user_data,
                                            more_user_data,
                                            Pools.checkpoint_finish))

    def checkpoint_finish(self, result):
        """Finish :meth:`checkpoint_async`: ``(log_frames,
        checkpointed_frames)``, or the error raised."""
        try:
            _, log, done = _c_checkpoint_finish(self, result)
        except _GError as e:
            _classify(e)
            raise
        return log, done


Pools = override(Pools)
__all__.append('Pools')
