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
from urllib.parse import urlsplit

from cascade.domain.errors import RequestRejected

KINDS = ("name", "url", "short_url")
UNTYPED = ""  # the key type of a variable given without a "type" (seed 000)

_PLACEHOLDER = re.compile(r"%(name|url|short_url)=([0-9]+)%")

VariableKey = tuple[str, int]  # (type or UNTYPED, id)


class RawVariable(Protocol):
    @property
    def id(self) -> int | str: ...
    @property
    def value(self) -> str: ...
    @property
    def type(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ShortLink:
    code: str
    url: str


MAX_VARIABLE_ID = 2**31 - 1


def variable_key(raw_id: int | str, raw_type: str | None) -> VariableKey:
    """The (type, id) key of a variable; raises when the id or type is not one we know."""
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


def is_absolute_http_url(value: str) -> bool:
    if any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


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
