"""Placeholders and their rendering (SPEC A6): `render`, `inline_variables`, short links."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest

from cascade.api.wire import VariableIn
from cascade.domain.errors import RequestRejected
from cascade.domain.variables import (
    UNTYPED,
    ShortLink,
    VariableKey,
    has_placeholder,
    inline_variables,
    is_absolute_http_url,
    render,
)

LINK_BASE = "https://go.cascade.test"


class Codes:
    """A deterministic code generator that counts its calls."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"C{next(self._counter):06d}"


def run(
    text: str,
    inline: Mapping[VariableKey, str] | None = None,
    account: Mapping[VariableKey, str] | None = None,
    *,
    codes: Codes | None = None,
    links: dict[str, ShortLink] | None = None,
) -> str:
    return render(
        text,
        inline or {},
        account or {},
        link_base=LINK_BASE,
        new_code=codes or Codes(),
        links={} if links is None else links,
    )


def failure(
    text: str,
    inline: Mapping[VariableKey, str] | None = None,
    account: Mapping[VariableKey, str] | None = None,
) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        run(text, inline, account)
    return caught.value


# --- text that needs no rendering ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Plain text",
        "",
        "50% off, 100% sure",
        "%",
        "%%",
        "%name%",
        "%name=%",
        "%name=x%",
        "%phone=1%",
        "%NAME=1%",
        "name=1",
        "% name=1 %",
        "%name=-1%",
    ],
)
def test_text_without_placeholders_untouched(text: str) -> None:
    codes = Codes()
    links: dict[str, ShortLink] = {}
    assert run(text, codes=codes, links=links) == text
    assert codes.calls == 0
    assert links == {}
    assert not has_placeholder(text)


def test_text_without_percent_is_returned_as_is() -> None:
    text = "No variables here at all"
    assert run(text, {(UNTYPED, 1): "x"}) is text


# --- typed and untyped matching -----------------------------------------------------------

MATCHING: list[tuple[str, dict[VariableKey, str], str, str]] = [
    ("typed name", {("name", 1): "John"}, "Hi %name=1%", "Hi John"),
    ("typed url", {("url", 2): "12345"}, "Order #%url=2%", "Order #12345"),
    ("untyped fills name", {(UNTYPED, 1): "John"}, "Hi %name=1%", "Hi John"),
    ("untyped fills url", {(UNTYPED, 1): "John"}, "Hi %url=1%", "Hi John"),
    (
        "untyped fills both",
        {(UNTYPED, 1): "v"},
        "%name=1% and %url=1%",
        "v and v",
    ),
    (
        "typed beats untyped of same id",
        {("name", 1): "typed", (UNTYPED, 1): "untyped"},
        "%name=1%/%url=1%",
        "typed/untyped",
    ),
    (
        "several ids",
        {("name", 1): "A", ("name", 2): "B", ("url", 3): "C"},
        "%name=2%%name=1%%url=3%",
        "BAC",
    ),
    ("leading zeros in id", {("name", 7): "seven"}, "%name=007%", "seven"),
    ("empty value", {("name", 1): ""}, "[%name=1%]", "[]"),
    ("percent around", {("name", 1): "x"}, "100%%name=1%%", "100%x%"),
    (
        "value looking like a placeholder is not re-rendered",
        {("name", 1): "%name=2%"},
        "%name=1%",
        "%name=2%",
    ),
    ("unicode value", {("name", 1): "Олена"}, "Привіт, %name=1%!", "Привіт, Олена!"),
    ("url value as given", {("url", 1): "not a url at all"}, "%url=1%", "not a url at all"),
]


@pytest.mark.parametrize(
    ("inline", "text", "expected"),
    [pytest.param(i, t, e, id=name) for name, i, t, e in MATCHING],
)
def test_inline_matching(inline: dict[VariableKey, str], text: str, expected: str) -> None:
    assert run(text, inline) == expected


@pytest.mark.parametrize(
    ("inline", "text"),
    [
        pytest.param({("name", 1): "John"}, "%url=1%", id="name does not fill url"),
        pytest.param({("url", 1): "x"}, "%name=1%", id="url does not fill name"),
        pytest.param({("url", 1): "https://a.example"}, "%short_url=1%", id="url not short_url"),
        pytest.param(
            {("short_url", 1): "https://a.example"}, "%url=1%", id="short_url does not fill url"
        ),
        pytest.param({("name", 1): "John"}, "%name=2%", id="other id"),
        pytest.param({}, "Hi %name=1%", id="nothing at all"),
    ],
)
def test_typed_variable_matches_only_its_type(inline: dict[VariableKey, str], text: str) -> None:
    err = failure(text, inline)
    assert (err.code, err.field) == ("UNKNOWN_VARIABLE", "text")


