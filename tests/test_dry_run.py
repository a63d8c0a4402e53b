"""Dry runs (SPEC A9, a Cascade extension) over HTTP, in process, on SQLite and PostgreSQL:
`?dryRun=true` on both Cascade send endpoints and on `POST /bat/messagelist` validates as a
real send, answers each message's route as the engine's planner would take it now —
each step `will_try` or `skip` with its reason, window, latest start and price — and
stores and sends nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cascade.bootstrap import build_app, windows
from cascade.clock import ManualClock
from cascade.domain.dry_run import RETRIES_MS
from cascade.domain.prices import Price, PriceTable
from cascade.domain.sending import Delivered
from cascade.domain.surfaces import iso
from cascade.engine.worker import Worker, WorkerConfig
from cascade.security import hash_secret
from cascade.store.schema import metadata
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount
from tests.conftest import test_settings as app_settings
from tests.test_engine import ScriptedChannel, drain, plain

SEND = "/api/CascadeMessage/send_message/async"
TG_VIBER = "/api/CascadeMessage/send_message/tg-viber/async"
LIST = "/bat/messagelist"
PHONE = "+380501234567"
ROUTE = ("telegram", "viber_bot", "viber_business", "rcs", "sms")
ALL = ",".join((*ROUTE, "flashcall"))
WINDOW = windows(app_settings("sqlite://"))  # each channel's window, seconds
PRICES = PriceTable(
    [
        Price("telegram", "380", Decimal("0.001"), "EUR"),
        Price("viber_business", "380", Decimal("0.012"), "EUR"),
        Price("rcs", "380", Decimal("0.02"), "EUR"),
        Price("sms", "380", Decimal("0.035"), "EUR"),
    ]
)


@pytest.fixture
async def client(
    store: SqlStore, clock: ManualClock, db_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with every channel of the standard route configured."""
    app = build_app(app_settings(db_url, channels=ALL), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


def message(tracking_id: str = "o-1", **changes: object) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": tracking_id,
        "fromName": "Shop",
        "toPhone": PHONE,
        "messageType": "transaction",
        "text": "Your order is ready",
    }
    item.update(changes)
    return item


