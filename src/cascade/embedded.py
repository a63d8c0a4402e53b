"""`cascade up`: the whole system with one command, against the simulators.

API, delivery engine and status-webhook dispatcher run on one event loop; a simulator
for every channel (Telegram, Viber bot, Viber Business, RCS, an SMSC, flash calls) runs
in a second process that `up` starts and stops. Each server has its own loopback port.
The demo account gets an API key and a login (HTTP Basic on the core SMSBAT API, and
ChatHub's company token), a Telegram bot and a Viber bot registered with the simulators,
a ChatHub organization owning both bots with one active operator,
webhooks set the real way, and demo recipients onboarded the real way (the simulated
users start the bot and share their contact); the other simulators follow the sandbox
personas by the phone's last digit. So every path of the cascade can be tried with curl.
Beside the simulators, on the port after theirs, a media host serves the sample image,
video and PDF that rich messages can name (`cascade.simulators.media_host`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from typing import Any, Protocol

import httpx
import uvicorn

from cascade import loop
from cascade.api.chathub.widget.demo import PATH as DEMO_PAGE
from cascade.bootstrap import (
    build_app,
    build_channels,
    build_engine,
    build_metrics,
    build_store,
    configure_logging,
)
from cascade.channels.registry import CHANNELS
from cascade.channels.spec import ChannelSpec, Demo, setting_fields
from cascade.clock import SystemClock
from cascade.config import Settings, env_name
from cascade.domain.chats import OperatorStatus, OperatorSync
from cascade.domain.sending import Sender
from cascade.engine.runner import stop_on_signals
from cascade.security import Passwords, hash_secret, login_problem, new_api_key, new_password
from cascade.simulators import media_host
from cascade.simulators.personas import PERSONAS
from cascade.store import Account, AccountStore, ChatStore, CredentialKind, LoginTaken
from cascade.store.migrate import upgrade_async
from cascade.store.sql import SqlStore

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `up`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class DemoAccount:
    account: Account
    key: str
    bots: dict[str, str]  # channel -> the demo bot's id
    login: str  # HTTP Basic on the core SMSBAT API, with this password
    password: str
    organization_id: int  # ChatHub: the organization owning the demo bots
    operator_id: int  # and its active operator


DEMO_ORGANIZATION = "Demo support"
DEMO_OPERATOR = "Demo operator"


class DemoStore(AccountStore, ChatStore, Protocol):
    """What `up` prepares the demo account with."""


# The channels `up` runs against their simulators, each with the first of its ports.
DemoChannel = tuple[ChannelSpec[Any], Demo[Any], int]


def demo_channels(sim_port: int) -> list[DemoChannel]:
    """Every channel with a demo, with its simulator's first port: they take consecutive
    ports from `sim_port`, in the registry's order."""
    found: list[DemoChannel] = []
    port = sim_port
    for spec in CHANNELS:
        if spec.demo is not None:
            found.append((spec, spec.demo, port))
            port += spec.demo.ports
    return found


def media_port(sim_port: int) -> int:
    """The sample media's port: the one after the simulators' last."""
    return sim_port + sum(demo.ports for _, demo, _ in demo_channels(sim_port))


