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
import itertools
import logging
import math
import numbers
import os
import reprlib
import sys
import threading
import weakref

from gi.repository import Gio, GLib

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


def _adapt(value, kind, where, owner, encode):
    """The last resort of the encoders: ``owner``'s adapter for ``kind``,
    its result encoded by ``encode`` (without adapters this time); a
    TypeError when there is none or it returns what cannot be bound."""
    if owner is not _NO_ADAPTERS:
        adapter = _find_adapter(kind, owner)
        if adapter is not None:
            adapted = adapter(value)
            try:
                return encode(adapted, where, _NO_ADAPTERS)
            except TypeError:
                raise TypeError('parameter %s: the adapter for %s returned '
                                'a %s, which cannot be bound either'
                                % (_name(where), kind.__name__,
                                   type(adapted).__name__)) from None
    raise TypeError('parameter %s: cannot bind a value of type %s (use None, '
                    'bool, int, float, str, bytes or GLib.Variant, or '
                    'register an adapter with Pools.register_adapter())'
                    % (_name(where), kind.__name__))


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
    return _adapt(value, kind, where, owner, _value_to_variant)


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
# Parameters as strings: what a statement call hands to C
# --------------------------------------------------------------------------
#
# The calls into C take the parameters as a string of type characters and a
# list of str (see msb_db_pools_read_values()), which PyGObject passes
# without building anything: no GLib.Variant per value, no call per value.
# The conversions are those of params_to_variant(), value for value.

_DECIMAL = '%d'.__mod__


def _encode_value(value, where, owner):
    """(type character, text) of one SQL value; ``where`` and ``owner`` as
    for :func:`_value_to_variant`."""
    kind = type(value)
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return 'i', _DECIMAL(value)
    elif kind is str:
        if '\0' not in value:
            return 't', value
    elif kind is float:
        return 'r', repr(value)
    elif value is None:
        return 'n', ''
    if isinstance(value, bool):
        return 'i', '1' if value else '0'
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError('parameter %s: %d does not fit in a 64-bit '
                                'signed SQL INTEGER' % (_name(where), value))
        return 'i', _DECIMAL(value)
    if isinstance(value, float):
        return 'r', repr(float(value))
    if isinstance(value, str):
        if '\0' in value:
            raise ValueError('parameter %s: text contains a NUL character; '
                             'pass bytes to store it as a BLOB' % _name(where))
        return 't', str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return 'b', bytes(value).hex()
    if isinstance(value, GLib.Variant):
        return 'v', value.print_(True)
    return _adapt(value, kind, where, owner, _encode_value)


_NO_PARAMS = (None, None, None)


def _encode(params, owner):
    """``params`` (as :func:`params_to_variant` takes them) as the
    ``(names, types, values)`` of the C calls."""
    kind = type(params)
    if kind is tuple or kind is list:
        if len(params) == 1:
            # One key, id or limit: the most common parameters of all.
            v = params[0]
            if type(v) is int and _INT64_MIN <= v <= _INT64_MAX:
                return None, 'i', [_DECIMAL(v)]
        # Plain ints and str first, in one pass without calls.
        types = ''
        values = []
        for v in params:
            k = type(v)
            if k is int and _INT64_MIN <= v <= _INT64_MAX:
                types += 'i'
                values.append(_DECIMAL(v))
            elif k is str and '\0' not in v:
                types += 't'
                values.append(v)
            else:
                break
        else:
            return None, types, values
        types = ''
        values = []
        for i, v in enumerate(params, 1):
            t, text = _encode_value(v, i, owner)
            types += t
            values.append(text)
        return None, types, values
    if params is None:
        return _NO_PARAMS
    if isinstance(params, (tuple, list)):
        return _encode(list(params), owner)
    if isinstance(params, dict):
        names = []
        types = ''
        values = []
        for key, value in params.items():
            if not isinstance(key, str):
                raise TypeError('parameter names must be str, not %s (%r)'
                                % (type(key).__name__, key))
            t, text = _encode_value(value, key, owner)
            names.append(key)
            types += t
            values.append(text)
        return names, types, values
    if isinstance(params, GLib.Variant):
        return _encode_variant(params)
    raise TypeError('params must be None, a tuple, a list, a dict or a '
                    'GLib.Variant, not %s' % type(params).__name__)


def _encode_variant(params):
    """A whole ``GLib.Variant`` of parameters, as the C API takes it: a
    tuple for positional ones, an ``a{sv}`` for named ones."""
    if params.get_type_string() == 'a{sv}':
        names = []
        types = ''
        values = []
        for i in range(params.n_children()):
            entry = params.get_child_value(i)
            names.append(entry.get_child_value(0).get_string())
            types += 'v'
            values.append(entry.get_child_value(1).print_(True))
        return names, types, values
    if not params.is_container() or not params.get_type_string().startswith('('):
        raise TypeError('a GLib.Variant of parameters must be a tuple or an '
                        'a{sv}, not %s' % params.get_type_string())
    n = params.n_children()
    return None, 'v' * n, [params.get_child_value(i).print_(True)
                           for i in range(n)]


def _encode_runs(param_rows, owner):
    """The parameters of every run of a write_many(), as its C call takes
    them: ``(n_runs, types, values)``; None when the runs are dicts (named
    parameters), which go as a GLib.Variant."""
    if isinstance(param_rows, (str, bytes, dict)) or \
            not hasattr(param_rows, '__iter__'):
        raise TypeError('param_rows must be an iterable of parameters or a '
                        'GLib.Variant, not %s' % type(param_rows).__name__)
    if not isinstance(param_rows, (list, tuple)):
        param_rows = list(param_rows)   # read whole before anything runs
    if param_rows and isinstance(param_rows[0], dict):
        return None
    types = []
    values = []
    append = values.append
    width = -1
    n_runs = 0
    for params in param_rows:
        kind = type(params)
        if kind is not tuple and kind is not list:
            if not isinstance(params, (tuple, list)):
                raise TypeError('run %d of param_rows: parameters must be a '
                                'tuple or a list, not %s'
                                % (n_runs + 1, kind.__name__))
        n_runs += 1
        if len(params) != width:
            if width >= 0:
                raise InvalidArgumentError(
                    'Run %d has %d parameter%s where run 1 has %d; nothing '
                    'was written' % (n_runs, len(params),
                                     '' if len(params) == 1 else 's', width))
            width = len(params)
        run_types = ''
        for i, v in enumerate(params, 1):
            k = type(v)
            if k is int and _INT64_MIN <= v <= _INT64_MAX:
                run_types += 'i'
                append(_DECIMAL(v))
            elif k is str and '\0' not in v:
                run_types += 't'
                append(v)
            else:
                try:
                    t, text = _encode_value(v, i, owner)
                except (TypeError, ValueError, OverflowError) as e:
                    raise type(e)('run %d: %s' % (n_runs, e)) from None
                run_types += t
                append(text)
        types.append(run_types)
    return n_runs, ''.join(types), values