def test_unknown_variable_names_the_placeholder() -> None:
    err = failure("Hi %name=1%, order %url=42%", {("name", 1): "A"})
    assert err.code == "UNKNOWN_VARIABLE"
    assert "%url=42%" in err.message


# --- inline against account ---------------------------------------------------------------

LAYERS: list[tuple[str, dict[VariableKey, str], dict[VariableKey, str], str]] = [
    ("inline typed beats account typed", {("name", 1): "in"}, {("name", 1): "acct"}, "in"),
    ("inline untyped beats account typed", {(UNTYPED, 1): "in"}, {("name", 1): "acct"}, "in"),
    ("inline typed beats account untyped", {("name", 1): "in"}, {(UNTYPED, 1): "acct"}, "in"),
    ("inline untyped beats account untyped", {(UNTYPED, 1): "in"}, {(UNTYPED, 1): "acct"}, "in"),
    ("account typed used", {}, {("name", 1): "acct"}, "acct"),
    ("account untyped used", {}, {(UNTYPED, 1): "acct"}, "acct"),
    ("account used when inline is other type", {("url", 1): "in"}, {("name", 1): "acct"}, "acct"),
    ("account used when inline is other id", {("name", 2): "in"}, {("name", 1): "acct"}, "acct"),
    (
        "account typed beats account untyped",
        {},
        {("name", 1): "typed", (UNTYPED, 1): "untyped"},
        "typed",
    ),
]


@pytest.mark.parametrize(
    ("inline", "account", "expected"),
    [pytest.param(i, a, e, id=name) for name, i, a, e in LAYERS],
)
def test_inline_beats_account(
    inline: dict[VariableKey, str], account: dict[VariableKey, str], expected: str
) -> None:
    assert run("%name=1%", inline, account) == expected


def test_account_typed_variable_matches_only_its_type() -> None:
    err = failure("%url=1%", {}, {("name", 1): "acct"})
    assert err.code == "UNKNOWN_VARIABLE"


# --- short links --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://example.com/",
        "https://shop.example/orders/12345?utm=sms#top",
        "https://user:pw@example.com:8443/x",
        "HTTPS://Example.COM/Path",
        "http://127.0.0.1:8000/a",
        "https://[2001:db8::1]/x",
    ],
)
def test_short_url_accepts_absolute_http_urls(url: str) -> None:
    codes = Codes()
    links: dict[str, ShortLink] = {}
    out = run("Track: %short_url=1%", {("short_url", 1): url}, codes=codes, links=links)
    assert out == f"Track: {LINK_BASE}/s/C000001"
    assert links == {url: ShortLink("C000001", url)}
    assert codes.calls == 1
    assert is_absolute_http_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com",
        "www.example.com/x",
        "/relative/path",
        "//example.com/x",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "https://",
        "http:///path",
        "https://exa mple.com",
        " https://example.com",
        "https://example.com/\n",
        "12345",
    ],
)
def test_short_url_requires_absolute_http_url(url: str) -> None:
    err = failure("Go %short_url=1%", {("short_url", 1): url})
    assert err.code == "INVALID_URL"
    assert not is_absolute_http_url(url)


def test_untyped_variable_fills_short_url_and_is_checked() -> None:
    assert run("%short_url=1%", {(UNTYPED, 1): "https://a.example"}) == f"{LINK_BASE}/s/C000001"
    assert failure("%short_url=1%", {(UNTYPED, 1): "12345"}).code == "INVALID_URL"


def test_untyped_non_url_is_fine_where_no_short_url() -> None:
    assert run("#%url=1%", {(UNTYPED, 1): "12345"}) == "#12345"


def test_account_short_url_variable() -> None:
    links: dict[str, ShortLink] = {}
    out = run("%short_url=3%", {}, {("short_url", 3): "https://acct.example"}, links=links)
    assert out == f"{LINK_BASE}/s/C000001"
    assert links == {"https://acct.example": ShortLink("C000001", "https://acct.example")}