def _server(app: object, host: str, port: int, *, websockets: bool = False) -> _EmbeddedServer:
    """A server for the API (`websockets`: ChatHub's /chathub) or a simulator."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # its lines go through Cascade's handler (text or JSON)
        access_log=False,
        lifespan="on",
        ws="websockets-sansio" if websockets else "none",
    )
    return _EmbeddedServer(config)


async def _prepare_demo(store: DemoStore, key: str, login: str, password: str) -> DemoAccount:
    """The demo account (the one its key names, else the oldest named "demo", else a new
    one) with its key, its bots, its login set to `password` (replacing the last), and
    its ChatHub organization owning the bots with an active operator."""
    found = await store.find_credential(CredentialKind.API_KEY, hash_secret(key))
    account = await store.get_account(found.account_id) if found else None
    if account is None:
        account = await store.find_account("demo") or await store.create_account("demo", "Cascade")
        await store.add_api_key(account.id, hash_secret(key))
    bots: dict[str, str] = {}
    for spec in CHANNELS:
        token = spec.demo.bot_token if spec.demo else None
        if spec.bots is None or token is None:
            continue
        credential = await store.find_credential(CredentialKind.BOT, hash_secret(token))
        if credential is None or credential.bot_id is None:
            bots[spec.name] = await store.add_bot(account.id, spec.name, token, hash_secret(token))
        else:
            bots[spec.name] = credential.bot_id
    password_hash = await asyncio.to_thread(Passwords().hash, password)
    try:
        await store.set_login(account.id, login, password_hash)
    except LoginTaken:
        raise SystemExit(
            f"the login {login!r} belongs to another account: choose CASCADE_DEMO_LOGIN"
        ) from None
    organization_id, operator_id = await _demo_chathub(store, account.id, list(bots.values()))
    return DemoAccount(account, key, bots, login, password, organization_id, operator_id)


async def _demo_chathub(store: ChatStore, account_id: str, bots: list[str]) -> tuple[int, int]:
    """The demo's organization (made at the first `up`, found by name after) owning the
    demo bots, and its first active operator (one is added when none is active)."""
    found = [o for o in await store.organizations(account_id) if o.name == DEMO_ORGANIZATION]
    org = found[0] if found else await store.create_organization(account_id, DEMO_ORGANIZATION)
    await store.attach_bots(account_id, org.id, bots)
    active = [
        op for op in await store.operators(account_id, org.id) if op.status is OperatorStatus.ACTIVE
    ]
    if active:
        return org.id, active[0].id
    [added] = await store.synchronize_operators(account_id, [OperatorSync(org.id, DEMO_OPERATOR)])
    return org.id, added.id


async def _onboard(
    store: SqlStore, demo: DemoAccount, settings: Settings, url: dict[str, str]
) -> None:
    """Set the demo bots' webhooks and let the demo recipients meet the bots, as users
    would; point the other providers' reports at Cascade, as an operator would."""
    public = settings.public_url
    async with httpx.AsyncClient(timeout=10) as http:
        for spec, demo_setup, _ in demo_channels(0):
            if spec.bots is not None and spec.name in demo.bots:
                row = await store.sender(demo.bots[spec.name])
                if row is None:
                    raise RuntimeError(f"the demo {spec.name} bot is missing")
                channel = spec.build(settings.of(spec), public)
                try:
                    await spec.bots.set_webhook(
                        channel,
                        Sender(row.id, row.token, row.webhook_secret),
                        f"{public}/webhooks/{spec.name}/{row.id}",
                    )
                finally:
                    await channel.aclose()
            if demo_setup.onboard is not None:
                await demo_setup.onboard(http, url[spec.name])
            if demo_setup.connect is not None:
                await demo_setup.connect(http, url[spec.name], public)


def demo_settings(
    settings: Settings, host: str, sim_port: int, env: Mapping[str, str]
) -> tuple[Settings, dict[str, str]]:
    """Every channel with a demo on, pointed at its simulator; and the simulators' URLs."""
    url: dict[str, str] = {}
    channel_settings = dict(settings.channel_settings)
    for spec, demo, port in demo_channels(sim_port):
        url[spec.name] = f"http://{host}:{port}"
        explicit = frozenset(f.name for f in setting_fields(spec) if env.get(env_name(f.name)))
        channel_settings[spec.name] = demo.configure(
            settings.of(spec), url[spec.name], host, port, explicit
        )
    channels = ",".join(spec.name for spec, _, _ in demo_channels(sim_port))
    return replace(settings, channels=channels, channel_settings=channel_settings), url


async def run(settings: Settings, host: str, port: int, sim_port: int) -> None:
    """Run everything until SIGINT/SIGTERM. Simulators take `sim_port` … `sim_port + 6`,
    the sample media `sim_port + 7`."""
    problem = login_problem(settings.demo_login)
    if problem is not None:
        raise SystemExit(f"CASCADE_DEMO_LOGIN: {problem}")
    await upgrade_async(settings.database_url)
    key = settings.demo_key or new_api_key()
    password = settings.demo_password or new_password()
    settings, url = demo_settings(settings, host, sim_port, os.environ)
    stop = stop_on_signals()
    simulators = _SimulatorProcess(settings, host, sim_port)
    try:
        clock = SystemClock()
        store = build_store(settings, clock)
        try:
            demo = await _prepare_demo(store, key, settings.demo_login, password)
            channels = build_channels(settings)
            # one process: its /metrics shows what the API and the engine count
            metrics = build_metrics(settings, clock, store)
            engine = build_engine(settings, store, channels, clock, metrics=metrics)
            api = build_app(settings, clock=clock, store=store, wake=engine.wake, metrics=metrics)
            await simulators.ready()
            async with _serving([_server(api, host, port, websockets=True)]):
                await _onboard(store, demo, settings, url)
                engine_task = asyncio.create_task(engine.run(stop))
                with simulators.watched(stop):
                    _banner(demo, settings, settings.public_url, host, sim_port)
                    await stop.wait()
                await asyncio.gather(engine_task, return_exceptions=True)
        finally:
            await store.close()
    finally:
        ended_alone = simulators.end()
    if ended_alone:
        raise SystemExit("the simulators' process ended; up stopped with it")


# --- the simulators' process -----------------------------------------------------------------

# The simulators run in a process of their own, started fresh (no copy of this one's
# threads and connections): with the API and the engine on the same event loop, a burst
# made their answers and webhooks late enough to end provider windows unconfirmed
# (BENCHMARKS.md, SMS). On two cores, each side now has one.
_SPAWN = multiprocessing.get_context("spawn")


