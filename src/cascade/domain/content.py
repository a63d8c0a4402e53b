"""What a message step shows the recipient: the content model (SPEC D3, issue 15 point 4).

One `Content` holds everything a step may carry — text, one medium (image, video, file),
buttons, a carousel of cards, a provider template, a survey, suggested actions and
replies, a flash call's caller id. A channel declares the kinds it carries
(`Limits.carries`); `Content.fit` shapes a content for such a channel, folding what it
cannot show into text it can (a survey becomes numbered lines, a button its link), or says
that it cannot be carried at all (a template is nothing but its template).

A `Step` is one step of an explicit plan (the core API's primary channel and each of its
fallbacks, each with its own content). Everything here is pure and msgspec-encodable: a
plan is stored with its message as compact JSON (`encode_plan` / `decode_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import msgspec


class ContentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    FILE = "file"
    BUTTONS = "buttons"
    CAROUSEL = "carousel"
    TEMPLATE = "template"
    SURVEY = "survey"
    SUGGESTIONS = "suggestions"
    CALLER_ID = "caller_id"


class ActionKind(StrEnum):
    OPEN_URL = "open_url"
    DIAL = "dial"
    SHARE_LOCATION = "share_location"
    CREATE_CALENDAR_EVENT = "create_calendar_event"
    REPLY = "reply"  # a suggested reply: the button's text comes back as the answer


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    FILE = "file"


class Action(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a button does. `start` / `end` (a calendar event) are ISO 8601 date-times with
    an offset, as RBM's `createCalendarEventAction` takes them."""

    kind: ActionKind
    url: str | None = None  # open_url
    phone: str | None = None  # dial (E.164)
    title: str | None = None  # create_calendar_event
    description: str | None = None
    start: str | None = None
    end: str | None = None

    def link(self) -> str | None:
        """What a plain-text channel can show for this action: its URL, or the number to
        dial; None when text cannot stand for it (a reply, a location, an event)."""
        if self.kind is ActionKind.OPEN_URL:
            return self.url
        if self.kind is ActionKind.DIAL:
            return self.phone
        return None


class Button(msgspec.Struct, frozen=True, omit_defaults=True):
    text: str
    action: Action


