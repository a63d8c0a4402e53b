"""A step's `Content` as RBM's `AgentContentMessage`, with RBM's limits checked first.

RBM's message holds exactly one kind of content beside its suggestions:

- **text** (at most 3,072 characters) with suggestion chips under it;
- a **standalone rich card** (`richCard.standaloneCard`, vertical): the step's medium
  (an image or a video: `media.height` SHORT, MEDIUM or TALL, `contentInfo.fileUrl` and
  `thumbnailUrl`), the text as its description (at most 2,000), the step's buttons as the
  card's own suggestions (at most 4);
- a **carousel** (`richCard.carouselCard`) of 2 to 10 cards, `cardWidth` SMALL or MEDIUM
  (a SMALL carousel takes no TALL media), each card a title (at most 200), a description,
  a medium and up to 4 suggestions. RBM shows a rich card alone, so the step's text leads
  the first card's description.

Suggestions are replies (`reply: {text, postbackData}`) or actions (`action: {text,
postbackData, openUrlAction | dialAction | shareLocationAction |
createCalendarEventAction}`); a message carries at most 11 chips, each label at most 25
characters (a longer survey option or button label is cut to 24 and an ellipsis: the
postback still carries it whole), each postback at most 2,048. A survey's options are
suggested replies; a suggested reply's tap comes back as the answer to the message (its
postback is a survey postback, `webhook.py`).

`agent_message` returns the body, or `Failed(<limit>)` when RBM would refuse it: nothing
is sent then.
"""

from __future__ import annotations

from typing import Final

import msgspec

from cascade.channels.rcs.webhook import OPEN_URL_POSTBACK, survey_postback
from cascade.domain.content import ActionKind, Button, Card, Content, Media
from cascade.domain.sending import Failed

MAX_TEXT: Final = 3072
MAX_SUGGESTIONS: Final = 11  # chips under a message
MAX_CARD_SUGGESTIONS: Final = 4
MAX_SUGGESTION_TEXT: Final = 25
MAX_POSTBACK: Final = 2048
MAX_CARD_TITLE: Final = 200
MAX_CARD_DESCRIPTION: Final = 2000
MIN_CARDS, MAX_CARDS = 2, 10
MAX_EVENT_TITLE: Final = 100  # createCalendarEventAction
MAX_EVENT_DESCRIPTION: Final = 500
HEIGHTS: Final = ("SHORT", "MEDIUM", "TALL")
WIDTHS: Final = ("SMALL", "MEDIUM")
DEFAULT_HEIGHT: Final = "MEDIUM"
DEFAULT_WIDTH: Final = "MEDIUM"

# what a tapped action sends back (RBM requires a postback on every suggestion)
ACTION_POSTBACK: Final = {
    ActionKind.OPEN_URL: OPEN_URL_POSTBACK,
    ActionKind.DIAL: "cascade-dial",
    ActionKind.SHARE_LOCATION: "cascade-location",
    ActionKind.CREATE_CALENDAR_EVENT: "cascade-event",
}
# the label of an action given none (a Cascade API promo's button may have no text)
DEFAULT_LABEL: Final = {
    ActionKind.OPEN_URL: "Open",
    ActionKind.DIAL: "Call",
    ActionKind.SHARE_LOCATION: "Share location",
    ActionKind.CREATE_CALENDAR_EVENT: "Add to calendar",
}


# --- the body ----------------------------------------------------------------------------------


class _Reply(msgspec.Struct, rename="camel"):
    text: str
    postback_data: str


class _OpenUrl(msgspec.Struct):
    url: str


class _Dial(msgspec.Struct, rename="camel"):
    phone_number: str


class _ShareLocation(msgspec.Struct):
    pass


class _CalendarEvent(msgspec.Struct, rename="camel", omit_defaults=True):
    start_time: str
    end_time: str
    title: str
    description: str | None = None


