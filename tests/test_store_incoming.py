"""Incoming messages in the store (SPEC D7), one contract for every backend (in memory,
SQLite, PostgreSQL): stored first, routed to an account by the address written to (or by
who last wrote to the phone), owed to the account's incoming URLs only, pieces of an SMS
joined in order, pieces that never complete stored as what came, never lost."""

from __future__ import annotations

import json

import pytest

from cascade.clock import ManualClock
from cascade.domain.events import InboundMessage, MessagePart
from cascade.domain.sending import Sent
from cascade.store import schema as t
from cascade.store.base import INCOMING_PARTS_WAIT_MS, REPEAT_WINDOW_MS, CallbackKind
from tests.conftest import TestAccount, make_account
from tests.test_engine import Scene, Store, drain, plain
from tests.test_store_contract import rows

PHONE = "+380671112233"
NUMBER = "380500000000"  # a numeric sender, as an SMSC names the address an SMS went to


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL."""
    return any_store


def mo(text: str, to: str = NUMBER, *, at_ms: int = 1_000, **fields: object) -> InboundMessage:
    return InboundMessage("sms", PHONE, to, text, at_ms, **fields)  # type: ignore[arg-type]


def piece(
    text: str, number: int, total: int = 3, reference: int = 7, **fields: object
) -> InboundMessage:
    return mo(text, part=MessagePart(reference, total, number), **fields)


async def owed(store: Store) -> list[tuple[str, dict[str, object]]]:
    """(callback id, body) of every webhook event owed, oldest first."""
    return [
        (row.callback_id, json.loads(row.payload))
        for row in sorted(await rows(store, t.callback_events), key=lambda r: r.id)
    ]


async def test_a_message_to_an_accounts_sender_is_stored_and_owed_to_its_incoming_urls_only(
    store: Store,
) -> None:
    mine = await make_account(store, NUMBER)
    other = await make_account(store, "Other")
    incoming = await store.add_callback(mine.id, "https://a.test/in", "s1", CallbackKind.INCOMING)
    await store.add_callback(mine.id, "https://a.test/status", "s2")  # status: not for this
    await store.add_callback(other.id, "https://b.test/in", "s3", CallbackKind.INCOMING)

    [stored] = await store.record_incoming([mo("Stop please", to="+" + NUMBER)])

    assert stored is not None
    assert (stored.account_id, stored.alpha_name, stored.parts) == (mine.id, NUMBER, 1)
    [row] = await rows(store, t.incoming_messages)
    assert (row.id, row.account_id, row.channel, row.phone, row.text, row.received_at) == (
        stored.id,
        mine.id,
        "sms",
        PHONE,
        "Stop please",
        1_000,
    )
    assert await owed(store) == [
        (
            incoming,
            {
                "idUuid": stored.id,
                "alphaName": NUMBER,
                "phoneNumber": PHONE,
                "text": "Stop please",
                "dt": "1970-01-01T00:00:01.000Z",
            },
        )
    ]


async def test_a_sender_name_matches_whatever_its_case(store: Store) -> None:
    shop = await make_account(store, "Shop")
    [stored] = await store.record_incoming(
        [InboundMessage("viber_business", PHONE, "SHOP", "hi", 5)]
    )
    assert stored is not None
    assert stored.account_id == shop.id


async def test_a_message_no_account_matches_is_kept_unrouted_and_owed_to_nobody(
    store: Store,
) -> None:
    acme = await make_account(store, "acme")
    await store.add_callback(acme.id, "https://a.test/in", "s", CallbackKind.INCOMING)
    [stored] = await store.record_incoming([mo("who is this?", to="380999999999")])
    assert stored is not None
    assert stored.account_id is None
    [row] = await rows(store, t.incoming_messages)
    assert (row.account_id, row.to_address, row.alpha_name, row.text) == (
        None,
        "380999999999",
        "380999999999",
        "who is this?",
    )
    assert await owed(store) == []


async def test_a_reply_to_a_shared_number_goes_to_the_account_that_wrote_last(
    store: Store, clock: ManualClock
) -> None:
    first = await make_account(store, "first")
    last = await make_account(store, "last")
    hook = await store.add_callback(last.id, "https://l.test/in", "s", CallbackKind.INCOMING)
    for account in (first, last):
        scene = Scene(store, clock, account)
        assert await store.set_channel_order(account.id, ["sms"])
        await scene.accept(PHONE, text=f"from {account.id}")
        sms = plain("sms")
        sms.script[PHONE] = lambda o: Sent(f"smsc-{o.message_id}")
        await drain(scene.worker(sms))
        assert [o.phone for o in sms.sent] == [PHONE]
        clock.advance(1)

    [stored] = await store.record_incoming([mo("yes", at_ms=clock.now_ms())])

    assert stored is not None
    assert (stored.account_id, stored.alpha_name) == (last.id, "Shop")  # its message's name
    assert [(c, body["text"], body["alphaName"]) for c, body in await owed(store)] == [
        (hook, "yes", "Shop")
    ]


async def test_a_provider_repeating_a_message_stores_it_once(store: Store) -> None:
    await make_account(store, NUMBER)
    again = InboundMessage("rcs", PHONE, NUMBER, "hello", 9, provider_id="rbm-msg-1")
    first = await store.record_incoming([again])
    assert first[0] is not None
    assert await store.record_incoming([again]) == [None]
    assert len(await rows(store, t.incoming_messages)) == 1


async def test_pieces_are_kept_until_the_last_then_joined_in_order_once(
    store: Store, account: TestAccount
) -> None:
    named = await make_account(store, NUMBER)
    await store.add_callback(named.id, "https://a.test/in", "s", CallbackKind.INCOMING)
    assert await store.record_incoming([piece("world, ", 2, at_ms=2_000)]) == [None]
    assert await store.record_incoming([piece("world, ", 2, at_ms=2_500)]) == [None]  # again
    assert await store.record_incoming([piece("Hello ", 1, at_ms=1_500)]) == [None]
    assert await rows(store, t.incoming_messages) == []
    assert len(await rows(store, t.incoming_parts)) == 2

    [stored] = await store.record_incoming([piece("again!", 3, at_ms=3_000)])

    assert stored is not None
    assert (stored.parts, stored.parts_expected) == (3, 3)
    [row] = await rows(store, t.incoming_messages)
    assert (row.text, row.received_at, row.account_id) == ("Hello world, again!", 1_500, named.id)
    # kept, joined into the message, for the repeat window
    assert {p.incoming_id for p in await rows(store, t.incoming_parts)} == {stored.id}
    assert [body["text"] for _, body in await owed(store)] == ["Hello world, again!"]


async def test_pieces_of_different_messages_are_not_mixed(store: Store) -> None:
    stored = await store.record_incoming(
        [
            piece("A1", 1, total=2, reference=1),
            piece("B2", 2, total=2, reference=2),
            piece("A2", 2, total=2, reference=1),
            piece("B1", 1, total=2, reference=2),
        ]
    )
    assert [s is not None for s in stored] == [False, False, True, True]
    assert sorted(r.text for r in await rows(store, t.incoming_messages)) == ["A1A2", "B1B2"]


async def test_pieces_that_never_complete_are_stored_as_what_came_after_the_wait(
    store: Store, clock: ManualClock
) -> None:
    named = await make_account(store, NUMBER)
    await store.add_callback(named.id, "https://a.test/in", "s", CallbackKind.INCOMING)
    start = clock.now_ms()
    await store.record_incoming([piece("one ", 1, at_ms=start), piece("three", 3, at_ms=start)])

    assert await store.flush_incoming_parts(start - 1) == []  # not waited long enough
    clock.advance(INCOMING_PARTS_WAIT_MS / 1000)
    [stored] = await store.flush_incoming_parts(clock.now_ms() - INCOMING_PARTS_WAIT_MS)

    assert (stored.account_id, stored.parts, stored.parts_expected) == (named.id, 2, 3)
    [row] = await rows(store, t.incoming_messages)
    assert (row.text, row.parts, row.parts_expected) == ("one three", 2, 3)
    assert {p.incoming_id for p in await rows(store, t.incoming_parts)} == {stored.id}
    assert [body["text"] for _, body in await owed(store)] == ["one three"]
    assert await store.flush_incoming_parts(clock.now_ms()) == []  # once


# --- an SMS the SMSC offers again (SMPP 3.4: no id) -------------------------------------------


async def test_an_sms_offered_again_within_the_window_is_stored_once(store: Store) -> None:
    named = await make_account(store, NUMBER)
    await store.add_callback(named.id, "https://a.test/in", "s", CallbackKind.INCOMING)
    [first, same_batch] = await store.record_incoming([mo("Yes", at_ms=5_000), mo("Yes")])
    assert first is not None
    assert same_batch is None  # the same transaction sees what it stored
    later = 5_000 + REPEAT_WINDOW_MS
    assert await store.record_incoming([mo("Yes", at_ms=later)]) == [None]  # at the edge
    # what differs is another message: the text, the address, the phone, past the window
    other = await store.record_incoming(
        [
            mo("Yes!", at_ms=6_000),
            mo("Yes", "Shop", at_ms=6_000),
            InboundMessage("sms", "+380671112234", NUMBER, "Yes", 6_000),
            mo("Yes", at_ms=later + 1),
        ]
    )
    assert all(s is not None for s in other)
    assert len(await rows(store, t.incoming_messages)) == 5
    # owed once each: all but the one to "Shop", which no account sends under
    owed_to = [(body["phoneNumber"], body["text"], body["dt"]) for _, body in await owed(store)]
    assert owed_to == [
        (PHONE, "Yes", "1970-01-01T00:00:05.000Z"),
        (PHONE, "Yes!", "1970-01-01T00:00:06.000Z"),
        ("+380671112234", "Yes", "1970-01-01T00:00:06.000Z"),
        (PHONE, "Yes", "1970-01-01T00:10:05.001Z"),
    ]


async def test_a_piece_offered_again_after_its_message_was_stored_is_not_stored_again(
    store: Store, clock: ManualClock
) -> None:
    named = await make_account(store, NUMBER)
    await store.add_callback(named.id, "https://a.test/in", "s", CallbackKind.INCOMING)
    start = clock.now_ms()
    pieces = [piece(text, n, at_ms=start + n) for n, text in ((1, "Hel"), (2, "lo "), (3, "you"))]
    [*_, stored] = await store.record_incoming(pieces)
    assert stored is not None
    # the last piece's answer was lost in a crash: the SMSC offers it again, then all
    assert await store.record_incoming([piece("you", 3, at_ms=start + 60_000)]) == [None]
    assert await store.record_incoming(pieces) == [None, None, None]
    clock.advance(INCOMING_PARTS_WAIT_MS / 1000)
    # nothing waits, so nothing is stored as a message in pieces
    assert await store.flush_incoming_parts(clock.now_ms() - INCOMING_PARTS_WAIT_MS) == []
    [row] = await rows(store, t.incoming_messages)
    assert (row.id, row.text, row.parts) == (stored.id, "Hello you", 3)
    assert [body["text"] for _, body in await owed(store)] == ["Hello you"]


async def test_a_reference_used_again_is_a_new_message(store: Store, clock: ManualClock) -> None:
    start = clock.now_ms()
    first = await store.record_incoming(
        [piece("A1", 1, total=2, at_ms=start), piece("A2", 2, total=2, at_ms=start)]
    )
    # within the window, another text under the same reference: a new message
    second = await store.record_incoming(
        [piece("B1", 1, total=2, at_ms=start + 1), piece("B2", 2, total=2, at_ms=start + 1)]
    )
    # past the window, the same text again: a new message too
    again = start + 1 + REPEAT_WINDOW_MS + 1
    third = await store.record_incoming(
        [piece("B1", 1, total=2, at_ms=again), piece("B2", 2, total=2, at_ms=again)]
    )
    assert [s is not None for s in (*first, *second, *third)] == [False, True] * 3
    texts = [
        r.text for r in sorted(await rows(store, t.incoming_messages), key=lambda r: r.received_at)
    ]
    assert texts == ["A1A2", "B1B2", "B1B2"]


async def test_joined_pieces_are_forgotten_after_the_window(
    store: Store, clock: ManualClock
) -> None:
    start = clock.now_ms()
    await store.record_incoming(
        [piece("A1", 1, total=2, at_ms=start), piece("A2", 2, total=2, at_ms=start)]
    )
    await store.record_incoming([piece("W1", 1, total=2, reference=9, at_ms=start)])
    clock.advance(REPEAT_WINDOW_MS / 1000)
    await store.flush_incoming_parts(start - 1)  # the waiting piece has not waited enough
    assert len(await rows(store, t.incoming_parts)) == 3  # the window is not over
    clock.advance(0.001)
    await store.flush_incoming_parts(start - 1)
    [waiting] = await rows(store, t.incoming_parts)
    assert (waiting.text, waiting.incoming_id) == ("W1", None)


async def test_incoming_events_are_claimed_and_settled_like_status_events(
    store: Store, clock: ManualClock
) -> None:
    named = await make_account(store, NUMBER)
    await store.add_callback(named.id, "http://127.0.0.1:9/in", "sec", CallbackKind.INCOMING)
    await store.record_incoming([mo("ping")])
    [(event_id, url, secret, payload, tries)] = await store.claim_callback_events(
        clock.now_ms(), 30_000, 10
    )
    assert (url, secret, tries, json.loads(payload)["text"]) == (
        "http://127.0.0.1:9/in",
        "sec",
        0,
        "ping",
    )
    assert await store.claim_callback_events(clock.now_ms(), 30_000, 10) == []  # leased
    await store.finish_callback_events([], [(event_id, clock.now_ms() + 1_000)])
    clock.advance(1)
    [(again, *_rest, tries)] = await store.claim_callback_events(clock.now_ms(), 30_000, 10)
    assert (again, tries) == (event_id, 1)
    await store.finish_callback_events([event_id], [])
    clock.advance(60)
    assert await store.claim_callback_events(clock.now_ms(), 30_000, 10) == []


async def test_callbacks_are_listed_by_kind(store: Store, account: TestAccount) -> None:
    status = await store.add_callback(account.id, "https://a.test/s", "s")
    incoming = await store.add_callback(account.id, "https://a.test/i", "i", CallbackKind.INCOMING)
    assert await store.list_callbacks(account.id) == [(status, "https://a.test/s")]
    assert await store.list_callbacks(account.id, CallbackKind.INCOMING) == [
        (incoming, "https://a.test/i")
    ]
