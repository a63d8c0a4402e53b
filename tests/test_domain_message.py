"""The message rules of SPEC A3, as pure functions: `validate` and `parse_schedule`."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cascade.api.wire import FallbackIn, MessageIn, VariableIn, decode_send
from cascade.domain.errors import RequestRejected
from cascade.domain.message import (
    Context,
    Draft,
    Fallback,
    Form,
    MessageType,
    Route,
    parse_schedule,
    validate,
)
from cascade.domain.variables import ShortLink, VariableKey


def other_digits(zero: int, ascii_digits: str) -> str:
    """The same digits from another Unicode block (`zero` is that block's digit zero)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


NOW_DT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = int(NOW_DT.timestamp() * 1000)  # 1_767_225_600_000, ManualClock's default
DAY_MS = 86_400_000
LINK_BASE = "https://c.test"
FINGERPRINT = bytes(range(16))

BASE_ITEM: dict[str, Any] = {
    "id": "order-12345",
    "from_name": "YourStore",
    "to_phone": "+380501234567",
    "message_type": "transaction",
    "text": "Your order #12345 has been confirmed",
}


def item(**fields: Any) -> MessageIn:
    """An array-form item; a field given as None is absent."""
    values = dict(BASE_ITEM)
    values.update(fields)
    return MessageIn(**values)


def bare(**fields: Any) -> MessageIn:
    """An item holding only the given fields (envelope-form tests)."""
    return MessageIn(**fields)


def context(
    form: Form = "array",
    *,
    route: Route = Route.STANDARD,
    account: Mapping[VariableKey, str] | None = None,
) -> Context:
    counter = itertools.count(1)
    return Context(
        form=form,
        route=route,
        now_ms=NOW,
        default_from_name="AcmeDefault",
        account_variables=account or {},
        link_base=LINK_BASE,
        new_code=lambda: f"code{next(counter):04d}",
    )


def ok(raw: MessageIn, form: Form = "array", **kwargs: Any) -> Draft:
    return validate(raw, FINGERPRINT, context(form, **kwargs))


def rejected(raw: MessageIn, form: Form = "array", **kwargs: Any) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        validate(raw, FINGERPRINT, context(form, **kwargs))
    return caught.value


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- a valid item ------------------------------------------------------------------------


def test_array_item_becomes_draft() -> None:
    draft = ok(item(ttl=3600))
    assert draft == Draft(
        tracking_id="order-12345",
        fingerprint=FINGERPRINT,
        route=Route.STANDARD,
        message_type=MessageType.TRANSACTION,
        from_name="YourStore",
        phone="+380501234567",
        text="Your order #12345 has been confirmed",
        survey_options=(),
        fallback=None,
        ttl=3600,
        created_at_ms=NOW,
        scheduled_at_ms=None,
        due_at_ms=NOW,
        expires_at_ms=NOW + 3_600_000,
        short_links=(),
    )


def test_route_comes_from_context() -> None:
    assert ok(item(), route=Route.TG_VIBER).route is Route.TG_VIBER


def test_unknown_fields_are_ignored_by_the_wire_decoder() -> None:
    decoded = decode_send(
        b'[{"id": "a", "fromName": "S", "toPhone": "+380501234567", '
        b'"messageType": "promo", "text": "x", "futureField": {"nested": 1}}]'
    )
    assert isinstance(decoded, list)
    assert ok(decoded[0]).message_type is MessageType.PROMO


# --- rejections: one table, every field rule ----------------------------------------------

LONG_TEXT = "x" * 4097
REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # id
    ("id missing", {"id": None}, "MISSING_FIELD", "id"),
    ("id empty", {"id": ""}, "INVALID_ID", "id"),
    ("id 256 chars", {"id": "i" * 256}, "INVALID_ID", "id"),
    # fromName
    ("fromName missing", {"from_name": None}, "MISSING_FIELD", "fromName"),
    ("fromName empty", {"from_name": ""}, "INVALID_FROM_NAME", "fromName"),
    ("fromName 29 chars", {"from_name": "F" * 29}, "INVALID_FROM_NAME", "fromName"),
    # toPhone
    ("phone missing", {"to_phone": None}, "MISSING_FIELD", "toPhone"),
    ("phone without +", {"to_phone": "380501234567"}, "INVALID_PHONE", "toPhone"),
    ("phone 00 prefix", {"to_phone": "00380501234567"}, "INVALID_PHONE", "toPhone"),
    ("phone 0 after +", {"to_phone": "+0380501234567"}, "INVALID_PHONE", "toPhone"),
    ("phone letters", {"to_phone": "+38050123456a"}, "INVALID_PHONE", "toPhone"),
    ("phone 7 digits", {"to_phone": "+1234567"}, "INVALID_PHONE", "toPhone"),
    ("phone 16 digits", {"to_phone": "+1234567890123456"}, "INVALID_PHONE", "toPhone"),
    ("phone spaces", {"to_phone": "+380 50 123 4567"}, "INVALID_PHONE", "toPhone"),
    ("phone dashes", {"to_phone": "+380-50-123-4567"}, "INVALID_PHONE", "toPhone"),
    ("phone trailing newline", {"to_phone": "+380501234567\n"}, "INVALID_PHONE", "toPhone"),
    ("phone just +", {"to_phone": "+"}, "INVALID_PHONE", "toPhone"),
    ("phone empty", {"to_phone": ""}, "INVALID_PHONE", "toPhone"),
    (
        "phone arabic-indic digits",
        {"to_phone": "+" + other_digits(0x0660, "380501234567")},
        "INVALID_PHONE",
        "toPhone",
    ),
    (
        "recipient bad in array form",
        {"to_phone": None, "recipient": "0501234567"},
        "INVALID_PHONE",
        "recipient",
    ),
    # messageType
    ("type missing", {"message_type": None}, "MISSING_FIELD", "messageType"),
    ("type unknown", {"message_type": "sms"}, "INVALID_MESSAGE_TYPE", "messageType"),
    ("type empty", {"message_type": ""}, "INVALID_MESSAGE_TYPE", "messageType"),
    # text
    ("text missing", {"text": None}, "MISSING_FIELD", "text"),
    ("text empty", {"text": ""}, "MISSING_FIELD", "text"),
    ("promo text missing", {"message_type": "promo", "text": None}, "MISSING_FIELD", "text"),
    ("text 4097 chars", {"text": LONG_TEXT}, "TEXT_TOO_LONG", "text"),
    (
        "promo text 4097 chars",
        {"message_type": "promo", "text": LONG_TEXT},
        "TEXT_TOO_LONG",
        "text",
    ),
    (
        "flashcall text 4097 chars",
        {"message_type": "flashcall", "text": LONG_TEXT},
        "TEXT_TOO_LONG",
        "text",
    ),
    # viber_survey
    (
        "survey text missing",
        {"message_type": "viber_survey", "text": None, "survey_options": ["a", "b"]},
        "MISSING_FIELD",
        "text",
    ),
    (
        "survey text 86 chars",
        {"message_type": "viber_survey", "text": "q" * 86, "survey_options": ["a", "b"]},
        "TEXT_TOO_LONG",
        "text",
    ),
    (
        "survey options missing",
        {"message_type": "viber_survey", "text": "Rate us"},
        "MISSING_FIELD",
        "surveyOptions",
    ),
    (
        "survey 0 options",
        {"message_type": "viber_survey", "text": "Rate us", "survey_options": []},
        "INVALID_SURVEY",
        "surveyOptions",
    ),
    (
        "survey 1 option",
        {"message_type": "viber_survey", "text": "Rate us", "survey_options": ["a"]},
        "INVALID_SURVEY",
        "surveyOptions",
    ),
    (
        "survey 6 options",
        {"message_type": "viber_survey", "text": "Rate us", "survey_options": list("abcdef")},
        "INVALID_SURVEY",
        "surveyOptions",
    ),
    (
        "survey empty option",
        {"message_type": "viber_survey", "text": "Rate us", "survey_options": ["a", ""]},
        "INVALID_SURVEY",
        "surveyOptions[1]",
    ),
    (
        "survey option 31 chars",
        {"message_type": "viber_survey", "text": "Rate us", "survey_options": ["a", "b", "o" * 31]},
        "INVALID_SURVEY",
        "surveyOptions[2]",
    ),
    # ttl
    ("ttl 0", {"ttl": 0}, "INVALID_TTL", "ttl"),
    ("ttl negative", {"ttl": -1}, "INVALID_TTL", "ttl"),
    ("ttl over 30 days", {"ttl": 2_592_001}, "INVALID_TTL", "ttl"),
    # scheduledSent / scheduledTime
    ("schedule garbage", {"scheduled_sent": "tomorrow"}, "INVALID_SCHEDULE", "scheduledSent"),
    ("schedule empty", {"scheduled_sent": ""}, "INVALID_SCHEDULE", "scheduledSent"),
    (
        "schedule 30 days + 1 s",
        {"scheduled_sent": iso(NOW_DT + timedelta(days=30, seconds=1))},
        "INVALID_SCHEDULE",
        "scheduledSent",
    ),
    (
        "schedule next year",
        {"scheduled_sent": "2027-01-01T00:00:00Z"},
        "INVALID_SCHEDULE",
        "scheduledSent",
    ),
    (
        "alias garbage",
        {"scheduled_time": "25/01/2026 10:00"},
        "INVALID_SCHEDULE",
        "scheduledTime",
    ),
    (
        "alias too far",
        {"scheduled_time": iso(NOW_DT.replace(tzinfo=None) + timedelta(days=31))},
        "INVALID_SCHEDULE",
        "scheduledTime",
    ),
    # fallback (flashcall only)
    (
        "fallback type survey",
        {
            "message_type": "flashcall",
            "text": None,
            "fallback": FallbackIn(message_type="viber_survey", text="x"),
        },
        "INVALID_FALLBACK",
        "fallback.messageType",
    ),
    (
        "fallback type flashcall",
        {
            "message_type": "flashcall",
            "text": None,
            "fallback": FallbackIn(message_type="flashcall", text="x"),
        },
        "INVALID_FALLBACK",
        "fallback.messageType",
    ),
    (
        "fallback type unknown",
        {
            "message_type": "flashcall",
            "text": None,
            "fallback": FallbackIn(message_type="sms", text="x"),
        },
        "INVALID_FALLBACK",
        "fallback.messageType",
    ),
    (
        "fallback text missing",
        {"message_type": "flashcall", "text": None, "fallback": FallbackIn(message_type="promo")},
        "MISSING_FIELD",
        "fallback.text",
    ),
    (
        "fallback text empty",
        {"message_type": "flashcall", "text": None, "fallback": FallbackIn(text="")},
        "MISSING_FIELD",
        "fallback.text",
    ),
    (
        "fallback text 4097 chars",
        {"message_type": "flashcall", "text": None, "fallback": FallbackIn(text=LONG_TEXT)},
        "TEXT_TOO_LONG",
        "fallback.text",
    ),
    (
        "fallback unknown variable",
        {"message_type": "flashcall", "text": None, "fallback": FallbackIn(text="Hi %name=9%")},
        "UNKNOWN_VARIABLE",
        "fallback.text",
    ),
    # NUL: valid in JSON, in no message, and PostgreSQL cannot store it
    ("id with NUL", {"id": "a\x00b"}, "INVALID_CHARACTER", "id"),
    ("fromName with NUL", {"from_name": "Sh\x00p"}, "INVALID_CHARACTER", "fromName"),
    ("text with NUL", {"text": "Hi\x00"}, "INVALID_CHARACTER", "text"),
    (
        "NUL through a variable",
        {"text": "Hi %name=1%", "variables": [VariableIn(1, "\x00")]},
        "INVALID_CHARACTER",
        "text",
    ),
    (
        "survey option with NUL",
        {"message_type": "viber_survey", "text": "Q", "survey_options": ["a", "b\x00"]},
        "INVALID_CHARACTER",
        "surveyOptions[1]",
    ),
    (
        "fallback text with NUL",
        {"message_type": "flashcall", "text": None, "fallback": FallbackIn(text="\x00")},
        "INVALID_CHARACTER",
        "fallback.text",
    ),
    # variables
    ("unknown variable", {"text": "Hi %name=1%"}, "UNKNOWN_VARIABLE", "text"),
    (
        "short_url not a URL",
        {"text": "Go %short_url=1%", "variables": [VariableIn(1, "example.com")]},
        "INVALID_URL",
        "text",
    ),
    (
        "variable type unknown",
        {"text": "Hi", "variables": [VariableIn(1, "x"), VariableIn(2, "y", "phone")]},
        "INVALID_VARIABLE",
        "variables[1].type",
    ),
    (
        "variable id not a number",
        {"text": "Hi", "variables": [VariableIn("one", "x")]},
        "INVALID_VARIABLE",
        "variables[0].id",
    ),
]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [pytest.param(f, c, fl, id=name) for name, f, c, fl in REJECTIONS],
)
def test_array_item_rejected(fields: dict[str, Any], code: str, field: str) -> None:
    err = rejected(item(**fields))
    assert (err.code, err.field) == (code, field)
    assert err.message


