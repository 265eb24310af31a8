# SPDX-License-Identifier: LGPL-2.1-or-later
"""Help and typing: the override's docstrings and signatures, and the .pyi
stub checked against the live module (a stubtest of our own: no PyPI).

The stub must name every public name of gi.repository.MsbDb (introspected
and override) and nothing else; in every class, every member; and for every
function, the same parameters: names, kinds (positional, *args,
keyword-only, **kwargs) and which ones are optional. Introspected functions
have no inspect.signature(); their parameters are read from the signature
line PyGObject writes into their __doc__.
"""

import ast
import inspect
import os
import pydoc
import unittest

from msbdb_testlib import import_msbdb

MsbDb = import_msbdb(use_override=True)

import gi.overrides.MsbDb as override_module  # noqa: E402
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import GLib, GObject, Gio  # noqa: E402

Introspected = get_introspection_module('MsbDb')

# Members every class has that the stub does not repeat.
IGNORED = {'__module__', '__doc__', '__gsignals__', '__gproperties__',
           '__slots__', '__dict__', '__weakref__', '__qualname__',
           '__init_subclass__', '__abstractmethods__'}


def stub_path():
    return os.path.splitext(override_module.__file__)[0] + '.pyi'


def load_stub():
    with open(stub_path(), encoding='utf-8') as f:
        return ast.parse(f.read(), stub_path())


def is_public(name):
    return not name.startswith('_') or (name.startswith('__') and
                                        name.endswith('__'))


# -- parameters -----------------------------------------------------------
# A parameter is (name, kind, optional); kind is one of the four below.

POSITIONAL, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD = (
    'positional', '*args', 'keyword-only', '**kwargs')


def stub_params(node):
    args = node.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    params = [(a.arg, POSITIONAL, i >= first_default)
              for i, a in enumerate(positional)]
    if args.vararg:
        params.append((args.vararg.arg, VAR_POSITIONAL, True))
    params += [(a.arg, KEYWORD_ONLY, d is not None)
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        params.append((args.kwarg.arg, VAR_KEYWORD, True))
    return params


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: POSITIONAL,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: POSITIONAL,
    inspect.Parameter.VAR_POSITIONAL: VAR_POSITIONAL,
    inspect.Parameter.KEYWORD_ONLY: KEYWORD_ONLY,
    inspect.Parameter.VAR_KEYWORD: VAR_KEYWORD,
}


