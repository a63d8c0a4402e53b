"""The worker: claim due messages, decide, commit the intent, send, commit the result.

Every decision is a committed row before anything leaves the process, and every result
is committed before the task is released, so a worker may die at any instant: its tasks
come due again when their lease runs out, and a send whose result was never committed is
recognised (attempt still `sending`) and never repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from cascade.channels.base import Channel, DepartureGated, EventSink, Revocable, SessionChannel
from cascade.clock import Clock
from cascade.domain.lifecycle import Reason
from cascade.domain.planner import (
    ChannelInfo,
    Plan,
    Revoke,
    SendJob,
    group_senders,
    plan,
    revoke_given_up,
    settle,
)
from cascade.domain.ratelimit import Rate
from cascade.domain.records import (
    AttemptChange,
    Contact,
    Lease,
    NewAttempt,
    SenderRow,
    Transition,
)
from cascade.domain.sending import (
    Delivered,
    Failed,
    InDoubt,
    Misconfigured,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.engine.group_commit import GroupCommit
from cascade.engine.inbound import log_incoming
from cascade.engine.pacing import Pacer
from cascade.ids import new_id
from cascade.logs import about_message
from cascade.observer import NO_OBSERVER, Observer
from cascade.store.base import INCOMING_PARTS_WAIT_MS
from cascade.store.protocols import EngineStore

log = logging.getLogger(__name__)

_FLUSH_S = 0.005  # commit finished sends at least this often
_FLUSH_SIZE = 128  # or as soon as this many have finished
_ORPHAN_SWEEP_S = 5.0  # how often kept delivery reports (early, or held) are matched again
_COMMIT_RETRY_S = 0.05  # first pause before committing a batch's results again
_COMMIT_RETRY_MAX_S = 2.0
_LEASE_MARGIN_S = 2.0  # sends leave, and results are committed, this long before the lease
# ends (a quarter of a shorter lease)
_STEP_ENDS = (Failed, Unreachable, Misconfigured)  # outcomes that end a step unsent
# a send's outcome as the metrics' `outcome` label
OUTCOME_LABELS: Mapping[type[Outcome], str] = {
    Delivered: "delivered",
    Sent: "sent",
    Unreachable: "unreachable",
    Failed: "failed",
    Retry: "retry",
    InDoubt: "in_doubt",
    Throttled: "throttled",
    Misconfigured: "misconfigured",
}


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch: int = 256
    lease_ms: int = 30_000
    concurrency: int = 64  # sends in flight per worker; keep it below the channels' HTTP
    # connection pools, so a send whose intent is committed never queues for a connection
    idle_poll_s: float = 0.05  # longest sleep when nothing is due (SQLite has no NOTIFY)
    enforce_rates: bool = True  # pace sends to each channel's declared rates
    batches_in_flight: int = 2  # batches sending while the next is claimed and planned


class Worker:
    def __init__(
        self,
        store: EngineStore,
        clock: Clock,
        channels: Mapping[str, Channel],
        windows: Mapping[str, int],
        config: WorkerConfig = WorkerConfig(),
        owner: str | None = None,
        static_senders: Mapping[str, Sender] | None = None,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock
        self._channels = dict(channels)
        self._info = {
            name: ChannelInfo(
                ch.limits,
                windows.get(name, ch.limits.delivery_window_s),
                revocable=isinstance(ch, Revocable),
            )
            for name, ch in channels.items()
        }
        self._static = dict(static_senders or {})
        # the channels whose sends say when they leave (isinstance on a Protocol is slow)
        self._gated: dict[str, DepartureGated] = {
            name: ch for name, ch in channels.items() if isinstance(ch, DepartureGated)
        }
        self._started = False
        self._config = config
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._pacer = Pacer(clock)
        self._gate = asyncio.Semaphore(config.concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due work now (new messages, a report that moved a message on)."""
        self._wake.set()

    async def start_sessions(self, sink: EventSink) -> None:
        """Open the sessions of channels that hold one (SMPP binds), once."""
        if self._started:
            return
        self._started = True
        for channel in self._channels.values():
            if isinstance(channel, SessionChannel):
                await channel.start(sink)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until stopped. With more than one batch in flight
        (`batches_in_flight`), the next batch is claimed and planned while one still sends,
        so the channel does not wait for the database between batches."""
        log.info("worker %s started", self.owner)
        swept = self._clock.monotonic()
        sending: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if len(sending) >= self._config.batches_in_flight:
                    await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    if self._clock.monotonic() - swept >= _ORPHAN_SWEEP_S:
                        # A report can lose the race with the commit of its attempt's
                        # provider id (two concurrent transactions on PostgreSQL), or
                        # wait for a worker's lease to end: match what was kept.
                        swept = self._clock.monotonic()
                        await self._store.match_orphans()
                        # pieces of an SMS whose others never came: stored as they are
                        log_incoming(
                            await self._store.flush_incoming_parts(
                                self._clock.now_ms() - INCOMING_PARTS_WAIT_MS
                            )
                        )
                    done, batch = await self._start_batch()
                except Exception:  # keep the loop alive through a database outage
                    log.exception("worker cycle failed; retrying")
                    done, batch = 0, None
                    await _sleep_or(stop, 1.0)
                if batch is not None:
                    sending.add(batch)
                    batch.add_done_callback(sending.discard)
                    batch.add_done_callback(_log_failure)
                if done == 0:
                    await self._idle(stop)
        finally:
            if sending:  # let the sends under way finish and their results be committed
                await asyncio.wait(sending)
        log.info("worker %s stopped", self.owner)

    async def _idle(self, stop: asyncio.Event) -> None:
        delay = self._config.idle_poll_s
        try:
            next_due = await self._store.next_due_ms()
        except Exception:  # a database outage: poll again after the usual pause
            log.warning("reading the next due time failed", exc_info=True)
            next_due = None
        if next_due is not None:
            delay = min(delay, max(0.0, (next_due - self._clock.now_ms()) / 1000))
        if delay <= 0:
            return
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        """One cycle over up to `batch` due messages, its sends included; returns how many
        messages were handled."""
        done, batch = await self._start_batch()
        if batch is not None:
            await batch
        return done

    async def _start_batch(self) -> tuple[int, asyncio.Task[None] | None]:
        """Claim, plan and commit the plans of up to `batch` due messages; their sends run
        on in the returned task."""
        now = self._clock.now_ms()
        claimed_at = self._clock.monotonic()
        claimed = await self._store.claim(
            self.owner, now, self._config.lease_ms, self._config.batch
        )
        if not claimed:
            return 0, None
        senders = await self._senders({c.account_id for c in claimed})
        contacts: dict[tuple[str, str, str], Contact] = {}
        if senders:
            contacts = await self._store.contacts(c.phone for c in claimed)
        plans: list[Plan] = [
            plan(c, now, self._info, senders, contacts, self._static, new_id=new_id)
            for c in claimed
        ]
        # a send's plan is committed with its intent, just before it leaves
        await self._store.apply(
            [p.transition for p in plans if p.send is None or p.send.plan is None]
        )
        revokes = [p.revoke for p in plans if p.revoke is not None]
        if revokes:
            await asyncio.gather(*(self._revoke(r) for r in revokes))
        jobs = [p.send for p in plans if p.send is not None]
        if not jobs:
            return len(claimed), None
        lease_s = self._config.lease_ms / 1000
        claim = _Claim(
            Lease(self.owner, now + self._config.lease_ms),
            claimed_at + lease_s - min(_LEASE_MARGIN_S, lease_s / 4),
        )
        return len(claimed), asyncio.create_task(self._send_all(jobs, claim))

    async def _send_all(self, jobs: list[SendJob], claim: _Claim) -> None:
        """Send concurrently; commit results in small groups as they complete.

        Committing as results arrive (rather than after the whole batch) keeps the set of
        sends whose outcome a crash could lose down to the few milliseconds in flight.
        Each send reports its end through a callback, so collecting results costs the
        same whatever the number of sends still under way.
        """
        intents = IntentCommitter(self._store, self._clock, claim)
        finished: list[tuple[SendJob, asyncio.Future[Outcome]]] = []
        arrived = asyncio.Event()

        def collect(job: SendJob, future: asyncio.Future[Outcome]) -> None:
            finished.append((job, future))
            arrived.set()

        for job in jobs:
            task = asyncio.ensure_future(self._send(job, intents))
            task.add_done_callback(functools.partial(collect, job))
        remaining = len(jobs)
        flushed_at = self._clock.monotonic()
        while remaining:
            await arrived.wait()
            # gather what finishes within the flush interval, unless a group is complete
            linger = flushed_at + _FLUSH_S - self._clock.monotonic()
            if linger > 0 and len(finished) < min(_FLUSH_SIZE, remaining):
                await asyncio.sleep(linger)
            arrived.clear()
            group, finished[:] = finished[:], []
            remaining -= len(group)
            now = self._clock.now_ms()
            plans: list[Transition] = []
            unsent: list[NewAttempt] = []
            results: list[Transition] = []
            revokes: list[Revoke] = []
            for job, future in group:
                outcome = future.result()
                self._observer.attempt(job.channel, OUTCOME_LABELS[type(outcome)])
                if not intents.stored(job):  # it never left: its plan still stands
                    if job.plan is not None:
                        plans.append(job.plan)
                    # and a step it ended is an attempt of its own (a retry is not yet)
                    if isinstance(job.intent, NewAttempt) and isinstance(outcome, _STEP_ENDS):
                        unsent.append(job.intent)
                info = self._info[job.channel]
                results.append(settle(job, outcome, now, info.window_s))
                if (revoke := revoke_given_up(job, outcome, info)) is not None:
                    revokes.append(revoke)
            await self._commit_results(unsent, plans, results, claim)
            if revokes:
                await asyncio.gather(*(self._revoke(r) for r in revokes))
            flushed_at = self._clock.monotonic()

    async def _commit_results(
        self,
        unsent: list[NewAttempt],
        plans: list[Transition],
        results: list[Transition],
        claim: _Claim,
    ) -> None:
        """Commit what the sends came to, trying again while the claim's lease lasts: a
        database outage then costs time, not outcomes. Past the lease the tasks may be
        claimed again, and the sends that left are in doubt, as after a crash; the store
        refuses what this claim decided for a task another claim has taken since."""
        pause = _COMMIT_RETRY_S
        while True:
            try:
                refused = await self._store.record_intents(
                    unsent, (), plans, results, lease=claim.lease
                )
                if refused:
                    log.warning("%d results came after their lease was taken over", len(refused))
                return
            except Exception:
                if self._clock.monotonic() + pause >= claim.ends:
                    raise
                log.warning("committing send results failed; trying again", exc_info=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, _COMMIT_RETRY_MAX_S)

    async def _revoke(self, revoke: Revoke) -> None:
        channel = self._channels.get(revoke.channel)
        if not isinstance(channel, Revocable):
            return
        try:
            await channel.revoke(revoke.sender, revoke.phone, revoke.provider_id)
        except Exception:  # the step has moved on either way; a late report is still recorded
            log.warning("revoking on %s failed", revoke.channel, exc_info=True)

    async def _senders(self, account_ids: set[str]) -> dict[tuple[str, str], list[SenderRow]]:
        return group_senders(await self._store.senders(account_ids))

    async def _send(self, job: SendJob, intents: IntentCommitter) -> Outcome:
        # every line logged while it sends (the channel's too) names the message
        with about_message(job.claimed.message_id, job.claimed.account_id):
            outcome = await self._send_now(job, intents)
            if log.isEnabledFor(logging.DEBUG):  # not worked out for every send otherwise
                log.debug("step %d on %s: %s", job.step, job.channel, _said(outcome))
        return outcome

    async def _send_now(self, job: SendJob, intents: IntentCommitter) -> Outcome:
        channel = self._channels[job.channel]
        sender_key = f"{job.channel}:{job.outbound.sender.id}"
        paused = self._pacer.paused_for(sender_key)
        if paused > 0:
            return Throttled(paused, Reason.SENDER_PAUSED)
        async with self._gate:
            if self._config.enforce_rates:
                # a turn that comes after the lease is not waited for: the step is taken
                # again at that turn (waiting would let another claim send it meanwhile)
                wait = await self._pace(job, sender_key, channel, intents.claim.ends)
                if wait > 0:
                    return Throttled(wait, Reason.PACED)
            # Commit the intent only now, when nothing stands between it and the request
            # (a gated channel says when that is: an SMPP submit waits for a window slot
            # first): a crash can then leave in doubt only sends that were really under way.
            try:
                gated = self._gated.get(job.channel)
                if gated is not None:
                    outcome = await gated.send_when(job.outbound, lambda: intents.commit(job))
                elif await intents.commit(job):
                    outcome = await channel.send(job.outbound)
                else:
                    outcome = Retry(Reason.INTENT_NOT_STORED)
            except Exception as err:  # an adapter bug must not lose the message
                log.exception("channel %s raised", job.channel)
                if intents.committed(job):
                    return InDoubt(f"ERROR:{type(err).__name__}")
                return Retry(f"ERROR:{type(err).__name__}")  # nothing left: try again
        if isinstance(outcome, Throttled):
            self._pacer.pause(sender_key, outcome.retry_after_s)
            self._observer.throttled(job.channel)
        return outcome

    async def _pace(self, job: SendJob, sender_key: str, channel: Channel, until: float) -> float:
        """Wait for the send's turn under the channel's rates, if it comes before `until`
        (monotonic); otherwise the seconds until it comes."""
        limits = channel.limits
        if limits.per_sender_per_second:
            rate = limits.per_sender_per_second
            wait = await self._pacer.wait(sender_key, Rate(rate, max(1, int(rate))), until)
            if wait > 0:
                return wait
        if limits.per_recipient_per_second:
            return await self._pacer.wait(
                f"{sender_key}:{job.outbound.address}",
                Rate(limits.per_recipient_per_second, 1),
                until,
            )
        return 0.0


@dataclass(frozen=True, slots=True)
class _Claim:
    """One claim's lease: as the store knows it, and when its sends must have left
    (monotonic, a margin before the lease ends)."""

    lease: Lease
    ends: float


class IntentCommitter:
    """Group commit of send intents: the sends about to leave at the same moment share one
    transaction, and each waits for it before its request goes out.

    Only while the claim's lease lasts, and only for the tasks it still holds: a send
    whose lease is over (it waited for a window slot or a database too long) does not
    leave, so another worker that has claimed its task since is the only one to send."""

    def __init__(self, store: EngineStore, clock: Clock, claim: _Claim) -> None:
        self._store = store
        self._clock = clock
        self.claim = claim
        self._group: GroupCommit[SendJob] = GroupCommit(self._record)
        self._stored: set[str] = set()
        self._refused: set[str] = set()

    async def commit(self, job: SendJob) -> bool:
        if self._clock.monotonic() >= self.claim.ends:
            return False
        try:
            await self._group([job])
        except Exception:  # logged once for the group; those sends wait for a retry
            return False
        if job.claimed.message_id in self._refused:
            return False
        self._stored.add(job.attempt_id)
        return True

    def committed(self, job: SendJob) -> bool:
        """Whether this job's intent is committed (its request may have left)."""
        return job.attempt_id in self._stored

    def stored(self, job: SendJob) -> bool:
        """Whether this job's intent (and plan) was committed; asked once, at its end."""
        if job.attempt_id in self._stored:
            self._stored.discard(job.attempt_id)
            return True
        return False

    async def _record(self, jobs: list[SendJob]) -> None:
        try:
            refused = await self._store.record_intents(
                [j.intent for j in jobs if isinstance(j.intent, NewAttempt)],
                [j.intent for j in jobs if isinstance(j.intent, AttemptChange)],
                [j.plan for j in jobs if j.plan is not None],
                lease=self.claim.lease,
            )
        except Exception:
            log.exception("storing send intents failed; those sends wait for a retry")
            raise
        if refused:
            log.warning("%d sends not made: another worker has claimed them", len(refused))
            self._refused |= refused


def _said(outcome: Outcome) -> str:
    """What a send came to, for a log line: never its whole record (a flash call's `Sent`
    carries the code the person must give back)."""
    name = type(outcome).__name__
    if isinstance(outcome, Delivered | Sent):
        return f"{name} (provider id {outcome.provider_id})"
    return f"{name} ({outcome.reason})"


def _log_failure(batch: asyncio.Task[None]) -> None:
    if not batch.cancelled() and batch.exception() is not None:
        # its sends whose results were not committed stay `sending`: in doubt, not resent
        log.error("committing a batch's results failed", exc_info=batch.exception())


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
