#!/usr/bin/env python3
"""Runs kunit_tool's own parser (from the kernel source tree given as the
first argument) on a log file and prints its verdict as JSON:
{"status": ..., "counts": {"passed", "failed", "crashed", "skipped", "errors"}}.
Status names are mapped to vigil's: SUCCESS=PASS, FAILURE=FAIL, SKIPPED=SKIP,
TEST_CRASHED=CRASH, NO_TESTS=NO_TESTS, FAILURE_TO_PARSE_TESTS=NO_KTAP.
With --time, also reports the seconds parse_run_tests() took (the file is read
and split into lines first, as `kunit.py parse` does, and not timed)."""
import io
import json
import sys
import time


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    kunit_dir, log = args[0], args[1]
    sys.path.insert(0, kunit_dir)
    import kunit_parser  # noqa: E402
    import kunit_printer  # noqa: E402
    kunit_printer.stdout._output = io.StringIO()  # silence its live output
    kunit_printer.stdout._use_color = False
    # As `kunit.py parse FILE` does: read and split first, then parse.
    with open(log, 'r', errors='backslashreplace') as f:
        lines = f.read().splitlines()
    start = time.monotonic()
    test = kunit_parser.parse_run_tests(lines)
    elapsed = time.monotonic() - start
    names = {
        'SUCCESS': 'PASS', 'FAILURE': 'FAIL', 'SKIPPED': 'SKIP',
        'TEST_CRASHED': 'CRASH', 'NO_TESTS': 'NO_TESTS',
        'FAILURE_TO_PARSE_TESTS': 'NO_KTAP',
    }
    c = test.counts
    out = {
        'status': names[test.status.name],
        'counts': {'passed': c.passed, 'failed': c.failed, 'crashed': c.crashed,
                   'skipped': c.skipped, 'errors': c.errors},
    }
    out['tests'] = [names[t.status.name] for t in test.subtests]
    if '--time' in sys.argv:
        out['seconds'] = elapsed
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
