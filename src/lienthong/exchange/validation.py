"""The conformance checker: everything wrong with a package, element by element, with the rule
and how to fix it. Nothing is stored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography import x509

from lienthong.exchange import pdfcheck
from lienthong.exchange.edxml.errors import EdxmlError
from lienthong.exchange.edxml.model import DocumentPackage, Organization, StatusPackage
from lienthong.exchange.edxml.reader import read
from lienthong.exchange.edxml.signature import verify
from lienthong.exchange.edxml.stream import Limits
from lienthong.kernel.blobs import TrackedBlobs
from lienthong.kernel.certpath import agency_code_of
from lienthong.kernel.errors import AppError
from lienthong.registry.codes import InvalidAgencyCode, parse_code
from lienthong.runtime import Runtime


def _problem(
    element: str, rule: str, fix: str, code: str, severity: str = "error"
) -> dict[str, str]:
    return {"element": element, "rule": rule, "fix": fix, "code": code, "severity": severity}


def _check_code(where: str, org: Organization, problems: list[dict[str, str]]) -> None:
    try:
        parse_code(org.organ_id)
    except InvalidAgencyCode as exc:
        problems.append(
            _problem(
                f"{where}/OrganId",
                exc.message_en,
                "Use the agency's QĐ 20/2020 code, e.g. 000.00.00.H49.",
                "invalid_agency_code",
            )
        )


def validate(runtime: Runtime, chunks: Iterable[bytes]) -> dict[str, Any]:
    """The report; the attachments are kept only while their PDF signatures are checked."""
    blobs = TrackedBlobs(runtime.blobs)
    try:
        return _validate(runtime, chunks, blobs)
    finally:
        blobs.discard()


def _validate(runtime: Runtime, chunks: Iterable[bytes], blobs: TrackedBlobs) -> dict[str, Any]:
    problems: list[dict[str, str]] = []
    try:
        result = read(
            chunks,
            blobs=blobs,
            limits=Limits(max_bytes=runtime.settings.max_package_bytes),
            digest_algorithms=("sha256", "sha1"),
        )
    except AppError as exc:
        return {
            "valid": False,
            "kind": None,
            "document_id": None,
            "header": None,
            "problems": [
                _problem(
                    str((exc.details or {}).get("found", "package"))
                    if isinstance(exc.details, dict)
                    else "package",
                    exc.message_en,
                    exc.message_vi,
                    exc.code,
                )
            ],
        }
    package = result.package
    _check_code("From", package.from_, problems)
    if isinstance(package, DocumentPackage):
        kind = "edoc"
        for index, recipient in enumerate(package.to, start=1):
            _check_code(f"To[{index}]", recipient, problems)
        if package.promulgation_date_raw and package.promulgation_date is None:
            problems.append(
                _problem(
                    "PromulgationInfo/PromulgationDate",
                    f"'{package.promulgation_date_raw}' is not a date",
                    "Write dates as yyyy/MM/dd.",
                    "invalid_date",
                )
            )
        elif package.promulgation_date_raw and "/" in package.promulgation_date_raw[:3]:
            problems.append(
                _problem(
                    "PromulgationInfo/PromulgationDate",
                    "dd/MM/yyyy is read but not the standard form",
                    "Write dates as yyyy/MM/dd.",
                    "date_format",
                    "warning",
                )
            )
        if package.due_date_raw and package.due_date is None:
            problems.append(
                _problem(
                    "DueDate",
                    f"'{package.due_date_raw}' is not a date",
                    "Write dates as yyyy/MM/dd.",
                    "invalid_date",
                )
            )
        if not 0 <= package.priority <= 4:
            problems.append(
                _problem(
                    "OtherInfo/Priority",
                    f"{package.priority} is outside 0–4",
                    "0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ.",
                    "invalid_priority",
                )
            )
        if package.steering_type not in (None, "0", "1", "2", "3"):
            problems.append(
                _problem(
                    "SteeringType",
                    f"'{package.steering_type}' is not 1, 2 or 3",
                    "1 not a directive, 2 directive, 3 report on a directive.",
                    "invalid_steering_type",
                    "warning",
                )
            )
        manifest = {m.content_id for m in package.manifest}
        for attachment in package.attachments:
            if attachment.content_id not in manifest:
                problems.append(
                    _problem(
                        f"AttachmentEncoded/Attachment[{attachment.content_id}]",
                        "attachment not listed in edXMLManifest",
                        "Add a Reference with the same ContentId to the manifest.",
                        "attachment_mismatch",
                    )
                )
        for entry in package.manifest:
            if entry.content_id not in {a.content_id for a in package.attachments}:
                problems.append(
                    _problem(
                        f"edXMLManifest/Reference[{entry.content_id}]",
                        "manifest entry without an attachment",
                        "Add the Attachment or remove the Reference.",
                        "attachment_mismatch",
                    )
                )
        if package.business.doc_type not in (0, 1, 2, 3):
            problems.append(
                _problem(
                    "Bussiness/BussinessDocType",
                    f"{package.business.doc_type} is not 0–3",
                    "0 new, 1 recall, 2 update, 3 replace.",
                    "invalid_business_type",
                )
            )
    else:
        assert isinstance(package, StatusPackage)
        kind = "status"
    signer: dict[str, Any] | None = None
    if package.signature is None:
        problems.append(
            _problem(
                "edXMLHeader/Signature",
                "no XML-DSig signature",
                'Sign the package (enveloped, URI="", RSA-SHA256) or use remote signing.',
                "signature_required",
                "error" if runtime.settings.signature_required else "warning",
            )
        )
    else:
        signer = _signer(package.signature.certificates)
        try:
            verify(
                package.signature,
                result.stream,
                sender_code=package.from_.organ_id,
                keys=runtime.keys,
                allow_sha1=runtime.settings.allow_sha1,
            )
            if signer is not None:
                signer["verified"] = True
        except (EdxmlError, AppError) as exc:
            problems.append(
                _problem("edXMLHeader/Signature", exc.message_en, exc.message_vi, exc.code)
            )
    pdf_signatures = (
        _pdf_signatures(runtime, package, problems) if isinstance(package, DocumentPackage) else {}
    )
    errors = [p for p in problems if p["severity"] == "error"]
    header = _header(package, result.stream.size, result.stream.sha256, signer)
    if isinstance(package, DocumentPackage):
        header["pdf_signatures"] = pdf_signatures  # by ContentId (Decree 30/2020)
    return {
        "valid": not errors,
        "kind": kind,
        "document_id": getattr(package, "document_id", None)
        or (package.response_for.document_id if isinstance(package, StatusPackage) else None),
        "problems": problems,
        "header": header,
    }


def _pdf_signatures(
    runtime: Runtime, package: DocumentPackage, problems: list[dict[str, str]]
) -> dict[str, dict[str, Any]]:
    """The verdict on each PDF's signatures by ContentId, as intake would store it; a failed
    signature is a warning (a document whose PDF signatures fail is still received, and the
    receiver may answer 02)."""
    found: dict[str, dict[str, Any]] = {}
    for attachment in package.attachments:
        if attachment.blob is None:
            continue
        with runtime.blobs.open(attachment.blob.sha256) as handle:
            if handle.read(5) != b"%PDF-":
                continue
            handle.seek(0)
            verdict = pdfcheck.validate(
                handle, keys=runtime.keys, sender_code=package.from_.organ_id, main=not found
            )
        found[attachment.content_id] = {
            "state": verdict.state,
            "reason_code": verdict.reason_code,
            "reason_vi": verdict.reason_vi,
            "reason_en": verdict.reason_en,
            "signatures": verdict.signatures,
        }
        if (verdict.reason_code or "").startswith("pdf_signature_"):
            problems.append(
                _problem(
                    f"AttachmentEncoded/Attachment[{attachment.content_id}]",
                    verdict.reason_en or "",
                    "Sign the PDF by the competent person and by the agency (Decree 30/2020).",
                    verdict.reason_code or "",
                    "warning",
                )
            )
    return found


def _org(org: Organization) -> dict[str, Any]:
    return {"code": org.organ_id, "name": org.organ_name}


def _signer(certificates: list[bytes]) -> dict[str, Any] | None:
    """Who the package says signed it, read from its first certificate (checked separately)."""
    if not certificates:
        return None
    try:
        leaf = x509.load_der_x509_certificate(certificates[0])
    except ValueError:
        return {"subject": None, "agency_code": None, "verified": False, "readable": False}
    return {
        "subject": leaf.subject.rfc4514_string(),
        "agency_code": agency_code_of(leaf),
        "issuer": leaf.issuer.rfc4514_string(),
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "verified": False,
        "readable": True,
    }


def _header(
    package: DocumentPackage | StatusPackage,
    size: int,
    sha256: str,
    signer: dict[str, Any] | None,
) -> dict[str, Any]:
    """The package as the node read it, so a vendor sees how it was understood."""
    common = {"from": _org(package.from_), "size": size, "sha256": sha256, "signer": signer}
    if isinstance(package, StatusPackage):
        return {
            **common,
            "status_code": package.status_code,
            "description": package.description,
            "timestamp": package.timestamp_raw,
            "response_for": {
                "organ_id": package.response_for.organ_id,
                "document_id": package.response_for.document_id,
                "code": package.response_for.code,
            },
        }
    return {
        **common,
        "to": [_org(o) for o in package.to],
        "document_id": package.document_id,
        "code_number": package.code_number,
        "code_notation": package.code_notation,
        "type_name": package.type_name,
        "subject": package.subject,
        "promulgation_date": package.promulgation_date.isoformat()
        if package.promulgation_date
        else None,
        "promulgation_date_raw": package.promulgation_date_raw,
        "due_date": package.due_date.isoformat() if package.due_date else None,
        "priority": package.priority,
        "business_type": package.business.doc_type,
        "signer_name": package.signer_full_name,
        "attachments": [
            {
                "content_id": a.content_id,
                "name": a.attachment_name,
                "content_type": a.content_type,
                "size": a.blob.size if a.blob else None,
                "sha256": a.blob.sha256 if a.blob else None,
            }
            for a in package.attachments
        ],
    }
