"""Cascade's metrics in Prometheus's text format (SPEC F), through prometheus-client.

`Metrics` is the `Observer` the composition root hands to the API, the engine and the
store; they count into it as things happen (counters and histograms: a dictionary look-up
and a locked add each). What is a state rather than an event is read when scraped: the
due backlog and ChatHub's chats from the store (at most once a second per process), the
SMPP window from its channel. Every series and what to alert on: docs/operations.md.

Several API processes (`cascade api --workers N`) count in prometheus-client's
multiprocess mode: each process writes its values to files in `PROMETHEUS_MULTIPROC_DIR`,
which `cascade api` creates and removes, and a scrape of any process answers the sum of
all of them. That directory must be set before prometheus-client is imported, which is
why no module but this one imports it, and only the composition root imports this.

The `account` label is bounded (`CASCADE_METRICS_ACCOUNT_LABELS`): a process labels the
first N accounts it sees with their ids and every later one `other`, so a million
accounts cannot make a million series. Labels never carry a phone number, a key, a token
or a name: only account ids, channel names, outcomes and route templates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cascade.clock import Clock
from cascade.domain.chats import ChatStatus
from cascade.store.base import StoreFigures

M = TypeVar("M", Counter, Histogram)

log = logging.getLogger(__name__)

OTHER_ACCOUNT = "other"
STORE_READ_EVERY_S = 1.0  # scrapes within this share one read of the store
# how long a scrape waits for a read of the store before it answers with the figures
# before (a busy database must not make scrapes slow, or time out)
STORE_WAIT_S = 0.02

# seconds; a report comes within 0.1 s (a simulator) to the window's end (SMS: an hour)
STEP_REPORT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FIRST_RESPONSE_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

ReadFigures = Callable[[int, Sequence[int]], Awaitable[StoreFigures]]
Window = Callable[[], tuple[int, int]]


class AccountLabels:
    """The `account` label's value: the account's id for the first `cap` accounts seen,
    `other` for the rest (0: every account is `other`)."""

    def __init__(self, cap: int) -> None:
        self._cap = max(0, cap)
        self._known: set[str] = set()

    def of(self, account_id: str) -> str:
        if account_id in self._known:
            return account_id
        if len(self._known) < self._cap:
            self._known.add(account_id)
            return account_id
        return OTHER_ACCOUNT


class _Labelled(Generic[M]):
    """A labelled series whose children are kept once made: the hot paths (a send, a
    request, a report) pay one dictionary look-up, not the library's locked one."""

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class Metrics:
    """Every series; an `Observer` to count into and an `Exposition` to scrape."""

    # the classic text format, which every Prometheus reads (the library answers it too)
    content_type = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(
        self,
        clock: Clock,
        *,
        account_labels: int = 100,
        multiprocess_dir: str | None = None,
        store_wait_s: float | None = STORE_WAIT_S,
    ) -> None:
        """`multiprocess_dir`: the `PROMETHEUS_MULTIPROC_DIR` of several API processes
        (then a scrape answers the sum of all of them); `store_wait_s`: how long a scrape
        waits for the store's figures (None: until they are read)."""
        self._clock = clock
        self._accounts = AccountLabels(account_labels)
        self._multiprocess_dir = multiprocess_dir
        self._registry = CollectorRegistry()
        r = self._registry
        self._accepted = _Labelled(
            Counter(
                "cascade_messages_accepted",
                "Messages committed at intake, by account (repeats of a request not counted).",
                ["account"],
                registry=r,
            )
        )
        self._refused = _Labelled(
            Counter(
                "cascade_rate_limit_refusals",
                "Requests refused with 429, by account and bucket (send, status).",
                ["account", "kind"],
                registry=r,
            )
        )
        self._attempts = _Labelled(
            Counter(
                "cascade_attempts",
                "Sends by channel and what they came to.",
                ["channel", "outcome"],
                registry=r,
            )
        )
        self._throttled = _Labelled(
            Counter(
                "cascade_throttle_pauses",
                "Times a provider asked a sender to slow down and it was paused, by channel.",
                ["channel"],
                registry=r,
            )
        )
        self._step_report = _Labelled(
            Histogram(
                "cascade_step_report_seconds",
                "From a step's send to the delivery report that ended it, by channel and outcome.",
                ["channel", "outcome"],
                buckets=STEP_REPORT_BUCKETS,
                registry=r,
            )
        )
        self._webhooks = _Labelled(
            Counter(
                "cascade_webhook_deliveries",
                "Status-webhook POSTs: delivered (2xx) or failed (retried later).",
                ["outcome"],
                registry=r,
            )
        )
        self._http = _Labelled(
            Histogram(
                "cascade_http_request_duration_seconds",
                "HTTP requests by method, route template and status, from routing to the answer.",
                ["method", "route", "status"],
                buckets=HTTP_BUCKETS,
                registry=r,
            )
        )
        self._scraped = _Scraped(clock, store_wait_s)
        self._registry.register(self._scraped)

    # --- what is read when scraped --------------------------------------------------------

    def watch_store(self, read: ReadFigures) -> None:
        """Read the backlog and the chats with `read` when scraped (the SQL store's
        `figures`)."""
        self._scraped.read = read

    def watch_windows(self, windows: Mapping[str, Window]) -> None:
        """Report these channels' windows (`channels.base.Windowed.window`) when scraped."""
        self._scraped.windows = dict(windows)

    # --- Observer -------------------------------------------------------------------------

    def accepted(self, account_id: str, count: int) -> None:
        if count <= 0:
            return
        self._accepted.labels(self._accounts.of(account_id)).inc(count)

    def rate_limited(self, account_id: str, kind: str) -> None:
        self._refused.labels(self._accounts.of(account_id), kind).inc()

    def attempt(self, channel: str, outcome: str) -> None:
        self._attempts.labels(channel, outcome).inc()

    def throttled(self, channel: str) -> None:
        self._throttled.labels(channel).inc()

    def step_reported(self, channel: str, outcome: str, seconds: float) -> None:
        self._step_report.labels(channel, outcome).observe(seconds)

    def webhook_delivery(self, delivered: bool) -> None:
        self._webhooks.labels("delivered" if delivered else "failed").inc()

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._http.labels(method, route, str(status)).observe(seconds)

    # --- Exposition -----------------------------------------------------------------------

    async def render(self) -> bytes:
        """Every series in the text format: this process's, or with several API
        processes all of theirs summed; the store's figures read first if due."""
        await self._scraped.refresh()
        if self._multiprocess_dir is None:
            return _generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, self._multiprocess_dir)  # type: ignore[no-untyped-call]
        registry.register(self._scraped)
        return _generate_latest(registry)


