#!/usr/bin/env python3
"""What fresh memory costs on this machine: maps MIB MiB of anonymous memory
and writes one byte per 4 KiB page (the first touch: the kernel zeroes the
page, and on a virtual machine the host may have to back it first), in
4 KiB pages and with huge pages advised, RUNS times each. Prints the
median and the range in milliseconds. A whole-tree report holds about as
much fresh memory as its input (the tree or the formatted body), so this
is a floor under it that no parser change removes: on a VM the figure can
move from run to run by a factor of 100.

    bench/fresh_memory.py [MIB] [RUNS]
"""
import mmap
import statistics
import sys
import time

mib = int(sys.argv[1]) if len(sys.argv) > 1 else 128
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
size = mib << 20


def touch(huge):
    t0 = time.perf_counter()
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if huge and hasattr(mmap, "MADV_HUGEPAGE"):
        m.madvise(mmap.MADV_HUGEPAGE)
    for off in range(0, size, 4096):
        m[off] = 1
    t = time.perf_counter() - t0
    m.close()
    return t * 1000


for huge in (False, True):
    ms = [touch(huge) for _ in range(runs)]
    print(f"fresh memory: {mib} MiB first touched in {'huge pages' if huge else '4 KiB pages'}: "
          f"median {statistics.median(ms):.0f} ms, {min(ms):.0f}-{max(ms):.0f} ms over {runs} runs")
