"""RBM rich content: the exact `AgentMessage` the RCS channel sends for each content kind
(text with chips, a standalone card with an image or a video, a carousel, every suggested
action and reply), and each of RBM's limits refused before anything is sent; against the
mocked transport of tests/test_channel_rcs.py."""

from __future__ import annotations

from typing import Any

import pytest

from cascade.channels.rcs import LIMITS, survey_postback
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Card,
    Content,
    ContentKind,
    Media,
    MediaKind,
    Template,
)
from cascade.domain.sending import Failed, Outbound, Sent
from tests import channel_cases as cases
from tests.outbound import outbound_to
from tests.test_channel_rcs import ATTEMPT, MESSAGE, PHONE, RBM, SENDER, check, create, send

EXPIRES = "2026-01-01T01:00:00.000Z"  # the clock's now + the default 3600 s TTL
EVENT_START, EVENT_END = "2026-03-01T10:00:00+02:00", "2026-03-01T11:00:00+02:00"
IMAGE, VIDEO, THUMB = "https://cdn.test/a.jpg", "https://cdn.test/v.mp4", "https://cdn.test/t.jpg"


def step(content: Content, message_type: str = "transaction") -> Outbound:
    return outbound_to(
        PHONE, SENDER, attempt_id=ATTEMPT, message_id=MESSAGE, content=content,
        message_type=message_type,
    )  # fmt: skip


def link(text: str, url: str = "https://shop.test/s") -> Button:
    return Button(text, Action(ActionKind.OPEN_URL, url=url))


def dial(text: str = "Call us", phone: str | None = "+380441234567") -> Button:
    return Button(text, Action(ActionKind.DIAL, phone=phone))


def reply(text: str) -> Button:
    return Button(text, Action(ActionKind.REPLY))


def event(text: str = "Add to calendar", **change: Any) -> Button:
    fields = {"title": "Sale", "description": "Spring sale", "start": EVENT_START,
              "end": EVENT_END, **change}  # fmt: skip
    return Button(text, Action(ActionKind.CREATE_CALENDAR_EVENT, **fields))


WHERE = Button("Share location", Action(ActionKind.SHARE_LOCATION))


def image(height: str | None = None, width: str | None = None, url: str = IMAGE) -> Media:
    return Media(MediaKind.IMAGE, url, height=height, width=width)


# --- the JSON RBM gets ---------------------------------------------------------------------------


def action(text: str, kind: str, **target: Any) -> dict[str, Any]:
    postback = {"openUrlAction": "cascade-open", "dialAction": "cascade-dial",
                "shareLocationAction": "cascade-location",
                "createCalendarEventAction": "cascade-event"}[kind]  # fmt: skip
    return {"action": {"text": text, "postbackData": f"{postback}|{MESSAGE}", kind: target}}


def reply_json(text: str, answer: str | None = None) -> dict[str, Any]:
    return {"reply": {"text": text, "postbackData": survey_postback(MESSAGE, answer or text)}}


OPEN = action("Shop now", "openUrlAction", url="https://shop.test/s")
CALL = action("Call us", "dialAction", phoneNumber="+380441234567")
SHARE = action("Share location", "shareLocationAction")
EVENT = action(
    "Add to calendar", "createCalendarEventAction",
    startTime=EVENT_START, endTime=EVENT_END, title="Sale", description="Spring sale",
)  # fmt: skip


def media_json(url: str = IMAGE, height: str = "MEDIUM", **info: str) -> dict[str, Any]:
    return {"height": height, "contentInfo": {"fileUrl": url, **info}}


