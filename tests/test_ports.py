"""The loopback port picker the end-to-end tests and benchmarks start servers on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests import ports


class _Draws:
    """Stands in for the random draw: yields the given ports in order."""

    def __init__(self, *values: int) -> None:
        self._values: Iterator[int] = iter(values)

    def randrange(self, low: int, high: int) -> int:
        value = next(self._values)
        assert low <= value < high
        return value


def test_ports_come_from_below_the_ephemeral_range_and_are_never_repeated() -> None:
    low = ports._ephemeral_low()
    handed = [ports.free_port() for _ in range(200)]
    assert len(set(handed)) == len(handed)
    assert all(1024 <= port < low for port in handed)


def test_a_port_inside_a_run_handed_out_before_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = ports.free_ports(7)
    for port in range(first, first + 7):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # each port of the run is free
    other = ports.free_port()
    # a copy of what was really handed out: only the record of the whole run refuses first + 3
    monkeypatch.setattr(ports, "_handed", set(ports._handed) - {other})
    monkeypatch.setattr(ports, "_draw", _Draws(first + 3, other))
    assert ports.free_port() == other


def test_a_port_something_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    other = ports.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", ports.free_port()))
        listener.listen()
        taken = listener.getsockname()[1]
        monkeypatch.setattr(ports, "_handed", set())
        monkeypatch.setattr(ports, "_draw", _Draws(taken, other))
        assert ports.free_port() == other