ENVELOPE_REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("recipient missing", {"text": "Hi"}, "MISSING_FIELD", "toPhone"),
    ("recipient invalid", {"recipient": "+0123456789", "text": "Hi"}, "INVALID_PHONE", "recipient"),
    (
        "toPhone invalid",
        {"to_phone": "380501234567", "text": "Hi"},
        "INVALID_PHONE",
        "toPhone",
    ),
    ("text missing", {"recipient": "+380501234567"}, "MISSING_FIELD", "text"),
    ("id empty", {"id": "", "recipient": "+380501234567", "text": "Hi"}, "INVALID_ID", "id"),
    (
        "fromName empty",
        {"from_name": "", "recipient": "+380501234567", "text": "Hi"},
        "INVALID_FROM_NAME",
        "fromName",
    ),
    (
        "type unknown",
        {"message_type": "viber", "recipient": "+380501234567", "text": "Hi"},
        "INVALID_MESSAGE_TYPE",
        "messageType",
    ),
]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [pytest.param(f, c, fl, id=name) for name, f, c, fl in ENVELOPE_REJECTIONS],
)
def test_envelope_item_rejected(fields: dict[str, Any], code: str, field: str) -> None:
    err = rejected(bare(**fields), "envelope")
    assert (err.code, err.field) == (code, field)


