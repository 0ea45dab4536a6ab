"""Slowing down password guessing: failed logins per client address and per user name.

Each failed login from an address waits a little longer before its 401
(`base_delay`, doubled per failure, at most `max_delay`). Failures are counted
twice, and either count can block:

- per address: after `max_failures` failures from one address (against any
  user names) that address gets 429 for `block_seconds`;
- per user name: after `user_max_failures` failures against one name (from
  any addresses) that name gets 429 for `block_seconds`, except from the
  addresses that logged in as that user within `KNOWN_ADDRESS_SECONDS`, so that
  someone guessing ann's password cannot lock ann's own devices out.

A success forgives only the failures of that user from that address (ann's own
typos), never another user's: an attacker cannot reset its count by logging in
as itself between guesses. Failures older than `block_seconds` are forgotten.

Guesses are *reserved* before the password check (`reserve`) and settled after
it (`failed` / `succeeded`): attempts in flight count against the limits, so
parallel guesses cannot all be evaluated before the block starts. Memory is
bounded: at most `max_entries` addresses and as many user names are tracked.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

# An address that logged in as a user stays exempt from that user's block this long.
KNOWN_ADDRESS_SECONDS = 24 * 3600
KNOWN_ADDRESSES_PER_USER = 16
# Retry-After for an attempt refused because others from the same source are in flight.
IN_FLIGHT_WAIT = 1.0


@dataclass
class _Address:
    by_user: dict[str, int] = field(default_factory=dict)  # failures per user name
    last_failure: float = 0.0
    blocked_until: float = 0.0
    pending: int = 0

    @property
    def failures(self) -> int:
        return sum(self.by_user.values())


@dataclass
class _User:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0
    pending: int = 0
    known_from: OrderedDict[str, float] = field(default_factory=OrderedDict)


@dataclass
class Ticket:
    """One password check in flight, reserved by `reserve`; settled exactly once."""

    addr: str
    user: str
    open: bool = True


@dataclass(frozen=True)
class Failure:
    """What one failed login did to the counts."""

    address_failures: int
    user_failures: int
    delay: float
    address_blocked: bool  # this failure started the address's block
    user_blocked: bool  # this failure started the user name's block


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        block_seconds: float,
        base_delay: float,
        user_max_failures: int = 0,
        max_delay: float = 4.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.user_max_failures = user_max_failures  # 0: no per-user limit
        self.block_seconds = block_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_entries = max_entries
        self.clock = clock
        self._addrs: OrderedDict[str, _Address] = OrderedDict()
        self._users: OrderedDict[str, _User] = OrderedDict()
        self._lock = threading.Lock()

    # -- looking up, with expiry and a bounded size (callers hold the lock) --

    def _addr(self, addr: str, now: float) -> _Address:
        entry = self._addrs.pop(addr, None) or _Address()
        if entry.by_user and now - entry.last_failure >= self.block_seconds:
            entry.by_user.clear()
        self._addrs[addr] = entry
        while len(self._addrs) > self.max_entries:
            self._addrs.popitem(last=False)
        return entry

    def _user(self, user: str, now: float) -> _User:
        entry = self._users.pop(user, None) or _User()
        if entry.failures and now - entry.last_failure >= self.block_seconds:
            entry.failures = 0
        self._users[user] = entry
        while len(self._users) > self.max_entries:
            self._users.popitem(last=False)
        return entry

    def _known(self, entry: _User, addr: str, now: float) -> bool:
        at = entry.known_from.get(addr)
        return at is not None and now - at <= KNOWN_ADDRESS_SECONDS

    def _wait(self, addr: str, user: str | None, now: float) -> float:
        wait = 0.0
        a = self._addrs.get(addr)
        if a is not None:
            wait = max(wait, a.blocked_until - now)
        u = self._users.get(user) if user is not None else None
        if u is not None and not self._known(u, addr, now):
            wait = max(wait, u.blocked_until - now)
        return max(0.0, wait)

    # -- the interface --

    def blocked_for(self, addr: str, user: str | None = None) -> float:
        """Seconds this address (and, if given, this user name from it) must still wait."""
        with self._lock:
            return self._wait(addr, user, self.clock())

    def reserve(self, addr: str, user: str) -> Ticket | float:
        """A ticket to check one password, or the seconds to wait (answer 429) instead.

        Refused while blocked, and while the failures so far plus the checks in
        flight would reach a limit: then a parallel guess waits for the others.
        """
        now = self.clock()
        with self._lock:
            wait = self._wait(addr, user, now)
            if wait > 0:
                return wait
            a = self._addr(addr, now)
            u = self._user(user, now) if self.user_max_failures else None
            if a.failures + a.pending >= self.max_failures:
                return IN_FLIGHT_WAIT
            if (
                u is not None
                and not self._known(u, addr, now)
                and u.failures + u.pending >= self.user_max_failures
            ):
                return IN_FLIGHT_WAIT
            a.pending += 1
            if u is not None:
                u.pending += 1
            return Ticket(addr, user)

    def _settle(self, ticket: Ticket, now: float) -> tuple[_Address, _User | None] | None:
        if not ticket.open:
            return None
        ticket.open = False
        a = self._addr(ticket.addr, now)
        a.pending = max(0, a.pending - 1)
        u = None
        if self.user_max_failures:
            u = self._user(ticket.user, now)
            u.pending = max(0, u.pending - 1)
        return a, u

    def release(self, ticket: Ticket) -> None:
        """The check was never made (e.g. the share needs no login): count nothing."""
        with self._lock:
            self._settle(ticket, self.clock())

    def failed(self, ticket: Ticket) -> Failure:
        """Record a failed login; say what it did, and how long to wait before the 401."""
        now = self.clock()
        with self._lock:
            settled = self._settle(ticket, now)
            a = self._addr(ticket.addr, now) if settled is None else settled[0]
            u = settled[1] if settled is not None else None
            a.by_user[ticket.user] = a.by_user.get(ticket.user, 0) + 1
            a.last_failure = now
            address_blocked = a.failures >= self.max_failures and a.blocked_until <= now
            if address_blocked:
                a.blocked_until = now + self.block_seconds
            user_failures, user_blocked = 0, False
            if u is not None:
                u.failures += 1
                u.last_failure = now
                user_failures = u.failures
                user_blocked = u.failures >= self.user_max_failures and u.blocked_until <= now
                if user_blocked:
                    u.blocked_until = now + self.block_seconds
            address_failures = a.failures
        return Failure(
            address_failures=address_failures,
            user_failures=user_failures,
            delay=login_delay(address_failures, self.base_delay, self.max_delay),
            address_blocked=address_blocked,
            user_blocked=user_blocked,
        )

    def succeeded(self, addr: str, user: str, ticket: Ticket | None = None) -> None:
        """A right password: forgive this user's failures from this address, and know it."""
        now = self.clock()
        with self._lock:
            if ticket is not None:
                self._settle(ticket, now)
            a = self._addrs.get(addr)
            if a is not None:
                a.by_user.pop(user, None)
            if self.user_max_failures:
                u = self._user(user, now)
                u.known_from.pop(addr, None)
                u.known_from[addr] = now
                while len(u.known_from) > KNOWN_ADDRESSES_PER_USER:
                    u.known_from.popitem(last=False)


def login_delay(failures: int, base: float, cap: float) -> float:
    """How long the n-th failure from an address waits before its 401: doubling, capped."""
    return min(cap, base * 2 ** max(0, failures - 1))