class _Action(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str
    postback_data: str
    open_url_action: _OpenUrl | None = None
    dial_action: _Dial | None = None
    share_location_action: _ShareLocation | None = None
    create_calendar_event_action: _CalendarEvent | None = None


class _Suggestion(msgspec.Struct, omit_defaults=True):
    reply: _Reply | None = None
    action: _Action | None = None


class _ContentInfo(msgspec.Struct, rename="camel", omit_defaults=True):
    file_url: str
    thumbnail_url: str | None = None


class _Media(msgspec.Struct, rename="camel"):
    height: str
    content_info: _ContentInfo


class _CardContent(msgspec.Struct, omit_defaults=True):
    title: str | None = None
    description: str | None = None
    media: _Media | None = None
    suggestions: list[_Suggestion] | None = None


class _StandaloneCard(msgspec.Struct, rename="camel"):
    card_orientation: str
    card_content: _CardContent


class _CarouselCard(msgspec.Struct, rename="camel"):
    card_width: str
    card_contents: list[_CardContent]


class _RichCard(msgspec.Struct, rename="camel", omit_defaults=True):
    standalone_card: _StandaloneCard | None = None
    carousel_card: _CarouselCard | None = None


class ContentMessage(msgspec.Struct, rename="camel", omit_defaults=True):
    """RBM's `AgentContentMessage`."""

    text: str | None = None
    rich_card: _RichCard | None = None
    suggestions: list[_Suggestion] | None = None


class _Refused(Exception):
    """A limit RBM would refuse the message for; its reason is the step's."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- suggestions -------------------------------------------------------------------------------


def chip_text(text: str) -> str:
    """A suggestion's visible text: RBM shows at most 25 characters."""
    text = " ".join(text.split())
    if not text:
        raise _Refused("SUGGESTION_WITHOUT_TEXT")
    return text if len(text) <= MAX_SUGGESTION_TEXT else text[: MAX_SUGGESTION_TEXT - 1] + "…"


def _postback(value: str) -> str:
    if len(value) > MAX_POSTBACK:
        raise _Refused("POSTBACK_TOO_LONG")
    return value


def _reply(message_id: str, answer: str, label: str | None = None) -> _Suggestion:
    """A suggested reply; its tap comes back as `answer` to the message."""
    postback = _postback(survey_postback(message_id, answer))
    return _Suggestion(reply=_Reply(chip_text(label or answer), postback))


def _suggestion(message_id: str, button: Button) -> _Suggestion:
    action = button.action
    if action.kind is ActionKind.REPLY:
        return _reply(message_id, button.text)
    text = chip_text(button.text or DEFAULT_LABEL[action.kind])
    postback = _postback(f"{ACTION_POSTBACK[action.kind]}|{message_id}")
    if action.kind is ActionKind.OPEN_URL:
        if not action.url:
            raise _Refused("OPEN_URL_WITHOUT_URL")
        return _Suggestion(action=_Action(text, postback, open_url_action=_OpenUrl(action.url)))
    if action.kind is ActionKind.DIAL:
        if not action.phone:
            raise _Refused("DIAL_WITHOUT_PHONE")
        return _Suggestion(action=_Action(text, postback, dial_action=_Dial(action.phone)))
    if action.kind is ActionKind.SHARE_LOCATION:
        return _Suggestion(action=_Action(text, postback, share_location_action=_ShareLocation()))
    if not (action.start and action.end and action.title):
        raise _Refused("CALENDAR_EVENT_INCOMPLETE")
    if len(action.title) > MAX_EVENT_TITLE or len(action.description or "") > MAX_EVENT_DESCRIPTION:
        raise _Refused("CALENDAR_EVENT_TOO_LONG")
    event = _CalendarEvent(action.start, action.end, action.title, action.description)
    return _Suggestion(action=_Action(text, postback, create_calendar_event_action=event))


def _suggestions(message_id: str, buttons: tuple[Button, ...], most: int) -> list[_Suggestion]:
    if len(buttons) > most:
        raise _Refused("TOO_MANY_SUGGESTIONS")
    return [_suggestion(message_id, b) for b in buttons]


# --- cards -------------------------------------------------------------------------------------


def _media(media: Media) -> _Media:
    height = media.height or DEFAULT_HEIGHT
    if height not in HEIGHTS:
        raise _Refused("MEDIA_HEIGHT")
    if not media.url.startswith(("http://", "https://")):
        raise _Refused("MEDIA_URL")
    thumbnail = media.thumbnail_url
    if thumbnail is not None and not thumbnail.startswith(("http://", "https://")):
        raise _Refused("THUMBNAIL_URL")
    return _Media(height, _ContentInfo(media.url, thumbnail))


def _card(message_id: str, card: Card) -> _CardContent:
    if card.title is not None and len(card.title) > MAX_CARD_TITLE:
        raise _Refused("CARD_TITLE_TOO_LONG")
    if card.description is not None and len(card.description) > MAX_CARD_DESCRIPTION:
        raise _Refused("CARD_DESCRIPTION_TOO_LONG")
    if not (card.title or card.description or card.media is not None):
        raise _Refused("EMPTY_CARD")
    return _CardContent(
        title=card.title or None,
        description=card.description or None,
        media=_media(card.media) if card.media is not None else None,
        suggestions=_suggestions(message_id, card.buttons, MAX_CARD_SUGGESTIONS) or None,
    )


def _standalone(card: _CardContent) -> _RichCard:
    return _RichCard(standalone_card=_StandaloneCard("VERTICAL", card))


def _carousel(message_id: str, text: str | None, cards: tuple[Card, ...]) -> _RichCard:
    if not MIN_CARDS <= len(cards) <= MAX_CARDS:
        raise _Refused("CAROUSEL_CARDS")
    widths = {c.media.width for c in cards if c.media is not None and c.media.width}
    if len(widths) > 1:
        raise _Refused("CAROUSEL_WIDTHS_DIFFER")
    width = widths.pop() if widths else DEFAULT_WIDTH
    if width not in WIDTHS:
        raise _Refused("CAROUSEL_WIDTH")
    if width == "SMALL" and any(c.media is not None and c.media.height == "TALL" for c in cards):
        raise _Refused("TALL_MEDIA_IN_SMALL_CAROUSEL")
    if text:
        # RBM shows a rich card alone: the message's text leads the first card's description
        first = cards[0]
        description = f"{text}\n\n{first.description}" if first.description else text
        cards = (msgspec.structs.replace(first, description=description), *cards[1:])
    contents = [_card(message_id, card) for card in cards]
    return _RichCard(carousel_card=_CarouselCard(width, contents))


# --- the message -------------------------------------------------------------------------------


def _build(message_id: str, content: Content) -> ContentMessage:
    text = content.text or None
    if text is not None and len(text) > MAX_TEXT:
        raise _Refused("TEXT_TOO_LONG")
    chips = [_reply(message_id, option) for option in content.survey]
    chips.extend(_suggestion(message_id, b) for b in content.suggestions)
    if content.carousel:
        rich = _carousel(message_id, text, content.carousel)
        return _with_chips(ContentMessage(rich_card=rich), chips)
    media, buttons = content.media, content.buttons
    if media is None and not buttons:
        if text is None:
            raise _Refused("NO_TEXT")
        return _with_chips(ContentMessage(text=text), chips)
    if text is not None and len(text) > MAX_CARD_DESCRIPTION:
        # too long for a card: the text with the medium as a link, the buttons as chips
        if media is not None and media.url not in text:
            text = f"{text}\n{media.url}"
            if len(text) > MAX_TEXT:
                raise _Refused("TEXT_TOO_LONG")
        chips.extend(_suggestion(message_id, b) for b in buttons)
        return _with_chips(ContentMessage(text=text), chips)
    if media is None and text is None:
        raise _Refused("NO_TEXT")
    card = _card(message_id, Card(description=text, media=media, buttons=buttons))
    return _with_chips(ContentMessage(rich_card=_standalone(card)), chips)


def _with_chips(message: ContentMessage, chips: list[_Suggestion]) -> ContentMessage:
    if len(chips) > MAX_SUGGESTIONS:
        raise _Refused("TOO_MANY_SUGGESTIONS")
    return msgspec.structs.replace(message, suggestions=chips or None)


def content_message(message_id: str, content: Content) -> ContentMessage | Failed:
    """The `contentMessage` RBM shows for `content`, or `Failed` with the limit it breaks."""
    try:
        return _build(message_id, content)
    except _Refused as refused:
        return Failed(refused.reason)