# --------------------------------------------------------------------------
# Rows: a read-only sequence of tuples
# --------------------------------------------------------------------------

# A result reaches Python as one flat list (msb_db_rows_dup_values() and
# the calls built on it): a header, the column names, the values row after
# row. Positions in it:
_N_COLUMNS = 0
_N_ROWS = 1
_CHANGES = 2
_ROWID = 3
_N_VARIANTS = 4     # BLOBs and TEXT a C string cannot carry, as GLib.Variant
_HEADER = 5

_c_dup_values = MsbDb.Rows.dup_values
_ValueType = MsbDb.ValueType


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
    flat = rows._flat
    columns = flat[_HEADER:_HEADER + flat[_N_COLUMNS]]
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


def _variant_value(value):
    """A GLib.Variant of a flat result as Python: an ``ay`` (BLOB) as
    bytes; an ``(ay)`` (TEXT a C string cannot carry) as str, up to a NUL
    as C would read it, or UnicodeDecodeError if it is not UTF-8."""
    if value.get_type_string() == 'ay':
        return value.get_data_as_bytes().get_data() or b''
    data = value.get_child_value(0).get_data_as_bytes().get_data() or b''
    return data.split(b'\0', 1)[0].decode('utf-8')


def _plain(values):
    """``values`` (a list, changed in place) with its variants converted."""
    for i, v in enumerate(values):
        if type(v) is _Variant:
            values[i] = _variant_value(v)
    return values


_TEXT_INT = None
_TEXT_FLOAT = None


def _text_to_int(text):
    """TEXT as an integer the way the C library reads it (g_ascii_strtoll):
    leading space, a sign, the digits that follow; saturated; 0 if none."""
    global _TEXT_INT
    if _TEXT_INT is None:
        import re
        _TEXT_INT = re.compile(r'[ \t\n\v\f\r]*([+-]?[0-9]+)')
    match = _TEXT_INT.match(text)
    if match is None:
        return 0
    return max(_INT64_MIN, min(_INT64_MAX, int(match.group(1))))


def _text_to_float(text):
    """TEXT as a float the way the C library reads it (g_ascii_strtod):
    the longest leading number, 0.0 if none."""
    global _TEXT_FLOAT
    if _TEXT_FLOAT is None:
        import re
        _TEXT_FLOAT = re.compile(
            r'[ \t\n\v\f\r]*([+-]?(?:inf(?:inity)?|nan|'
            r'(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))', re.I)
    match = _TEXT_FLOAT.match(text)
    return float(match.group(1)) if match else 0.0


def _to_int64(value):
    """A REAL truncated towards zero and saturated, as the C library."""
    if value != value:
        return 0
    if value >= 9223372036854775807.0:
        return _INT64_MAX
    if value <= -9223372036854775808.0:
        return _INT64_MIN
    return int(value)


