"""Slowing down password guessing: failed logins per client address.

Each failed login from an address waits a little longer before its 401
(`base_delay`, doubled per failure, at most `max_delay`). After
`max_failures` failures in a row the address gets 429 for `block_seconds`.
A success clears the address. Failures older than `block_seconds` are
forgotten. Memory is bounded: at most `max_entries` addresses are tracked.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Entry:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        block_seconds: float,
        base_delay: float,
        max_delay: float = 4.0,
        max_entries: int = 10_000,
        clock=time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.block_seconds = block_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def blocked_for(self, addr: str) -> float:
        """Seconds this address must still wait (0.0 when it may try)."""
        with self._lock:
            entry = self._entries.get(addr)
            if entry is None:
                return 0.0
            return max(0.0, entry.blocked_until - self.clock())

    def failed(self, addr: str) -> tuple[int, float]:
        """Record a failed login; return (failures in a row, delay to wait before answering)."""
        now = self.clock()
        with self._lock:
            entry = self._entries.pop(addr, None) or _Entry()
            if now - entry.last_failure > self.block_seconds:
                entry.failures = 0
            entry.failures += 1
            entry.last_failure = now
            if entry.failures >= self.max_failures:
                entry.blocked_until = now + self.block_seconds
            self._entries[addr] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            failures = entry.failures
        delay = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        return failures, delay

    def succeeded(self, addr: str) -> None:
        with self._lock:
            self._entries.pop(addr, None)
