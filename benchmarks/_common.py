"""Shared pieces of the benchmarks: the machine, /proc readings, a throwaway database, and
`lienthong` processes started and stopped around a run."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the machine and /proc


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}) · {cpu_model()} · "
        f"Linux {platform.release()} · Python {platform.python_version()} · load avg {load}"
    )


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    fields = _stat_fields(pid)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime of reaped children
    return ticks / CLOCK_TICKS


def status_kib(pid: int, key: str) -> int:
    """A `VmHWM`/`VmRSS`-style line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, own processes); False when refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def postgres_cpu_seconds() -> float | None:
    """CPU of every `postgres` process (backends and the postmaster, with the children it
    reaped): the whole server, all databases. None when /proc does not say."""
    total = 0.0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += cpu_seconds(int(entry.name), children=True)
            found = True
        except (OSError, ValueError, IndexError):
            continue
    return total if found else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------- a throwaway database


@dataclass
class ThrowawayDatabase:
    url: str
    label: str
    _drop_name: str | None = None
    _admin_url: str | None = None

    def drop(self) -> None:
        if self._drop_name is None or self._admin_url is None:
            return
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._drop_name}" WITH (FORCE)'))
        finally:
            admin.dispose()
        self._drop_name = None


def create_database(kind: str, folder: Path, *, admin_url: str = PG_ADMIN_URL) -> ThrowawayDatabase:
    if kind == "sqlite":
        path = folder / "bench.db"
        return ThrowawayDatabase(f"sqlite:///{path}", f"SQLite (file {path.name}, WAL)")
    name = f"lienthong_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version: str = conn.execute(text("SHOW server_version")).scalar_one()
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return ThrowawayDatabase(url, f"PostgreSQL {version} (database {name})", name, admin_url)


# ---------------------------------------------------------------- lienthong processes


def lienthong_env(folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of this process without any LIENTHONG_* of its own, plus the run's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(
        LIENTHONG_DATABASE_URL=database_url,
        LIENTHONG_VAR_DIR=str(folder / "var"),
        LIENTHONG_BLOB_DIR=str(folder / "blobs"),
        LIENTHONG_KEY_DIR=str(folder / "keys"),
        LIENTHONG_LOG_LEVEL="WARNING",
        LIENTHONG_LOG_JSON="true",
    )
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "lienthong", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"lienthong {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )


@dataclass
class NodeProcess:
    """One `lienthong serve` or `lienthong worker`, its output in a log file."""

    role: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "lienthong", *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.url is None:  # a worker: it has no port; it must at least stay up a moment
            time.sleep(0.5)
            if not self.alive():
                raise RuntimeError(f"{self.role} exited early:\n{self.log_tail()}")
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.role} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.role} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        """Terminate, then kill if it has not gone within `grace` seconds."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


def start_node(
    folder: Path, env: Mapping[str, str], *, servers: int, workers: int
) -> list[NodeProcess]:
    """`servers` × `lienthong serve` (each on its own port) and `workers` × `lienthong worker`.
    The caller stops them (also when this raises: the list is filled as they start)."""
    started: list[NodeProcess] = []
    try:
        for i in range(servers):
            port = free_port()
            node = NodeProcess(
                f"server {i + 1}",
                ["serve", "--port", str(port)],
                {**env, "LIENTHONG_PORT": str(port)},
                folder / f"server-{i + 1}.log",
                url=f"http://127.0.0.1:{port}",
            )
            started.append(node)
            node.start()
        for i in range(workers):
            node = NodeProcess(
                f"worker {i + 1}", ["worker"], dict(env), folder / f"worker-{i + 1}.log"
            )
            started.append(node)
            node.start()
        for node in started:
            node.wait_ready()
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(nodes: Sequence[NodeProcess]) -> None:
    for node in nodes:
        with contextlib.suppress(Exception):
            node.stop()


# ---- CPU by stage (kernel/stages.py) ---------------------------------------------------------

STAGES = ("auth", "parse", "verify", "sql", "log", "delivery", "status_sign")


def stage_snapshot(
    nodes: Sequence[NodeProcess], prefix: Path, n: int, timeout: float = 20.0
) -> dict[int, dict[str, object]]:
    """Ask each node process (run with LIENTHONG_STAGE_REPORT=prefix) for its stage totals:
    SIGUSR1, then wait for its n-th report."""
    import json
    import signal

    for node in nodes:
        os.kill(node.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    reports: dict[int, dict[str, object]] = {}
    while len(reports) < len(nodes):
        for node in nodes:
            path = Path(f"{prefix}.{node.pid}.{n}.json")
            if node.pid not in reports and path.exists():
                reports[node.pid] = json.loads(path.read_text(encoding="utf-8"))
        if time.monotonic() > deadline:
            raise RuntimeError(f"no stage report {n} from {len(nodes) - len(reports)} process(es)")
        time.sleep(0.05)
    return reports


def stage_breakdown(
    before: Mapping[int, Mapping[str, object]],
    after: Mapping[int, Mapping[str, object]],
    pids: Sequence[int],
) -> dict[str, float]:
    """CPU seconds by stage summed over `pids` between two snapshots; `other` is what no stage
    claimed (HTTP, the framework, JSON …); `statements` and `commits` are counts."""

    def part(report: Mapping[str, object], key: str) -> Mapping[str, float]:
        value = report.get(key) or {}
        assert isinstance(value, Mapping)
        return value

    total: dict[str, float] = dict.fromkeys((*STAGES, "other", "statements", "commits"), 0.0)
    for pid in pids:
        b, a = before[pid], after[pid]
        stages_sum = 0.0
        for name in STAGES:
            spent = part(a, "stages").get(name, 0.0) - part(b, "stages").get(name, 0.0)
            total[name] += spent
            stages_sum += spent
        cpu = float(a["cpu_seconds"]) - float(b["cpu_seconds"])  # type: ignore[arg-type]
        total["other"] += cpu - stages_sum
        for name in ("statements", "commits"):
            total[name] += part(a, "counts").get(name, 0) - part(b, "counts").get(name, 0)
    return total
