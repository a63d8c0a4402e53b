"""Variable placeholders (`%name=N%`, `%url=N%`, `%short_url=N%`) and their rendering.

Rendering happens once, at acceptance: the stored text is a snapshot, so later uploads of
account variables never change a queued message. Every `%short_url=N%` becomes a link of
its own message (`{public base URL}/s/{code}`), so a click is attributable to one message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cascade.domain.errors import RequestRejected

KINDS = ("name", "url", "short_url")
UNTYPED = ""  # the key type of a variable given without a "type" (seed 000)

_PLACEHOLDER = re.compile(r"%(name|url|short_url)=([0-9]+)%")

VariableKey = tuple[str, int]  # (type or UNTYPED, id)


class RawVariable(Protocol):
    @property
    def id(self) -> int | float | str: ...
    @property
    def value(self) -> str: ...
    @property
    def type(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ShortLink:
    code: str
    url: str


MAX_VARIABLE_ID = 2**31 - 1


def whole_number(value: int | float, field: str) -> int:
    """A JSON number that must be whole: 60 and 60.0 are 60 (JSON Schema's `integer` says
    so too), 60.5 is refused."""
    if isinstance(value, float):
        if not value.is_integer():
            raise RequestRejected("INVALID_TYPE", "Expected `int`, got `float`", field)
        return int(value)
    return value


def variable_key(raw_id: int | float | str, raw_type: str | None) -> VariableKey:
    """The (type, id) key of a variable; raises when the id or type is not one we know."""
    if isinstance(raw_id, float):
        raw_id = whole_number(raw_id, "id")
    if isinstance(raw_id, str):
        if not (raw_id.isascii() and raw_id.isdigit()):
            raise RequestRejected("INVALID_VARIABLE", "Variable id must be an integer", "id")
        # int() of thousands of digits is refused (and slow); no id needs more than ten
        raw_id = int(raw_id) if len(raw_id.lstrip("0")) <= 10 else MAX_VARIABLE_ID + 1
    if not 0 <= raw_id <= MAX_VARIABLE_ID:
        raise RequestRejected("INVALID_VARIABLE", f"Variable id must be 0-{MAX_VARIABLE_ID}", "id")
    if raw_type is None or raw_type == "":
        return (UNTYPED, raw_id)
    if raw_type not in KINDS:
        raise RequestRejected(
            "INVALID_VARIABLE", "Variable type must be one of name, url, short_url", "type"
        )
    return (raw_type, raw_id)


def inline_variables(raw: Iterable[RawVariable]) -> dict[VariableKey, str]:
    found: dict[VariableKey, str] = {}
    for index, var in enumerate(raw):
        try:
            found[variable_key(var.id, var.type)] = var.value
        except RequestRejected as err:
            raise err.at(f"variables[{index}]") from None
    return found


def has_placeholder(text: str) -> bool:
    return "%" in text and _PLACEHOLDER.search(text) is not None


# An absolute http(s) URL with a host, and no whitespace or control character anywhere.
# The rule is this pattern (the OpenAPI document carries it too), so what the document
# says and what the server does cannot differ.
_URL_CHAR = r"[^\s\x00-\x1f\x7f-\x9f]"
HTTP_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://"
    rf"(?:(?:(?![/?#@]){_URL_CHAR})*@)?"  # user:password@
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:(?![/?#@:\[\]]){_URL_CHAR})+)"  # the host
    r"(?::[0-9]*)?"
    rf"(?:[/?#]{_URL_CHAR}*)?$"
)
_HTTP_URL = re.compile(HTTP_URL_PATTERN)


def is_absolute_http_url(value: str) -> bool:
    return _HTTP_URL.fullmatch(value) is not None  # not match: "$" allows a final newline


def render(
    text: str,
    inline: Mapping[VariableKey, str],
    account: Mapping[VariableKey, str],
    *,
    link_base: str,
    new_code: Callable[[], str],
    links: dict[str, ShortLink],
) -> str:
    """Replace every placeholder in `text`.

    Lookup order: inline typed, inline untyped, account typed, account untyped. Short
    links made for this message are collected in `links` (target URL → link), so one
    message's text and fallback share a link for the same target.
    """
    if "%" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        kind, ident = match.group(1), int(match.group(2))
        value = _lookup(kind, ident, inline, account)
        if value is None:
            raise RequestRejected(
                "UNKNOWN_VARIABLE", f"No value for placeholder %{kind}={ident}%", "text"
            )
        if kind != "short_url":
            return value
        if not is_absolute_http_url(value):
            raise RequestRejected(
                "INVALID_URL",
                f"Variable short_url={ident} must be an absolute http(s) URL",
                "variables",
            )
        link = links.get(value)
        if link is None:
            link = links[value] = ShortLink(new_code(), value)
        return f"{link_base}/s/{link.code}"

    return _PLACEHOLDER.sub(substitute, text)


def _lookup(
    kind: str, ident: int, inline: Mapping[VariableKey, str], account: Mapping[VariableKey, str]
) -> str | None:
    for layer in (inline, account):
        value = layer.get((kind, ident))
        if value is None:
            value = layer.get((UNTYPED, ident))
        if value is not None:
            return value
    return None
