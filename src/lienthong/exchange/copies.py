"""Electronic copies (Decree 30/2020, Phần II, I): a clerk makes a "SAO Y", "TRÍCH SAO" or
"SAO LỤC" of a document its agency sent or received. The copy is the PDF with the copying
agency's signature added at the top right of page 1, no image, its text the copy form, the
copying agency and the time (the original's signatures stay, and still verify); it is numbered
from the copying agency's outgoing register (SY, TrS, SL) and sent like any document."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lienthong.exchange import compose, pdfcheck, pdfsign, service, tsa
from lienthong.kernel.errors import Invalid, NotFound
from lienthong.registry import service as registry

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

# The form written on the copy, and the document type it is registered as.
FORMS = {"SAO Y": "Bản sao y", "TRÍCH SAO": "Bản trích sao", "SAO LỤC": "Bản sao lục"}
COPY_TYPES = pdfcheck.COPY_TYPES  # the types intake validates as copies


def make_copy(
    session: Session,
    runtime: Runtime,
    *,
    document_pk: int,
    agency_code: str,
    form: str,
    recipients: list[str],
    position: int = 0,
) -> dict[str, Any]:
    """Copy one PDF of a document the agency may read, sign it as the agency, and send it."""
    if form not in FORMS:
        raise Invalid(
            f"Hình thức sao '{form}' không có trong Nghị định 30/2020.",
            f"'{form}' is not a copy form of Decree 30/2020.",
            code="copy_form_unknown",
            details={"allowed": sorted(FORMS)},
        )
    document, _ = service.visible_document(
        session, document_pk=document_pk, agency_codes=[agency_code]
    )
    found = [a for a in service.attachments(session, document) if a.position == position]
    if not found:
        raise NotFound(
            f"Văn bản không có tệp số {position}.",
            f"The document has no file {position}.",
            code="unknown_attachment",
        )
    with runtime.blobs.open(found[0].blob_sha256) as handle:
        data = handle.read(compose.MAX_PDF_BYTES + 1)
    copier = registry.get_agency(session, code=agency_code)
    identity = runtime.keys.identity(copier.code)
    if identity is None:
        raise Invalid(
            "Cơ quan chưa được cấp khóa ký số từ xa; liên hệ quản trị nút.",
            "This agency has no remote-signing key yet; ask the node's administrators.",
            code="remote_signing_unavailable",
        )
    copied = pdfsign.sign_attachment(
        data,
        agency=identity,
        first_line=f"{form} — {copier.name}",
        timestamper=tsa.stamper(runtime),
        field_name=f"BanSao{len(data)}",  # beside the original's fields
    )
    shown = (
        f"{document.code_number}/{document.code_notation}"
        if document.code_number and document.code_notation
        else document.document_id
    )
    draft = compose.Draft(
        recipients=recipients,
        subject=f"{form} văn bản {shown}: {document.subject or ''}".strip(),
        type_name=FORMS[form],
        uploads=[
            compose.Upload(f"{form.lower().replace(' ', '-')}-{found[0].name}", io.BytesIO(copied))
        ],
    )
    return compose.send(session, runtime, sender_code=copier.code, draft=draft)
