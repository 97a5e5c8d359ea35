"""Status codes of QCVN 102 (§9.2 of the reference), who may send which after which, status
packages as the node writes them (signed with the From agency's key), and recording a status
on a delivery, passed on to the other party's node when that party is served elsewhere.

Statuses that arrive (from software, peers, pages) are taken in by exchange/answers.py; the 01
of a delivery is written by exchange/arrivals.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lienthong.exchange.edxml.model import ResponseFor, StaffInfo, StatusPackage
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import write_status
from lienthong.exchange.handover import StatusHandover
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.routing import organization
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Conflict, Invalid
from lienthong.kernel.pki import SigningIdentity
from lienthong.registry.models import Agency

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

ARRIVED, REJECTED, ACCEPTED, ASSIGNED, PROCESSING, FINISHED = "01", "02", "03", "04", "05", "06"
RECALL_REQUESTED, REQUEST_AGREED, REQUEST_REFUSED = "13", "15", "16"


@dataclass(frozen=True)
class StatusCode:
    code: str
    vi: str
    en: str
    by: str  # node, recipient, sender


STATUS_CODES = {
    s.code: s
    for s in (
        StatusCode(ARRIVED, "Đã đến", "Arrived", "node"),
        StatusCode(REJECTED, "Từ chối tiếp nhận", "Rejected", "recipient"),
        StatusCode(ACCEPTED, "Đã tiếp nhận", "Accepted", "recipient"),
        StatusCode(ASSIGNED, "Phân công xử lý", "Assigned", "recipient"),
        StatusCode(PROCESSING, "Đang xử lý", "Processing", "recipient"),
        StatusCode(FINISHED, "Hoàn thành", "Finished", "recipient"),
        StatusCode(RECALL_REQUESTED, "Yêu cầu lấy lại", "Recall requested", "sender"),
        StatusCode(REQUEST_AGREED, "Đồng ý cập nhật/lấy lại", "Recall/update agreed", "recipient"),
        StatusCode(
            REQUEST_REFUSED, "Từ chối cập nhật/lấy lại", "Recall/update refused", "recipient"
        ),
    )
}

# What a recipient may send after each processing status. A document is in the inbox before
# its 01 is written (exchange/arrivals.py): the clerk may answer it at once.
RECIPIENT_NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset({REJECTED, ACCEPTED}),
    ARRIVED: frozenset({REJECTED, ACCEPTED}),
    ACCEPTED: frozenset({ASSIGNED, PROCESSING, FINISHED}),
    ASSIGNED: frozenset({PROCESSING, FINISHED}),
    PROCESSING: frozenset({PROCESSING, FINISHED}),
    FINISHED: frozenset(),
    REJECTED: frozenset(),
}


def label(code: str | None, lang: str = "vi") -> str:
    status = STATUS_CODES.get(code or "")
    if status is None:
        return "Đang chuyển" if lang != "en" else "In transit"
    return status.en if lang == "en" else status.vi


# ---- recording statuses -------------------------------------------------------------------


def store_status_package(
    blobs: BlobStore, package: StatusPackage, identity: SigningIdentity | None
) -> str:
    writer = blobs.writer()
    chunks = (
        sign(lambda sig: write_status(package, signature=sig), identity)
        if identity is not None
        else write_status(package)
    )
    try:
        for chunk in chunks:
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish().sha256


def signer_for(runtime: Runtime, agency: Agency, *, required: bool) -> SigningIdentity | None:
    """A status is signed as what it says it is: with the From agency's own key, held here for
    remote signing. Without one, it is refused when signatures are required (the caller's
    `required`), else written unsigned and marked so."""
    identity = runtime.keys.identity(agency.code)
    if identity is None and required:
        raise Invalid(
            f"{agency.code} chưa có khóa ký số từ xa tại nút này: trạng thái không ký được.",
            f"{agency.code} has no remote-signing key on this node: the status cannot be signed.",
            code="remote_signing_unavailable",
            details={"agency": agency.code},
        )
    return identity


def status_package(
    document: Document,
    sender: Agency,
    from_agency: Agency,
    *,
    code: str,
    description: str | None,
    staff: StaffInfo | None,
    about: Agency | None = None,
) -> StatusPackage:
    return StatusPackage(
        from_=organization(from_agency),
        response_for=ResponseFor(
            organ_id=(about or sender).code,
            code="/".join(filter(None, (document.code_number, document.code_notation))) or None,
            promulgation_date=document.promulgation_date.strftime("%Y/%m/%d")
            if document.promulgation_date
            else None,
            document_id=document.document_id,
        ),
        status_code=code,
        description=description or label(code),
        timestamp=datetime.now(LOCAL_ZONE).replace(tzinfo=None, microsecond=0),
        staff=staff,
    )


def record_and_pass_on(
    session: Session,
    runtime: Runtime,
    document: Document,
    delivery: Delivery,
    *,
    code: str,
    description: str | None,
    by: Agency,
    staff: StaffInfo | None,
    sha: str,
    at: datetime | None = None,
    trace: list[dict[str, str]] | None = None,
    signature: str | None = None,
    received_sha: str | None = None,
) -> DeliveryStatus:
    """Record a status, and queue it for the other party's node when that party is served
    elsewhere (federation): a recipient's status goes to the sender's node, a sender's (recall)
    to the recipient's."""
    row = record(
        session,
        delivery,
        code=code,
        description=description,
        by=by,
        staff=staff,
        package_sha=sha,
        at=at,
        signature=signature,
        received_sha=received_sha,
    )
    if crosses_nodes(runtime, document, delivery):
        runtime.handover.queue_statuses(
            session,
            statuses=[
                StatusHandover(
                    document=document,
                    delivery=delivery,
                    from_code=by.code,
                    by_sender=STATUS_CODES[code].by == "sender",
                    blob_sha256=sha,
                    size=runtime.blobs.size(sha),
                    trace=trace,
                )
            ],
        )
    return row


