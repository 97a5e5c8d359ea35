"""HTTP Message Signatures (RFC 9421) on node-to-node requests and responses, and
Content-Digest (RFC 9530, sha-256 only). One signature per message, labelled and tagged
``lienthong``, keyid = the signer's node code, ``rsa-pss-sha512``; verification also accepts
``rsa-v1_5-sha256`` and takes a signature without ``alg`` as ``rsa-pss-sha512``.

The ``http-message-signatures`` library (pyauth, Andrey Kislyuk) builds the signature base and does
the RSA work: it accepts any object with method/url/headers (a response: status_code/headers, no
request needed), so the two dataclasses below adapt Starlette and httpx messages alike. We parse
Signature-Input ourselves first (``http-sf``, the library's own parser) because the library
reports every failure as one free-text InvalidSignature, checks time on its own clock with a fixed
5 s skew and takes one algorithm per verifier: error codes, clock, algorithm choice and coverage
policy are ours, the signature base is the library's (tested against RFC 9421 B.2 byte for byte).

URLs: the target as sent, percent-encoded: absolute (httpx ``str(request.url)``) or origin form
``/path?query`` (Starlette: ``scope["raw_path"]`` + ``?`` + ``scope["query_string"]``; Starlette's
``str(request.url)`` carries the *decoded* path, which would not verify).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import http_sf
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)

from lienthong.kernel.errors import AppError

LABEL = "lienthong"
ALGORITHM = "rsa-pss-sha512"
_ACCEPTED = {
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
}
# Stands in for the authority of an origin-form target; our signatures never cover @authority.
_ORIGIN_PLACEHOLDER = "http://localhost"


class SignatureProblem(AppError):
    status_code = 401
    code = "bad_signature"


# Messages by "code" or "code:variant"; each tells the caller what to fix.
_VI = {
    "signature_missing": "Thông điệp không có chữ ký của nút: cần Signature-Input và Signature với nhãn 'lienthong'.",
    "bad_signature:malformed": "Chữ ký HTTP sai cấu trúc ({reason}); gửi Signature-Input và Signature đúng RFC 9421.",
    "bad_signature:mismatch": "Chữ ký HTTP không khớp: thông điệp đã bị sửa sau khi ký, hoặc được ký bằng khoá khác với chứng thư của nút '{key_id}'.",
    "bad_signature:wrong_signer": "Phản hồi được ký bởi '{key_id}', không phải nút đã gọi '{expected_key_id}'.",
    "unknown_peer": "Không nhận ra nút ký '{key_id}': nút chưa có trong danh bạ liên thông hoặc đã bị thu hồi.",
    "signature_expired": "Chữ ký đã hết hạn hoặc có thời điểm tạo lệch quá {max_skew_seconds} giây; kiểm tra đồng hồ (NTP) của nút và ký lại.",
    "signature_incomplete:not_covered": "Chữ ký chưa đủ: phải bao phủ cả '{component}'.",
    "signature_incomplete:absent": "Chữ ký bao phủ '{component}' nhưng thông điệp không có thành phần này.",
    "unsupported_algorithm": "Thuật toán chữ ký '{alg}' không được chấp nhận; ký bằng rsa-pss-sha512.",
    "unsupported_algorithm:not_rsa": "Chứng thư của nút '{key_id}' không mang khoá RSA; liên thông chỉ dùng khoá RSA.",
    "bad_digest": "Tiêu đề Content-Digest sai ({reason}); gửi dạng sha-256=:<base64 của SHA-256 nội dung>: (RFC 9530).",
}
_EN = {
    "signature_missing": "The message carries no node signature: send Signature-Input and Signature with a 'lienthong' member.",
    "bad_signature:malformed": "The HTTP signature is malformed ({reason}); send Signature-Input and Signature as RFC 9421 defines them.",
    "bad_signature:mismatch": "The HTTP signature does not verify: the message was altered after signing, or signed with a key other than the certificate of node '{key_id}'.",
    "bad_signature:wrong_signer": "The response is signed by '{key_id}', not by the node that was called, '{expected_key_id}'.",
    "unknown_peer": "Unknown signing node '{key_id}': it is not in the federation directory, or was revoked.",
    "signature_expired": "The signature has expired or its created time is more than {max_skew_seconds} s off; check the node's clock (NTP) and sign again.",
    "signature_incomplete:not_covered": "The signature is incomplete: it must also cover '{component}'.",
    "signature_incomplete:absent": "The signature covers '{component}', which the message does not carry.",
    "unsupported_algorithm": "Signature algorithm '{alg}' is not accepted; sign with rsa-pss-sha512.",
    "unsupported_algorithm:not_rsa": "The certificate of node '{key_id}' holds no RSA key; the federation uses RSA keys only.",
    "bad_digest": "Content-Digest is malformed ({reason}); send sha-256=:<base64 of the body's SHA-256>: (RFC 9530).",
}


def _problem(kind: str, **details: Any) -> SignatureProblem:
    vi, en = _VI[kind].format(**details), _EN[kind].format(**details)
    return SignatureProblem(vi, en, code=kind.partition(":")[0], details=details or None)


@dataclass(frozen=True)
class Verified:
    key_id: str  # the signer's node code
    created: int  # unix seconds
    covered: tuple[str, ...]  # component ids as in Signature-Input; parameterised ones serialised


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]


@dataclass
class _Response:
    status_code: int
    headers: dict[str, str]


class _Verifier(HTTPMessageVerifier):
    """The library's verifier; created/expires were already checked by us, on our clock."""

    def validate_created_and_expires(self, sig_input: object, max_age: object = None) -> None:
        return None


