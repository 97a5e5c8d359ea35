"""Documents written on the node's own pages: a package built from the composer's fields and
uploaded PDFs, signed with the agency's remote-signing key."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from lienthong.exchange import intake, pdfsign, registers, tsa
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import (
    Attachment,
    Business,
    DocumentPackage,
    ManifestEntry,
    TraceHeader,
)
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import write_document
from lienthong.exchange.routing import organization
from lienthong.kernel.blobs import BlobRef
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.registry import service as registry
from lienthong.registry.models import Agency
from lienthong.runtime import Runtime

MAX_PDF_BYTES = 100 * 1024 * 1024


@dataclass
class Upload:
    name: str
    handle: BinaryIO


@dataclass
class Draft:
    recipients: list[str]
    subject: str
    type_name: str = "Công văn"
    drafting_unit: str | None = None
    # Given only by software or tests that number their own documents; otherwise the
    # agency's outgoing register gives the number and the notation.
    code_number: str | None = None
    code_notation: str | None = None
    priority: int = 0
    due_date: date | None = None
    signer: str | None = None
    uploads: list[Upload] = field(default_factory=list)
    # The signing step (Decree 30/2020 art. 5): the first PDF gets the signer's signature and
    # the agency's, the others the agency's with the number and notation.
    sign_pdfs: bool = False
    signer_title: str | None = None
    competence: str = ""


def store_pdf(runtime: Runtime, upload: Upload) -> BlobRef:
    head = upload.handle.read(5)
    if head != b"%PDF-":
        raise refuse(
            "attachment_not_pdf",
            f"Tệp '{upload.name}' không phải PDF.",
            f"File '{upload.name}' is not a PDF.",
            file=upload.name,
        )
    writer = runtime.blobs.writer()
    writer.write(head)
    size = len(head)
    while chunk := upload.handle.read(256 * 1024):
        size += len(chunk)
        if size > MAX_PDF_BYTES:
            writer.abort()
            raise refuse(
                "attachment_too_large",
                f"Tệp '{upload.name}' lớn hơn {MAX_PDF_BYTES // 2**20} MB.",
                f"File '{upload.name}' is larger than {MAX_PDF_BYTES // 2**20} MB.",
                file=upload.name,
            )
        writer.write(chunk)
    return writer.finish()


def _read_pdf(upload: Upload) -> bytes:
    data = upload.handle.read(MAX_PDF_BYTES + 1)
    if not data.startswith(b"%PDF-"):
        raise refuse(
            "attachment_not_pdf",
            f"Tệp '{upload.name}' không phải PDF.",
            f"File '{upload.name}' is not a PDF.",
            file=upload.name,
        )
    if len(data) > MAX_PDF_BYTES:
        raise refuse(
            "attachment_too_large",
            f"Tệp '{upload.name}' lớn hơn {MAX_PDF_BYTES // 2**20} MB.",
            f"File '{upload.name}' is larger than {MAX_PDF_BYTES // 2**20} MB.",
            file=upload.name,
        )
    return data


def sign_uploads(runtime: Runtime, sender: Agency, draft: Draft, shown: str) -> list[Upload]:
    """The signing step: the main PDF signed by the person then the agency, each attachment
    by the agency with its number and notation."""
    agency_identity = runtime.keys.identity(sender.code)
    if agency_identity is None:
        raise refuse(
            "remote_signing_unavailable",
            "Cơ quan chưa được cấp khóa ký số từ xa; liên hệ quản trị nút.",
            "This agency has no remote-signing key yet; ask the node's administrators.",
        )
    if not (draft.signer and draft.signer.strip()):
        raise refuse(
            "missing_signer",
            "Nhập họ tên người ký để ký số văn bản.",
            "Enter the signer's name to sign the document.",
        )
    person = pdfsign.Person(
        draft.signer.strip(), (draft.signer_title or "").strip(), sender.code, draft.competence
    )
    person_identity = pdfsign.person_keys(runtime).person_identity(person)
    stamper = tsa.stamper(runtime)  # PAdES B-T: each signature time-stamped
    signed: list[Upload] = []
    for index, upload in enumerate(draft.uploads):
        data = _read_pdf(upload)
        if index == 0:
            data = pdfsign.sign_document(
                data,
                person=person_identity,
                agency=agency_identity,
                signature_image=pdfsign.signature_image(runtime, person),
                seal_image=pdfsign.seal_image(
                    runtime, agency_code=sender.code, agency_name=sender.name
                ),
                timestamper=stamper,
            )
        else:
            data = pdfsign.sign_attachment(
                data, agency=agency_identity, first_line=shown, timestamper=stamper
            )
        signed.append(Upload(upload.name, io.BytesIO(data)))
    return signed


def build(session: Session, runtime: Runtime, *, sender_code: str, draft: Draft) -> DocumentPackage:
    sender = registry.get_agency(session, code=sender_code)
    if not draft.recipients:
        raise refuse(
            "missing_to", "Chọn ít nhất một cơ quan nhận.", "Choose at least one recipient."
        )
    if not draft.subject.strip():
        raise refuse("missing_subject", "Nhập trích yếu văn bản.", "Enter the document's subject.")
    recipients = [
        organization(registry.get_agency(session, code=c)) for c in dict.fromkeys(draft.recipients)
    ]
    today = utcnow().astimezone(LOCAL_ZONE)
    if draft.code_number:
        number = draft.code_number
        code_notation = draft.code_notation or registers.notation(
            session, agency=sender, type_name=draft.type_name, drafting_unit=draft.drafting_unit
        )
    else:
        number = registers.format_number(
            registers.take_number(session, agency=sender, year=today.year)
        )
        code_notation = registers.notation(
            session, agency=sender, type_name=draft.type_name, drafting_unit=draft.drafting_unit
        )
    document_id = registers.national_document_id(sender.code, today.date(), number, code_notation)
    attachments, manifest = [], []
    uploads = (
        sign_uploads(runtime, sender, draft, f"{number}/{code_notation}")
        if draft.sign_pdfs
        else draft.uploads
    )
    for index, upload in enumerate(uploads, start=1):
        blob = store_pdf(runtime, upload)
        content_id = f"cid:{index}"
        attachments.append(
            Attachment(content_id, upload.name, upload.name, "application/pdf", blob)
        )
        manifest.append(ManifestEntry(content_id, "application/pdf", upload.name, upload.name))
    return DocumentPackage(
        from_=organization(sender),
        to=recipients,
        document_id=document_id,
        code_number=number,
        code_notation=code_notation,
        place="Quảng Ninh",
        promulgation_date=today.date(),
        type="1",
        type_detail="0",
        type_name=draft.type_name,
        subject=draft.subject.strip(),
        content=draft.subject.strip(),
        signer_full_name=draft.signer,
        signer_position=draft.signer_title,
        signer_competence=draft.competence or None,
        due_date=draft.due_date,
        priority=draft.priority,
        steering_type="1",
        traces=[TraceHeader(sender.code, today.strftime("%Y/%m/%d %H:%M:%S"))],
        business=Business(doc_type=0, reason="Văn bản điện tử mới", paper="0"),
        manifest=manifest,
        attachments=attachments,
    )


def signed_chunks(runtime: Runtime, package: DocumentPackage) -> Iterator[bytes]:
    identity = runtime.keys.identity(package.from_.organ_id)
    if identity is None:
        raise refuse(
            "remote_signing_unavailable",
            "Cơ quan chưa được cấp khóa ký số từ xa; liên hệ quản trị nút.",
            "This agency has no remote-signing key yet; ask the node's administrators.",
        )
    return sign(
        lambda sig: write_document(
            package, open_blob=lambda r: runtime.blobs.open(r.sha256), signature=sig
        ),
        identity,
    )


def send(session: Session, runtime: Runtime, *, sender_code: str, draft: Draft) -> dict[str, Any]:
    """Build the package, sign it with the sender's remote-signing key and take it in, as the
    composer, `doc send` and the tests do. Returns the intake answer."""
    package = build(session, runtime, sender_code=sender_code, draft=draft)
    answer, _, _ = intake.receive(
        session,
        runtime=runtime,
        chunks=signed_chunks(runtime, package),
        agency_code=sender_code,
        may_remote_sign=False,
    )
    return answer
