"""Status-webhook URLs cannot point inside the network (issue 11, point 4).

Registration refuses every kind of inside or malformed URL with 400 INVALID_URL, and each
delivery checks again the addresses it connects to, so a name that later resolves inside
(DNS rebinding) is never connected to. Nothing here leaves the machine: hosts are IP
literals, `localhost`, or names only the injected resolver knows (it fails the test on
any other name, so no lookup reaches real DNS).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cascade.bootstrap import build_app
from cascade.callback_url import (
    AddressRefused,
    CallbackUrlPolicy,
    is_public,
    parse_callback_url,
)
from cascade.clock import ManualClock
from cascade.config import Settings
from cascade.domain.errors import RequestRejected
from cascade.engine.callbacks import CallbackDispatcher
from cascade.store.base import CallbackKind
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as app_settings

CALLBACKS = "/api/callbacks"
CLOCK = ManualClock()
NOW = CLOCK.now_ms()
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class FakeDns:
    """A resolver for the names a test gives it; any other name fails the test."""

    def __init__(self, names: dict[str, Sequence[str]] | None = None) -> None:
        self.names: dict[str, list[Sequence[str] | None]] = {}
        self.asked: list[str] = []
        for name, answer in (names or {}).items():
            self.answer(name, answer)

    def answer(self, name: str, *answers: Sequence[str] | None) -> None:
        """Answer `name` with each of `answers` in turn (the last one stays); None: NXDOMAIN."""
        self.names[name] = list(answers)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        assert host in self.names, f"a lookup of {host!r} would have left the machine"
        answers = self.names[host]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answer


# --- the address rule -------------------------------------------------------------------------

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "100.100.100.200",  # Alibaba metadata
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "0.0.0.0",  # noqa: S104
    "0.1.2.3",
    "224.0.0.1",  # multicast: is_global says yes on 3.11
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "192.88.99.1",  # 6to4 relay anycast
    "168.63.129.16",  # Azure WireServer: public, but inside every Azure VM
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fec0::1",  # site-local: is_global says yes
    "ff02::1",
    "ff0e::1",  # global multicast: is_global says yes
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::7f00:1",  # IPv4-compatible ::127.0.0.1: is_global says yes
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: is_global says yes
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1: is_global says yes
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001::1",  # Teredo
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
]
PUBLIC = [PUBLIC_V4, "1.1.1.1", "8.8.8.8", PUBLIC_V6, "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert CallbackUrlPolicy().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))
    assert CallbackUrlPolicy().refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("fd12::1", True),
        ("169.254.169.254", False),
        ("169.254.170.2", False),  # ECS task metadata: all of link-local stays shut
        ("::ffff:169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("168.63.129.16", False),
        ("100.100.100.200", False),
    ],
)
def test_the_switch_opens_private_addresses_but_never_metadata(address: str, allowed: bool) -> None:
    refusal = CallbackUrlPolicy(allow_private=True).refusal(ipaddress.ip_address(address))
    assert (refusal is None) is allowed


async def test_one_inside_address_refuses_the_whole_name() -> None:
    dns = FakeDns({"mixed.example": [PUBLIC_V4, "10.0.0.7"], "fine.example": [PUBLIC_V4]})
    policy = CallbackUrlPolicy(resolve=dns)
    with pytest.raises(AddressRefused):
        await policy.addresses("mixed.example", 443)
    assert [str(a) for a in await policy.addresses("fine.example", 443)] == [PUBLIC_V4]


def test_allow_private_callbacks_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).allow_private_callbacks is False
    for word, value in [("1", True), ("true", True), ("on", True), ("0", False), ("no", False)]:
        env = {"CASCADE_ALLOW_PRIVATE_CALLBACKS": word}
        assert Settings.from_env(env).allow_private_callbacks is value
    with pytest.raises(ValueError, match="CASCADE_ALLOW_PRIVATE_CALLBACKS"):
        Settings.from_env({"CASCADE_ALLOW_PRIVATE_CALLBACKS": "maybe"})


# --- registration -----------------------------------------------------------------------------


@pytest.fixture
async def sqlite_store(sqlite_url: str, clock: ManualClock) -> AsyncIterator[SqlStore]:
    store = SqlStore(sqlite_url, clock, sqlite_synchronous="NORMAL", pool_size=2)
    yield store
    await store.close()


@pytest.fixture
def dns() -> FakeDns:
    return FakeDns(
        {
            "hooks.example.com": [PUBLIC_V4, PUBLIC_V6],
            "hooks.example.com.": [PUBLIC_V4],
            "xn--bcher-kva.example": [PUBLIC_V4],
            "internal.example.com": ["10.1.2.3"],
            "mixed.example.com": [PUBLIC_V4, "127.0.0.1"],
            "mapped.example.com": ["::ffff:127.0.0.1"],
            "metadata.example.com": ["169.254.169.254"],
            "nowhere.example.com": None,
        }
    )


@asynccontextmanager
async def api(
    store: SqlStore, clock: ManualClock, url: str, dns: FakeDns | None, **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(app_settings(url, **settings), clock=clock, store=store, callback_resolve=dns)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


@pytest.fixture
async def sqlite_account(sqlite_store: SqlStore) -> TestAccount:
    return await make_account(sqlite_store)


@pytest.fixture
async def strict(
    sqlite_store: SqlStore, clock: ManualClock, sqlite_url: str, dns: FakeDns
) -> AsyncIterator[httpx.AsyncClient]:
    async with api(sqlite_store, clock, sqlite_url, dns) as c:
        yield c


REFUSED = [
    # not http(s), not absolute
    "ftp://hooks.example.com/",
    "javascript:alert(1)",
    "hooks.example.com/x",
    "http:/hooks.example.com/x",
    "http://:80/x",
    "http://hooks.example.com:0/x",
    # control characters and whitespace, anywhere
    "http://a\r\nHost: b/",
    "http://hooks.example.com/x\r\nX-Injected: 1",
    "http://hooks.example.com/a b",
    "http://hooks.example.com/\tx",
    "http://hooks.example.com/\x00",
    "http://hooks.example.com/\u2028",
    "http://hooks.example.com/\u00a0",
    " http://hooks.example.com/",
    # too long
    "http://hooks.example.com/" + "a" * 2024,
    "http://hooks.example.com/?" + "a" * 1_100_000,
    # credentials
    "http://user:pass@hooks.example.com/",
    "http://user@hooks.example.com/",
    "http://hooks.example.com%2F@127.0.0.1/",
    # hosts that are no name
    "http://hooks_.example.com%41/",
    "http://a..b/",
    "http://-a.example.com/",
    # legacy IPv4 forms resolvers turn into addresses
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://1.2.3.4./",
    # inside addresses, as literals
    "http://127.0.0.1:9/",
    "http://10.0.0.1/",
    "http://172.16.5.4:8080/x",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:8080/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]:8080/",
    "http://[::]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[::7f00:1]/",
    # names that resolve inside, or not at all (one answer for both: no DNS oracle)
    "https://internal.example.com/hook",
    "https://mixed.example.com/hook",
    "https://mapped.example.com/hook",
    "https://metadata.example.com/hook",
    "https://nowhere.example.com/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_registration_refuses(
    strict: httpx.AsyncClient, sqlite_account: TestAccount, sqlite_store: SqlStore, url: str
) -> None:
    response = await strict.post(CALLBACKS, json={"url": url}, headers=sqlite_account.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("INVALID_URL", "url")
    assert await sqlite_store.list_callbacks(sqlite_account.id) == []


async def test_registration_resolves_no_literal_and_says_the_same_for_every_inside_name(
    strict: httpx.AsyncClient, sqlite_account: TestAccount, dns: FakeDns
) -> None:
    messages = set()
    for name in ("internal", "mixed", "nowhere"):
        url = f"https://{name}.example.com/hook"
        response = await strict.post(CALLBACKS, json={"url": url}, headers=sqlite_account.headers)
        messages.add(response.json()["error"]["message"])
    assert len(messages) == 1
    await strict.post(
        CALLBACKS, json={"url": "http://127.0.0.1:9/"}, headers=sqlite_account.headers
    )
    assert dns.asked == ["internal.example.com", "mixed.example.com", "nowhere.example.com"]


ACCEPTED = [
    "https://hooks.example.com/cascade?token=abc#frag",
    "http://hooks.example.com:8080/x",
    "HTTPS://HOOKS.example.com./x",
    "https://bücher.example/hook",
    f"http://{PUBLIC_V4}:8443/hook",
    "https://[2606:4700:4700::1111]/hook",
    "http://hooks.example.com/" + "a" * 2023,  # 2,048 characters
]


@pytest.mark.parametrize("url", ACCEPTED)
async def test_registration_accepts_public_urls(
    strict: httpx.AsyncClient, sqlite_account: TestAccount, sqlite_store: SqlStore, url: str
) -> None:
    response = await strict.post(CALLBACKS, json={"url": url}, headers=sqlite_account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["url"] == url
    assert [u for _, u in await sqlite_store.list_callbacks(sqlite_account.id)] == [url]


async def test_the_switch_lets_loopback_register_but_not_metadata(
    sqlite_store: SqlStore, clock: ManualClock, sqlite_url: str, sqlite_account: TestAccount
) -> None:
    async with api(sqlite_store, clock, sqlite_url, None, allow_private_callbacks=True) as c:
        for url in ("http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://localhost:9/"):
            response = await c.post(CALLBACKS, json={"url": url}, headers=sqlite_account.headers)
            assert response.status_code == 200, (url, response.text)
        for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/"):
            response = await c.post(CALLBACKS, json={"url": url}, headers=sqlite_account.headers)
            assert response.json()["error"]["code"] == "INVALID_URL", url


# --- kinds: status changes, or messages people send back ------------------------------------


async def test_a_callback_is_registered_for_status_or_incoming_and_listed_with_its_kind(
    sqlite_store: SqlStore, clock: ManualClock, sqlite_url: str, sqlite_account: TestAccount
) -> None:
    headers = sqlite_account.headers
    async with api(sqlite_store, clock, sqlite_url, None, allow_private_callbacks=True) as c:
        status = await c.post(CALLBACKS, json={"url": "http://127.0.0.1:9/status"}, headers=headers)
        incoming = await c.post(
            CALLBACKS,
            json={"url": "http://127.0.0.1:9/incoming", "kind": "incoming"},
            headers=headers,
        )
        said = await c.post(
            CALLBACKS, json={"url": "http://127.0.0.1:9/said", "kind": "status"}, headers=headers
        )
        for answer in (status, incoming, said):
            assert answer.status_code == 200, answer.text
        assert [a.json()["kind"] for a in (status, incoming, said)] == [
            "status",
            "incoming",
            "status",
        ]
        assert all(len(a.json()["secret"]) == 64 for a in (status, incoming, said))
        # stored under the kind the dispatcher reads (the CLI's --incoming is the same)
        owner = sqlite_account.id
        assert await sqlite_store.list_callbacks(owner, CallbackKind.INCOMING) == [
            (incoming.json()["id"], "http://127.0.0.1:9/incoming")
        ]
        assert [u for _, u in await sqlite_store.list_callbacks(owner, CallbackKind.STATUS)] == [
            "http://127.0.0.1:9/status",
            "http://127.0.0.1:9/said",
        ]
        listed = await c.get(CALLBACKS, headers=headers)
        assert listed.status_code == 200
        assert [(x["url"].rsplit("/", 1)[1], x["kind"]) for x in listed.json()] == [
            ("status", "status"),
            ("said", "status"),
            ("incoming", "incoming"),
        ]
        only = await c.get(CALLBACKS, params={"kind": "incoming"}, headers=headers)
        assert only.json() == [
            {"id": incoming.json()["id"], "url": "http://127.0.0.1:9/incoming", "kind": "incoming"}
        ]
        only = await c.get(CALLBACKS, params={"kind": "status"}, headers=headers)
        assert [x["kind"] for x in only.json()] == ["status", "status"]
        gone = await c.delete(f"{CALLBACKS}/{incoming.json()['id']}", headers=headers)
        assert gone.status_code == 200
        assert await sqlite_store.list_callbacks(owner, CallbackKind.INCOMING) == []


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("Incoming", "INVALID_KIND"),
        ("", "INVALID_KIND"),
        ("sms", "INVALID_KIND"),
        ("status ", "INVALID_KIND"),
        (5, "INVALID_TYPE"),
        (None, "INVALID_TYPE"),
        (["incoming"], "INVALID_TYPE"),
    ],
)
async def test_a_bad_kind_is_400_and_nothing_is_registered(
    sqlite_store: SqlStore,
    clock: ManualClock,
    sqlite_url: str,
    sqlite_account: TestAccount,
    kind: object,
    code: str,
) -> None:
    headers = sqlite_account.headers
    async with api(sqlite_store, clock, sqlite_url, None, allow_private_callbacks=True) as c:
        answer = await c.post(
            CALLBACKS, json={"url": "http://127.0.0.1:9/hook", "kind": kind}, headers=headers
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == code
        assert answer.json()["error"]["field"] == "kind"
        for listed in CallbackKind:
            assert await sqlite_store.list_callbacks(sqlite_account.id, listed) == []


@pytest.mark.parametrize("query", [{"kind": "sms"}, {"kind": ""}, {"kind": ["status", "incoming"]}])
async def test_listing_by_a_bad_kind_is_400(
    sqlite_store: SqlStore,
    clock: ManualClock,
    sqlite_url: str,
    sqlite_account: TestAccount,
    query: dict[str, Any],
) -> None:
    async with api(sqlite_store, clock, sqlite_url, None) as c:
        answer = await c.get(CALLBACKS, params=query, headers=sqlite_account.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": {
            "code": "INVALID_KIND",
            "message": answer.json()["error"]["message"],
            "field": "kind",
        }
    }
    assert "kind" in answer.json()["error"]["message"]


async def test_localhost_is_refused_by_the_system_resolver(
    client: httpx.AsyncClient, store: SqlStore
) -> None:
    # the real resolver, on a name /etc/hosts answers: it resolves to loopback
    account = await make_account(store)
    url = "http://localhost:9/hook"
    response = await client.post(CALLBACKS, json={"url": url}, headers=account.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_URL"


# --- delivery ---------------------------------------------------------------------------------


@dataclass
class Events:
    """The dispatcher's side of the store, in memory."""

    pending: list[tuple[int, str, str, str, int]] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    retried: list[tuple[int, int]] = field(default_factory=list)

    def add(self, url: str, tries: int = 0) -> int:
        event_id = len(self.pending) + len(self.delivered) + len(self.retried) + 1
        self.pending.append((event_id, url, "hook-secret", '{"seq":1}', tries))
        return event_id

    async def claim_callback_events(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[int, str, str, str, int]]:
        claimed, self.pending = self.pending[:limit], self.pending[limit:]
        return claimed

    async def finish_callback_events(
        self, delivered: Sequence[int], retry: Sequence[tuple[int, int]]
    ) -> None:
        self.delivered += delivered
        self.retried += retry


