"""Group commit: work that arrives together is written in one transaction.

Each request hands its unit of work to the committer and waits. The committer thread takes
the units waiting (up to `max_batch`, or what arrives within `max_wait` of the first), runs
each in its own SAVEPOINT — a unit that fails is rolled back alone and its caller gets its own
error, its neighbours are not affected — then runs `finish` once for the batch with what the
units that succeeded left for it (lists under names: the deliveries for one arrivals job, the
entries for one log append) and commits once. Every caller is
answered only after that commit, so an answer never promises what a crash could lose.

One commit per batch instead of one per request: at load, the disk's wait and the fixed cost
of a transaction are shared by the whole batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("lienthong.groupcommit")

T = TypeVar("T")
# A unit gets the session and its own dict of lists, merged into the batch's when it succeeds.
Unit = Callable[[Session, dict[str, list[Any]]], T]
Finish = Callable[[Session, dict[str, list[Any]]], None]


@dataclass
class _Pending(Generic[T]):
    unit: Unit[T]
    future: Future[T] = field(default_factory=Future)
    retried: bool = False


class GroupCommit:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        finish: Finish,
        max_batch: int = 64,
        max_wait: float = 0.002,
        name: str = "group-commit",
    ) -> None:
        self.factory = factory
        self.finish = finish
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.name = name
        self._queue: queue.Queue[_Pending[Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.units = 0

    def submit(self, unit: Unit[T]) -> Future[T]:
        """Queue a unit; the future holds its result (or its error) once its batch commits."""
        self._ensure_running()
        pending: _Pending[T] = _Pending(unit)
        self._queue.put(pending)
        return pending.future

    def run(self, unit: Unit[T], timeout: float | None = None) -> T:
        return self.submit(unit).result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _take(self) -> list[_Pending[Any]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._commit(batch)
            except BaseException as exc:  # the whole batch failed: tell every caller
                log.warning("batch failed", extra={"units": len(batch), "error": str(exc)})
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        done: list[tuple[_Pending[Any], Any]] = []
        failed: list[tuple[_Pending[Any], BaseException]] = []
        again: list[_Pending[Any]] = []
        shared: dict[str, list[Any]] = {}
        with self.factory() as session:
            try:
                for pending in batch:
                    savepoint = session.begin_nested()
                    contribution: dict[str, list[Any]] = {}
                    try:
                        result = pending.unit(session, contribution)
                        savepoint.commit()
                    except IntegrityError as clash:
                        savepoint.rollback()
                        # A concurrent transaction wrote the same row: once it is committed
                        # the unit will see it (a repeat, a conflict); run it in the next batch.
                        if pending.retried:
                            failed.append((pending, clash))
                        else:
                            pending.retried = True
                            again.append(pending)
                        continue
                    except BaseException as refusal:
                        savepoint.rollback()
                        failed.append((pending, refusal))
                        continue
                    done.append((pending, result))
                    for key, values in contribution.items():
                        shared.setdefault(key, []).extend(values)
                if done:
                    self.finish(session, shared)
                session.commit()
            except BaseException:
                session.rollback()
                raise
        self.batches += 1
        self.units += len(done)
        for pending, result in done:
            pending.future.set_result(result)
        for pending, exc in failed:
            pending.future.set_exception(exc)
        for pending in again:
            self._queue.put(pending)
