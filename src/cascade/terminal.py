"""What the command line shows a person, with rich: a message's timeline (`cascade
status`), a CSV send's progress bar and its summary (`cascade send`). Times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from cascade.csv_send import Outcome
from cascade.domain.timeline import EntryKind, Timeline

_STYLE = {
    EntryKind.OUTCOME: "bold",
    EntryKind.FINAL: "bold green",
    EntryKind.SKIPPED: "dim",
    EntryKind.REPORT_KEPT: "yellow",
}
_FAILED = frozenset({"undeliverable", "expired", "cancelled", "failed", "unreachable", "unknown"})


def when(ms: int) -> str:
    """Epoch milliseconds as a person reads them: `2026-12-06 20:15:48.123 UTC`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def since(ms: int, start_ms: int) -> str:
    """How long after `start_ms`: `+0.250s`, `+1m 05s`, `+2h 03m`, `+3d 04h`."""
    delta = ms - start_ms
    sign = "-" if delta < 0 else "+"
    seconds = abs(delta) / 1000
    if seconds < 60:
        return f"{sign}{seconds:.3f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{sign}{whole // 60}m {whole % 60:02d}s"
    if whole < 86_400:
        return f"{sign}{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{sign}{whole // 86_400}d {whole % 86_400 // 3600:02d}h"


def show_timeline(console: Console, timeline: Timeline) -> None:
    """The message's particulars, then one table row per entry."""
    h = timeline.history
    status = h.status + (f" ({h.reason})" if h.reason else "")
    if h.channel and h.status in ("delivered", "read"):
        status += f" by {h.channel}"
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("message", h.message_id)
    facts.add_row("tracking id", h.tracking_id)
    facts.add_row("account", h.account_id)
    facts.add_row("to", h.phone)
    facts.add_row("route", f"{h.route} ({h.message_type}, {h.surface} API)")
    facts.add_row("status", Text(status, style="red" if h.status in _FAILED else "green"))
    facts.add_row("accepted", when(h.created_at_ms))
    facts.add_row("expires", when(h.expires_at_ms))
    if h.survey_answer is not None:
        facts.add_row("survey answer", h.survey_answer)
    console.print(facts)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("after", justify="right", no_wrap=True)
    table.add_column("what")
    for entry in timeline.entries:
        style = _STYLE.get(entry.kind, "")
        if entry.status in _FAILED:
            style = "red"
        table.add_row(
            when(entry.at_ms)[:-4],
            since(entry.at_ms, h.created_at_ms),
            Text(entry.text, style=style),
        )
    console.print(table)


class _Rate(ProgressColumn):
    """Rows a second, as rich's estimate of the task's speed."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:  # too few updates for rich's own estimate
            speed = task.completed / task.elapsed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s", style="cyan")


def send_progress(console: Console) -> Progress:
    """A bar with rows done of all, the rate and the time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )


def send_summary(outcome: Outcome, total: int) -> Table:
    """What the rows came to: accepted, already sent, rejected (and not sent, if stopped)."""
    accepted, repeated, rejected = outcome.accepted, outcome.repeated, len(outcome.rejected)
    table = Table(title="cascade send", show_edge=False)
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("accepted (new messages)", f"{accepted:,}")
    table.add_row("already sent (accepted before)", f"{repeated:,}")
    table.add_row(Text("rejected", style="red" if rejected else ""), f"{rejected:,}")
    not_sent = total - outcome.done
    if not_sent:
        table.add_row(Text("not confirmed (run again)", style="yellow"), f"{not_sent:,}")
    table.add_row(Text("total", style="bold"), f"{total:,}")
    return table