def test_same_placeholder_twice_gives_one_link() -> None:
    codes = Codes()
    links: dict[str, ShortLink] = {}
    out = run(
        "%short_url=1% and again %short_url=1%",
        {("short_url", 1): "https://a.example/x"},
        codes=codes,
        links=links,
    )
    assert out == f"{LINK_BASE}/s/C000001 and again {LINK_BASE}/s/C000001"
    assert codes.calls == 1
    assert list(links.values()) == [ShortLink("C000001", "https://a.example/x")]


def test_two_variables_with_same_url_share_one_link() -> None:
    codes = Codes()
    out = run(
        "%short_url=1% %short_url=2%",
        {("short_url", 1): "https://a.example", ("short_url", 2): "https://a.example"},
        codes=codes,
    )
    assert out == f"{LINK_BASE}/s/C000001 {LINK_BASE}/s/C000001"
    assert codes.calls == 1


def test_different_targets_get_different_links() -> None:
    codes = Codes()
    links: dict[str, ShortLink] = {}
    out = run(
        "%short_url=1% %short_url=2%",
        {("short_url", 1): "https://a.example", ("short_url", 2): "https://b.example"},
        codes=codes,
        links=links,
    )
    assert out == f"{LINK_BASE}/s/C000001 {LINK_BASE}/s/C000002"
    assert links == {
        "https://a.example": ShortLink("C000001", "https://a.example"),
        "https://b.example": ShortLink("C000002", "https://b.example"),
    }


def test_links_already_made_for_the_message_are_reused() -> None:
    """The text and the fallback of one message share the `links` collection."""
    codes = Codes()
    links = {"https://a.example": ShortLink("EXISTING1", "https://a.example")}
    out = run("%short_url=1%", {("short_url", 1): "https://a.example"}, codes=codes, links=links)
    assert out == f"{LINK_BASE}/s/EXISTING1"
    assert codes.calls == 0


def test_short_link_next_to_other_placeholders() -> None:
    out = run(
        "Hi %name=1%, order %url=2%: %short_url=3%",
        {("name", 1): "Ann", ("url", 2): "77", ("short_url", 3): "https://t.example/77"},
    )
    assert out == f"Hi Ann, order 77: {LINK_BASE}/s/C000001"


def test_invalid_url_leaves_no_link_made_for_it() -> None:
    links: dict[str, ShortLink] = {}
    with pytest.raises(RequestRejected):
        run("%short_url=1%", {("short_url", 1): "nope"}, links=links)
    assert links == {}


# --- inline variables as they arrive on the wire ---------------------------------------------


def test_inline_variables_keys() -> None:
    found = inline_variables(
        [
            VariableIn(1, "John"),
            VariableIn(2, "12345", "url"),
            VariableIn("3", "https://a.example", "short_url"),
            VariableIn(4, "N", "name"),
            VariableIn(5, "empty type", ""),
        ]
    )
    assert found == {
        (UNTYPED, 1): "John",
        ("url", 2): "12345",
        ("short_url", 3): "https://a.example",
        ("name", 4): "N",
        (UNTYPED, 5): "empty type",
    }


def test_inline_variable_id_range() -> None:
    assert inline_variables([VariableIn(0, "a"), VariableIn(2**31 - 1, "b", "name")]) == {
        (UNTYPED, 0): "a",
        ("name", 2**31 - 1): "b",
    }


def test_inline_variables_last_value_wins_for_one_key() -> None:
    assert inline_variables([VariableIn(1, "a", "name"), VariableIn(1, "b", "name")]) == {
        ("name", 1): "b"
    }


def test_same_id_different_types_are_different_keys() -> None:
    found = inline_variables([VariableIn(1, "a", "name"), VariableIn(1, "b", "url")])
    assert run("%name=1%-%url=1%", found) == "a-b"


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        pytest.param([VariableIn(1, "x", "phone")], "variables[0].type", id="unknown type"),
        pytest.param([VariableIn(1, "x"), VariableIn("a", "y")], "variables[1].id", id="text id"),
        pytest.param([VariableIn("-1", "x")], "variables[0].id", id="negative id text"),
        pytest.param([VariableIn(1, "x", "URL")], "variables[0].type", id="type case"),
        pytest.param([VariableIn(-1, "x")], "variables[0].id", id="negative id"),
        pytest.param([VariableIn(2**31, "x")], "variables[0].id", id="id beyond int32"),
        pytest.param([VariableIn(str(2**31), "x")], "variables[0].id", id="text id beyond int32"),
    ],
)
def test_inline_variables_rejects(variables: list[VariableIn], field: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        inline_variables(variables)
    assert (caught.value.code, caught.value.field) == ("INVALID_VARIABLE", field)