class Rows(collections.abc.Sequence):
    """An immutable query result: a read-only sequence of rows.

    ``len(rows)`` is the number of rows (so an empty result is falsy),
    ``rows[i]`` is row ``i`` (negative indices and slices work), ``for row
    in rows`` iterates them, ``rows.columns`` is the tuple of column names,
    ``rows.as_dicts()`` a list of ``{column: value}``. It is a
    ``collections.abc.Sequence`` (``index()``, ``count()``, ``in``,
    ``reversed()``) and compares equal to a list (or tuple) of the same
    rows: ``rows == [(1, 'a')]``. Like a list, it is not hashable.

    A row is a tuple, unless the pools that made the result have a
    ``row_factory`` (e.g. :class:`Row`) or converters.

    Values are plain Python: SQL NULL is ``None`` (distinct from ``0`` and
    ``""``), INTEGER ``int``, REAL ``float``, TEXT ``str``, BLOB ``bytes``.
    TEXT that is not valid UTF-8 raises ``UnicodeDecodeError`` when its row
    is read; TEXT holding a NUL ends at it.

    After a write, ``rowcount`` is the number of rows changed and
    ``lastrowid`` the rowid of the row inserted.

    The whole result came from C in one call and is held as Python values:
    reading it calls nothing in C. The accessors of the C type
    (``get_n_rows()``, ``get_int64()``, ``is_null()``...) are here too,
    with the C library's conversions.
    """

    __slots__ = ('_flat', '_shape')
    __hash__ = None

    def __init__(self, values):
        """A result from its flat values, as ``MsbDb.Rows.dup_values()``
        (the C method) and the ``*_values()`` calls return them."""
        self._flat = values
        self._shape = None

    @classmethod
    def _from_c(cls, c_rows):
        """The Python result of a C ``MsbDbRows``."""
        return cls(_c_dup_values(c_rows))

    # -- rows ---------------------------------------------------------------

    def _raw(self, row):
        """Row ``row`` (in range) as a list of the flat values."""
        flat = self._flat
        n = flat[_N_COLUMNS]
        start = _HEADER + n + row * n
        return flat[start:start + n]

    def _values(self, row):
        """Row ``row`` as a list of Python values, before any shape."""
        values = self._raw(row)
        if self._flat[_N_VARIANTS]:
            _plain(values)
        return values

    def _row(self, row):
        flat = self._flat
        n = flat[_N_COLUMNS]
        start = _HEADER + n + row * n
        values = flat[start:start + n]
        if flat[_N_VARIANTS]:
            _plain(values)
        shape = self._shape
        if shape is None:
            return tuple(values)
        return _make_row(self, values, shape)

    def __len__(self):
        """The number of rows."""
        return self._flat[_N_ROWS]

    def __getitem__(self, index):
        """``rows[i]`` (negative counts from the end; IndexError out of
        range) or ``rows[i:j:k]`` (a list)."""
        flat = self._flat
        n_rows = flat[_N_ROWS]
        if type(index) is int and 0 <= index < n_rows and \
                self._shape is None and not flat[_N_VARIANTS]:
            # rows[0] of a point read: the common case, without calls.
            n = flat[_N_COLUMNS]
            start = _HEADER + n + index * n
            return tuple(flat[start:start + n])
        if type(index) is not int:
            if isinstance(index, slice):
                return [self._row(r) for r in range(*index.indices(n_rows))]
            index = index.__index__()
        if index < 0:
            index += n_rows
        if not 0 <= index < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (index, n_rows))
        return self._row(index)

    def __iter__(self):
        """The rows, first to last."""
        row = self._row
        for r in range(self._flat[_N_ROWS]):
            yield row(r)

    def __reversed__(self):
        """The rows, last to first."""
        row = self._row
        for r in reversed(range(self._flat[_N_ROWS])):
            yield row(r)

    def __contains__(self, value):
        """Whether a row equals ``value``."""
        for row in self:
            if row is value or row == value:
                return True
        return False

    def index(self, value, start=0, stop=None):
        """The index of the first row equal to ``value`` (ValueError if
        none), searching ``rows[start:stop]``, as ``list.index()``."""
        for r in range(*slice(start, stop).indices(self._flat[_N_ROWS])):
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
        if len(other) != self._flat[_N_ROWS]:
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
        flat = self._flat
        n_rows = flat[_N_ROWS]
        n_cols = flat[_N_COLUMNS]
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
        if flat[_CHANGES]:
            text += ', rowcount=%d' % flat[_CHANGES]
            if self.lastrowid is not None:
                text += ', lastrowid=%d' % self.lastrowid
        if shown:
            text += ': ' + ', '.join(shown)
            if n_rows > len(shown):
                text += ', … %d more' % (n_rows - len(shown))
        return text + '>'

    # -- columns and values -----------------------------------------------

    @property
    def columns(self):
        """The column names, a tuple of str (without the ``[type]`` tags
        read by converters)."""
        shape = self._shape
        if shape is not None:
            return shape.columns
        flat = self._flat
        return tuple(flat[_HEADER:_HEADER + flat[_N_COLUMNS]])

    def column_index(self, name):
        """The index of the first column called ``name`` (KeyError if none)."""
        for c, column in enumerate(self.columns):
            if column == name:
                return c
        raise KeyError(name)

    def _cell(self, row, column):
        """The flat value at ``row``, ``column``, with IndexError out of
        range (negative indices count from the end)."""
        flat = self._flat
        n_rows = flat[_N_ROWS]
        n_cols = flat[_N_COLUMNS]
        if row < 0:
            row += n_rows
        if not 0 <= row < n_rows:
            raise IndexError('row %d out of range (%d rows)' % (row, n_rows))
        if column < 0:
            column += n_cols
        if not 0 <= column < n_cols:
            raise IndexError('column %d out of range (%d columns)'
                             % (column, n_cols))
        return flat[_HEADER + n_cols + row * n_cols + column]

    def value(self, row, column):
        """The value at ``row`` and ``column`` (an index or a column name),
        as a Python value (see the class documentation); a converter of the
        pools applies to it."""
        if isinstance(column, str):
            column = self.column_index(column)
        value = self._cell(row, column)
        if type(value) is _Variant:
            value = _variant_value(value)
        shape = self._shape
        if shape is not None and shape.converters is not None and \
                value is not None:
            if column < 0:
                column += self._flat[_N_COLUMNS]
            if shape.converters[column] is not None:
                value = shape.converters[column](value)
        return value

    @property
    def rowcount(self):
        """The number of rows the statement inserted, updated or deleted
        (``get_changes()``); 0 for a statement that does not write (where
        ``sqlite3`` says -1)."""
        return self._flat[_CHANGES]

    @property
    def lastrowid(self):
        """The rowid of the row the statement inserted, or None if it
        inserted nothing (a read, an ``INSERT OR IGNORE`` that ignored, a
        statement that changed nothing). As the library reports it: rowid 0
        reads as None."""
        flat = self._flat
        rowid = flat[_ROWID]
        if rowid == 0 or flat[_CHANGES] == 0:
            return None
        return rowid

    def as_dicts(self):
        """The rows as a list of dicts mapping column name to value. With
        duplicate column names the last column of that name wins."""
        names = self.columns
        shape = self._shape
        if shape is None:
            return [dict(zip(names, row)) for row in self]
        return [dict(zip(names, shape.convert(self._values(r))))
                for r in range(self._flat[_N_ROWS])]

    # -- the accessors of the C type, with its conversions -----------------

    def get_n_rows(self):
        """The number of rows (``len(rows)``)."""
        return self._flat[_N_ROWS]

    def get_n_columns(self):
        """The number of columns of the statement. A statement with no
        result columns (an ``INSERT`` without ``RETURNING``) has none; a
        ``SELECT`` that matched nothing still has its columns."""
        return self._flat[_N_COLUMNS]

    def get_column_name(self, column):
        """The name of result column ``column``, as SQLite reports it (with
        any ``[type]`` tag; see :attr:`columns`)."""
        flat = self._flat
        if not 0 <= column < flat[_N_COLUMNS]:
            raise IndexError('column %d out of range (%d columns)'
                             % (column, flat[_N_COLUMNS]))
        return flat[_HEADER + column]

    def get_value_type(self, row, column):
        """The storage class (``MsbDb.ValueType``) of one value."""
        value = self._cell(row, column)
        kind = type(value)
        if value is None:
            return _ValueType.NULL
        if kind is int:
            return _ValueType.INTEGER
        if kind is float:
            return _ValueType.REAL
        if kind is str or value.get_type_string() == '(ay)':
            return _ValueType.TEXT
        return _ValueType.BLOB

    def is_null(self, row, column):
        """Whether the value at ``row``, ``column`` is SQL NULL."""
        return self._cell(row, column) is None

    def get_int64(self, row, column):
        """A value as an int, converted as SQLite does: a REAL is truncated
        towards zero, TEXT is parsed; NULL and BLOB give 0."""
        value = self._cell(row, column)
        kind = type(value)
        if kind is int:
            return value
        if kind is float:
            return _to_int64(value)
        if kind is str:
            return _text_to_int(value)
        if kind is _Variant and value.get_type_string() == '(ay)':
            return _text_to_int(self._text_bytes(value).decode('latin-1'))
        return 0

    def get_double(self, row, column):
        """A value as a float: an INTEGER is converted, TEXT is parsed;
        NULL and BLOB give 0.0."""
        value = self._cell(row, column)
        kind = type(value)
        if kind is float:
            return value
        if kind is int:
            return float(value)
        if kind is str:
            return _text_to_float(value)
        if kind is _Variant and value.get_type_string() == '(ay)':
            return _text_to_float(self._text_bytes(value).decode('latin-1'))
        return 0.0

    @staticmethod
    def _text_bytes(value):
        return value.get_child_value(0).get_data_as_bytes().get_data() or b''

    def get_string(self, row, column):
        """A TEXT value as str; None for a value of another storage class
        (numbers are not formatted)."""
        value = self._cell(row, column)
        if type(value) is str:
            return value
        if type(value) is _Variant and value.get_type_string() == '(ay)':
            return _variant_value(value)
        return None

    def get_bytes(self, row, column):
        """A BLOB, or the bytes of a TEXT value, as ``GLib.Bytes``; None
        for NULL or a number."""
        value = self._cell(row, column)
        if type(value) is str:
            return GLib.Bytes.new(value.encode('utf-8'))
        if type(value) is _Variant:
            if value.get_type_string() == 'ay':
                return value.get_data_as_bytes()
            return GLib.Bytes.new(self._text_bytes(value))
        return None

    def get_changes(self):
        """The number of rows the statement inserted, updated or deleted
        (see :attr:`rowcount`)."""
        return self._flat[_CHANGES]

    def get_last_insert_rowid(self):
        """The rowid of the last row inserted on the connection, as seen
        right after the statement ran (see :attr:`lastrowid`)."""
        return self._flat[_ROWID]

    def to_variant(self):
        """The whole result as one ``GLib.Variant`` of type ``a(mv...)``:
        one tuple per row, one ``mv`` per column, NULL as nothing."""
        n_cols = self._flat[_N_COLUMNS]
        row_type = '(' + 'mv' * n_cols + ')'
        rows = []
        for r in range(self._flat[_N_ROWS]):
            cells = []
            for value in self._raw(r):
                if value is None:
                    inner = None
                elif type(value) is _Variant:
                    inner = value if value.get_type_string() == 'ay' else \
                        value.get_child_value(0)
                elif type(value) is int:
                    inner = _new_int64(value)
                elif type(value) is float:
                    inner = _new_double(value)
                else:
                    inner = _new_string(value)
                cells.append(_Variant.new_maybe(
                    _VT_V, None if inner is None else
                    _Variant.new_variant(inner)))
            rows.append(_new_tuple(cells))
        return _Variant.new_array(GLib.VariantType.new(row_type), rows)

    def dup_row(self, row):
        """Row ``row`` as the C library copies it: a list of values, NULL
        as None, a BLOB (or TEXT that is not clean UTF-8) as an ``ay``
        ``GLib.Variant``. ``rows[row]`` is the Python form."""
        if not 0 <= row < self._flat[_N_ROWS]:
            raise IndexError('row %d out of range (%d rows)'
                             % (row, self._flat[_N_ROWS]))
        values = self._raw(row)
        for i, v in enumerate(values):
            if type(v) is _Variant and v.get_type_string() == '(ay)':
                values[i] = v.get_child_value(0)
        return values