def _reject_duplicate(key: str, context: str) -> None:
    if context == "dictionary":
        raise ValueError(f"duplicate member {key!r}")


def _parse_dictionary(value: str) -> dict[str, Any]:
    """A Dictionary structured field; ValueError when it is not one."""
    parsed = http_sf.parse(
        value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_duplicate
    )
    if not isinstance(parsed, dict):
        raise ValueError("not a dictionary")
    return parsed


def content_digest(sha256: bytes) -> str:
    """'sha-256=:<base64>:' for a body whose raw sha256 digest is given."""
    if len(sha256) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes long")
    return f"sha-256=:{base64.b64encode(sha256).decode('ascii')}:"


def digest_of(header_value: str | None) -> bytes | None:
    """Parse a Content-Digest header and return the raw sha-256 digest, or None if absent/no
    sha-256 member. Malformed → raise SignatureProblem(code='bad_digest')."""
    if header_value is None:
        return None
    try:
        members = _parse_dictionary(header_value)
    except ValueError as exc:  # UnicodeEncodeError and StructuredFieldError included
        raise _problem("bad_digest", reason="not a structured dictionary") from exc
    if "sha-256" not in members:
        return None
    value = members["sha-256"][0]
    if not isinstance(value, bytes) or len(value) != 32:
        raise _problem("bad_digest", reason="sha-256 must be a 32-byte byte sequence")
    return value


def _fields(headers: Mapping[str, str]) -> dict[str, str]:
    """Values by lower-case name; repeated lines trimmed and joined with ', ' (RFC 9421 §2.1)."""
    lines: dict[str, list[str]] = {}
    for name, value in headers.items():
        lines.setdefault(name.lower(), []).append(value.strip(" \t"))
    return {name: ", ".join(values) for name, values in lines.items()}


def _has_query(url: str) -> bool:
    return bool(url.partition("#")[0].partition("?")[2])


def _absolute(url: str) -> str:
    return _ORIGIN_PLACEHOLDER + url if url.startswith("/") else url


def _ours(fields: Mapping[str, str]) -> list[str]:
    return sorted(name for name in fields if name.startswith("lienthong-"))


def _sign(
    message: _Request | _Response,
    covered: list[str],
    key: rsa.RSAPrivateKey,
    key_id: str,
    created: int | None,
) -> dict[str, str]:
    digest_of(message.headers.get("content-digest"))  # a malformed digest must not be signed
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_PSS_SHA512,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
    )
    when = int(time.time()) if created is None else created
    try:
        signer.sign(
            message,
            key_id=key_id,
            created=datetime.fromtimestamp(when, UTC),
            label=LABEL,
            tag=LABEL,
            covered_component_ids=covered,
            use_existing_digest="content-digest" in message.headers,
        )
    except HTTPMessageSignaturesException as exc:
        raise ValueError(f"cannot sign this message: {exc}") from exc
    return {name: message.headers[name] for name in ("Signature-Input", "Signature")}


