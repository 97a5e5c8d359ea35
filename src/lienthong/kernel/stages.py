"""CPU per stage of the work, for the benchmarks and for anyone profiling a node: the thread CPU
time spent in each named stage (auth, parse, verify, sql, log, delivery, status_sign …), each stage's
own time without the stages inside it, plus the SQL statements and commits.

Off by default, and then `stage()` costs one flag test. With `LIENTHONG_STAGE_REPORT=<path>` in
the environment each process keeps totals and writes them to `<path>.<pid>.json` when it ends
normally (uvicorn and `lienthong worker` end normally on SIGTERM), and to
`<path>.<pid>.<n>.json` on each SIGUSR1 (n = 1, 2 …), so that a benchmark can take the
difference over its timed run. What no stage claims (HTTP,
the framework, routing, JSON) is the process's CPU minus the stages' sum, which the reader of
the report computes from the process's own CPU time, also written.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import resource
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, event

REPORT = os.environ.get("LIENTHONG_STAGE_REPORT", "")
ENABLED = bool(REPORT)

P = ParamSpec("P")
R = TypeVar("R")
_lock = threading.Lock()
_seconds: dict[str, float] = defaultdict(float)
_counts: Counter[str] = Counter()
_local = threading.local()


def _stack() -> list[list[Any]]:
    stack: list[list[Any]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def enter(name: str) -> None:
    """Start `name` on this thread; the stage it interrupts stops counting until `leave`."""
    now = time.thread_time()
    stack = _stack()
    if stack:
        top = stack[-1]
        _add(top[0], now - top[1])
    stack.append([name, now])


def leave(name: str) -> None:
    now = time.thread_time()
    stack = _stack()
    while stack:  # unwinds past a stage an exception left open
        top_name, since = stack.pop()
        _add(top_name, now - since)
        if top_name == name:
            break
    if stack:
        stack[-1][1] = now


def _add(name: str, seconds: float) -> None:
    with _lock:
        _seconds[name] += seconds


def count(name: str, n: int = 1) -> None:
    if ENABLED:
        with _lock:
            _counts[name] += n


@contextmanager
def stage(name: str) -> Iterator[None]:
    if not ENABLED:
        yield
        return
    enter(name)
    try:
        yield
    finally:
        leave(name)


def staged(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A function's calls counted as the stage `name`."""

    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        if not ENABLED:
            return function

        @functools.wraps(function)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            enter(name)
            try:
                return function(*args, **kwargs)
            finally:
                leave(name)

        return inner

    return wrap


def instrument(engine: Engine) -> None:
    """Statements, commits and the time spent in the driver, as the `sql` stage."""
    if not ENABLED:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _before(*_args: Any) -> None:
        count("statements")
        enter("sql")

    @event.listens_for(engine, "after_cursor_execute")
    def _after(*_args: Any) -> None:
        leave("sql")

    @event.listens_for(engine, "handle_error")
    def _error(*_args: Any) -> None:
        leave("sql")

    @event.listens_for(engine, "commit")
    def _commit(*_args: Any) -> None:
        count("commits")


def snapshot() -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with _lock:
        return {
            "pid": os.getpid(),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "stages": dict(_seconds),
            "counts": dict(_counts),
        }


def write_report(tag: str = "final") -> None:
    path = Path(f"{REPORT}.{os.getpid()}.{tag}.json")
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(snapshot()), encoding="utf-8")
    partial.replace(path)  # a reader never sees half a report


_taken = 0


def _on_signal(_signum: int, _frame: object) -> None:
    global _taken
    _taken += 1
    write_report(str(_taken))


if ENABLED:
    atexit.register(write_report)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, _on_signal)
