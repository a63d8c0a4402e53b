"""One message of a list, checked by D3's rules and made into an explicit plan.

`validate` turns a decoded message into its `Checked` form — the primary step and each
fallback step, each with its own content, and the message's draft fields — or raises
`Rejected` naming the field. It is pure: the time, and what each channel carries and
how many parts a content goes out as, come in through `Rules`.

Each `type` goes to one channel: `sms` to SMS, the `viber_*` types to Viber Business,
`rcs` to RCS (RBM), `flashcall` to the voice provider. The limits checked here are the
contract's (D3) and the providers' own where they refuse a message outright (RBM's
suggestion and card limits, Viber's button text), so such a message is rejected at intake
instead of failing at the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cascade.api.bat.errors import Code, Rejected
from cascade.api.bat.wire import (
    ActionIn,
    CardIn,
    CarouselItemIn,
    FallbackIn,
    MediaIn,
    MessageDataIn,
    MessageIn,
    RcsButtonIn,
)
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Card,
    Content,
    ContentKind,
    Media,
    MediaKind,
    Step,
    Template,
)
from cascade.domain.errors import RequestRejected
from cascade.domain.message import (
    DEFAULT_TTL,
    MAX_FROM_NAME,
    MAX_SURVEY_OPTION,
    MAX_SURVEY_TEXT,
    MAX_TRACKING_ID,
    MAX_TTL,
    SURVEY_OPTIONS,
    MessageType,
    parse_schedule,
)
from cascade.domain.phone import is_e164
from cascade.domain.templates import MAX_PIN, OTP_TEMPLATES, PARAMETERS, PIN
from cascade.domain.variables import is_absolute_http_url


class BatType(StrEnum):
    SMS = "sms"
    VIBER_PROMO = "viber_promo"
    VIBER_TRANS = "viber_trans"
    VIBER_OTP = "viber_otp"
    VIBER_SURVEY = "viber_survey"
    VIBER_CAROUSEL = "viber_carousel"
    RCS = "rcs"
    FLASHCALL = "flashcall"


# the channel each type goes through (channel names as the registry has them)
CHANNEL: Mapping[BatType, str] = {
    BatType.SMS: "sms",
    BatType.VIBER_PROMO: "viber_business",
    BatType.VIBER_TRANS: "viber_business",
    BatType.VIBER_OTP: "viber_business",
    BatType.VIBER_SURVEY: "viber_business",
    BatType.VIBER_CAROUSEL: "viber_business",
    BatType.RCS: "rcs",
    BatType.FLASHCALL: "flashcall",
}

# the Cascade message type each stands for: its default TTL (Part A) and its step label
MESSAGE_TYPE: Mapping[BatType, MessageType] = {
    BatType.SMS: MessageType.TRANSACTION,
    BatType.VIBER_PROMO: MessageType.PROMO,
    BatType.VIBER_TRANS: MessageType.TRANSACTION,
    BatType.VIBER_OTP: MessageType.TRANSACTION,
    BatType.VIBER_SURVEY: MessageType.VIBER_SURVEY,
    BatType.VIBER_CAROUSEL: MessageType.PROMO,
    BatType.RCS: MessageType.TRANSACTION,
    BatType.FLASHCALL: MessageType.FLASHCALL,
}

# the key of each type's channel in a status's `extendedStatuses` (D5)
FAMILY: Mapping[str, str] = {
    "sms": "sms",
    "viber_business": "viber",
    "rcs": "rcs",
    "flashcall": "flashcall",
}

TYPES = ", ".join(BatType)
NO_TEXT_NEEDED = frozenset({BatType.VIBER_OTP, BatType.VIBER_CAROUSEL, BatType.FLASHCALL})
MAX_SMS_PARTS = 10  # the SMS channel's own limit: a longer text is refused (1005)
MAX_VIBER_TEXT = 1000
MAX_RCS_TEXT = 3072
MAX_BUTTON_TEXT = 30  # Viber Business's button caption
CAROUSEL_ITEMS = (2, 5)  # Viber
MAX_CAROUSEL_TITLE = 38
RCS_CARDS = (2, 10)  # RBM's carousel
MAX_CARD_BUTTONS = 4  # RBM: suggestions on a rich card
MAX_CHIPS = 11  # RBM: suggested replies and actions under a message
MAX_SUGGESTION_TEXT = 25  # RBM
MAX_CARD_TITLE = 200  # RBM
MAX_CARD_DESCRIPTION = 2000  # RBM
CARD_HEIGHTS = frozenset({"SHORT", "MEDIUM", "TALL"})
CARD_WIDTHS = frozenset({"SMALL", "MEDIUM"})
FILE_TYPES = frozenset(
    {
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "txt",
        "csv",
        "rtf",
        "odt",
        "ods",
        "ppt",
        "pptx",
        "xps",
    }
)
MAX_FILE_NAME = 25  # Viber shows at most this much of a file's name
RCS_ACTIONS: Mapping[str, ActionKind] = {
    "openUrl": ActionKind.OPEN_URL,
    "dial": ActionKind.DIAL,
    "shareLocation": ActionKind.SHARE_LOCATION,
    "createCalendarEvent": ActionKind.CREATE_CALENDAR_EVENT,
    "reply": ActionKind.REPLY,
}


@dataclass(frozen=True, slots=True)
class Rules:
    """What checking needs besides the message: the time, what each channel carries, and
    how many parts a content goes out as on a channel."""

    now_ms: int
    carries: Mapping[str, frozenset[ContentKind]]
    parts: Callable[[str, Content], int]


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid message: its steps (the primary first) and its draft's fields."""

    type: BatType
    phone: str
    from_name: str
    customer_message_id: str | None
    plan: tuple[Step, ...]
    parts: int  # the primary step's
    ttl: int
    scheduled_at_ms: int | None
    due_at_ms: int
    expires_at_ms: int