Rows.__module__ = 'gi.repository.MsbDb'
__all__.append('Rows')


def _rows(flat, owner):
    """The Rows of ``flat``, shaped as ``owner``'s settings ask."""
    rows = Rows(flat)
    if _shaping:
        _apply_shape(rows, owner)
    return rows


def _finished_rows(owner, c_finish, result):
    """The Rows of an async call's C ``_finish()``, shaped as ``owner``'s
    settings ask; its error classified."""
    try:
        c_rows = c_finish(owner, result)
    except _GError as e:
        _classify(e)
        raise
    return _rows(_c_dup_values(c_rows), owner)


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
            raise self.failure(e) from None
        return self.result

    def failure(self, error):
        """What to raise for ``error`` (a GLib.Error from C): the exception
        raised in the body if there was one, else ``error`` itself, each as
        its DB-API class."""
        exc = self.exc
        self.exc = None
        if exc is None:
            exc = error
        _classify(exc)
        return exc


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


# Bodies named by a number. A callable handed to C as a callback costs a
# libffi closure per call, which PyGObject 3.42 never frees (~130 bytes).
# Instead each pools gets one function for its lifetime, _run_body(), and
# every transaction or snapshot hands C the number of its _Body, found here
# while the call is in flight. The same numbers tag asyncio calls.
_live_bodies = {}
_numbers = itertools.count(1)
# Pools that have _run_body() registered. Weak: a pools wrapper that dies
# and comes back (its GObject alive meanwhile) only registers it again.
_dispatching = weakref.WeakSet()
_dispatching_lock = threading.Lock()
_c_set_body_func = MsbDb.Pools.set_body_func


def _run_body(connection, number, *unused):
    """The body function of every pools: runs the _Body numbered
    ``number``, on the writer thread or a read worker."""
    body = _live_bodies.get(number)
    if body is None:
        raise GLib.Error.new_literal(
            MsbDb.error_quark(), 'No transaction or snapshot body %d is in '
            'flight' % number, int(MsbDb.Error.FAILED))
    return body(connection)


def _with_body_func(pools):
    """``pools``, with _run_body() registered."""
    if pools not in _dispatching:
        with _dispatching_lock:
            if pools not in _dispatching:
                _c_set_body_func(pools, _run_body)
                _dispatching.add(pools)
    return pools


def _run_numbered(pools, body, call, cancellable):
    """A blocking transaction or snapshot of ``body``: ``call`` is the C
    function that takes the body's number."""
    _with_body_func(pools)
    number = next(_numbers)
    _live_bodies[number] = body
    try:
        return body.finish(call, pools, number, cancellable)
    finally:
        del _live_bodies[number]


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------

