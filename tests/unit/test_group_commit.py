"""The worker's group commit: concurrent callers' items recorded in one call, each
caller given its own result, one item's fault its caller's alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.group_commit import GroupCommit

WAIT = 10  # seconds: a test that blocks fails rather than hangs


class Down(Exception):
    pass


class Recorder:
    """record_all that holds its first call until the others have queued behind it."""

    def __init__(self):
        self.groups: list[list[int]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def __call__(self, items):
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.first_started.set()
            assert self.release_first.wait(WAIT)
        if any(item < 0 for item in items):
            raise ValueError(f"bad items in {items}")
        if 0 in items:
            raise Down("the store is down")
        return [item * 10 for item in items]


def run_behind_first(recorder: Recorder, group: GroupCommit, first: int, rest: list[int]) -> dict[int, object]:
    """`first` is recorded alone while the others queue; what each caller got or raised."""
    outcomes: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            outcomes[item] = group.record(item)
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes[item] = error

    # Daemon threads joined with a limit: a caller left waiting fails the test, not the run.
    threads = [threading.Thread(target=call, args=(first,), daemon=True)]
    threads[0].start()
    assert recorder.first_started.wait(WAIT)
    threads += [threading.Thread(target=call, args=(item,), daemon=True) for item in rest]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + WAIT
    while len(group._waiting) < len(rest):  # every other caller is queued behind the first
        assert time.monotonic() < deadline, "the other callers did not queue"
        time.sleep(0.001)
    recorder.release_first.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a caller was left waiting"
    return outcomes


def test_callers_that_come_while_one_records_are_recorded_together():
    recorder = Recorder()
    group = GroupCommit(recorder, most=8)
    outcomes = run_behind_first(recorder, group, 1, [2, 3, 4])
    assert outcomes == {1: 10, 2: 20, 3: 30, 4: 40}
    assert recorder.groups[0] == [1]
    assert sorted(recorder.groups[1]) == [2, 3, 4] and len(recorder.groups) == 2


def test_a_group_is_at_most_its_size():
    recorder = Recorder()
    group = GroupCommit(recorder, most=2)
    outcomes = run_behind_first(recorder, group, 1, [2, 3, 4, 5])
    assert outcomes == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
    assert [len(items) for items in recorder.groups] == [1, 2, 2]


def test_a_fault_in_a_group_is_its_caller_s_only():
    recorder = Recorder()
    group = GroupCommit(recorder, most=8)
    outcomes = run_behind_first(recorder, group, 1, [2, -3, 4])
    assert (outcomes[1], outcomes[2], outcomes[4]) == (10, 20, 40)
    assert isinstance(outcomes[-3], ValueError) and "[-3]" in str(outcomes[-3])
    # The group failed, then each was recorded alone.
    assert sorted(len(items) for items in recorder.groups[2:]) == [1, 1, 1]


def test_a_shared_failure_is_every_caller_s_without_more_tries():
    recorder = Recorder()
    group = GroupCommit(recorder, most=8, shared=(Down,))
    outcomes = run_behind_first(recorder, group, 1, [0, 2])
    assert outcomes[1] == 10
    assert isinstance(outcomes[0], Down) and isinstance(outcomes[2], Down)
    assert len(recorder.groups) == 2


def test_one_caller_alone_gets_its_result_or_its_error():
    group = GroupCommit(lambda items: [item + 1 for item in items], most=4)
    assert group.record(1) == 2
    failing = GroupCommit(lambda items: [], most=4)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        failing.record(1)


def test_many_callers_in_small_groups_each_get_their_own_result_and_none_is_left_waiting():
    # The lead passes from group to group while callers keep coming: each caller gets
    # its own result, and every call returns.
    seen: list[list[int]] = []

    def record_all(items):
        seen.append(list(items))
        return [item * 10 for item in items]

    group = GroupCommit(record_all, most=3)
    callers = 24
    with ThreadPoolExecutor(callers) as pool:
        futures = [pool.submit(lambda item=item: [group.record(item) for _ in range(50)]) for item in range(callers)]
        results = [future.result(timeout=WAIT) for future in futures]
    assert results == [[item * 10] * 50 for item in range(callers)]
    assert max(len(items) for items in seen) <= 3
    assert sum(len(items) for items in seen) == callers * 50


def test_when_its_leader_is_done_the_lead_passes_to_the_first_in_line():
    # One at a time: the first caller records alone while three queue behind it. Once it
    # is done, nothing else would wake them: the lead must be handed on.
    recorder = Recorder()
    assert run_behind_first(recorder, GroupCommit(recorder, most=1), 1, [2, 3, 4]) == {1: 10, 2: 20, 3: 30, 4: 40}
    assert recorder.groups == [[1], [2], [3], [4]]
