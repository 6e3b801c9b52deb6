"""NewestJob: the one place the "newest state only, one thread at a time" rule lives.

Both the background judge of ``--grads`` and the ``--impl`` session hand it
their states; these are the rules they rely on.
"""

from __future__ import annotations

import threading

from bptui.debug.newest import NewestJob


def test_the_first_offer_starts_a_thread_and_later_ones_replace_the_waiting_job() -> None:
    jobs: NewestJob[str] = NewestJob()
    assert jobs.offer(1, "state 1") is True  # nobody works yet: the caller starts a thread
    assert jobs.busy
    assert jobs.offer(2, "state 2") is False  # a thread is on its way: it will take this
    assert jobs.offer(3, "state 3") is False  # …or rather this: state 2 was left unstarted
    assert jobs.take() == (3, "state 3")
    assert jobs.working_on == 3
    assert jobs.take() is None  # nothing waits: the thread ends
    assert not jobs.busy and jobs.working_on is None
    assert jobs.offer(4, "state 4") is True  # so the next offer starts one again


def test_a_job_waiting_or_in_progress_is_not_noted_twice() -> None:
    jobs: NewestJob[str] = NewestJob()
    jobs.offer("a", "first")
    assert jobs.offer("a", "again") is False
    assert jobs.take() == ("a", "first")  # the first noting stands
    assert jobs.offer("a", "asked during its own check") is False
    assert jobs.take() is None


def test_stop_drops_the_waiting_job_and_shares_the_owners_lock() -> None:
    lock = threading.Condition()
    jobs: NewestJob[str] = NewestJob(lock)
    jobs.offer(1, "one")
    jobs.offer(2, "two")
    with lock:  # the owner holds its lock while it stops the jobs: re-entrant, no deadlock
        jobs.stop()
    assert not jobs.busy and jobs.take() is None
    assert jobs.offer(5, "five") is True


def test_asked_again_for_the_job_in_progress_a_job_waiting_behind_it_is_dropped() -> None:
    """Only the newest state is wanted: state 1 in progress, 2 asked, then 1 again."""
    jobs: NewestJob[str] = NewestJob()
    jobs.offer(1, "state 1")
    assert jobs.take() == (1, "state 1")
    jobs.offer(2, "state 2")
    assert jobs.waiting == 2
    assert jobs.offer(1, "state 1 again") is False
    assert jobs.waiting is None
    assert jobs.take() is None  # nothing older is done after the one in progress
