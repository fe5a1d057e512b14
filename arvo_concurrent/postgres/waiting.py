"""How long a lock request waits, and the process-local line of requests for one id.

**The budget.** A request gives up only once the id's lock has not changed hands for a
whole wait budget (the sum of the backoff delays): every hand-off to another holder
restarts it, since a lock that keeps moving is not stuck. Its total wait never exceeds
the lease TTL (or the budget, when that is longer). A hand-off is seen as a new fence
on the lease that refused the request, or, in this process, as a grant to the request
ahead in the line.

**The line.** Requests of one process for one id queue locally, FIFO; only the head of
the line talks to the database (tries, then waits for an unlock notification), so one
hand-off costs the database one try per process, not one per waiting thread. When the
head is granted (or gives up) the next request becomes head.

**Local hand-offs.** While a request of the line holds the lease, the next head does not
go to the database at once: it parks, and the holder's write-and-unlock hands the lease
straight to it (a new fence, the full TTL, no claim: one database round trip less per
hand-off, and no try that could only be refused), :data:`LOCAL_STREAK` times in a row at
most. Then, or when the holder unlocks otherwise, the head is let go to the database, where
the lease goes to the oldest request, FIFO: requests of other processes wait behind at most
that many local turns.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arvo_concurrent.errors import ClosedError

__all__ = ["LOCAL_STREAK", "Handing", "Line", "Lines", "LockWait", "Row", "Turn"]

LOCAL_STREAK = 4
"""How many hand-offs in a row a process may keep to its own line, ahead of older
requests of other processes: the bound on how far local hand-offs bend FIFO."""

Row = tuple[Any, ...]
"""A row a lock statement returns (fence first; ``lock_read`` adds the state)."""


class Handing:
    """A parked head's slot for the lease its process's holder hands on. Thread-safe.

    Args:
        owner: the head's owner (text), the one the lease would be handed to.
    """

    __slots__ = ("_answered", "_row", "owner")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._answered = threading.Event()
        self._row: Row | None = None

    def give(self, row: Row | None) -> None:
        """The holder's answer: the granting row, or None (go to the database)."""
        self._row = row
        self._answered.set()

    def wait(self, timeout: float | None) -> bool:
        """Block until the holder answered, at most ``timeout`` seconds: did it?"""
        return self._answered.wait(timeout)

    @property
    def row(self) -> Row | None:
        """The answer once :meth:`wait` returned True."""
        return self._row


@dataclass
class Line:
    """The local requests for one id. Guarded by the owning :class:`Lines`' lock.

    Attributes:
        handoff_at: when this process last saw the id's lock change hands.
        queue: the turn flags of the requests waiting behind the head, oldest first.
        busy: whether a head is at the database.
        held: whether a request of this line holds the lease (until it unlocks).
        parked: the head's slot while it waits for the holder to hand it the lease.
        promised: that slot, made as the head was let in (the holder may take it
            before the head even runs), until the head picks it up.
        streak: local hand-offs since the lease last went to the database's queue.
    """

    handoff_at: float
    queue: deque[Turn] = field(default_factory=deque)
    busy: bool = False
    held: bool = False
    parked: Handing | None = None
    promised: Handing | None = None
    streak: int = 0


class Turn(threading.Event):
    """A queued request's flag, set when it becomes head; it knows whose request it is."""

    def __init__(self, owner: str | None) -> None:
        super().__init__()
        self.owner = owner


class LockWait:
    """The deadline of one lock request under the budget rule. Not thread-safe (one caller).

    Args:
        line: the request's line (its ``handoff_at`` is shared with the other requests).
        started: when the request was made.
        budget_s: the wait budget.
        ttl_s: the lease TTL, a cap on the whole wait (unless the budget is longer).
    """

    def __init__(self, line: Line, started: float, budget_s: float, ttl_s: float) -> None:
        self._line = line
        self._started = started
        self._budget_s = budget_s
        self._ttl_s = ttl_s
        self._seen: int | None = None

    def observe(self, holder_fence: int | None, now: float) -> None:
        """The lease that refused the request has ``holder_fence`` (None: not seen)."""
        if holder_fence is None:
            return
        if self._seen is not None and holder_fence != self._seen:
            self._line.handoff_at = max(self._line.handoff_at, now)
        self._seen = holder_fence

    def deadline(self) -> float:
        """When the request gives up, on the clock of ``started``."""
        since = max(self._started, self._line.handoff_at)
        cap = max(self._ttl_s, self._budget_s)  # a budget longer than the TTL is honoured
        return min(since + self._budget_s, self._started + cap)


