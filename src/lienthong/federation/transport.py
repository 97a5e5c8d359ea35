"""Node-to-node HTTP: every request and every answer signed with the node's key (HTTP Message
Signatures, RFC 9421, see httpsig.py), bodies bound to the signature by Content-Digest
(RFC 9530). Packages travel byte for byte as stored; the trace and the recipients this hop is
for travel in signed headers beside them, because the sender's XML signature covers the whole
package and a TraceHeader written into it would break that signature."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography import x509

from lienthong.federation.httpsig import (
    SignatureProblem,
    content_digest,
    digest_of,
    sign_request,
    sign_response,
    verify_response,
)
from lienthong.kernel.errors import AppError, Invalid
from lienthong.runtime import Runtime

TO, TRACE, RECIPIENTS = "Lienthong-To", "Lienthong-Trace", "Lienthong-Recipients"
# An answer names the request it answers (the sha-256 of that request's Signature), inside its
# own signature: a signed answer cannot be replayed as the answer to another request.
IN_REPLY_TO = "Lienthong-In-Reply-To"
MAX_ANSWER_BYTES = 16 * 1024 * 1024
PACKAGES_PATH = "/federation/v1/packages"
DIRECTORY_PATH = "/federation/v1/directory"
NODE_PATH = "/federation/v1/node"
MAX_TRACE = 16
_TRACE_ENTRY = re.compile(r"^([A-Z0-9][A-Z0-9.]{0,34});(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,34}$")
RECEIPT_HEADERS = (
    "content-type",
    "content-digest",
    "lienthong-in-reply-to",
    "signature-input",
    "signature",
)


class PeerUnavailable(Exception):
    """The peer did not answer usefully (down, timeout, 5xx, garbage, unsigned answer): the
    package stays queued and the peer is tried again later."""


class PeerRefused(Exception):
    """The peer answered, signed, that it will not take this package: a dead letter."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.error = error


@dataclass(frozen=True)
class PeerInfo:
    code: str
    base_url: str
    certificate: x509.Certificate


class PeerTransport(Protocol):
    def send_package(
        self,
        peer: PeerInfo,
        *,
        blob_sha256: str,
        size: int,
        recipients: list[str],
        trace: list[dict[str, str]],
    ) -> dict[str, Any]: ...
    def get_json(self, peer: PeerInfo, path: str, params: Mapping[str, Any]) -> dict[str, Any]: ...
    def post_json(self, peer: PeerInfo, path: str, payload: Any) -> dict[str, Any]: ...


def format_trace(trace: list[dict[str, str]]) -> str:
    return ", ".join(f"{t['node']};{t['at']}" for t in trace)


def parse_trace(value: str | None) -> list[dict[str, str]]:
    if not value or not value.strip():
        return []
    entries: list[dict[str, str]] = []
    for part in value.split(","):
        match = _TRACE_ENTRY.match(part.strip())
        if match is None or len(entries) >= MAX_TRACE:
            raise Invalid(
                f"Tiêu đề {TRACE} không hợp lệ: mỗi chặng là NÚT;yyyy-mm-ddThh:mm:ssZ, tối đa {MAX_TRACE}.",
                f"{TRACE} is invalid: each hop is NODE;yyyy-mm-ddThh:mm:ssZ, at most {MAX_TRACE}.",
                code="bad_trace",
                details={"entry": part.strip()[:80]},
            )
        entries.append({"node": match.group(1), "at": match.group(2)})
    return entries


def parse_recipients(value: str | None) -> list[str]:
    codes = [c.strip() for c in (value or "").split(",") if c.strip()]
    bad = [c for c in codes if not _CODE.match(c)]
    if bad or len(codes) > 500:
        raise Invalid(
            f"Tiêu đề {RECIPIENTS} không hợp lệ: danh sách mã cơ quan, cách nhau bởi dấu phẩy.",
            f"{RECIPIENTS} is invalid: a comma-separated list of agency codes.",
            code="bad_recipients",
            details={"bad": bad[:10]},
        )
    return codes


def error_body(exc: AppError) -> dict[str, Any]:
    """Refusals between nodes carry both languages: the far operator reads one or the other."""
    return {
        "error": {
            "code": exc.code,
            "message": exc.message_vi,
            "message_en": exc.message_en,
            "details": exc.details,
        }
    }


def reply_tag(request_signature: str | None) -> str:
    return hashlib.sha256((request_signature or "").encode()).hexdigest()


def signed_json_response(
    runtime: Runtime, status: int, payload: Any, *, request_signature: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an answer signed with this node's key."""
    identity = runtime.keys.transport_identity()
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Digest": content_digest(hashlib.sha256(body).digest()),
        IN_REPLY_TO: reply_tag(request_signature),
    }
    if identity is not None:
        headers.update(
            sign_response(
                status=status,
                headers=headers,
                key=identity.key,
                key_id=runtime.settings.node_code,
            )
        )
    return body, headers


