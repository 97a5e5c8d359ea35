"""The node's RFC 3161 time-stamping service (`POST /tsa`, `application/timestamp-query`) and the
time-stamper the node's PDF signatures use (PAdES B-T): the node's own TSA, whose certificate the
node's CA issues for time-stamping only, or another TSA (`LIENTHONG_TSA_URL`, e.g. a national
one)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import cms, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy.orm import Session

from lienthong.exchange.clerk_models import CheckpointTimestamp
from lienthong.exchange.models import LogCheckpoint
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.offloop import off_event_loop
from lienthong.kernel.pki import FileKeyStore, SigningIdentity, new_key

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

TIMESTAMP_QUERY, TIMESTAMP_REPLY = "application/timestamp-query", "application/timestamp-reply"
_STAMPERS: dict[Path, Any] = {}


def tsa_identity(keys: FileKeyStore, *, node_code: str) -> SigningIdentity:
    """The node's TSA key and certificate (tsa.key, tsa.pem), made under the node's CA once."""
    key_path, cert_path = keys.root / "tsa.key", keys.root / "tsa.pem"
    if not key_path.exists():
        ca_key, ca_cert = keys.ensure_ca()
        key = new_key()
        now = utcnow()
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"lienthong TSA {node_code}"),
                    ]
                )
            )
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        keys.root.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + ca_cert.public_bytes(serialization.Encoding.PEM)
        )
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return SigningIdentity(loaded, tuple(x509.load_pem_x509_certificates(cert_path.read_bytes())))


def _local(runtime: Runtime) -> Any:
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    keys = runtime.keys
    if not isinstance(keys, FileKeyStore):
        raise AppError(
            "Nút chưa có dịch vụ cấp dấu thời gian.",
            "The node has no time-stamping service.",
            code="tsa_unavailable",
            status_code=503,
        )
    if keys.root not in _STAMPERS:
        identity = tsa_identity(keys, node_code=runtime.settings.node_code)
        certs = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in identity.chain
        ]
        key = asn1_keys.PrivateKeyInfo.load(
            identity.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        _STAMPERS[keys.root] = DummyTimeStamper(
            tsa_cert=certs[0],
            tsa_key=key,
            certs_to_embed=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
        )
    return _STAMPERS[keys.root]


def stamper(runtime: Runtime) -> Any:
    """The time-stamper of the node's PDF signatures: another TSA when configured, else ours."""
    url = getattr(runtime.settings, "tsa_url", None)
    if url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(url)
    return _local(runtime)


@off_event_loop
def respond(runtime: Runtime, query: bytes) -> bytes:
    """Answer one DER TimeStampReq with a granted TimeStampResp (RFC 3161)."""
    try:
        request = tsp.TimeStampReq.load(query)
        _ = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        _ = request["message_imprint"]["hashed_message"].native
        _ = request.native  # parse it whole: a truncated or foreign structure fails here
    except Exception as exc:
        raise AppError(
            "Yêu cầu cấp dấu thời gian không phải TimeStampReq DER (RFC 3161).",
            "The time-stamp request is not a DER TimeStampReq (RFC 3161).",
            code="tsa_request_invalid",
        ) from exc
    if request["version"].native != "v1":
        raise AppError(
            "Phiên bản yêu cầu dấu thời gian không được hỗ trợ.",
            "Unsupported time-stamp request version.",
            code="tsa_request_invalid",
        )
    response: tsp.TimeStampResp = _local(runtime).request_tsa_response(request)
    return bytes(response.dump())


def checkpoint_imprint(mark: LogCheckpoint) -> bytes:
    """What a checkpoint's time-stamp covers: the chain's head and the node's signature of it."""
    return hashlib.sha256(f"{mark.entry_hash}\n{mark.signature}".encode()).digest()


@off_event_loop
def stamp_checkpoint(
    session: Session, runtime: Runtime, mark: LogCheckpoint
) -> CheckpointTimestamp:
    """Time-stamp a checkpoint of the message log once (by the configured TSA)."""
    found = session.get(CheckpointTimestamp, mark.id)
    if found is not None:
        return found
    token = asyncio.run(stamper(runtime).async_timestamp(checkpoint_imprint(mark), "sha256"))
    info = token["content"]["encap_content_info"]["content"].parsed
    stamp = CheckpointTimestamp(
        checkpoint_id=mark.id,
        token=base64.b64encode(token.dump()).decode(),
        gen_time=info["gen_time"].native,
    )
    session.add(stamp)
    session.flush()
    return stamp


@off_event_loop
def verify_checkpoint_stamp(
    runtime: Runtime, mark: LogCheckpoint, stamp: CheckpointTimestamp
) -> bool:
    """The token's imprint is this checkpoint's and its signature verifies to a trust anchor."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

    from lienthong.exchange.pdfcheck import trust_context

    token = cms.ContentInfo.load(base64.b64decode(stamp.token))
    imprint = checkpoint_imprint(mark)
    try:
        status = asyncio.run(
            validate_tst_signed_data(
                token["content"],
                trust_context(runtime.keys),
                expected_tst_imprint=lambda _: imprint,
            )
        )
    except Exception:
        return False
    # trusted: a validation path to an anchor was found and no trust problem reported
    trusted = status.get("validation_path") is not None and not status.get("trust_problem_indic")
    return bool(status["intact"] and status["valid"] and trusted)
