"""The validation of the Decree 30/2020 signatures on each PDF a document brings (pyHanko): the
integrity of each signature, the chain to the node's trust anchors, revocation (the node's CRLs
and revoked list), the signing time and time-stamp, whether the last signature covers the whole
file and nothing but signatures came after an earlier one, and which of the two required
signatures (the competent person's, the agency's) are there and whose they are. A bad signature
never refuses the document: the verdict is stored beside it (`pdf_signature_check`) and shown
to the receiver. The signing side is exchange/pdfsign.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange.clerk_models import PdfSignatureCheck
from lienthong.exchange.models import Document, DocumentAttachment
from lienthong.exchange.pdfsign import AGENCY, PERSON, iso_local
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.offloop import off_event_loop
from lienthong.kernel.pki import KeyStore

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

GREEN, AMBER, RED = "green", "amber", "red"
_ORDER = {GREEN: 0, AMBER: 1, RED: 2}
COPY_TYPES = frozenset({"Bản sao y", "Bản trích sao", "Bản sao lục"})  # exchange/copies.py


@dataclass
class Verdict:
    state: str
    reason_code: str | None = None
    reason_vi: str | None = None
    reason_en: str | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)

    def worse(self, state: str, code: str, vi: str, en: str) -> None:
        if _ORDER[state] > _ORDER[self.state] or (self.reason_code is None and state != GREEN):
            self.state, self.reason_code, self.reason_vi, self.reason_en = state, code, vi, en


def _der(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@cache
def _anchors_der(anchors: tuple[bytes, ...]) -> list[asn1_x509.Certificate]:
    return [asn1_x509.Certificate.load(a) for a in anchors]


def trust_context(keys: KeyStore) -> Any:
    from pyhanko_certvalidator import ValidationContext

    anchors = tuple(a.public_bytes(serialization.Encoding.DER) for a in keys.trust_anchors())
    crls = [
        asn1_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER))
        for c in keys.revocation().crls
    ]
    return ValidationContext(
        trust_roots=_anchors_der(anchors),
        crls=crls,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    found = name.get_attributes_for_oid(oid)
    return str(found[0].value) if found else None


def _revoked(keys: KeyStore, leaf: x509.Certificate, at: datetime) -> bool:
    issuer = next((a for a in keys.trust_anchors() if a.subject == leaf.issuer), None)
    if issuer is None:
        return False
    try:
        keys.revocation().check([leaf, issuer], at=at)
    except AppError:
        return True
    return False


@off_event_loop
def validate(
    handle: BinaryIO, *, keys: KeyStore, sender_code: str, main: bool, copy: bool = False
) -> Verdict:
    """The verdict on one PDF: green when the required signatures (the person's and the
    agency's on the main document, the agency's on an attachment of its own) are all intact,
    trusted, unrevoked, of the sending agency, and the last covers the whole file."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    verdict = Verdict(GREEN)
    head = handle.read(5)
    handle.seek(0)
    if head != b"%PDF-":
        return Verdict(RED, "pdf_unreadable", "Tệp không phải PDF.", "The file is not a PDF.")
    try:
        reader = PdfFileReader(handle, strict=False)
        if reader.encrypted:
            return Verdict(RED, "pdf_encrypted", "Tệp PDF được mã hóa.", "The PDF is encrypted.")
        embedded = list(reader.embedded_signatures)
    except Exception:
        return Verdict(RED, "pdf_unreadable", "Không đọc được tệp PDF.", "The PDF cannot be read.")
    if not embedded:
        return Verdict(
            AMBER, "pdf_unsigned", "Tệp PDF chưa được ký số.", "The PDF carries no signature."
        )
    context = trust_context(keys)
    roles: set[str] = set()
    now = utcnow()
    for index, sig in enumerate(embedded):
        leaf = x509.load_der_x509_certificate(sig.signer_cert.dump())
        title = _attr(leaf.subject, NameOID.TITLE)
        code = _attr(leaf.subject, NameOID.USER_ID)
        role = PERSON if title else AGENCY
        entry: dict[str, Any] = {
            "field": sig.field_name,
            "role": role,
            "signer": _attr(leaf.subject, NameOID.COMMON_NAME),
            "title": title,
            "agency_code": code,
            "issuer": _attr(leaf.issuer, NameOID.COMMON_NAME),
        }
        try:
            # The last signature over the whole file has no later revision to compare: its
            # difference analysis is skipped (the earlier ones' catch what was added after them).
            whole = index == len(embedded) - 1 and (
                sig.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE
            )
            status = validate_pdf_signature(sig, signer_validation_context=context, skip_diff=whole)
        except (SignatureValidationError, ValueError, KeyError) as exc:
            entry.update(intact=False, error=str(exc)[:200])
            verdict.signatures.append(entry)
            verdict.worse(
                RED, "pdf_signature_broken", "Chữ ký số bị hỏng.", "A signature is broken."
            )
            continue
        signed_at = status.signer_reported_dt
        stamp = status.timestamp_validity
        entry.update(
            intact=bool(status.intact and status.valid),
            trusted=bool(status.trusted),
            revoked=bool(status.revoked) or _revoked(keys, leaf, now),
            signed_at=iso_local(signed_at) if signed_at else None,
            timestamp=iso_local(stamp.timestamp) if stamp is not None else None,
            covers_whole=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
            modification=status.modification_level.name if status.modification_level else None,
        )
        verdict.signatures.append(entry)
        who = entry["signer"] or "?"
        last = index == len(embedded) - 1
        expired = leaf.not_valid_after_utc < (signed_at or now)
        if not entry["intact"]:
            verdict.worse(
                RED,
                "pdf_signature_broken",
                f"Chữ ký của {who} không khớp nội dung: tệp đã bị sửa sau khi ký.",
                f"The signature of {who} does not match the content: the file was altered.",
            )
        elif entry["revoked"]:
            verdict.worse(
                RED,
                "pdf_signature_revoked",
                f"Chứng thư số của {who} đã bị thu hồi.",
                f"The certificate of {who} has been revoked.",
            )
        elif expired:
            verdict.worse(
                RED,
                "pdf_signature_expired",
                f"Chứng thư số của {who} đã hết hạn khi ký.",
                f"The certificate of {who} had expired when it signed.",
            )
        elif not entry["trusted"]:
            verdict.worse(
                RED,
                "pdf_signature_untrusted",
                f"Chứng thư số của {who} không thuộc tổ chức chứng thực tin cậy của nút.",
                f"The certificate of {who} does not chain to the node's trust anchors.",
            )
        elif not code:
            verdict.worse(
                RED,
                "pdf_signature_no_agency_code",
                f"Chứng thư số của {who} không có mã định danh cơ quan.",
                f"The certificate of {who} carries no agency code.",
            )
        elif code != sender_code and not (copy and not last):
            verdict.worse(
                RED,
                "pdf_signature_other_agency",
                f"Chữ ký của {who} thuộc cơ quan {code}, không phải cơ quan gửi {sender_code}.",
                f"The signature of {who} belongs to {code}, not to the sender {sender_code}.",
            )
        elif (last and not entry["covers_whole"]) or (
            status.modification_level is not None
            and status.modification_level > ModificationLevel.FORM_FILLING
        ):
            verdict.worse(
                RED,
                "pdf_signature_partial",
                f"Chữ ký của {who} không bao trùm toàn văn bản: có nội dung thêm sau khi ký.",
                f"The signature of {who} does not cover the whole document: content was added.",
            )
        else:
            roles.add(role)
    needed = {PERSON, AGENCY} if main else {AGENCY}
    if copy and embedded:
        last_entry = verdict.signatures[-1]
        if last_entry.get("agency_code") != sender_code or last_entry["role"] != AGENCY:
            verdict.worse(
                RED,
                "pdf_signature_other_agency",
                f"Bản sao không mang chữ ký số của cơ quan sao {sender_code}.",
                f"The copy does not carry the signature of the copying agency {sender_code}.",
            )
    missing = needed - roles
    if missing and verdict.state == GREEN:
        names = {
            PERSON: ("người có thẩm quyền", "the competent person"),
            AGENCY: ("cơ quan", "the agency"),
        }
        verdict.worse(
            AMBER,
            "pdf_signature_missing",
            "Thiếu chữ ký số của " + ", ".join(names[m][0] for m in sorted(missing)) + ".",
            "Missing the signature of " + ", ".join(names[m][1] for m in sorted(missing)) + ".",
        )
    return verdict


