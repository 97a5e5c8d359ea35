from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lienthong.config import Settings
from lienthong.runtime import Runtime
from lienthong.security.detection import SHIPPED_RULES, load_rules
from lienthong.security.loops import Flusher

RULES = load_rules([SHIPPED_RULES])


@pytest.fixture
def flush(session_factory: sessionmaker[Session], settings: Settings) -> Callable[[Runtime], int]:
    """Store what a runtime's intake holds, as the background flusher does: returns events."""
    flushers: dict[int, Flusher] = {}

    def run(runtime: Runtime) -> int:
        flusher = flushers.setdefault(
            id(runtime),
            Flusher(session_factory, runtime.security_intake, RULES, runtime.settings),
        )
        total = 0
        while (n := flusher.flush_once()) > 0:
            total += n
        return total

    return run
