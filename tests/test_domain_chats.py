"""The assignment rule and what an operator's status change does to chats (SPEC E2):
examples, and properties over any organization hypothesis makes up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cascade.domain.chats import (
    MAX_ID,
    ChatStatus,
    OperatorLoad,
    OperatorStatus,
    choose_operator,
    is_id,
    name_problem,
    next_operator_id,
    open_counts,
    place_chats,
    placements_after,
)

ACTIVE, INACTIVE, DELETED = OperatorStatus

loads = st.lists(
    st.builds(
        OperatorLoad,
        id=st.integers(1, 50),
        status=st.sampled_from(OperatorStatus),
        open_chats=st.integers(0, 20),
    ),
    max_size=8,
    unique_by=lambda op: op.id,
)
chat_ids = st.lists(st.integers(1, 10_000), max_size=30, unique=True)


# --- examples ------------------------------------------------------------------------------


def test_the_active_operator_with_fewest_open_chats_is_chosen() -> None:
    ops = [OperatorLoad(1, ACTIVE, 3), OperatorLoad(2, ACTIVE, 1), OperatorLoad(3, INACTIVE, 0)]
    assert choose_operator(ops) == 2


def test_among_equals_the_lowest_id_is_chosen() -> None:
    assert choose_operator([OperatorLoad(9, ACTIVE, 2), OperatorLoad(4, ACTIVE, 2)]) == 4


def test_with_no_active_operator_a_chat_waits_unassigned() -> None:
    assert choose_operator([]) is None
    assert choose_operator([OperatorLoad(1, INACTIVE, 0), OperatorLoad(2, DELETED, 0)]) is None


def test_chats_placed_together_are_spread_evenly() -> None:
    ops = [OperatorLoad(1, ACTIVE, 0), OperatorLoad(2, ACTIVE, 2)]
    assert place_chats([10, 11, 12, 13], ops) == {10: 1, 11: 1, 12: 1, 13: 2}


def test_an_operator_going_inactive_hands_its_chats_to_the_others() -> None:
    ops = [OperatorLoad(1, ACTIVE, 2), OperatorLoad(2, ACTIVE, 0), OperatorLoad(3, ACTIVE, 1)]
    assert placements_after(1, INACTIVE, ops, [10, 11], []) == {10: 2, 11: 2}


def test_the_last_active_operator_deleted_releases_its_chats() -> None:
    ops = [OperatorLoad(1, ACTIVE, 2), OperatorLoad(2, INACTIVE, 0)]
    assert placements_after(1, DELETED, ops, [10, 11], []) == {10: None, 11: None}


def test_an_operator_coming_back_takes_the_waiting_chats() -> None:
    ops = [OperatorLoad(1, INACTIVE, 0), OperatorLoad(2, DELETED, 0)]
    assert placements_after(1, ACTIVE, ops, [], [20, 21]) == {20: 1, 21: 1}


def test_ids_are_whole_numbers_a_javascript_client_keeps_exactly() -> None:
    assert is_id(1)
    assert is_id(MAX_ID)
    for bad in (0, -1, MAX_ID + 1, True, 1.0, "1", None):
        assert not is_id(bad)


def test_names_must_say_something_printable() -> None:
    assert name_problem("Support") is None
    assert name_problem("  ") == "the name is empty"
    assert name_problem("x" * 201) == "the name is longer than 200 characters"
    assert name_problem("a\nb") == "the name cannot contain control characters"


def test_only_closed_chats_are_not_open() -> None:
    assert [s for s in ChatStatus if not s.is_open] == [ChatStatus.CLOSED]


# --- properties ----------------------------------------------------------------------------


@given(loads)
def test_the_chosen_operator_is_active_and_none_active_has_fewer(ops: list[OperatorLoad]) -> None:
    chosen = choose_operator(ops)
    active = [op for op in ops if op.status is ACTIVE]
    if not active:
        assert chosen is None
        return
    [picked] = [op for op in ops if op.id == chosen]
    assert picked.status is ACTIVE
    assert picked.open_chats == min(op.open_chats for op in active)
    assert picked.id == min(op.id for op in active if op.open_chats == picked.open_chats)


@given(loads, chat_ids)
def test_placing_chats_keeps_active_loads_within_one_of_each_other_above_the_start(
    ops: list[OperatorLoad], chats: list[int]
) -> None:
    placed = place_chats(chats, ops)
    assert list(placed) == chats
    active = {op.id: op.open_chats for op in ops if op.status is ACTIVE}
    if not active:
        assert set(placed.values()) <= {None}
        return
    assert set(placed.values()) <= set(active)  # only active operators, never None
    after = dict(active)
    for op, n in open_counts(placed.values()).items():
        after[op] += n
    # filling from the bottom: an operator given a chat ends at most one above the least
    least = min(after.values())
    for op, n in open_counts(placed.values()).items():
        assert after[op] <= least + 1 or n == 0
    assert sum(after.values()) == sum(active.values()) + len(chats)


@given(loads, st.integers(1, 50), st.sampled_from([INACTIVE, DELETED]), chat_ids)
def test_an_operator_leaving_keeps_none_of_its_chats(
    ops: list[OperatorLoad], leaving: int, status: OperatorStatus, chats: list[int]
) -> None:
    placed = placements_after(leaving, status, ops, chats, [])
    assert set(placed) == set(chats)
    assert leaving not in placed.values()
    others_active = {op.id for op in ops if op.status is ACTIVE and op.id != leaving}
    if others_active:
        assert set(placed.values()) <= others_active
    else:
        assert set(placed.values()) <= {None}


@given(loads, st.integers(1, 50), chat_ids)
def test_an_operator_activated_means_no_chat_waits(
    ops: list[OperatorLoad], coming: int, waiting: list[int]
) -> None:
    placed = placements_after(coming, ACTIVE, ops, [], waiting)
    assert set(placed) == set(waiting)
    assert None not in placed.values()


@given(st.sets(st.integers(1, 10**6), max_size=20))
def test_an_id_picked_is_above_every_id_taken(taken: set[int]) -> None:
    picked = next_operator_id(taken)
    assert picked not in taken
    assert all(picked > i for i in taken)
