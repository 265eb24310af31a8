#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""chart.py: the same-run comparisons of the benchmarks, as one SVG.

    /usr/bin/python3 bench/chart.py [--c BUILD/bench/bench-c.json]
                                    [--python BUILD/bench/bench-python.json]
                                    [--out bench/results.svg] [--title TEXT]
or `meson compile -C BUILD bench-chart` (after `bench` and `bench-python`).

One panel per comparison: horizontal bars of each scenario's ratio to the
reference of that comparison (the baseline, or the peer a target names),
measured in the same run; a line at 1.0x and one at each target; each bar
labelled with its ops/s and CPU per operation (and the cores other
processes used meanwhile, when over 0.25), a whisker from the slowest to the
fastest of its --rounds runs. Scenarios missing from the
JSON (not selected, or a peer that was not installed) are left out, and a
panel with nothing to compare is dropped. Needs Debian's python3-matplotlib.
"""

import argparse
import json
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

# Deterministic SVG: the same JSON gives the same file.
plt.rcParams['svg.hashsalt'] = 'msb-db-bench'
plt.rcParams['svg.fonttype'] = 'none'
plt.rcParams['font.size'] = 9

COLORS = {'baseline': '#9e9e9e', 'peer': '#e69f00', 'msbdb': '#0072b2', 'future': '#cccccc'}
TARGET_COLOR = '#d55e00'
MAX_SHOWN = 3.0          # ratios above this are clipped, their value written


def kind_of(name):
    if name.startswith(('raw.', 'sqlite3.')):
        return 'baseline'
    if name.startswith(('better-sqlite3.', 'gom.', 'aiosqlite.')):
        return 'peer'
    return 'msbdb'


# A panel: title, reference scenario, rows, targets. A target is
# (value, label) or (callable(ratios) -> value or None, label).
C_PANELS = [
    {'title': 'Blocking single-row inserts, one thread unless named (ratio to raw sqlite3 autocommit)',
     'ref': 'raw.insert.autocommit',
     'rows': ['raw.insert.autocommit', 'better-sqlite3.insert.autocommit', 'pools.insert.sync.1t',
              'pools.insert.sync.8t'],
     'targets': [(0.8, 'write(), 1 thread: >= 0.8x')]},
    {'title': 'Blocking point reads, one thread unless named (ratio to raw sqlite3)',
     'ref': 'raw.read.point',
     'rows': ['raw.read.point', 'better-sqlite3.read.point', 'pools.read.sync.1t',
              'pools.read.sync.4t'],
     'targets': [(0.6, 'read(): >= 0.6x raw'),
                 (lambda r: r.get('better-sqlite3.read.point'), 'read(): >= better-sqlite3')]},
    {'title': "Inserts against one writer's limit (ratio to raw batched inserts, 1000 rows/txn)",
     'ref': 'raw.insert.batched',
     'rows': ['raw.insert.batched', 'better-sqlite3.insert.batched', 'pools.write_many',
              'pools.insert.async.1t', 'pools.insert.async.burst', 'pools.insert.async.8t',
              'pools.insert.async.2proc', 'gom.insert.queued.reuse', 'raw.insert.autocommit'],
     'targets': [(0.4, 'async: >= 0.4x'), (0.7, 'write_many: >= 0.7x')]},
    {'title': 'Async point reads, 64 in flight (ratio to raw sqlite3 point reads)',
     'ref': 'raw.read.point',
     'rows': ['raw.read.point', 'gom.read.queued', 'gom.read.queued.reuse', 'pools.read.async.c1',
              'pools.read.async.c2', 'pools.read.async.c4'],
     'targets': [(0.5, 'c4: >= 0.5x raw'),
                 (lambda r: 1.5 * max(r.get('gom.read.queued', 0), r.get('gom.read.queued.reuse', 0))
                  or None, 'c4: >= 1.5x GOM')]},
    {'title': 'Mixed 90 % reads / 10 % inserts (ratio to raw sqlite3 on one connection)',
     'ref': 'raw.mixed',
     'rows': ['raw.mixed', 'gom.mixed.queued.reuse', 'pools.mixed.async'],
     'targets': []},
]

PY_PANELS = [
    {'title': 'Python, blocking calls (ratio to stdlib sqlite3)',
     'ref': None,   # each row against its own stdlib row
     'pairs': [('sqlite3.insert.autocommit', 'sqlite3.insert.autocommit'),
               ('msbdb.insert.sync', 'sqlite3.insert.autocommit'),
               ('sqlite3.read.point', 'sqlite3.read.point'),
               ('msbdb.read.sync', 'sqlite3.read.point')],
     'targets': []},
    {'title': 'Python, async inserts, 64 in flight (ratio to aiosqlite)',
     'ref': 'aiosqlite.insert',
     'rows': ['aiosqlite.insert', 'msbdb.insert.async', 'msbdb.asyncio.insert'],
     'targets': [(2.0, '>= 2x aiosqlite')]},
    {'title': 'Python, async point reads, 64 in flight (ratio to aiosqlite)',
     'ref': 'aiosqlite.read',
     'rows': ['aiosqlite.read', 'msbdb.read.async', 'msbdb.read.async.1conn',
              'msbdb.read.async.lean', 'msbdb.asyncio.read'],
     'targets': [(2.0, '>= 2x aiosqlite')]},
    {'title': 'Python, async mixed 90/10, 64 in flight (ratio to aiosqlite)',
     'ref': 'aiosqlite.mixed',
     'rows': ['aiosqlite.mixed', 'msbdb.mixed.async', 'msbdb.asyncio.mixed'],
     'targets': []},
]


def si(v):
    for div, unit in ((1e6, 'M'), (1e3, 'k')):
        if v >= div:
            return '%.3g%s' % (v / div, unit)
    return '%.3g' % v


def us(v):
    return '%.3g ms' % (v / 1000) if v >= 1000 else '%.3g µs' % v


def label_of(row, ratio):
    text = '%.2fx · %s ops/s' % (ratio, si(row['ops_per_s']))
    if row.get('cpu_us_per_op') is not None:
        text += ' · %.1f µs CPU/op' % row['cpu_us_per_op']
    if (row.get('other_processes_cpu_cores') or 0) > 0.25:
        text += ' · others: %.1f cores' % row['other_processes_cpu_cores']
    return text


def spread_of(row, ref_ops):
    """(low, high) ratios of the fastest and slowest of the row's runs."""
    if row.get('ops_per_s_min') is None or not ref_ops:
        return None
    return row['ops_per_s_min'] / ref_ops, row['ops_per_s_max'] / ref_ops


