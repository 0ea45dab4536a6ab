"""Keeping the gateway's memory flat while multi-megabyte buffers come and go.

Uploads, parts and cache blocks are large, short-lived buffers. With glibc's
defaults, freed ones stay in per-thread arenas and the mmap threshold grows
with them, so resident memory creeps towards the sum of past peaks. A fixed
threshold sends every buffer of 1 MiB or more straight back to the kernel,
and a few arenas keep small allocations from spreading over 100 threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

_log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(mmap_threshold: int = 1024 * 1024, arenas: int = 4) -> bool:
    """Apply the settings on glibc; a no-op (False) anywhere else."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
    ok = mallopt(M_ARENA_MAX, arenas) == 1 and ok
    if not ok:
        _log.debug("mallopt refused the memory settings")
    return ok