def verify_receipt(
    receipt: Mapping[str, Any], certificate: x509.Certificate, peer_code: str
) -> bool:
    """Check a stored receipt again, long after: the peer's signature over its answer."""
    headers = dict(receipt.get("headers", {}))
    raw = str(receipt.get("raw", "")).encode()
    if digest_of(headers.get("content-digest")) != hashlib.sha256(raw).digest():
        return False
    try:
        verify_response(
            status=int(receipt.get("status", 0)),
            headers=headers,
            certificate=certificate,
            expected_key_id=peer_code,
            max_skew_seconds=10**10,
        )
    except SignatureProblem:
        return False
    return True


class HttpTransport:
    """httpx with bounded timeouts: a peer that hangs costs one timeout, never a stuck worker."""

    def __init__(self, runtime: Runtime, client: httpx.Client | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(
                settings.peer_timeout_seconds, connect=settings.peer_connect_timeout_seconds
            ),
            follow_redirects=False,
        )

    def _sign(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        identity = self.runtime.keys.transport_identity()
        if identity is None:
            raise PeerUnavailable("this node has no federation identity: run `lienthong node init`")
        headers.update(
            sign_request(
                method=method,
                url=url,
                headers=headers,
                key=identity.key,
                key_id=self.runtime.settings.node_code,
            )
        )
        return headers

    def send_package(
        self,
        peer: PeerInfo,
        *,
        blob_sha256: str,
        size: int,
        recipients: list[str],
        trace: list[dict[str, str]],
    ) -> dict[str, Any]:
        url = peer.base_url + PACKAGES_PATH
        headers = {
            "Content-Type": "application/xml",
            "Content-Digest": content_digest(bytes.fromhex(blob_sha256)),
            "Content-Length": str(size),
            TO: peer.code,
            TRACE: format_trace(trace),
        }
        if recipients:
            headers[RECIPIENTS] = ", ".join(recipients)
        self._sign("POST", url, headers)
        with self.runtime.blobs.open(blob_sha256) as handle:

            def body() -> Iterator[bytes]:
                while chunk := handle.read(256 * 1024):
                    yield chunk

            receipt = self._exchange(peer, "POST", url, headers=headers, content=body())
        if receipt["body"].get("package_sha256") != blob_sha256:
            # A signed answer, but not about this package (a replayed or misrouted receipt).
            raise PeerUnavailable("the receipt is for another package")
        return receipt

    def get_json(self, peer: PeerInfo, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        url = str(httpx.URL(peer.base_url + path, params=dict(params)))
        headers = {TO: peer.code, "Content-Digest": content_digest(hashlib.sha256(b"").digest())}
        self._sign("GET", url, headers)
        return self._exchange(peer, "GET", url, headers=headers)

    def post_json(self, peer: PeerInfo, path: str, payload: Any) -> dict[str, Any]:
        url = peer.base_url + path
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "Content-Digest": content_digest(hashlib.sha256(body).digest()),
            TO: peer.code,
        }
        self._sign("POST", url, headers)
        return self._exchange(peer, "POST", url, headers=headers, content=body)

    def _exchange(
        self, peer: PeerInfo, method: str, url: str, *, headers: dict[str, str], content: Any = None
    ) -> dict[str, Any]:
        started = time.monotonic()
        deadline = started + self.runtime.settings.peer_timeout_seconds
        try:
            request = self.client.build_request(method, url, headers=headers, content=content)
            response = self.client.send(request, stream=True)
            try:
                # The read timeout bounds each silence; this bounds the whole answer, so a peer
                # that trickles bytes, or sends too many, cannot hold the forwarder.
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                        raise PeerUnavailable("the answer is too long or too slow")
                    chunks.append(chunk)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{type(exc).__name__}: {exc}"[:500]) from exc
        return answer_of(
            peer,
            response.status_code,
            response.headers,
            b"".join(chunks),
            reply_to=headers.get("Signature"),
            elapsed=time.monotonic() - started,
        )


def answer_of(
    peer: PeerInfo,
    status: int,
    headers: httpx.Headers,
    raw: bytes,
    *,
    reply_to: str | None,
    elapsed: float = 0.0,
) -> dict[str, Any]:
    """A verified answer as a receipt {status, headers, raw, body}; garbage or an unsigned
    answer is the peer being unavailable, a signed refusal is PeerRefused."""
    if status >= 500 or status in (401, 408, 429):
        raise PeerUnavailable(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
    try:
        if digest_of(headers.get("content-digest")) != hashlib.sha256(raw).digest():
            raise PeerUnavailable("the answer does not match its Content-Digest")
        verify_response(
            status=status, headers=headers, certificate=peer.certificate, expected_key_id=peer.code
        )
        if headers.get(IN_REPLY_TO) != reply_tag(reply_to):
            raise PeerUnavailable("the signed answer is for another request")
        text = raw.decode()
        body = json.loads(text)
    except (SignatureProblem, ValueError, RecursionError) as exc:
        raise PeerUnavailable(f"unsigned or unreadable answer (HTTP {status}): {exc}") from exc
    if not isinstance(body, dict):
        raise PeerUnavailable("the answer is not a JSON object")
    if status >= 400:
        error = body.get("error")
        raise PeerRefused(status, error if isinstance(error, dict) else {"code": "refused"})
    return {
        "status": status,
        "headers": {h: headers[h] for h in RECEIPT_HEADERS if h in headers},
        "raw": text,
        "body": body,
        "elapsed_ms": round(elapsed * 1000, 1),
    }
