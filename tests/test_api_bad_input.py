"""Bad input (SPEC A3, A4): every mistake is answered with its documented status and the one
error body, stores nothing, and is never a 5xx or a stack trace.

Item-level mistakes are put in the *second* item of a batch whose first item is valid, so
each test also shows that a 400 rejects the whole request and that `field` names the item.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.security import hash_secret
from cascade.store import StoreError
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as app_settings

SEND = "/api/CascadeMessage/send_message/async"
TG_VIBER = "/api/CascadeMessage/send_message/tg-viber/async"
ITEMS = "/api/items"
JSON_CT = {"Content-Type": "application/json"}

DROP = object()  # marks a field to leave out of a message
ANY = object()  # the error's field is not checked
ANY_CODE = "*"  # nor its code

SMALL_LIMIT = 4096  # max_body_bytes of the `small_client` fixture


# --- helpers --------------------------------------------------------------------------------


def item(index: int = 0, **changes: object) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": f"m-{index}",
        "fromName": "Shop",
        "toPhone": "+380501234567",
        "messageType": "transaction",
        "text": "Hello",
    }
    message.update(changes)
    return {k: v for k, v in message.items() if v is not DROP}


def survey(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "messageType": "viber_survey",
        "text": "How was it?",
        "surveyOptions": ["Good", "Bad"],
    }
    values.update(changes)
    return values


async def stored(store: SqlStore) -> dict[str, int]:
    """Rows in the tables a send request writes."""
    found: dict[str, int] = {}
    async with store._reader.connect() as conn:
        for table in (t.messages, t.tasks, t.short_links, t.variables):
            query = sa.select(sa.func.count()).select_from(table)
            found[table.name] = (await conn.execute(query)).scalar_one()
    return found


NOTHING = {"messages": 0, "tasks": 0, "short_links": 0, "variables": 0}


def assert_error(
    response: httpx.Response, status: int, code: str, field: object = ANY
) -> dict[str, Any]:
    """The documented error: status, JSON body {"error": {code, message, field?}}, no trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "field"}, error
    assert code is ANY_CODE or error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    if field is not ANY:
        if isinstance(field, tuple):
            assert error.get("field") in field, error
        else:
            assert error.get("field") == field, error
    result: dict[str, Any] = error
    return result


async def reject(
    client: httpx.AsyncClient,
    store: SqlStore,
    body: object,
    headers: dict[str, str],
    status: int,
    code: str,
    field: object = ANY,
    path: str = SEND,
) -> dict[str, Any]:
    """Send `body` (bytes as given, anything else as JSON); expect the error, nothing stored."""
    before = await stored(store)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(path, content=content, headers=headers)
    error = assert_error(response, status, code, field)
    assert await stored(store) == before
    return error


