"""What the console's pages are asked, as their query strings say it: the search's
filters and page, and the period a page of figures covers. Whatever a person typed is
kept as typed (the form shows it again, escaped) beside what it means; what cannot mean
anything is a problem shown on the page, never an error status."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cascade.domain.search import PER_PAGE, MessageQuery, phone_prefix
from cascade.domain.series import DAY_MS, HOUR_MS

MAX_TYPED = 255  # longer than any tracking id: cut, it could match nothing anyway
MAX_PAGE = 100_000

# the periods a page of figures offers, ending now
PERIODS: Mapping[str, int] = {
    "1h": HOUR_MS,
    "24h": DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
}
DEFAULT_PERIOD = "24h"


@dataclass(frozen=True, slots=True)
class Search:
    typed: Mapping[str, str]  # each filter as typed (trimmed), for the form
    query: MessageQuery
    page: int
    problems: tuple[str, ...] = ()
    filtered: bool = False  # whether any filter was given

    @property
    def per_page(self) -> int:
        return self.query.limit


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    since_ms: int
    until_ms: int
    problems: tuple[str, ...] = field(default=())


def _typed(params: Mapping[str, str], name: str) -> str:
    return params.get(name, "").strip()[:MAX_TYPED]


def _instant(typed: str) -> int | None:
    """A `datetime-local` value (or any ISO 8601 date and time), read as UTC unless it
    names its offset; epoch ms, or None when it is no time."""
    try:
        at = datetime.fromisoformat(typed)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return round(at.timestamp() * 1000)
    except (ValueError, OverflowError):
        return None


def search(
    params: Mapping[str, str], statuses: Collection[str], channels: Collection[str]
) -> Search:
    typed = {
        name: _typed(params, name)
        for name in ("phone", "tracking_id", "status", "channel", "since", "until")
    }
    problems: list[str] = []
    prefix = None
    if typed["phone"]:
        prefix = phone_prefix(typed["phone"])
        if prefix is None:
            problems.append("Phone: digits of an international number, e.g. +38050")
    if "\x00" in typed["tracking_id"]:  # no tracking id has one (PostgreSQL keeps none)
        problems.append("Tracking id: a character no tracking id has")
    status = typed["status"] or None
    if status is not None and status not in statuses:
        problems.append("Status: not one of the statuses listed")
    channel = typed["channel"] or None
    if channel is not None and channel not in channels:
        problems.append("Channel: not one of the channels listed")
    bounds: dict[str, int | None] = {}
    for name, label in (("since", "From"), ("until", "Until")):
        bounds[name] = _instant(typed[name]) if typed[name] else None
        if typed[name] and bounds[name] is None:
            problems.append(f"{label}: not a date and time")
    page = _page(params.get("page", "1"))
    if problems:  # a filter that means nothing finds nothing, rather than everything
        query = MessageQuery(tracking_id="", limit=PER_PAGE)
    else:
        query = MessageQuery(
            phone_prefix=prefix,
            tracking_id=typed["tracking_id"] or None,
            status=status,
            channel=channel,
            since_ms=bounds["since"],
            until_ms=bounds["until"],
            offset=(page - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
    return Search(typed, query, page, tuple(problems), any(typed.values()))


def _page(typed: str) -> int:
    try:
        page = int(typed)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def period(params: Mapping[str, str], now_ms: int) -> Period:
    name = params.get("period", DEFAULT_PERIOD)
    problems: tuple[str, ...] = ()
    if name not in PERIODS:
        name, problems = DEFAULT_PERIOD, (f"Period: one of {', '.join(PERIODS)}",)
    # until is exclusive: a message accepted this very millisecond is in
    return Period(name, now_ms + 1 - PERIODS[name], now_ms + 1, problems)
