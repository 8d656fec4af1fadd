"""Happy Eyeballs (RFC 8305) in ``reactsse.connector.connect``, on loopback with real sockets.

A ``resolve`` hook returns several loopback addresses (it replaces the DNS lookup, not the
connector under test). A first address that never answers is a listener with a full accept
queue (Linux drops the SYN); the clock is the loop's virtual one, so the assertions are exact
times and nothing waits the timeouts out.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from _connector_helpers import (
    FullBacklog,
    Recorder,
    ipv6_loopback_available,
    listener,
    new_virtual_loop,
    open_fds,
    refusing_port,
    run_until_stopped,
)

from reactsse.connector import connect
from reactsse.connector.attempts import interleave
from reactsse.connector.resolve import Address
from reactsse.errors import ConnectError, ConnectTimeout
from reactsse.loop import LoopInterface

V4, V6 = socket.AF_INET, socket.AF_INET6


@contextmanager
def _refusing_v6_port() -> Iterator[int]:
    """A bound, never listening ``::1`` port: a connect to it is refused."""
    with socket.socket(V6) as sock:
        sock.bind(("::1", 0))
        yield sock.getsockname()[1]


def _resolver(addresses: Sequence[Address]) -> object:
    def resolve(host: str, port: int) -> list[Address]:
        assert host == "eyeballs.test"
        return list(addresses)

    return resolve


def _connect(loop: LoopInterface, addresses: Sequence[Address], **kwargs: object) -> Recorder:
    result = Recorder(loop)
    connect(
        loop,
        "eyeballs.test",
        80,
        resolve=_resolver(addresses),  # type: ignore[arg-type]
        on_connected=result.on_connected,
        on_error=result.on_error,
        **kwargs,  # type: ignore[arg-type]
    )
    return result


def test_families_alternate_starting_with_the_first() -> None:
    a, b, c = (V6, ("::1", 1, 0, 0)), (V6, ("::1", 2, 0, 0)), (V6, ("::1", 3, 0, 0))
    x, y = (V4, ("127.0.0.1", 1)), (V4, ("127.0.0.1", 2))
    assert interleave([a, b, c, x, y]) == [a, x, b, y, c]
    assert interleave([x, a, b]) == [x, a, b]
    assert interleave([x, y]) == [x, y]
    assert interleave([]) == []


@pytest.mark.timeout(10)
@pytest.mark.parametrize("delay", [None, 0.1])
def test_a_hanging_first_address_costs_the_attempt_delay_not_the_timeout(
    delay: float | None,
) -> None:
    with FullBacklog() as full, listener() as server, new_virtual_loop() as loop:
        good = server.getsockname()[1]
        addresses = [(V4, ("127.0.0.1", full.port)), (V4, ("127.0.0.1", good))]
        kwargs: dict[str, object] = {"timeout": 30.0}
        if delay is not None:
            kwargs["attempt_delay"] = delay
        start = loop.now()
        result = _connect(loop, addresses, **kwargs)
        run_until_stopped(loop)
        elapsed = loop.now() - start
        assert not result.errors, result.errors
        [transport] = result.transports
        assert transport.peer == ("127.0.0.1", good)
        # The second attempt started exactly one attempt delay after the first (RFC 8305's
        # 250 ms by default) and connected at once on loopback; 30 s were never waited.
        assert elapsed == pytest.approx(0.25 if delay is None else delay, abs=1e-9)
        transport.close()
        loop.run()  # the hanging attempt was closed: nothing is left on the loop


@pytest.mark.timeout(10)
def test_a_refused_attempt_starts_the_next_at_once() -> None:
    with refusing_port() as dead, listener() as server, new_virtual_loop() as loop:
        good = server.getsockname()[1]
        start = loop.now()
        result = _connect(loop, [(V4, ("127.0.0.1", dead)), (V4, ("127.0.0.1", good))])
        run_until_stopped(loop)
        assert loop.now() - start < 0.25  # no delay after a failure (RFC 8305 section 5)
        [transport] = result.transports
        assert transport.peer == ("127.0.0.1", good)
        transport.close()


def test_every_dead_address_is_named_in_the_order_tried() -> None:
    if not ipv6_loopback_available():
        pytest.skip("needs ::1")
    with (
        refusing_port() as a,
        refusing_port() as b,
        _refusing_v6_port() as c,
        new_virtual_loop() as loop,
    ):
        addresses = [(V4, ("127.0.0.1", a)), (V4, ("127.0.0.1", b)), (V6, ("::1", c, 0, 0))]
        result = _connect(loop, addresses)
        run_until_stopped(loop)
    [error] = result.errors
    assert type(error) is ConnectError
    text = str(error)
    refused = f"[Errno {errno.ECONNREFUSED}]"
    first, second, third = (
        f"127.0.0.1:{a}: {refused}",
        f"[::1]:{c}: {refused}",
        f"127.0.0.1:{b}: {refused}",
    )
    # Families alternate: v4, v6, v4; each address with its reason.
    assert text.index(first) < text.index(second) < text.index(third), text


@pytest.mark.timeout(10)
def test_all_hanging_or_refused_times_out_naming_each() -> None:
    with FullBacklog() as full, refusing_port() as dead, new_virtual_loop() as loop:
        addresses = [(V4, ("127.0.0.1", full.port)), (V4, ("127.0.0.1", dead))]
        start = loop.now()
        result = _connect(loop, addresses, timeout=2.0)
        run_until_stopped(loop)
        assert loop.now() - start == pytest.approx(2.0, abs=1e-9)  # connect_timeout, exactly
    [error] = result.errors
    assert type(error) is ConnectTimeout
    assert f"127.0.0.1:{full.port}: no answer" in str(error)
    assert f"127.0.0.1:{dead}: Connection refused" in str(error)


@pytest.mark.timeout(10)
def test_cancel_mid_race_closes_every_socket() -> None:
    with FullBacklog() as full, new_virtual_loop() as loop:
        before = open_fds()
        result = Recorder(loop)
        pending = connect(
            loop,
            "eyeballs.test",
            80,
            resolve=_resolver([(V4, ("127.0.0.1", full.port))] * 3),
            timeout=30.0,
            on_connected=result.on_connected,
            on_error=result.on_error,
        )
        racing: list[int] = []

        def look() -> None:
            racing.append(open_fds() - before)
            pending.cancel()
            racing.append(open_fds() - before)
            loop.stop()

        loop.add_timer(0.6, lambda _timer: look())  # after the third attempt started (0.5 s)
        run_until_stopped(loop)
        assert racing == [3, 0]  # three sockets racing, all closed by cancel() at once
        assert pending.phase == "done"
        loop.run()  # nothing left: no timer, no stream
        assert result.count == 0
