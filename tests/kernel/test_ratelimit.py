"""Rate limits counted in a store every process shares: the node's database (PostgreSQL, or a
side file next to SQLite) or Redis; each honours the same contract."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lienthong.config import Settings
from lienthong.db import make_engine
from lienthong.kernel.ratelimit import (
    LimitsRateLimiter,
    RateLimiter,
    Rule,
    SqlStorage,
    build_rate_limiter,
    rate_counter,
)
from lienthong.runtime import build_limiter
from tests.conftest import backend

RULE = Rule("test.rule", "3/minute")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def shared_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """The test database on PostgreSQL; a fresh side file on SQLite (as the node uses)."""
    if backend() == "sqlite":
        side = make_engine(f"sqlite:///{tmp_path}/limits.db")
        rate_counter.create(side, checkfirst=True)
        yield side
        side.dispose()
    else:
        yield engine


@pytest.fixture(params=["database", "redis"])
def stores(
    request: pytest.FixtureRequest, shared_engine: Engine
) -> list[tuple[str, RateLimiter, RateLimiter]]:
    """Two limiters that share one store, as two API processes would."""
    if request.param == "database":
        return [
            (
                "database",
                LimitsRateLimiter(SqlStorage(shared_engine)),
                LimitsRateLimiter(SqlStorage(shared_engine)),
            )
        ]
    if not _redis_up():
        if os.environ.get("LIENTHONG_REQUIRE_REDIS") == "1":
            pytest.fail("Redis is required (LIENTHONG_REQUIRE_REDIS=1) but not at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return [
        (
            "redis",
            build_rate_limiter("redis://127.0.0.1:6379/15", None),
            build_rate_limiter("redis://127.0.0.1:6379/15", None),
        )
    ]


def test_counts_are_shared_and_refusal_says_when_to_retry(
    stores: list[tuple[str, RateLimiter, RateLimiter]],
) -> None:
    for name, first, second in stores:
        key = f"{name}-{threading.get_ident()}-shared"
        first.clear(RULE, key)
        assert first.hit(RULE, key).allowed
        assert second.hit(RULE, key).allowed
        third = first.hit(RULE, key)
        assert third.allowed, name
        assert third.remaining == 0, name
        refused = second.hit(RULE, key)
        assert not refused.allowed, name
        assert 1 <= refused.retry_after <= 120, (name, refused)
        assert not first.test(RULE, key).allowed
        assert first.hit(RULE, "another-key").allowed  # keys are independent
        second.clear(RULE, key)
        assert first.hit(RULE, key).allowed, name
        first.clear(RULE, key)
        first.clear(RULE, "another-key")


def test_concurrent_hits_never_exceed_the_limit(
    stores: list[tuple[str, RateLimiter, RateLimiter]],
) -> None:
    rule = Rule("test.concurrent", "20/minute")
    for name, first, second in stores:
        key = f"{name}-concurrent"
        first.clear(rule, key)
        allowed: list[bool] = []
        lock = threading.Lock()

        def hammer(
            limiter: RateLimiter, key: str, lock: threading.Lock, allowed: list[bool]
        ) -> None:
            for _ in range(15):
                ok = limiter.hit(rule, key).allowed
                with lock:
                    allowed.append(ok)

        threads = [
            threading.Thread(target=hammer, args=(lim, key, lock, allowed))
            for lim in (first, second) * 2
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(allowed) == 60
        assert sum(allowed) <= 20, (name, sum(allowed))
        assert sum(allowed) >= 15, (name, sum(allowed))  # races may only refuse, never lose all
        first.clear(rule, key)


def test_the_node_builds_its_store_from_the_settings(settings: Settings, tmp_path: Path) -> None:
    assert isinstance(build_limiter(settings), LimitsRateLimiter)  # memory:// in tests
    default = settings.model_copy(update={"rate_limit_url": ""})
    limiter = build_limiter(default)
    assert isinstance(limiter, LimitsRateLimiter)
    assert isinstance(limiter.storage, SqlStorage)
    if backend() == "sqlite":  # beside the database file, never inside its write lock
        assert str(limiter.storage.engine.url).endswith(".rate-limits")
    with pytest.raises(ValueError, match="synchronous"):
        build_rate_limiter("async+memory://", None)
