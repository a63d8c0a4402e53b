"""A run that makes every series of /metrics move, in process: the real app and engine
(`bootstrap`) on a SQLite store and a manual clock, an SMS stand-in with a window, a
status-webhook receiver on loopback (one URL acknowledges, one fails), and a scrape
parsed with prometheus-client's own parser. test_metrics.py checks the figures against
what was sent; test_grafana_dashboard.py checks the dashboard's queries against the names.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpx
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cascade.bootstrap import build_app, build_engine, build_metrics
from cascade.clock import ManualClock
from cascade.domain.events import DeliveryReport
from cascade.domain.sending import Limits, Outbound, Outcome, Sender, Sent, Throttled
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account, test_settings

SEND = "/api/CascadeMessage/send_message/async"
STATUS = "/api/CascadeMessage/status"
THROTTLED_PHONE = "+380509990000"
REPORT_AFTER_S = 3.0  # how long after its send each SMS's receipt arrives
WINDOW = 8
SMS_LIMITS = Limits(4096, None, None, True, 3600)  # confirms delivery: waits for a receipt


@dataclass
class SmsStandIn:
    """The SMS channel's part the engine sees: sends, throttles one phone once, and has a
    window (`channels.base.Windowed`)."""

    name: str = "sms"
    limits: Limits = SMS_LIMITS
    sent: list[Outbound] = field(default_factory=list)
    throttled: int = 0

    async def send(self, out: Outbound) -> Outcome:
        if out.phone == THROTTLED_PHONE and not self.throttled:
            self.throttled += 1
            return Throttled(1.0)
        self.sent.append(out)
        return Sent(f"smsc-{out.attempt_id}")

    def window(self) -> tuple[int, int]:
        return 0, WINDOW

    async def aclose(self) -> None:
        return None


@dataclass
class Scrape:
    text: str
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The one sample named so with these labels (others it has are not compared)."""
        found = [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0].value

    def names(self) -> set[str]:
        return {s.name for s in self.samples}


def parse(text: str) -> Scrape:
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return Scrape(text, samples)


@dataclass
class Receiver:
    """Status webhooks: `/ok` answers 204, `/fail` 500; counts both."""

    ok: int = 0
    failed: int = 0
    url: str = ""


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    seen = Receiver()

    async def ok(_: web.Request) -> web.Response:
        seen.ok += 1
        return web.Response(status=204)

    async def fail(_: web.Request) -> web.Response:
        seen.failed += 1
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/fail", fail)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    seen.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield seen
    finally:
        await runner.cleanup()


def messages(phones: Iterable[str], tag: str) -> list[dict[str, object]]:
    return [
        {
            "id": f"{tag}-{n}",
            "fromName": "Shop",
            "toPhone": phone,
            "messageType": "transaction",
            "text": f"Order {n} shipped",
        }
        for n, phone in enumerate(phones)
    ]


@dataclass
class Run:
    """What the run did, for the checks, and the scrapes it took."""

    account: TestAccount
    limited: TestAccount
    phones: list[str]
    message_ids: list[str]
    before_work: Scrape
    after: Scrape
    receiver: Receiver
    channel: SmsStandIn


async def metrics_run(store: SqlStore, clock: ManualClock, db_url: str, count: int = 6) -> Run:
    """Send `count` messages (and the same request again), let one account hit its rate
    limit, deliver everything with receipts `REPORT_AFTER_S` later, deliver the status
    webhooks, and scrape before the work and after it."""
    settings = test_settings(db_url, allow_private_callbacks=True, channels="sms")
    account = await make_account(store, "metrics")
    limited = await make_account(store, "limited")
    await store.set_account_limits(limited.id, send=(1.0, 1))
    channel = SmsStandIn()
    metrics = build_metrics(settings, clock, store, wait_for_store=True)  # figures as of now
    engine = build_engine(
        settings, store, {"sms": channel}, clock, {"sms": Sender("sms", "")}, metrics
    )
    app = build_app(settings, clock=clock, store=store, metrics=metrics)
    phones = [f"+38050123{n:04d}" for n in range(count - 1)] + [THROTTLED_PHONE]
    async with (
        receiving() as receiver,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cascade.test"
        ) as client,
    ):
        for path in ("/ok", "/fail"):
            await store.add_callback(account.id, receiver.url + path, "s" * 64)
        batch = messages(phones, "m")
        answer = await client.post(SEND, json=batch, headers=account.headers)
        assert answer.status_code == 200, answer.text
        message_ids = [item["messageId"] for item in answer.json()]
        repeat = await client.post(SEND, json=batch, headers=account.headers)  # A7: no new
        assert [item["messageId"] for item in repeat.json()] == message_ids
        for _ in range(2):  # burst 1: the second is refused
            await client.post(SEND, json=messages(["+380671112233"], "l"), headers=limited.headers)
        clock.advance(5)
        before_work = parse((await client.get("/metrics")).text)

        await engine.worker.run_once()  # all sent but the throttled one
        clock.advance(REPORT_AFTER_S)
        await store.record_reports(
            [
                DeliveryReport("sms", f"smsc-{out.attempt_id}", "delivered", clock.now_ms())
                for out in channel.sent
            ]
        )
        clock.advance(1.5)  # the pause is over: the throttled one goes
        await engine.worker.run_once()
        clock.advance(REPORT_AFTER_S)
        last = channel.sent[-1]
        await store.record_reports(
            [DeliveryReport("sms", f"smsc-{last.attempt_id}", "delivered", clock.now_ms())]
        )
        try:
            while await engine.dispatcher.run_once():
                pass
        finally:
            await engine.dispatcher.aclose()
        for message_id in message_ids[:2]:
            found = await client.get(f"{STATUS}/{message_id}", headers=account.headers)
            assert found.json()["status"] == "delivered", found.text
        clock.advance(1.5)  # past the store read's second
        after = parse((await client.get("/metrics")).text)
    return Run(account, limited, phones, message_ids, before_work, after, receiver, channel)