@pytest.fixture
async def small_client(
    store: SqlStore, clock: ManualClock, db_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a small body size limit, to reach 413 cheaply."""
    settings = app_settings(db_url, max_body_bytes=SMALL_LIMIT)
    app = build_app(settings, clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


# --- the body as a whole ----------------------------------------------------------------------


MALFORMED = {
    "truncated": b"[{",
    "empty": b"",
    "trailing-comma": b'[{"id": "x"},]',
    "single-quotes": b"{'id': 'x'}",
    "garbage-after": b"[] trailing",
    "comma-in-object": b'[{"id": "x",}]',
    "invalid-utf8-in-a-string": b'[{"id": "x", "text": "\xff\xfe"}]',
    "lone-surrogate": b'["\\ud800"]',
}


async def test_malformed_json(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    for name, body in MALFORMED.items():
        with subtests.test(msg=name):
            await reject(client, store, body, account.headers, 400, "INVALID_JSON")


NOT_A_SEND_BODY = {
    "number": b"42",
    "string": b'"hello"',
    "null": b"null",
    "bool": b"true",
    "object": b'{"foo": 1}',
    "envelope-typo": b'{"message": [{"recipient": "+380501234567", "text": "Hi"}]}',
    "messages-object": b'{"messages": {"recipient": "+380501234567", "text": "Hi"}}',
    "messages-number": b'{"messages": 5}',
    "bare-message": json.dumps(item()).encode(),
}


async def test_neither_array_nor_envelope(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    for name, body in NOT_A_SEND_BODY.items():
        with subtests.test(msg=name):
            await reject(client, store, body, account.headers, 400, "INVALID_BODY")


@pytest.mark.parametrize("path", [SEND, TG_VIBER])
async def test_empty_array(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, path: str
) -> None:
    await reject(client, store, b"[]", account.headers, 400, "EMPTY_BATCH", path=path)


async def test_empty_envelope(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await reject(client, store, {"messages": []}, account.headers, 400, "EMPTY_BATCH")


async def test_5001_messages(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = [item(i) for i in range(5001)]
    await reject(client, store, body, account.headers, 400, "BATCH_TOO_LARGE")


async def test_5000_messages_are_accepted(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """The other side of the batch limit: exactly 5,000 is one request."""
    body = [item(i) for i in range(5000)]
    response = await client.post(SEND, json=body, headers=account.headers)
    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    assert [a["trackinId"] for a in answer] == [f"m-{i}" for i in range(5000)]
    assert len({a["messageId"] for a in answer}) == 5000
    assert (await stored(store))["messages"] == 5000


async def test_body_over_the_size_limit(
    small_client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = json.dumps([item(i) for i in range(60)]).encode()  # valid, but too large
    assert len(body) > SMALL_LIMIT
    await reject(small_client, store, body, account.headers, 413, "PAYLOAD_TOO_LARGE")


async def test_body_over_the_size_limit_without_content_length(
    small_client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """A chunked body announces no length; the limit must still hold while reading."""
    body = json.dumps([item(i) for i in range(60)]).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await small_client.post(SEND, content=chunks(), headers=account.headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await stored(store) == NOTHING


async def test_body_just_under_the_size_limit_is_accepted(
    small_client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    message = item()
    message["text"] = "x" * (SMALL_LIMIT - len(json.dumps([item(text="")])))
    body = json.dumps([message]).encode()
    assert len(body) == SMALL_LIMIT
    response = await small_client.post(SEND, content=body, headers=account.headers)
    assert response.status_code == 200, response.text


async def test_wrong_content_type(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    wrong = [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/json",
        "application/jsonp",
    ]
    for content_type in wrong:
        with subtests.test(msg=str(content_type)):
            headers = {"X-Authorization-Key": account.key}
            if content_type:
                headers["Content-Type"] = content_type
            await reject(client, store, [item()], headers, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_json_content_type_variants_are_accepted(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    for n, content_type in enumerate(["application/json; charset=utf-8", "Application/JSON"]):
        headers = {"X-Authorization-Key": account.key, "Content-Type": content_type}
        response = await client.post(SEND, content=json.dumps([item(n)]), headers=headers)
        assert response.status_code == 200, response.text


# --- one message, one mistake ---------------------------------------------------------------

Case = tuple[str, dict[str, object], str, str | tuple[str, ...]]

MISSING: list[Case] = [
    ("id", {"id": DROP}, "MISSING_FIELD", "id"),
    ("fromName", {"fromName": DROP}, "MISSING_FIELD", "fromName"),
    ("toPhone", {"toPhone": DROP}, "MISSING_FIELD", "toPhone"),
    ("messageType", {"messageType": DROP}, "MISSING_FIELD", "messageType"),
    ("text", {"text": DROP}, "MISSING_FIELD", "text"),
    ("text-null", {"text": None}, "MISSING_FIELD", "text"),
    ("id-null", {"id": None}, "MISSING_FIELD", "id"),
]

WRONG_TYPES: list[Case] = [
    ("ttl-abc", {"ttl": "abc"}, "INVALID_TYPE", "ttl"),
    ("ttl-minus-1", {"ttl": -1}, "INVALID_TTL", "ttl"),
    ("ttl-2592001", {"ttl": 2_592_001}, "INVALID_TTL", "ttl"),
    ("ttl-0", {"ttl": 0}, "INVALID_TTL", "ttl"),
    ("ttl-float", {"ttl": 1.5}, "INVALID_TYPE", "ttl"),
    ("ttl-bool", {"ttl": True}, "INVALID_TYPE", "ttl"),
    ("ttl-huge", {"ttl": 10**30}, "INVALID_TTL", "ttl"),
    ("id-number", {"id": 12345}, "INVALID_TYPE", "id"),
    ("id-empty", {"id": ""}, "INVALID_ID", "id"),
    ("id-256-chars", {"id": "i" * 256}, "INVALID_ID", "id"),
    ("fromName-empty", {"fromName": ""}, "INVALID_FROM_NAME", "fromName"),
    ("fromName-29-chars", {"fromName": "f" * 29}, "INVALID_FROM_NAME", "fromName"),
    ("fromName-object", {"fromName": {"name": "Shop"}}, "INVALID_TYPE", "fromName"),
    ("text-number", {"text": 5}, "INVALID_TYPE", "text"),
    ("toPhone-number", {"toPhone": 380501234567}, "INVALID_TYPE", "toPhone"),
    ("surveyOptions-string", survey(surveyOptions="Good,Bad"), "INVALID_TYPE", "surveyOptions"),
    ("surveyOptions-numbers", survey(surveyOptions=[1, 2]), "INVALID_TYPE", "surveyOptions[0]"),
    ("variables-object", {"variables": {"id": 1}}, "INVALID_TYPE", "variables"),
    ("fallback-string", {"messageType": "flashcall", "fallback": "x"}, "INVALID_TYPE", "fallback"),
]

PHONES: list[Case] = [
    ("without-plus", {"toPhone": "380501234567"}, "INVALID_PHONE", "toPhone"),
    ("leading-0-after-plus", {"toPhone": "+0380501234567"}, "INVALID_PHONE", "toPhone"),
    ("letters", {"toPhone": "+38050ABC4567"}, "INVALID_PHONE", "toPhone"),
    ("7-digits", {"toPhone": "+1234567"}, "INVALID_PHONE", "toPhone"),
    ("16-digits", {"toPhone": "+1234567890123456"}, "INVALID_PHONE", "toPhone"),
    ("spaces", {"toPhone": "+380 50 123 4567"}, "INVALID_PHONE", "toPhone"),
    ("national-format", {"toPhone": "0501234567"}, "INVALID_PHONE", "toPhone"),
    ("empty", {"toPhone": ""}, "INVALID_PHONE", "toPhone"),
    ("seed-placeholder", {"toPhone": "+380XXXXXXXXX"}, "INVALID_PHONE", "toPhone"),
]

MESSAGE_TYPES: list[Case] = [
    ("unknown", {"messageType": "sms"}, "INVALID_MESSAGE_TYPE", "messageType"),
    ("wrong-case", {"messageType": "Transaction"}, "INVALID_MESSAGE_TYPE", "messageType"),
    ("empty", {"messageType": ""}, "INVALID_MESSAGE_TYPE", "messageType"),
]

NO_TEXT: list[Case] = [
    ("transaction", {"text": DROP}, "MISSING_FIELD", "text"),
    ("promo", {"messageType": "promo", "text": DROP}, "MISSING_FIELD", "text"),
    ("viber_survey", survey(text=DROP), "MISSING_FIELD", "text"),
    ("empty-string", {"text": ""}, "MISSING_FIELD", "text"),
]

TOO_LONG: list[Case] = [
    ("4097-chars", {"text": "t" * 4097}, "TEXT_TOO_LONG", "text"),
    (
        "4097-after-substitution",
        {"text": "t" * 4089 + "%name=1%", "variables": [{"id": 1, "value": "12345678"}]},
        "TEXT_TOO_LONG",
        "text",
    ),
]

SURVEYS: list[Case] = [
    ("86-char-text", survey(text="s" * 86), "TEXT_TOO_LONG", "text"),
    ("1-option", survey(surveyOptions=["Only"]), "INVALID_SURVEY", "surveyOptions"),
    ("6-options", survey(surveyOptions=list("abcdef")), "INVALID_SURVEY", "surveyOptions"),
    ("0-options", survey(surveyOptions=[]), "INVALID_SURVEY", "surveyOptions"),
    (
        "31-char-option",
        survey(surveyOptions=["Good", "Bad", "o" * 31]),
        "INVALID_SURVEY",
        "surveyOptions[2]",
    ),
    ("empty-option", survey(surveyOptions=["Good", ""]), "INVALID_SURVEY", "surveyOptions[1]"),
    ("no-options", survey(surveyOptions=DROP), "MISSING_FIELD", "surveyOptions"),
]

SCHEDULES: list[Case] = [
    ("words", {"scheduledSent": "tomorrow"}, "INVALID_SCHEDULE", "scheduledSent"),
    ("month-13", {"scheduledSent": "2026-13-01T10:00:00Z"}, "INVALID_SCHEDULE", "scheduledSent"),
    ("us-format", {"scheduledSent": "01/25/2026 10:00"}, "INVALID_SCHEDULE", "scheduledSent"),
    ("empty", {"scheduledSent": ""}, "INVALID_SCHEDULE", "scheduledSent"),
    ("number", {"scheduledSent": 1767225600}, "INVALID_TYPE", "scheduledSent"),
    ("alias-scheduledTime", {"scheduledTime": "soon"}, "INVALID_SCHEDULE", "scheduledTime"),
]

VARIABLES: list[Case] = [
    ("unknown-variable", {"text": "Hi %name=1%"}, "UNKNOWN_VARIABLE", "text"),
    (
        "unknown-variable-other-id",
        {"text": "Hi %name=2%", "variables": [{"id": 1, "value": "x"}]},
        "UNKNOWN_VARIABLE",
        "text",
    ),
    (
        "typed-variable-of-another-type",
        {"text": "Hi %name=1%", "variables": [{"id": 1, "type": "url", "value": "x"}]},
        "UNKNOWN_VARIABLE",
        "text",
    ),
    (
        "unknown-variable-in-fallback",
        {"messageType": "flashcall", "text": DROP, "fallback": {"text": "Code %name=4%"}},
        "UNKNOWN_VARIABLE",
        "fallback.text",
    ),
    (
        "id-not-a-number",
        {"text": "Hi", "variables": [{"id": "one", "value": "x"}]},
        "INVALID_VARIABLE",
        "variables[0].id",
    ),
    (
        "unknown-type",
        {"text": "Hi", "variables": [{"id": 1, "type": "phone", "value": "x"}]},
        "INVALID_VARIABLE",
        "variables[0].type",
    ),
    (
        "without-value",
        {"text": "Hi", "variables": [{"id": 1}]},
        "MISSING_FIELD",
        "variables[0].value",
    ),
]

FALLBACKS: list[Case] = [
    (
        "survey-fallback",
        {"messageType": "flashcall", "fallback": {"messageType": "viber_survey", "text": "x"}},
        "INVALID_FALLBACK",
        "fallback.messageType",
    ),
    (
        "without-text",
        {"messageType": "flashcall", "fallback": {"messageType": "transaction"}},
        "MISSING_FIELD",
        "fallback.text",
    ),
]


async def reject_items(
    subtests: pytest.Subtests,
    client: httpx.AsyncClient,
    store: SqlStore,
    account: TestAccount,
    cases: list[Case],
) -> None:
    """Each case as the second item of a batch: 400 with its code, `field` names the item."""
    for name, changes, code, field in cases:
        with subtests.test(msg=name):
            body = [item(0), item(1, **changes)]
            where = tuple(f"[1].{f}" for f in field) if isinstance(field, tuple) else f"[1].{field}"
            await reject(client, store, body, account.headers, 400, code, where)


async def test_each_required_field_missing_in_turn(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, MISSING)


async def test_wrong_types_and_ranges(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, WRONG_TYPES)


async def test_to_phone_not_e164(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, PHONES)


async def test_unknown_message_type(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, MESSAGE_TYPES)


async def test_no_text_on_a_non_flashcall_message(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, NO_TEXT)


async def test_text_of_4097_characters(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, TOO_LONG)


async def test_bad_viber_survey(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, SURVEYS)


async def test_scheduled_sent_that_is_not_a_date(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, SCHEDULES)


async def test_unknown_or_malformed_variable(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, VARIABLES)


async def test_bad_flashcall_fallback(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    await reject_items(subtests, client, store, account, FALLBACKS)


async def test_short_url_value_that_is_not_a_url(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    values = [
        "not a url",
        "example.com/sale",
        "ftp://example.com/sale",
        "http://",
        "/relative/path",
        "https://exa mple.com",
        "javascript:alert(1)",
    ]
    cases: list[Case] = [
        (
            value,
            {"text": "Shop: %short_url=1%", "variables": [{"id": 1, "value": value}]},
            "INVALID_URL",
            ("text", "variables"),
        )
        for value in values
    ]
    await reject_items(subtests, client, store, account, cases)


async def test_item_that_is_not_an_object(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await reject(client, store, [item(0), 5], account.headers, 400, "INVALID_BODY", "[1]")
    await reject(client, store, [item(0), None], account.headers, 400, "INVALID_BODY", "[1]")


async def test_bad_message_on_the_tg_viber_endpoint(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = [item(0), item(1, toPhone="0501234567")]
    await reject(
        client, store, body, account.headers, 400, "INVALID_PHONE", "[1].toPhone", path=TG_VIBER
    )


ENVELOPE_CASES: list[Case] = [
    ("missing-recipient", {"recipient": DROP}, "MISSING_FIELD", ("toPhone", "recipient")),
    ("missing-text", {"text": DROP}, "MISSING_FIELD", "text"),
    ("recipient-without-plus", {"recipient": "380501234567"}, "INVALID_PHONE", "recipient"),
    ("unknown-variable", {"text": "Hello %name=3%"}, "UNKNOWN_VARIABLE", "text"),
    ("unknown-type", {"messageType": "viber"}, "INVALID_MESSAGE_TYPE", "messageType"),
]


async def test_bad_envelope_message(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    good = {
        "recipient": "+380501234567",
        "text": "Hello %name=1%",
        "variables": [{"id": 1, "value": "John"}],
    }
    for name, changes, code, field in ENVELOPE_CASES:
        with subtests.test(msg=name):
            bad = {k: v for k, v in {**good, **changes}.items() if v is not DROP}
            fields = field if isinstance(field, tuple) else (field,)
            where = tuple(f"messages[1].{f}" for f in fields)
            body = {"messages": [good, bad]}
            await reject(client, store, body, account.headers, 400, code, where)


# --- limits that depend on the clock -----------------------------------------------------------


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


async def test_scheduled_31_days_ahead(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    when = _iso(clock.now_ms() + 31 * 86_400_000)
    body = [item(0), item(1, scheduledSent=when)]
    await reject(client, store, body, account.headers, 400, "INVALID_SCHEDULE", "[1].scheduledSent")


async def test_scheduled_just_over_30_days_ahead_with_an_offset(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    """30 days and a minute ahead, written in UTC-02:00: the offset is honoured."""
    moment = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC) + timedelta(days=30, minutes=1)
    value = moment.astimezone(timezone(timedelta(hours=-2))).isoformat()
    body = [item(0), item(1, scheduledSent=value)]
    await reject(client, store, body, account.headers, 400, "INVALID_SCHEDULE", "[1].scheduledSent")


# --- idempotency conflicts -------------------------------------------------------------------


async def test_tracking_id_reused_with_different_content(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    first = await client.post(SEND, json=[item(0, text="Original")], headers=account.headers)
    assert first.status_code == 200, first.text
    [accepted] = first.json()
    body = [item(5), item(0, text="Changed")]
    await reject(client, store, body, account.headers, 400, "DUPLICATE_ID", "[1].id")
    assert await stored(store) == {**NOTHING, "messages": 1, "tasks": 1}
    status = await client.get(
        f"/api/CascadeMessage/status/{accepted['messageId']}", headers=account.headers
    )
    assert status.json()["text"] == "Original"


async def test_tracking_id_reused_within_one_batch_with_different_content(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = [item(0), item(1), item(0, toPhone="+380501234568")]
    await reject(client, store, body, account.headers, 400, "DUPLICATE_ID", "[2].id")


async def test_tracking_id_reused_on_the_other_endpoint(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """The route is part of the content: the same item on tg-viber is a different message."""
    first = await client.post(SEND, json=[item(0)], headers=account.headers)
    assert first.status_code == 200
    await reject(
        client, store, [item(0)], account.headers, 400, "DUPLICATE_ID", "[0].id", path=TG_VIBER
    )


# --- credentials ------------------------------------------------------------------------------


async def test_no_credential_header(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await reject(client, store, [item()], JSON_CT, 401, "UNAUTHORIZED")


async def test_wrong_key(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    keys = {
        "unknown": "wrong-key",
        "empty": "",
        "well-formed-unknown": "csk_" + "A" * 43,
        "own-key-with-suffix": account.key + "x",
        "own-key-upper": account.key.upper(),
    }
    for name, key in keys.items():
        with subtests.test(msg=name):
            headers = {**JSON_CT, "X-Authorization-Key": key}
            await reject(client, store, [item()], headers, 401, "UNAUTHORIZED")


async def test_credentials_come_before_the_body(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """Without valid credentials nothing about the body is revealed."""
    await reject(client, store, b"[{", JSON_CT, 401, "UNAUTHORIZED")
    await reject(client, store, b"[]", {"Content-Type": "text/plain"}, 401, "UNAUTHORIZED")


async def test_valid_key_with_the_bot_token_of_another_account(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    other = await make_account(store, "other")
    for channel, header in [("telegram", "X-Tg-Bot-Key"), ("viber_bot", "X-Viber-Auth-Token")]:
        with subtests.test(msg=header):
            token = f"{channel}-token-of-other"
            await store.add_bot(other.id, channel, token, hash_secret(token))
            headers = {**account.headers, header: token}
            await reject(client, store, [item()], headers, 401, "UNAUTHORIZED")


async def test_valid_key_with_an_unknown_bot_token(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    headers = {**account.headers, "X-Tg-Bot-Key": "123456:not-registered"}
    await reject(client, store, [item()], headers, 401, "UNAUTHORIZED")


# --- hostile input never becomes a server fault ---------------------------------------------


async def test_nul_character_is_never_a_server_fault(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    """JSON allows \\u0000 in strings; PostgreSQL text does not. Either store it faithfully
    or refuse it with a 400: a client's input must not become a 500."""
    for field, value in {"text": "a\u0000b", "id": "nul\u0000id", "fromName": "Sh\u0000p"}.items():
        with subtests.test(msg=field):
            before = await stored(store)
            body = [item(0, **{field: value})]
            response = await client.post(SEND, json=body, headers=account.headers)
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert_error(response, 400, response.json()["error"]["code"])
                assert await stored(store) == before


async def test_status_lookup_with_a_nul_character_is_never_a_server_fault(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    response = await client.get(
        "/api/CascadeMessage/status", params={"trackingId": "a\u0000b"}, headers=account.headers
    )
    assert response.status_code in (400, 404), response.text


async def test_items_hostile_values_are_never_a_server_fault(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    cases = {
        "id-beyond-int32": [{"id": 99_999_999_999, "value": "x"}],
        "id-beyond-int64": [{"id": 2**64 - 1, "value": "x"}],
        "nul-value": [{"id": 1, "value": "nul\u0000value"}],
    }
    for name, variables in cases.items():
        with subtests.test(msg=name):
            before = await stored(store)
            body = {"variables": variables}
            response = await client.post(ITEMS, json=body, headers=account.headers)
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert await stored(store) == before


# --- POST /api/items ----------------------------------------------------------------------------

ITEMS_CASES: list[tuple[str, object, str, object]] = [
    ("malformed", b"{", "INVALID_JSON", ANY),
    ("invalid-utf8", b'{"variables": [{"id": 1, "value": "\xff"}]}', "INVALID_JSON", ANY),
    ("array", [{"id": 1, "value": "x"}], "INVALID_BODY", ANY),
    ("no-variables", {"values": []}, "INVALID_BODY", ANY),
    ("value-missing", {"variables": [{"id": 1}]}, "MISSING_FIELD", "variables[0].value"),
    ("value-number", {"variables": [{"id": 1, "value": 5}]}, "INVALID_TYPE", "variables[0].value"),
    (
        "short-url-not-url",
        {"variables": [{"id": 1, "type": "short_url", "value": "nope"}]},
        "INVALID_URL",
        "variables[0].value",
    ),
    (
        "unknown-type",
        {"variables": [{"id": 1, "type": "phone", "value": "x"}]},
        "INVALID_VARIABLE",
        "variables[0].type",
    ),
    (
        "value-too-long",
        {"variables": [{"id": 1, "value": "v" * 4097}]},
        "VALUE_TOO_LONG",
        "variables[0].value",
    ),
    (
        "second-of-three-bad",
        {
            "variables": [
                {"id": 1, "type": "short_url", "value": "https://example.com/a"},
                {"id": 1, "type": "short_url", "value": "https://example.com/b"},
                {"id": 2, "type": "short_url", "value": "not a url"},
            ]
        },
        "INVALID_URL",
        "variables[2].value",
    ),
]


async def test_bad_items_upload(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    for name, body, code, field in ITEMS_CASES:
        with subtests.test(msg=name):
            await reject(client, store, body, account.headers, 400, code, field, path=ITEMS)


async def test_items_upload_needs_credentials(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = {"variables": [{"id": 1, "value": "x"}]}
    await reject(client, store, body, JSON_CT, 401, "UNAUTHORIZED", path=ITEMS)
    await reject(
        client,
        store,
        body,
        {"X-Authorization-Key": account.key},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        path=ITEMS,
    )


# --- hostile input (issue 11): depth, sizes, characters, transport, the store -----------------


def nested(depth: int) -> object:
    """An object `depth` levels deep: {"a": {"a": … 1 …}}."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000  # the body the attack used


async def test_json_nested_1000_deep_is_a_400_everywhere(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    deep_field = b'[{"id": "m-0", "fromName": "Shop", "toPhone": "+380501234567",'
    deep_field += b' "messageType": "transaction", "text": "Hi", "extra": ' + DEEP + b"}]"
    deep_variable = b'{"variables": [{"id": 1, "value": "x", "extra": ' + DEEP + b"}]}"
    cases = {
        "the whole send body": (SEND, DEEP),
        "an unknown field of a valid message": (SEND, deep_field),
        "an unknown field of a variable on /api/items": (ITEMS, deep_variable),
        "arrays on tg-viber": (TG_VIBER, b"[" * 100_000 + b"]" * 100_000),
    }
    for name, (path, body) in cases.items():
        with subtests.test(msg=name):
            await reject(client, store, body, account.headers, 400, "JSON_TOO_DEEP", path=path)


async def test_unknown_fields_nested_to_the_limit_are_ignored(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """32 levels in all is allowed: the array, the message, and 30 levels of an unknown field
    (whose strings may hold any brackets)."""
    message = item(0, extra=nested(30), note=']]]}}}[[[{{{ \\" [')
    response = await client.post(SEND, json=[message], headers=account.headers)
    assert response.status_code == 200, response.text
    message = item(1, extra=nested(31), note="]]]}}}")
    await reject(client, store, [message], account.headers, 400, "JSON_TOO_DEEP")


CONTROL_IN_FROM_NAME = {
    "CR": "Shop\rX",
    "LF": "Shop\nBcc: x",
    "CRLF": "Shop\r\n",
    "tab": "Sh\top",
    "U+2028": "Shop\u2028X",
    "U+2029": "Shop\u2029X",
    "bidi-override": "\u202epohS",
    "DEL": "Shop\x7f",
    "C1-NEL": "Shop\x85",
}


async def test_from_name_with_control_characters(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    cases: list[Case] = [
        (name, {"fromName": value}, "INVALID_FROM_NAME", "fromName")
        for name, value in CONTROL_IN_FROM_NAME.items()
    ]
    await reject_items(subtests, client, store, account, cases)


async def test_from_name_with_letters_of_any_script_is_accepted(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    body = [item(0, fromName="Магазин Café 商店 №1")]
    response = await client.post(SEND, json=body, headers=account.headers)
    assert response.status_code == 200, response.text


async def test_variables_per_message_are_capped(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    many = [{"id": i, "value": "v"} for i in range(257)]
    await reject(
        client,
        store,
        [item(0, variables=many)],
        account.headers,
        400,
        "TOO_MANY_VARIABLES",
        "[0].variables",
    )
    response = await client.post(
        SEND, json=[item(0, variables=many[:256])], headers=account.headers
    )
    assert response.status_code == 200, response.text


async def test_variables_per_upload_are_capped(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    many = [{"id": i, "value": "v"} for i in range(5001)]
    body = {"variables": many}
    await reject(
        client, store, body, account.headers, 400, "TOO_MANY_VARIABLES", "variables", path=ITEMS
    )
    response = await client.post(ITEMS, json={"variables": many[:5000]}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": 5000}


async def test_variable_ids_are_ascii_digits(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    """int() takes other scripts' digits and refuses superscripts and 5,000 digits: neither
    may decide what a request means, nor become a 500."""
    ids = {
        "arabic-indic": "١٢",
        "superscript": "¹",
        "fullwidth": "\uff11",
        "5000-digits": "9" * 5000,
        "11-digits": "99999999999",
    }
    for name, raw_id in ids.items():
        with subtests.test(msg=name):
            body = {"variables": [{"id": raw_id, "value": "x"}]}
            await reject(
                client,
                store,
                body,
                account.headers,
                400,
                "INVALID_VARIABLE",
                "variables[0].id",
                path=ITEMS,
            )


async def test_verify_code_is_ascii_digits(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, subtests: pytest.Subtests
) -> None:
    codes = {"arabic-indic": "١٢٣٤", "superscript": "¹²³⁴", "fullwidth": "\uff11\uff12\uff13\uff14"}
    for name, code in codes.items():
        with subtests.test(msg=name):
            body = {"messageId": "00000000-0000-0000-0000-000000000000", "code": code}
            await reject(
                client,
                store,
                body,
                account.headers,
                400,
                "INVALID_CODE",
                "code",
                path="/api/CascadeMessage/verify",
            )


FAULTS = {  # what the store raised → the answer: status, code, Retry-After
    "store unreachable": (StoreError("connection refused at /srv"), 503, "STORE_UNAVAILABLE", "2"),
    "a real fault": (RuntimeError("secret detail at /srv"), 500, "INTERNAL_ERROR", None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_faults_say_nothing_of_themselves(
    client: httpx.AsyncClient,
    store: SqlStore,
    account: TestAccount,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    """A database restart is no fault of the client's: 503, and when to come back. Any
    other fault is a 500. Neither shows the exception's text."""
    raised, status, code, retry_after = FAULTS[fault]

    async def failing(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr(store, "message_view", failing)
    response = await client.get(
        "/api/CascadeMessage/status/00000000-0000-0000-0000-000000000000", headers=account.headers
    )
    assert_error(response, status, code)
    assert response.headers.get("Retry-After") == retry_after
    assert "/srv" not in response.text


async def test_whole_numbers_written_with_a_fraction_are_numbers(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """JSON (and JSON Schema's `integer`) has one kind of number: 60.0 is 60."""
    body = [item(0, ttl=60.0, text="Hi %name=7%", variables=[{"id": 7.0, "value": "Ann"}])]
    response = await client.post(SEND, json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    shown = await client.get(
        f"/api/CascadeMessage/status/{response.json()[0]['messageId']}", headers=account.headers
    )
    assert shown.json()["text"] == "Hi Ann"
    bad = [item(0, variables=[{"id": 7.5, "value": "Ann"}])]
    await reject(client, store, bad, account.headers, 400, "INVALID_TYPE", "[0].variables[0].id")


async def test_both_schedule_spellings_are_checked(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    """scheduledSent wins, but a scheduledTime beside it must be a date too; the message
    names the field that is wrong."""
    body = [item(0, scheduledSent="2026-01-25T10:00:00Z", scheduledTime="soon")]
    error = await reject(
        client, store, body, account.headers, 400, "INVALID_SCHEDULE", "[0].scheduledTime"
    )
    assert error["message"].startswith("scheduledTime")


async def test_options_on_callbacks_lists_both_methods(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    response = await client.options("/api/callbacks", headers=account.headers)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    listed = await client.get("/api/callbacks", headers=account.headers)
    assert listed.status_code == 200
    assert listed.json() == []


NUL_FIELDS: list[tuple[str, dict[str, object]]] = [
    ("toPhone", {"toPhone": "+38050\u00001234567"}),
    ("recipient", {"toPhone": DROP, "recipient": "+38050\u00001234567"}),
    ("messageType", {"messageType": "trans\u0000action"}),
    # a date the clock allows (2026-01-01 here): the NUL is its only fault
    ("scheduledTime", {"scheduledTime": "2026-01-10T00:00:00\u0000Z"}),
    ("scheduledSent", {"scheduledSent": "2026-01-10T00:00:00\u0000Z"}),
    ("surveyOptions", survey(surveyOptions=["Good", "B\u0000ad"])),
    ("fallback.text", {"messageType": "flashcall", "text": DROP, "fallback": {"text": "f\u0000"}}),
    ("imageUrl", {"messageType": "promo", "imageUrl": "https://img.example/a\u0000.png"}),
    (
        "buttonText",
        {"messageType": "promo", "buttonText": "Go\u0000", "buttonUrl": "https://example.com"},
    ),
    (
        "buttonUrl",
        {"messageType": "promo", "buttonText": "Go", "buttonUrl": "https://example.com/\u0000"},
    ),
    ("variables", {"text": "Hi %name=1%", "variables": [{"id": 1, "value": "v\u0000"}]}),
]


@pytest.mark.parametrize(("name", "changes"), NUL_FIELDS, ids=[n for n, _ in NUL_FIELDS])
async def test_a_nul_in_any_send_field_is_never_a_server_fault(
    client: httpx.AsyncClient,
    store: SqlStore,
    account: TestAccount,
    name: str,
    changes: dict[str, object],
) -> None:
    """Every string of a send, not only text, id and fromName: PostgreSQL cannot store a
    NUL in text, so one that reached it would be a 503 (a store fault): each is refused
    (400, the one error body, nothing stored), each by its own rule or as a NUL."""
    await reject(client, store, [item(0), item(1, **changes)], account.headers, 400, ANY_CODE)