def bars_of(panel, by_name):
    """[(name, ratio, label, kind)], or [] when the reference did not run."""
    bars = []
    if panel.get('pairs'):
        for name, ref in panel['pairs']:
            row, base = by_name.get(name), by_name.get(ref)
            if row and base and base['ops_per_s']:
                ratio = row['ops_per_s'] / base['ops_per_s']
                bars.append((name, ratio, label_of(row, ratio), kind_of(name),
                             spread_of(row, base['ops_per_s'])))
        return bars if any(bar[3] != 'baseline' for bar in bars) else []
    ref = by_name.get(panel['ref'])
    if not ref or not ref['ops_per_s']:
        return []
    for name in panel['rows']:
        row = by_name.get(name)
        if row:
            ratio = row['ops_per_s'] / ref['ops_per_s']
            bars.append((name, ratio, label_of(row, ratio), kind_of(name),
                         spread_of(row, ref['ops_per_s'])))
    return bars if len(bars) > 1 else []


def long_reader_bars(by_name):
    """The long-snapshot comparison: .open over .none, three measures."""
    none, opened = by_name.get('pools.long-reader.none'), by_name.get('pools.long-reader.open')
    if not none or not opened or not none['ops_per_s']:
        return []
    bars = [('writes/s', opened['ops_per_s'] / none['ops_per_s'],
             '%.2fx · %s vs %s writes/s' % (opened['ops_per_s'] / none['ops_per_s'],
                                           si(opened['ops_per_s']), si(none['ops_per_s'])),
             'msbdb', None)]
    for key, what in (('read_p99_us', 'read p99'), ('read_max_us', 'read max')):
        a, b = opened.get(key), none.get(key)
        if a and b:
            bars.append(('%s (lower is better)' % what, a / b,
                         '%.2fx · %s vs %s' % (a / b, us(a), us(b)), 'msbdb', None))
    return bars


def draw_panel(ax, title, bars, targets):
    names = [b[0] for b in bars][::-1]
    ratios = [b[1] for b in bars][::-1]
    labels = [b[2] for b in bars][::-1]
    colors = [COLORS[b[3]] for b in bars][::-1]
    target_values = [v for v, _ in targets]
    right = min(MAX_SHOWN, max([1.1] + [r * 1.05 for r in ratios] + [v * 1.1 for v in target_values]))
    shown = [min(r, right) for r in ratios]

    ax.barh(range(len(bars)), shown, color=colors, height=0.62)
    # The spread of the runs (fastest and slowest), over the median's ratio.
    for y, bar in enumerate(bars[::-1]):
        if bar[4] is not None:
            low, high = (min(v, right) for v in bar[4])
            ax.plot([low, high], [y, y], color='black', linewidth=0.8, alpha=0.6)
            ax.plot([low, low], [y - 0.12, y + 0.12], color='black', linewidth=0.8, alpha=0.6)
            ax.plot([high, high], [y - 0.12, y + 0.12], color='black', linewidth=0.8, alpha=0.6)
    ax.set_yticks(range(len(bars)))
    ax.set_yticklabels(names, fontfamily='monospace')
    ax.set_xlim(0, right * 1.85)       # room for the labels
    ax.axvline(1.0, color='black', linewidth=0.8)
    # Target labels one above the other, so that close targets stay legible.
    for i, (value, label) in enumerate(sorted(targets)):
        ax.axvline(value, color=TARGET_COLOR, linestyle='--', linewidth=1)
        ax.annotate(label, xy=(value, 1.0), xycoords=('data', 'axes fraction'),
                    xytext=(2, 2 + 9 * i), textcoords='offset points', color=TARGET_COLOR,
                    fontsize=7.5, va='bottom')
    ends = [max(r, (b[4] or (0, 0))[1]) for r, b in zip(ratios, bars[::-1])]
    for y, (value, end, text) in enumerate(zip(ratios, ends, labels)):
        clipped = value > right
        ax.text(min(end, right) + right * 0.01, y, ('▶ ' if clipped else '') + text,
                va='center', fontsize=8,
                bbox={'facecolor': 'white', 'edgecolor': 'none', 'alpha': 0.8, 'pad': 0.5})
    ax.set_title(title, loc='left', fontsize=9.5, fontweight='bold', pad=14 + 9 * max(len(targets) - 1, 0))
    ax.tick_params(axis='x', labelsize=8)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: '%gx' % v))
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)


