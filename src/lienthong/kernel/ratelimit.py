"""Rate limits behind one interface, counted where every API process sees the same numbers.

The strategy (a sliding window counter) is the `limits` library's; the counts live in Redis
(`LIENTHONG_RATE_LIMIT_URL=redis://…`, the library's own storage) or, by default, in the node's
own database through `SqlStorage` below, so that several `serve` processes against one
PostgreSQL share them with nothing else to run. `memory://` keeps them in the process: tests,
or a single process that accepts losing them at restart.

Counting happens outside the request's transaction: a refused sign-in rolls its request back,
and the failure must still count.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from math import ceil
from typing import Any, Protocol

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.storage.base import SlidingWindowCounterSupport, TimestampedSlidingWindow
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import Column, Engine, Float, Integer, String, Table, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from lienthong.db import Base
from lienthong.kernel import stages

# One fixed window of one key: `hits` until `expires_at` (epoch seconds).
rate_counter = Table(
    "rate_counter",
    Base.metadata,
    Column("key", String(255), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)


@dataclass(frozen=True)
class Rule:
    """A named limit, e.g. Rule("signin.account", "10/15 minutes")."""

    name: str
    limit: str

    @property
    def item(self) -> RateLimitItem:
        return _parsed(self.limit)


_PARSED: dict[str, RateLimitItem] = {}


def _parsed(text: str) -> RateLimitItem:
    item = _PARSED.get(text)
    if item is None:
        item = _PARSED[text] = parse(text)
    return item


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until a hit would be allowed again (0 when allowed)


class RateLimiter(Protocol):
    def hit(self, rule: Rule, *key: str) -> Decision:
        """Count one hit; `allowed` is False when the limit was already reached."""
        ...

    def test(self, rule: Rule, *key: str) -> Decision:
        """Whether one more hit would be allowed, counting nothing."""
        ...

    def clear(self, rule: Rule, *key: str) -> None: ...


class LimitsRateLimiter:
    """`limits`' sliding window counter over any of its storages (ours included)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.strategy = SlidingWindowCounterRateLimiter(storage)

    def _decision(self, rule: Rule, key: tuple[str, ...], allowed: bool) -> Decision:
        stats = self.strategy.get_window_stats(rule.item, rule.name, *key)
        if allowed:
            return Decision(allowed=True, remaining=stats.remaining, retry_after=0)
        wait = max(1, ceil(stats.reset_time - time.time()))
        return Decision(allowed=False, remaining=0, retry_after=wait)

    @stages.staged("auth")
    def hit(self, rule: Rule, *key: str) -> Decision:
        allowed = self.strategy.hit(rule.item, rule.name, *key)
        return self._decision(rule, key, allowed)

    @stages.staged("auth")
    def test(self, rule: Rule, *key: str) -> Decision:
        allowed = self.strategy.test(rule.item, rule.name, *key)
        return self._decision(rule, key, allowed)

    def clear(self, rule: Rule, *key: str) -> None:
        self.strategy.clear(rule.item, rule.name, *key)


class SqlStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Fixed-window counters in the `rate_counter` table, one short transaction per change.

    `incr` is a single upsert, so concurrent processes never lose a hit; expired rows are
    reset by the upsert itself and swept now and then.
    """

    STORAGE_SCHEME = ["lienthong+sql"]  # noqa: RUF012 - the shape `limits` declares
    SWEEP_EVERY = 1000  # hits between sweeps of expired rows

    def __init__(self, engine: Engine, **options: Any) -> None:
        self.engine = engine
        self._hits = 0
        self._lock = threading.Lock()
        super().__init__(None, wrap_exceptions=False, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = rate_counter
        with self.engine.begin() as conn:
            upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            expired = table.c.expires_at <= now
            stmt = (
                upsert(table)
                .values(key=key, hits=amount, expires_at=now + expiry)
                .on_conflict_do_update(
                    index_elements=[table.c.key],
                    set_={
                        "hits": _case(expired, amount, table.c.hits + amount),
                        "expires_at": _case(expired, now + expiry, table.c.expires_at),
                    },
                )
                .returning(table.c.hits)
            )
            count = int(conn.execute(stmt).scalar_one())
        self._maybe_sweep(now)
        return count

    def decr(self, key: str, amount: int = 1) -> int:
        table = rate_counter
        with self.engine.begin() as conn:
            floor_zero = _case(table.c.hits > amount, table.c.hits - amount, 0)
            conn.execute(update(table).where(table.c.key == key).values(hits=floor_zero))
        return self.get(key)

    def get(self, key: str) -> int:
        table = rate_counter
        with self.engine.connect() as conn:
            value = conn.execute(
                select(table.c.hits).where(table.c.key == key, table.c.expires_at > time.time())
            ).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        table = rate_counter
        with self.engine.connect() as conn:
            value = conn.execute(select(table.c.expires_at).where(table.c.key == key)).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(rate_counter)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(rate_counter).where(rate_counter.c.key == key))

    # The sliding window counter: the weighted sum of the previous and the current fixed
    # window, as `limits`' own memory storage computes it.
    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, previous_ttl, current, _ = self._window(previous_key, current_key, expiry, now)
        if int(previous * previous_ttl / expiry + current) + amount > limit:
            return False
        current = self.incr(current_key, 2 * expiry, amount=amount)
        if int(previous * previous_ttl / expiry + current) > limit:
            self.decr(current_key, amount)  # another process won the race
            return False
        return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        return self._window(previous_key, current_key, expiry, now)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)

    def _window(
        self, previous_key: str, current_key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        table = rate_counter
        with self.engine.connect() as conn:
            rows = {
                row.key: (int(row.hits), float(row.expires_at))
                for row in conn.execute(
                    select(table.c.key, table.c.hits, table.c.expires_at).where(
                        table.c.key.in_((previous_key, current_key)), table.c.expires_at > now
                    )
                )
            }
        previous = rows.get(previous_key, (0, now))[0]
        current = rows.get(current_key, (0, now))[0]
        # A window's weight is the share of it still inside the sliding window; the same
        # formulas as `limits`' memory storage.
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    def _maybe_sweep(self, now: float) -> None:
        with self._lock:
            self._hits += 1
            due = self._hits % self.SWEEP_EVERY == 0
        if due:
            with self.engine.begin() as conn:
                conn.execute(delete(rate_counter).where(rate_counter.c.expires_at <= now))


def _case(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


def build_rate_limiter(url: str, engine_for_database: Engine | None) -> LimitsRateLimiter:
    """`""` or `database`: the node's own database; otherwise a `limits` storage URL
    (`redis://host:6379/0`, `memory://`)."""
    if url in ("", "database"):
        if engine_for_database is None:
            raise ValueError("the database rate-limit store needs the node's engine")
        return LimitsRateLimiter(SqlStorage(engine_for_database))
    storage = storage_from_string(url)
    if not isinstance(storage, Storage):  # an asyncio storage (async+redis://…)
        raise ValueError(f"not a synchronous rate-limit storage: {url}")
    return LimitsRateLimiter(storage)
