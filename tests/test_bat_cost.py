"""What a core-API message cost (SPEC D5, D7, D9): the status's `cost` and `currency` from
the loaded price table over the sends that went out, and the same figure in the status
webhooks, filled in as they leave."""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from cascade.api.bat.status import status_body
from cascade.api.bat.wire import ENCODER
from cascade.callback_url import CallbackUrlPolicy
from cascade.clock import ManualClock
from cascade.domain.content import Content, Step
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.message import Status
from cascade.domain.prices import PriceTable, parse_prices
from cascade.domain.records import AttemptChange, MessageChange, NewAttempt, Transition
from cascade.domain.surfaces import Surface
from cascade.engine.callbacks import CallbackDispatcher, sign
from cascade.engine.webhook_cost import WebhookCost
from cascade.store import AttemptView, MessageView, NewMessage
from cascade.store.memory import MemoryStore
from cascade.store.price_book import PriceBook
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.test_callback_urls import Receiver, serving
from tests.test_store_surfaces import draft

CHANNELS = ("sms", "viber_business", "rcs", "flashcall")
PRICES = parse_prices(
    "channel,country_prefix,price,currency\n"
    "sms,380,0.032,EUR\n"
    "sms,38050,0.015,EUR\n"
    "viber_business,380,0.0115,EUR\n",
    CHANNELS,
)
PHONE = "+380501234567"
PLAN = (
    Step("viber_business", Content(text="Sale"), wire_type="viber_promo"),
    Step("sms", Content(text="Sale by SMS"), wire_type="sms"),
)


def attempt(
    channel: str,
    status: AttemptStatus,
    provider_id: str | None,
    parts: int | None = None,
    step: int = 0,
    at: int = 1_000,
) -> AttemptView:
    return AttemptView(channel, status.value, None, provider_id, at, at, parts, step=step)


def view(
    *attempts: AttemptView, plan: tuple[Step, ...] = PLAN, status: Status = Status.DELIVERED
) -> MessageView:
    return MessageView(
        id="m-1",
        tracking_id="m-1",
        status=status.value,
        channel=attempts[-1].channel if attempts else None,
        reason=None,
        message_type="promo",
        route="standard",
        phone=PHONE,
        text=None,
        created_at_ms=0,
        scheduled_at_ms=None,
        expires_at_ms=60_000,
        updated_at_ms=1_000,
        attempts=attempts,
        clicks=0,
        surface="bat",
        list_id=1,
        plan=plan,
    )


def one_part(channel: str, content: Content) -> int:
    return 1


def shown(message: MessageView, table: PriceTable = PRICES) -> dict[str, Any]:
    """The status as the client reads it: through the wire encoder, JSON numbers and all."""
    decoded: dict[str, Any] = json.loads(
        ENCODER.encode(status_body(message, one_part, table)), parse_float=Decimal
    )
    return decoded


SMS_ONLY = (Step("sms", Content(text="Hello"), wire_type="sms"),)


def fell_back(viber: AttemptStatus, provider_id: str | None, sms_parts: int) -> MessageView:
    """Viber's step ended `viber` (with the provider's id or none), then the SMS was
    delivered in `sms_parts` parts."""
    return view(
        attempt("viber_business", viber, provider_id),
        attempt("sms", AttemptStatus.DELIVERED, "p1", sms_parts, step=1),
    )


