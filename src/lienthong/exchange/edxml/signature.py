"""XML-DSig for edXML packages: enveloped, Reference URI="", RSA-SHA256 by default.

Signing and verifying both run the package through the streaming parser, whose canonicaliser
computes the reference digest on the way, so an attachment of hundreds of MB is never held in
memory (lxml/signxml need the whole tree: see kernel/c14n.py for the measurement).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from lienthong.exchange.edxml import DSIG_NS
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import SignatureInfo
from lienthong.exchange.edxml.stream import Limits, StreamResult, stream_package
from lienthong.kernel.c14n import StreamCanonicalizer
from lienthong.kernel.certpath import check_chain
from lienthong.kernel.pki import KeyStore, SigningIdentity, verify_rsa

C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_EXC_SAMPLES = "http://www.w3.org/TR/xml-exc-c14n#"  # the URI the national samples write
C14N_INC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

_DIGESTS = {SHA256: "sha256", SHA1: "sha1"}
_SIGNATURES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256,
    RSA_SHA1: hashes.SHA1,
}
_EXCLUSIVE = {C14N_EXC, C14N_EXC_SAMPLES}


def _bad(code: str, vi: str, en: str, **details: Any) -> Exception:
    error = refuse(code, vi, en, **details)
    return error


def reference_digest(chunks: Iterator[bytes]) -> str:
    """The sha256 of the exclusive canonical form of an unsigned package, base64."""
    result = stream_package(chunks, blobs=None, limits=Limits(max_bytes=1 << 40))
    return result.digests[("exc", "sha256")]


def canonical_signed_info(digest_b64: str) -> bytes:
    out: list[bytes] = []
    canonicalizer = StreamCanonicalizer(out.append, exclusive=True)
    events = _signed_info_events(digest_b64)
    for kind, payload in events:
        if kind == "start":
            canonicalizer.start(*payload)
        elif kind == "end":
            canonicalizer.end(payload)
        else:
            canonicalizer.text(payload)
    canonicalizer.close()
    return b"".join(out)


def _signed_info_events(digest_b64: str) -> list[tuple[str, Any]]:
    def empty(name: str, algorithm: str) -> list[tuple[str, Any]]:
        return [("start", (name, [("Algorithm", algorithm)])), ("end", name)]

    return [
        ("start", ("SignedInfo", [("xmlns", DSIG_NS)])),
        *empty("CanonicalizationMethod", C14N_EXC),
        *empty("SignatureMethod", RSA_SHA256),
        ("start", ("Reference", [("URI", "")])),
        ("start", ("Transforms", [])),
        *empty("Transform", ENVELOPED),
        *empty("Transform", C14N_EXC),
        ("end", "Transforms"),
        *empty("DigestMethod", SHA256),
        ("start", ("DigestValue", [])),
        ("text", digest_b64),
        ("end", "DigestValue"),
        ("end", "Reference"),
        ("end", "SignedInfo"),
    ]


def signature_element(digest_b64: str, identity: SigningIdentity) -> bytes:
    """A complete <Signature> in the XML-DSig namespace for the given reference digest."""
    signed_info = canonical_signed_info(digest_b64)
    value = identity.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    # In the document SignedInfo inherits the default namespace from Signature; its exclusive
    # canonical form (what was signed) carries the declaration itself.
    inner = signed_info.decode().replace(f'<SignedInfo xmlns="{DSIG_NS}">', "<SignedInfo>", 1)
    certificates = "".join(
        f"<X509Certificate>{base64.b64encode(c.public_bytes(_der())).decode()}</X509Certificate>"
        for c in identity.chain
    )
    subject = escape(identity.chain[0].subject.rfc4514_string())
    return (
        f'<Signature xmlns="{DSIG_NS}">{inner}'
        f"<SignatureValue>{base64.b64encode(value).decode()}</SignatureValue>"
        f"<KeyInfo><X509Data><X509SubjectName>{subject}</X509SubjectName>{certificates}</X509Data></KeyInfo>"
        "</Signature>"
    ).encode()


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def sign(
    write: Callable[[bytes | None], Iterator[bytes]], identity: SigningIdentity
) -> Iterator[bytes]:
    """Two passes over the writer: one to digest the unsigned package, one to emit it with the
    Signature in place."""
    digest = reference_digest(write(None))
    return write(signature_element(digest, identity))


def verify(
    info: SignatureInfo,
    stream: StreamResult,
    *,
    sender_code: str,
    keys: KeyStore,
    allow_sha1: bool,
    served_by: str | None = None,
) -> x509.Certificate:
    """The signer's certificate, once the digest, the signature value and the certificate chain
    all check out; otherwise a typed refusal saying which."""
    if info.signature_method not in _SIGNATURES or info.digest_method not in _DIGESTS:
        raise _bad(
            "unsupported_signature",
            f"Thuật toán chữ ký không được hỗ trợ: {info.signature_method} / {info.digest_method}.",
            f"Unsupported signature algorithm {info.signature_method} / {info.digest_method}: use RSA-SHA256.",
            signature_method=info.signature_method,
            digest_method=info.digest_method,
        )
    if not allow_sha1 and (info.signature_method == RSA_SHA1 or info.digest_method == SHA1):
        raise _bad(
            "weak_signature",
            "Nút không chấp nhận chữ ký SHA-1; hãy ký bằng RSA-SHA256.",
            "This node does not accept SHA-1 signatures; sign with RSA-SHA256.",
        )
    if info.reference_uris != [""]:
        raise _bad(
            "signature_wrapping",
            'Chữ ký phải có đúng một Reference với URI="" (toàn bộ gói tin).',
            'The signature must have exactly one Reference, with URI="" (the whole package); '
            f"this one has {info.reference_uris}.",
            reference_uris=info.reference_uris,
        )
    transforms = [t for t in info.transforms if t != ENVELOPED]
    if ENVELOPED not in info.transforms or len(transforms) > 1:
        raise _bad(
            "unsupported_signature",
            'Chữ ký phải là enveloped với URI="".',
            'The signature must be enveloped over the whole document (URI="").',
        )
    c14n = "exc" if transforms and transforms[0] in _EXCLUSIVE else "inc"
    if transforms and transforms[0] not in _EXCLUSIVE and transforms[0] != C14N_INC:
        raise _bad(
            "unsupported_signature",
            f"Phép biến đổi không được hỗ trợ: {transforms[0]}.",
            f"Unsupported transform {transforms[0]}.",
        )
    computed = stream.digests.get((c14n, _DIGESTS[info.digest_method]))
    if computed is None or computed != info.digest_value:
        raise _bad(
            "bad_signature",
            "Chữ ký không khớp: nội dung gói tin đã bị thay đổi sau khi ký.",
            "Bad signature: the package content was changed after it was signed.",
            reason="digest",
        )
    try:
        chain = [x509.load_der_x509_certificate(der) for der in info.certificates]
    except ValueError as exc:
        raise _bad(
            "bad_certificate",
            "Chứng thư số trong KeyInfo không đọc được.",
            "The certificate in KeyInfo cannot be read.",
        ) from exc
    leaf = check_chain(
        chain,
        anchors=keys.trust_anchors(),
        revocation=keys.revocation(),
        sender_code=sender_code,
        served_by=served_by,
    )
    signed_info = _canonical_from_events(stream, exclusive=info.canonicalization in _EXCLUSIVE)
    try:
        value = binascii.a2b_base64(info.signature_value)
    except binascii.Error as exc:
        raise _bad(
            "bad_signature", "SignatureValue không phải base64.", "SignatureValue is not base64."
        ) from exc
    if not verify_rsa(leaf, value, signed_info, _SIGNATURES[info.signature_method]()):
        raise _bad(
            "bad_signature",
            "Chữ ký số không hợp lệ với chứng thư kèm theo.",
            "The signature value does not verify with the enclosed certificate.",
            reason="signature_value",
        )
    return leaf


def _canonical_from_events(stream: StreamResult, *, exclusive: bool) -> bytes:
    out: list[bytes] = []
    inherited = {k: v for k, v in stream.signed_info_namespaces.items() if k != "xml"}
    canonicalizer = StreamCanonicalizer(
        out.append, exclusive=exclusive, inherited_namespaces=inherited
    )
    depth = 0
    for kind, payload in stream.signature_events:
        if kind == "start":
            name = payload[0]
            if depth == 0 and name.rpartition(":")[2] != "SignedInfo":
                continue
            depth += 1
            canonicalizer.start(*payload)
        elif kind == "end":
            if depth == 0:
                continue
            canonicalizer.end(payload)
            depth -= 1
            if depth == 0:
                break
        elif depth:
            canonicalizer.text(payload)
    canonicalizer.close()
    return b"".join(out)
