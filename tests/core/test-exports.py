#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shared library exports the public API, all of it and nothing else.

Usage: test-exports.py NM LIBRARY HEADER...

Reads the dynamic symbol table of LIBRARY (`NM -D --defined-only`) and the
function declarations of the installed HEADERs, and checks, printing TAP:

  1. every exported symbol is named msb_db_*;
  2. every exported symbol is declared in a public header;
  3. every function declared in a public header is exported;
  4. every such declaration is marked MSB_DB_AVAILABLE_IN_ALL.

The headers are read as C text, not through the preprocessor: comments and
directives are dropped, the rest is cut into top-level statements. Anything
the reader does not recognise is an error, so that a declaration it cannot
parse fails the test instead of going unchecked.
"""

import re
import subprocess
import sys

EXPORT_MACRO = "MSB_DB_AVAILABLE_IN_ALL"
PREFIX = "msb_db_"

# Type macros that declare NAME_get_type (): their second argument is NAME.
DECLARE_TYPE_MACROS = {
    "G_DECLARE_FINAL_TYPE",
    "G_DECLARE_DERIVABLE_TYPE",
    "G_DECLARE_INTERFACE",
}
# Macros that define static inline helpers only: nothing to export.
INLINE_ONLY_MACROS = {
    "G_DEFINE_AUTOPTR_CLEANUP_FUNC",
    "G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC",
    "G_DEFINE_AUTO_CLEANUP_FREE_FUNC",
}

TOKEN_RE = re.compile(r"""
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<other>.)
""", re.S | re.X)
ATTRIBUTE_RE = re.compile(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)")
# An all-caps word not called like a function: G_BEGIN_DECLS, G_GNUC_CONST,
# MSB_DB_AVAILABLE_IN_ALL, ...
BARE_MACRO_RE = re.compile(r"\b[A-Z][A-Z0-9_]*\b(?!\s*\()")
MACRO_CALL_RE = re.compile(r"^([A-Z][A-Z0-9_]*)\s*\((.*)\)$", re.S)
CALLED_NAME_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


class HeaderError(Exception):
    pass


def strip_comments(text):
    """The text without comments; strings are kept, so that a // or /* in a
    string literal is not taken for a comment."""
    return "".join(m.group(0) for m in TOKEN_RE.finditer(text)
                   if m.lastgroup != "comment")


def strip_directives(text):
    """The text without preprocessor lines (and their continuations)."""
    kept = []
    continued = False
    for line in text.split("\n"):
        is_directive = continued or line.lstrip().startswith("#")
        continued = is_directive and line.rstrip().endswith("\\")
        kept.append("" if is_directive else line)
    return "\n".join(kept)


def statements(text):
    """Top-level statements: up to a ';', a function body's closing '}', or
    the ')' that closes a macro call standing alone (G_DECLARE_FINAL_TYPE)."""
    current = []
    depth = 0
    for ch in text:
        current.append(ch)
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth < 0:
                raise HeaderError("unbalanced '%s'" % ch)
        if depth != 0:
            continue
        statement = "".join(current).strip()
        if ch == ";":
            yield statement
            current = []
        elif ch == "}" and re.search(r"\)\s*\{", statement) and "typedef" not in statement:
            yield statement  # a static inline function
            current = []
        elif ch == ")" and MACRO_CALL_RE.match(BARE_MACRO_RE.sub("", statement).strip()):
            yield statement
            current = []
    rest = BARE_MACRO_RE.sub("", "".join(current)).strip()
    if rest:
        raise HeaderError("text after the last statement: %r" % rest)


def declarations(path):
    """Yields (function name, marked with EXPORT_MACRO) for each function
    the header declares for the library to export."""
    with open(path, encoding="utf-8") as f:
        text = strip_directives(strip_comments(f.read()))

    for statement in statements(text):
        marked = re.search(r"\b%s\b" % EXPORT_MACRO, statement) is not None
        plain = BARE_MACRO_RE.sub("", ATTRIBUTE_RE.sub("", statement)).strip()
        plain = plain.rstrip(";").strip()
        if not plain:
            continue
        if re.match(r"typedef\b", plain):
            continue
        if re.match(r"(struct|union|enum)\b[^(]*\{", plain):
            continue  # a type's definition
        if re.match(r"static\b", plain):
            if "{" not in plain:
                raise HeaderError("static declaration without a body: %r" % plain)
            continue
        call = MACRO_CALL_RE.match(plain)
        if call is not None:
            macro, args = call.group(1), call.group(2)
            if macro in DECLARE_TYPE_MACROS:
                yield args.split(",")[1].strip() + "_get_type", marked
            elif macro not in INLINE_ONLY_MACROS:
                raise HeaderError("unknown macro %s: %r" % (macro, plain))
            continue
        if "{" in plain:
            raise HeaderError("a body that is not a static inline function: %r" % plain)
        name = CALLED_NAME_RE.search(plain)
        if name is None:
            raise HeaderError("not a function declaration: %r" % plain)
        yield name.group(1), marked


def exported_symbols(nm, library):
    output = subprocess.run([nm, "-D", "--defined-only", library],
                            check=True, capture_output=True, text=True).stdout
    symbols = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            symbols.add(fields[2].split("@")[0])
    return symbols


class Tap:
    def __init__(self, n_tests):
        self.n = 0
        self.failed = 0
        print("1..%d" % n_tests)

    def check(self, description, problems):
        self.n += 1
        problems = sorted(problems)
        if problems:
            self.failed += 1
            print("not ok %d - %s" % (self.n, description))
            print("# %d:" % len(problems))
            for problem in problems:
                print("#   %s" % problem)
        else:
            print("ok %d - %s" % (self.n, description))


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    nm, library, headers = argv[1], argv[2], argv[3:]

    declared = {}
    for header in headers:
        try:
            for name, marked in declarations(header):
                declared[name] = declared.get(name, False) or marked
        except HeaderError as e:
            print("Bail out! %s: %s" % (header, e))
            return 1
    exported = exported_symbols(nm, library)
    if not declared or not exported:
        print("Bail out! %d declarations in %d headers, %d exported symbols"
              % (len(declared), len(headers), len(exported)))
        return 1
    print("# %d functions declared in %d public headers, %d symbols exported"
          % (len(declared), len(headers), len(exported)))

    tap = Tap(4)
    tap.check("every exported symbol is named %s*" % PREFIX,
              [s for s in exported if not s.startswith(PREFIX)])
    tap.check("every exported symbol is declared in a public header",
              exported - declared.keys())
    tap.check("every function of the public headers is exported",
              declared.keys() - exported)
    tap.check("every function of the public headers is marked %s" % EXPORT_MACRO,
              [name for name, marked in declared.items() if not marked])
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
