"""Peers: the other nodes this one exchanges with directly, their certificates, and the route
to a node that is not a peer (through the national axis)."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.federation.models import Outbound, Peer
from lienthong.kernel.certpath import CertificateProblem, check_chain
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Invalid, NotFound
from lienthong.kernel.pki import KeyStore

NODE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.]{0,34}$")


def check_node_code(code: str) -> str:
    code = code.strip().upper()
    if not NODE_CODE.match(code):
        raise Invalid(
            f"Mã nút '{code}' không hợp lệ: chữ in hoa, số và dấu chấm, tối đa 35 ký tự (ví dụ H49, VN).",
            f"Node code '{code}' is invalid: capitals, digits and dots, at most 35 (e.g. H49, VN).",
            code="invalid_node_code",
            details={"code": code},
        )
    return code


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(
            f"Địa chỉ nút '{url}' phải là URL http(s)://máy[:cổng].",
            f"Node address '{url}' must be an http(s)://host[:port] URL.",
            code="invalid_peer_url",
        )
    return url.strip().rstrip("/")


def verify_node_chain(keys: KeyStore, code: str, chain: list[x509.Certificate]) -> x509.Certificate:
    """The peer's certificate, once it is shown to chain to the federation's root and to name
    the node (UID = node code)."""
    return check_chain(
        chain,
        anchors=keys.trust_anchors(),
        revocation=keys.revocation(),
        sender_code=code,
        served_by=code,
    )


def add_peer(
    session: Session,
    *,
    keys: KeyStore,
    code: str,
    base_url: str,
    certificate_pem: bytes,
    national: bool = False,
) -> Peer:
    """Add a peer, or update its address and certificate. The certificate must chain to the
    federation's root and carry the node's code; at most one peer is the national axis."""
    code = check_node_code(code)
    url = _check_url(base_url)
    try:
        chain = x509.load_pem_x509_certificates(certificate_pem)
    except ValueError as exc:
        raise Invalid(
            "Chứng thư của nút ngang hàng không đọc được (cần PEM).",
            "The peer's certificate cannot be read (PEM expected).",
            code="bad_certificate",
        ) from exc
    verify_node_chain(keys, code, chain)
    peer = session.scalars(select(Peer).where(Peer.code == code)).first()
    if national:
        for other in session.scalars(select(Peer).where(Peer.national.is_(True))):
            other.national = False
    if peer is None:
        peer = Peer(code=code, added_at=utcnow(), state="unknown", failures=0)
        session.add(peer)
    peer.base_url = url
    peer.certificate = certificate_pem.decode()
    peer.national = national
    peer.retry_at = None
    session.flush()
    return peer


def get_peer(session: Session, *, code: str) -> Peer:
    peer = session.scalars(select(Peer).where(Peer.code == code.strip().upper())).first()
    if peer is None:
        raise NotFound(f"Không có nút ngang hàng {code}.", f"No peer {code}.", code="unknown_peer")
    return peer


def remove_peer(session: Session, *, code: str) -> None:
    peer = get_peer(session, code=code)
    waiting = session.scalar(
        select(func.count())
        .select_from(Outbound)
        .where(Outbound.peer_code == peer.code, Outbound.state == "queued")
    )
    if waiting:
        raise Conflict(
            f"Còn {waiting} gói tin đang chờ chuyển cho {peer.code}; hãy chờ chuyển xong hoặc "
            "chuyển hướng trước khi gỡ nút.",
            f"{waiting} packages still wait for {peer.code}; let them drain before removing it.",
            code="peer_has_backlog",
            details={"queued": waiting},
        )
    session.delete(peer)
    session.flush()


def next_hop(session: Session, *, own: str, dest: str, visited: Collection[str] = ()) -> str | None:
    """The peer a package for node `dest` leaves through: `dest` itself when it is a peer, else
    the national axis; None when neither exists or the way leads back through `visited`."""
    if dest == own:
        return None
    peers = {p.code: p.national for p in session.execute(select(Peer.code, Peer.national)).all()}
    if dest in peers and dest not in visited:
        return dest
    national: str | None = next((str(c) for c, is_national in peers.items() if is_national), None)
    if national is None or national in visited or national == own:
        return None
    return national


class CertificateCache:
    """Peers' certificate chains parsed once per PEM (every request is verified against one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, list[x509.Certificate]] = {}

    def chain(self, pem: str) -> list[x509.Certificate]:
        with self._lock:
            found = self._cache.get(pem)
        if found is None:
            found = x509.load_pem_x509_certificates(pem.encode())
            with self._lock:
                self._cache[pem] = found
        return found

    def leaf(self, pem: str) -> x509.Certificate:
        return self.chain(pem)[0]


def trusted_peer_certificate(
    session: Session, *, keys: KeyStore, cache: CertificateCache, code: str
) -> x509.Certificate | None:
    """The certificate of a known peer, still valid and not revoked; None for a stranger."""
    peer = session.scalars(select(Peer).where(Peer.code == code)).first()
    if peer is None:
        return None
    chain = cache.chain(peer.certificate)
    try:
        check_chain(
            chain,
            anchors=keys.trust_anchors(),
            revocation=keys.revocation(),
            sender_code=code,
            served_by=code,
        )
    except CertificateProblem:
        return None
    return chain[0]


def status(session: Session) -> list[dict[str, Any]]:
    """Each peer with its link state, backlog and oldest waiting package, for operators."""
    queue = {
        code: (int(n), oldest)
        for code, n, oldest in session.execute(
            select(Outbound.peer_code, func.count(), func.min(Outbound.created_at))
            .where(Outbound.state == "queued")
            .group_by(Outbound.peer_code)
        ).all()
    }
    dead = dict(
        session.execute(
            select(Outbound.peer_code, func.count())
            .where(Outbound.state == "dead")
            .group_by(Outbound.peer_code)
        ).all()
    )
    rows = []
    for peer in session.scalars(select(Peer).order_by(Peer.national.desc(), Peer.code)):
        backlog, oldest = queue.get(peer.code, (0, None))
        rows.append(
            {
                "code": peer.code,
                "base_url": peer.base_url,
                "national": peer.national,
                "state": peer.state,
                "last_success_at": _iso(peer.last_success_at),
                "last_failure_at": _iso(peer.last_failure_at),
                "last_error": peer.last_error,
                "failures": peer.failures,
                "retry_at": _iso(peer.retry_at),
                "backlog": backlog,
                "oldest_waiting_at": _iso(_aware(oldest)),
                "dead": int(dead.get(peer.code, 0)),
                "directory_version": peer.directory_version,
                "directory_synced_at": _iso(peer.directory_synced_at),
                "directory_error": peer.directory_error,
            }
        )
    return rows


def _aware(value: datetime | None) -> datetime | None:
    """func.min() bypasses the UTC column type: SQLite hands back a naive string or datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None
