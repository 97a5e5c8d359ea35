"""`lienthong serve --processes N`: several processes on one port, as an operator runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.smtp import free_port

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("this kernel does not list a process's children in /proc")
    return [int(p) for p in path.read_text().split()]


def _alive_servers(pid: int) -> list[int]:
    """The supervisor's serving children (multiprocessing's resource tracker is not one)."""
    found = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in cmdline:
            found.append(child)
    return found


def _wait_for(check: object, what: str, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_processes_share_the_port_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIENTHONG_DATABASE_URL": f"sqlite:///{tmp_path / 'node.db'}",
        "LIENTHONG_BLOB_DIR": str(tmp_path / "blobs"),
        "LIENTHONG_KEY_DIR": str(tmp_path / "keys"),
        "LIENTHONG_LOG_JSON": "false",
    }
    subprocess.run([LIENTHONG, "db", "upgrade"], env=env, check=True, timeout=120)
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [LIENTHONG, "serve", "--processes", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(
            lambda: _ready(url) and len(_alive_servers(process.pid)) == 2, "two processes", log_path
        )
        first, second = _alive_servers(process.pid)
        os.kill(first, signal.SIGKILL)
        # The node goes on answering (the other process) while the supervisor starts a new one.
        _wait_for(lambda: _ready(url), "an answer with one process gone", log_path)
        _wait_for(
            lambda: (
                first not in _alive_servers(process.pid) and len(_alive_servers(process.pid)) == 2
            ),
            "the killed process to be replaced",
            log_path,
        )
        assert second in _alive_servers(process.pid)
        answers = {httpx.get(f"{url}/healthz", timeout=5).status_code for _ in range(20)}
        assert answers == {200}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
