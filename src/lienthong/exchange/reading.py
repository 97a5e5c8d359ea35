"""A package read and checked before anything is stored: parsed while its attachments stream
into the blob store, its sender checked against the credentials, its signature verified (or
the node's remote signing chosen), its attachments matched to its manifest."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import DocumentPackage
from lienthong.exchange.edxml.reader import ReadResult, read
from lienthong.exchange.edxml.signature import verify
from lienthong.exchange.edxml.stream import Limits
from lienthong.kernel import stages
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.errors import Forbidden

if TYPE_CHECKING:
    from lienthong.runtime import Runtime


def read_package(
    runtime: Runtime, chunks: Iterable[bytes], *, blobs: BlobStore | None = None
) -> ReadResult:
    settings = runtime.settings
    blobs = blobs or runtime.blobs
    writer = blobs.writer()
    try:
        with stages.stage("parse"):
            result = read(
                chunks,
                blobs=blobs,
                limits=Limits(max_bytes=settings.max_package_bytes),
                digest_algorithms=("sha256", "sha1") if settings.allow_sha1 else ("sha256",),
                raw=writer,
            )
    except BaseException:
        writer.abort()
        raise
    return result


def check_sender(result: ReadResult, agency_code: str) -> None:
    sender = result.package.from_.organ_id
    if sender != agency_code:
        raise Forbidden(
            f"From/OrganId là {sender} nhưng thông tin xác thực là của {agency_code}: "
            "chỉ gửi được văn bản của chính cơ quan mình.",
            f"From/OrganId is {sender} but the credentials are {agency_code}'s: "
            "an agency may only send its own packages.",
            code="sender_mismatch",
            details={"from": sender, "authenticated": agency_code},
        )


def signature_state(
    runtime: Runtime, result: ReadResult, *, may_remote_sign: bool
) -> tuple[str, str | None]:
    """verified (with the signer's subject), remote (the node will sign) or unsigned."""
    package = result.package
    if package.signature is not None:
        with stages.stage("verify"):
            leaf = verify(
                package.signature,
                result.stream,
                sender_code=package.from_.organ_id,
                keys=runtime.keys,
                allow_sha1=runtime.settings.allow_sha1,
                served_by=runtime.settings.node_code,
            )
        return "verified", leaf.subject.rfc4514_string()
    if may_remote_sign and runtime.keys.identity(package.from_.organ_id) is not None:
        return "remote", None
    if runtime.settings.signature_required:
        raise refuse(
            "signature_required",
            "Gói tin phải được ký số (XML-DSig). Cơ quan chưa có chữ ký số có thể bật ký số từ xa.",
            "The package must carry an XML-DSig signature; agencies without a token can enable remote signing.",
        )
    return "unsigned", None


def check_attachments(package: DocumentPackage) -> None:
    manifest = {m.content_id for m in package.manifest}
    bodies = {a.content_id for a in package.attachments}
    problems = []
    if manifest != bodies:
        problems.append(
            {
                "only_in_manifest": sorted(manifest - bodies),
                "only_in_body": sorted(bodies - manifest),
            }
        )
    empty = [a.content_id for a in package.attachments if a.blob is None]
    if problems or empty:
        raise refuse(
            "attachment_mismatch",
            "Danh mục tệp (edXMLManifest) và phần đính kèm (AttachmentEncoded) không khớp theo ContentId.",
            "The manifest (edXMLManifest) and the attachments (AttachmentEncoded) disagree on ContentId.",
            mismatch=problems,
            without_content=empty,
        )