class _SimulatorProcess:
    """The simulators' process, from its start to its end.

    `up` alone decides when it stops: a Ctrl-C, or a SIGTERM to the whole process group,
    reaches both processes, and the simulators must outlive the engine's last requests.
    They stop when the pipe `up` holds open is closed: by `end`, or by `up` ending in any
    way at all (killed, it cannot leave an orphan behind).
    """

    def __init__(self, settings: Settings, host: str, sim_port: int) -> None:
        self._ready = _SPAWN.Event()
        lifeline, self._lifeline = _SPAWN.Pipe(duplex=False)
        self._process = _SPAWN.Process(
            target=_simulators_process,
            args=(settings, host, sim_port),
            kwargs={"ready": self._ready, "lifeline": lifeline},
            name="cascade-simulators",
        )
        self._process.start()
        lifeline.close()  # the child has its own end

    async def ready(self) -> None:
        """Wait until every simulator listens; SystemExit if the process ends first."""
        while not self._ready.is_set():
            if not self._process.is_alive():
                raise SystemExit("the simulators could not start (is a port in use?)")
            await asyncio.sleep(0.05)

    @contextlib.contextmanager
    def watched(self, stop: asyncio.Event) -> Iterator[None]:
        """Within: `stop` is set if the process ends on its own."""
        loop_ = asyncio.get_running_loop()
        sentinel = self._process.sentinel

        def ended() -> None:
            loop_.remove_reader(sentinel)
            log.error(
                "the simulators' process ended (exit code %s); stopping", self._process.exitcode
            )
            stop.set()

        loop_.add_reader(sentinel, ended)
        try:
            yield
        finally:
            loop_.remove_reader(sentinel)

    def end(self) -> bool:
        """Stop the process; whether it had ended on its own before."""
        ended_alone = not self._process.is_alive()
        self._lifeline.close()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        return ended_alone


def _simulators_process(
    settings: Settings,
    host: str,
    sim_port: int,
    *,
    ready: EventType,
    lifeline: Connection,
) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):  # `up` decides (_SimulatorProcess)
        signal.signal(signum, signal.SIG_IGN)
    configure_logging(settings)
    loop.run(_serve_simulators(settings, host, sim_port, ready, lifeline))


async def _serve_simulators(
    settings: Settings,
    host: str,
    sim_port: int,
    ready: EventType,
    lifeline: Connection,
) -> None:
    """Serve every simulator and the sample media, telling `ready` once all listen, until
    `lifeline` ends."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(lifeline.fileno(), stop.set)
    async with contextlib.AsyncExitStack() as running:
        servers = [
            _server(app, host, port)
            for spec, demo, first in demo_channels(sim_port)
            for app, port in await running.enter_async_context(
                demo.serve(host, first, settings.of(spec))
            )
        ]
        servers.append(_server(media_host.create_app(), host, media_port(sim_port)))
        async with _serving(servers):
            ready.set()
            await stop.wait()


# --- running servers ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _serving(servers: list[_EmbeddedServer]) -> AsyncIterator[None]:
    """The servers started (SystemExit when one cannot), then stopped on leaving."""
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                raise SystemExit("a server could not start (is the port in use?)")
            await asyncio.sleep(0.05)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def _banner(demo: DemoAccount, settings: Settings, public: str, host: str, sim_port: int) -> None:
    send = f"{public}/api/CascadeMessage/send_message/async"
    where = [f"{d.simulator} {host}:{port}" for _, d, port in demo_channels(sim_port)]
    lines = [
        f"Cascade is up on {public}  (docs: {public}/docs)",
        "  simulators: " + ", ".join(where),
        f"  sample media: http://{host}:{media_port(sim_port)}{media_host.PATH}/"
        + "{"
        + ",".join(media_host.SAMPLES)
        + "}",
        f"  demo account: {demo.account.id}",
        f"  demo API key: {demo.key}",
        f"  demo login:   {demo.login}  password: {demo.password}  (HTTP Basic on /bat/…, "
        "ChatHub's POST /api/company/get-token)",
        f"  console:      {public}/console  (sign in with the demo login)",
        f"  ChatHub:      organization {demo.organization_id} owns the demo bots; "
        f"operator id {demo.operator_id}",
        *(
            [f"  operator chat panel: {public}{DEMO_PAGE}  (sign in with the demo login)"]
            if settings.widget_demo
            else []
        ),
        "",
        "Demo recipients:",
        *(f"  {phone}  {what}" for phone, what in PERSONAS.items()),
        "",
        "Send one (lands on Telegram):",
        f"  curl -s {send} -H 'Content-Type: application/json' \\",
        f"    -H 'X-Authorization-Key: {demo.key}' \\",
        '    -d \'[{"id":"demo-1","fromName":"Demo","toPhone":"+380501230001",'
        '"messageType":"transaction","text":"Hello from Cascade"}]\'',
        "Watch its status:",
        f"  curl -s '{public}/api/CascadeMessage/status?trackingId=demo-1' "
        f"-H 'X-Authorization-Key: {demo.key}'",
    ]
    print("\n".join(lines), flush=True)