def test_position_prefix_is_added_by_at() -> None:
    err = rejected(item(to_phone="12345"))
    moved = err.at("[3]")
    assert (moved.code, moved.field) == ("INVALID_PHONE", "[3].toPhone")
    assert err.at("messages[0]").field == "messages[0].toPhone"


# --- limits that are allowed ----------------------------------------------------------------


@pytest.mark.parametrize("tracking_id", ["a", "i" * 255, "order-12345", "заказ №5"])
def test_id_lengths_allowed(tracking_id: str) -> None:
    assert ok(item(id=tracking_id)).tracking_id == tracking_id


@pytest.mark.parametrize("from_name", ["S", "F" * 28, "Магазин"])
def test_from_name_lengths_allowed(from_name: str) -> None:
    assert ok(item(from_name=from_name)).from_name == from_name


@pytest.mark.parametrize(
    "phone",
    [
        "+12345678",  # 8 digits, the minimum
        "+123456789012345",  # 15 digits, the maximum
        "+380501234567",
        "+14155552671",
        "+447911123456",
        "+380111111111",  # numbering plan says no; still accepted at intake (A4)
    ],
)
def test_phones_allowed(phone: str) -> None:
    assert ok(item(to_phone=phone)).phone == phone


def test_recipient_accepted_in_array_form() -> None:
    assert ok(item(to_phone=None, recipient="+380501234567")).phone == "+380501234567"