_c_execute_values = MsbDb.Connection.execute_values
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
        names, types, values = _encode(params, _IN_BODY)
        try:
            flat = _c_execute_values(self, sql, names, types, values)
        except _GError as e:
            _classify(e)
            raise
        rows = Rows(flat)
        if _shaping:
            _apply_shape(rows, _IN_BODY)
        return rows

    def is_read_only(self):
        """True inside a snapshot (a read connection), False inside a
        transaction."""
        return _c_is_read_only(self)

    def execute_values(self, sql, names, types, values):
        """The C call behind :meth:`execute`: parameters as strings, the
        result as one flat list (see :meth:`Pools.read_values`)."""
        try:
            return _c_execute_values(self, sql, names, types, values)
        except _GError as e:
            _classify(e)
            raise


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
            return Rows._from_c(_c_fetch(self, max_rows, cancellable))
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
            return Rows._from_c(_c_fetch_finish(self, result))
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


# --------------------------------------------------------------------------
# asyncio: awaitable calls, reported through one file descriptor per loop
# --------------------------------------------------------------------------
#
# An _async method called without a callback inside a running asyncio event
# loop returns an awaitable (an asyncio.Future). Each loop gets one
# MsbDb.ResultQueue: calls are started with a tag and no callback, finish on
# the pools' threads straight into the queue, and the loop, which watches
# the queue's descriptor with add_reader(), takes every finished call in one
# drain(). No GLib main loop, no thread of Python's, no closure per call.

_c_queue_new = MsbDb.ResultQueue.new
_c_queue_get_fd = MsbDb.ResultQueue.get_fd
_c_queue_drain = MsbDb.ResultQueue.drain
_c_queue_cancel = MsbDb.ResultQueue.cancel
_c_queue_read = MsbDb.ResultQueue.read
_c_queue_write = MsbDb.ResultQueue.write
_c_queue_transaction = MsbDb.ResultQueue.transaction
_c_queue_snapshot = MsbDb.ResultQueue.snapshot
_c_queue_open = MsbDb.ResultQueue.open
_c_queue_init_pools = MsbDb.ResultQueue.init_pools
_c_queue_close = MsbDb.ResultQueue.close

_KIND_ROWS = int(MsbDb.ResultKind.ROWS)
_KIND_BOOLEAN = int(MsbDb.ResultKind.BOOLEAN)
_KIND_OBJECT = int(MsbDb.ResultKind.OBJECT)
_KIND_ERROR = int(MsbDb.ResultKind.ERROR)
_IO_ERROR_DOMAIN = GLib.quark_to_string(Gio.io_error_quark())
_CANCELLED = int(Gio.IOErrorEnum.CANCELLED)

# Set once asyncio is imported: no loop can run before.
_get_running_loop = None
_Call = None


def _load_asyncio():
    global _get_running_loop, _Call
    import asyncio

    class Call(asyncio.Future):
        """An MsbDb call awaited in an asyncio loop. Cancelling it (as
        cancelling the task that awaits it does) cancels the database call:
        if it waits for its turn it never runs, a running read is
        interrupted; a write or transaction already running still finishes
        (committed or not, never half)."""

        __slots__ = ('_calls', '_tag', '_owner', '_body')

        def cancel(self, msg=None):
            if not super().cancel(msg=msg):
                return False
            calls = self._calls
            if calls.waiting.pop(self._tag, None) is not None:
                _c_queue_cancel(calls.queue, self._tag)
            return True

    Call.__name__ = Call.__qualname__ = 'Call'
    Call.__module__ = 'gi.repository.MsbDb'
    _Call = Call
    _get_running_loop = asyncio._get_running_loop


def _running_loop():
    """The asyncio event loop running in this thread, or None. Once asyncio
    is imported, this is asyncio's own _get_running_loop()."""
    global _running_loop
    if 'asyncio' not in sys.modules:
        return None
    _load_asyncio()
    _running_loop = _get_running_loop
    return _get_running_loop()


def _error_from(domain, code, message):
    """The exception for an error reported through the queue."""
    error = GLib.Error(message, domain, code)
    _classify(error)
    return error


class _LoopCalls(object):
    """The MsbDb calls awaited in one asyncio event loop: one result queue,
    whose descriptor the loop watches. It holds no reference to the loop:
    the loop holds it (through its reader)."""

    __slots__ = ('queue', 'waiting', 'reads', '__weakref__')

    def __init__(self, loop):
        self.queue = _c_queue_new()
        self.waiting = {}      # tag -> Call
        self.reads = None      # reads to start when this iteration ends
        loop.add_reader(_c_queue_get_fd(self.queue), self.drain)

    def start_reads(self):
        """Start the reads of this loop iteration (see _read_later())."""
        reads, self.reads = self.reads, None
        queue = self.queue
        for call, pools, sql, names, types, values, cancellable in reads:
            if call.done():
                continue          # cancelled before it started
            try:
                _c_queue_read(queue, call._tag, pools, sql, names, types,
                              values, cancellable)
            except BaseException as e:
                self.forget(call)
                call.set_exception(e)

    def start(self, loop, owner, body):
        """A new Call, waiting under a new tag."""
        tag = next(_numbers)
        call = _Call(loop=loop)
        call._calls = self
        call._tag = tag
        call._owner = owner
        call._body = body
        self.waiting[tag] = call
        return call

    def forget(self, call):
        """Drop ``call`` after its C function raised before queueing."""
        self.waiting.pop(call._tag, None)
        if call._body:
            _live_bodies.pop(call._tag, None)

    def drain(self):
        """The loop's reader callback: report every finished call."""
        flat = _c_queue_drain(self.queue)
        waiting = self.waiting
        end = len(flat)
        i = 0
        while i < end:
            tag = flat[i]
            kind = flat[i + 1]
            start = i + 3
            i = start + flat[i + 2]
            call = waiting.pop(tag, None)
            if call is None:
                _live_bodies.pop(tag, None)   # cancelled meanwhile
                continue
            try:
                if kind == _KIND_ROWS:
                    rows = Rows(flat[start:i])
                    if _shaping:
                        _apply_shape(rows, call._owner)
                    call.set_result(rows)
                else:
                    _report(call, tag, kind, flat, start)
            except BaseException as e:
                if not call.done():
                    call.set_exception(e)


def _report(call, tag, kind, flat, start):
    """Everything but rows: a boolean, an object, an error."""
    body = _live_bodies.pop(tag, None) if call._body else None
    if kind == _KIND_BOOLEAN:
        call.set_result(body.result if body is not None else flat[start])
    elif kind == _KIND_OBJECT:
        value = flat[start]
        if isinstance(value, Pools):
            value = _opened(value)
        call.set_result(value)
    elif flat[start] == _IO_ERROR_DOMAIN and flat[start + 1] == _CANCELLED:
        # Cancelled through its Gio.Cancellable: asyncio's way of saying so.
        super(_Call, call).cancel()
    else:
        error = _error_from(flat[start], flat[start + 1], flat[start + 2])
        if body is not None:
            error = body.failure(error)
        call.set_exception(error)


