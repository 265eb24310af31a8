# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers of the Python tests (not a test file itself).

The tests run against the uninstalled build: tests/python/meson.build sets
GI_TYPELIB_PATH (introspection build dir), LD_LIBRARY_PATH (src build dir)
and, for the override tests, MSB_DB_OVERRIDE_DIR + PYTHONPATH (the source
directory holding gi/overrides/MsbDb.py).
"""

import faulthandler
import os
import shutil
import sys
import tempfile
import unittest

# A hang (deadlock) must fail the test with the stacks of every thread, not
# sit until meson's timeout kills it silently.
WATCHDOG_SECS = int(os.environ.get('MSB_DB_TEST_WATCHDOG', '60'))
faulthandler.enable()


def import_msbdb(use_override):
    """Import gi.repository.MsbDb with or without gi.overrides.MsbDb.

    Without: a None entry in sys.modules makes PyGObject's override lookup
    (pkgutil.get_loader) report that there is none, even if one is installed.
    With: the source-tree override is put first on gi.overrides.__path__ so
    an older installed copy cannot shadow it.
    """
    if use_override:
        import gi.overrides
        src = os.environ.get('MSB_DB_OVERRIDE_DIR')
        if src:
            path = os.path.join(src, 'gi', 'overrides')
            if path not in gi.overrides.__path__:
                gi.overrides.__path__.insert(0, path)
    else:
        sys.modules['gi.overrides.MsbDb'] = None
    import gi
    gi.require_version('MsbDb', '1.0')
    from gi.repository import MsbDb
    return MsbDb


class DbTestCase(unittest.TestCase):
    """A fresh temporary directory per test, and a watchdog."""

    def setUp(self):
        faulthandler.dump_traceback_later(WATCHDOG_SECS, exit=True)
        self.tmpdir = tempfile.mkdtemp(prefix='msb-db-py-')
        self.path = os.path.join(self.tmpdir, 'test.db')
        self.addCleanup(shutil.rmtree, self.tmpdir, True)
        self.addCleanup(faulthandler.cancel_dump_traceback_later)

    def run_loop(self, loop, timeout=20):
        """Run a GLib.MainLoop; fail if it is still running after timeout."""
        from gi.repository import GLib
        timed_out = []

        def on_timeout():
            timed_out.append(True)
            loop.quit()
            return GLib.SOURCE_REMOVE

        source = GLib.timeout_add_seconds(timeout, on_timeout)
        loop.run()
        if not timed_out:
            GLib.source_remove(source)
        self.assertFalse(timed_out, 'main loop timed out after %ds' % timeout)

    def assertMsbError(self, ctx_exception, code, MsbDb):
        """ctx_exception is a GLib.Error of MsbDb's domain with this code."""
        from gi.repository import GLib
        e = ctx_exception
        self.assertIsInstance(e, GLib.Error)
        self.assertEqual(e.domain, 'msb-db-error-quark', e.message)
        self.assertEqual(e.code, int(code),
                         'expected %s, got code %d: %s'
                         % (code, e.code, e.message))
        self.assertTrue(e.matches(MsbDb.error_quark(), code))
