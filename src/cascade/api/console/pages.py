"""The console's pages: Jinja2 templates kept as package data beside this module,
rendered with autoescaping on for every template, so whatever a person or a client sent
(a tracking id, a text, a search) is shown as text, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from cascade.domain.prices import format_price


def when(ms: int | None) -> str:
    """An instant as the console shows it: UTC, to the second."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1_000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


def money(amount: Decimal, currency: str | None) -> str:
    """An amount in the table's currency, as its prices are written (no float)."""
    return f"{format_price(amount)} {currency}" if currency else format_price(amount)


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


_environment = Environment(
    loader=PackageLoader("cascade.api.console", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,  # a name a template misspells fails its test, not silently
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(when=when, duration=duration, money=money, percent=percent)


def render(template: str, **context: Any) -> str:
    return _environment.get_template(template).render(**context)
