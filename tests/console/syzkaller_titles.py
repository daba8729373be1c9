#!/usr/bin/env python3
"""Crash titles against syzkaller's Linux report corpus.

Runs `vigil scan --json` over every file of a syzkaller-report/linux folder
(headers, a blank line, the console log; a `REPORT:` line ends the log) and
compares the first report with the file's headers:
  - no TITLE or an empty one: the log holds no report; any report is a false one;
  - TITLE, not CORRUPTED: detected, and titled as TITLE or one of its ALTs;
  - CORRUPTED: Y: detected.
Prints the figures, the per-kind table of misses and, with --misses, every
miss. With --check, exits 1 below the targets.

  syzkaller_titles.py VIGIL CORPUS_DIR [--check] [--misses] [--jobs N]
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys

TARGET_DETECTED = 0.98
TARGET_TITLED = 0.95
TARGET_CORRUPTED_DETECTED = 0.90


def read_case(path):
    with open(path, 'rb') as f:
        data = f.read()
    head, sep, log = data.partition(b'\n\n')
    if not sep:
        head, log = data, b''
    headers = {}
    for line in head.decode('utf-8', 'replace').splitlines():
        key, colon, value = line.partition(':')
        if colon:
            headers.setdefault(key.strip(), []).append(value.strip())
    m = re.search(rb'^REPORT:\s*$', log, re.M)
    if m:
        log = log[:m.start()]
    return headers, log


def scan(vigil, log):
    p = subprocess.run([vigil, 'scan', '--json', '-'], input=log, capture_output=True, timeout=60)
    if p.returncode not in (0, 1):
        raise RuntimeError('vigil scan exited %d: %s' % (p.returncode, p.stderr.decode(errors='replace')))
    return json.loads(p.stdout)['reports']


def kind_of(title):
    """The title's format: what it says before the function it names."""
    t = re.sub(r' in corrupted$', '', title)
    t = re.sub(r' in [^ ]+( / [^ ]+)?$', ' in F', t)
    t = re.sub(r'\b(Read|Write)\b', 'RW', t) if t.startswith('KASAN') else t
    t = re.sub(r'^unregister_netdevice: waiting for .* to become free', 'unregister_netdevice: waiting for DEV', t)
    t = re.sub(r'\(\d+\)', '(N)', t)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('vigil')
    ap.add_argument('corpus')
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--misses', action='store_true')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    names = sorted((n for n in os.listdir(a.corpus) if not n.startswith('.')),
                   key=lambda n: (len(n), n))
    cases = [(n,) + read_case(os.path.join(a.corpus, n)) for n in names]
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(lambda c: scan(a.vigil, c[2]), cases))

    neg = neg_false = 0
    pos = pos_det = pos_title = 0
    cor = cor_det = 0
    kinds = {}
    misses = []
    for (name, h, _), reports in zip(cases, results):
        title = (h.get('TITLE') or [''])[0] or None  # no or an empty TITLE: no report
        got = reports[0]['title'] if reports else None
        if title is None:
            neg += 1
            if reports:
                neg_false += 1
                misses.append((name, 'false report', '', got))
            continue
        if (h.get('CORRUPTED') or ['N'])[0] == 'Y':
            cor += 1
            if reports:
                cor_det += 1
            else:
                misses.append((name, 'corrupted, missed', title, ''))
            continue
        pos += 1
        k = kinds.setdefault(kind_of(title), [0, 0, 0])
        k[0] += 1
        if not reports:
            misses.append((name, 'missed', title, ''))
            continue
        pos_det += 1
        k[1] += 1
        if got == title or got in h.get('ALT', []):
            pos_title += 1
            k[2] += 1
        else:
            misses.append((name, 'title', title, got))

    def pct(n, d):
        return 100.0 * n / d if d else 100.0
    print('syzkaller corpus %s: %d files' % (a.corpus, len(cases)))
    print('not corrupted: %d; detected %d (%.1f %%), titled as syzkaller %d (%.1f %%)'
          % (pos, pos_det, pct(pos_det, pos), pos_title, pct(pos_title, pos)))
    print('corrupted: %d; detected %d (%.1f %%)' % (cor, cor_det, pct(cor_det, cor)))
    print('no report: %d; false reports %d' % (neg, neg_false))
    rows = sorted(((k, v) for k, v in kinds.items() if v[2] < v[0]), key=lambda kv: (kv[1][2] - kv[1][0], kv[0]))
    if rows:
        print('\nmisses by kind (not corrupted): kind, files, detected, titled')
        for k, v in rows:
            print('  %-60s %4d %4d %4d' % (k[:60], v[0], v[1], v[2]))
    if a.misses:
        print('\nevery miss: file, what, expected, got')
        for m in misses:
            print('  %s\t%s\t%r\t%r' % m)
    ok = (pct(pos_det, pos) >= 100 * TARGET_DETECTED and pct(pos_title, pos) >= 100 * TARGET_TITLED
          and neg_false == 0 and pct(cor_det, cor) >= 100 * TARGET_CORRUPTED_DETECTED)
    if a.check:
        print('\ntargets: detected >= %.0f %%, titled >= %.0f %%, 0 false reports, corrupted detected >= %.0f %%: %s'
              % (100 * TARGET_DETECTED, 100 * TARGET_TITLED, 100 * TARGET_CORRUPTED_DETECTED,
                 'met' if ok else 'NOT met'))
        return 0 if ok else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
