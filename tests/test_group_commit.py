"""GroupCommit: callers that arrive during a commit share the next one."""

from __future__ import annotations

import asyncio

import pytest

from cascade.engine.group_commit import GroupCommit


class Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def commit(self, items: list[int]) -> None:
        self.groups.append(items)
        await self.release.wait()
        if self.fail_on in items:
            raise RuntimeError("disk full")


async def test_callers_during_a_commit_share_the_next_one() -> None:
    store = Recorder()
    group = GroupCommit(store.commit)
    first = asyncio.ensure_future(group([1]))
    await asyncio.sleep(0)  # the first commit starts with item 1 alone
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(group([n])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert store.groups == [[1]]
    assert not first.done()
    store.release.set()
    await asyncio.gather(first, *later)
    assert store.groups == [[1], [2, 3, 4]]


async def test_every_caller_of_a_failed_commit_learns_it() -> None:
    store = Recorder(fail_on=2)
    store.release.set()
    group = GroupCommit(store.commit)
    results = await asyncio.gather(group([1]), group([2]), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    await group([5])  # the next group commits as usual
    assert store.groups == [[1, 2], [5]]


async def test_linger_gathers_items_that_arrive_one_by_one() -> None:
    store = Recorder()
    store.release.set()
    group = GroupCommit(store.commit, linger_s=0.05)

    async def trickle() -> None:
        calls = []
        for n in range(5):
            calls.append(asyncio.ensure_future(group([n])))
            await asyncio.sleep(0.001)
        await asyncio.gather(*calls)

    await trickle()
    assert store.groups == [[0, 1, 2, 3, 4]]


async def test_a_cancelled_caller_does_not_stop_the_commit() -> None:
    store = Recorder()
    group = GroupCommit(store.commit)
    waiting = asyncio.ensure_future(group([1]))
    other = asyncio.ensure_future(group([2]))
    await asyncio.sleep(0)
    waiting.cancel()
    store.release.set()
    await other
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert store.groups == [[1, 2]]
