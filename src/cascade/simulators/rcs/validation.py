"""What RBM refuses: the checks an agent's request passes before the simulator takes it,
and the error body Google's APIs answer with (`{"error": {"code", "message", "status"}}`).

The limits are RBM's documented ones (`AgentContentMessage`, `RichCard` — a standalone
card or a carousel of 2 to 10 — `CardContent`, `Media`, `Suggestion` and each
`SuggestedAction`); `media_urls` names the files a message points to, which the simulator
fetches before taking it (RBM fetches them, and refuses a file it cannot).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from cascade.simulators.media import is_http_url
from cascade.simulators.phones import is_e164
from cascade.simulators.rcs.timestamps import now_ms, parse_ms

MAX_TEXT: Final = 3072
MAX_SUGGESTIONS: Final = 11
MAX_CARD_SUGGESTIONS: Final = 4
MAX_SUGGESTION_TEXT: Final = 25
MAX_POSTBACK: Final = 2048
MAX_CARD_TITLE: Final = 200
MAX_CARD_DESCRIPTION: Final = 2000
MEDIA_HEIGHTS: Final = ("SHORT", "MEDIUM", "TALL")
CARD_WIDTHS: Final = ("SMALL", "MEDIUM")
MIN_CAROUSEL_CARDS: Final = 2
MAX_CAROUSEL_CARDS: Final = 10
MAX_EVENT_TITLE: Final = 100
MAX_EVENT_DESCRIPTION: Final = 500
ACTIONS: Final = (
    "openUrlAction",
    "dialAction",
    "viewLocationAction",
    "shareLocationAction",
    "createCalendarEventAction",
    "composeAction",
)
# what RBM takes as card media (its own list), and as a thumbnail
IMAGE_TYPES: Final = ("image/jpeg", "image/jpg", "image/gif", "image/png")
MEDIA_TYPES: Final = (
    *IMAGE_TYPES,
    "video/h263",
    "video/m4v",
    "video/mp4",
    "video/mpeg",
    "video/mpeg4",
    "video/webm",
)
CONTENT_KINDS: Final = ("text", "richCard", "contentInfo", "fileName", "uploadedRbmFile")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def expiry(body: dict[str, Any]) -> int | str | None:
    expire_time, ttl = body.get("expireTime"), body.get("ttl")
    if expire_time is not None and ttl is not None:
        return "expireTime and ttl are one of a kind"
    if expire_time is not None:
        at = parse_ms(expire_time) if isinstance(expire_time, str) else None
        return at if at is not None else "expireTime is not an RFC 3339 timestamp"
    if ttl is not None:
        if not isinstance(ttl, str) or not ttl.endswith("s"):
            return "ttl is not a duration"
        try:
            return now_ms() + round(float(ttl[:-1]) * 1000)
        except ValueError:
            return "ttl is not a duration"
    return None


def invalid_message(body: object) -> str | None:
    if not isinstance(body, dict):
        return "the body is not an AgentMessage"
    content = body.get("contentMessage")
    if not isinstance(content, dict):
        return "contentMessage is required"
    kinds = [k for k in CONTENT_KINDS if k in content]
    if len(kinds) != 1:
        return "contentMessage holds exactly one kind of content"
    traffic = body.get("messageTrafficType")
    if traffic is not None and not isinstance(traffic, str):
        return "messageTrafficType is an enum"
    if "text" in content:
        text = content["text"]
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            return f"text is 1 to {MAX_TEXT} characters"
    if "richCard" in content:
        problem = _invalid_rich_card(content["richCard"])
        if problem is not None:
            return problem
    if "contentInfo" in content:
        problem = _invalid_content_info(content["contentInfo"], "contentMessage.contentInfo")
        if problem is not None:
            return problem
    return _invalid_suggestions(content.get("suggestions"), MAX_SUGGESTIONS)


def _invalid_rich_card(card: object) -> str | None:
    if not isinstance(card, dict) or len(card) != 1:
        return "richCard is a standaloneCard or a carouselCard"
    if "carouselCard" in card:
        return _invalid_carousel(card["carouselCard"])
    standalone = card.get("standaloneCard")
    if not isinstance(standalone, dict):
        return "richCard is a standaloneCard or a carouselCard"
    orientation = standalone.get("cardOrientation")
    if orientation not in ("VERTICAL", "HORIZONTAL"):
        return "cardOrientation is VERTICAL or HORIZONTAL"
    alignment = standalone.get("thumbnailImageAlignment")
    if alignment is not None and alignment not in ("LEFT", "RIGHT"):
        return "thumbnailImageAlignment is LEFT or RIGHT"
    return _invalid_card(standalone.get("cardContent"), "cardContent", orientation == "VERTICAL")


def _invalid_carousel(carousel: object) -> str | None:
    if not isinstance(carousel, dict):
        return "carouselCard is an object"
    width = carousel.get("cardWidth")
    if width not in CARD_WIDTHS:
        return "carouselCard.cardWidth is SMALL or MEDIUM"
    cards = carousel.get("cardContents")
    if not isinstance(cards, list) or not MIN_CAROUSEL_CARDS <= len(cards) <= MAX_CAROUSEL_CARDS:
        return f"a carousel has {MIN_CAROUSEL_CARDS} to {MAX_CAROUSEL_CARDS} cards"
    for n, card in enumerate(cards):
        where = f"carouselCard.cardContents[{n}]"
        problem = _invalid_card(card, where, True)
        if problem is not None:
            return problem
        media = card.get("media")
        if width == "SMALL" and isinstance(media, dict) and media.get("height") == "TALL":
            return f"{where}.media.height: TALL media do not fit SMALL cards"
    return None


def _invalid_card(content: object, where: str, vertical: bool) -> str | None:
    if not isinstance(content, dict):
        return f"{where} is required"
    title, description, media = (content.get(k) for k in ("title", "description", "media"))
    if title is None and description is None and media is None:
        return f"{where} has a title, a description or media"
    if title is not None and (not isinstance(title, str) or len(title) > MAX_CARD_TITLE):
        return f"{where}.title is at most {MAX_CARD_TITLE} characters"
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_CARD_DESCRIPTION
    ):
        return f"{where}.description is at most {MAX_CARD_DESCRIPTION} characters"
    if media is not None:
        if not isinstance(media, dict):
            return f"{where}.media is an object"
        height = media.get("height")
        if height is None and vertical:
            return f"{where}.media.height is required in a vertical card"
        if height is not None and height not in MEDIA_HEIGHTS:
            return f"{where}.media.height is SHORT, MEDIUM or TALL"
        problem = _invalid_content_info(media.get("contentInfo"), f"{where}.media.contentInfo")
        if problem is not None:
            return problem
    return _invalid_suggestions(content.get("suggestions"), MAX_CARD_SUGGESTIONS)


def _invalid_content_info(info: object, where: str) -> str | None:
    if not isinstance(info, dict):
        return f"{where} is required"
    if not is_http_url(info.get("fileUrl")):
        return f"{where}.fileUrl is an http(s) URL"
    thumbnail = info.get("thumbnailUrl")
    if thumbnail is not None and not is_http_url(thumbnail):
        return f"{where}.thumbnailUrl is an http(s) URL"
    return None


def _invalid_suggestions(suggestions: object, limit: int) -> str | None:
    if suggestions is None:
        return None
    if not isinstance(suggestions, list) or len(suggestions) > limit:
        return f"at most {limit} suggestions"
    for suggestion in suggestions:
        if not isinstance(suggestion, dict) or len(suggestion) != 1:
            return "a suggestion is a reply or an action"
        kind, value = next(iter(suggestion.items()))
        if kind not in ("reply", "action") or not isinstance(value, dict):
            return "a suggestion is a reply or an action"
        text, postback = value.get("text"), value.get("postbackData", "")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_SUGGESTION_TEXT:
            return f"a suggestion's text is 1 to {MAX_SUGGESTION_TEXT} characters"
        if not isinstance(postback, str) or len(postback) > MAX_POSTBACK:
            return f"postbackData is at most {MAX_POSTBACK} characters"
        if kind == "action":
            problem = _invalid_action(value)
            if problem is not None:
                return problem
    return None


def _invalid_action(action: dict[str, Any]) -> str | None:
    """A suggested action names exactly one action, with what that action needs."""
    named = [k for k in ACTIONS if k in action]
    if len(named) != 1:
        return f"an action is exactly one of {', '.join(ACTIONS)}"
    kind = named[0]
    value = action[kind]
    if not isinstance(value, dict):
        return f"{kind} is an object"
    if kind == "openUrlAction" and not is_http_url(value.get("url")):
        return "openUrlAction.url is an http(s) URL"
    if kind == "dialAction" and not (
        isinstance(value.get("phoneNumber"), str) and is_e164(value["phoneNumber"])
    ):
        return "dialAction.phoneNumber is an E.164 number"
    if kind == "viewLocationAction":
        lat_long, query = value.get("latLong"), value.get("query")
        if not isinstance(lat_long, dict) and not (isinstance(query, str) and query):
            return "viewLocationAction has a latLong or a query"
    if kind == "createCalendarEventAction":
        return _invalid_event(value)
    return None


def _invalid_event(event: dict[str, Any]) -> str | None:
    title = event.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MAX_EVENT_TITLE:
        return f"createCalendarEventAction.title is 1 to {MAX_EVENT_TITLE} characters"
    description = event.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_EVENT_DESCRIPTION
    ):
        return f"createCalendarEventAction.description is at most {MAX_EVENT_DESCRIPTION}"
    start, end = event.get("startTime"), event.get("endTime")
    start_ms = parse_ms(start) if isinstance(start, str) else None
    end_ms = parse_ms(end) if isinstance(end, str) else None
    if start_ms is None or end_ms is None:
        return "createCalendarEventAction.startTime and endTime are RFC 3339 timestamps"
    if end_ms < start_ms:
        return "createCalendarEventAction.endTime is not before startTime"
    return None


def media_urls(body: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every file the message names, as (where, URL, the types RBM takes there): the
    simulator fetches each before it takes the message, as RBM does."""
    content = body["contentMessage"]
    found: list[tuple[str, str, tuple[str, ...]]] = []

    def add(info: dict[str, Any], where: str, types: tuple[str, ...]) -> None:
        found.append((f"{where}.fileUrl", info["fileUrl"], types))
        if "thumbnailUrl" in info:
            found.append((f"{where}.thumbnailUrl", info["thumbnailUrl"], IMAGE_TYPES))

    if "contentInfo" in content:
        add(content["contentInfo"], "contentInfo", ())
    card = content.get("richCard") or {}
    cards = []
    if "standaloneCard" in card:
        cards.append(("standaloneCard.cardContent", card["standaloneCard"]["cardContent"]))
    if "carouselCard" in card:
        for n, each in enumerate(card["carouselCard"]["cardContents"]):
            cards.append((f"carouselCard.cardContents[{n}]", each))
    for where, each in cards:
        media = each.get("media")
        if media is not None:
            add(media["contentInfo"], f"{where}.media.contentInfo", MEDIA_TYPES)
    return found


def bad_phone(phone: str) -> tuple[int, Any] | None:
    if is_e164(phone):
        return None
    return error(400, "INVALID_ARGUMENT", "the phone number is not E.164")