def _is_pdf(attachment: DocumentAttachment, handle: BinaryIO) -> bool:
    head = handle.read(5)
    handle.seek(0)
    return head == b"%PDF-" or (attachment.content_type or "").endswith("pdf")


def check_document(
    session: Session, *, runtime: Runtime, document: Document
) -> list[PdfSignatureCheck]:
    """Validate every PDF attachment of a document just stored and keep the verdicts. The first
    PDF is the main document (two signatures), the others attachments (the agency's)."""
    from lienthong.registry.models import Agency

    sender = session.get_one(Agency, document.sender_id)
    attachments = session.scalars(
        select(DocumentAttachment)
        .where(DocumentAttachment.document_fk == document.id)
        .order_by(DocumentAttachment.position)
    ).all()
    checks: list[PdfSignatureCheck] = []
    # An electronic copy carries the original's signatures (another agency's) and the copying
    # agency's last, over the whole file: that one is required.
    is_copy = document.type_name in COPY_TYPES
    for attachment in attachments:
        with runtime.blobs.open(attachment.blob_sha256) as handle:
            if not _is_pdf(attachment, handle):
                continue
            verdict = validate(
                handle,
                keys=runtime.keys,
                sender_code=sender.code,
                main=not checks and not is_copy,
                copy=is_copy,
            )
        check = PdfSignatureCheck(
            document_fk=document.id,
            attachment_fk=attachment.id,
            state=verdict.state,
            reason_code=verdict.reason_code,
            reason_vi=verdict.reason_vi,
            reason_en=verdict.reason_en,
            signatures=verdict.signatures,
            checked_at=utcnow(),
        )
        session.add(check)
        checks.append(check)
    session.flush()
    return checks


def checks_of(session: Session, document_ids: Sequence[int]) -> dict[int, list[PdfSignatureCheck]]:
    found: dict[int, list[PdfSignatureCheck]] = {i: [] for i in document_ids}
    if document_ids:
        for check in session.scalars(
            select(PdfSignatureCheck)
            .where(PdfSignatureCheck.document_fk.in_(document_ids))
            .order_by(PdfSignatureCheck.id)
        ):
            found[check.document_fk].append(check)
    return found


def summary(checks: Sequence[PdfSignatureCheck]) -> dict[str, Any]:
    """The document's state (the worst of its PDFs) and each PDF's verdict, for the API."""
    state = max((c.state for c in checks), key=_ORDER.__getitem__, default=None)
    return {
        "state": state,
        "files": [
            {
                "attachment": c.attachment_fk,
                "state": c.state,
                "reason_code": c.reason_code,
                "reason_vi": c.reason_vi,
                "reason_en": c.reason_en,
                "signatures": c.signatures,
            }
            for c in checks
        ],
    }
