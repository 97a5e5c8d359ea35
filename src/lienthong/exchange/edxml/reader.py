"""Tolerant reader: element order free, the edXML URI as default namespace or `edXML:` prefix,
both date orders, unknown elements kept. What is required is checked and named."""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from lienthong.exchange.edxml import NS
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import (
    Attachment,
    Business,
    DocumentPackage,
    ManifestEntry,
    Node,
    Organization,
    Package,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignatureInfo,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)
from lienthong.exchange.edxml.stream import Limits, StreamResult, stream_package
from lienthong.kernel.blobs import BlobStore, BlobWriter

_DATE_FORMATS = ("%Y/%m/%d", "%d/%m/%Y", "%Y-%m-%d")
_DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)
ORG_FIELDS = (
    "OrganId",
    "OrganName",
    "OrganizationInCharge",
    "OrganAdd",
    "Email",
    "Telephone",
    "Fax",
    "Website",
)
KNOWN_HEADER = {
    "From",
    "To",
    "DocumentId",
    "Code",
    "PromulgationInfo",
    "DocumentType",
    "Subject",
    "Content",
    "SignerInfo",
    "DueDate",
    "ToPlaces",
    "OtherInfo",
    "ResponseFor",
    "SteeringType",
}
KNOWN_OTHER_INFO = {
    "Priority",
    "SphereOfPromulgation",
    "TyperNotation",
    "PromulgationAmount",
    "PageAmount",
    "Direction",
    "Appendixes",
}
KNOWN_BUSINESS = {
    "BussinessDocType",
    "BussinessDocReason",
    "Paper",
    "DocumentId",
    "BussinessDocumentInfo",
    "ReplacementInfoList",
    "StaffInfo",
}
KNOWN_STATUS = {"From", "ResponseFor", "StaffInfo", "StatusCode", "Description", "Timestamp"}


@dataclass
class ReadResult:
    package: Package
    stream: StreamResult