# Loop -> its _LoopCalls; weak keys: it goes with its loop.
_loop_calls = weakref.WeakKeyDictionary()
# A new object in every child of fork(): what the parent kept on its loops
# is not of this generation.
_generation = object()


def _calls_in(loop):
    """The _LoopCalls of ``loop``, made on first use. Kept on the loop
    itself (one attribute lookup per call) when it takes attributes, with
    the fork generation it belongs to; in a weak dictionary otherwise."""
    kept = getattr(loop, '_msb_db_calls', None)
    if kept is not None and kept[0] is _generation:
        return kept[1]
    calls = _loop_calls.get(loop)
    if calls is None:
        calls = _loop_calls[loop] = _LoopCalls(loop)
        try:
            loop._msb_db_calls = (_generation, calls)
        except AttributeError:
            pass
    return calls


def _read_later(loop, pools, sql, params, cancellable):
    """An awaited read, started when the loop's current iteration ends: the
    tasks that one drain() resumed each start a read, and handed over
    together they keep a read worker busy instead of waking it for each."""
    names, types, values = _encode(params, pools)
    calls = _calls_in(loop)
    tag = next(_numbers)
    call = _Call(loop=loop)
    call._calls = calls
    call._tag = tag
    call._owner = pools
    call._body = False
    calls.waiting[tag] = call
    reads = calls.reads
    if reads is None:
        reads = calls.reads = []
        loop.call_soon(calls.start_reads)
    reads.append((call, pools, sql, names, types, values, cancellable))
    return call


def _awaitable(submit, loop, owner, *args):
    """Start ``submit(queue, tag, *args)`` as a Call of ``loop``."""
    calls = _calls_in(loop)
    call = calls.start(loop, owner, False)
    try:
        submit(calls.queue, call._tag, *args)
    except BaseException:
        calls.forget(call)
        raise
    return call


def _awaitable_body(submit, loop, pools, body, cancellable):
    """Start a transaction or snapshot of ``body`` as a Call of ``loop``:
    ``submit(queue, tag, pools, number, cancellable)``, where the body's
    number is the call's tag."""
    _with_body_func(pools)
    calls = _calls_in(loop)
    call = calls.start(loop, pools, True)
    tag = call._tag
    _live_bodies[tag] = body
    try:
        submit(calls.queue, tag, pools, tag, cancellable)
    except BaseException:
        calls.forget(call)
        raise
    return call


def _no_callback(callback, user_data, more_user_data=()):
    """The running asyncio loop if an _async call made with these should
    return an awaitable, else None."""
    if callback is None and user_data is _OMITTED and not more_user_data:
        return _running_loop()
    return None


# --------------------------------------------------------------------------
# Pools.iterate(): a large result, a part at a time, blocking or awaited
# --------------------------------------------------------------------------

_c_queue_open_cursor = MsbDb.ResultQueue.open_cursor
_c_queue_fetch = MsbDb.ResultQueue.fetch


class _RowStream(object):
    """What :meth:`Pools.iterate` returns: iterable (``for``), and an
    async iterator (``async for``) and async context manager under
    asyncio. Each way reads the result from its start, in parts of
    ``size`` rows, through a :class:`Cursor`."""

    __slots__ = ('_pools', '_sql', '_params', '_cancellable', '_size',
                 '_cursor', '_part', '_done')

    def __init__(self, pools, sql, params, cancellable, size):
        self._pools = pools
        self._sql = sql
        self._params = params
        self._cancellable = cancellable
        self._size = size
        self._cursor = None
        self._part = []      # rows of the last part not yielded, reversed
        self._done = False

    def _shaped(self, rows):
        if _shaping:
            _apply_shape(rows, self._pools)
        return rows

    def __iter__(self):
        """The rows, fetched a part at a time on the calling thread."""
        pools = self._pools
        cursor = pools.open_cursor(self._sql, self._params, self._cancellable)
        try:
            while True:
                rows = self._shaped(cursor.fetch(self._size, self._cancellable))
                yield from rows
                if len(rows) < self._size:
                    return
        finally:
            cursor.close()

    def __aiter__(self):
        """Itself, under asyncio."""
        return self

    async def __anext__(self):
        """The next row; parts are fetched with the loop running."""
        while not self._part:
            if self._done:
                await self.aclose()
                raise StopAsyncIteration
            loop = _running_loop()
            if loop is None:
                raise RuntimeError('async for over Pools.iterate() needs a '
                                   'running asyncio event loop')
            pools = self._pools
            if self._cursor is None:
                names, types, values = _encode(self._params, pools)
                self._cursor = await _awaitable(
                    _c_queue_open_cursor, loop, pools, pools, self._sql,
                    names, types, values, self._cancellable)
            rows = await _awaitable(_c_queue_fetch, loop, pools,
                                    self._cursor, self._size,
                                    self._cancellable)
            self._done = len(rows) < self._size
            part = list(rows)
            part.reverse()
            self._part = part
        return self._part.pop()

    async def aclose(self):
        """Give the read connection back; the iteration ends."""
        self._done = True
        self._part = []
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()

    async def __aenter__(self):
        """Itself; the block's end closes it (see :meth:`aclose`)."""
        return self

    async def __aexit__(self, exc_type, exc_value, tb):
        """Close it; exceptions are not swallowed."""
        await self.aclose()
        return False


# --------------------------------------------------------------------------
# fork(): a child uses none of what its parent's threads made
# --------------------------------------------------------------------------

# What a child inherited, kept for ever: freeing a result queue would wait
# for its thread, and closing pools at exit would touch their threads, and
# those threads are only in the parent. (Inherited pools refuse every call
# with ClosedError; the child opens its own.)
_inherited_at_fork = []


def _after_fork_in_child():
    global _loop_calls, _generation, _dispatching
    _inherited_at_fork.append((list(_open_pools), dict(_loop_calls)))
    _open_pools.clear()
    _loop_calls = weakref.WeakKeyDictionary()
    _generation = object()
    _dispatching = weakref.WeakSet()
    _live_bodies.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_c_open = MsbDb.Pools.open