def resolve_targets(targets, bars):
    ratios = {b[0]: b[1] for b in bars}
    out = []
    for value, label in targets:
        if callable(value):
            value = value(ratios)
        if value:
            out.append((value, label))
    return out


def panels_of(doc, specs, prefix):
    by_name = {r['name']: r for r in doc['results']}
    panels = []
    for spec in specs:
        bars = bars_of(spec, by_name)
        if bars:
            panels.append((prefix + spec['title'], bars, resolve_targets(spec['targets'], bars)))
    return panels, by_name


def header_of(doc, what):
    m = doc.get('machine', {})
    text = '%s: %s mode, %s, %s cores, SQLite %s' % (what, doc.get('mode'), m.get('cpu', '?'),
                                                     m.get('cores', '?'), m.get('sqlite', '?'))
    peer = doc.get('peers', {}).get('better-sqlite3')
    if peer and peer.get('available'):
        text += ', better-sqlite3 %s (SQLite %s), Node %s' % (peer['version'], peer['sqlite'],
                                                              peer['node'])
    if what == 'Python':
        text += ', Python %s, aiosqlite %s' % (m.get('python', '?'), m.get('aiosqlite', '?'))
    if doc.get('mode') == 'quick':
        text += '  [QUICK: a smoke run, not a measurement]'
    return text


def main():
    ap = argparse.ArgumentParser(description='Draw the benchmarks\' same-run comparisons as SVG')
    ap.add_argument('--c', help="msb-db-bench's --json file")
    ap.add_argument('--python', help="msb-db-bench.py's --json file")
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  'results.svg'))
    ap.add_argument('--title', default='MsbDb benchmarks: ratios measured in the same run')
    args = ap.parse_args()

    panels, headers = [], []
    for path, specs, what in ((args.c, C_PANELS, 'C'), (args.python, PY_PANELS, 'Python')):
        if not path:
            continue
        if not os.path.exists(path):
            print('chart.py: %s does not exist, leaving out the %s panels' % (path, what),
                  file=sys.stderr)
            continue
        with open(path) as f:
            doc = json.load(f)
        found, by_name = panels_of(doc, specs, '')
        if what == 'C':
            bars = long_reader_bars(by_name)
            if bars:
                found.append(('One snapshot() open through the window (ratio to the same load '
                              'without it)', bars,
                              [(0.8, 'writes: >= 0.8x'), (2.0, 'read p99: <= 2x')]))
        panels += found
        headers.append(header_of(doc, what))
    if not panels:
        print('chart.py: nothing to draw (pass --c and/or --python with benchmark JSON)',
              file=sys.stderr)
        return 1

    heights = [0.9 + 0.36 * len(bars) + 0.13 * len(targets) for _, bars, targets in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights) + 0.5 + 0.2 * len(headers)),
                             gridspec_kw={'height_ratios': heights})
    if len(panels) == 1:
        axes = [axes]
    for ax, (title, bars, targets) in zip(axes, panels):
        draw_panel(ax, title, bars, targets)
    fig.suptitle(args.title + '\n' + '\n'.join(headers), x=0.01, ha='left', fontsize=9)
    fig.legend(handles=[matplotlib.patches.Patch(color=COLORS['baseline'], label='baseline'),
                        matplotlib.patches.Patch(color=COLORS['peer'], label='peer'),
                        matplotlib.patches.Patch(color=COLORS['msbdb'], label='MsbDb'),
                        matplotlib.lines.Line2D([], [], color=TARGET_COLOR, linestyle='--',
                                                label='target'),
                        matplotlib.lines.Line2D([], [], color='black', alpha=0.6,
                                                label='slowest–fastest run (--rounds)')],
               loc='upper right', ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.35 + 0.15 * len(headers)) / fig.get_figheight()))
    if args.out.endswith('.svg'):
        fig.savefig(args.out, format='svg', metadata={'Date': None})
    else:   # a PNG, to look at it
        fig.savefig(args.out, dpi=90)
    print('chart written to %s (%d panels)' % (args.out, len(panels)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