@pytest.mark.parametrize(
    ("message", "cost"),
    [
        # an SMS in three parts: three times the price of the longest prefix (38050)
        (view(attempt("sms", AttemptStatus.DELIVERED, "p1", 3), plan=SMS_ONLY), "0.045"),
        # waiting for its report, it went out all the same
        (view(attempt("sms", AttemptStatus.SENT, "p1", 2), plan=SMS_ONLY), "0.03"),
        # Viber delivered: the SMS fallback was never taken, and costs nothing
        (view(attempt("viber_business", AttemptStatus.DELIVERED, "v1")), "0.0115"),
        # Viber took it and reported it failed: both sends went out
        (fell_back(AttemptStatus.FAILED, "v1", 1), "0.0265"),
        # Viber's window ended unconfirmed: it went out, then the SMS in two parts
        (fell_back(AttemptStatus.TIMEOUT, "v1", 2), "0.0415"),
        # Viber refused it in its answer (not a Viber user): only the SMS went out
        (fell_back(AttemptStatus.UNREACHABLE, None, 1), "0.015"),
        # Viber took it, then found no Viber user there: nothing went towards a phone
        (fell_back(AttemptStatus.UNREACHABLE, "v1", 1), "0.015"),
        # the SMSC took it and the handset never got it: billed all the same
        (
            view(
                attempt("sms", AttemptStatus.FAILED, "p1", 2),
                plan=SMS_ONLY,
                status=Status.UNDELIVERABLE,
            ),
            "0.03",
        ),
        # the step passed over, and an SMS still being sent again: nothing went out yet
        (
            view(
                attempt("viber_business", AttemptStatus.SKIPPED, None),
                attempt("sms", AttemptStatus.RETRYING, None, step=1),
                status=Status.PROCESSING,
            ),
            "0",
        ),
        # an SMS whose answer was lost is not known to have gone out
        (
            view(
                attempt("sms", AttemptStatus.UNKNOWN, None),
                plan=SMS_ONLY,
                status=Status.UNDELIVERABLE,
            ),
            "0",
        ),
        # scheduled: nothing sent, nothing owed, in the table's currency
        (view(plan=SMS_ONLY, status=Status.SCHEDULED), "0"),
    ],
)
def test_cost_of_the_sends_that_went_out(message: MessageView, cost: str) -> None:
    status = shown(message)
    assert status["cost"] == Decimal(cost)
    assert status["currency"] == "EUR"


def test_cost_is_a_json_number_without_trailing_zeros() -> None:
    encoded = ENCODER.encode(
        status_body(
            view(attempt("sms", AttemptStatus.DELIVERED, "p1", 3), plan=SMS_ONLY), one_part, PRICES
        )
    )
    assert b'"cost":0.045,"currency":"EUR"' in encoded


def test_no_table_or_no_price_is_null() -> None:
    delivered = view(attempt("sms", AttemptStatus.DELIVERED, "p1", 3), plan=SMS_ONLY)
    status = shown(delivered, PriceTable())
    assert (status["cost"], status["currency"]) == (None, None)
    scheduled = shown(view(plan=SMS_ONLY, status=Status.SCHEDULED), PriceTable())
    assert (scheduled["cost"], scheduled["currency"]) == (None, None)
    # RCS went out and the table has no RCS price: the sum is unknown, not partial
    rcs = view(
        attempt("rcs", AttemptStatus.FAILED, "r1"),
        attempt("sms", AttemptStatus.DELIVERED, "p1", 1, step=1),
        plan=(Step("rcs", Content(text="Hi")), SMS_ONLY[0]),
    )
    assert shown(rcs)["cost"] is None
    # a number no prefix matches
    abroad = dataclasses.replace(delivered, phone="+4915112345678")
    assert shown(abroad)["cost"] is None


# --- through the API and the store ------------------------------------------------------------


async def sent_sms(store: SqlStore | MemoryStore, message_id: str, parts: int, at_ms: int) -> None:
    """The engine's record of one SMS that the SMSC took, in `parts` parts."""
    attempt_id = str(uuid.uuid4())
    await store.record_intents(
        [
            NewAttempt(
                attempt_id,
                message_id,
                0,
                "sms",
                AttemptStatus.SENDING.value,
                None,
                None,
                PHONE,
                at_ms,
                None,
            )
        ],
        [],
    )
    await store.apply(
        [
            Transition(
                MessageChange(message_id, Status.PROCESSING.value, 0, "sms", None, None),
                attempt_changes=(
                    AttemptChange(
                        attempt_id, AttemptStatus.SENT.value, None, f"p-{message_id}", parts=parts
                    ),
                ),
            )
        ]
    )