def parse_date(text: str | None) -> date | None:
    if not text or not text.strip():
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def parse_datetime(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def _org(node: Node) -> Organization:
    values = {name: node.value(name) for name in ORG_FIELDS}
    return Organization(
        organ_id=(values["OrganId"] or "").strip(),
        organ_name=values["OrganName"],
        organization_in_charge=values["OrganizationInCharge"],
        organ_add=values["OrganAdd"],
        email=values["Email"],
        telephone=values["Telephone"],
        fax=values["Fax"],
        website=values["Website"],
    )


def _staff(node: Node | None) -> StaffInfo | None:
    if node is None:
        return None
    return StaffInfo(
        node.value("Department"), node.value("Staff"), node.value("Email"), node.value("Mobile")
    )


def _response_for(node: Node) -> ResponseFor:
    code = node.value("Code")
    code_node = node.child("Code")
    if code_node is not None and code_node.children:  # a document's Code/CodeNumber + CodeNotation
        number, notation = (
            code_node.value("CodeNumber") or "",
            code_node.value("CodeNotation") or "",
        )
        code = f"{number}/{notation}".strip("/")
    return ResponseFor(
        node.value("OrganId"), code, node.value("PromulgationDate"), node.value("DocumentId")
    )


def _traces(header: Node) -> tuple[list[TraceHeader], Node | None]:
    trace_list = header.child("TraceHeaderList")
    if trace_list is None:
        return [], None
    traces = [
        TraceHeader((t.value("OrganId") or "").strip(), t.value("Timestamp"))
        for t in trace_list.all("TraceHeader")
    ]
    return traces, trace_list.child("Bussiness")


def _business(node: Node | None) -> Business:
    if node is None:
        return Business()
    info = node.child("BussinessDocumentInfo")
    receivers: list[Receiver] = []
    if info is not None and (receiver_list := info.child("ReceiverList")) is not None:
        for r in receiver_list.all("Receiver"):
            receivers.append(
                Receiver((r.value("OrganId") or "").strip(), _int(r.value("ReceiverType"), 1))
            )
    replacements = []
    if (replacement_list := node.child("ReplacementInfoList")) is not None:
        for r in replacement_list.all("ReplacementInfo"):
            organs = r.child("OrganIdList")
            replacements.append(
                ReplacementInfo(
                    (r.value("DocumentId") or "").strip(),
                    [o.text.strip() for o in organs.all("OrganId")] if organs is not None else [],
                )
            )
    return Business(
        doc_type=_int(node.value("BussinessDocType"), 0),
        reason=node.value("BussinessDocReason"),
        paper=node.value("Paper"),
        document_id=node.value("DocumentId"),
        document_info=info.value("DocumentInfo") if info is not None else None,
        document_receiver=info.value("DocumentReceiver") if info is not None else None,
        receivers=receivers,
        replacements=replacements,
        staff=_staff(node.child("StaffInfo")),
        extra=[c for c in node.children if c.name not in KNOWN_BUSINESS],
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def _signature(result: StreamResult) -> SignatureInfo | None:
    events = result.signature_events
    if not events:
        return None
    # Rebuild the small Signature tree from the recorded events.
    stack: list[Node] = []
    root: Node | None = None
    for kind, payload in events:
        if kind == "start":
            name, attrs = payload
            node = Node(name.rpartition(":")[2], dict(attrs))
            if stack:
                stack[-1].children.append(node)
            else:
                root = node
            stack.append(node)
        elif kind == "end":
            stack.pop()
        elif stack:
            stack[-1].text += payload
    assert root is not None
    signed_info = root.child("SignedInfo")
    reference = signed_info.child("Reference") if signed_info is not None else None
    transforms_node = reference.child("Transforms") if reference is not None else None
    certificates: list[bytes] = []
    key_info = root.child("KeyInfo")
    if key_info is not None:
        for data in key_info.all("X509Data"):
            for cert in data.all("X509Certificate"):
                try:
                    certificates.append(binascii.a2b_base64("".join(cert.text.split())))
                except binascii.Error:
                    continue

    def algorithm(parent: Node | None, name: str) -> str:
        found = parent.child(name) if parent is not None else None
        return found.attrs.get("Algorithm", "") if found is not None else ""

    return SignatureInfo(
        reference_uris=[r.attrs.get("URI") for r in signed_info.all("Reference")]
        if signed_info is not None
        else [],
        canonicalization=algorithm(signed_info, "CanonicalizationMethod"),
        signature_method=algorithm(signed_info, "SignatureMethod"),
        digest_method=algorithm(reference, "DigestMethod"),
        transforms=[t.attrs.get("Algorithm", "") for t in transforms_node.all("Transform")]
        if transforms_node
        else [],
        digest_value="".join((reference.value("DigestValue") or "").split())
        if reference is not None
        else "",
        signature_value="".join((root.value("SignatureValue") or "").split()),
        certificates=certificates,
        namespace=result.signature_namespaces.get(_prefix_of(events[0][1][0]) if events else ""),
    )


def _prefix_of(name: str) -> str:
    return name.rpartition(":")[0]


def read(
    chunks: Iterable[bytes],
    *,
    blobs: BlobStore | None = None,
    limits: Limits | None = None,
    digest_algorithms: tuple[str, ...] = ("sha256",),
    raw: BlobWriter | None = None,
) -> ReadResult:
    """Parse a document or status package. Raises EdxmlError with a stable code."""
    result = stream_package(
        chunks, blobs=blobs, limits=limits or Limits(), digest_algorithms=digest_algorithms, raw=raw
    )
    root = result.root
    if root.name not in ("edXML", "edXMLEnvelope") and root.name.lower() != "edxml":
        raise refuse(
            "wrong_root",
            f"Phần tử gốc phải là edXML, đang là {root.name}.",
            f"The root element must be edXML, not {root.name}.",
            found=root.name,
        )
    if result.root_namespace != NS:
        raise refuse(
            "wrong_namespace",
            f"Sai không gian tên: '{result.root_namespace or '(không có)'}'; phải là {NS}.",
            f"Wrong namespace '{result.root_namespace or '(none)'}': edXML uses {NS}.",
            found=result.root_namespace,
            expected=NS,
        )
    envelope = root.child("edXMLEnvelope") if root.name != "edXMLEnvelope" else root
    header = envelope.child("edXMLHeader") if envelope is not None else None
    message = header.child("MessageHeader") if header is not None else None
    if envelope is None or header is None or message is None:
        raise refuse(
            "missing_header",
            "Thiếu edXMLEnvelope/edXMLHeader/MessageHeader.",
            "edXMLEnvelope/edXMLHeader/MessageHeader is missing.",
        )
    from_node = message.child("From")
    if from_node is None or not (from_node.value("OrganId") or "").strip():
        raise refuse(
            "missing_from",
            "Thiếu From/OrganId: mã cơ quan gửi.",
            "From/OrganId is missing: the sending agency's code.",
        )
    _check_single(root, status=message.child("StatusCode") is not None)
    traces, business_node = _traces(header)
    signature = _signature(result)
    if message.child("StatusCode") is not None:
        package: Package = _status(message, traces, signature)
    else:
        package = _document(root, envelope, message, traces, business_node, signature, result)
    return ReadResult(package, result)


def _status(
    message: Node, traces: list[TraceHeader], signature: SignatureInfo | None
) -> StatusPackage:
    response = message.child("ResponseFor")
    if response is None or not (response.value("DocumentId") or "").strip():
        raise refuse(
            "missing_document_id",
            "Gói trạng thái thiếu ResponseFor/DocumentId.",
            "The status package lacks ResponseFor/DocumentId: which document it is about.",
        )
    code = (message.value("StatusCode") or "").strip()
    if not re.fullmatch(r"\d{1,2}", code):
        raise refuse(
            "invalid_status_code",
            f"Mã trạng thái '{code}' không hợp lệ.",
            f"Status code '{code}' is not a two-digit code such as 01.",
            found=code,
        )
    stamp = message.value("Timestamp")
    return StatusPackage(
        from_=_org(message.child("From") or Node("From")),
        response_for=_response_for(response),
        status_code=code.zfill(2),
        description=message.value("Description"),
        timestamp=parse_datetime(stamp),
        timestamp_raw=stamp,
        staff=_staff(message.child("StaffInfo")),
        traces=traces,
        extra=[c for c in message.children if c.name not in KNOWN_STATUS],
        signature=signature,
    )


def _document(
    root: Node,
    envelope: Node,
    message: Node,
    traces: list[TraceHeader],
    business_node: Node | None,
    signature: SignatureInfo | None,
    result: StreamResult,
) -> DocumentPackage:
    recipients = [_org(t) for t in message.all("To")]
    if not recipients or not any(r.organ_id for r in recipients):
        raise refuse(
            "missing_to",
            "Thiếu To/OrganId: cần ít nhất một cơ quan nhận.",
            "To/OrganId is missing: name at least one recipient.",
        )
    document_id = (message.value("DocumentId") or "").strip()
    if not document_id:
        raise refuse("missing_document_id", "Thiếu DocumentId.", "DocumentId is missing.")
    code = message.child("Code")
    promulgation = message.child("PromulgationInfo")
    doc_type = message.child("DocumentType")
    signer = message.child("SignerInfo")
    other = message.child("OtherInfo")
    to_places = message.child("ToPlaces")
    appendixes = other.child("Appendixes") if other is not None else None
    body = envelope.child("edXMLBody")
    manifest_node = body.child("edXMLManifest") if body is not None else None
    manifest = [
        ManifestEntry(
            (r.value("ContentId") or "").strip(),
            r.value("ContentType"),
            r.value("Description"),
            r.value("AttachmentName"),
        )
        for r in (manifest_node.all("Reference") if manifest_node is not None else [])
    ]
    attachments = []
    encoded = root.child("AttachmentEncoded")
    for item in encoded.all("Attachment") if encoded is not None else []:
        content = item.child("ContentTransferEncoded")
        attachments.append(
            Attachment(
                (item.value("ContentId") or "").strip(),
                item.value("AttachmentName"),
                item.value("Description"),
                item.value("ContentType"),
                content.blob if content is not None else None,
            )
        )
    _unique("AttachmentEncoded/Attachment/ContentId", [a.content_id for a in attachments])
    _unique("edXMLManifest/Reference/ContentId", [m.content_id for m in manifest])
    promulgation_raw = promulgation.value("PromulgationDate") if promulgation is not None else None
    due_raw = message.value("DueDate")
    return DocumentPackage(
        from_=_org(message.child("From") or Node("From")),
        to=recipients,
        document_id=document_id,
        code_number=code.value("CodeNumber") if code is not None else None,
        code_notation=code.value("CodeNotation") if code is not None else None,
        place=promulgation.value("Place") if promulgation is not None else None,
        promulgation_date=parse_date(promulgation_raw),
        promulgation_date_raw=promulgation_raw,
        type=doc_type.value("Type") if doc_type is not None else None,
        type_detail=doc_type.value("TypeDetail") if doc_type is not None else None,
        type_name=doc_type.value("TypeName") if doc_type is not None else None,
        subject=message.value("Subject"),
        content=message.value("Content"),
        signer_competence=signer.value("Competence") if signer is not None else None,
        signer_position=signer.value("Position") if signer is not None else None,
        signer_full_name=signer.value("FullName") if signer is not None else None,
        due_date=parse_date(due_raw),
        due_date_raw=due_raw,
        to_places=[p.text.strip() for p in to_places.all("Place")] if to_places is not None else [],
        priority=_int(other.value("Priority"), 0) if other is not None else 0,
        sphere_of_promulgation=other.value("SphereOfPromulgation") if other is not None else None,
        typer_notation=other.value("TyperNotation") if other is not None else None,
        promulgation_amount=other.value("PromulgationAmount") if other is not None else None,
        page_amount=other.value("PageAmount") if other is not None else None,
        direction=other.value("Direction") if other is not None else None,
        appendixes=[a.text.strip() for a in appendixes.all("Appendix")]
        if appendixes is not None
        else [],
        other_info_extra=[c for c in other.children if c.name not in KNOWN_OTHER_INFO]
        if other is not None
        else [],
        response_for=[_response_for(r) for r in message.all("ResponseFor")],
        steering_type=message.value("SteeringType"),
        traces=traces,
        business=_business(business_node),
        manifest=manifest,
        attachments=attachments,
        extra=[c for c in message.children if c.name not in KNOWN_HEADER],
        signature=signature,
    )


def _unique(where: str, values: list[str]) -> None:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise refuse(
            "duplicate_content_id",
            f"ContentId lặp lại trong {where}: {', '.join(repeated)}.",
            f"Repeated ContentId in {where}: {', '.join(repeated)}; each attachment has its own.",
            repeated=repeated,
        )


# Elements a package has once: a second copy is refused rather than one of them read (the
# reader and another system could each read a different one).
SINGLE = {
    "edXML": ("edXMLEnvelope", "AttachmentEncoded"),
    "edXMLEnvelope": ("edXMLHeader", "edXMLBody"),
    "edXMLHeader": ("MessageHeader", "TraceHeaderList"),
    "edXMLBody": ("edXMLManifest",),
    "MessageHeader": (
        "From",
        "DocumentId",
        "Code",
        "Subject",
        "StatusCode",
        "ResponseFor",
        "PromulgationInfo",
        "DocumentType",
        "OtherInfo",
        "DueDate",
        "SignerInfo",
    ),
}


def _check_single(node: Node, *, status: bool) -> None:
    for name in SINGLE.get(node.name, ()):
        if not status and node.name == "MessageHeader" and name == "ResponseFor":
            continue  # a document may answer several documents; a status answers one
        if len(node.all(name)) > 1:
            raise refuse(
                "duplicate_element",
                f"{node.name} chứa {name} nhiều lần; chỉ được một.",
                f"{node.name} holds {name} more than once; it may hold one.",
                element=name,
                parent=node.name,
            )
    for child in node.children:
        if child.name in SINGLE:
            _check_single(child, status=status)


def read_bytes(data: bytes, **kwargs: object) -> ReadResult:
    return read([data], **kwargs)  # type: ignore[arg-type]