def _hands_locally(line: Line) -> bool:
    """Whether ``line``'s holder may hand the lease to its next head (under the lock)."""
    return line.held and line.streak < LOCAL_STREAK


class Lines:
    """Every local line of one memory. Thread-safe.

    Args:
        clock: the monotonic clock (seconds) that deadlines are on.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[str, Line] = {}
        self._closed = False

    def enter(
        self, machine_id: str, wait: Callable[[Line], LockWait], owner: str | None = None
    ) -> tuple[Line, bool]:
        """Join the line of ``machine_id``; block until this request is its head.

        ``wait`` makes the request's :class:`LockWait` once its line is known. Blocks
        until the request is head, or its deadline passed while it queued. ``owner``:
        whose request it is, so that a holder can hand it the lease (see :meth:`park`).

        Returns:
            The line, and True when the request is now head (it must then call
            :meth:`leave`), False when it gave up in the queue.

        Raises:
            ClosedError: the memory closed meanwhile.
        """
        with self._lock:
            if self._closed:
                raise ClosedError("memory")
            line = self._lines.get(machine_id)
            if line is None:
                line = self._lines[machine_id] = Line(handoff_at=self._clock())
            if not line.busy:
                line.busy = True
                return line, True
            turn = Turn(owner)
            line.queue.append(turn)
        budget = wait(line)
        while True:
            # The deadline moves when the line sees a hand-off: look again on waking.
            if turn.wait(max(budget.deadline() - self._clock(), 0.0)) or self._closed:
                break
            if self._clock() >= budget.deadline():
                break
        with self._lock:
            queued = turn in line.queue
            if queued:
                line.queue.remove(turn)
                self._forget_if_idle(machine_id, line)
            if self._closed:
                if not queued:
                    self._pass_on(machine_id, line)
                raise ClosedError("memory")
        return line, not queued

    def granted(self, line: Line, *, locally: bool = False) -> None:
        """The head of ``line`` was granted the lock: a hand-off for the ones behind it.

        ``locally``: by its own process's holder, not through the database's queue.
        """
        with self._lock:
            line.handoff_at = max(line.handoff_at, self._clock())
            line.held = True
            line.streak = line.streak + 1 if locally else 0

    def leave(self, machine_id: str, line: Line) -> None:
        """The head of ``line`` is done (granted or gave up): the next request is head."""
        with self._lock:
            self._pass_on(machine_id, line)

    def park(self, line: Line, owner: str) -> Handing | None:
        """The new head of ``line``: its slot, when a request of the line holds the lease."""
        with self._lock:
            if line.promised is not None:
                slot, line.promised = line.promised, None
                return slot
            if not _hands_locally(line):
                return None
            line.parked = Handing(owner)
            return line.parked

    def unpark(self, line: Line, slot: Handing) -> bool:
        """The parked head stops waiting: False when the holder took its slot (wait for it)."""
        with self._lock:
            if line.parked is not slot:
                return False
            line.parked = None
            return True

    def released(self, machine_id: str) -> Handing | None:
        """The line's holder is about to unlock: the parked head's slot, or None.

        The caller must :meth:`Handing.give` it an answer (the lease, or None).
        """
        with self._lock:
            line = self._lines.get(machine_id)
            if line is None or not line.held:
                return None
            line.held = False
            slot, line.parked = line.parked, None
            if slot is not None and self._closed:
                slot.give(None)  # its request is gone: hand the lease to nobody
                return None
            return slot

    def close(self) -> None:
        """Wake every queued request; they raise ClosedError."""
        with self._lock:
            self._closed = True
            turns = [turn for line in self._lines.values() for turn in line.queue]
            parked = [line.parked for line in self._lines.values() if line.parked is not None]
        for turn in turns:
            turn.set()
        for slot in parked:
            slot.give(None)

    def _pass_on(self, machine_id: str, line: Line) -> None:
        if line.queue:
            turn = line.queue.popleft()
            if turn.owner is not None and _hands_locally(line):
                # Parked now: the holder may unlock before the new head runs.
                line.parked = line.promised = Handing(turn.owner)
            turn.set()
        else:
            line.busy = False
            self._forget_if_idle(machine_id, line)

    def _forget_if_idle(self, machine_id: str, line: Line) -> None:
        if not line.busy and not line.queue and self._lines.get(machine_id) is line:
            del self._lines[machine_id]
