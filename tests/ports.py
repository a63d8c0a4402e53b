"""Loopback ports for the servers that tests and benchmarks start as separate processes.

A port the kernel picks for `bind(("127.0.0.1", 0))` comes from its ephemeral range, the
same range outgoing connections take their local ports from. Between picking such a port
and the server binding it, any client connection (to PostgreSQL, to a simulator) may take
it, and the server dies with EADDRINUSE. The ports here come from just below that range,
where only listeners live, and none is handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_SPAN = 12_000  # how far below the ephemeral range ports are drawn from
_handed: set[int] = set()
_draw = random.SystemRandom()  # not the global generator: tests may seed that one


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1) -> int:
    """The first of `count` adjacent ports that are free now and were not handed out before."""
    high = _ephemeral_low() - count
    low = max(1024, high - _SPAN)
    for _ in range(1000):
        first = _draw.randrange(low, high) if high > low else _kernel_port()
        ports = range(first, first + count)
        if _handed.isdisjoint(ports) and all(_free(p) for p in ports):
            _handed.update(ports)
            return first
    raise AssertionError(f"no {count} adjacent free ports on 127.0.0.1")


def free_port() -> int:
    return free_ports(1)


def _kernel_port() -> int:
    """Where no room is left below the ephemeral range, the kernel's pick (racy, as before)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