def test_to_phone_wins_over_recipient() -> None:
    draft = ok(item(to_phone="+380501234567", recipient="+447911123456"))
    assert draft.phone == "+380501234567"


@pytest.mark.parametrize("message_type", list(MessageType))
def test_every_message_type_accepted(message_type: MessageType) -> None:
    extra: dict[str, Any] = {}
    if message_type is MessageType.VIBER_SURVEY:
        extra = {"text": "Rate us", "survey_options": ["Good", "Bad"]}
    draft = ok(item(message_type=message_type.value, **extra))
    assert draft.message_type is message_type


@pytest.mark.parametrize(
    ("message_type", "ttl"),
    [("transaction", 86_400), ("promo", 259_200), ("viber_survey", 604_800), ("flashcall", 300)],
)
def test_default_ttl_by_type(message_type: str, ttl: int) -> None:
    draft = ok(item(message_type=message_type, text="Rate", survey_options=["a", "b"]))
    assert draft.ttl == ttl
    assert draft.expires_at_ms == NOW + ttl * 1000


@pytest.mark.parametrize("ttl", [1, 60, 2_592_000])
def test_ttl_bounds_allowed(ttl: int) -> None:
    draft = ok(item(ttl=ttl))
    assert draft.ttl == ttl
    assert draft.expires_at_ms == NOW + ttl * 1000


