"""`cascade up`: the whole system in one process, against the simulators.

API, delivery engine, status-webhook dispatcher and the Telegram and Viber simulators run
on one event loop, each server on its own loopback port. The demo account gets a
Telegram bot and a Viber bot registered with the simulators, webhooks set the real way,
and demo recipients onboarded the real way (the simulated users start the bot and share
their contact), so every path of the cascade can be tried with curl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import uvicorn

from cascade.bootstrap import build_app, build_channels, build_store
from cascade.channels.base import Sender
from cascade.channels.telegram import TelegramChannel
from cascade.channels.viber_bot import ViberBotChannel
from cascade.clock import SystemClock
from cascade.config import Settings
from cascade.engine.runner import Engine
from cascade.security import hash_secret, new_api_key
from cascade.simulators import telegram as telegram_sim
from cascade.simulators import viber as viber_sim
from cascade.store import Account, CredentialKind
from cascade.store.migrate import upgrade_async
from cascade.store.sql import SqlStore

log = logging.getLogger(__name__)

# Tokens the simulators accept; they are worth nothing anywhere else.
DEMO_TELEGRAM_TOKEN = "7000000001:DEMO-telegram-bot-token-for-the-sims"  # noqa: S105
DEMO_VIBER_TOKEN = "demo-viber-bot-auth-token-for-the-sim"  # noqa: S105

# Demo recipients (SPEC C sandbox personas, by last digit).
DEMO_PHONES = {
    "+380501230001": "Telegram user: delivered by telegram",
    "+380501230002": "blocked the Telegram bot, Viber bot subscriber: delivered by viber_bot",
    "+380501230005": "Viber bot subscriber whose phone never confirms: window ends, moves on",
    "+380501230009": "Viber bot subscriber who reads at once: read via viber_bot",
    "+380501230006": "plain phone: no messenger reaches it",
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
    """Run everything until SIGINT/SIGTERM."""
    await upgrade_async(settings.database_url)
    key = settings.demo_key or new_api_key()
    public = settings.public_url
    tg_url = f"http://{host}:{sim_port}"
    vb_url = f"http://{host}:{sim_port + 1}"
    settings = replace(settings, telegram_api_url=tg_url, viber_api_url=vb_url)

    clock = SystemClock()
    store = build_store(settings, clock)
    demo = await _prepare_demo(store, key)
    engine = Engine(settings, store, build_channels(settings), clock)
    api = build_app(settings, clock=clock, store=store, wake=engine.wake)
    servers = [
        _server(api, host, port),
        _server(telegram_sim.create_app(), host, sim_port),
        _server(viber_sim.create_app(bots={DEMO_VIBER_TOKEN: "Cascade demo"}), host, sim_port + 1),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            for task in tasks:
                task.cancel()
            raise SystemExit("a server could not start (is the port in use?)")
        await asyncio.sleep(0.05)
    await _onboard(store, demo, public, tg_url, vb_url)
    engine_task = asyncio.create_task(engine.run(stop))
    _banner(demo, public, tg_url, vb_url)
    await stop.wait()
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, engine_task, return_exceptions=True)
    await store.close()


def _banner(demo: Demo, public: str, tg_url: str, vb_url: str) -> None:
    send = f"{public}/api/CascadeMessage/send_message/async"
    lines = [
        f"Cascade is up on {public}  (docs: {public}/docs)",
        f"  Telegram simulator: {tg_url}   Viber simulator: {vb_url}",
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
