"""The intake every source feeds: a bounded buffer that never blocks the sender, a rate per
source, and counters of what was taken, dropped, malformed or truncated.

Every source has one shape, `LogSource`: a name, a kind, and `run(intake, stop)` that reads
until `stop` is set and hands each event to `Intake.offer`. The flusher (`loops.py`) takes
batches out of the buffer and stores them in one transaction each.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lienthong.kernel.clock import utcnow

NODE_SOURCE = "lienthong"  # the node's own events (kernel/events.py)


class LogSource(Protocol):
    name: str
    kind: str  # syslog, http, access_log, eve, node

    def run(self, intake: Intake, stop: threading.Event) -> None:
        """Read until `stop` is set; never raise on bad input (count it)."""
        ...


@dataclass(frozen=True)
class Received:
    source: str
    kind: str
    fields: dict[str, Any]
    original: str | None
    received_at: datetime
    arrived: float  # monotonic, for the arrival-to-alert delay


@dataclass
class SourceCounts:
    kind: str
    taken: int = 0
    dropped: int = 0
    malformed: int = 0
    truncated: int = 0
    last_at: datetime | None = None


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Intake:
    """`capacity` events wait at most; past it, and past `per_source_per_second` for one
    source, events are dropped and counted, never waited for."""

    capacity: int = 50_000
    per_source_per_second: float = 20_000.0
    max_original: int = 16_384
    _queue: deque[Received] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ready: threading.Condition = field(init=False)
    _counts: dict[str, SourceCounts] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    dropped_total: int = 0

    def __post_init__(self) -> None:
        self._ready = threading.Condition(self._lock)

    def _source(self, name: str, kind: str) -> SourceCounts:
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = SourceCounts(kind)
        return counts

    def _allowed(self, source: str, now: float) -> bool:
        rate = self.per_source_per_second
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(rate, now)
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def offer(
        self,
        *,
        source: str,
        kind: str,
        fields: Mapping[str, Any],
        original: str | None,
        malformed: bool = False,
        truncated: bool = False,
    ) -> bool:
        """Queue one event; False (and counted) when the buffer is full or the source is over
        its rate."""
        now = time.monotonic()
        if original is not None and len(original) > self.max_original:
            original, truncated = original[: self.max_original], True
        with self._lock:
            counts = self._source(source, kind)
            counts.malformed += malformed
            counts.truncated += truncated
            if len(self._queue) >= self.capacity or not self._allowed(source, now):
                counts.dropped += 1
                self.dropped_total += 1
                return False
            at = utcnow()
            counts.taken += 1
            counts.last_at = at
            self._queue.append(Received(source, kind, dict(fields), original, at, now))
            if len(self._queue) == 1:
                self._ready.notify()
        return True

    def count(self, source: str, kind: str, *, malformed: int = 0, truncated: int = 0) -> None:
        """Count what a source refused before it was an event (a frame cut, a bad line)."""
        with self._lock:
            counts = self._source(source, kind)
            counts.malformed += malformed
            counts.truncated += truncated

    def take(self, *, max_items: int, wait: float) -> list[Received]:
        """Up to `max_items` events, waiting at most `wait` seconds for the first."""
        with self._lock:
            if not self._queue and wait > 0:
                self._ready.wait(wait)
            batch: list[Received] = []
            while self._queue and len(batch) < max_items:
                batch.append(self._queue.popleft())
            return batch

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def counts_since_last(self) -> dict[str, SourceCounts]:
        """The counters since the last call, for the flusher to add to the sources' rows."""
        with self._lock:
            counts, self._counts = self._counts, {}
            return counts

    def restore_counts(self, counts: Mapping[str, SourceCounts]) -> None:
        """Put back counters a failed transaction did not store."""
        with self._lock:
            for name, old in counts.items():
                new = self._source(name, old.kind)
                new.taken += old.taken
                new.dropped += old.dropped
                new.malformed += old.malformed
                new.truncated += old.truncated
                new.last_at = max(filter(None, (new.last_at, old.last_at)), default=None)

    def node_sink(self) -> NodeEvents:
        return NodeEvents(self)


class NodeEvents:
    """The node's own events (kernel/events.py `EventSink`) into the intake."""

    name = NODE_SOURCE
    kind = "node"

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def emit(self, event: Mapping[str, Any]) -> None:
        self.intake.offer(
            source=self.name,
            kind=self.kind,
            fields=event,
            original=json.dumps(dict(event), ensure_ascii=False, default=str),
        )