class Media(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: MediaKind
    url: str
    thumbnail_url: str | None = None  # a video's still
    height: str | None = None  # RBM's card media height: SHORT, MEDIUM, TALL
    width: str | None = None  # RBM's carousel card width: SMALL, MEDIUM
    size_bytes: int | None = None
    duration_s: int | None = None  # a video's length
    file_name: str | None = None  # a file's name as the recipient sees it
    file_type: str | None = None  # a file's type: pdf, doc, xlsx, …


class Card(msgspec.Struct, frozen=True, omit_defaults=True):
    title: str | None = None
    description: str | None = None
    media: Media | None = None
    buttons: tuple[Button, ...] = ()


class Template(msgspec.Struct, frozen=True, omit_defaults=True):
    """A provider-registered message (Viber's OTP templates): its id, language and the
    values of its parameters."""

    id: str
    lang: str | None = None
    params: dict[str, str] = {}


_MEDIA_KIND = {
    MediaKind.IMAGE: ContentKind.IMAGE,
    MediaKind.VIDEO: ContentKind.VIDEO,
    MediaKind.FILE: ContentKind.FILE,
}


class Content(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one step sends. Empty fields are absent (and absent from the JSON)."""

    text: str | None = None
    media: Media | None = None
    buttons: tuple[Button, ...] = ()
    carousel: tuple[Card, ...] = ()
    template: Template | None = None
    survey: tuple[str, ...] = ()  # the options; the question is the text
    suggestions: tuple[Button, ...] = ()  # suggested actions and replies (chips)
    caller_id: str | None = None  # a flash call's calling number (its last digits the code)

    def kinds(self) -> frozenset[ContentKind]:
        found: set[ContentKind] = set()
        if self.text:
            found.add(ContentKind.TEXT)
        if self.media is not None:
            found.add(_MEDIA_KIND[self.media.kind])
        if self.buttons:
            found.add(ContentKind.BUTTONS)
        if self.carousel:
            found.add(ContentKind.CAROUSEL)
        if self.template is not None:
            found.add(ContentKind.TEMPLATE)
        if self.survey:
            found.add(ContentKind.SURVEY)
        if self.suggestions:
            found.add(ContentKind.SUGGESTIONS)
        if self.caller_id is not None:
            found.add(ContentKind.CALLER_ID)
        return frozenset(found)

    @property
    def image_url(self) -> str | None:
        """The medium's URL when it is an image."""
        media = self.media
        return media.url if media is not None and media.kind is MediaKind.IMAGE else None

    def url_button(self) -> tuple[str, str] | None:
        """The first button that opens a URL, as (its text, the URL)."""
        for button in self.buttons:
            if button.action.kind is ActionKind.OPEN_URL and button.action.url:
                return button.text, button.action.url
        return None

    def survey_lines(self) -> list[str]:
        """The survey's options as numbered lines ("1. Yes")."""
        return [f"{n}. {option}" for n, option in enumerate(self.survey, start=1)]

    def fit(self, carries: frozenset[ContentKind]) -> Content | None:
        """This content as a channel carrying `carries` can send it: what it cannot carry
        is folded into the text (numbered survey lines, a card's title and description,
        links for buttons and media) or dropped (suggested replies, a caller id); None when
        nothing can stand for it (a template the channel does not carry).

        Content the channel carries whole comes back unchanged (the same object)."""
        missing = self.kinds() - carries
        if not missing:
            return self
        if ContentKind.TEMPLATE in missing:
            return None
        caller_id = self.caller_id if ContentKind.CALLER_ID in carries else None
        if ContentKind.TEXT not in carries:
            return Content(caller_id=caller_id)  # a channel without text: a flash call
        lines: list[str] = [self.text] if self.text else []
        survey, carousel = self.survey, self.carousel
        if ContentKind.SURVEY in missing:
            lines.extend(self.survey_lines())
            survey = ()
        if ContentKind.CAROUSEL in missing:
            for card in self.carousel:
                lines.extend(part for part in (card.title, card.description) if part)
                _add_links(lines, card.media, card.buttons)
            carousel = ()
        media = self.media
        if media is not None and _MEDIA_KIND[media.kind] in missing:
            media = None
        buttons, suggestions = self.buttons, self.suggestions
        folded: list[Button] = []
        if ContentKind.BUTTONS in missing:
            folded.extend(buttons)
            buttons = ()
        if ContentKind.SUGGESTIONS in missing:
            folded.extend(suggestions)
            suggestions = ()
        _add_links(lines, self.media if media is None else None, folded)
        return Content(
            text="\n".join(lines) or None,
            media=media,
            buttons=buttons,
            carousel=carousel,
            template=self.template,
            survey=survey,
            suggestions=suggestions,
            caller_id=caller_id,
        )


def _add_links(lines: list[str], media: Media | None, buttons: Iterable[Button]) -> None:
    """Add to `lines` what text can show of `buttons` — each one's link — or, when none
    has one, of `media` (its URL); a link the lines already show is not repeated."""
    links = [link for link in (b.action.link() for b in buttons) if link]
    if not links and media is not None:
        links = [media.url]
    for link in links:
        if not any(link in line for line in lines):
            lines.append(link)


def cascade_content(
    text: str | None,
    survey: tuple[str, ...] = (),
    image_url: str | None = None,
    button_text: str | None = None,
    button_url: str | None = None,
) -> Content:
    """A Cascade API message's content (SPEC A3): its text, a survey's options, a promo's
    image and open-URL button."""
    media = Media(MediaKind.IMAGE, image_url) if image_url else None
    buttons: tuple[Button, ...] = ()
    if button_url:
        buttons = (Button(button_text or "", Action(ActionKind.OPEN_URL, url=button_url)),)
    return Content(text=text, media=media, buttons=buttons, survey=survey)


class Step(msgspec.Struct, frozen=True, omit_defaults=True):
    """One step of an explicit plan: the channel and what it sends.

    `message_type` is the step's own label for the channel (`promo`, `transaction`, …),
    None for the message's; `wire_type` is the API's name for the step (`viber_promo`,
    `sms`, …), kept for the status the API answers.
    """

    channel: str
    content: Content
    message_type: str | None = None
    wire_type: str | None = None


_PLAN_ENCODER = msgspec.json.Encoder()
_PLAN_DECODER = msgspec.json.Decoder(tuple[Step, ...])


def encode_plan(plan: tuple[Step, ...]) -> str:
    """The plan as the message row stores it: compact JSON, empty fields left out."""
    return _PLAN_ENCODER.encode(plan).decode()


def decode_plan(stored: str | bytes) -> tuple[Step, ...]:
    return _PLAN_DECODER.decode(stored)
