"""Which status-webhook URLs Cascade will call: the policy against request forgery.

A callback URL is the customer's, but the request comes from inside our network, so a URL
naming an inside address (a database's admin port, the cloud's metadata service) would let
any account make our workers call it. A callback URL therefore must be:

- `http` or `https`, absolute, at most 2,048 characters, with no whitespace or control
  character anywhere and no credentials (`user:password@`);
- on a host that is a DNS name, a canonical dotted-quad IPv4 address or a bracketed IPv6
  address (the legacy forms `2130706433`, `0x7f.1`, `127.1` are refused: resolvers turn
  them into addresses);
- on a host whose every address is public: not loopback, private (RFC 1918), shared
  (CGNAT 100.64/10), link-local, unique-local, site-local, multicast, unspecified,
  reserved, documentation or benchmarking space, and outside the IPv6 global unicast
  space `2000::/3` (which shuts out `::a.b.c.d` and the like). IPv4 addresses carried in
  IPv6 (`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged as the IPv4
  address they carry. Python's `ipaddress.is_global` alone lets multicast, site-local,
  `::a.b.c.d` and 6to4/NAT64 forms of loopback through (3.11), hence the extra rules.

`CASCADE_ALLOW_PRIVATE_CALLBACKS=1` lifts the public-address rule for tests, demos and
on-premises receivers, except for link-local space (169.254/16, fe80::/10) and the cloud
metadata and host services (169.254.169.254, fd00:ec2::254, 168.63.129.16,
100.100.100.200), which are never a webhook receiver.

The rule is checked when the URL is registered (400 `INVALID_URL`) and again at every
delivery, on the addresses the connection is actually made to: the dispatcher's resolver
resolves the name, checks every address and hands only those to the connection, so a name
that resolves to a public address at registration and to an inside one later (DNS
rebinding) is refused, never connected to. The refusal for a name is the same whether it
does not resolve or resolves inside, so the API is no oracle for internal DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import yarl

from cascade.domain.errors import RequestRejected

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_S = 5.0

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses (as text) the name resolves to; raises OSError if it does not
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


class AddressRefused(OSError):
    """A callback host has (or resolves to) an address the policy forbids.

    An OSError, so that an HTTP client's resolver may raise it like any resolution
    failure; `reason` is safe to log (a host and an address, never a path or query).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "100.64.0.0/10",  # shared address space (CGNAT); is_global knows, belt and braces
        "192.88.99.0/24",  # the deprecated 6to4 relay anycast
    )
)
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637; newer than Python 3.11's table)
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "168.63.129.16",  # Azure WireServer (a public address, reachable only from inside)
        "100.100.100.200",  # Alibaba Cloud instance metadata
    )
)


def _carried_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 IPv6 address stands for."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def is_public(address: IpAddress) -> bool:
    """Whether `address` is a unicast address on the public internet."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_v4(address)
        if carried is not None:
            return is_public(carried)
        return (
            address in _GLOBAL_UNICAST
            and address.is_global
            and not (address.is_multicast or address.is_site_local or address.is_link_local)
            and not any(address in network for network in _NOT_PUBLIC_V6)
            and address not in _METADATA
        )
    return (
        address.is_global
        and not (
            address.is_multicast
            or address.is_reserved
            or address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_unspecified
        )
        and not any(address in network for network in _NOT_PUBLIC_V4)
        and address not in _METADATA
    )


def is_never_callable(address: IpAddress) -> bool:
    """Link-local space and the cloud metadata services: refused even when private
    addresses are allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_v4(address)
        if carried is not None:
            return is_never_callable(carried)
        return address.is_link_local or address.scope_id is not None or address in _METADATA
    return address in _LINK_LOCAL_V4 or address in _METADATA


