"""`cascade up`: the whole system with one command, against the simulators.

API, delivery engine and status-webhook dispatcher run on one event loop; a simulator
for every channel (Telegram, Viber bot, Viber Business, RCS, an SMSC, flash calls) runs
in a second process that `up` starts and stops. Each server has its own loopback port.
The demo account gets a Telegram bot and a Viber bot registered with the simulators,
webhooks set the real way, and demo recipients onboarded the real way (the simulated
users start the bot and share their contact); the other simulators follow the sandbox
personas by the phone's last digit. So every path of the cascade can be tried with curl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType

import httpx
import uvicorn

from cascade import loop
from cascade.bootstrap import (
    build_app,
    build_channels,
    build_engine,
    build_store,
    configure_logging,
)
from cascade.channels.telegram import TelegramChannel
from cascade.channels.viber_bot import ViberBotChannel
from cascade.clock import SystemClock
from cascade.config import Settings
from cascade.domain.sending import Sender
from cascade.engine.runner import stop_on_signals
from cascade.security import hash_secret, new_api_key
from cascade.simulators import flashcall as twilio_sim
from cascade.simulators import rcs as rcs_sim
from cascade.simulators import smsc as smsc_sim
from cascade.simulators import telegram as telegram_sim
from cascade.simulators import viber as viber_sim
from cascade.simulators import viber_business as vonage_sim
from cascade.store import Account, CredentialKind
from cascade.store.migrate import upgrade_async
from cascade.store.sql import SqlStore

log = logging.getLogger(__name__)

# Tokens the simulators accept; they are worth nothing anywhere else.
DEMO_TELEGRAM_TOKEN = "7000000001:DEMO-telegram-bot-token-for-the-sims"  # noqa: S105
DEMO_VIBER_TOKEN = "demo-viber-bot-auth-token-for-the-sim"  # noqa: S105

# Installation-level provider accounts the simulators accept.
DEMO_VONAGE = ("demo-vonage-key", "demo-vonage-secret", "CascadeDemo", "demo-vonage-signature")
DEMO_RBM_AGENT = "cascade-demo-agent"
DEMO_RBM_CLIENT_TOKEN = "demo-rbm-client-token"  # noqa: S105
DEMO_SMPP = ("cascade", "demo")
DEMO_TWILIO = ("AC" + "0" * 32, "demo-twilio-auth-token")
DEMO_CALLER_PREFIX = "+44207946"

# Demo recipients (SPEC C sandbox personas, by last digit).
DEMO_PHONES = {
    "+380501230001": "Telegram user: delivered by telegram",
    "+380501230002": "blocked the Telegram bot, Viber bot subscriber: delivered by viber_bot",
    "+380501230003": "Viber user, not a bot subscriber: delivered by viber_business",
    "+380501230004": "RCS-capable Android: delivered by rcs",
    "+380501230005": "Viber subscriber whose phone never confirms: windows end, then sms",
    "+380501230006": "plain phone: delivered by sms",
    "+380501230007": "unreachable everywhere: undeliverable (SMS receipt UNDELIV)",
    "+380501230008": "switched off: expired when the TTL is shorter than 10 minutes",
    "+380501230009": "Viber subscriber who reads at once (read via viber_bot); takes flash calls",
}


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `up`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class Demo:
    account: Account
    key: str
    telegram_bot: str
    viber_bot: str


def _server(app: object, host: str, port: int) -> _EmbeddedServer:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
    )
    return _EmbeddedServer(config)


async def _prepare_demo(store: SqlStore, key: str) -> Demo:
    found = await store.find_credential(CredentialKind.API_KEY, hash_secret(key))
    account = await store.get_account(found.account_id) if found else None
    if account is None:
        account = await store.find_account("demo") or await store.create_account("demo", "Cascade")
        await store.add_api_key(account.id, hash_secret(key))
    bots: dict[str, str] = {}
    for kind, token in (
        (CredentialKind.TELEGRAM, DEMO_TELEGRAM_TOKEN),
        (CredentialKind.VIBER, DEMO_VIBER_TOKEN),
    ):
        credential = await store.find_credential(kind, hash_secret(token))
        if credential is None or credential.bot_id is None:
            bots[kind.value] = await store.add_bot(account.id, kind, token, hash_secret(token))
        else:
            bots[kind.value] = credential.bot_id
    return Demo(account, key, bots["telegram"], bots["viber"])


async def _onboard(store: SqlStore, demo: Demo, public: str, tg_url: str, vb_url: str) -> None:
    """Set both bots' webhooks and let the demo recipients meet the bots, as users would."""
    tg_row = await store.sender(demo.telegram_bot)
    vb_row = await store.sender(demo.viber_bot)
    if tg_row is None or vb_row is None:
        raise RuntimeError("demo bots are missing")
    async with httpx.AsyncClient(timeout=10) as http:
        tg = TelegramChannel(tg_url, http)
        vb = ViberBotChannel(vb_url, http)
        await tg.set_webhook(
            Sender(tg_row.id, tg_row.token, tg_row.webhook_secret),
            f"{public}/webhooks/telegram/{tg_row.id}",
        )
        await vb.set_webhook(
            Sender(vb_row.id, vb_row.token, vb_row.webhook_secret),
            f"{public}/webhooks/viber_bot/{vb_row.id}",
        )
        for phone in ("+380501230001", "+380501230002"):
            for action in ("start", "share_contact"):
                response = await http.post(
                    f"{tg_url}/_sim/users/{phone}/{action}", params={"bot": DEMO_TELEGRAM_TOKEN}
                )
                response.raise_for_status()
        (
            await http.post(
                f"{tg_url}/_sim/users/+380501230002/block", params={"bot": DEMO_TELEGRAM_TOKEN}
            )
        ).raise_for_status()
        for phone in ("+380501230002", "+380501230005", "+380501230009"):
            for action in ("subscribe", "share_contact"):
                response = await http.post(
                    f"{vb_url}/_sim/users/{phone}/{action}", params={"token": DEMO_VIBER_TOKEN}
                )
                response.raise_for_status()


