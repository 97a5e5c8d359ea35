"""Strict writer: the shape of the national axis' own samples, streamed so that attachments go
from the blob store to the wire without being held whole."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from lienthong.exchange.edxml import NS
from lienthong.exchange.edxml.model import (
    Business,
    DocumentPackage,
    Node,
    Organization,
    ResponseFor,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)
from lienthong.kernel.blobs import BlobRef

OpenBlob = Callable[[BlobRef], BinaryIO]
# 48 KiB of bytes encode to 64 KiB of base64 with no padding in the middle.
_CHUNK = 48 * 1024


def _el(name: str, value: str | None, indent: int) -> str:
    if value is None:
        return ""
    return f"{'  ' * indent}<edXML:{name}>{escape(value)}</edXML:{name}>\n"


def _date(value: object, raw: str | None) -> str | None:
    from datetime import date

    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return raw


def _org(tag: str, org: Organization, indent: int) -> str:
    pad = "  " * indent
    inner = "".join(
        _el(name, value, indent + 1)
        for name, value in (
            ("OrganId", org.organ_id),
            ("OrganizationInCharge", org.organization_in_charge),
            ("OrganName", org.organ_name),
            ("OrganAdd", org.organ_add),
            ("Email", org.email),
            ("Telephone", org.telephone),
            ("Fax", org.fax),
            ("Website", org.website),
        )
    )
    return f"{pad}<edXML:{tag}>\n{inner}{pad}</edXML:{tag}>\n"


def _node(node: Node, indent: int) -> str:
    pad = "  " * indent
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in node.attrs.items())
    if not node.children:
        return f"{pad}<edXML:{node.name}{attrs}>{escape(node.text.strip())}</edXML:{node.name}>\n"
    inner = "".join(_node(c, indent + 1) for c in node.children)
    return f"{pad}<edXML:{node.name}{attrs}>\n{inner}{pad}</edXML:{node.name}>\n"


def _block(tag: str, inner: str, indent: int) -> str:
    if not inner:
        return ""
    pad = "  " * indent
    return f"{pad}<edXML:{tag}>\n{inner}{pad}</edXML:{tag}>\n"


def _staff(staff: StaffInfo | None, indent: int) -> str:
    if staff is None:
        return ""
    return (
        _block(
            "StaffInfo",
            "".join(
                _el(n, v, indent + 1)
                for n, v in (
                    ("Department", staff.department),
                    ("Staff", staff.staff),
                    ("Email", staff.email),
                    ("Mobile", staff.mobile),
                )
            ),
            indent,
        )
        or f"{'  ' * indent}<edXML:StaffInfo></edXML:StaffInfo>\n"
    )


def _response_for(response: ResponseFor, indent: int) -> str:
    return _block(
        "ResponseFor",
        "".join(
            _el(n, v, indent + 1)
            for n, v in (
                ("OrganId", response.organ_id),
                ("Code", response.code),
                ("PromulgationDate", response.promulgation_date),
                ("DocumentId", response.document_id),
            )
        ),
        indent,
    )


def _traces(traces: list[TraceHeader], business: Business | None, indent: int) -> str:
    inner = "".join(
        _block(
            "TraceHeader",
            _el("OrganId", t.organ_id, indent + 2) + _el("Timestamp", t.timestamp, indent + 2),
            indent + 1,
        )
        for t in traces
    )
    if business is not None:
        inner += _business(business, indent + 1)
    return _block("TraceHeaderList", inner, indent)


def _business(b: Business, indent: int) -> str:
    i = indent + 1
    inner = _el("DocumentId", b.document_id, i) + _el("BussinessDocType", str(b.doc_type), i)
    inner += _el("BussinessDocReason", b.reason, i) + _el("Paper", b.paper, i)
    if b.receivers or b.document_info is not None or b.document_receiver is not None:
        receivers = "".join(
            _block(
                "Receiver",
                _el("OrganId", r.organ_id, i + 3)
                + _el("ReceiverType", str(r.receiver_type), i + 3),
                i + 2,
            )
            for r in b.receivers
        )
        inner += _block(
            "BussinessDocumentInfo",
            _el("DocumentInfo", b.document_info, i + 1)
            + _el("DocumentReceiver", b.document_receiver, i + 1)
            + _block("ReceiverList", receivers, i + 1),
            i,
        )
    if b.replacements:
        inner += _block(
            "ReplacementInfoList",
            "".join(
                _block(
                    "ReplacementInfo",
                    _el("DocumentId", r.document_id, i + 2)
                    + _block(
                        "OrganIdList", "".join(_el("OrganId", o, i + 3) for o in r.organ_ids), i + 2
                    ),
                    i + 1,
                )
                for r in b.replacements
            ),
            i,
        )
    inner += _staff(b.staff, i)
    inner += "".join(_node(n, i) for n in b.extra)
    return _block("Bussiness", inner, indent)


def _open(indent: int = 0) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<edXML xmlns="{NS}">\n'
        f'  <edXML:edXMLEnvelope xmlns:edXML="{NS}">\n'
        "    <edXML:edXMLHeader>\n"
    )


def write_document(
    pkg: DocumentPackage, *, open_blob: OpenBlob | None = None, signature: bytes | None = None
) -> Iterator[bytes]:
    """The package as UTF-8 chunks. `signature` (a whole Signature element) is placed as the last
    child of edXMLHeader, where every sample has it."""
    h = 4
    m = h + 1
    header = _org("From", pkg.from_, m) + "".join(_org("To", t, m) for t in pkg.to)
    header += _el("DocumentId", pkg.document_id, m)
    header += _block(
        "Code",
        _el("CodeNumber", pkg.code_number, m + 1) + _el("CodeNotation", pkg.code_notation, m + 1),
        m,
    )
    header += _block(
        "PromulgationInfo",
        _el("Place", pkg.place, m + 1)
        + _el("PromulgationDate", _date(pkg.promulgation_date, pkg.promulgation_date_raw), m + 1),
        m,
    )
    header += _block(
        "DocumentType",
        _el("Type", pkg.type, m + 1)
        + _el("TypeDetail", pkg.type_detail, m + 1)
        + _el("TypeName", pkg.type_name, m + 1),
        m,
    )
    header += _el("Subject", pkg.subject, m) + _el("Content", pkg.content, m)
    header += _block(
        "SignerInfo",
        _el("Competence", pkg.signer_competence, m + 1)
        + _el("Position", pkg.signer_position, m + 1)
        + _el("FullName", pkg.signer_full_name, m + 1),
        m,
    )
    header += _el("DueDate", _date(pkg.due_date, pkg.due_date_raw), m)
    other = _el("Priority", str(pkg.priority), m + 1)
    for name, value in (
        ("SphereOfPromulgation", pkg.sphere_of_promulgation),
        ("TyperNotation", pkg.typer_notation),
        ("PromulgationAmount", pkg.promulgation_amount),
        ("PageAmount", pkg.page_amount),
        ("Direction", pkg.direction),
    ):
        other += _el(name, value, m + 1)
    other += _block("Appendixes", "".join(_el("Appendix", a, m + 2) for a in pkg.appendixes), m + 1)
    other += "".join(_node(n, m + 1) for n in pkg.other_info_extra)
    header += _block("OtherInfo", other, m)
    header += "".join(_response_for(r, m) for r in pkg.response_for)
    header += _el("SteeringType", pkg.steering_type, m)
    header += _block("ToPlaces", "".join(_el("Place", p, m + 1) for p in pkg.to_places), m)
    header += "".join(_node(n, m) for n in pkg.extra)
    out = _open() + _block("MessageHeader", header, h) + _traces(pkg.traces, pkg.business, h)
    yield out.encode()
    if signature is not None:
        # No whitespace of its own: the enveloped transform removes the element alone, so the
        # text around it must read the same with and without it.
        yield signature
    body = "".join(
        _block(
            "Reference",
            _el("ContentId", r.content_id, 8)
            + _el("ContentType", r.content_type, 8)
            + _el("Description", r.description, 8)
            + _el("AttachmentName", r.attachment_name, 8),
            7,
        )
        for r in pkg.manifest
    )
    yield (
        "    </edXML:edXMLHeader>\n    <edXML:edXMLBody>\n"
        + (
            f'      <edXML:edXMLManifest version="1.0">\n{body}      </edXML:edXMLManifest>\n'
            if pkg.manifest
            else ""
        )
        + "    </edXML:edXMLBody>\n  </edXML:edXMLEnvelope>\n"
    ).encode()
    if pkg.attachments:
        yield b"  <AttachmentEncoded>\n"
        for a in pkg.attachments:
            parts = "".join(
                f"      <{n}>{escape(v)}</{n}>\n"
                for n, v in (
                    ("ContentId", a.content_id),
                    ("AttachmentName", a.attachment_name),
                    ("Description", a.description),
                    ("ContentType", a.content_type),
                )
                if v is not None
            )
            yield f"    <Attachment>\n{parts}".encode()
            if a.blob is not None:
                if open_blob is None:
                    raise ValueError("open_blob is needed to write attachment contents")
                yield f'      <edXML:ContentTransferEncoded xmlns:edXML="{NS}">'.encode()
                with open_blob(a.blob) as handle:
                    while chunk := handle.read(_CHUNK):
                        yield base64.b64encode(chunk)
                yield b"</edXML:ContentTransferEncoded>\n"
            yield b"    </Attachment>\n"
        yield b"  </AttachmentEncoded>\n"
    yield b"</edXML>\n"


def write_status(pkg: StatusPackage, *, signature: bytes | None = None) -> Iterator[bytes]:
    m = 5
    header = _org("From", pkg.from_, m) + _response_for(pkg.response_for, m) + _staff(pkg.staff, m)
    header += _el("StatusCode", pkg.status_code, m) + _el("Description", pkg.description, m)
    stamp = pkg.timestamp.strftime("%Y/%m/%d %H:%M:%S") if pkg.timestamp else pkg.timestamp_raw
    header += _el("Timestamp", stamp, m) + "".join(_node(n, m) for n in pkg.extra)
    out = _open() + _block("MessageHeader", header, 4) + _traces(pkg.traces, None, 4)
    yield out.encode()
    if signature is not None:
        # No whitespace of its own: the enveloped transform removes the element alone, so the
        # text around it must read the same with and without it.
        yield signature
    yield b"    </edXML:edXMLHeader>\n  </edXML:edXMLEnvelope>\n</edXML>\n"


def to_bytes(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)
