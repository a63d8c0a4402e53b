"""The content model (`domain.content`): which kinds a content holds, how it is shaped for a
channel that carries only some of them, and a plan's round trip through its stored JSON."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    decode_plan,
    encode_plan,
)

K = ContentKind
TEXT_ONLY = frozenset({K.TEXT})
IMAGE = Media(MediaKind.IMAGE, "https://img.test/a.png")
SHOP = Button("Shop now", Action(ActionKind.OPEN_URL, url="https://shop.test/sale"))
CALL = Button("Call us", Action(ActionKind.DIAL, phone="+380501234567"))
YES = Button("Yes", Action(ActionKind.REPLY))
OTP = Template("5e0b0f2c-0000-4000-8000-000000000001", "en", {"pin": "1234"})


@pytest.mark.parametrize(
    ("content", "kinds"),
    [
        (Content(), set()),
        (Content(text=""), set()),
        (Content(text="Hi"), {K.TEXT}),
        (Content(text="Sale", media=IMAGE, buttons=(SHOP,)), {K.TEXT, K.IMAGE, K.BUTTONS}),
        (Content(media=Media(MediaKind.VIDEO, "https://v.test/a.mp4")), {K.VIDEO}),
        (Content(media=Media(MediaKind.FILE, "https://f.test/a.pdf")), {K.FILE}),
        (Content(carousel=(Card("A"), Card("B"))), {K.CAROUSEL}),
        (Content(template=OTP), {K.TEMPLATE}),
        (Content(text="How?", survey=("Good", "Bad")), {K.TEXT, K.SURVEY}),
        (Content(text="Hi", suggestions=(YES,)), {K.TEXT, K.SUGGESTIONS}),
        (Content(caller_id="+380441234567"), {K.CALLER_ID}),
    ],
)
def test_kinds_name_what_a_content_holds(content: Content, kinds: set[ContentKind]) -> None:
    assert content.kinds() == frozenset(kinds)


def test_content_a_channel_carries_whole_comes_back_unchanged() -> None:
    rich = Content(text="Sale", media=IMAGE, buttons=(SHOP,))
    assert rich.fit(frozenset({K.TEXT, K.IMAGE, K.BUTTONS, K.SURVEY})) is rich


@pytest.mark.parametrize(
    ("content", "carries", "fitted"),
    [
        # a survey where no keyboard exists: numbered lines under the question
        (
            Content(text="How was it?", survey=("Good", "Bad")),
            TEXT_ONLY,
            Content(text="How was it?\n1. Good\n2. Bad"),
        ),
        # a promo's image and button: the button's link (it wins over the image's)
        (
            Content(text="Sale!", media=IMAGE, buttons=(SHOP,)),
            TEXT_ONLY,
            Content(text="Sale!\nhttps://shop.test/sale"),
        ),
        # an image alone: its URL
        (
            Content(text="Look", media=IMAGE),
            TEXT_ONLY,
            Content(text="Look\nhttps://img.test/a.png"),
        ),
        # a link the text already shows is not repeated
        (
            Content(text="Sale at https://shop.test/sale", media=IMAGE, buttons=(SHOP,)),
            TEXT_ONLY,
            Content(text="Sale at https://shop.test/sale"),
        ),
        # a dial button: the number; a reply chip: nothing
        (
            Content(text="Questions?", buttons=(CALL,), suggestions=(YES,)),
            TEXT_ONLY,
            Content(text="Questions?\n+380501234567"),
        ),
        # a carousel: each card's title, description and link
        (
            Content(
                carousel=(
                    Card("Shoes", "Spring sale", IMAGE, (SHOP,)),
                    Card("Hats", media=Media(MediaKind.IMAGE, "https://img.test/h.png")),
                )
            ),
            TEXT_ONLY,
            Content(
                text="Shoes\nSpring sale\nhttps://shop.test/sale\nHats\nhttps://img.test/h.png"
            ),
        ),
        # a channel carrying the image but not the button keeps the image, links the button
        (
            Content(text="Sale!", media=IMAGE, buttons=(SHOP,)),
            frozenset({K.TEXT, K.IMAGE}),
            Content(text="Sale!\nhttps://shop.test/sale", media=IMAGE),
        ),
        # a caller id is the flash call's: other channels drop it
        (Content(text="Code", caller_id="+380441234567"), TEXT_ONLY, Content(text="Code")),
        # a channel without text (a flash call) keeps only what it carries
        (
            Content(text="ignored", caller_id="+380441234567"),
            frozenset({K.CALLER_ID}),
            Content(caller_id="+380441234567"),
        ),
        (Content(text="ignored"), frozenset({K.CALLER_ID}), Content()),
        # nothing can stand for a template
        (Content(template=OTP), TEXT_ONLY, None),
        (Content(text="x", template=OTP), frozenset({K.TEXT, K.IMAGE}), None),
    ],
)
def test_fit_folds_what_a_channel_cannot_carry_into_text(
    content: Content, carries: frozenset[ContentKind], fitted: Content | None
) -> None:
    assert content.fit(carries) == fitted


def test_survey_lines_number_the_options_from_one() -> None:
    survey = Content(text="Q", survey=("Yes", "No", "Not yet"))
    assert survey.survey_lines() == ["1. Yes", "2. No", "3. Not yet"]


def test_a_stored_plan_is_compact_and_comes_back_equal() -> None:
    plan = (
        Step("viber_business", Content(text="Sale", media=IMAGE, buttons=(SHOP,)), "promo"),
        Step("sms", Content(text="Sale: https://shop.test/sale"), wire_type="sms"),
    )
    stored = encode_plan(plan)
    assert decode_plan(stored) == plan
    assert decode_plan(stored.encode()) == plan
    # empty fields are left out of the row
    assert "null" not in stored
    assert '"carousel"' not in stored
    assert '"wire_type":"sms"' in stored


def test_a_stored_plan_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_plan('[{"channel": "sms"}]')


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_url = st.sampled_from(["https://a.test/1", "https://b.test/2", "http://c.test/3"])
_action = st.one_of(
    st.builds(Action, st.just(ActionKind.OPEN_URL), url=_url),
    st.builds(Action, st.just(ActionKind.DIAL), phone=st.just("+380501234567")),
    st.builds(Action, st.just(ActionKind.REPLY)),
)
_button = st.builds(Button, _text, _action)
_media = st.builds(Media, st.sampled_from(MediaKind), _url)
_content = st.builds(
    Content,
    text=st.none() | _text,
    media=st.none() | _media,
    buttons=st.lists(_button, max_size=3).map(tuple),
    carousel=st.lists(
        st.builds(Card, st.none() | _text, st.none() | _text, _media), max_size=3
    ).map(tuple),
    survey=st.lists(_text.filter(bool), max_size=5).map(tuple),
    suggestions=st.lists(_button, max_size=3).map(tuple),
    caller_id=st.none() | st.just("+380441234567"),
)
_carries = st.frozensets(st.sampled_from(ContentKind)).map(lambda k: k | {K.TEXT})


@given(_content, _carries)
def test_fitted_content_holds_only_what_the_channel_carries(
    content: Content, carries: frozenset[ContentKind]
) -> None:
    fitted = content.fit(carries)
    assert fitted is not None  # no template: something always stands for it
    assert fitted.kinds() <= carries
    # nothing the channel carries is lost, and the text only grows
    assert fitted.text is None or content.text is None or fitted.text.startswith(content.text)
    if content.kinds() <= carries:
        assert fitted is content


@given(_content)
def test_any_content_round_trips_through_its_stored_json(content: Content) -> None:
    plan = (Step("rcs", content),)
    assert decode_plan(encode_plan(plan)) == plan
