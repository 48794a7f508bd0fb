"""At most N calls to CCD at a time, taken in the order they came."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.ccd import concurrency_limit
from adapters.ccd.concurrency_limit import ConcurrencyLimitedCcdGateway
from application.ccd import CcdGateway

WAIT = 10  # seconds: a test that blocks fails rather than hangs


class HeldCcd(CcdGateway):
    """Each call waits until the test lets it end; records the calls and the most at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.inside = self.most_inside = 0
        self.go = threading.Semaphore(0)

    def find_latest_case(self, case_type_id, case_number):
        with self.lock:
            self.started.append(case_number)
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        assert self.go.acquire(timeout=WAIT)
        with self.lock:
            self.inside -= 1
        return None


def wait_until(condition) -> None:
    event = threading.Event()
    for _ in range(WAIT * 1000):
        if condition():
            return
        event.wait(0.001)
    raise AssertionError("the condition never held")


def test_calls_beyond_the_limit_wait_and_go_in_the_order_they_came():
    ccd = HeldCcd()
    limited = ConcurrencyLimitedCcdGateway(ccd, most=2)
    with ThreadPoolExecutor(5) as pool:
        futures = []
        for number in ["1", "2", "3", "4", "5"]:
            futures.append(pool.submit(limited.find_latest_case, "ET", number))
            wait_until(lambda: len(ccd.started) + len(limited._waiting) == len(futures))
        assert ccd.started == ["1", "2"]  # the others wait, in order
        for ended in range(3):
            ccd.go.release()
            wait_until(lambda ended=ended: len(ccd.started) == 3 + ended)
        ccd.go.release(2)
        assert [future.result(timeout=WAIT) for future in futures] == [None] * 5
    assert ccd.started == ["1", "2", "3", "4", "5"]
    assert ccd.most_inside == 2


def test_a_call_that_fails_gives_its_place_back():
    class Failing(CcdGateway):
        def find_latest_case(self, case_type_id, case_number):
            raise RuntimeError("down")

    limited = ConcurrencyLimitedCcdGateway(Failing(), most=1)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="down"):
            limited.find_latest_case("ET", "1")
    assert limited._free == 1 and not limited._waiting


def test_the_limit_is_one_call_at_least():
    with pytest.raises(ValueError, match="most must be 1 or more, not 0"):
        ConcurrencyLimitedCcdGateway(HeldCcd(), most=0)


def test_a_call_that_ends_lets_the_caller_it_hands_its_place_to_run_before_it_goes_on():
    # Without the hand-over wait the ending thread keeps the GIL and returns at once,
    # before the woken caller has run at all. (The wait's bound is the test's own, so
    # that a slow machine cannot end it first.)
    order: list[str] = []

    class Recording(CcdGateway):
        def find_latest_case(self, case_type_id, case_number):
            order.append(f"{case_number} calls")
            if case_number == "1":
                assert second_waits.wait(WAIT)
            return None

    limited = ConcurrencyLimitedCcdGateway(Recording(), most=1, handover_wait=WAIT)
    second_waits = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(lambda: (limited.find_latest_case("ET", "1"), order.append("1 returned")))
        wait_until(lambda: order == ["1 calls"])
        second = pool.submit(limited.find_latest_case, "ET", "2")
        wait_until(lambda: len(limited._waiting) == 1)
        second_waits.set()
        first.result(timeout=WAIT)
        second.result(timeout=WAIT)
    assert order == ["1 calls", "2 calls", "1 returned"]


def test_the_hand_over_wait_ends_at_its_bound_when_the_next_caller_does_not_wake():
    limited = ConcurrencyLimitedCcdGateway(HeldCcd(), most=1, handover_wait=0.2)
    limited._free = 0
    limited._waiting.append(concurrency_limit._Turn())  # a caller in line that never wakes
    leaving = threading.Thread(target=limited._leave, daemon=True)
    started = time.monotonic()
    leaving.start()
    leaving.join(timeout=WAIT)
    waited = time.monotonic() - started
    assert not leaving.is_alive()
    assert 0.2 <= waited < 0.2 + 1


def test_a_waiting_caller_whose_wait_is_interrupted_leaves_the_line_or_passes_its_place_on():
    class Interrupted(Exception):
        pass

    class InterruptedTurn(concurrency_limit._Turn):
        def __init__(self):
            super().__init__()
            self.given.wait = self.interrupt  # type: ignore[method-assign]

        def interrupt(self, timeout=None):
            raise Interrupted

    ccd = HeldCcd()
    limited = ConcurrencyLimitedCcdGateway(ccd, most=1, handover_wait=0)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(limited.find_latest_case, "ET", "1")
        wait_until(lambda: ccd.started == ["1"])
        # Interrupted while still in line: it leaves the line.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(concurrency_limit, "_Turn", InterruptedTurn)
            with pytest.raises(Interrupted):
                limited.find_latest_case("ET", "2")
        assert not limited._waiting
        ccd.go.release()
        first.result(timeout=WAIT)
    assert limited._free == 1
    # Interrupted after its place was handed to it: the place is passed on, not lost.
    turn = InterruptedTurn()
    limited._free = 0
    limited._waiting.append(turn)
    limited._leave()  # hands the place to `turn`
    limited._give_up(turn)
    assert turn.taken.is_set() and limited._free == 1 and not limited._waiting
    ccd.go.release()
    assert limited.find_latest_case("ET", "3") is None
    assert ccd.started == ["1", "3"]