@dataclass
class Receiver:
    """An HTTP/1.1 server on loopback that counts connections and keeps each request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *fields = head.split("\r\n")[:-2]
                headers = {
                    k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((line, headers, body))
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
                writer.write(
                    f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n{extra}\r\n".encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(receiver: Receiver, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=tls)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver.port
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def dispatching(
    events: Events, policy: CallbackUrlPolicy, tls: ssl.SSLContext | None = None
) -> AsyncIterator[CallbackDispatcher]:
    dispatcher = CallbackDispatcher(events, CLOCK, policy=policy, tls=tls, timeout_s=5)
    try:
        yield dispatcher
    finally:
        await dispatcher.aclose()


@pytest.mark.parametrize(
    ("host", "answers"),
    [
        ("127.0.0.1", None),
        ("[::ffff:127.0.0.1]", None),
        ("hooks.example.com", ["127.0.0.1"]),  # public at registration, loopback now
        ("hooks.example.com", ["::ffff:127.0.0.1"]),
        ("hooks.example.com", ["::1", "127.0.0.1"]),
    ],
)
async def test_delivery_to_an_inside_address_is_refused_without_connecting(
    host: str, answers: list[str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    dns = FakeDns()
    dns.answer("hooks.example.com", [PUBLIC_V4], answers or [PUBLIC_V4])
    policy = CallbackUrlPolicy(resolve=dns)
    if answers is not None:
        await policy.check("http://hooks.example.com/")  # registration sees a public address
    receiver, events = Receiver(), Events()
    async with serving(receiver) as port, dispatching(events, policy) as dispatcher:
        event_id = events.add(f"http://{host}:{port}/private-path?token=s3cret")
        with caplog.at_level(logging.INFO, logger="cascade.engine.callbacks"):
            assert await dispatcher.run_once() == 1
    assert receiver.connections == 0
    assert events.delivered == []
    assert events.retried == [(event_id, NOW + 1_000)]  # a failure: backed off, tried again
    [record] = [r for r in caplog.records if r.name == "cascade.engine.callbacks"]
    assert record.levelno == logging.WARNING
    assert "refused" in record.getMessage()
    assert "s3cret" not in record.getMessage()
    assert "private-path" not in record.getMessage()


async def test_a_stored_url_that_breaks_the_rule_is_refused_at_delivery() -> None:
    # stored before the rule, or through `cascade callbacks add`, which does not check
    receiver, events = Receiver(), Events()
    policy = CallbackUrlPolicy(allow_private=True, resolve=FakeDns())
    async with serving(receiver) as port, dispatching(events, policy) as dispatcher:
        bad = events.add(f"http://127.0.0.1:{port}/x\r\nX-Injected: 1")
        metadata = events.add("http://169.254.169.254/latest/meta-data/")
        await dispatcher.run_once()
    assert receiver.connections == 0
    assert sorted(events.retried) == [(bad, NOW + 1_000), (metadata, NOW + 1_000)]


async def test_a_redirect_is_a_failed_delivery_and_is_not_followed() -> None:
    target, redirecting, events = Receiver(), Receiver(status=302), Events()
    policy = CallbackUrlPolicy(allow_private=True, resolve=FakeDns())
    async with serving(target) as target_port, serving(redirecting) as port:
        redirecting.headers["Location"] = f"http://127.0.0.1:{target_port}/elsewhere"
        async with dispatching(events, policy) as dispatcher:
            event_id = events.add(f"http://127.0.0.1:{port}/hook", tries=3)
            await dispatcher.run_once()
    assert len(redirecting.requests) == 1
    assert target.connections == 0
    assert events.delivered == []
    assert events.retried == [(event_id, NOW + 8_000)]


async def test_with_the_switch_on_loopback_receives_signed_events() -> None:
    receiver, events = Receiver(), Events()
    policy = CallbackUrlPolicy(allow_private=True, resolve=FakeDns())
    async with serving(receiver) as port, dispatching(events, policy) as dispatcher:
        event_id = events.add(f"http://127.0.0.1:{port}/hook")
        await dispatcher.run_once()
    assert events.delivered == [event_id]
    [(line, headers, body)] = receiver.requests
    assert (line, body) == ("POST /hook HTTP/1.1", b'{"seq":1}')
    assert headers["x-cascade-signature"].startswith("sha256=")


async def test_the_connection_goes_to_the_checked_address_under_the_name() -> None:
    # the name only the resolver knows: reaching it proves the checked address was used,
    # and the Host header still names it
    dns = FakeDns({"hooks.test": ["127.0.0.1"]})
    receiver, events = Receiver(), Events()
    async with (
        serving(receiver) as port,
        dispatching(events, CallbackUrlPolicy(allow_private=True, resolve=dns)) as dispatcher,
    ):
        event_id = events.add(f"http://hooks.test:{port}/hook")
        await dispatcher.run_once()
    assert events.delivered == [event_id]
    assert receiver.requests[0][1]["host"] == f"hooks.test:{port}"
    assert dns.asked == ["hooks.test"]


@dataclass
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return Certificate(server, ssl.create_default_context(cadata=pem.decode()))


async def test_tls_names_the_host_though_the_connection_goes_to_the_checked_address(
    certificate: Certificate,
) -> None:
    receiver, events = Receiver(), Events()

    def note_server_name(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        receiver.server_names.append(name)

    certificate.server.sni_callback = note_server_name
    policy = CallbackUrlPolicy(allow_private=True, resolve=FakeDns({"hooks.test": ["127.0.0.1"]}))
    async with (
        serving(receiver, certificate.server) as port,
        dispatching(events, policy, certificate.client) as dispatcher,
    ):
        event_id = events.add(f"https://hooks.test:{port}/hook")
        await dispatcher.run_once()
    assert receiver.server_names == ["hooks.test"]  # SNI, and the certificate checked for it
    assert events.delivered == [event_id]


def test_the_shape_check_is_the_one_the_handler_relies_on() -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_callback_url("http://127.0.0.1:9/\r\n")
    assert (caught.value.code, caught.value.field) == ("INVALID_URL", "url")


@pytest.mark.parametrize(
    ("env", "allowed"), [({}, True), ({"ALLOW_PRIVATE_CALLBACKS": "0"}, False)]
)
def test_up_allows_private_callbacks_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], allowed: bool
) -> None:
    # its demo's receivers are on loopback; nothing is started here, the settings are caught
    from click.testing import CliRunner

    import cascade.bootstrap
    import cascade.embedded
    import cascade.loop
    from cascade.cli import main

    seen: list[Settings] = []

    async def run(settings: Settings, host: str, port: int, sim_port: int) -> None:
        seen.append(settings)

    def run_loop(coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run(coroutine)

    monkeypatch.setattr(cascade.embedded, "run", run)
    monkeypatch.setattr(cascade.bootstrap, "configure_logging", lambda settings: None)
    monkeypatch.setattr(cascade.loop, "run", run_loop)
    for name in [k for k in os.environ if k.startswith("CASCADE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(f"CASCADE_{name}", value)
    result = CliRunner().invoke(main, ["up"])
    assert result.exit_code == 0, result.output
    assert [s.allow_private_callbacks for s in seen] == [allowed]