def validate(raw: MessageIn, rules: Rules) -> Checked:
    customer_id = raw.customer_message_id
    if customer_id is not None:
        if not 1 <= len(customer_id) <= MAX_TRACKING_ID:
            raise _format("customerMessageId must be 1-255 characters", "customerMessageId")
        _no_nul(customer_id, "customerMessageId")

    from_name = raw.from_
    if from_name is None or from_name == "":
        raise _missing("from")
    _no_nul(from_name, "from")
    if len(from_name) > MAX_FROM_NAME:
        raise _format(f"from must be at most {MAX_FROM_NAME} characters", "from")

    phone = _phone(raw)

    if raw.type is None:
        raise _missing("type")
    kind = _type(raw.type, "type", Code.UNKNOWN_TYPE)

    ttl = DEFAULT_TTL[MESSAGE_TYPE[kind]] if raw.ttl is None else _ttl(raw.ttl)
    scheduled_at_ms: int | None = None
    for value, field in (
        (raw.scheduled_time, "scheduledTime"),
        (raw.sheduled_sent, "sheduledSent"),
        (raw.scheduled_sent, "scheduledSent"),
    ):
        if value is not None:
            try:
                scheduled_at_ms = parse_schedule(value, rules.now_ms, field)
            except RequestRejected as err:
                raise Rejected(Code.INVALID_SCHEDULE, err.message, field) from None
    due_at_ms = max(rules.now_ms, scheduled_at_ms or 0)

    primary = _content(kind, raw.text, raw.message_data)
    channel = CHANNEL[kind]
    missing = primary.kinds() - rules.carries.get(channel, frozenset())
    if missing:
        raise Rejected(
            Code.INVALID_CONTENT,
            f"{channel} cannot carry {', '.join(sorted(missing))}",
            "messageData" if missing != {ContentKind.TEXT} else "text",
        )
    parts = rules.parts(channel, primary)
    if kind is BatType.SMS and parts > MAX_SMS_PARTS:
        raise Rejected(
            Code.TEXT_TOO_LONG,
            f"text needs {parts} SMS parts; at most {MAX_SMS_PARTS} are sent",
            "text",
        )
    plan = [Step(channel, primary, MESSAGE_TYPE[kind].value, kind.value)]
    plan.extend(_fallbacks(raw.fallback, rules))

    return Checked(
        type=kind,
        phone=phone,
        from_name=from_name,
        customer_message_id=customer_id,
        plan=tuple(plan),
        parts=parts,
        ttl=ttl,
        scheduled_at_ms=scheduled_at_ms,
        due_at_ms=due_at_ms,
        expires_at_ms=due_at_ms + ttl * 1000,
    )


def _phone(raw: MessageIn) -> str:
    value, field = raw.to, "to"
    if value is None:
        value, field = raw.recipient, "recipient"
        if value is None:
            raise _missing("to")
    text = str(value) if isinstance(value, int) else value
    phone = text if text.startswith("+") else "+" + text
    if not is_e164(phone):
        raise Rejected(
            Code.INVALID_PHONE,
            "Invalid phone number: 8-15 digits, country code first, with or without +",
            field,
        )
    return phone