def crosses_nodes(runtime: Runtime, document: Document, delivery: Delivery) -> bool:
    """Whether the other party of a status is served by another node."""
    return delivery.route == "federation" or document.origin_node not in (
        None,
        runtime.settings.node_code,
    )


def record(
    session: Session,
    delivery: Delivery,
    *,
    code: str,
    description: str | None,
    by: Agency,
    staff: StaffInfo | None,
    package_sha: str | None,
    at: datetime | None = None,
    signature: str | None = None,
    received_sha: str | None = None,
) -> DeliveryStatus:
    at = at or utcnow()
    row = DeliveryStatus(
        delivery_id=delivery.id,
        code=code,
        description=description,
        by_agency_id=by.id,
        staff=dataclasses.asdict(staff) if staff else None,
        package_sha256=package_sha,
        received_sha256=received_sha,
        signature=signature,
        at=at,
    )
    session.add(row)
    if code in (RECALL_REQUESTED,):
        delivery.pending_request = code
    elif code in (REQUEST_AGREED, REQUEST_REFUSED):
        delivery.pending_request = None
        if code == REQUEST_AGREED:
            delivery.state = "recalled"
    elif code != ARRIVED or delivery.status_code is None:
        # A 01 written late never hides the clerk's answer that came before it.
        delivery.status_code = code
    delivery.status_at = at
    return row


def check_transition(delivery: Delivery, *, code: str, as_sender: bool) -> None:
    if code not in STATUS_CODES:
        raise Invalid(
            f"Mã trạng thái {code} không có trong QCVN 102.",
            f"Status code {code} is not one of QCVN 102's (01–06, 13, 15, 16).",
            code="invalid_status_code",
            details={"code": code},
        )
    who = STATUS_CODES[code].by
    if (as_sender and who != "sender") or (not as_sender and who != "recipient"):
        role_vi = "cơ quan gửi" if as_sender else "cơ quan nhận"
        raise Invalid(
            f"Trạng thái {code} ({label(code)}) không do {role_vi} gửi.",
            f"Status {code} ({label(code, 'en')}) is not one the {'sender' if as_sender else 'recipient'} may send.",
            code="status_not_allowed",
            details={"code": code, "role": "sender" if as_sender else "recipient"},
        )
    if delivery.state not in ("delivered", "recalled") and not as_sender:
        raise Conflict(
            "Văn bản chưa đến hộp thư của cơ quan nhận.",
            "The document has not reached the inbox yet.",
            code="status_out_of_order",
            details={"state": delivery.state},
        )
    if code == RECALL_REQUESTED:
        if delivery.state == "recalled" or delivery.pending_request:
            raise Conflict(
                "Đã có yêu cầu lấy lại đang chờ hoặc văn bản đã được lấy lại.",
                "A recall is already pending or done for this recipient.",
                code="status_out_of_order",
                details={"state": delivery.state},
            )
        return
    if code in (REQUEST_AGREED, REQUEST_REFUSED):
        if delivery.pending_request != RECALL_REQUESTED:
            raise Conflict(
                "Không có yêu cầu lấy lại/cập nhật nào đang chờ trả lời.",
                "There is no recall or update request waiting for an answer.",
                code="status_out_of_order",
                details={"current": delivery.status_code},
            )
        return
    if delivery.state == "recalled" or code not in RECIPIENT_NEXT.get(
        delivery.status_code, frozenset()
    ):
        raise Conflict(
            f"Không thể chuyển từ trạng thái {delivery.status_code} sang {code}.",
            f"Status {code} cannot follow {delivery.status_code}.",
            code="status_out_of_order",
            details={
                "current": delivery.status_code,
                "allowed": sorted(RECIPIENT_NEXT.get(delivery.status_code, ())),
            },
        )
