"""Synchronous library calls that run an event loop of their own (pyHanko's signing and
validation, its time-stamp client call `asyncio.run`) fail when the calling thread already runs
a loop: an async endpoint, a test under Playwright's sync API. `off_event_loop` runs such a
function in a short-lived thread of its own in that case, and in place otherwise."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def off_event_loop(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        if not _loop_running():
            return function(*args, **kwargs)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="off-loop") as pool:
            return pool.submit(function, *args, **kwargs).result()

    return inner
