"""Certificate path validation: `cryptography`'s verifier builds and checks the path (RFC 5280
signatures, validity, CA flag, path length, key usage), then each issuer's own CRL and the
certificates revoked by hand are consulted, and the leaf must name the signing agency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError

NODE_URN = "urn:lienthong:node:"


class CertificateProblem(AppError):
    status_code = 422
    code = "untrusted_certificate"


def agency_code_of(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else None


def node_of_ca(cert: x509.Certificate) -> str | None:
    """The node a node CA belongs to (its SubjectAltName URN), None for any other CA."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(NODE_URN):
            return uri[len(NODE_URN) :]
    return None


@dataclass(frozen=True)
class Revocation:
    """What the node knows of revoked certificates: the CRLs its operator placed in `crls/`,
    each used only for certificates of the CA that signed it, and the certificates revoked by
    hand (`revoked.txt`, each qualified by its issuer's fingerprint)."""

    crls: tuple[x509.CertificateRevocationList, ...] = ()
    revoked: frozenset[tuple[str | None, int]] = frozenset()  # (issuer sha-256 | None, serial)

    def check(self, chain: Sequence[x509.Certificate], *, at: datetime) -> None:
        """Each certificate of a verified chain (leaf first, anchor last) against its issuer's
        own revocation information."""
        for cert, issuer in pairwise(chain):
            fingerprint = issuer.fingerprint(hashes.SHA256()).hex()
            serial = cert.serial_number
            if (fingerprint, serial) in self.revoked or (None, serial) in self.revoked:
                raise _revoked(cert)
            crl = self._current_crl(issuer, at=at)
            if crl is not None and crl.get_revoked_certificate_by_serial_number(serial):
                raise _revoked(cert)

    def _current_crl(
        self, issuer: x509.Certificate, *, at: datetime
    ) -> x509.CertificateRevocationList | None:
        """The newest CRL this issuer signed, None when it publishes none here; one that is
        out of date leaves its certificates' status unknown, which is refused. A CRL naming
        the issuer but signed by another key is not its CRL."""
        own = [
            crl
            for crl in self.crls
            if crl.issuer == issuer.subject and _may_sign_crls(issuer) and _signed_by(crl, issuer)
        ]
        if not own:
            return None
        newest = max(own, key=lambda crl: crl.last_update_utc)
        if newest.next_update_utc is not None and newest.next_update_utc < at:
            raise CertificateProblem(
                f"Danh sách thu hồi (CRL) của '{issuer.subject.rfc4514_string()}' đã quá hạn: "
                "không biết chứng thư còn hiệu lực hay không. Quản trị nút cần cập nhật CRL.",
                f"The CRL of '{issuer.subject.rfc4514_string()}' is out of date, so whether the "
                "certificate is revoked is unknown; the node's operator must update the CRL.",
                code="crl_expired",
                details={"next_update": newest.next_update_utc.isoformat()},
            )
        return newest


def _revoked(cert: x509.Certificate) -> CertificateProblem:
    return CertificateProblem(
        "Chứng thư số đã bị thu hồi.",
        "The certificate has been revoked.",
        code="certificate_revoked",
        details={"serial": format(cert.serial_number, "x")},
    )


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    public = issuer.public_key()
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return False
    try:
        return bool(crl.is_signature_valid(public))
    except (TypeError, ValueError):
        return False


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    try:
        return bool(issuer.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign)
    except x509.ExtensionNotFound:
        return True  # RFC 5280 4.2.1.3: without the extension, any use is allowed


def _signing_leaf(policy: object, cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    """The signer's certificate must be made for signing documents."""
    if usage is None or not (usage.digital_signature or usage.content_commitment):
        raise ValueError("not a signing certificate (no digitalSignature or nonRepudiation)")


def _not_a_ca(policy: object, cert: x509.Certificate, value: x509.BasicConstraints | None) -> None:
    if value is not None and value.ca:
        raise ValueError("a CA certificate cannot sign documents")


# The signer is an end entity made for signing: key usage digitalSignature or nonRepudiation
# (content_commitment), never a CA; other extensions as they come. Issuers keep the Web PKI
# defaults for CAs: basicConstraints CA with its path length, keyCertSign.
_EE_POLICY = (
    ExtensionPolicy.permit_all()
    .require_present(x509.KeyUsage, Criticality.AGNOSTIC, _signing_leaf)
    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _not_a_ca)
)
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
MAX_CHAIN_DEPTH = 6