def _components(members: object) -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters) of each covered component of a Signature-Input member."""
    if not isinstance(members, list):
        raise _problem(
            "bad_signature:malformed", reason="a Signature-Input member must be an inner list"
        )
    if not all(isinstance(member, tuple) and isinstance(member[0], str) for member in members):
        raise _problem("bad_signature:malformed", reason="covered components must be strings")
    return members


def _verify(
    message: _Request | _Response,
    *,
    label: str,
    tag: str | None,
    public_key: Callable[[str], object | None],
    required: Iterable[str],
    now: float,
    max_skew: int,
) -> Verified:
    """Check the signature labelled `label` on `message`, whose headers come from `_fields`."""
    fields = message.headers
    raw_input, raw_signature = fields.get("signature-input"), fields.get("signature")
    if not raw_input or not raw_signature:
        raise _problem("signature_missing")
    try:
        inputs, signatures = _parse_dictionary(raw_input), _parse_dictionary(raw_signature)
    except ValueError as exc:
        raise _problem("bad_signature:malformed", reason="not a structured dictionary") from exc
    if label not in inputs or label not in signatures:
        raise _problem("signature_missing")
    if not isinstance(signatures[label][0], bytes):
        raise _problem(
            "bad_signature:malformed", reason="a Signature member must be a byte sequence"
        )
    components, params = _components(inputs[label][0]), inputs[label][1]
    covered = tuple(http_sf.ser((name, p)) if p else name for name, p in components)
    alg, key_id, created = params.get("alg", ALGORITHM), params.get("keyid"), params.get("created")
    if not isinstance(alg, str) or alg not in _ACCEPTED:
        raise _problem("unsupported_algorithm", alg=str(alg))
    if not isinstance(key_id, str) or type(created) is not int:
        raise _problem(
            "bad_signature:malformed", reason="keyid (string) and created (integer) are required"
        )
    if tag is not None and params.get("tag") != tag:
        raise _problem("bad_signature:malformed", reason=f"the tag must be '{tag}'")
    expires = params.get("expires")
    if abs(now - created) > max_skew or (type(expires) is int and expires < now):
        raise _problem(
            "signature_expired", created=created, now=int(now), max_skew_seconds=max_skew
        )
    for component in dict.fromkeys(required):
        if component not in covered:
            raise _problem("signature_incomplete:not_covered", component=component)
    for name, p in components:
        if not name.startswith("@") and "req" not in p and name not in fields:
            raise _problem("signature_incomplete:absent", component=name)
    key = public_key(key_id)
    if key is None:
        raise _problem("unknown_peer", key_id=key_id)
    if not isinstance(key, rsa.RSAPublicKey):
        raise _problem("unsupported_algorithm:not_rsa", key_id=key_id)
    # Only our member goes to the library: other signatures on the message are none of its business.
    own = {
        "signature-input": http_sf.ser({label: inputs[label]}),
        "signature": http_sf.ser({label: signatures[label]}),
    }
    verifier = _Verifier(
        signature_algorithm=_ACCEPTED[alg],
        key_resolver=MappingKeyResolver(public_keys={key_id: key}, private_keys={}),
    )
    try:
        verifier.verify(replace(message, headers={**fields, **own}), max_age=None)
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise _problem("bad_signature:mismatch", key_id=key_id, reason=str(exc)) from exc
    return Verified(key_id=key_id, created=created, covered=covered)


def sign_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    key: rsa.RSAPrivateKey,
    key_id: str,
    created: int | None = None,
) -> dict[str, str]:
    """The Signature-Input and Signature headers to add to a request. Covers @method, @path, @query
    (when the URL has a query), and content-digest, content-type and lienthong-* when present."""
    fields = _fields(headers)
    covered = ["@method", "@path", *(["@query"] if _has_query(url) else [])]
    covered += [name for name in ("content-digest", "content-type") if name in fields]
    return _sign(
        _Request(method, _absolute(url), fields), covered + _ours(fields), key, key_id, created
    )


def verify_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    resolve: Callable[[str], x509.Certificate | None],
    max_skew_seconds: int = 300,
    now: float | None = None,
    required: Sequence[str] = ("@method", "@path", "content-digest"),
) -> Verified:
    """Verify a request's `lienthong` signature; `resolve` maps the keyid (node code) to its
    certificate. Besides `required`, @query (when the URL has one), a present Content-Digest and
    every lienthong-* field present must be covered."""

    def public_key(key_id: str) -> object | None:
        certificate = resolve(key_id)
        return None if certificate is None else certificate.public_key()

    fields = _fields(headers)
    needed = [*required, *(["@query"] if _has_query(url) else [])]
    needed += [*(["content-digest"] if "content-digest" in fields else []), *_ours(fields)]
    return _verify(
        _Request(method, _absolute(url), fields),
        label=LABEL,
        tag=LABEL,
        public_key=public_key,
        required=needed,
        now=time.time() if now is None else now,
        max_skew=max_skew_seconds,
    )


def sign_response(
    *,
    status: int,
    headers: Mapping[str, str],
    key: rsa.RSAPrivateKey,
    key_id: str,
    created: int | None = None,
) -> dict[str, str]:
    """Covers @status, content-digest, content-type, and any lienthong-* headers present."""
    fields = _fields(headers)
    covered = ["@status", *(name for name in ("content-digest", "content-type") if name in fields)]
    return _sign(_Response(status, fields), covered + _ours(fields), key, key_id, created)


def verify_response(
    *,
    status: int,
    headers: Mapping[str, str],
    certificate: x509.Certificate,
    expected_key_id: str,
    max_skew_seconds: int = 300,
    now: float | None = None,
) -> Verified:
    """Verify a response's `lienthong` signature by the peer we called. @status, a present
    Content-Digest and every lienthong-* field present must be covered."""

    def public_key(key_id: str) -> object | None:
        if key_id != expected_key_id:
            raise _problem(
                "bad_signature:wrong_signer", key_id=key_id, expected_key_id=expected_key_id
            )
        return certificate.public_key()

    fields = _fields(headers)
    needed = [
        "@status",
        *(["content-digest"] if "content-digest" in fields else []),
        *_ours(fields),
    ]
    return _verify(
        _Response(status, fields),
        label=LABEL,
        tag=LABEL,
        public_key=public_key,
        required=needed,
        now=time.time() if now is None else now,
        max_skew=max_skew_seconds,
    )
