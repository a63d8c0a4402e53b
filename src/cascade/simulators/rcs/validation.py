"""What RBM refuses: the checks an agent's request passes before the simulator takes it,
and the error body Google's APIs answer with (`{"error": {"code", "message", "status"}}`).

The limits are RBM's documented ones (`AgentContentMessage`, `RichCard`, `Suggestion`).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

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
        problem = _invalid_card(content["richCard"])
        if problem is not None:
            return problem
    return _invalid_suggestions(content.get("suggestions"), MAX_SUGGESTIONS)


def _invalid_card(card: object) -> str | None:
    standalone = card.get("standaloneCard") if isinstance(card, dict) else None
    if not isinstance(standalone, dict):
        return "richCard.standaloneCard is required"
    if standalone.get("cardOrientation") not in ("VERTICAL", "HORIZONTAL"):
        return "cardOrientation is VERTICAL or HORIZONTAL"
    content = standalone.get("cardContent")
    if not isinstance(content, dict):
        return "cardContent is required"
    title, description, media = (content.get(k) for k in ("title", "description", "media"))
    if title is None and description is None and media is None:
        return "a card has a title, a description or media"
    if title is not None and (not isinstance(title, str) or len(title) > MAX_CARD_TITLE):
        return f"a card title is at most {MAX_CARD_TITLE} characters"
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_CARD_DESCRIPTION
    ):
        return f"a card description is at most {MAX_CARD_DESCRIPTION} characters"
    if media is not None:
        info = media.get("contentInfo") if isinstance(media, dict) else None
        url = info.get("fileUrl") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return "media.contentInfo.fileUrl is a URL"
        if isinstance(media, dict) and media.get("height", "MEDIUM") not in MEDIA_HEIGHTS:
            return "media.height is SHORT, MEDIUM or TALL"
    return _invalid_suggestions(content.get("suggestions"), MAX_CARD_SUGGESTIONS)


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
            target = value.get("openUrlAction")
            url = target.get("url") if isinstance(target, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return "this simulator knows openUrlAction actions only"
    return None


def bad_phone(phone: str) -> tuple[int, Any] | None:
    if is_e164(phone):
        return None
    return error(400, "INVALID_ARGUMENT", "the phone number is not E.164")