def test_explicit_ttl_beats_type_default() -> None:
    assert ok(item(message_type="flashcall", text=None, ttl=60)).ttl == 60


def test_text_of_4096_chars_allowed() -> None:
    assert ok(item(text="x" * 4096)).text == "x" * 4096


def test_text_limit_applies_after_substitution() -> None:
    variables = [VariableIn(1, "123456")]
    text = "x" * 4088 + "%name=1%"  # 4096 raw; 4094 rendered
    assert len(ok(item(text=text, variables=variables)).text or "") == 4094
    text = "x" * 4090 + "%name=1%"  # 4098 raw; 4096 rendered
    assert len(ok(item(text=text, variables=variables)).text or "") == 4096
    err = rejected(item(text="x" * 4091 + "%name=1%", variables=variables))  # 4097 rendered
    assert (err.code, err.field) == ("TEXT_TOO_LONG", "text")


def test_short_link_counts_towards_text_limit() -> None:
    link_len = len(f"{LINK_BASE}/s/code0001")
    variables = [VariableIn(1, "https://example.com/" + "p" * 10, "short_url")]
    fits = "x" * (4096 - link_len) + "%short_url=1%"
    assert len(ok(item(text=fits, variables=variables)).text or "") == 4096
    err = rejected(item(text="x" + fits, variables=variables))
    assert err.code == "TEXT_TOO_LONG"


def test_survey_limits_allowed() -> None:
    draft = ok(
        item(
            message_type="viber_survey",
            text="q" * 85,
            survey_options=["o" * 30, "b", "c", "d", "e"],
        )
    )
    assert draft.text == "q" * 85
    assert draft.survey_options == ("o" * 30, "b", "c", "d", "e")


def test_survey_text_limit_applies_after_substitution() -> None:
    fields = {"message_type": "viber_survey", "survey_options": ["Yes", "No"]}
    variables = [VariableIn(1, "ab")]
    assert ok(item(text="q" * 83 + "%name=1%", variables=variables, **fields)).text == (
        "q" * 83 + "ab"
    )
    err = rejected(item(text="q" * 84 + "%name=1%", variables=variables, **fields))
    assert (err.code, err.field) == ("TEXT_TOO_LONG", "text")


def test_survey_options_ignored_for_other_types() -> None:
    assert ok(item(survey_options=["only one"])).survey_options == ()


# --- flashcall ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, ""])
def test_flashcall_needs_no_text(text: str | None) -> None:
    draft = ok(item(message_type="flashcall", text=text))
    assert draft.text is None
    assert draft.fallback is None
    assert draft.ttl == 300


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (FallbackIn(message_type="transaction", text="Your code is 1234"), MessageType.TRANSACTION),
        (FallbackIn(message_type="promo", text="Your code is 1234"), MessageType.PROMO),
        (FallbackIn(text="Your code is 1234"), MessageType.TRANSACTION),
    ],
)
def test_flashcall_fallback(given: FallbackIn, expected: MessageType) -> None:
    draft = ok(item(message_type="flashcall", text=None, fallback=given))
    assert draft.fallback == Fallback(expected, "Your code is 1234")


def test_flashcall_fallback_is_rendered() -> None:
    draft = ok(
        item(
            message_type="flashcall",
            text=None,
            fallback=FallbackIn(text="Hi %name=1%"),
            variables=[VariableIn(1, "Ann", "name")],
        )
    )
    assert draft.fallback == Fallback(MessageType.TRANSACTION, "Hi Ann")