def python_params(func):
    return [(p.name, _KINDS[p.kind],
             p.default is not p.empty or
             p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            for p in inspect.signature(func).parameters.values()]


def introspected_params(func):
    """From PyGObject's ``name(self, a:int, b:Gio.Cancellable=None) -> T``."""
    line = func.__doc__.splitlines()[0]
    inner = line[line.index('(') + 1:line.rindex(')')]
    params = []
    for part in filter(None, (p.strip() for p in inner.split(','))):
        name = part.split('=')[0].split(':')[0].strip()
        params.append((name, POSITIONAL, '=' in part))
    return params


def live_params(value):
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if type(value).__name__ in ('FunctionInfo', 'VFuncInfo'):
        return introspected_params(value)
    return python_params(value)


# -- members --------------------------------------------------------------

def live_members(cls):
    """name -> value (a function, property, descriptor...) or None for a
    data member, of what MsbDb itself defines on ``cls``."""
    members = {}
    info = getattr(cls, '__info__', None)
    if info is not None:
        for method in info.get_methods():
            members[method.get_name()] = getattr(cls, method.get_name())
        if hasattr(info, 'get_fields'):
            for field in info.get_fields():
                members[field.get_name()] = None
        if hasattr(info, 'get_values'):
            for value in info.get_values():
                members[value.get_name().upper()] = None
    if cls is not getattr(Introspected, cls.__name__, None):
        # Defined (or overridden) in Python: its own attributes, which
        # replace the introspected ones of the same name.
        for name, value in vars(cls).items():
            if name in IGNORED or not is_public(name):
                continue
            if name.startswith('__') and not (
                    callable(value) or
                    isinstance(value, (property, staticmethod))):
                continue    # e.g. __hash__ = None
            members[name] = value
    return members


def stub_members(class_node):
    """name -> list of the stub nodes for it (FunctionDef, AnnAssign...)."""
    members = {}
    for node in class_node.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AnnAssign):
            members.setdefault(node.target.id, []).append(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                members.setdefault(target.id, []).append(node)
    return members


def decorators(node):
    return [ast.unparse(d) for d in getattr(node, 'decorator_list', ())]


def module_stub_names(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names[target.id] = node
    return {n: v for n, v in names.items() if not n.startswith('_')}


class TestStub(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = load_stub()
        cls.stub = module_stub_names(cls.tree)
        cls.live = {n: getattr(MsbDb, n) for n in dir(MsbDb)
                    if not n.startswith('_')}

    def test_stub_is_beside_the_override(self):
        self.assertTrue(os.path.isfile(stub_path()), stub_path())

    def test_same_module_names(self):
        self.assertEqual(sorted(set(self.live) - set(self.stub)), [],
                         'public names missing from the stub')
        self.assertEqual(sorted(set(self.stub) - set(self.live)), [],
                         'names in the stub that the module does not have')

    def test_kinds_of_names(self):
        for name, node in self.stub.items():
            value = self.live[name]
            if isinstance(node, ast.ClassDef):
                self.assertTrue(inspect.isclass(value), name)
            elif isinstance(node, ast.FunctionDef):
                self.assertTrue(callable(value) and
                                not inspect.isclass(value), name)
            else:
                self.assertFalse(callable(value), name)

    def test_bases_exist(self):
        # The stub's base classes are real: GObject.GEnum, Gio.Initable...
        namespace = {'GLib': GLib, 'GObject': GObject, 'Gio': Gio}
        for name, node in self.stub.items():
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                text = ast.unparse(base)
                if text.startswith('Sequence'):
                    self.assertTrue(issubclass(self.live[name],
                                               __import__('collections.abc')
                                               .abc.Sequence), name)
                    continue
                if '.' in text:
                    head, attr = text.split('.', 1)
                    base_cls = getattr(namespace[head], attr)
                else:
                    base_cls = self.live[text]
                self.assertTrue(issubclass(self.live[name], base_cls),
                                '%s is not a %s' % (name, text))

    def test_module_functions(self):
        for name, node in self.stub.items():
            if isinstance(node, ast.FunctionDef):
                self.assertEqual(stub_params(node),
                                 live_params(self.live[name]), name)

    def test_class_members_and_signatures(self):
        checked = 0
        for name, node in self.stub.items():
            if not isinstance(node, ast.ClassDef):
                continue
            cls = self.live[name]
            live = live_members(cls)
            stub = stub_members(node)
            missing = sorted(set(live) - set(stub))
            self.assertEqual(missing, [], '%s: not in the stub' % name)
            for member in sorted(set(stub) - set(live)):
                # Only dunders the class really has (e.g. __hash__ = None).
                self.assertTrue(member.startswith('__') and
                                hasattr(cls, member),
                                '%s.%s is not in the module' % (name, member))
            for member, nodes in stub.items():
                value = live.get(member)
                if value is None:
                    for n in nodes:
                        self.assertNotIsInstance(
                            n, (ast.FunctionDef, ast.AsyncFunctionDef),
                            '%s.%s' % (name, member))
                    continue
                self.check_member(name, member, value, nodes)
                checked += 1
        self.assertGreater(checked, 60)

    def check_member(self, cls_name, member, value, nodes):
        where = '%s.%s' % (cls_name, member)
        functions = [n for n in nodes
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.assertTrue(functions, '%s: the stub has no def for it' % where)
        # `async def` in the stub exactly for the coroutine functions.
        for n in functions:
            self.assertEqual(isinstance(n, ast.AsyncFunctionDef),
                             inspect.iscoroutinefunction(value), where)
        if isinstance(value, property):
            by_role = {}
            for n in functions:
                role = 'setter' if any(d.endswith('.setter')
                                       for d in decorators(n)) else 'getter'
                self.assertNotIn(role, by_role, where)
                by_role[role] = n
            self.assertIn('property', decorators(by_role['getter']), where)
            self.assertEqual(stub_params(by_role['getter']),
                             python_params(value.fget), where)
            self.assertEqual('setter' in by_role, value.fset is not None,
                             where)
            if value.fset is not None:
                self.assertEqual(stub_params(by_role['setter']),
                                 python_params(value.fset), where)
            return
        static = isinstance(value, staticmethod) or (
            type(value).__name__ == 'FunctionInfo' and
            not value.is_method())
        expected = live_params(value)
        for n in functions:     # every @overload agrees
            self.assertEqual('staticmethod' in decorators(n), static, where)
            self.assertEqual(stub_params(n), expected, where)


class TestHelp(unittest.TestCase):
    """Every public function the override defines has a docstring and an
    inspect.signature(); help() shows them, not FunctionInfo internals."""

    def override_functions(self):
        for name in override_module.__all__:
            value = getattr(override_module, name)
            if inspect.isfunction(value):
                yield name, value
                continue
            if not inspect.isclass(value):
                continue
            for member, attr in vars(value).items():
                if member in IGNORED or member.startswith('_') and \
                        not (member.startswith('__') and member != '__hash__'):
                    continue
                if isinstance(attr, property):
                    yield '%s.%s' % (name, member), attr.fget
                elif isinstance(attr, staticmethod):
                    yield '%s.%s' % (name, member), attr.__func__
                elif inspect.isfunction(attr):
                    yield '%s.%s' % (name, member), attr

    def test_docstrings_and_signatures(self):
        seen = set()
        for name, func in self.override_functions():
            seen.add(name)
            self.assertTrue(func.__doc__ and func.__doc__.strip(),
                            '%s has no docstring' % name)
            inspect.signature(func)
        for name in ('Pools.read_finish', 'Pools.write_finish',
                     'Pools.transaction_finish', 'Pools.snapshot_finish',
                     'Pools.open_finish', 'Pools.close', 'Pools.close_async',
                     'Pools.close_finish', 'Pools.row_factory',
                     'Rows.rowcount', 'Rows.lastrowid', 'Row.keys',
                     'params_to_variant', 'Connection.execute'):
            self.assertIn(name, seen)
        for cls in (MsbDb.Pools, MsbDb.Rows, MsbDb.Row, MsbDb.Connection,
                    MsbDb.DatabaseError, MsbDb.IntegrityError,
                    MsbDb.BusyError):
            self.assertTrue(cls.__doc__ and cls.__doc__.strip(), cls)

    def test_every_msbdb_method_is_python(self):
        # help() on any method MsbDb defines on these classes shows a
        # signature and a docstring, not FunctionInfo internals.
        for cls in (MsbDb.Pools, MsbDb.Rows, MsbDb.Connection):
            for name, value in live_members(cls).items():
                if isinstance(value, (staticmethod, property)):
                    continue
                self.assertTrue(inspect.isfunction(value),
                                '%s.%s is %r' % (cls.__name__, name, value))
                self.assertTrue(value.__doc__ and value.__doc__.strip(),
                                '%s.%s' % (cls.__name__, name))

    def test_help_text(self):
        for func in (MsbDb.Pools.close, MsbDb.Pools.read_finish,
                     MsbDb.Pools.transaction_async, MsbDb.Pools.open,
                     MsbDb.Pools.get_path, MsbDb.Rows.get_int64,
                     MsbDb.Connection.is_read_only):
            text = pydoc.render_doc(func, renderer=pydoc.plaintext)
            self.assertNotIn('FunctionInfo', text)
            self.assertIn('(', text)
        self.assertEqual(str(inspect.signature(MsbDb.Pools.read_finish)),
                         '(self, result)')
        self.assertEqual(str(inspect.signature(MsbDb.Pools.close)),
                         '(self, cancellable=None)')


if __name__ == '__main__':
    unittest.main(verbosity=2)
