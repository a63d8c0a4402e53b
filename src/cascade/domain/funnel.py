"""The console's per-channel funnel (SPEC F): how many steps of a period's messages
resolved where, channel by channel.

A step is an attempt row or a step passed over at once (kept on its message). Its status
(`AttemptStatus`) falls in one of five buckets: delivered (`delivered`, `read`), sent
(the provider took it and no confirmation came: `sent` while it waits, `timeout` after
the window), failed (`failed`, `unreachable`, and `unknown`: the answer was lost),
skipped (passed over without a send), and pending (`sending`, `retrying`, `paused`: not
settled yet). A step passed over at once is skipped whatever status it was given (no
chat, not subscribed: `unreachable`), since nothing was sent. A status this module does
not know is counted as pending, never dropped.

Pure: the channels and their order are data the caller gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cascade.domain.lifecycle import AttemptStatus


class Outcome(StrEnum):
    DELIVERED = "delivered"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"


BUCKET: Mapping[str, Outcome] = {
    AttemptStatus.DELIVERED: Outcome.DELIVERED,
    AttemptStatus.READ: Outcome.DELIVERED,
    AttemptStatus.SENT: Outcome.SENT,
    AttemptStatus.TIMEOUT: Outcome.SENT,
    AttemptStatus.FAILED: Outcome.FAILED,
    AttemptStatus.UNREACHABLE: Outcome.FAILED,
    AttemptStatus.UNKNOWN: Outcome.FAILED,
    AttemptStatus.SKIPPED: Outcome.SKIPPED,
    AttemptStatus.SENDING: Outcome.PENDING,
    AttemptStatus.RETRYING: Outcome.PENDING,
    AttemptStatus.PAUSED: Outcome.PENDING,
}


def outcome(status: str) -> Outcome:
    """The funnel bucket of an attempt status."""
    return BUCKET.get(status, Outcome.PENDING)


@dataclass(frozen=True, slots=True)
class StepCount:
    """How many steps on `channel` ended in `status` (one row of the store's answer);
    `passed_over`: steps passed over at once, without an attempt."""

    channel: str
    status: str
    count: int
    passed_over: bool = False


@dataclass(frozen=True, slots=True)
class ChannelFunnel:
    channel: str
    counts: Mapping[Outcome, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, bucket: Outcome) -> float:
        """The bucket's part of the channel's steps, 0 … 1 (0 for a channel with none)."""
        return self.counts[bucket] / self.total if self.total else 0.0


def funnel(rows: Iterable[StepCount], order: Sequence[str] = ()) -> list[ChannelFunnel]:
    """Per channel, its steps counted by bucket: channels in `order` first (as a route
    tries them), then any other channel that had steps, by name. A channel of `order`
    with no steps is left out."""
    counts: dict[str, dict[Outcome, int]] = {}
    for row in rows:
        if row.count < 0:
            raise ValueError(f"a negative count of steps: {row}")
        per = counts.setdefault(row.channel, dict.fromkeys(Outcome, 0))
        per[Outcome.SKIPPED if row.passed_over else outcome(row.status)] += row.count
    rank = {name: i for i, name in enumerate(order)}
    channels = sorted(counts, key=lambda c: (rank.get(c, len(rank)), c))
    return [ChannelFunnel(c, counts[c]) for c in channels if sum(counts[c].values())]