def test_fallback_ignored_for_other_types() -> None:
    draft = ok(item(fallback=FallbackIn(message_type="viber_survey", text=None)))
    assert draft.fallback is None


def test_text_and_fallback_share_one_link_per_target() -> None:
    draft = ok(
        item(
            message_type="flashcall",
            text="Open %short_url=1%",
            fallback=FallbackIn(text="Or open %short_url=1% now"),
            variables=[VariableIn(1, "https://shop.example/o/1", "short_url")],
        )
    )
    assert draft.short_links == (ShortLink("code0001", "https://shop.example/o/1"),)
    assert draft.text == f"Open {LINK_BASE}/s/code0001"
    assert draft.fallback is not None
    assert draft.fallback.text == f"Or open {LINK_BASE}/s/code0001 now"


# --- the envelope form --------------------------------------------------------------------


def test_envelope_defaults() -> None:
    draft = ok(bare(recipient="+380501234567", text="Hello"), "envelope")
    assert draft.tracking_id is None
    assert draft.from_name == "AcmeDefault"
    assert draft.message_type is MessageType.TRANSACTION
    assert draft.ttl == 86_400
    assert draft.phone == "+380501234567"
    assert draft.due_at_ms == NOW
    assert draft.expires_at_ms == NOW + 86_400_000


def test_envelope_seed_example_renders_inline_variables() -> None:
    draft = ok(
        bare(
            recipient="+380501234567",
            text="Hello %name=1%, your order #%url=2% is ready!",
            variables=[VariableIn(1, "John"), VariableIn(2, "12345")],
        ),
        "envelope",
    )
    assert draft.text == "Hello John, your order #12345 is ready!"
    assert draft.short_links == ()


def test_envelope_keeps_given_fields() -> None:
    draft = ok(
        bare(
            id="env-1",
            from_name="Shop",
            to_phone="+447911123456",
            message_type="promo",
            text="Sale",
            ttl=100,
        ),
        "envelope",
    )
    assert (draft.tracking_id, draft.from_name, draft.phone) == ("env-1", "Shop", "+447911123456")
    assert (draft.message_type, draft.ttl) == (MessageType.PROMO, 100)


def test_envelope_flashcall_without_text() -> None:
    draft = ok(bare(recipient="+380501234567", message_type="flashcall"), "envelope")
    assert draft.text is None
    assert draft.ttl == 300


# --- variables through validate ------------------------------------------------------------


def test_account_variables_used_when_not_inline() -> None:
    draft = ok(
        item(text="Hi %name=1%, see %url=2%", variables=[VariableIn(2, "inline")]),
        account={("name", 1): "Acct", ("url", 2): "acct-url"},
    )
    assert draft.text == "Hi Acct, see inline"


def test_short_link_collected_in_draft() -> None:
    draft = ok(
        item(
            text="A %short_url=1% B %short_url=2% C %short_url=1%",
            variables=[
                VariableIn(1, "https://a.example/x", "short_url"),
                VariableIn(2, "https://b.example/y", "short_url"),
            ],
        )
    )
    assert draft.text == (
        f"A {LINK_BASE}/s/code0001 B {LINK_BASE}/s/code0002 C {LINK_BASE}/s/code0001"
    )
    assert draft.short_links == (
        ShortLink("code0001", "https://a.example/x"),
        ShortLink("code0002", "https://b.example/y"),
    )


def test_each_validation_gets_its_own_links() -> None:
    """A link belongs to one message: two messages with the same target get two codes."""
    ctx = context()
    raw = item(text="%short_url=1%", variables=[VariableIn(1, "https://a.example", "short_url")])
    first = validate(raw, FINGERPRINT, ctx)
    second = validate(raw, FINGERPRINT, ctx)
    assert first.short_links[0].code != second.short_links[0].code
    assert first.text != second.text


# --- scheduling -----------------------------------------------------------------------------