def check_chain(
    chain: Sequence[x509.Certificate],
    *,
    anchors: Sequence[x509.Certificate],
    revocation: Revocation,
    sender_code: str,
    at: datetime | None = None,
    served_by: str | None = None,
) -> x509.Certificate:
    """The leaf, once `cryptography`'s path validation (RFC 5280: signatures, validity, CA
    flag, path length, key usage) builds a path from it to an anchor, its issuers' revocation
    information clears it, and it belongs to the sending agency (UID). A node's CA (marked
    with the node's URN) vouches only for what that node serves: with `served_by`, a leaf
    issued under another node's CA is refused, so one node cannot mint certificates for
    another node's agencies."""
    if not chain:
        raise CertificateProblem(
            "Gói tin không kèm chứng thư số.",
            "The signature carries no certificate.",
            code="missing_certificate",
        )
    at = at or utcnow()
    leaf = chain[0]
    for cert in chain:  # the common failure, said plainly before the verifier says it its way
        if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
            raise CertificateProblem(
                f"Chứng thư số '{cert.subject.rfc4514_string()}' đã hết hạn hoặc chưa có hiệu lực.",
                f"Certificate '{cert.subject.rfc4514_string()}' is expired or not yet valid.",
                code="certificate_expired",
                details={
                    "not_before": cert.not_valid_before_utc.isoformat(),
                    "not_after": cert.not_valid_after_utc.isoformat(),
                },
            )
    if not anchors:
        raise _untrusted("no trust anchors are configured", leaf)
    verifier = (
        PolicyBuilder()
        .store(_store(tuple(anchors)))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        path = verifier.verify(leaf, list(chain[1:])).chain
    except VerificationError as exc:
        reason = str(exc)
        if "not a signing certificate" in reason or "cannot sign documents" in reason:
            raise CertificateProblem(
                "Chứng thư số không dùng để ký văn bản (cần digitalSignature hoặc "
                "nonRepudiation, và không phải chứng thư của tổ chức chứng thực).",
                "The certificate is not one for signing documents (it needs digitalSignature "
                "or nonRepudiation and must not be a CA certificate).",
                code="certificate_not_for_signing",
                details={"reason": reason},
            ) from exc
        raise _untrusted(reason, leaf) from exc
    revocation.check(path, at=at)
    issuing_node = next((n for n in map(node_of_ca, path[1:]) if n), None)
    if served_by is not None and issuing_node is not None and issuing_node != served_by:
        raise CertificateProblem(
            f"Chứng thư số do CA của nút {issuing_node} cấp, nhưng {sender_code} do nút {served_by} phục vụ.",
            f"The certificate was issued by node {issuing_node}'s CA, but {sender_code} is served by node {served_by}.",
            code="certificate_not_for_sender",
            details={"issuing_node": issuing_node, "served_by": served_by},
        )
    owner = agency_code_of(leaf)
    if owner != sender_code:
        raise CertificateProblem(
            f"Chứng thư số cấp cho '{owner or leaf.subject.rfc4514_string()}', không phải cho cơ quan gửi {sender_code}.",
            f"The certificate belongs to '{owner or leaf.subject.rfc4514_string()}', not to the sender {sender_code}.",
            code="certificate_not_for_sender",
            details={"certificate_owner": owner, "sender": sender_code},
        )
    return leaf


def _untrusted(reason: str, leaf: x509.Certificate) -> CertificateProblem:
    return CertificateProblem(
        "Chứng thư số không thuộc tổ chức cung cấp dịch vụ chứng thực được tin cậy, "
        "hoặc chuỗi chứng thư không hợp lệ.",
        "The certificate does not chain to a trusted certification authority, or the chain "
        f"is not valid: {reason}.",
        code="untrusted_certificate",
        details={"issuer": leaf.issuer.rfc4514_string(), "reason": reason},
    )


_STORES: dict[tuple[bytes, ...], Store] = {}


def _store(anchors: tuple[x509.Certificate, ...]) -> Store:
    """One Store per set of anchors (they change only when the operator adds one)."""
    key = tuple(a.fingerprint(hashes.SHA256()) for a in anchors)
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = Store(list(anchors))
    return store