class _Scraped(Collector):
    """The series that are states, not events: read when scraped."""

    def __init__(self, clock: Clock, wait_s: float | None) -> None:
        self._clock = clock
        self._wait_s = wait_s
        self.read: ReadFigures | None = None
        self.windows: dict[str, Window] = {}
        self._figures: StoreFigures | None = None
        self._now_ms = 0  # when the figures were read
        self._read_at: float | None = None
        self._reading: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Start a read of the store if the last is a second old, and wait for it: the
        first time in full, later for at most `wait_s` (a read that takes longer lands for
        the next scrape, and this one answers with the figures before)."""
        if self.read is None:
            return
        now = self._clock.monotonic()
        stale = self._read_at is None or now - self._read_at >= STORE_READ_EVERY_S
        if stale and self._reading is None:
            self._read_at = now
            self._reading = asyncio.ensure_future(self._read(self.read))
        reading = self._reading
        if reading is None:
            return
        first = self._figures is None
        await asyncio.wait({reading}, timeout=None if first else self._wait_s)

    async def _read(self, read: ReadFigures) -> None:
        now_ms = self._clock.now_ms()
        bounds = [int(b * 1000) for b in FIRST_RESPONSE_BUCKETS]
        try:
            figures = await read(now_ms, bounds)
        except Exception:  # a scrape must answer; the store's series go missing meanwhile
            log.warning("metrics: reading the store failed", exc_info=True)
            self._figures = None
        else:
            self._figures, self._now_ms = figures, now_ms
        finally:
            self._reading = None

    def collect(self) -> Iterator[Metric]:
        if self.windows:
            in_flight = GaugeMetricFamily(
                "cascade_smpp_window_in_flight",
                "submit_sm waiting for their submit_sm_resp, by channel.",
                labels=["channel"],
            )
            size = GaugeMetricFamily(
                "cascade_smpp_window_size",
                "The SMPP window's size, by channel.",
                labels=["channel"],
            )
            for channel, window in sorted(self.windows.items()):
                used, capacity = window()
                in_flight.add_metric([channel], used)
                size.add_metric([channel], capacity)
            yield in_flight
            yield size
        figures = self._figures
        if figures is None:
            return
        yield GaugeMetricFamily(
            "cascade_due_tasks", "Messages due for a step and not yet claimed.", figures.due
        )
        oldest = figures.oldest_due_at_ms
        yield GaugeMetricFamily(
            "cascade_oldest_due_age_seconds",
            "How long the longest-waiting due message has been due (0: none).",
            max(0, self._now_ms - oldest) / 1000 if oldest is not None else 0,
        )
        chats = GaugeMetricFamily("cascade_chats", "ChatHub chats by status.", labels=["status"])
        for status in ChatStatus:
            chats.add_metric([status.name.lower()], figures.chats_by_status.get(status.value, 0))
        yield chats
        buckets = [
            (_bound(b), float(n))
            for b, n in zip(FIRST_RESPONSE_BUCKETS, figures.first_response_le, strict=True)
        ]
        buckets.append(("+Inf", float(figures.first_responses)))
        yield HistogramMetricFamily(
            "cascade_chat_first_response_seconds",
            "Answered ChatHub chats by the time from the person's first message to the "
            "first operator message.",
            buckets=buckets,
            sum_value=figures.first_response_sum_ms / 1000,
        )


def _bound(seconds: float) -> str:
    return str(float(seconds))