SCHEDULES: list[tuple[str, str, int]] = [
    ("Z suffix", "2026-01-25T10:00:00Z", (24 * DAY_MS) + 10 * 3_600_000),
    ("UTC offset", "2026-01-25T10:00:00+00:00", (24 * DAY_MS) + 10 * 3_600_000),
    ("positive offset", "2026-01-25T12:00:00+02:00", (24 * DAY_MS) + 10 * 3_600_000),
    ("negative offset", "2026-01-25T05:00:00-05:00", (24 * DAY_MS) + 10 * 3_600_000),
    ("naive is UTC", "2026-01-25T10:00:00", (24 * DAY_MS) + 10 * 3_600_000),
    ("naive isoformat with microseconds", "2026-01-01T01:00:00.250000", 3_600_250),
    ("aware isoformat with microseconds", "2026-01-01T01:00:00.250000+00:00", 3_600_250),
    ("milliseconds", "2026-01-01T00:00:01.500Z", 1_500),
    ("minutes only", "2026-01-01T00:30", 1_800_000),
    ("space separator", "2026-01-01 00:00:05", 5_000),
    ("exactly now", "2026-01-01T00:00:00Z", 0),
    ("exactly 30 days", "2026-01-31T00:00:00Z", 30 * DAY_MS),
    ("past", "2025-12-31T23:00:00Z", -3_600_000),
    ("long past", "2020-01-01T00:00:00", -(6 * 365 + 2) * DAY_MS),
]


@pytest.mark.parametrize(
    ("value", "offset_ms"), [pytest.param(v, o, id=name) for name, v, o in SCHEDULES]
)
def test_parse_schedule(value: str, offset_ms: int) -> None:
    assert parse_schedule(value, NOW) == NOW + offset_ms


def test_parse_schedule_python_client_isoformat() -> None:
    """The seed's Python client sends `datetime.isoformat()` of a naive datetime."""
    moment = datetime(2026, 1, 10, 9, 30, 15, 123456)
    expected = NOW + 9 * DAY_MS + (9 * 3600 + 30 * 60 + 15) * 1000 + 123
    assert abs(parse_schedule(moment.isoformat(), NOW) - expected) <= 1
    aware = moment.replace(tzinfo=timezone(timedelta(hours=3)))
    assert abs(parse_schedule(aware.isoformat(), NOW) - (expected - 3 * 3_600_000)) <= 1


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "",
        "2026-13-01T00:00:00Z",
        "2026-01-32T00:00:00",
        "2026-01-01T25:00:00",
        "01/25/2026 10:00",
        "1767225600",
        iso(NOW_DT + timedelta(days=30, milliseconds=1)),
        iso(NOW_DT + timedelta(days=365)),
    ],
)
def test_parse_schedule_rejects(value: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_schedule(value, NOW)
    assert caught.value.code == "INVALID_SCHEDULE"


def test_future_schedule_sets_due_and_expiry() -> None:
    at = NOW + 2 * DAY_MS
    draft = ok(item(scheduled_sent="2026-01-03T00:00:00Z", ttl=3600))
    assert draft.scheduled_at_ms == at
    assert draft.due_at_ms == at
    assert draft.expires_at_ms == at + 3_600_000


def test_past_schedule_is_due_now() -> None:
    draft = ok(item(scheduled_sent="2025-12-01T00:00:00Z", ttl=60))
    assert draft.due_at_ms == NOW
    assert draft.expires_at_ms == NOW + 60_000


def test_naive_schedule_is_utc_in_validate() -> None:
    draft = ok(item(scheduled_sent=iso(datetime(2026, 1, 2, 12, 0, 0, 500000))))
    assert draft.scheduled_at_ms == NOW + DAY_MS + 12 * 3_600_000 + 500


def test_schedule_30_days_ahead_allowed() -> None:
    draft = ok(item(scheduled_sent=iso(NOW_DT + timedelta(days=30))))
    assert draft.due_at_ms == NOW + 30 * DAY_MS


def test_scheduled_time_alias() -> None:
    draft = ok(item(scheduled_time="2026-01-02T00:00:00+00:00"))
    assert draft.scheduled_at_ms == NOW + DAY_MS
    assert draft.due_at_ms == NOW + DAY_MS


def test_no_schedule_is_due_now() -> None:
    draft = ok(item())
    assert draft.scheduled_at_ms is None
    assert draft.due_at_ms == NOW
