"""The newest job only, for one background thread at a time.

The app asks for work on every frame (judge the user's derivatives here,
run their backward there).  A run going flat out asks far faster than the
user's code answers, so a queue would grow without end and every answer
would be of a state long left.  :class:`NewestJob` keeps only the newest
job not yet started, knows the one in progress (asked again, it is not done
twice) and whether a thread is working, so exactly one thread runs at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

Job = TypeVar("Job")


class NewestJob(Generic[Job]):
    """Jobs under keys: the newest waiting one, the one in progress, and a busy flag.

    ``lock`` may be the owner's (a re-entrant one, such as a default
    Condition, which it also waits on), so the owner's own state changes
    under the same lock as the jobs'.
    """

    def __init__(self, lock: threading.RLock | threading.Condition | None = None) -> None:
        self.lock = threading.RLock() if lock is None else lock
        self._waiting: tuple[Hashable, Job] | None = None
        self._busy = False
        #: The key of the job in progress.
        self.working_on: Hashable | None = None

    @property
    def busy(self) -> bool:
        """Is a thread working (on a job, or about to take the waiting one)?"""
        with self.lock:
            return self._busy

    @property
    def waiting(self) -> Hashable | None:
        """The key of the job waiting for the thread, if one is."""
        with self.lock:
            return None if self._waiting is None else self._waiting[0]

    def offer(self, key: Hashable, job: Job) -> bool:
        """Note ``job``, replacing any waiting one; True when the caller must start a thread.

        A job already waiting or in progress under ``key`` is not noted again;
        asked for the one in progress, a job waiting behind it is older: dropped.
        """
        with self.lock:
            if key == self.working_on:
                self._waiting = None
                return False
            if self._waiting is not None and self._waiting[0] == key:
                return False
            self._waiting = (key, job)
            if self._busy:
                return False
            self._busy = True
            return True

    def take(self) -> tuple[Hashable, Job] | None:
        """The working thread's next job (now in progress); None, and not busy, when none waits."""
        with self.lock:
            taken, self._waiting = self._waiting, None
            self.working_on = None if taken is None else taken[0]
            if taken is None:
                self._busy = False
            return taken

    def stop(self) -> None:
        """The working thread ends early (its owner closing): nothing waits, nothing runs."""
        with self.lock:
            self._waiting = None
            self._busy = False
            self.working_on = None