def _plain(address: IpAddress) -> IpAddress:
    """An IPv4-mapped IPv6 address as the IPv4 address it is (what we then connect to)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# --- the URL's shape --------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_ENDS_IN_NUMBER = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")


def _reject(message: str) -> RequestRejected:
    return RequestRejected("INVALID_URL", message, "url")


def parse_callback_url(url: str) -> yarl.URL:
    """The URL, parsed as the HTTP client will parse it; RequestRejected (INVALID_URL) if
    its shape breaks the policy. Addresses are not looked at here."""
    if len(url) > MAX_URL_LENGTH:
        raise _reject(f"url must be at most {MAX_URL_LENGTH} characters")
    if any(unicodedata.category(c)[0] in "CZ" for c in url):
        raise _reject("url must not contain whitespace or control characters")
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        raise _reject("url must be an absolute http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise _reject("url must be an absolute http(s) URL")
    authority = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority or parsed.raw_user is not None or parsed.raw_password is not None:
        raise _reject("url must not contain credentials (user:password@)")
    if parsed.explicit_port == 0:
        raise _reject("url port must be 1-65535")
    host = parsed.raw_host
    if ":" in host:  # a bracketed IPv6 address, which yarl has checked
        return parsed
    labels = host.removesuffix(".").split(".")
    if _ENDS_IN_NUMBER.fullmatch(labels[-1]):
        # WHATWG URL parsers read such a host as an IPv4 address, and so do resolvers,
        # in forms (2130706433, 0x7f.1, 127.1, 1.2.3.4.) only the canonical one is allowed
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _reject("url host must be a name or a dotted-quad IPv4 address") from None
        return parsed
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _reject("url host is not a valid host name")
    return parsed


def literal_address(host: str) -> IpAddress | None:
    """The address a URL's host names directly (an IP literal), else None (a name)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# --- resolution -------------------------------------------------------------------------


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver, on the event loop's executor (never blocking the loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class CallbackUrlPolicy:
    """The rule above, with the switch and the resolver it uses (tests inject one)."""

    allow_private: bool = False
    resolve: Resolve = resolve_host
    resolve_timeout_s: float = RESOLVE_TIMEOUT_S

    def refusal(self, address: IpAddress) -> str | None:
        """Why `address` may not be called, or None if it may."""
        if is_never_callable(address):
            return "is a link-local or cloud metadata address"
        if not self.allow_private and not is_public(address):
            return "is not a public internet address"
        return None

    def check_address(self, host: str, address: IpAddress) -> IpAddress:
        """The address to connect to; AddressRefused if the policy forbids it."""
        reason = self.refusal(address)
        if reason is not None:
            raise AddressRefused(f"{host}: {address} {reason}")
        return _plain(address)

    async def addresses(self, host: str, port: int) -> list[IpAddress]:
        """Every address `host` resolves to, each checked: AddressRefused if any is
        forbidden (one bad address refuses the name), OSError if it does not resolve."""
        async with asyncio.timeout(self.resolve_timeout_s):
            found = await self.resolve(host, port)
        if not found:
            raise OSError(f"{host} resolves to no address")
        checked: list[IpAddress] = []
        for text in found:
            address = literal_address(text)
            if address is None:
                raise AddressRefused(f"{host}: resolver answered {text!r}, not an address")
            checked.append(self.check_address(host, address))
        return list(dict.fromkeys(checked))

    async def check(self, url: str) -> yarl.URL:
        """At registration: the whole rule, RequestRejected (INVALID_URL) if broken."""
        parsed = parse_callback_url(url)
        host = parsed.raw_host or ""  # never empty: parse_callback_url refuses that
        literal = literal_address(host)
        if literal is not None:
            reason = self.refusal(literal)
            if reason is not None:
                raise _reject(f"url host {reason}")
            return parsed
        try:
            await self.addresses(host, parsed.port or 0)
        except (OSError, TimeoutError):
            # one answer for "does not resolve" and "resolves inside": no DNS oracle
            raise _reject("url host must resolve to public internet addresses only") from None
        return parsed