async def test_status_and_list_report_the_loaded_tables_cost(
    client: httpx.AsyncClient, store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    text = "x" * 200  # two GSM-7 parts
    posted = await client.post(
        "/bat/messagelist",
        json={"messages": [{"from": "Shop", "to": PHONE, "type": "sms", "text": text}]},
        headers=account.headers,
    )
    assert posted.status_code == 200, posted.text
    [item] = posted.json()["messages"]
    message_id = item["messageId"]
    url = f"/bat/message/{message_id}"
    before = (await client.get(url, headers=account.headers)).json()
    assert (before["cost"], before["currency"]) == (None, None)  # no table loaded

    await store.load_prices(PRICES)
    await sent_sms(store, message_id, item["parts"], clock.now_ms())
    clock.advance(2)  # the process's table is looked at again at most once a second
    answer = await client.get(url, headers=account.headers)
    assert answer.status_code == 200, answer.text
    assert '"cost":0.03,"currency":"EUR"' in answer.text
    assert answer.json()["partscount"] == 2
    page = await client.get(
        f"/bat/messagelist/{posted.json()['messagelistId']}", headers=account.headers
    )
    assert page.status_code == 200, page.text
    [listed] = page.json()["messages"]
    assert (listed["cost"], listed["currency"]) == (0.03, "EUR")


# --- the status webhook -----------------------------------------------------------------------


async def owed_bodies(store: SqlStore | MemoryStore, clock: ManualClock) -> list[str]:
    return [
        payload
        for _, _, _, payload, _ in await store.claim_callback_events(clock.now_ms(), 30_000, 100)
    ]


async def core_api_list(
    store: SqlStore | MemoryStore, clock: ManualClock, url: str, *tracking_ids: str | None
) -> TestAccount:
    """An account with a status webhook at `url`, and a core-API list of a message per
    tracking id: bat-1, bat-2, …"""
    account = await make_account(store)
    await store.add_callback(account.id, url, "k" * 64)
    await store.accept_list(
        account.id,
        [
            NewMessage(f"bat-{n}", draft(clock, tracking_id, n), surface=Surface.BAT)
            for n, tracking_id in enumerate(tracking_ids, start=1)
        ],
    )
    return account


async def test_webhook_cost_is_filled_in_as_it_leaves(
    any_store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    store = any_store
    account = await core_api_list(store, clock, "https://hooks.example/a", "order-1", None)
    await store.accept(account.id, [NewMessage("cas-1", draft(clock, "t-1", 3))])
    await store.load_prices(PRICES)
    await sent_sms(store, "bat-1", 3, clock.now_ms())  # processing: an event
    await sent_sms(store, "cas-1", 1, clock.now_ms())
    clock.advance(5)
    # a send started after the event cannot show in it
    await sent_sms(store, "bat-2", 1, clock.now_ms() + 1_000)
    priced = WebhookCost(store, PriceBook(store, clock))
    bodies = await owed_bodies(store, clock)
    found = {msgspec.json.decode(b)["messageId"]: b for b in await priced(bodies)}
    assert set(found) == {"bat-1", "bat-2", "cas-1"}
    assert msgspec.json.decode(found["bat-1"]) == {
        "messageId": "bat-1",
        "customerMessageId": "order-1",
        "deliverystatus": "processing",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "cost": 0.045,
    }
    assert '"cost":0.045}' in found["bat-1"]
    assert msgspec.json.decode(found["bat-2"])["cost"] == 0  # its send came later
    original = {msgspec.json.decode(b)["messageId"]: b for b in bodies}
    assert found["cas-1"] == original["cas-1"]  # the Cascade API's shape has no cost


async def test_webhook_cost_stays_null_without_a_table(
    any_store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    store = any_store
    await core_api_list(store, clock, "https://hooks.example/a", None)
    await sent_sms(store, "bat-1", 1, clock.now_ms())
    bodies = await owed_bodies(store, clock)
    assert await WebhookCost(store, PriceBook(store, clock))(bodies) == bodies
    assert msgspec.json.decode(bodies[0])["cost"] is None


async def test_the_dispatcher_sends_the_priced_body_signed(clock: ManualClock) -> None:
    store = MemoryStore(clock)
    receiver = Receiver()
    async with serving(receiver) as port:
        await core_api_list(store, clock, f"http://127.0.0.1:{port}/hook", "o-1")
        await store.load_prices(PRICES)
        await sent_sms(store, "bat-1", 2, clock.now_ms())
        dispatcher = CallbackDispatcher(
            store,
            clock,
            policy=CallbackUrlPolicy(allow_private=True),
            timeout_s=5,
            complete=WebhookCost(store, PriceBook(store, clock)),
        )
        try:
            assert await dispatcher.run_once() == 1
        finally:
            await dispatcher.aclose()
    [(_, headers, body)] = receiver.requests
    assert msgspec.json.decode(body)["cost"] == 0.03
    assert headers["x-cascade-signature"] == sign("k" * 64, body)