async def table_sizes(store: SqlStore) -> dict[str, int]:
    """How many rows every table holds."""
    async with store._reader.connect() as conn:
        return {
            table.name: int(
                (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            )
            for table in metadata.sorted_tables
        }


async def nothing_goes_out(store: SqlStore, clock: ManualClock) -> None:
    """A worker over the store finds nothing to do, and its channels are asked nothing."""
    channels: list[ScriptedChannel] = [plain(name, lambda o: Delivered("x")) for name in ROUTE]
    worker = Worker(
        store, clock, {c.name: c for c in channels}, {}, WorkerConfig(enforce_rates=False)
    )
    clock.advance(3600)
    await drain(worker)
    assert [c.sent for c in channels] == [[] for _ in channels]


async def dry_run(
    client: httpx.AsyncClient, account: TestAccount, path: str, body: Any
) -> httpx.Response:
    return await client.post(path, params={"dryRun": "true"}, json=body, headers=account.headers)


def steps(answer: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(s["channel"], s["decision"], s.get("reason")) for s in answer["route"]["steps"]]


async def test_the_route_now_with_windows_latest_starts_and_prices_storing_and_sending_nothing(
    client: httpx.AsyncClient, store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    # a Telegram chat is known; the Viber bot exists but the person is not subscribed
    telegram = await store.add_bot(account.id, "telegram", "tg-token", hash_secret("tg-token"))
    await store.link_contact("telegram", telegram, PHONE, "777")
    await store.add_bot(account.id, "viber_bot", "vb-token", hash_secret("vb-token"))
    await store.load_prices(PRICES)
    before = await table_sizes(store)
    now = clock.now_ms()
    response = await dry_run(client, account, SEND, [message()])
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert (answer["trackinId"], answer["dryRun"]) == ("o-1", True)
    assert "messageId" not in answer
    assert steps(answer) == [
        ("telegram", "will_try", None),
        ("viber_bot", "skip", "NOT_SUBSCRIBED"),
        ("viber_business", "will_try", None),
        ("rcs", "will_try", None),
        ("sms", "will_try", None),
    ]
    telegram_step, _, viber_business, rcs, sms = answer["route"]["steps"]
    # Telegram needs no confirmation: the next step could start once its retries are over
    assert (telegram_step["windowSeconds"], telegram_step["latestStartAt"]) == (0, iso(now))
    assert telegram_step["price"] == 0.001
    vb_start = now + RETRIES_MS
    assert viber_business["latestStartAt"] == iso(vb_start)
    assert viber_business["windowSeconds"] == WINDOW["viber_business"]
    rcs_start = vb_start + WINDOW["viber_business"] * 1000
    assert rcs["latestStartAt"] == iso(rcs_start)
    assert sms["latestStartAt"] == iso(rcs_start + WINDOW["rcs"] * 1000)
    assert (sms["parts"], sms["price"]) == (1, 0.035)
    route = answer["route"]
    assert (route["endsUnconfirmed"], route["endReason"]) == ("undeliverable", "ROUTE_EXHAUSTED")
    assert (route["currency"], route["expectedCost"], route["maxCost"]) == ("EUR", 0.001, 0.068)
    assert await table_sizes(store) == before
    await nothing_goes_out(store, clock)


async def test_a_short_ttl_leaves_later_steps_unreached_and_sms_is_priced_per_part(
    client: httpx.AsyncClient, store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    await store.load_prices(PRICES)
    long_text = "x" * 200  # two GSM-7 parts
    body = [message("short", ttl=60), message("long", text=long_text, ttl=86_400)]
    response = await dry_run(client, account, SEND, body)
    assert response.status_code == 200, response.text
    short, long = response.json()
    # no bots: the bot channels are not set up for the account
    assert steps(short) == [
        ("telegram", "skip", "NOT_CONFIGURED"),
        ("viber_bot", "skip", "NOT_CONFIGURED"),
        ("viber_business", "will_try", None),
        ("rcs", "skip", "TTL_EXPIRED"),
        ("sms", "skip", "TTL_EXPIRED"),
    ]
    assert short["route"]["steps"][2]["windowSeconds"] == 60  # never beyond the TTL
    assert (short["route"]["endsUnconfirmed"], short["route"]["endReason"]) == (
        "expired",
        "TTL_EXPIRED",
    )
    sms = long["route"]["steps"][-1]
    assert (sms["channel"], sms["parts"], sms["price"]) == ("sms", 2, 0.07)
    assert long["route"]["maxCost"] == 0.102  # 0.012 + 0.02 + 2 * 0.035


async def test_channels_off_are_skipped_and_no_price_table_means_no_cost(
    store: SqlStore, clock: ManualClock, db_url: str, account: TestAccount
) -> None:
    # the installation runs only the bot channels (the default)
    app = build_app(app_settings(db_url), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        response = await dry_run(
            c, account, TG_VIBER, {"messages": [{"recipient": PHONE, "text": "Hi"}]}
        )
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert answer["trackinId"] is None
    assert steps(answer) == [
        ("telegram", "skip", "NOT_CONFIGURED"),
        ("viber_bot", "skip", "NOT_CONFIGURED"),
        ("viber_business", "skip", "NOT_CONFIGURED"),
        ("sms", "skip", "NOT_CONFIGURED"),
    ]
    route = answer["route"]
    assert (route["currency"], route["expectedCost"], route["maxCost"]) == (None, None, None)


@pytest.mark.parametrize(
    ("params", "body", "code"),
    [
        ({"dryRun": "true"}, [], "EMPTY_BATCH"),
        ({"dryRun": "true"}, [message(toPhone="12")], "INVALID_PHONE"),
        ({"dryRun": "yes"}, [message()], "INVALID_DRY_RUN"),
    ],
)
async def test_a_dry_run_validates_as_a_real_send(
    client: httpx.AsyncClient,
    store: SqlStore,
    account: TestAccount,
    params: dict[str, str],
    body: Any,
    code: str,
) -> None:
    before = await table_sizes(store)
    response = await client.post(SEND, params=params, json=body, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert await table_sizes(store) == before


async def test_dry_run_false_sends_for_real(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    response = await client.post(
        SEND, params={"dryRun": "false"}, json=[message()], headers=account.headers
    )
    assert response.status_code == 200
    assert set(response.json()[0]) == {"messageId", "trackinId"}


async def test_a_message_list_dry_run_answers_each_message_and_stores_nothing(
    client: httpx.AsyncClient, store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    await store.load_prices(PRICES)
    before = await table_sizes(store)
    body = {
        "messages": [
            {
                "from": "Shop",
                "to": "380501234567",
                "type": "sms",
                "text": "Hello",
                "customerMessageId": "c-1",
                "fallback": {"type": "rcs", "text": "Hello"},
            },
            {"from": "Shop", "to": "12", "type": "sms", "text": "Hello"},
        ]
    }
    response = await dry_run(client, account, LIST, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["messagelistId"], answer["dryRun"]) == (None, True)
    first, second = answer["messages"]
    assert (first["status"], first["messageId"], first["customerMessageId"]) == (
        "accepted",
        None,
        "c-1",
    )
    assert steps(first) == [("sms", "will_try", None), ("rcs", "will_try", None)]
    assert (first["route"]["expectedCost"], first["route"]["maxCost"]) == (0.035, 0.055)
    assert second["status"] == "rejected"
    assert "route" not in second
    assert await table_sizes(store) == before
    await nothing_goes_out(store, clock)


async def test_a_message_list_dry_run_none_valid_is_refused_as_a_real_one(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = {"messages": [{"from": "Shop", "to": "12", "type": "sms", "text": "Hello"}]}
    real = await client.post(LIST, json=body, headers=account.headers)
    dry = await dry_run(client, account, LIST, body)
    assert (dry.status_code, dry.json()) == (real.status_code, real.json())
    bad = await client.post(LIST, params={"dryRun": "maybe"}, json=body, headers=account.headers)
    assert (bad.status_code, bad.json()["code"]) == (400, 1001)


async def test_a_dry_run_of_a_stored_tracking_id_is_a_repeat_or_a_duplicate(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    sent = await client.post(SEND, json=[message("kept")], headers=account.headers)
    [original] = sent.json()
    before = await table_sizes(store)
    repeat = await dry_run(client, account, SEND, [message("kept"), message("fresh")])
    assert repeat.status_code == 200, repeat.text
    again, fresh = repeat.json()
    assert again == {
        "trackinId": "kept",
        "dryRun": True,
        "route": None,
        "messageId": original["messageId"],
    }
    assert fresh["route"] is not None
    other = await dry_run(client, account, SEND, [message("fresh"), message("kept", text="New")])
    assert other.status_code == 400
    assert (other.json()["error"]["code"], other.json()["error"]["field"]) == (
        "DUPLICATE_ID",
        "[1].id",
    )
    assert await table_sizes(store) == before


async def test_a_message_list_dry_run_of_a_stored_customer_message_id(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    first = {"from": "Shop", "to": PHONE, "type": "sms", "text": "Hi", "customerMessageId": "k"}
    sent = await client.post(LIST, json={"messages": [first]}, headers=account.headers)
    original = sent.json()["messages"][0]["messageId"]
    before = await table_sizes(store)
    changed = {**first, "text": "Changed"}
    other = {"from": "Shop", "to": PHONE, "type": "sms", "text": "Other"}
    response = await dry_run(client, account, LIST, {"messages": [first, other]})
    assert response.status_code == 200, response.text
    repeat, new = response.json()["messages"]
    assert (repeat["status"], repeat["messageId"], "route" in repeat) == (
        "accepted",
        original,
        False,
    )
    assert (new["status"], new["messageId"], steps(new)) == (
        "accepted",
        None,
        [("sms", "will_try", None)],
    )
    response = await dry_run(client, account, LIST, {"messages": [changed, other]})
    duplicate, new = response.json()["messages"]
    assert (duplicate["status"], duplicate["error"]["code"]) == ("rejected", 1008)
    assert new["status"] == "accepted"
    assert await table_sizes(store) == before
