"""What keeps running: the flusher (buffer → one transaction per batch: events, counters,
detection, alerts) and the sources that listen (syslog over UDP and TCP) or follow files
(access logs, Suricata EVE) across rotations. `app.background_loops` runs them."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from lienthong.db import unit_of_work
from lienthong.security import alerts, events
from lienthong.security.detection import SHIPPED_RULES, RuleSet, load_rules
from lienthong.security.intake import Intake, SourceCounts
from lienthong.security.normalise import (
    Malformed,
    SyslogFramer,
    decode_json_line,
    parse_access_line,
    parse_eve,
    parse_syslog,
)

if TYPE_CHECKING:
    from lienthong.config import Settings
    from lienthong.runtime import Runtime

log = logging.getLogger("lienthong.security")


def rule_folders(settings: Settings) -> list[Path]:
    folders = [SHIPPED_RULES]
    if settings.security_rules_dir is not None:
        folders.append(settings.security_rules_dir)
    return folders


@dataclass
class Flusher:
    """Takes batches out of the intake and stores each in one transaction with the alerts it
    raises. Detection state (correlation windows) lives here, one per process."""

    factory: sessionmaker[Session]
    intake: Intake
    rules: RuleSet
    settings: Settings
    delays: list[float] = field(default_factory=list)  # arrival → alert, seconds (last 10,000)
    stored: int = 0

    def flush_once(self, *, wait: float = 0.0) -> int:
        batch = self.intake.take(max_items=self.settings.security_batch_events, wait=wait)
        counts = self.intake.counts_since_last()
        if not batch and not counts:
            return 0
        recipients = alerts.Recipients(
            self.settings.security_alert_emails, self.settings.security_alert_webhooks
        )
        try:
            with unit_of_work(self.factory) as session:
                ids = events.store(session, batch)
                matches = [
                    alerts.Match(rule, item.fields, event_id)
                    for item, event_id in zip(batch, ids, strict=True)
                    for rule in self.rules.match(item.fields)
                ]
                alerts.raise_alerts(
                    session,
                    matches=matches,
                    window=timedelta(minutes=self.settings.security_alert_window_minutes),
                    recipients=recipients,
                )
                events.add_counts(session, counts)
        except Exception:
            # The database refused the batch: its events are lost, and counted as dropped.
            log.exception("security batch not stored", extra={"events": len(batch)})
            for item in batch:
                lost = counts.setdefault(item.source, SourceCounts(item.kind))
                lost.dropped += 1
                lost.taken -= 1
            self.intake.restore_counts(counts)
            return 0
        if matches:
            now = time.monotonic()
            by_id = {m.event_id for m in matches}
            self.delays.extend(
                now - item.arrived for item, i in zip(batch, ids, strict=True) if i in by_id
            )
            del self.delays[:-10_000]
        self.stored += len(batch)
        return len(batch)

    def run_forever(self, stop: threading.Event) -> None:
        wait = self.settings.security_batch_wait_ms / 1000
        while not stop.is_set():
            self.flush_once(wait=wait)
        while self.flush_once():  # what is left when asked to stop
            pass


# ---- syslog over UDP and TCP ------------------------------------------------------------


class SyslogListener:
    """Syslog on UDP and TCP (`logger`, rsyslog): one datagram or one frame is one message.
    A bad message is kept with its original and counted as malformed; the listener never
    stops for one."""

    kind = "syslog"

    def __init__(
        self, *, host: str, udp_port: int, tcp_port: int, max_line: int, zone: str
    ) -> None:
        self.name = "syslog"
        self.host, self.udp_port, self.tcp_port = host, udp_port, tcp_port
        self.max_line = max_line
        self.zone = ZoneInfo(zone)
        self.ready = threading.Event()
        self.bound: dict[str, int] = {}  # protocol → port actually bound (0 asks for any)

    def _take(self, intake: Intake, raw: bytes, peer: str | None, truncated: bool = False) -> None:
        original = raw.decode("utf-8", errors="replace")
        try:
            fields = parse_syslog(raw, local_zone=self.zone)
            malformed = False
        except Malformed as exc:
            fields = {
                "event.kind": "event",
                "event.dataset": "syslog",
                "message": original,
                "error.message": str(exc),
                "tags": ["_syslog_unparsed"],
            }
            malformed = True
        if peer:
            fields.setdefault("log.source.address", peer)
            fields.setdefault("observer.ip", peer)
        intake.offer(
            source=self.name,
            kind=self.kind,
            fields=fields,
            original=original,
            malformed=malformed,
            truncated=truncated,
        )

    def run(self, intake: Intake, stop: threading.Event) -> None:
        asyncio.run(self._serve(intake, stop))

    async def _serve(self, intake: Intake, stop: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        listener = self

        class Datagrams(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                cut = len(data) > listener.max_line
                listener._take(intake, data[: listener.max_line], addr[0], cut)

        async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            framer = SyslogFramer(self.max_line)
            try:
                while not stop.is_set():
                    data = await reader.read(65536)
                    if not data:
                        break
                    before = framer.truncated
                    for frame in framer.feed(data):
                        self._take(intake, frame, peer[0] if peer else None)
                    if framer.truncated > before:
                        intake.count(self.name, self.kind, truncated=framer.truncated - before)
                for frame in framer.feed(b"\n") if framer.buffer else []:
                    self._take(intake, frame, peer[0] if peer else None)
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        transport = None
        server = None
        if self.udp_port >= 0:
            transport, _ = await loop.create_datagram_endpoint(
                Datagrams, local_addr=(self.host, self.udp_port)
            )
            self.bound["udp"] = transport.get_extra_info("sockname")[1]
        if self.tcp_port >= 0:
            server = await asyncio.start_server(stream, self.host, self.tcp_port, limit=1 << 20)
            self.bound["tcp"] = server.sockets[0].getsockname()[1]
        self.ready.set()
        try:
            while not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            if transport is not None:
                transport.close()
            if server is not None:
                server.close()
                await server.wait_closed()


# ---- files followed across rotations ----------------------------------------------------


class FileFollower:
    """Follows a file as `tail -F` does: from its end (or its start, `from_start`), reads what
    is appended; when the file is replaced
    (another inode: logrotate's create) or cut (copytruncate), reads the new one from its
    start. A line that is not in the format is kept and counted as malformed."""

    def __init__(
        self,
        *,
        path: Path,
        kind: str,
        parse: Callable[[bytes], dict[str, object]],
        max_line: int,
        poll_seconds: float = 0.2,
        from_start: bool = False,
    ) -> None:
        self.path, self.kind, self.parse = path, kind, parse
        self.name = f"{kind}:{path.name}"
        self.max_line = max_line
        self.poll = poll_seconds
        self.from_start = from_start

    def run(self, intake: Intake, stop: threading.Event) -> None:
        handle = None
        inode = None
        pending = b""
        first = True
        while not stop.is_set():
            if handle is None:
                try:
                    handle = self.path.open("rb")
                except FileNotFoundError:
                    stop.wait(self.poll)
                    continue
                inode = os.fstat(handle.fileno()).st_ino
                if first and not self.from_start:
                    handle.seek(0, os.SEEK_END)
                first = False
            chunk = handle.read(1 << 20)
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > self.max_line:
                    lines.append(pending[: self.max_line])
                    pending = b""
                for line in lines:
                    if line.strip():
                        self._take(intake, line)
                continue
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_ino != inode or current.st_size < handle.tell()):
                # Rotated: whatever the old file still held was read above; now the new one.
                handle.close()
                handle, pending = None, b""
                continue
            stop.wait(self.poll)
        if handle is not None:
            handle.close()

    def _take(self, intake: Intake, line: bytes) -> None:
        truncated = len(line) > self.max_line
        line = line[: self.max_line]
        original = line.decode("utf-8", errors="replace")
        try:
            fields = self.parse(line)
            malformed = False
        except Malformed as exc:
            fields = {
                "event.kind": "event",
                "event.dataset": self.kind,
                "message": original,
                "error.message": str(exc),
            }
            malformed = True
        fields.setdefault("log.file.path", str(self.path))
        intake.offer(
            source=self.name,
            kind=self.kind,
            fields=fields,
            original=original,
            malformed=malformed,
            truncated=truncated,
        )


def parse_access_bytes(line: bytes) -> dict[str, object]:
    return parse_access_line(line.decode("utf-8", errors="replace"))


def parse_eve_bytes(line: bytes) -> dict[str, object]:
    document = decode_json_line(line)
    if not isinstance(document, dict):
        raise Malformed("an EVE line must be a JSON object")
    return parse_eve(document)


def sources(settings: Settings) -> list[SyslogListener | FileFollower]:
    found: list[SyslogListener | FileFollower] = []
    if settings.security_syslog_udp_port or settings.security_syslog_tcp_port:
        found.append(
            SyslogListener(
                host=settings.security_listen_host,
                udp_port=settings.security_syslog_udp_port or -1,
                tcp_port=settings.security_syslog_tcp_port or -1,
                max_line=settings.security_max_line_bytes,
                zone=settings.timezone,
            )
        )
    for name in settings.security_access_logs:
        found.append(
            FileFollower(
                path=Path(name),
                kind="access_log",
                parse=parse_access_bytes,
                max_line=settings.security_max_line_bytes,
            )
        )
    for name in settings.security_eve_logs:
        found.append(
            FileFollower(
                path=Path(name),
                kind="eve",
                parse=parse_eve_bytes,
                max_line=settings.security_max_line_bytes,
            )
        )
    return found


def security_loops(
    factory: sessionmaker[Session], runtime: Runtime
) -> Sequence[tuple[str, Callable[[threading.Event], None]]]:
    """The flusher of this process's intake and every configured source."""
    settings = runtime.settings
    loops: list[tuple[str, Callable[[threading.Event], None]]] = [
        ("security-flusher", flusher_loop(factory, runtime))
    ]
    intake = runtime.security_intake
    for source in sources(settings):
        loops.append((f"security-{source.name}", partial(_run_source, source, intake)))
    return loops


def _run_source(
    source: SyslogListener | FileFollower, intake: Intake, stop: threading.Event
) -> None:
    source.run(intake, stop)


def flusher_loop(
    factory: sessionmaker[Session], runtime: Runtime
) -> Callable[[threading.Event], None]:
    rules = load_rules(rule_folders(runtime.settings))
    for failure in rules.failures:
        log.warning("sigma rule not loaded", extra={"path": failure.path, "reason": failure.reason})
    return Flusher(factory, runtime.security_intake, rules, runtime.settings).run_forever