async def run(settings: Settings, host: str, port: int, sim_port: int) -> None:
    """Run everything until SIGINT/SIGTERM. Simulators take `sim_port` … `sim_port + 6`."""
    await upgrade_async(settings.database_url)
    key = settings.demo_key or new_api_key()
    public = settings.public_url
    url = {name: f"http://{host}:{sim_port + n}" for n, name in enumerate(SIMULATORS)}
    rcs_key, rcs_public_pem = rcs_sim.new_service_account(token_uri=f"{url['rcs']}/token")
    settings = replace(
        settings,
        channels="telegram,viber_bot,viber_business,rcs,sms,flashcall",
        telegram_api_url=url["telegram"],
        viber_api_url=url["viber"],
        viber_business_api_url=url["viber_business"],
        viber_business_api_key=DEMO_VONAGE[0],
        viber_business_api_secret=DEMO_VONAGE[1],
        viber_business_service_id=DEMO_VONAGE[2],
        viber_business_signature_secret=DEMO_VONAGE[3],
        rcs_api_url=f"{url['rcs']}/v1",
        rcs_agent_id=DEMO_RBM_AGENT,
        rcs_token_uri=f"{url['rcs']}/token",
        rcs_client_token=DEMO_RBM_CLIENT_TOKEN,
        smpp_host=host,
        smpp_port=sim_port + SIMULATORS.index("smpp"),
        smpp_system_id=DEMO_SMPP[0],
        smpp_password=DEMO_SMPP[1],
        sms_sender="380500000000",
        flashcall_api_url=url["flashcall"],
        flashcall_account_sid=DEMO_TWILIO[0],
        flashcall_auth_token=DEMO_TWILIO[1],
        flashcall_caller_prefix=DEMO_CALLER_PREFIX,
    )
    stop = stop_on_signals()
    simulators = _SimulatorProcess(
        settings, host, sim_port, rcs_key["client_email"], rcs_public_pem
    )
    try:
        clock = SystemClock()
        store = build_store(settings, clock)
        try:
            demo = await _prepare_demo(store, key)
            channels = build_channels(settings, rcs_key=rcs_key)
            engine = build_engine(settings, store, channels, clock)
            api = build_app(settings, clock=clock, store=store, wake=engine.wake)
            await simulators.ready()
            async with _serving([_server(api, host, port)]):
                await _onboard(store, demo, public, url["telegram"], url["viber"])
                await _provider_webhooks(public, url)
                engine_task = asyncio.create_task(engine.run(stop))
                with simulators.watched(stop):
                    _banner(demo, public, url)
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

    def __init__(
        self,
        settings: Settings,
        host: str,
        sim_port: int,
        rcs_client_email: str,
        rcs_public_pem: str,
    ) -> None:
        self._ready = _SPAWN.Event()
        lifeline, self._lifeline = _SPAWN.Pipe(duplex=False)
        self._process = _SPAWN.Process(
            target=_simulators_process,
            args=(settings, host, sim_port, rcs_client_email),
            kwargs={"rcs_public_pem": rcs_public_pem, "ready": self._ready, "lifeline": lifeline},
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
    rcs_client_email: str,
    *,
    rcs_public_pem: str,
    ready: EventType,
    lifeline: Connection,
) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):  # `up` decides (_SimulatorProcess)
        signal.signal(signum, signal.SIG_IGN)
    configure_logging(settings)
    loop.run(_serve_simulators(host, sim_port, rcs_client_email, rcs_public_pem, ready, lifeline))


