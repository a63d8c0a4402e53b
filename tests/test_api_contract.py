"""The HTTP contract when the client does it right (SPEC A1-A8, in process, both databases):
the two body forms, the three credentials, variables and short links, idempotency, status,
and the service endpoints."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.security import hash_secret
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as app_settings

SEND = "/api/CascadeMessage/send_message/async"
TG_VIBER = "/api/CascadeMessage/send_message/tg-viber/async"
STATUS = "/api/CascadeMessage/status"
ITEMS = "/api/items"
LINK = re.compile(r"http://cascade\.test/s/([0-9A-Za-z]+)")


# --- helpers --------------------------------------------------------------------------------


def item(tracking_id: str = "m-1", **changes: object) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": tracking_id,
        "fromName": "Shop",
        "toPhone": "+380501234567",
        "messageType": "transaction",
        "text": "Hello",
    }
    message.update(changes)
    return message


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def send(
    client: httpx.AsyncClient, account: TestAccount, body: object, path: str = SEND
) -> list[dict[str, str]]:
    response = await client.post(path, json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    answer: list[dict[str, str]] = response.json()
    return answer


async def status(client: httpx.AsyncClient, account: TestAccount, message_id: str) -> Any:
    response = await client.get(f"{STATUS}/{message_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def rows(store: SqlStore, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    async with store._reader.connect() as conn:
        selected = [table.c[name] for name in columns] if columns else [sa.func.count()]
        result = await conn.execute(sa.select(*selected).select_from(table))
        return [tuple(row) for row in result]


async def count(store: SqlStore, table: sa.Table) -> int:
    [(found,)] = await rows(store, table)
    return int(found)


def assert_error(response: httpx.Response, status_code: int, code: str) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "field"}
    assert body["error"]["code"] == code
    result: dict[str, Any] = body["error"]
    return result


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


# --- A3/A4: the two body forms -----------------------------------------------------------------


async def test_array_form(client: httpx.AsyncClient, store: SqlStore, account: TestAccount) -> None:
    body = [item(f"order-{n}", text=f"Order {n} confirmed") for n in range(3)]
    answer = await send(client, account, body)
    assert [a["trackinId"] for a in answer] == ["order-0", "order-1", "order-2"]
    assert all(is_uuid(a["messageId"]) for a in answer)
    assert len({a["messageId"] for a in answer}) == 3
    assert await count(store, t.messages) == 3
    assert await count(store, t.tasks) == 3
    for n, accepted in enumerate(answer):
        shown = await status(client, account, accepted["messageId"])
        assert shown["text"] == f"Order {n} confirmed"
        assert shown["trackinId"] == f"order-{n}"


async def test_envelope_form_with_its_defaults(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    body = {"messages": [{"recipient": "+380501234567", "text": "Hi"}]}
    [accepted] = await send(client, account, body)
    assert is_uuid(accepted["messageId"])
    assert accepted["trackinId"] == accepted["messageId"]  # no id: the messageId is used
    shown = await status(client, account, accepted["messageId"])
    assert shown["messageType"] == "transaction"
    assert shown["expiresAt"] == iso(clock.now_ms() + 86_400_000)
    assert await rows(store, t.messages, "from_name", "phone") == [("acme", "+380501234567")]


async def test_envelope_form_with_array_fields(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = {
        "messages": [
            item("env-1", messageType="promo"),
            {"toPhone": "+15551234567", "text": "x", "id": "env-2"},
        ]
    }
    answer = await send(client, account, body)
    assert [a["trackinId"] for a in answer] == ["env-1", "env-2"]
    shown = await status(client, account, answer[0]["messageId"])
    assert shown["messageType"] == "promo"


@pytest.mark.parametrize(("path", "route"), [(SEND, "standard"), (TG_VIBER, "tg-viber")])
async def test_both_endpoints_accept_both_forms(
    client: httpx.AsyncClient, account: TestAccount, path: str, route: str
) -> None:
    [a] = await send(client, account, [item("arr")], path)
    [b] = await send(client, account, {"messages": [item("env")]}, path)
    for accepted in (a, b):
        assert (await status(client, account, accepted["messageId"]))["route"] == route


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = [item(priority="high", tags=["a"], meta={"x": 1})]
    [accepted] = await send(client, account, body)
    assert accepted["trackinId"] == "m-1"
    envelope = {"messages": [{"recipient": "+380501234567", "text": "x", "extra": 1}], "v": 2}
    await send(client, account, envelope)


async def test_default_ttl_by_type(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock, subtests: pytest.Subtests
) -> None:
    cases: list[tuple[str, int, dict[str, object]]] = [
        ("transaction", 86_400, {}),
        ("promo", 259_200, {}),
        ("viber_survey", 604_800, {"surveyOptions": ["Yes", "No"]}),
        ("flashcall", 300, {"text": None}),
    ]
    for message_type, ttl, extra in cases:
        with subtests.test(msg=message_type):
            message = item(message_type, messageType=message_type, **extra)
            message = {k: v for k, v in message.items() if v is not None}
            [accepted] = await send(client, account, [message])
            shown = await status(client, account, accepted["messageId"])
            assert shown["messageType"] == message_type
            assert shown["createdAt"] == iso(clock.now_ms())
            assert shown["expiresAt"] == iso(clock.now_ms() + ttl * 1000)


async def test_explicit_ttl(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock, subtests: pytest.Subtests
) -> None:
    for ttl in (1, 3600, 2_592_000):
        with subtests.test(msg=str(ttl)):
            [accepted] = await send(client, account, [item(f"ttl-{ttl}", ttl=ttl)])
            shown = await status(client, account, accepted["messageId"])
            assert shown["expiresAt"] == iso(clock.now_ms() + ttl * 1000)


async def test_phone_syntax_limits(
    client: httpx.AsyncClient, account: TestAccount, subtests: pytest.Subtests
) -> None:
    """E.164 syntax is all intake checks; numbers the plan says cannot exist are accepted."""
    phones = {
        "8-digits": "+12345678",
        "15-digits": "+123456789012345",
        "impossible-but-well-formed": "+380111111111",
        "seed-shape": "+380999999999",
    }
    for name, phone in phones.items():
        with subtests.test(msg=name):
            await send(client, account, [item(name, toPhone=phone)])


async def test_limits_inclusive(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = [
        item("text-4096", text="t" * 4096),
        item("id-255".ljust(255, "x")),
        item("from-28", fromName="f" * 28),
        item(
            "survey-max",
            messageType="viber_survey",
            text="s" * 85,
            surveyOptions=["o" * 30] * 5,
        ),
        item("survey-min", messageType="viber_survey", text="Q?", surveyOptions=["a", "b"]),
        item(
            "flash",
            messageType="flashcall",
            text=None,
            fallback={"messageType": "promo", "text": "We tried to call you"},
        ),
    ]
    answer = await send(client, account, body)
    assert len(answer) == 6
    flash = await status(client, account, answer[-1]["messageId"])
    assert flash["messageType"] == "flashcall"
    assert flash["text"] is None


# --- scheduling ---------------------------------------------------------------------------------


async def test_naive_schedule_with_microseconds_is_utc(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    """The seed's Python client sends `datetime.isoformat()` of a naive datetime."""
    moment = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC) + timedelta(hours=2)
    naive = moment.replace(tzinfo=None, microsecond=123_456)
    assert len(naive.isoformat()) == 26
    [accepted] = await send(client, account, [item(scheduledSent=naive.isoformat(), ttl=600)])
    shown = await status(client, account, accepted["messageId"])
    expected_ms = int(naive.replace(tzinfo=UTC).timestamp() * 1000)
    assert shown["status"] == "scheduled"
    assert shown["scheduledAt"] == iso(expected_ms)
    assert shown["expiresAt"] == iso(expected_ms + 600_000)
    assert await rows(store, t.tasks, "due_at") == [(expected_ms,)]


