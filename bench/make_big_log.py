#!/usr/bin/env python3
"""Builds a large KTAP log out of real ones: every input log becomes a nested
subtest (indented four spaces, its own version line and plan kept, a
`# Subtest:` header added), repeated in turn until the output reaches the
requested size. Input logs must not carry console prefixes.

  make_big_log.py OUT SIZE_MB LOG...
"""
import sys


def main() -> int:
    out_path, size_mb, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    blocks = []
    for path in logs:
        with open(path, 'r', errors='replace') as f:
            lines = [l.rstrip('\n') for l in f]
        while lines and not lines[0].startswith(('KTAP version', 'TAP version')):
            lines.pop(0)
        if len(lines) < 2:
            continue
        body = [lines[0]] + ['# Subtest: {name}'] + lines[1:]
        blocks.append('\n'.join('    ' + l for l in body) + '\n')
    target = size_mb * 1024 * 1024
    # Count first so the plan is right.
    n, size, i = 0, 0, 0
    while size < target:
        size += len(blocks[i % len(blocks)]) + 40
        n += 1
        i += 1
    with open(out_path, 'w') as out:
        out.write('KTAP version 1\n1..%d\n' % n)
        for k in range(n):
            name = 'copy_%d' % (k + 1)
            out.write(blocks[k % len(blocks)].replace('{name}', name))
            out.write('ok %d %s\n' % (k + 1, name))
    return 0


if __name__ == '__main__':
    sys.exit(main())
