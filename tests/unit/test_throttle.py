"""The login throttle's pure logic (s3dav/server/throttle.py), on an injected clock."""

from __future__ import annotations

import threading

from s3dav.server.throttle import (
    IN_FLIGHT_WAIT,
    KNOWN_ADDRESS_SECONDS,
    LoginThrottle,
    Ticket,
    login_delay,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **kw) -> LoginThrottle:
    args = {"max_failures": 3, "block_seconds": 60, "base_delay": 0.5, "max_delay": 1.5}
    return LoginThrottle(**{**args, **kw}, clock=clock)


def fail(t: LoginThrottle, addr: str, user: str):
    ticket = t.reserve(addr, user)
    assert isinstance(ticket, Ticket), f"{addr}/{user} was refused: wait {ticket}"
    return t.failed(ticket)


def succeed(t: LoginThrottle, addr: str, user: str) -> None:
    ticket = t.reserve(addr, user)
    assert isinstance(ticket, Ticket)
    t.succeeded(addr, user, ticket)


def test_delay_grows_then_the_address_is_blocked_and_then_forgiven_by_time():
    clock = Clock()
    t = throttle(clock)
    assert [fail(t, "a", "ann").delay for _ in range(2)] == [0.5, 1.0]
    assert t.blocked_for("a") == 0.0
    third = fail(t, "a", "ann")
    assert (third.address_failures, third.delay, third.address_blocked) == (3, 1.5, True)
    assert t.blocked_for("a") == 60.0
    assert t.reserve("a", "bob") == 60.0  # every name from that address
    assert t.blocked_for("b") == 0.0  # another address is not
    clock.now += 60
    assert t.blocked_for("a") == 0.0
    assert fail(t, "a", "ann").address_failures == 1  # old failures forgotten


def test_another_users_success_does_not_reset_the_count():
    """The attacker's own valid login between guesses at ann changes nothing."""
    t = throttle(Clock())
    fail(t, "a", "ann")
    succeed(t, "a", "mallory")
    fail(t, "a", "ann")
    succeed(t, "a", "mallory")
    assert fail(t, "a", "ann").address_blocked is True
    assert t.reserve("a", "mallory") == 60.0


def test_a_users_success_forgives_only_its_own_failures_from_that_address():
    t = throttle(Clock())
    fail(t, "a", "ann")
    fail(t, "a", "bob")
    succeed(t, "a", "ann")
    assert fail(t, "a", "carl").address_failures == 2  # bob's and carl's remain


def test_checks_in_flight_count_against_the_limit():
    t = throttle(Clock())
    tickets = [t.reserve("a", f"guess-{i}") for i in range(3)]
    assert all(isinstance(x, Ticket) for x in tickets)
    assert t.reserve("a", "guess-3") == IN_FLIGHT_WAIT  # three in flight: no fourth
    t.release(tickets[0])  # a check never made gives its place back
    tickets[0] = t.reserve("a", "guess-0")
    assert isinstance(tickets[0], Ticket)
    results = [t.failed(x) for x in tickets]
    assert [r.address_failures for r in results] == [1, 2, 3]
    assert t.blocked_for("a") == 60.0
    t.release(tickets[0])  # settling twice counts once
    assert t.blocked_for("a") == 60.0


def test_parallel_reservations_never_pass_the_limit():
    t = throttle(Clock(), max_failures=5)
    got: list[object] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        ticket = t.reserve("a", "ann")
        with lock:
            got.append(ticket)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    tickets = [x for x in got if isinstance(x, Ticket)]
    assert len(tickets) == 5 and len(got) == 40


def test_guesses_at_one_name_from_many_addresses_block_that_name():
    clock = Clock()
    t = throttle(clock, max_failures=10, user_max_failures=4)
    succeed(t, "10.0.0.1", "ann")  # ann's own device
    results = [fail(t, f"203.0.113.{i}", "ann") for i in range(4)]
    assert [r.user_failures for r in results] == [1, 2, 3, 4]
    assert results[-1].user_blocked is True and results[-1].address_blocked is False
    assert t.reserve("198.51.100.7", "ann") == 60.0  # a new address: the name is blocked
    assert t.blocked_for("198.51.100.7", "bob") == 0.0  # other names are not
    # ann's device, known from a login, is not locked out by someone else's guessing.
    assert t.blocked_for("10.0.0.1", "ann") == 0.0
    succeed(t, "10.0.0.1", "ann")
    clock.now += 60
    assert t.blocked_for("198.51.100.7", "ann") == 0.0  # the block ends
    # A known address is known for a day only.
    clock.now += KNOWN_ADDRESS_SECONDS
    for i in range(4):
        fail(t, f"192.0.2.{i}", "ann")
    assert t.blocked_for("10.0.0.1", "ann") == 60.0


def test_per_name_limit_off_by_zero():
    t = throttle(Clock(), max_failures=100, user_max_failures=0)
    for i in range(50):
        assert fail(t, f"203.0.113.{i}", "ann").user_failures == 0
    assert t.blocked_for("198.51.100.7", "ann") == 0.0


def test_memory_is_bounded():
    t = throttle(Clock(), max_failures=5, base_delay=0, max_entries=100, user_max_failures=5)
    for i in range(1000):
        fail(t, f"10.0.{i // 256}.{i % 256}", f"user-{i}")
    assert len(t._addrs) == 100 and len(t._users) == 100


def test_login_delay_doubles_and_is_capped():
    assert [login_delay(n, 0.25, 4.0) for n in (1, 2, 3, 5, 9)] == [0.25, 0.5, 1.0, 4.0, 4.0]