async def test_schedule_with_offset(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    utc = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC) + timedelta(days=1)
    kyiv = utc.astimezone(timezone(timedelta(hours=2))).isoformat()
    [accepted] = await send(client, account, [item(scheduledSent=kyiv)])
    shown = await status(client, account, accepted["messageId"])
    assert parse(shown["scheduledAt"]) == utc


async def test_schedule_exactly_30_days_ahead(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    when = iso(clock.now_ms() + 30 * 86_400_000)
    [accepted] = await send(client, account, [item(scheduledSent=when)])
    assert (await status(client, account, accepted["messageId"]))["scheduledAt"] == when


async def test_past_schedule_is_sent_now(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    [accepted] = await send(client, account, [item(scheduledSent="2025-01-25T09:00:00Z", ttl=60)])
    shown = await status(client, account, accepted["messageId"])
    assert shown["expiresAt"] == iso(clock.now_ms() + 60_000)  # the TTL runs from now
    assert await rows(store, t.tasks, "due_at") == [(clock.now_ms(),)]


async def test_scheduled_time_alias(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    when = iso(clock.now_ms() + 3_600_000)
    [accepted] = await send(client, account, [item(scheduledTime=when)])
    shown = await status(client, account, accepted["messageId"])
    assert shown["scheduledAt"] == when
    assert shown["status"] == "scheduled"


# --- A2: credentials ----------------------------------------------------------------------------


async def _bot(store: SqlStore, account_id: str, channel: str, token: str) -> str:
    return await store.add_bot(account_id, channel, token, hash_secret(token))


@pytest.mark.parametrize(
    ("channel", "header"),
    [
        (None, "X-Authorization-Key"),
        ("telegram", "X-Tg-Bot-Key"),
        ("viber_bot", "X-Viber-Auth-Token"),
    ],
)
async def test_each_credential_header_alone(
    client: httpx.AsyncClient,
    store: SqlStore,
    account: TestAccount,
    channel: str | None,
    header: str,
) -> None:
    secret = account.key
    bot_id = None
    if channel is not None:
        secret = f"12345:{channel}-token"
        bot_id = await _bot(store, account.id, channel, secret)
    headers = {header: secret, "Content-Type": "application/json"}
    response = await client.post(SEND, json=[item()], headers=headers)
    assert response.status_code == 200, response.text
    [accepted] = response.json()
    assert (
        await client.get(f"{STATUS}/{accepted['messageId']}", headers=headers)
    ).status_code == 200
    [(pinned,)] = await rows(store, t.messages, "pinned_bots")
    # A bot header also selects that bot for its step of the cascade.
    assert pinned == bot_id


async def test_all_three_headers_of_one_account(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    tg = await _bot(store, account.id, "telegram", "tg-token")
    viber = await _bot(store, account.id, "viber_bot", "viber-token")
    headers = {**account.headers, "X-Tg-Bot-Key": "tg-token", "X-Viber-Auth-Token": "viber-token"}
    response = await client.post(SEND, json=[item()], headers=headers)
    assert response.status_code == 200, response.text
    assert await rows(store, t.messages, "pinned_bots") == [(f"{viber},{tg}",)]


async def test_bot_token_under_the_other_bots_header(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await _bot(store, account.id, "viber_bot", "viber-token")
    headers = {"X-Tg-Bot-Key": "viber-token", "Content-Type": "application/json"}
    assert_error(await client.post(SEND, json=[item()], headers=headers), 401, "UNAUTHORIZED")


async def test_revoked_key(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    second = await make_account(store, "second")
    assert (await client.post(SEND, json=[item("a")], headers=second.headers)).status_code == 200
    assert await store.revoke_api_key(second.key_id)
    response = await client.post(SEND, json=[item("b")], headers=second.headers)
    assert_error(response, 401, "UNAUTHORIZED")
    status_response = await client.get(f"{STATUS}?trackingId=a", headers=second.headers)
    assert_error(status_response, 401, "UNAUTHORIZED")
    # Other accounts' keys are untouched.
    assert (await client.post(SEND, json=[item("c")], headers=account.headers)).status_code == 200


async def test_status_needs_credentials(client: httpx.AsyncClient, account: TestAccount) -> None:
    [accepted] = await send(client, account, [item()])
    response = await client.get(f"{STATUS}/{accepted['messageId']}")
    assert_error(response, 401, "UNAUTHORIZED")
    response = await client.get(STATUS, params={"trackingId": "m-1"})
    assert_error(response, 401, "UNAUTHORIZED")


# --- A6: variables ----------------------------------------------------------------------------


async def upload(client: httpx.AsyncClient, account: TestAccount, variables: list[Any]) -> Any:
    response = await client.post(ITEMS, json={"variables": variables}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def text_of(
    client: httpx.AsyncClient,
    account: TestAccount,
    tracking_id: str,
    text: str,
    variables: list[Any] | None = None,
) -> str:
    message = item(tracking_id, text=text)
    if variables is not None:
        message["variables"] = variables
    [accepted] = await send(client, account, [message])
    shown = await status(client, account, accepted["messageId"])
    rendered: str = shown["text"]
    return rendered


async def test_seed_000_variables_inline(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = {
        "messages": [
            {
                "recipient": "+380501234567",
                "text": "Hello %name=1%, your order #%url=2% is ready!",
                "variables": [{"id": 1, "value": "John"}, {"id": 2, "value": "12345"}],
            }
        ]
    }
    [accepted] = await send(client, account, body)
    shown = await status(client, account, accepted["messageId"])
    assert shown["text"] == "Hello John, your order #12345 is ready!"


async def test_items_upsert_and_snapshot(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    assert await upload(client, account, [{"id": 1, "type": "name", "value": "Ann"}]) == {
        "updated": 1
    }
    assert await text_of(client, account, "a", "Hi %name=1%") == "Hi Ann"
    await upload(client, account, [{"id": 1, "type": "name", "value": "Bob"}])
    assert await count(store, t.variables) == 1  # an upsert, not a second row
    assert await text_of(client, account, "b", "Hi %name=1%") == "Hi Bob"
    # The first message keeps the text it was accepted with.
    shown = await client.get(STATUS, params={"trackingId": "a"}, headers=account.headers)
    assert shown.json()["text"] == "Hi Ann"


async def test_items_are_per_account(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await upload(client, account, [{"id": 1, "value": "Ann"}])
    other = await make_account(store, "other")
    response = await client.post(SEND, json=[item(text="Hi %name=1%")], headers=other.headers)
    assert_error(response, 400, "UNKNOWN_VARIABLE")


async def test_inline_variables_win_over_uploaded_ones(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    await upload(
        client,
        account,
        [{"id": 1, "type": "name", "value": "Account"}, {"id": 2, "value": "Account2"}],
    )
    inline_untyped = [{"id": 1, "value": "Inline"}]
    assert await text_of(client, account, "a", "%name=1%", inline_untyped) == "Inline"
    inline_typed = [{"id": 2, "type": "name", "value": "Inline2"}]
    assert await text_of(client, account, "b", "%name=2% %url=2%", inline_typed) == (
        "Inline2 Account2"
    )


async def test_typed_and_untyped_variables(client: httpx.AsyncClient, account: TestAccount) -> None:
    await upload(client, account, [{"id": 5, "type": "url", "value": "ORDER-5"}])
    # A typed variable matches only placeholders of its type.
    assert await text_of(client, account, "a", "#%url=5%") == "#ORDER-5"
    response = await client.post(SEND, json=[item("b", text="%name=5%")], headers=account.headers)
    assert_error(response, 400, "UNKNOWN_VARIABLE")
    # An untyped one matches any placeholder with its id; a typed one of the same id wins.
    variables = [{"id": 7, "value": "any"}, {"id": 7, "type": "name", "value": "typed"}]
    rendered = await text_of(client, account, "c", "%name=7% %url=7%", variables)
    assert rendered == "typed any"


async def test_typed_and_untyped_uploads_are_different_keys(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await upload(
        client, account, [{"id": 1, "value": "plain"}, {"id": 1, "type": "url", "value": "U"}]
    )
    assert await count(store, t.variables) == 2
    assert await text_of(client, account, "a", "%name=1%/%url=1%") == "plain/U"


async def test_variable_id_as_string(client: httpx.AsyncClient, account: TestAccount) -> None:
    assert await text_of(client, account, "a", "Hi %name=3%", [{"id": "3", "value": "Zoe"}]) == (
        "Hi Zoe"
    )


# --- A6: short links ---------------------------------------------------------------------------


async def test_short_link_redirects_and_counts_clicks(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    target = "https://example.com/sale?utm=sms&x=1"
    rendered = await text_of(
        client, account, "link-1", "Sale: %short_url=1%", [{"id": 1, "value": target}]
    )
    match = LINK.fullmatch(rendered.removeprefix("Sale: "))
    assert match, rendered
    code = match.group(1)
    assert len(code) >= 7
    assert await rows(store, t.short_links, "code", "url") == [(code, target)]

    redirect = await client.get(f"/s/{code}", headers={"User-Agent": "TestPhone/1.0"})
    assert redirect.status_code == 302
    assert redirect.headers["location"] == target
    assert await rows(store, t.clicks, "code", "at", "user_agent") == [
        (code, clock.now_ms(), "TestPhone/1.0")
    ]
    shown = await client.get(STATUS, params={"trackingId": "link-1"}, headers=account.headers)
    assert shown.json()["clicks"] == 1
    await client.get(f"/s/{code}")
    shown = await client.get(STATUS, params={"trackingId": "link-1"}, headers=account.headers)
    assert shown.json()["clicks"] == 2


async def test_each_message_gets_its_own_link(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await upload(client, account, [{"id": 9, "type": "short_url", "value": "https://ex.com/a"}])
    body = [item(f"l-{n}", text="Go %short_url=9%") for n in range(20)]
    answer = await send(client, account, body)
    codes = set()
    for accepted in answer:
        rendered = (await status(client, account, accepted["messageId"]))["text"]
        match = LINK.search(rendered)
        assert match, rendered
        codes.add(match.group(1))
    assert len(codes) == 20
    assert all(re.fullmatch(r"[0-9A-Za-z]{7,}", code) for code in codes)
    # Never sequential: no two codes differ only in their last character.
    assert len({code[:-1] for code in codes}) == 20
    assert await count(store, t.short_links) == 20


async def test_unknown_short_link(client: httpx.AsyncClient, store: SqlStore) -> None:
    assert_error(await client.get("/s/NoSuchCode"), 404, "NOT_FOUND")
    assert await count(store, t.clicks) == 0


async def test_short_url_value_kept_as_given_in_name_and_url(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    """%url=N% inserts the value as given: the seed puts an order number in it."""
    variables = [{"id": 2, "value": "12345"}, {"id": 3, "value": "https://example.com/x"}]
    rendered = await text_of(client, account, "u", "#%url=2% %url=3%", variables)
    assert rendered == "#12345 https://example.com/x"


# --- A7: idempotency -------------------------------------------------------------------------


async def test_repeat_returns_the_same_message_ids(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = [
        item(f"r-{n}", text="%short_url=1%", variables=[{"id": 1, "value": "https://e.x/"}])
        for n in range(3)
    ]
    first = await send(client, account, body)
    again = await send(client, account, body)
    assert again == [{**accepted, "repeated": True} for accepted in first]
    assert all("repeated" not in accepted for accepted in first)
    assert await count(store, t.messages) == 3
    assert await count(store, t.tasks) == 3
    assert await count(store, t.short_links) == 3


async def test_repeat_with_reordered_keys_and_extra_fields(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    [first] = await send(client, account, [item(ttl=600)])
    reordered = dict(reversed(list(item(ttl=600).items())))
    reordered["clientNote"] = "retry after timeout"
    [again] = await send(client, account, [reordered])
    assert again == {**first, "repeated": True}
    assert await count(store, t.messages) == 1


async def test_repeat_within_one_batch(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    answer = await send(client, account, [item("a"), item("b"), item("a")])
    assert answer[0] == answer[2]
    assert answer[0]["messageId"] != answer[1]["messageId"]
    assert await count(store, t.messages) == 2


async def test_repeat_mixed_with_new_messages(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    [old] = await send(client, account, [item("old")])
    answer = await send(client, account, [item("new"), item("old")])
    assert answer[1] == {**old, "repeated": True}
    assert "repeated" not in answer[0]
    assert answer[0]["messageId"] != old["messageId"]
    assert await count(store, t.messages) == 2


async def test_repeat_in_envelope_form(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = {"messages": [{"id": "env-1", "recipient": "+380501234567", "text": "x"}]}
    [first] = await send(client, account, body)
    assert await send(client, account, body) == [{**first, "repeated": True}]
    assert await count(store, t.messages) == 1


async def test_concurrent_repeats_store_one_message(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = [item("race", text="once")]
    responses = await asyncio.gather(
        *(client.post(SEND, json=body, headers=account.headers) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert len({r.json()[0]["messageId"] for r in responses}) == 1
    assert await count(store, t.messages) == 1
    assert await count(store, t.tasks) == 1


async def test_tracking_ids_are_per_account(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    other = await make_account(store, "other")
    [mine] = await send(client, account, [item("shared")])
    [theirs] = await send(client, other, [item("shared", text="different")])
    assert mine["messageId"] != theirs["messageId"]


# --- A8: status -------------------------------------------------------------------------------


async def test_status_by_id_and_by_tracking_id(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    [accepted] = await send(
        client, account, [item("track-1", text="Hi %name=1%", variables=[{"id": 1, "value": "Jo"}])]
    )
    by_id = await status(client, account, accepted["messageId"])
    for params in ({"trackingId": "track-1"}, {"trackinId": "track-1"}):
        by_tracking = await client.get(STATUS, params=params, headers=account.headers)
        assert by_tracking.status_code == 200
        assert by_tracking.json() == by_id
    required = {
        "messageId",
        "trackinId",
        "status",
        "channel",
        "createdAt",
        "scheduledAt",
        "expiresAt",
        "updatedAt",
        "attempts",
        "clicks",
        "text",
    }
    assert required <= set(by_id)
    assert by_id["messageId"] == accepted["messageId"]
    assert by_id["trackinId"] == "track-1"
    assert by_id["text"] == "Hi Jo"  # rendered
    assert by_id["status"] == "scheduled"
    assert by_id["scheduledAt"] is None
    assert by_id["attempts"] == []
    assert by_id["clicks"] == 0
    assert by_id["createdAt"] == by_id["updatedAt"] == iso(clock.now_ms())


async def test_status_of_a_scheduled_message(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    when = iso(clock.now_ms() + 7 * 86_400_000)
    [accepted] = await send(client, account, [item(scheduledSent=when)])
    clock.advance(3600)  # later, but well before the appointed time
    shown = await status(client, account, accepted["messageId"])
    assert shown["status"] == "scheduled"
    assert shown["scheduledAt"] == when


async def test_status_of_another_accounts_message(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    [accepted] = await send(client, account, [item("secret")])
    other = await make_account(store, "other")
    response = await client.get(f"{STATUS}/{accepted['messageId']}", headers=other.headers)
    assert_error(response, 404, "NOT_FOUND")
    response = await client.get(STATUS, params={"trackingId": "secret"}, headers=other.headers)
    assert_error(response, 404, "NOT_FOUND")


async def test_status_of_an_unknown_message(
    client: httpx.AsyncClient, account: TestAccount, subtests: pytest.Subtests
) -> None:
    for message_id in (str(uuid.uuid4()), "not-a-uuid", "x" * 300):
        with subtests.test(msg=message_id[:20]):
            response = await client.get(f"{STATUS}/{message_id}", headers=account.headers)
            assert_error(response, 404, "NOT_FOUND")


async def test_status_without_tracking_id(client: httpx.AsyncClient, account: TestAccount) -> None:
    error = assert_error(await client.get(STATUS, headers=account.headers), 400, "MISSING_FIELD")
    assert error["field"] == "trackingId"


# --- service endpoints ---------------------------------------------------------------------------


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_readyz_when_the_schema_is_behind(client: httpx.AsyncClient, store: SqlStore) -> None:
    async with store._writer.begin() as conn:
        [(revision,)] = (
            await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        ).all()
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        assert_error(await client.get("/readyz"), 503, "UNAVAILABLE")
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
    finally:
        async with store._writer.begin() as conn:
            await conn.execute(
                sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision}
            )


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/CascadeMessage/send_message/async",
        "/api/CascadeMessage/send_message/tg-viber/async",
        "/api/items",
        "/api/CascadeMessage/status/{messageId}",
        "/api/CascadeMessage/status",
        "/s/{code}",
    ):
        assert path in document["paths"], path
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/api/CascadeMessage/send_message/async" in docs.text


async def test_unknown_path(
    client: httpx.AsyncClient, account: TestAccount, subtests: pytest.Subtests
) -> None:
    for path in ("/nope", "/api/CascadeMessage", "/s/", "/api/CascadeMessage/send_message"):
        with subtests.test(msg=path):
            assert_error(await client.get(path, headers=account.headers), 404, "NOT_FOUND")


async def test_wrong_method(client: httpx.AsyncClient, account: TestAccount) -> None:
    assert_error(await client.get(SEND, headers=account.headers), 405, "METHOD_NOT_ALLOWED")
    assert_error(await client.delete(SEND, headers=account.headers), 405, "METHOD_NOT_ALLOWED")


@pytest.fixture
async def broken_client(tmp_path: Path, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a database that cannot be opened: every storage call fails."""
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'cascade.db'}"
    store = SqlStore(url, clock, sqlite_synchronous="NORMAL")
    app = build_app(app_settings(url), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c
    await store.close()


async def test_an_unreachable_store_is_a_503_without_a_trace(
    broken_client: httpx.AsyncClient,
) -> None:
    headers = {"X-Authorization-Key": "k", "Content-Type": "application/json"}
    response = await broken_client.post(SEND, json=[item()], headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "STORE_UNAVAILABLE"
    assert set(response.json()) == {"error"}
    assert "Traceback" not in response.text
    assert "sqlite" not in response.text.lower()
    ready = await broken_client.get("/readyz")
    assert_error(ready, 503, "UNAVAILABLE")
