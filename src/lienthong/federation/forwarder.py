"""Store and forward: hand queued packages to peers, most urgent first, and keep the directory
in step with the national axis.

One forwarder at a time holds a peer (a lease in its row, lapsing after a crash), so the queue
leaves in order: priority (4 hỏa tốc hẹn giờ … 0 thường), then arrival. A peer that does not
answer is left alone until its backoff has passed; then the whole backlog drains in that order.
Results are written in short transactions after each exchange, never while a request is open,
so a slow peer holds no database lock. A crash between the peer's receipt and our commit only
means the package is sent again, and the peer answers the repeat from what it stored.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lienthong.exchange.models import Document
from lienthong.federation import directory, outbox
from lienthong.federation.models import Outbound, Peer
from lienthong.federation.peers import CertificateCache
from lienthong.federation.transport import (
    DIRECTORY_PATH,
    HttpTransport,
    PeerInfo,
    PeerRefused,
    PeerTransport,
    PeerUnavailable,
)
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Invalid
from lienthong.kernel.jobs import backoff, orphaned, process_id
from lienthong.runtime import Runtime

log = logging.getLogger("lienthong.federation")
COMMIT_EVERY = 20
FEED_PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    sha256: str
    size: int
    recipients: list[str]
    trace: list[dict[str, str]]


class Forwarder:
    def __init__(
        self,
        factory: sessionmaker[Session],
        runtime: Runtime,
        transport: PeerTransport | None = None,
        worker_id: str = "",
    ) -> None:
        self.factory = factory
        self.runtime = runtime
        self.settings = runtime.settings
        self.transport = transport or HttpTransport(runtime)
        self.worker_id = worker_id or process_id("forwarder")
        self.certificates = CertificateCache()
        self._next_sync = 0.0
        self._executor: ThreadPoolExecutor | None = None

    # ---- the loop ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """One pass: a batch to every due peer; the directory when its time has come."""
        sent = 0
        for code in self.due_peers():
            sent += self.pump(code)
        if time.monotonic() >= self._next_sync:
            self._next_sync = time.monotonic() + self.settings.directory_sync_seconds
            self.sync_directory()
        return sent

    def run_until_idle(self, limit: int = 1000) -> int:
        total = 0
        for _ in range(limit):
            sent = self.run_once()
            total += sent
            if not sent:
                break
        return total

    def run_forever(self, stop: threading.Event) -> None:
        log.info("forwarder started", extra={"worker": self.worker_id})
        while not stop.is_set():
            try:
                if not self.run_once():
                    stop.wait(self.settings.forward_poll_seconds)
            except Exception:  # a broken database or peer must not end the loop
                log.exception("forwarder loop error")
                stop.wait(self.settings.forward_poll_seconds)
        self.close()
        log.info("forwarder stopped", extra={"worker": self.worker_id})

    def due_peers(self) -> list[str]:
        now = utcnow()
        with self.factory() as session:
            waiting = set(
                session.scalars(
                    select(Outbound.peer_code).where(Outbound.state == outbox.QUEUED).distinct()
                )
            )
            return [
                peer.code
                for peer in session.scalars(select(Peer).where(Peer.code.in_(waiting)))
                if peer.retry_at is None or peer.retry_at <= now
            ]

    # ---- hand-over --------------------------------------------------------------------------

    def _info(self, peer: Peer) -> PeerInfo:
        return PeerInfo(peer.code, peer.base_url, self.certificates.leaf(peer.certificate))

    def pump(self, code: str) -> int:
        """Send one batch to a peer. Returns how many packages it answered for.

        Up to `forward_window` packages are in flight at once, so the drain rate is the window
        over the peer's latency rather than one over it. Packages about the same document (the
        document, its statuses, a recall or update of it) form one lane and leave one after
        another, in queue order, so the peer never sees a status before its document. Lanes
        run by tiers of priority: no ordinary package leaves while an urgent one is in flight
        (a lane belongs to the tier of its first, most urgent, package). The first `PeerUnavailable` stops every lane:
        what was in flight is recorded as the peer answered it, the rest stays queued.
        """
        now = utcnow()
        with self.factory.begin() as session:
            peer = session.scalars(select(Peer).where(Peer.code == code).with_for_update()).first()
            if peer is None or (peer.retry_at is not None and peer.retry_at > now):
                return 0
            held = peer.lease_until is not None and peer.lease_until > now
            if (
                held
                and peer.lease_owner != self.worker_id
                and not orphaned(peer.lease_owner, self.worker_id)
            ):
                return 0
            peer.lease_owner = self.worker_id
            peer.lease_until = now + timedelta(seconds=self.settings.forward_lease_seconds)
            info = self._info(peer)
            rows = session.execute(
                select(
                    Outbound.id,
                    Outbound.blob_sha256,
                    Outbound.size,
                    Outbound.recipients,
                    Outbound.trace,
                    func.coalesce(Document.target_id, Outbound.document_fk),
                    Outbound.priority,
                )
                .join(Document, Document.id == Outbound.document_fk)
                .where(Outbound.peer_code == code, Outbound.state == outbox.QUEUED)
                .order_by(Outbound.priority.desc(), Outbound.id)
                .limit(self.settings.forward_batch)
            ).all()
        lanes: dict[int, list[_Row]] = {}
        tiers: dict[int, list[list[_Row]]] = {}
        for row_id, sha, size, recipients, trace, lane, priority in rows:
            if lane not in lanes:
                lanes[lane] = []
                tiers.setdefault(priority, []).append(lanes[lane])
            lanes[lane].append(_Row(row_id, sha, size, recipients, trace))
        stop = threading.Event()
        failures: list[str] = []
        results: list[tuple[int, str, dict[str, Any]]] = []
        answered = 0
        pool = self._pool()
        pending: set[Future[list[tuple[int, str, dict[str, Any]]]]] = set()
        renewed = time.monotonic()
        try:
            # Most urgent first: a tier of priority starts once the one above it has ended.
            for priority in sorted(tiers, reverse=True):
                if stop.is_set():
                    break
                pending = {
                    pool.submit(self._lane, info, lane, stop, failures) for lane in tiers[priority]
                }
                while pending:
                    done, pending = wait(
                        pending,
                        timeout=self.settings.forward_lease_seconds / 3,
                        return_when=FIRST_COMPLETED,
                    )
                    for future in done:
                        lane_results = future.result()
                        results.extend(lane_results)
                        answered += len(lane_results)
                    if time.monotonic() - renewed > self.settings.forward_lease_seconds / 3:
                        if not self._renew(code):
                            stop.set()  # another forwarder took the peer over: it sends the rest
                        renewed = time.monotonic()
                    if len(results) >= COMMIT_EVERY:
                        self._record(code, results, None, release=False)
                        results = []
        finally:
            stop.set()
            for future in pending:  # only after an error of ours: let the lanes end
                results.extend(future.result())
            self._record(code, results, failures[0] if failures else None, release=True)
        return answered

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.settings.forward_window, thread_name_prefix="forward"
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _lane(
        self, info: PeerInfo, lane: list[_Row], stop: threading.Event, failures: list[str]
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Send one lane's packages in order until it ends, the peer fails or the pump stops."""
        results: list[tuple[int, str, dict[str, Any]]] = []
        for row in lane:
            if stop.is_set():
                break
            try:
                receipt = self.transport.send_package(
                    info,
                    blob_sha256=row.sha256,
                    size=row.size,
                    recipients=row.recipients,
                    trace=row.trace,
                )
            except PeerRefused as exc:
                results.append((row.id, "dead", {**exc.error, "status": exc.status}))
            except PeerUnavailable as exc:
                failures.append(str(exc))
                stop.set()
                break
            except Exception as exc:  # ours, not the peer's (a blob gone from disk …)
                log.exception("could not send a package", extra={"outbound": row.id})
                error = {"code": "local_error", "message": f"{type(exc).__name__}: {exc}"}
                results.append((row.id, "dead", error))
            else:
                results.append((row.id, "sent", receipt))
        return results

    def _renew(self, code: str) -> bool:
        """Extend this forwarder's lease on a peer; False when it is no longer ours."""
        until = utcnow() + timedelta(seconds=self.settings.forward_lease_seconds)
        with self.factory.begin() as session:
            done = session.execute(
                update(Peer)
                .where(Peer.code == code, Peer.lease_owner == self.worker_id)
                .values(lease_until=until)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def _record(
        self,
        code: str,
        results: list[tuple[int, str, dict[str, Any]]],
        failure: str | None,
        *,
        release: bool,
    ) -> None:
        now = utcnow()
        with self.factory.begin() as session:
            for row_id, outcome, data in results:
                row = session.get(Outbound, row_id)
                if row is None or row.state != outbox.QUEUED:
                    continue
                row.attempts += 1
                if outcome == "sent":
                    outbox.handed_over(session, row, receipt=data)
                else:
                    outbox.refused(session, row, error=data)
                    log.warning(
                        "peer refused a package",
                        extra={"peer": code, "outbound": row_id, "error": data.get("code")},
                    )
            peer = session.scalars(select(Peer).where(Peer.code == code)).first()
            if peer is None:
                return
            if results:
                peer.state = "up"
                peer.last_success_at = now
                peer.failures = 0
                peer.retry_at = None
                peer.last_error = None
            if failure is not None:
                peer.state = "down"
                peer.failures += 1
                peer.last_failure_at = now
                peer.last_error = failure[:4000]
                delay = min(
                    backoff(peer.failures, self.settings.peer_retry_base_seconds).total_seconds(),
                    self.settings.peer_retry_max_seconds,
                )
                peer.retry_at = now + timedelta(seconds=delay)
                log.warning(
                    "peer unavailable",
                    extra={"peer": code, "failures": peer.failures, "error": failure[:200]},
                )
            if release and peer.lease_owner == self.worker_id:
                peer.lease_owner = None
                peer.lease_until = None
            elif not release:
                peer.lease_until = now + timedelta(seconds=self.settings.forward_lease_seconds)

    # ---- directory ----------------------------------------------------------------------

    def sync_directory(self) -> None:
        """Pull the national axis' feed and push this node's own agencies to it."""
        with self.factory() as session:
            national = session.scalars(select(Peer).where(Peer.national.is_(True))).first()
            code = national.code if national else None
        if code is None or code == self.settings.node_code:
            return
        for step in (self.pull_directory, self.push_directory):
            try:
                step(code)
            except (PeerUnavailable, PeerRefused, AppError) as exc:
                log.warning("directory sync failed", extra={"peer": code, "error": str(exc)[:300]})

    def _note_directory_error(self, code: str, error: str) -> None:
        with self.factory.begin() as session:
            peer = session.scalars(select(Peer).where(Peer.code == code)).first()
            if peer is not None:
                peer.directory_error = error[:4000]

    def pull_directory(self, code: str) -> directory.ApplyResult | None:
        """Everything changed since the last version applied, checked, then applied in one
        transaction; a stale or badly signed feed is refused and the directory kept as it was."""
        with self.factory() as session:
            peer = session.scalars(select(Peer).where(Peer.code == code)).one()
            info, since = self._info(peer), peer.directory_version
        records: list[dict[str, Any]] = []
        cursor, head = since, since
        try:
            while True:
                page = self.transport.get_json(
                    info, DIRECTORY_PATH, {"since": cursor, "limit": FEED_PAGE}
                )["body"]
                head = check_feed_page(page, since=since, cursor=cursor)
                records.extend(page["records"])
                if not page.get("more") or not page["records"]:
                    break
                cursor = int(page["records"][-1]["version"])
        except (PeerUnavailable, PeerRefused, AppError) as exc:
            self._note_directory_error(
                code, f"{exc.code}: {exc}" if isinstance(exc, AppError) else str(exc)
            )
            log.warning("directory feed refused", extra={"peer": code, "error": str(exc)[:300]})
            raise
        try:
            with self.factory.begin() as session:
                result = directory.apply(
                    session,
                    records=records,
                    own_node=self.settings.node_code,
                    actor=f"node:{code}",
                )
                peer = session.scalars(select(Peer).where(Peer.code == code)).one()
                peer.directory_version = head
                peer.directory_synced_at = utcnow()
                peer.directory_error = None
        except AppError as exc:  # nothing applied; the directory stays as it was
            self._note_directory_error(code, f"{exc.code}: {exc}")
            raise
        log.info(
            "directory pulled",
            extra={"peer": code, "version": head, "records": len(records)},
        )
        return result

    def push_directory(self, code: str) -> int:
        """This node's own agencies changed since the last push, up to the national axis."""
        pushed = 0
        while True:
            with self.factory() as session:
                peer = session.scalars(select(Peer).where(Peer.code == code)).one()
                info, since = self._info(peer), peer.pushed_version
                feed = directory.feed(
                    session, since=since, limit=FEED_PAGE, node_code=self.settings.node_code
                )
            if not feed["records"]:
                return pushed
            self.transport.post_json(info, DIRECTORY_PATH, {"records": feed["records"]})
            last = max(int(r["version"]) for r in feed["records"])
            with self.factory.begin() as session:
                peer = session.scalars(select(Peer).where(Peer.code == code)).one()
                peer.pushed_version = last
            pushed += len(feed["records"])
            if not feed.get("more"):
                return pushed


def check_feed_page(page: Any, *, since: int, cursor: int) -> int:
    """The feed's head, once the page is shown to be a well-formed continuation of what this
    node has: a head below the version already applied is a stale (or replayed) feed."""
    if not isinstance(page, dict) or not isinstance(page.get("records"), list):
        raise Invalid(
            "Danh bạ nhận được không đúng định dạng.",
            "The directory feed is malformed.",
            code="bad_directory_feed",
        )
    head = page.get("head")
    if not isinstance(head, int) or head < since:
        raise Invalid(
            f"Danh bạ nhận được cũ hơn bản đang dùng (phiên bản {head} < {since}); giữ bản hiện có.",
            f"The directory feed is older than the one in use (version {head} < {since}); kept the current one.",
            code="stale_directory_feed",
            details={"head": head, "have": since},
        )
    last = cursor
    for record in page["records"]:
        version = record.get("version") if isinstance(record, dict) else None
        if not isinstance(version, int) or version <= last or version > head:
            raise Invalid(
                "Danh bạ nhận được có phiên bản bản ghi sai thứ tự.",
                "The directory feed's record versions are out of order.",
                code="bad_directory_feed",
                details={"version": version, "after": last, "head": head},
            )
        last = version
    return head
