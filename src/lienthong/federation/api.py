"""What peers call (/federation/v1: signed both ways) and what operators call
(/api/v1/federation: peers, dead letters, requeue)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lienthong.accounts.deps import NodeAdmin
from lienthong.db import unit_of_work
from lienthong.exchange.spool import chunks, spool
from lienthong.federation import directory, inbound, outbox, peers
from lienthong.federation.httpsig import SignatureProblem, digest_of, verify_request
from lienthong.federation.peers import CertificateCache
from lienthong.federation.schemas import (
    DirectoryFeed,
    DirectoryPushAnswer,
    NodeInfo,
    OutboundOut,
    OutboundPage,
    PeerList,
    Receipt,
)
from lienthong.federation.transport import (
    RECIPIENTS,
    TO,
    TRACE,
    error_body,
    parse_recipients,
    parse_trace,
    signed_json_response,
)
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Conflict, Invalid, NotFound
from lienthong.kernel.pki import pem
from lienthong.runtime import Runtime
from lienthong.web.deps import DB, NodeRuntime, Pk
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, errors, raw_body

log = logging.getLogger("lienthong.federation")
router = APIRouter(prefix="/federation/v1", tags=["federation"])
operator = APIRouter(prefix="/api/v1/federation", tags=["federation"])
_certificates = CertificateCache()


def _signed(request: Request, runtime: Runtime, status: int, payload: Any) -> Response:
    body, headers = signed_json_response(
        runtime, status, payload, request_signature=request.headers.get("signature")
    )
    return Response(body, status_code=status, headers=headers)


def _refusal(request: Request, runtime: Runtime, exc: AppError) -> Response:
    return _signed(request, runtime, exc.status_code, error_body(exc))


def _signed_target(request: Request) -> str:
    """The path and query as sent (Starlette's URL holds the decoded path)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def _authenticate(request: Request, runtime: Runtime) -> str:
    """The peer that signed this request (RFC 9421), or 401."""
    factory = request.app.state.session_factory

    def resolve(key_id: str) -> Any:
        with factory() as session:
            return peers.trusted_peer_certificate(
                session, keys=runtime.keys, cache=_certificates, code=key_id
            )

    verified = verify_request(
        method=request.method,
        url=_signed_target(request),
        headers=request.headers,
        resolve=resolve,
        max_skew_seconds=runtime.settings.federation_max_skew_seconds,
    )
    addressed = request.headers.get(TO, "")
    if addressed != runtime.settings.node_code:
        raise Conflict(
            f"Yêu cầu gửi cho nút {addressed or '—'}, đây là nút {runtime.settings.node_code}.",
            f"The request is for node {addressed or '—'}; this is node {runtime.settings.node_code}.",
            code="wrong_node",
        )
    return verified.key_id


PEER_ERRORS = errors(401, 403, 404, 409, 429)


@router.get("/node", response_model=NodeInfo, responses=errors(404))
async def node_info(runtime: NodeRuntime) -> JSONResponse:
    """This node's code, address and certificate chain (checked by peers against the
    federation's root before they add it)."""
    identity = runtime.keys.transport_identity()
    if identity is None:
        raise NotFound(
            "Nút chưa khởi tạo danh tính liên thông (lienthong node init).",
            "This node has no federation identity yet (lienthong node init).",
            code="node_not_initialised",
        )
    return JSONResponse(
        {
            "code": runtime.settings.node_code,
            "base_url": runtime.settings.public_url,
            "certificate": b"".join(pem(c) for c in identity.chain).decode(),
        }
    )


@router.post(
    "/packages",
    response_model=Receipt,
    responses={**PEER_ERRORS, **WITH_BODY},
    openapi_extra=raw_body("application/xml", "The edXML package byte for byte, RFC 9421-signed"),
)
async def receive_package(request: Request, runtime: NodeRuntime) -> Response:
    """A package handed over by a peer: the body is the edXML package exactly as its sender
    signed it; the answer is a receipt signed by this node."""
    try:
        peer_code = await run_in_threadpool(_authenticate, request, runtime)
        trace = parse_trace(request.headers.get(TRACE))
        if any(t["node"] == runtime.settings.node_code for t in trace):
            raise Conflict(
                "Gói tin đã đi qua nút này: từ chối để tránh vòng lặp.",
                "The package has already passed this node: refused to avoid a loop.",
                code="routing_loop",
                details={"trace": trace},
            )
        recipients = parse_recipients(request.headers.get(RECIPIENTS))
        digest = digest_of(request.headers.get("content-digest"))
        body = await spool(request.stream(), limit=runtime.settings.max_package_bytes)
        try:
            answer, repeated = await run_in_threadpool(
                _accept, request, runtime, peer_code, body, recipients, trace, digest
            )
        finally:
            body.close()
    except AppError as exc:
        return _refusal(request, runtime, exc)
    return _signed(request, runtime, 200, {**answer, "repeated": repeated})


def _accept(
    request: Request,
    runtime: Runtime,
    peer_code: str,
    body: Any,
    recipients: list[str],
    trace: list[dict[str, str]],
    digest: bytes | None,
) -> tuple[dict[str, Any], bool]:
    # Stored and committed before the receipt is signed: a receipt is never given for
    # something not stored. Packages from peers arriving together (a forwarder's window) go
    # through the intake's group commit: one transaction for the batch, each package in its
    # own savepoint. Two copies racing (a retry overtaking a slow first attempt) meet at a
    # unique constraint; the loser runs again and is answered as a repeat.
    committer = request.app.state.intake_committer
    if committer is not None:

        def unit(session: Session, _batch: dict[str, list[Any]]) -> tuple[dict[str, Any], bool]:
            body.seek(0)
            return inbound.accept(
                session,
                runtime=runtime,
                peer_code=peer_code,
                chunks=chunks(body),
                recipients=recipients,
                trace=trace,
                digest=digest,
            )

        answer: tuple[dict[str, Any], bool] = committer.run(unit)
        return answer
    for attempt in (1, 2):
        body.seek(0)
        try:
            with unit_of_work(request.app.state.session_factory) as session:
                return inbound.accept(
                    session,
                    runtime=runtime,
                    peer_code=peer_code,
                    chunks=chunks(body),
                    recipients=recipients,
                    trace=trace,
                    digest=digest,
                )
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("two copies of a package raced; the second is answered as a repeat")
    raise AssertionError("unreachable")


@router.get("/directory", response_model=DirectoryFeed, responses=PEER_ERRORS)
async def directory_feed(
    request: Request,
    runtime: NodeRuntime,
    since: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Response:
    """The agency directory changed since a version, signed by this node."""
    try:
        await run_in_threadpool(_authenticate, request, runtime)

        def read() -> dict[str, Any]:
            with request.app.state.session_factory() as session:
                return directory.feed(session, since=since, limit=limit)

        page = await run_in_threadpool(read)
    except AppError as exc:
        return _refusal(request, runtime, exc)
    return _signed(request, runtime, 200, {"node": runtime.settings.node_code, **page})


@router.post(
    "/directory",
    response_model=DirectoryPushAnswer,
    responses={**PEER_ERRORS, **WITH_BODY},
    openapi_extra=raw_body("application/json", "The pusher's own agency records, RFC 9421-signed"),
)
async def directory_push(request: Request, runtime: NodeRuntime) -> Response:
    """A peer's own agencies, pushed up: applied only for agencies that peer serves."""
    try:
        peer_code = await run_in_threadpool(_authenticate, request, runtime)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > runtime.settings.max_import_bytes:
                raise Invalid(
                    "Danh bạ gửi lên quá lớn.",
                    "The pushed directory is too large.",
                    code="too_large",
                )
        if digest_of(request.headers.get("content-digest")) != hashlib.sha256(raw).digest():
            raise SignatureProblem(
                "Nội dung không khớp Content-Digest đã ký.",
                "The body does not match the signed Content-Digest.",
                code="digest_mismatch",
            )
        try:
            records = json.loads(raw)["records"]
            assert isinstance(records, list)
        except (ValueError, KeyError, TypeError, AssertionError, RecursionError) as exc:
            raise Invalid(
                'Thân yêu cầu phải là JSON {"records": [...]}.',
                'The body must be JSON {"records": [...]}.',
                code="bad_directory_feed",
            ) from exc

        def apply() -> dict[str, Any]:
            with unit_of_work(request.app.state.session_factory) as session:
                # Only records newer than the last push applied: a replayed or late push cannot
                # undo a newer change. (At this end, a peer's directory_version counts pushes.)
                peer = peers.get_peer(session, code=peer_code)
                have = peer.directory_version
                # (a record without a version stays in, for apply to refuse it with the reason)
                fresh = [
                    r
                    for r in records
                    if not isinstance(r, dict)
                    or not isinstance(r.get("version"), int)
                    or r["version"] > have
                ]
                if not fresh:
                    return {"applied": None, "stale": True, "have": peer.directory_version}
                result = directory.apply(
                    session,
                    records=fresh,
                    own_node=runtime.settings.node_code,
                    only_node=peer_code,
                    actor=f"node:{peer_code}",
                )
                peer.directory_version = max(int(r["version"]) for r in fresh)
                peer.directory_synced_at = utcnow()
                return {"applied": result.__dict__, "have": peer.directory_version}

        answer = await run_in_threadpool(apply)
    except AppError as exc:
        return _refusal(request, runtime, exc)
    return _signed(request, runtime, 200, answer)


# ---- operators ------------------------------------------------------------------------------


@operator.get("/peers", response_model=PeerList, responses=SIGNED_IN)
def peer_list(db: DB, admin: NodeAdmin) -> dict[str, Any]:
    return {"items": peers.status(db)}


@operator.get("/outbound", response_model=OutboundPage, responses=SIGNED_IN)
def outbound_list(
    db: DB,
    admin: NodeAdmin,
    state: Annotated[str, Query(pattern="^(queued|sent|dead)$")] = "dead",
    peer: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,35}$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rows, total = outbox.listing(db, state=state, page=page, page_size=page_size, peer=peer)
    return {
        "items": [outbox.outbound_json(r) for r in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@operator.post(
    "/outbound/{outbound_id}/requeue",
    response_model=OutboundOut,
    responses={**SIGNED_IN, **errors(404, 409)},
)
def outbound_requeue(outbound_id: Pk, db: DB, admin: NodeAdmin) -> dict[str, Any]:
    return outbox.outbound_json(outbox.requeue(db, outbound_id=outbound_id))