def standalone(**card: Any) -> dict[str, Any]:
    return {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": card}}


def carousel(width: str, *cards: dict[str, Any]) -> dict[str, Any]:
    return {"carouselCard": {"cardWidth": width, "cardContents": list(cards)}}


def body(traffic: str = "TRANSACTION", **content: Any) -> dict[str, Any]:
    return {"contentMessage": content, "messageTrafficType": traffic, "expireTime": EXPIRES}


def sent(label: str, content: Content, expected: dict[str, Any], **kw: Any) -> cases.HttpCase:
    return send(label, step(content, **kw), [check(), create(body=expected)], Sent(ATTEMPT))


def refused(label: str, content: Content, reason: str) -> cases.HttpCase:
    """Content RBM would refuse: the channel says why, and nothing reaches RBM."""
    return send(label, step(content), [], Failed(reason))


SHOES = Card("Shoes", "Leather", image(), (link("Shop now"),))
BAGS = Card("Bags", None, image(url="https://cdn.test/b.jpg"), (dial(), WHERE))
SHOES_JSON = {"title": "Shoes", "description": "Leather", "media": media_json(),
              "suggestions": [OPEN]}  # fmt: skip
BAGS_JSON = {"title": "Bags", "media": media_json("https://cdn.test/b.jpg"),
             "suggestions": [CALL, SHARE]}  # fmt: skip


def cards(n: int, **change: Any) -> tuple[Card, ...]:
    return tuple(Card(title=f"Card {i}", **change) for i in range(n))


CASES = [
    # --- each kind, its JSON whole
    sent(
        "text with every kind of chip",
        Content(
            text="Pick one", suggestions=(reply("Yes"), link("Shop now"), dial(), WHERE, event())
        ),
        body(text="Pick one", suggestions=[reply_json("Yes"), OPEN, CALL, SHARE, EVENT]),
    ),
    sent(
        "a standalone card: image, height, thumbnail, its buttons; chips under it",
        Content(
            text="Spring sale",
            media=Media(MediaKind.IMAGE, IMAGE, thumbnail_url=THUMB, height="TALL"),
            buttons=(link("Shop now"), event()),
            suggestions=(reply("Not now"),),
        ),
        body(
            "PROMOTION",
            richCard=standalone(
                description="Spring sale",
                media=media_json(height="TALL", thumbnailUrl=THUMB),
                suggestions=[OPEN, EVENT],
            ),
            suggestions=[reply_json("Not now")],
        ),
        message_type="promo",
    ),
    sent(
        "a standalone card with a video",
        Content(
            text="Watch", media=Media(MediaKind.VIDEO, VIDEO, thumbnail_url=THUMB, height="SHORT")
        ),
        body(
            richCard=standalone(
                description="Watch", media=media_json(VIDEO, "SHORT", thumbnailUrl=THUMB)
            )
        ),
    ),
    sent(
        "a card with buttons and no media",
        Content(text="Call or come by", buttons=(dial(), WHERE)),
        body(richCard=standalone(description="Call or come by", suggestions=[CALL, SHARE])),
    ),
    sent(
        "a carousel: the text leads the first card, the width from the media",
        Content(
            text="New in",
            carousel=(
                Card("Shoes", "Leather", image("SHORT", "SMALL"), (link("Shop now"),)),
                Card(
                    "Bags",
                    None,
                    image("MEDIUM", "SMALL", "https://cdn.test/b.jpg"),
                    (dial(), WHERE),
                ),
            ),
            suggestions=(reply("More"),),
        ),
        body(
            richCard=carousel(
                "SMALL",
                {
                    **SHOES_JSON,
                    "description": "New in\n\nLeather",
                    "media": media_json(height="SHORT"),
                },
                {**BAGS_JSON, "media": media_json("https://cdn.test/b.jpg")},
            ),
            suggestions=[reply_json("More")],
        ),
    ),
    sent(
        "a carousel without text, MEDIUM by default",
        Content(carousel=(SHOES, BAGS)),
        body(richCard=carousel("MEDIUM", SHOES_JSON, BAGS_JSON)),
    ),
    sent(
        "a carousel's first card without a description takes the text",
        Content(text="New in", carousel=(BAGS, SHOES)),
        body(richCard=carousel("MEDIUM", {**BAGS_JSON, "description": "New in"}, SHOES_JSON)),
    ),
    sent(
        "survey options are replies, then the chips",
        Content(text="Rate us", survey=("Good", "Bad"), suggestions=(link("Shop now"),)),
        body(text="Rate us", suggestions=[reply_json("Good"), reply_json("Bad"), OPEN]),
    ),
    sent(
        "a long label is cut as the chip shows it; the reply carries it whole",
        Content(text="Rate us", suggestions=(reply("Absolutely, without a doubt"),)),
        body(
            text="Rate us",
            suggestions=[reply_json("Absolutely, without a do…", "Absolutely, without a doubt")],
        ),
    ),
    # --- at the limits: sent
    sent("text of 3072", Content(text="x" * 3072), body(text="x" * 3072)),
    sent(
        "eleven chips",
        Content(text="Pick", suggestions=tuple(reply(f"o{n}") for n in range(11))),
        body(text="Pick", suggestions=[reply_json(f"o{n}") for n in range(11)]),
    ),
    sent(
        "four buttons on a card, title of 200 and description of 2000",
        Content(carousel=(Card("T" * 200, "d" * 2000, None, (WHERE,) * 4), BAGS)),
        body(
            richCard=carousel(
                "MEDIUM",
                {"title": "T" * 200, "description": "d" * 2000, "suggestions": [SHARE] * 4},
                BAGS_JSON,
            )
        ),
    ),
    sent(
        "ten cards",
        Content(carousel=cards(10)),
        body(richCard=carousel("MEDIUM", *({"title": f"Card {i}"} for i in range(10)))),
    ),
    # --- over the limits: nothing is sent
    refused("text of 3073", Content(text="x" * 3073), "TEXT_TOO_LONG"),
    refused("nothing to show", Content(), "NO_TEXT"),
    refused(
        "twelve chips",
        Content(text="Pick", suggestions=tuple(reply(f"o{n}") for n in range(12))),
        "TOO_MANY_SUGGESTIONS",
    ),
    refused(
        "survey options and chips over eleven",
        Content(text="Pick", survey=tuple(f"o{n}" for n in range(10)), suggestions=(WHERE, WHERE)),
        "TOO_MANY_SUGGESTIONS",
    ),
    refused(
        "five buttons on a card",
        Content(text="Sale", media=image(), buttons=(WHERE,) * 5),
        "TOO_MANY_SUGGESTIONS",
    ),
    refused("a carousel of one", Content(carousel=cards(1)), "CAROUSEL_CARDS"),
    refused("a carousel of eleven", Content(carousel=cards(11)), "CAROUSEL_CARDS"),
    refused(
        "a card title of 201",
        Content(carousel=(Card("T" * 201), BAGS)),
        "CARD_TITLE_TOO_LONG",
    ),
    refused(
        "a card description of 2001",
        Content(carousel=(Card("T", "d" * 2001), BAGS)),
        "CARD_DESCRIPTION_TOO_LONG",
    ),
    refused(
        "the text makes the first card's description too long",
        Content(text="t" * 1000, carousel=(Card("T", "d" * 1000), BAGS)),
        "CARD_DESCRIPTION_TOO_LONG",
    ),
    refused(
        "a card with nothing to show",
        Content(carousel=(Card(buttons=(WHERE,)), BAGS)),
        "EMPTY_CARD",
    ),
    refused(
        "TALL media in a SMALL carousel",
        Content(carousel=(Card("A", media=image("TALL", "SMALL")), BAGS)),
        "TALL_MEDIA_IN_SMALL_CAROUSEL",
    ),
    refused(
        "cards of two widths",
        Content(
            carousel=(Card("A", media=image(width="SMALL")), Card("B", media=image(width="MEDIUM")))
        ),
        "CAROUSEL_WIDTHS_DIFFER",
    ),
    refused(
        "a width RBM does not have",
        Content(carousel=(Card("A", media=image(width="LARGE")), BAGS)),
        "CAROUSEL_WIDTH",
    ),
    refused("a height RBM does not have", Content(text="x", media=image("HUGE")), "MEDIA_HEIGHT"),
    refused(
        "media not on http(s)",
        Content(text="x", media=image(url="ftp://cdn.test/a.jpg")),
        "MEDIA_URL",
    ),
    refused(
        "a thumbnail not on http(s)",
        Content(text="x", media=Media(MediaKind.VIDEO, VIDEO, thumbnail_url="file:///t.jpg")),
        "THUMBNAIL_URL",
    ),
    refused(
        "a dial action without a phone",
        Content(text="x", suggestions=(dial(phone=None),)),
        "DIAL_WITHOUT_PHONE",
    ),
    refused(
        "an open-URL action without a URL",
        Content(text="x", suggestions=(Button("Go", Action(ActionKind.OPEN_URL)),)),
        "OPEN_URL_WITHOUT_URL",
    ),
    refused(
        "a calendar event without its end",
        Content(text="x", suggestions=(event(end=None),)),
        "CALENDAR_EVENT_INCOMPLETE",
    ),
    refused(
        "a calendar event title over 100",
        Content(text="x", suggestions=(event(title="T" * 101),)),
        "CALENDAR_EVENT_TOO_LONG",
    ),
    refused(
        "a reply without text",
        Content(text="x", suggestions=(reply(" "),)),
        "SUGGESTION_WITHOUT_TEXT",
    ),
    refused(
        "a reply whose postback would pass 2048",
        Content(text="x", suggestions=(reply("r" * 2048),)),
        "POSTBACK_TOO_LONG",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=cases.ids)
async def test_send(case: cases.HttpCase) -> None:
    await cases.run_send(RBM, case)


def test_rcs_carries_rich_content_and_folds_the_rest() -> None:
    assert LIMITS.carries == {
        ContentKind.TEXT, ContentKind.IMAGE, ContentKind.VIDEO, ContentKind.BUTTONS,
        ContentKind.CAROUSEL, ContentKind.SURVEY, ContentKind.SUGGESTIONS,
    }  # fmt: skip
    rich = Content(text="New in", carousel=(SHOES, BAGS), suggestions=(WHERE,))
    assert rich.fit(LIMITS.carries) is rich
    pdf = Content(text="Your invoice", media=Media(MediaKind.FILE, "https://cdn.test/i.pdf"))
    assert pdf.fit(LIMITS.carries) == Content(text="Your invoice\nhttps://cdn.test/i.pdf")
    assert Content(template=Template("t", "en", {"pin": "1"})).fit(LIMITS.carries) is None
    call = Content(text="Code", caller_id="+380441234567")
    assert call.fit(LIMITS.carries) == Content(text="Code")