async def _serve_simulators(
    host: str,
    sim_port: int,
    rcs_client_email: str,
    rcs_public_pem: str,
    ready: EventType,
    lifeline: Connection,
) -> None:
    """Serve every simulator, telling `ready` once all listen, until `lifeline` ends."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(lifeline.fileno(), stop.set)
    smsc = await smsc_sim.create_server(
        host, sim_port + SIMULATORS.index("smpp"), system_id=DEMO_SMPP[0], password=DEMO_SMPP[1]
    )
    servers = [
        _server(telegram_sim.create_app(), host, sim_port),
        _server(viber_sim.create_app(bots={DEMO_VIBER_TOKEN: "Cascade demo"}), host, sim_port + 1),
        _server(
            vonage_sim.create_app(accounts={DEMO_VONAGE[0]: DEMO_VONAGE[1]}), host, sim_port + 2
        ),
        _server(
            rcs_sim.create_app(
                agents=(DEMO_RBM_AGENT,), service_accounts={rcs_client_email: rcs_public_pem}
            ),
            host,
            sim_port + 3,
        ),
        _server(smsc_sim.create_admin_app(smsc), host, sim_port + 5),
        _server(
            twilio_sim.create_app(accounts={DEMO_TWILIO[0]: DEMO_TWILIO[1]}), host, sim_port + 6
        ),
    ]
    try:
        async with _serving(servers):
            ready.set()
            await stop.wait()
    finally:
        await smsc.aclose()


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


# Simulators, in port order from --sim-port (the SMSC's admin API follows its SMPP port).
SIMULATORS = ("telegram", "viber", "viber_business", "rcs", "smpp", "smsc_admin", "flashcall")


async def _provider_webhooks(public: str, url: dict[str, str]) -> None:
    """What an operator does in Vonage's dashboard and the RBM console: point the
    provider's reports at Cascade (the RBM one with its secret handshake)."""
    async with httpx.AsyncClient(timeout=10) as http:
        (
            await http.post(
                f"{url['viber_business']}/_sim/webhook",
                json={
                    "url": f"{public}/webhooks/viber_business/viber_business",
                    "signature_secret": DEMO_VONAGE[3],
                },
            )
        ).raise_for_status()
        (
            await http.post(
                f"{url['rcs']}/_sim/webhook",
                json={"url": f"{public}/webhooks/rcs/rcs", "clientToken": DEMO_RBM_CLIENT_TOKEN},
            )
        ).raise_for_status()


def _banner(demo: Demo, public: str, url: dict[str, str]) -> None:
    send = f"{public}/api/CascadeMessage/send_message/async"
    lines = [
        f"Cascade is up on {public}  (docs: {public}/docs)",
        "  simulators: " + ", ".join(f"{name} {where}" for name, where in url.items()),
        f"  demo account: {demo.account.id}",
        f"  demo API key: {demo.key}",
        "",
        "Demo recipients:",
        *(f"  {phone}  {what}" for phone, what in DEMO_PHONES.items()),
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
