"""D3's rules, one message at a time (`cascade.api.bat.validate`): every type and every
accepted spelling becomes its explicit plan; every bad input is rejected with its code
and field. Checked against channels that carry every kind, so that what is tested is the
contract's reading, not what a channel carries today (the intake's 1006 for that is
tested here too, with a channel that carries less)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cascade.api.bat.errors import Code, Rejected
from cascade.api.bat.validate import Checked, Rules, validate
from cascade.api.bat.wire import MessageIn
from cascade.domain.content import ActionKind, ContentKind, MediaKind
from cascade.domain.templates import OTP_TEMPLATES

NOW = 1_767_225_600_000
EVERYTHING = frozenset(ContentKind)
CARRIES = dict.fromkeys(("sms", "viber_business", "rcs", "flashcall"), EVERYTHING)
OTP = next(t for t in OTP_TEMPLATES.values() if t.name == "code_with_validity")


def parts(channel: str, content: Any) -> int:
    return max(1, -(-len(content.text or "") // 153)) if channel == "sms" else 1


RULES = Rules(NOW, CARRIES, parts)


def check(message: dict[str, Any], rules: Rules = RULES) -> Checked:
    return validate(msgspec.json.decode(msgspec.json.encode(message), type=MessageIn), rules)


def rejected(message: dict[str, Any], code: Code, field: str, rules: Rules = RULES) -> None:
    with pytest.raises(Rejected) as caught:
        check(message, rules)
    assert (caught.value.code, caught.value.field) == (code, field), caught.value.message


def base(kind: str, **fields: object) -> dict[str, Any]:
    message: dict[str, Any] = {"from": "Shop", "to": "380501234567", "type": kind}
    message.update(fields)
    return message


# --- the common fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("to", "380501234567"),
        ("to", "+380501234567"),
        ("recipient", "+380501234567"),
        ("to", 380501234567),
    ],
)
def test_recipient_spellings(key: str, value: object) -> None:
    message = {"from": "Shop", "type": "sms", "text": "Hi", key: value}
    assert check(message).phone == "+380501234567"


@pytest.mark.parametrize("ttl", [90, "90", 90.0])
def test_ttl_as_integer_or_digits(ttl: object) -> None:
    checked = check(base("sms", text="Hi", ttl=ttl))
    assert checked.ttl == 90
    assert checked.expires_at_ms == NOW + 90_000


@pytest.mark.parametrize("ttl", ["abc", -1, 0, 2_592_001, "2592001", 1.5])
def test_bad_ttl(ttl: object) -> None:
    rejected(base("sms", text="Hi", ttl=ttl), Code.INVALID_SCHEDULE, "ttl")


@pytest.mark.parametrize(
    ("kind", "ttl"),
    [("sms", 86_400), ("viber_promo", 259_200), ("viber_survey", 604_800), ("flashcall", 300)],
)
def test_default_ttl_by_type(kind: str, ttl: int) -> None:
    message = base(kind, text="Hi")
    if kind == "viber_survey":
        message["messageData"] = {"options": ["Yes", "No"]}
    assert check(message).ttl == ttl


@pytest.mark.parametrize("key", ["scheduledSent", "sheduledSent", "scheduledTime"])
def test_schedule_spellings(key: str) -> None:
    checked = check(base("sms", text="Hi", **{key: "2026-01-02T00:00:00"}))
    assert checked.scheduled_at_ms == NOW + 86_400_000
    assert checked.due_at_ms == NOW + 86_400_000


@pytest.mark.parametrize("key", ["scheduledSent", "sheduledSent", "scheduledTime"])
def test_bad_schedule(key: str) -> None:
    rejected(base("sms", text="Hi", **{key: "tomorrow"}), Code.INVALID_SCHEDULE, key)
    rejected(base("sms", text="Hi", **{key: "2026-03-01T00:00:00Z"}), Code.INVALID_SCHEDULE, key)


@pytest.mark.parametrize("to", ["38050abc4567", "+1234567", "+1234567890123456", ""])
def test_bad_phone(to: str) -> None:
    rejected(base("sms", text="Hi", to=to), Code.INVALID_PHONE, "to")


def test_bad_recipient_names_its_spelling() -> None:
    rejected(
        {"from": "S", "type": "sms", "text": "x", "recipient": "12"},
        Code.INVALID_PHONE,
        "recipient",
    )


@pytest.mark.parametrize("field", ["from", "to", "type"])
def test_required_fields(field: str) -> None:
    message = base("sms", text="Hi")
    del message[field]
    rejected(message, Code.MISSING_FIELD, field)


def test_unknown_type() -> None:
    rejected(base("telegram", text="Hi"), Code.UNKNOWN_TYPE, "type")


def test_from_longer_than_viber_allows() -> None:
    rejected(base("sms", text="Hi", **{"from": "x" * 29}), Code.INVALID_FORMAT, "from")
    assert check(base("sms", text="Hi", **{"from": "x" * 28})).from_name == "x" * 28


@pytest.mark.parametrize("kind", ["sms", "viber_promo", "viber_trans", "viber_survey", "rcs"])
def test_text_required(kind: str) -> None:
    rejected(base(kind, messageData={"options": ["a", "b"]}), Code.MISSING_FIELD, "text")


@pytest.mark.parametrize(
    ("kind", "limit"),
    [("viber_promo", 1000), ("viber_trans", 1000), ("viber_survey", 85), ("rcs", 3072)],
)
def test_text_limits(kind: str, limit: int) -> None:
    data = {"options": ["a", "b"]}
    assert check(base(kind, text="x" * limit, messageData=data)).plan[0].content.text == "x" * limit
    rejected(base(kind, text="x" * (limit + 1), messageData=data), Code.TEXT_TOO_LONG, "text")


def test_sms_any_length_counted_in_parts_up_to_the_limit() -> None:
    assert check(base("sms", text="x" * 1530)).parts == 10
    rejected(base("sms", text="x" * 1531), Code.TEXT_TOO_LONG, "text")


# --- each type's messageData ------------------------------------------------------------


@pytest.mark.parametrize("key", ["image", "img"])
@pytest.mark.parametrize(
    "button",
    [
        {"buttonText": "Buy", "buttonAction": "https://shop.example/b"},
        {"button": {"text": "Buy", "url": "https://shop.example/b"}},
    ],
)
def test_viber_promo_image_and_button(key: str, button: dict[str, Any]) -> None:
    data = {key: "https://shop.example/i.png", **button}
    [step] = check(base("viber_promo", text="Sale", messageData=data)).plan
    assert step.channel == "viber_business"
    assert step.wire_type == "viber_promo"
    content = step.content
    assert content.media is not None
    assert content.media.kind is MediaKind.IMAGE
    assert content.media.url == "https://shop.example/i.png"
    assert content.url_button() == ("Buy", "https://shop.example/b")


def test_viber_promo_video() -> None:
    data = {
        "video": "https://v.example/a.mp4",
        "thumbnail": "https://v.example/a.jpg",
        "fileSize": 1000,
        "duration": 12,
    }
    media = check(base("viber_promo", text="Watch", messageData=data)).plan[0].content.media
    assert media is not None
    assert media.kind is MediaKind.VIDEO
    assert (media.thumbnail_url, media.size_bytes, media.duration_s) == (
        "https://v.example/a.jpg",
        1000,
        12,
    )


def test_viber_promo_video_needs_thumbnail() -> None:
    data = {"video": "https://v.example/a.mp4"}
    rejected(
        base("viber_promo", text="W", messageData=data),
        Code.INVALID_CONTENT,
        "messageData.thumbnail",
    )


@pytest.mark.parametrize("url", ["ftp://x.example/i.png", "javascript:alert(1)", "/i.png"])
def test_image_url_must_be_http(url: str) -> None:
    rejected(
        base("viber_promo", text="S", messageData={"image": url}),
        Code.INVALID_CONTENT,
        "messageData.image",
    )


def test_button_without_its_url() -> None:
    rejected(
        base("viber_promo", text="S", messageData={"buttonText": "Buy"}),
        Code.INVALID_CONTENT,
        "messageData.buttonAction",
    )
    rejected(
        base("viber_promo", text="S", messageData={"button": {"text": "Buy"}}),
        Code.INVALID_CONTENT,
        "messageData.button.url",
    )


def test_viber_trans_with_a_file() -> None:
    data = {
        "fileUrl": "https://docs.example/invoice.pdf",
        "fileName": "invoice.pdf",
        "fileType": "pdf",
    }
    media = check(base("viber_trans", text="Your invoice", messageData=data)).plan[0].content.media
    assert media is not None
    assert media.kind is MediaKind.FILE
    assert (media.file_name, media.file_type) == ("invoice.pdf", "pdf")


def test_viber_trans_file_type_from_its_name_and_refused_when_unknown() -> None:
    data = {"fileUrl": "https://docs.example/report.xlsx"}
    media = check(base("viber_trans", text="R", messageData=data)).plan[0].content.media
    assert media is not None
    assert media.file_type == "xlsx"
    data = {"fileUrl": "https://docs.example/a.exe"}
    rejected(
        base("viber_trans", text="R", messageData=data),
        Code.INVALID_CONTENT,
        "messageData.fileType",
    )


def test_viber_otp_template() -> None:
    params = {"pin": "1234", "business_platform_name": "Shop", "code_validity_time": 5}
    data = {"templateId": OTP.id, "templateLang": "en", "templateParams": params}
    content = check(base("viber_otp", messageData=data)).plan[0].content
    assert content.template is not None
    assert content.template.id == OTP.id
    assert content.template.params["code_validity_time"] == "5"
    assert content.text is None


def test_viber_otp_unknown_template() -> None:
    data = {"templateId": "00000000-0000-4000-8000-000000000000", "templateParams": {"pin": "1"}}
    rejected(base("viber_otp", messageData=data), Code.INVALID_CONTENT, "messageData.templateId")


def test_viber_otp_missing_parameter() -> None:
    data = {
        "templateId": OTP.id,
        "templateParams": {"pin": "1234", "business_platform_name": "Shop"},
    }
    rejected(
        base("viber_otp", messageData=data),
        Code.MISSING_FIELD,
        "messageData.templateParams.code_validity_time",
    )


@pytest.mark.parametrize(
    "data",
    [
        {"survey": {"options": ["Yes", "No"]}},
        {"options": ["Yes", "No"]},
        {"surveyOptions": ["Yes", "No"]},
    ],
)
def test_survey_spellings(data: dict[str, Any]) -> None:
    assert check(base("viber_survey", text="Happy?", messageData=data)).plan[0].content.survey == (
        "Yes",
        "No",
    )


@pytest.mark.parametrize("options", [["one"], ["1", "2", "3", "4", "5", "6"]])
def test_survey_option_count(options: list[str]) -> None:
    rejected(
        base("viber_survey", text="Q", messageData={"options": options}),
        Code.INVALID_CONTENT,
        "messageData.options",
    )


def test_survey_option_length() -> None:
    data = {"options": ["ok", "x" * 31]}
    rejected(
        base("viber_survey", text="Q", messageData=data),
        Code.INVALID_CONTENT,
        "messageData.options[1]",
    )


def item(n: int) -> dict[str, Any]:
    return {
        "title": f"Item {n}",
        "imageUrl": f"https://shop.example/{n}.png",
        "primaryButton": {"label": "Buy", "actionUrl": f"https://shop.example/{n}"},
    }


@pytest.mark.parametrize("kind", ["viber_carousel", "viber_promo"])
def test_viber_carousel(kind: str) -> None:
    data = {"carousel": {"items": [item(1), item(2)]}}
    step = check(base(kind, text="Pick", messageData=data)).plan[0]
    assert len(step.content.carousel) == 2
    assert step.content.carousel[0].buttons[0].action.url == "https://shop.example/1"


def test_viber_carousel_needs_no_text() -> None:
    assert check(
        base("viber_carousel", messageData={"carousel": {"items": [item(1), item(2)]}})
    ).plan


@pytest.mark.parametrize("count", [1, 6])
def test_viber_carousel_item_count(count: int) -> None:
    data = {"carousel": {"items": [item(n) for n in range(count)]}}
    rejected(
        base("viber_carousel", messageData=data), Code.INVALID_CONTENT, "messageData.carousel.items"
    )


def test_viber_carousel_button_needs_its_url() -> None:
    items = [item(1), {**item(2), "primaryButton": {"label": "Buy"}}]
    rejected(
        base("viber_carousel", messageData={"carousel": {"items": items}}),
        Code.INVALID_CONTENT,
        "messageData.carousel.items[1].primaryButton.actionUrl",
    )


def rcs_button(kind: str = "openUrl", **action: object) -> dict[str, Any]:
    return {"text": "Go", "action": {"type": kind, **action}}


def test_rcs_rich_card_with_actions() -> None:
    data = {
        "media": {"url": "https://r.example/a.png", "type": "image", "height": "medium"},
        "buttons": [
            rcs_button(url="https://r.example"),
            rcs_button("dial", phoneNumber="+380501234567"),
            rcs_button("shareLocation"),
            rcs_button(
                "createCalendarEvent",
                title="Visit",
                startTime="2026-01-02T10:00:00Z",
                endTime="2026-01-02T11:00:00Z",
            ),
        ],
    }
    content = check(base("rcs", text="Card", messageData=data)).plan[0].content
    assert content.media is not None
    assert content.media.height == "MEDIUM"
    assert [b.action.kind for b in content.buttons] == [
        ActionKind.OPEN_URL,
        ActionKind.DIAL,
        ActionKind.SHARE_LOCATION,
        ActionKind.CREATE_CALENDAR_EVENT,
    ]


def test_rcs_card_holds_four_buttons() -> None:
    data = {
        "media": {"url": "https://r.example/a.png"},
        "buttons": [rcs_button(url="https://r.example")] * 5,
    }
    rejected(base("rcs", text="C", messageData=data), Code.INVALID_CONTENT, "messageData.buttons")


def test_rcs_chips_up_to_eleven() -> None:
    chips = [rcs_button("reply")] * 11
    assert (
        len(
            check(base("rcs", text="Pick", messageData={"buttons": chips}))
            .plan[0]
            .content.suggestions
        )
        == 11
    )
    rejected(
        base("rcs", text="Pick", messageData={"buttons": chips + chips[:1]}),
        Code.INVALID_CONTENT,
        "messageData.buttons",
    )


def card(n: int) -> dict[str, Any]:
    return {
        "title": f"Card {n}",
        "description": "d",
        "media": {"url": f"https://r.example/{n}.png"},
    }


def test_rcs_carousel() -> None:
    content = (
        check(
            base(
                "rcs",
                text="Pick",
                messageData={"carousel": {"cards": [card(n) for n in range(10)]}},
            )
        )
        .plan[0]
        .content
    )
    assert len(content.carousel) == 10


@pytest.mark.parametrize("count", [1, 11])
def test_rcs_carousel_card_count(count: int) -> None:
    data = {"carousel": {"cards": [card(n) for n in range(count)]}}
    rejected(
        base("rcs", text="P", messageData=data), Code.INVALID_CONTENT, "messageData.carousel.cards"
    )


def test_rcs_dial_needs_a_phone() -> None:
    data = {"buttons": [rcs_button("dial")]}
    rejected(
        base("rcs", text="Call", messageData=data),
        Code.INVALID_CONTENT,
        "messageData.buttons[0].action.phoneNumber",
    )


def test_flashcall() -> None:
    [step] = check(base("flashcall", messageData={"callerId": "380441234567"})).plan
    assert step.channel == "flashcall"
    assert step.content.caller_id == "+380441234567"
    assert check(base("flashcall")).plan[0].content.caller_id is None


# --- fallbacks ----------------------------------------------------------------------------


def test_fallback_object_and_array() -> None:
    one = check(base("viber_trans", text="Hi", fallback={"type": "sms", "text": "Hi by SMS"}))
    assert [(s.channel, s.content.text) for s in one.plan] == [
        ("viber_business", "Hi"),
        ("sms", "Hi by SMS"),
    ]
    many = check(
        base(
            "rcs",
            text="Hi",
            fallback=[{"type": "viber_trans", "text": "V"}, {"type": "sms", "text": "S"}],
        )
    )
    assert [s.wire_type for s in many.plan] == ["rcs", "viber_trans", "sms"]


def test_fallback_unknown_type() -> None:
    rejected(
        base("sms", text="Hi", fallback={"type": "pigeon", "text": "x"}),
        Code.INVALID_FALLBACK,
        "fallback.type",
    )
    rejected(
        base("sms", text="Hi", fallback=[{"type": "sms", "text": "x"}, {"type": "pigeon"}]),
        Code.INVALID_FALLBACK,
        "fallback[1].type",
    )


def test_fallback_needs_its_text() -> None:
    rejected(
        base("viber_trans", text="Hi", fallback={"type": "sms"}),
        Code.INVALID_FALLBACK,
        "fallback.text",
    )


def test_fallback_degraded_to_what_its_channel_carries() -> None:
    rules = Rules(NOW, {**CARRIES, "sms": frozenset({ContentKind.TEXT})}, parts)
    data = {"options": ["Yes", "No"]}
    checked = check(
        base(
            "viber_trans",
            text="Hi",
            fallback={"type": "viber_survey", "text": "Q?", "messageData": data},
        ),
        rules,
    )
    assert checked.plan[1].content.survey == ("Yes", "No")


def test_primary_content_its_channel_cannot_carry() -> None:
    rules = Rules(NOW, {**CARRIES, "viber_business": frozenset({ContentKind.TEXT})}, parts)
    rejected(
        base("viber_promo", text="S", messageData={"image": "https://x.example/i.png"}),
        Code.INVALID_CONTENT,
        "messageData",
        rules,
    )


# --- a NUL anywhere ---------------------------------------------------------------------------

NUL_BASES: list[dict[str, Any]] = [
    base(
        "viber_promo",
        text="Sale",
        customerMessageId="c-1",
        callbackUrl="https://cb.example/h",
        messageData={
            "image": "https://shop.example/i.png",
            "buttonText": "Buy",
            "buttonAction": "https://shop.example/b",
        },
        fallback={"type": "sms", "text": "Hi by SMS"},
    ),
    base(
        "viber_trans",
        text="Inv",
        messageData={"fileUrl": "https://d.example/i.pdf", "fileName": "i.pdf", "fileType": "pdf"},
    ),
    base(
        "viber_otp",
        messageData={
            "templateId": OTP.id,
            "templateLang": "en",
            "templateParams": {
                "pin": "1234",
                "business_platform_name": "Shop",
                "code_validity_time": 5,
            },
        },
    ),
    base("viber_survey", text="Happy?", messageData={"options": ["Yes", "No"]}),
    base("viber_carousel", messageData={"carousel": {"items": [item(1), item(2)]}}),
    base(
        "rcs",
        text="Card",
        messageData={
            "media": {"url": "https://r.example/a.png", "type": "image", "height": "medium"},
            "buttons": [
                rcs_button(url="https://r.example"),
                rcs_button("dial", phoneNumber="+380501234567"),
                rcs_button(
                    "createCalendarEvent",
                    title="Visit",
                    description="At ours",
                    startTime="2026-01-02T10:00:00Z",
                    endTime="2026-01-02T11:00:00Z",
                ),
            ],
        },
    ),
    base("flashcall", messageData={"callerId": "380441234567"}),
    base("sms", text="Hi", scheduledAt="2026-01-02T00:00:00"),
]


def _with_nul_at_each_string(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every copy of `value` with a NUL put into one of its strings (keys included)."""
    if isinstance(value, str):
        return [(path, value[:1] + "\x00" + value[1:])]
    if isinstance(value, list):
        return [
            (where, [*value[:i], changed, *value[i + 1 :]])
            for i, element in enumerate(value)
            for where, changed in _with_nul_at_each_string(element, f"{path}[{i}]")
        ]
    if isinstance(value, dict):
        found: list[tuple[str, Any]] = []
        for key, element in value.items():
            for where, changed in _with_nul_at_each_string(element, f"{path}.{key}"):
                found.append((where, {**value, key: changed}))
        return found
    return []


def test_a_nul_in_any_string_of_a_send_is_rejected_or_kept_out_of_the_plan() -> None:
    """PostgreSQL's text cannot hold a NUL: one in any field is refused with D6's error,
    never let into what would be stored."""
    let_through: list[str] = []
    for message in NUL_BASES:
        assert check(message).plan  # valid as it is
        for where, changed in _with_nul_at_each_string(message):
            try:
                checked = check(changed)
            except Rejected:
                continue
            if "\\x00" in repr(checked):  # repr escapes it
                let_through.append(f"{message['type']}{where}")
    assert let_through == []
