#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every file of the source tree says under which licence it is.

Usage: check-licenses.py SOURCE_ROOT

A file states its licence with an `SPDX-License-Identifier:` line (the
first one counts; REUSE reads the whole file too), or is covered by a path of REUSE.toml (for files that cannot
carry a comment: fuzzer seeds, gi-docgen pages). The files are those git
knows (tracked, or new and not ignored); without git, every file under
SOURCE_ROOT outside build directories. Prints TAP:

  1. every file has a licence;
  2. every licence used has its text in LICENSES/;
  3. every text in LICENSES/ is used;
  4. every path of REUSE.toml matches a file.
"""

import os
import re
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

SPDX_RE = re.compile(r"SPDX-License-Identifier:\s*(.*?)\s*(?:\*/|-->)?\s*$")
# Files the REUSE specification leaves out: the licence texts themselves
# and the REUSE metadata.
IGNORED_RE = re.compile(r"^(COPYING|LICENSE)[^/]*$|^LICENSES/|^REUSE\.toml$|^\.reuse/")


def source_files(root):
    try:
        output = subprocess.run(
            ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True, capture_output=True).stdout
        names = output.decode("utf-8").split("\0")
        return sorted(n for n in set(names) if n and os.path.isfile(os.path.join(root, n)))
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for directory, subdirs, names in os.walk(root):
        if "meson-private" in subdirs:  # a build directory
            subdirs[:] = []
            continue
        subdirs[:] = [d for d in subdirs if d not in (".git", "__pycache__", "node_modules")]
        for name in names:
            files.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(files)


def licence_ids(expression):
    """The licence identifiers of an SPDX expression."""
    words = re.split(r"[\s()]+", expression)
    return {w for w in words if w and w not in ("AND", "OR", "WITH")}


def header_licence(path):
    """The SPDX expression the file states, or None."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for line in text.splitlines():
        match = SPDX_RE.search(line)
        if match and match.group(1):
            return match.group(1)
    return None


def glob_regex(pattern):
    """A REUSE.toml path: `*` matches within one directory, `**` across."""
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join({"**": ".*", "*": "[^/]*"}.get(p, re.escape(p)) for p in parts)
    return re.compile(regex + r"\Z")


def reuse_annotations(root):
    """[(path pattern, compiled regex, expression)] from REUSE.toml."""
    path = os.path.join(root, "REUSE.toml")
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = tomllib.load(f)
    annotations = []
    for annotation in data.get("annotations", []):
        patterns = annotation["path"]
        if isinstance(patterns, str):
            patterns = [patterns]
        for pattern in patterns:
            annotations.append((pattern, glob_regex(pattern),
                                annotation["SPDX-License-Identifier"]))
    return annotations


def check(description, problems, number):
    problems = sorted(problems)
    if not problems:
        print("ok %d - %s" % (number, description))
        return True
    print("not ok %d - %s" % (number, description))
    for problem in problems:
        print("#   %s" % problem)
    return False


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    root = argv[1]
    if tomllib is None:
        print("Bail out! Python %s has no tomllib to read REUSE.toml" % sys.version.split()[0])
        return 1

    annotations = reuse_annotations(root)
    files = [f for f in source_files(root) if not IGNORED_RE.search(f)]
    if not files:
        print("Bail out! no files found under %s" % root)
        return 1

    unlicensed = []
    used = {}
    matched_patterns = set()
    for name in files:
        expression = header_licence(os.path.join(root, name))
        for pattern, regex, annotated in annotations:
            if regex.match(name):
                matched_patterns.add(pattern)
                if expression is None:
                    expression = annotated
        if expression is None:
            unlicensed.append(name)
            continue
        for licence in licence_ids(expression):
            used.setdefault(licence, name)

    texts = {os.path.splitext(n)[0] for n in os.listdir(os.path.join(root, "LICENSES"))
             if n.endswith(".txt")} if os.path.isdir(os.path.join(root, "LICENSES")) else set()

    print("# %d files, %d licences used: %s" % (len(files), len(used), ", ".join(sorted(used))))
    print("1..4")
    results = [
        check("every file has an SPDX-License-Identifier line or a REUSE.toml path",
              unlicensed, 1),
        check("every licence used has its text in LICENSES/",
              ["%s (first used by %s)" % (l, f) for l, f in used.items() if l not in texts], 2),
        check("every text in LICENSES/ is used",
              ["LICENSES/%s.txt" % t for t in texts - used.keys()], 3),
        check("every REUSE.toml path matches a file",
              [p for p, _, _ in annotations if p not in matched_patterns], 4),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