_c_open_read_only = MsbDb.Pools.open_read_only
_c_open_async = MsbDb.Pools.open_async
_c_open_finish = MsbDb.Pools.open_finish
_c_read_values = MsbDb.Pools.read_values
_c_read_async = MsbDb.Pools.read_async
_c_read_finish = MsbDb.Pools.read_finish
_c_write_values = MsbDb.Pools.write_values
_c_write_async = MsbDb.Pools.write_async
_c_write_finish = MsbDb.Pools.write_finish
_c_write_script = MsbDb.Pools.write_script
_c_write_script_async = MsbDb.Pools.write_script_async
_c_write_script_finish = MsbDb.Pools.write_script_finish
_c_open_cursor = MsbDb.Pools.open_cursor
_c_write_many = MsbDb.Pools.write_many
_c_write_many_values = MsbDb.Pools.write_many_values
_c_write_many_async = MsbDb.Pools.write_many_async
_c_write_many_finish = MsbDb.Pools.write_many_finish
_c_transaction_body = MsbDb.Pools.transaction_body
_c_transaction_async = MsbDb.Pools.transaction_async
_c_transaction_finish = MsbDb.Pools.transaction_finish
_c_snapshot_body = MsbDb.Pools.snapshot_body
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

        Called without a callback in a running asyncio event loop, it
        returns an awaitable: ``pools = await MsbDb.Pools.open_async(path)``.

        With a callback, ``callback(source, result)`` (or
        ``callback(source, result, user_data)``) runs in the caller's
        thread-default main context and calls
        ``MsbDb.Pools.open_finish(result)``, which returns the pools or
        raises (``source`` is not to be used before that). Without a
        callback and outside asyncio, a failure is logged."""
        size = _pool_size(max_read_connections)
        connect = _timeout_us('connect_timeout', connect_timeout)
        busy = _timeout_us('busy_timeout', busy_timeout)
        loop = _no_callback(callback, user_data)
        if loop is not None:
            if trusted_schema:
                pools = Pools(path=path, max_read_connections=size,
                              connect_timeout=connect, busy_timeout=busy,
                              trusted_schema=True)
                return _awaitable(_c_queue_init_pools, loop, None, pools,
                                  cancellable)
            return _awaitable(_c_queue_open, loop, None, path, size, connect,
                              busy, cancellable)
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

    async def __aenter__(self):
        """``async with pools:`` gives the pools themselves."""
        return self

    async def __aexit__(self, exc_type, exc_value, tb):
        """Close the pools (awaiting :meth:`close_async`), also when the
        block raised; exceptions are not swallowed."""
        await self.close_async()
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
        """Asynchronous :meth:`close`: the pools refuse every call made after
        this returns (:class:`ClosedError`), while what was queued before
        still runs and reports. Under asyncio, without a callback, an
        awaitable (``await pools.close_async()``), done once everything is
        closed; else ``callback(pools, result, *user_data)`` calls
        :meth:`close_finish`. Arguments as for :meth:`read_async`."""
        loop = _no_callback(callback, user_data, more_user_data)
        if loop is not None:
            return _awaitable(_c_queue_close, loop, self, self)
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
        names, types, values = _encode(params, self)
        try:
            flat = _c_read_values(self, sql, names, types, values, cancellable)
        except _GError as e:
            _classify(e)
            raise
        rows = Rows(flat)
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def read_async(self, sql, params=None, cancellable=None, callback=None,
                   user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`read`.

        Called without a callback in a running asyncio event loop, it
        returns an awaitable: ``rows = await pools.read_async(sql,
        params)``. Cancelling the task that awaits it cancels the read (it
        is interrupted, or never runs) and raises
        ``asyncio.CancelledError``; so does cancelling ``cancellable``.

        With a callback, ``callback(pools, result)`` runs in the caller's
        thread-default main context and calls :meth:`read_finish`. The
        arguments are those of the C function, in its order, and may also
        be given by keyword; as with PyGObject, ``user_data`` and any
        further positional values are passed on: ``read_async(sql, params,
        None, callback, a, b)`` calls ``callback(pools, result, a, b)``;
        without them the callback gets two arguments. Without a callback
        and outside asyncio, a failure is logged (logger ``MsbDb``) when
        the call completes."""
        if callback is None and user_data is _OMITTED and \
                not more_user_data:
            loop = _running_loop()
            if loop is not None:
                return _read_later(loop, self, sql, params, cancellable)
        _c_read_async(self, sql, _to_variant(params, self), cancellable,
                      *_callback_args(callback, user_data, more_user_data,
                                      Pools.read_finish))

    def read_finish(self, result):
        """Finish :meth:`read_async`: the :class:`Rows`, or the error
        raised."""
        return _finished_rows(self, _c_read_finish, result)

    def write(self, sql, params=None, cancellable=None):
        """Run one statement on the writer thread, committed when this
        returns; returns :class:`Rows` (``RETURNING`` rows, ``rowcount``,
        ``lastrowid``)."""
        names, types, values = _encode(params, self)
        try:
            flat = _c_write_values(self, sql, names, types, values,
                                   cancellable)
        except _GError as e:
            _classify(e)
            raise
        rows = Rows(flat)
        if _shaping:
            _apply_shape(rows, self)
        return rows

    def write_async(self, sql, params=None, cancellable=None, callback=None,
                    user_data=_OMITTED, *more_user_data):
        """Asynchronous :meth:`write`: an awaitable under asyncio, else the
        callback calls :meth:`write_finish`. Arguments as for
        :meth:`read_async`. Cancelling a write that waits for the writer
        means it never runs; one already running finishes, and the awaiter
        gets ``asyncio.CancelledError`` either way."""
        loop = _no_callback(callback, user_data, more_user_data)
        if loop is not None:
            names, types, values = _encode(params, self)
            return _awaitable(_c_queue_write, loop, self, self, sql, names,
                              types, values, cancellable)
        _c_write_async(self, sql, _to_variant(params, self), cancellable,
                       *_callback_args(callback, user_data, more_user_data,
                                       Pools.write_finish))

    def write_finish(self, result):
        """Finish :meth:`write_async`: the :class:`Rows`, or the error
        raised."""
        return _finished_rows(self, _c_write_finish, result)

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
        runs = None
        if not isinstance(param_rows, GLib.Variant):
            runs = _encode_runs(param_rows, self)
        try:
            if runs is not None:
                rows = Rows(_c_write_many_values(self, sql, *runs,
                                                 cancellable))
            else:
                rows = Rows._from_c(_c_write_many(
                    self, sql, _rows_to_variant(param_rows, self),
                    cancellable))
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
        return _finished_rows(self, _c_write_many_finish, result)

    # -- the sqlite3 habits -----------------------------------------------

    def executemany(self, sql, seq_of_params, cancellable=None):
        """Run ``sql`` once for each parameters of ``seq_of_params`` (any
        iterable of tuples or lists, or of dicts for named parameters), all
        in one transaction on the writer thread, as ``sqlite3``'s
        ``executemany()`` but all or nothing: every run is committed, or,
        if one fails, none (the error names the run). The statement is
        prepared once. Returns :class:`Rows`: ``rowcount`` is the total,
        and the ``RETURNING`` rows of every run are there. The parameters
        are read whole before anything runs."""
        return self.write_many(sql, seq_of_params, cancellable)

    def executescript(self, sql, cancellable=None):
        """Run every statement of ``sql`` (separated by semicolons; no
        parameters) in one transaction on the writer thread, as
        ``sqlite3``'s ``executescript()`` for a schema: all committed, or
        none. Transaction control (``BEGIN``, ``COMMIT``...) is refused.
        Returns True."""
        return self.write_script(sql, cancellable)

    def iterate(self, sql, params=None, cancellable=None, *,
                size=_FETCH_ROWS):
        """The rows of a read-only statement, read ``size`` at a time, with
        memory bounded by that: ``for row in pools.iterate(sql, params)``,
        or under asyncio ``async for row in pools.iterate(sql, params)``.
        Every row comes from one read transaction (one snapshot), which
        holds a read connection until the iteration ends: break out of a
        ``for`` loop freely (the generator closes it); an ``async for``
        that stops early should be inside ``async with pools.iterate(...)
        as rows:`` (or call ``await rows.aclose()``). Rows are shaped by
        the pools' row factory and converters."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError('size must be a positive int, not %r' % (size,))
        return _RowStream(self, sql, params, cancellable, size)

    # -- the C calls made for bindings ------------------------------------

    def read_values(self, sql, names, types, values, cancellable=None):
        """The C call behind :meth:`read`: parameters as strings (``names``
        or None, ``types``, ``values``), the result as one flat list (see
        the C documentation of ``msb_db_rows_dup_values()``); ``MsbDb.Rows
        (flat)`` makes it a :class:`Rows`."""
        try:
            return _c_read_values(self, sql, names, types, values,
                                  cancellable)
        except _GError as e:
            _classify(e)
            raise

    def write_values(self, sql, names, types, values, cancellable=None):
        """The C call behind :meth:`write`, as :meth:`read_values`."""
        try:
            return _c_write_values(self, sql, names, types, values,
                                   cancellable)
        except _GError as e:
            _classify(e)
            raise

    def write_many_values(self, sql, n_runs, types, values,
                          cancellable=None):
        """The C call behind :meth:`write_many`: ``n_runs`` runs whose
        parameters are given as strings, run after run."""
        try:
            return _c_write_many_values(self, sql, n_runs, types, values,
                                        cancellable)
        except _GError as e:
            _classify(e)
            raise

    def transaction_body(self, body, cancellable=None):
        """The C call behind :meth:`transaction`: runs the body numbered
        ``body`` with the function the override registered. Use
        :meth:`transaction`."""
        try:
            return _c_transaction_body(self, body, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def snapshot_body(self, body, cancellable=None):
        """The C call behind :meth:`snapshot`, as
        :meth:`transaction_body`."""
        try:
            return _c_snapshot_body(self, body, cancellable)
        except _GError as e:
            _classify(e)
            raise

    def set_body_func(self, func, *user_data):
        """Refused: the override registers its own body function on every
        pools, through which :meth:`transaction` and :meth:`snapshot` run
        Python callables without a closure per call. Replacing it would
        break them."""
        raise TypeError('set_body_func() belongs to the MsbDb override, '
                        'which runs transaction() and snapshot() bodies '
                        'through it; pass your function to transaction()')

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
        return _run_numbered(self, body, _c_transaction_body, cancellable)

    def transaction_async(self, func, *, cancellable=None, callback=None,
                          user_data=_OMITTED):
        """Asynchronous :meth:`transaction`. ``func(connection)`` runs on
        the writer thread.

        Called without a callback in a running asyncio event loop, it
        returns an awaitable: ``result = await
        pools.transaction_async(func)`` gives ``func``'s result, or raises
        its exception. ``func`` is a plain function (an ``async def`` one is
        refused with ``TypeError``); it runs on the writer thread while the
        loop goes on. Cancelling the awaiting task means a transaction that
        waits for the writer never runs; one already running finishes
        (committed or rolled back whole).

        With a callback, ``callback(pools, result)`` (or
        ``callback(pools, result, user_data)``) runs in the caller's
        thread-default main context, where :meth:`transaction_finish`
        returns ``func``'s result or raises its exception.

        Everything after ``func`` is keyword-only: a positional value
        could be meant as C's ``user_data`` (the C order is func,
        user_data, cancellable, callback) or as :meth:`read_async`'s
        cancellable, so any is refused with ``TypeError``. Without a
        callback and outside asyncio, a failure is logged (logger
        ``MsbDb``)."""
        body = _Body(func, 'transaction', _settings.get(self))
        loop = _no_callback(callback, user_data)
        if loop is not None:
            return _awaitable_body(_c_queue_transaction, loop, self, body,
                                   cancellable)
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
        return _run_numbered(self, body, _c_snapshot_body, cancellable)

    def snapshot_async(self, func, *, cancellable=None, callback=None,
                       user_data=_OMITTED):
        """Asynchronous :meth:`snapshot`: an awaitable under asyncio
        (``await pools.snapshot_async(func)`` gives ``func``'s result),
        else :meth:`snapshot_finish` in the callback returns ``func``'s
        result or raises its exception. Keyword-only arguments after
        ``func``, as :meth:`transaction_async`."""
        body = _Body(func, 'snapshot', _settings.get(self))
        loop = _no_callback(callback, user_data)
        if loop is not None:
            return _awaitable_body(_c_queue_snapshot, loop, self, body,
                                   cancellable)
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