def _type(name: str, field: str, code: Code) -> BatType:
    try:
        return BatType(name)
    except ValueError:
        raise Rejected(code, f"{field} must be one of {TYPES}", field) from None


def _ttl(value: int | float | str) -> int:
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise Rejected(Code.INVALID_SCHEDULE, "ttl must be a whole number of seconds", "ttl")
        seconds = int(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise Rejected(Code.INVALID_SCHEDULE, "ttl must be a whole number of seconds", "ttl")
        seconds = int(value)
    else:
        seconds = value
    if not 1 <= seconds <= MAX_TTL:
        raise Rejected(Code.INVALID_SCHEDULE, f"ttl must be 1-{MAX_TTL} seconds", "ttl")
    return seconds


def _fallbacks(raw: FallbackIn | list[FallbackIn] | None, rules: Rules) -> list[Step]:
    if raw is None:
        return []
    listed = isinstance(raw, list)
    items = raw if isinstance(raw, list) else [raw]
    steps: list[Step] = []
    for index, fallback in enumerate(items):
        where = f"fallback[{index}]" if listed else "fallback"
        try:
            steps.append(_fallback(fallback, rules))
        except Rejected as err:
            # every fault of a fallback is an invalid fallback (1007), named where it is
            raise Rejected(Code.INVALID_FALLBACK, err.message, f"{where}.{err.field}") from None
    return steps


def _fallback(raw: FallbackIn, rules: Rules) -> Step:
    if raw.type is None:
        raise _missing("type")
    kind = _type(raw.type, "type", Code.INVALID_FALLBACK)
    content = _content(kind, raw.text, raw.message_data)
    channel = CHANNEL[kind]
    # a fallback's content is degraded to what its channel carries, never refused, but
    # for a template: nothing else can stand for one
    fitted = content.fit(rules.carries.get(channel, frozenset()))
    if fitted is None:
        raise Rejected(
            Code.INVALID_FALLBACK, f"{channel} cannot carry a {kind.value} message", "type"
        )
    if kind is BatType.SMS and rules.parts(channel, fitted) > MAX_SMS_PARTS:
        raise Rejected(Code.TEXT_TOO_LONG, f"text needs more than {MAX_SMS_PARTS} parts", "text")
    return Step(channel, fitted, MESSAGE_TYPE[kind].value, kind.value)


# --- the content of each type -------------------------------------------------------------


def _content(kind: BatType, text: str | None, data: MessageDataIn | None) -> Content:
    """The content of a step of type `kind`."""
    if text == "":
        text = None
    if text is None and kind not in NO_TEXT_NEEDED:
        raise _missing("text")
    if text is not None:
        _no_nul(text, "text")
        limit = _text_limit(kind)
        if limit is not None and len(text) > limit:
            raise Rejected(Code.TEXT_TOO_LONG, f"text must be at most {limit} characters", "text")
    d = data or MessageDataIn()
    if kind is BatType.VIBER_PROMO and d.carousel is not None:
        kind = BatType.VIBER_CAROUSEL  # D3: a viber_promo with a carousel is one
    if kind is BatType.SMS:
        return Content(text=text)
    if kind is BatType.VIBER_PROMO:
        return _promo(text, d)
    if kind is BatType.VIBER_TRANS:
        return Content(text=text, media=_file(d))
    if kind is BatType.VIBER_OTP:
        return Content(text=text, template=_template(d))
    if kind is BatType.VIBER_SURVEY:
        return Content(text=text, survey=_survey(d))
    if kind is BatType.VIBER_CAROUSEL:
        return Content(text=text, carousel=_viber_carousel(d))
    if kind is BatType.RCS:
        return _rcs(text, d)
    return Content(caller_id=_caller_id(d))


def _text_limit(kind: BatType) -> int | None:
    if kind is BatType.SMS or kind is BatType.FLASHCALL:
        return None  # SMS: any length, counted in parts; a flash call's text is not sent
    if kind is BatType.VIBER_SURVEY:
        return MAX_SURVEY_TEXT
    if kind is BatType.RCS:
        return MAX_RCS_TEXT
    return MAX_VIBER_TEXT


def _promo(text: str | None, d: MessageDataIn) -> Content:
    image, image_field = (d.image, "image") if d.image is not None else (d.img, "img")
    media: Media | None = None
    if image is not None:
        media = Media(MediaKind.IMAGE, _url(image, f"messageData.{image_field}"))
    if d.video is not None:
        if media is not None:
            raise _content_error("a promo carries an image or a video, not both", "video")
        if d.thumbnail is None:
            raise _content_error("a video needs its thumbnail", "thumbnail")
        for value, name in ((d.file_size, "fileSize"), (d.duration, "duration")):
            if value is not None and value < 1:
                raise _content_error(f"{name} must be positive", name)
        media = Media(
            MediaKind.VIDEO,
            _url(d.video, "messageData.video"),
            thumbnail_url=_url(d.thumbnail, "messageData.thumbnail"),
            size_bytes=d.file_size,
            duration_s=d.duration,
        )
    buttons: tuple[Button, ...] = ()
    if d.button is not None:
        label, url, fields = d.button.text, d.button.url, ("button.text", "button.url")
    else:
        label, url, fields = d.button_text, d.button_action, ("buttonText", "buttonAction")
    if label is not None or url is not None:
        if not label:
            raise _content_error("a button needs its text", fields[0])
        if url is None:
            raise _content_error("a button needs its URL", fields[1])
        buttons = (_url_button(label, url, f"messageData.{fields[0]}", fields[1]),)
    return Content(text=text, media=media, buttons=buttons)


def _url_button(label: str, url: str, label_field: str, url_field: str) -> Button:
    _no_nul(label, label_field)
    if len(label) > MAX_BUTTON_TEXT:
        raise Rejected(
            Code.INVALID_CONTENT,
            f"a button's text must be at most {MAX_BUTTON_TEXT} characters",
            label_field,
        )
    target = _url(url, f"messageData.{url_field}")
    return Button(label, Action(ActionKind.OPEN_URL, url=target))


def _file(d: MessageDataIn) -> Media | None:
    if d.file_url is None:
        if d.file_name is not None or d.file_type is not None:
            raise _content_error("a file needs its fileUrl", "fileUrl")
        return None
    url = _url(d.file_url, "messageData.fileUrl")
    name = d.file_name or url.rsplit("/", 1)[-1].split("?", 1)[0]
    if not name:
        raise _missing("messageData.fileName")
    _no_nul(name, "messageData.fileName")
    if len(name) > MAX_FILE_NAME:
        raise _content_error(f"fileName must be at most {MAX_FILE_NAME} characters", "fileName")
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    file_type = (d.file_type or extension).lower().lstrip(".")
    if file_type not in FILE_TYPES:
        raise _content_error(f"fileType must be one of {', '.join(sorted(FILE_TYPES))}", "fileType")
    return Media(MediaKind.FILE, url, file_name=name, file_type=file_type)


def _template(d: MessageDataIn) -> Template:
    if d.template_id is None:
        raise _missing("messageData.templateId")
    template = OTP_TEMPLATES.get(d.template_id.lower())
    if template is None:
        raise _content_error("no such OTP template", "templateId")
    lang = d.template_lang or template.languages[0]
    if lang not in template.languages:
        raise _content_error(
            f"the template has no text in {lang!r}: {', '.join(template.languages)}",
            "templateLang",
        )
    params = {name: str(value) for name, value in (d.template_params or {}).items()}
    for name in sorted(template.required):
        if not params.get(name):
            raise _missing(f"messageData.templateParams.{name}")
    for name, value in params.items():
        if name not in PARAMETERS:
            raise _content_error(f"unknown template parameter {name!r}", f"templateParams.{name}")
        _no_nul(value, f"messageData.templateParams.{name}")
    pin = params[PIN]
    if len(pin) > MAX_PIN:
        raise _content_error(f"pin must be at most {MAX_PIN} characters", f"templateParams.{PIN}")
    return Template(template.id, lang, params)


def _survey(d: MessageDataIn) -> tuple[str, ...]:
    spellings: tuple[tuple[Sequence[str] | None, str], ...] = (
        (d.survey.options if d.survey is not None else None, "survey.options"),
        (d.options, "options"),
        (d.survey_options, "surveyOptions"),
    )
    options, field = next(((o, f) for o, f in spellings if o is not None), (None, ""))
    if options is None:
        raise _missing("messageData.survey.options")
    low, high = SURVEY_OPTIONS
    if not low <= len(options) <= high:
        raise _content_error(f"a survey has {low}-{high} options", field)
    for index, option in enumerate(options):
        _no_nul(option, f"messageData.{field}[{index}]")
        if not 1 <= len(option) <= MAX_SURVEY_OPTION:
            raise _content_error(
                f"each survey option must be 1-{MAX_SURVEY_OPTION} characters",
                f"{field}[{index}]",
            )
    return tuple(options)


def _viber_carousel(d: MessageDataIn) -> tuple[Card, ...]:
    items = d.carousel.items if d.carousel is not None else None
    if items is None:
        raise _missing("messageData.carousel.items")
    low, high = CAROUSEL_ITEMS
    if not low <= len(items) <= high:
        raise _content_error(f"a carousel has {low}-{high} items", "carousel.items")
    return tuple(_carousel_item(item, f"carousel.items[{i}]") for i, item in enumerate(items))


def _carousel_item(item: CarouselItemIn, at: str) -> Card:
    if not item.title:
        raise _missing(f"messageData.{at}.title")
    _no_nul(item.title, f"messageData.{at}.title")
    if len(item.title) > MAX_CAROUSEL_TITLE:
        raise _content_error(
            f"a carousel item's title must be at most {MAX_CAROUSEL_TITLE} characters",
            f"{at}.title",
        )
    if item.image_url is None:
        raise _missing(f"messageData.{at}.imageUrl")
    image = Media(MediaKind.IMAGE, _url(item.image_url, f"messageData.{at}.imageUrl"))
    if item.primary_button is None:
        raise _missing(f"messageData.{at}.primaryButton")
    buttons = []
    for button, name in (
        (item.primary_button, "primaryButton"),
        (item.secondary_button, "secondaryButton"),
    ):
        if button is None:
            continue
        if not button.label:
            raise _missing(f"messageData.{at}.{name}.label")
        if button.action_url is None:
            raise _content_error("a button needs its URL", f"{at}.{name}.actionUrl")
        buttons.append(
            _url_button(
                button.label,
                button.action_url,
                f"messageData.{at}.{name}.label",
                f"{at}.{name}.actionUrl",
            )
        )
    return Card(title=item.title, media=image, buttons=tuple(buttons))


def _rcs(text: str | None, d: MessageDataIn) -> Content:
    chips = _rcs_buttons(d.suggestions, "suggestions", MAX_CHIPS) if d.suggestions else ()
    if d.carousel is not None:
        cards = d.carousel.cards
        if cards is None:
            raise _missing("messageData.carousel.cards")
        low, high = RCS_CARDS
        if not low <= len(cards) <= high:
            raise _content_error(f"an RCS carousel has {low}-{high} cards", "carousel.cards")
        return Content(
            text=text,
            carousel=tuple(_card(c, f"carousel.cards[{i}]") for i, c in enumerate(cards)),
            suggestions=chips,
        )
    if d.media is not None:
        # a standalone rich card: the text is its description, the buttons its own
        card_buttons = _rcs_buttons(d.buttons, "buttons", MAX_CARD_BUTTONS) if d.buttons else ()
        media = _rcs_media(d.media, "media")
        return Content(text=text, media=media, buttons=card_buttons, suggestions=chips)
    if d.buttons:  # buttons under a plain message are chips
        chips = _rcs_buttons(d.buttons, "buttons", MAX_CHIPS) + chips
        if len(chips) > MAX_CHIPS:
            raise _content_error(f"at most {MAX_CHIPS} suggestions", "buttons")
    if text is None:
        raise _missing("text")
    return Content(text=text, suggestions=chips)


def _card(card: CardIn, at: str) -> Card:
    for value, name, limit in (
        (card.title, "title", MAX_CARD_TITLE),
        (card.description, "description", MAX_CARD_DESCRIPTION),
    ):
        if value is not None:
            _no_nul(value, f"messageData.{at}.{name}")
            if len(value) > limit:
                raise _content_error(f"{name} must be at most {limit} characters", f"{at}.{name}")
    if not (card.title or card.description or card.media):
        raise _missing(f"messageData.{at}.title")
    media = _rcs_media(card.media, f"{at}.media") if card.media is not None else None
    buttons = _rcs_buttons(card.buttons, f"{at}.buttons", MAX_CARD_BUTTONS) if card.buttons else ()
    return Card(card.title, card.description, media, buttons)


def _rcs_media(media: MediaIn, at: str) -> Media:
    if media.url is None:
        raise _missing(f"messageData.{at}.url")
    url = _url(media.url, f"messageData.{at}.url")
    kind_name = (media.type or "image").lower().split("/", 1)[0]
    if kind_name not in ("image", "video"):
        raise _content_error("media type must be image or video", f"{at}.type")
    height = media.height.upper() if media.height else None
    if height is not None and height not in CARD_HEIGHTS:
        raise _content_error("height must be SHORT, MEDIUM or TALL", f"{at}.height")
    width = media.width.upper() if media.width else None
    if width is not None and width not in CARD_WIDTHS:
        raise _content_error("width must be SMALL or MEDIUM", f"{at}.width")
    thumbnail = _url(media.thumbnail, f"messageData.{at}.thumbnail") if media.thumbnail else None
    kind = MediaKind.VIDEO if kind_name == "video" else MediaKind.IMAGE
    return Media(kind, url, thumbnail_url=thumbnail, height=height, width=width)


def _rcs_buttons(buttons: list[RcsButtonIn], at: str, limit: int) -> tuple[Button, ...]:
    if len(buttons) > limit:
        raise _content_error(f"at most {limit} buttons here", at)
    return tuple(_rcs_button(b, f"{at}[{i}]") for i, b in enumerate(buttons))


def _rcs_button(button: RcsButtonIn, at: str) -> Button:
    if not button.text:
        raise _missing(f"messageData.{at}.text")
    _no_nul(button.text, f"messageData.{at}.text")
    if len(button.text) > MAX_SUGGESTION_TEXT:
        raise _content_error(
            f"a suggestion's text must be at most {MAX_SUGGESTION_TEXT} characters", f"{at}.text"
        )
    action = button.action or ActionIn(type="reply")
    return Button(button.text, _action(action, f"{at}.action"))


def _action(action: ActionIn, at: str) -> Action:
    if action.type is None:
        raise _missing(f"messageData.{at}.type")
    kind = RCS_ACTIONS.get(action.type)
    if kind is None:
        raise _content_error(f"action type must be one of {', '.join(RCS_ACTIONS)}", f"{at}.type")
    if kind is ActionKind.OPEN_URL:
        if action.url is None:
            raise _content_error("an openUrl action needs its url", f"{at}.url")
        return Action(kind, url=_url(action.url, f"messageData.{at}.url"))
    if kind is ActionKind.DIAL:
        if action.phone_number is None:
            raise _content_error("a dial action needs its phoneNumber", f"{at}.phoneNumber")
        number = action.phone_number
        number = number if number.startswith("+") else "+" + number
        if not is_e164(number):
            raise _content_error("phoneNumber must be a phone number", f"{at}.phoneNumber")
        return Action(kind, phone=number)
    if kind is ActionKind.CREATE_CALENDAR_EVENT:
        for value, name in (
            (action.title, "title"),
            (action.start_time, "startTime"),
            (action.end_time, "endTime"),
        ):
            if not value:
                raise _content_error(f"a calendar event needs its {name}", f"{at}.{name}")
            _no_nul(value, f"messageData.{at}.{name}")
        if action.description is not None:
            _no_nul(action.description, f"messageData.{at}.description")
        return Action(
            kind,
            title=action.title,
            description=action.description,
            start=action.start_time,
            end=action.end_time,
        )
    return Action(kind)


def _caller_id(d: MessageDataIn) -> str | None:
    if d.caller_id is None:
        return None
    value = str(d.caller_id) if isinstance(d.caller_id, int) else d.caller_id
    number = value if value.startswith("+") else "+" + value
    if not is_e164(number):
        raise _content_error("callerId must be a phone number", "callerId")
    return number


# --- the faults ---------------------------------------------------------------------------


def _url(value: str, field: str) -> str:
    if not is_absolute_http_url(value):
        raise Rejected(Code.INVALID_CONTENT, "must be an absolute http(s) URL", field)
    return value


def _no_nul(value: str, field: str) -> None:
    """NUL is valid in JSON strings but in no message, and PostgreSQL cannot store it."""
    if "\x00" in value:
        raise _format("NUL characters are not allowed", field)


def _content_error(message: str, field: str) -> Rejected:
    return Rejected(Code.INVALID_CONTENT, message, f"messageData.{field}")


def _format(message: str, field: str) -> Rejected:
    return Rejected(Code.INVALID_FORMAT, message, field)


def _missing(field: str) -> Rejected:
    return Rejected(Code.MISSING_FIELD, f"Missing required field: '{field}'", field)
