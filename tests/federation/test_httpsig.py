"""HTTP Message Signatures between nodes: round trips, the RFC 9421 Appendix B.2 vectors,
tampering, time, and garbage that must only ever surface as SignatureProblem."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from lienthong.federation import httpsig
from lienthong.federation.httpsig import (
    LABEL,
    SignatureProblem,
    Verified,
    content_digest,
    digest_of,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

NOW = 1_760_000_000
NODE = "000.00.01.H49"
URL = "https://node-b.example.vn/federation/v1/documents?after=42&limit=10"
BODY = b'{"document": "edxml"}'


def make_certificate(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_certificate(key, NODE)


@pytest.fixture
def resolve(certificate: x509.Certificate) -> Callable[[str], x509.Certificate | None]:
    return {NODE: certificate}.get


def request_headers() -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Content-Digest": content_digest(hashlib.sha256(BODY).digest()),
        "Content-Length": str(len(BODY)),
        "Lienthong-Document-Id": "2025/ABC-123",
        "Lienthong-Trace": "t-77",
    }


@pytest.fixture
def signed(key: rsa.RSAPrivateKey) -> dict[str, str]:
    headers = request_headers()
    return headers | sign_request(
        method="POST", url=URL, headers=headers, key=key, key_id=NODE, created=NOW
    )


def check(
    headers: Mapping[str, str],
    resolve: Callable[[str], x509.Certificate | None],
    *,
    method: str = "POST",
    url: str = URL,
    **kwargs: object,
) -> Verified:
    arguments: dict[str, object] = {"now": NOW} | kwargs
    return verify_request(method=method, url=url, headers=headers, resolve=resolve, **arguments)  # type: ignore[arg-type]


def problem_code(call: Callable[[], object]) -> str:
    with pytest.raises(SignatureProblem) as caught:
        call()
    error = caught.value
    assert error.status_code == 401
    assert error.message_vi
    assert error.message_en
    assert error.message_vi != error.message_en
    return error.code


# --- round trips ---------------------------------------------------------------------------


def test_request_round_trip(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    assert signed["Signature-Input"] == (
        'lienthong=("@method" "@path" "@query" "content-digest" "content-type" '
        '"lienthong-document-id" "lienthong-trace");'
        f'created={NOW};keyid="{NODE}";alg="rsa-pss-sha512";tag="lienthong"'
    )
    assert signed["Signature"].startswith("lienthong=:")
    verified = check(signed, resolve)
    assert verified == Verified(
        key_id=NODE,
        created=NOW,
        covered=(
            "@method",
            "@path",
            "@query",
            "content-digest",
            "content-type",
            "lienthong-document-id",
            "lienthong-trace",
        ),
    )


def test_content_length_is_not_covered_and_query_only_when_present(key: rsa.RSAPrivateKey) -> None:
    added = sign_request(
        method="GET",
        url="https://node-b.example.vn/federation/v1/directory",
        headers={"Content-Length": "0"},
        key=key,
        key_id=NODE,
        created=NOW,
    )
    assert added["Signature-Input"].startswith('lienthong=("@method" "@path");')


def test_origin_form_target_verifies_like_the_absolute_url(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    assert check(signed, resolve, url="/federation/v1/documents?after=42&limit=10").key_id == NODE


def test_response_round_trip(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
    headers = {
        "content-type": "application/json",
        "content-digest": content_digest(hashlib.sha256(b"{}").digest()),
        "lienthong-receipt": "r-1",
        "date": "Tue, 20 Apr 2021 02:07:56 GMT",
    }
    headers |= sign_response(status=202, headers=headers, key=key, key_id=NODE, created=NOW)
    assert headers["Signature-Input"].startswith(
        'lienthong=("@status" "content-digest" "content-type" "lienthong-receipt");'
    )
    verified = verify_response(
        status=202, headers=headers, certificate=certificate, expected_key_id=NODE, now=NOW
    )
    assert verified.covered == ("@status", "content-digest", "content-type", "lienthong-receipt")
    assert verified.created == NOW

    def again(**changes: object) -> Callable[[], object]:
        arguments: dict[str, object] = {
            "status": 202,
            "headers": headers,
            "certificate": certificate,
            "expected_key_id": NODE,
            "now": NOW,
        }
        return lambda: verify_response(**(arguments | changes))  # type: ignore[arg-type]

    assert problem_code(again(status=200)) == "bad_signature"
    assert problem_code(again(headers=headers | {"lienthong-receipt": "r-2"})) == "bad_signature"
    assert problem_code(again(expected_key_id="000.00.02.H49")) == "bad_signature"
    assert problem_code(again(now=NOW + 301)) == "signature_expired"
    unsigned = {k: v for k, v in headers.items() if k not in ("Signature", "Signature-Input")}
    assert problem_code(again(headers=unsigned)) == "signature_missing"
    # A lienthong-* field added after signing is not covered.
    assert problem_code(again(headers=headers | {"Lienthong-Extra": "x"})) == "signature_incomplete"


def test_response_without_body(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
    headers = sign_response(status=204, headers={}, key=key, key_id=NODE, created=NOW)
    assert headers["Signature-Input"].startswith('lienthong=("@status");')
    assert verify_response(
        status=204, headers=headers, certificate=certificate, expected_key_id=NODE, now=NOW
    ).covered == ("@status",)


def test_rsa_v1_5_sha256_is_accepted(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    headers = request_headers()
    message = httpsig._Request("POST", URL, httpsig._fields(headers))
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_V1_5_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={NODE: key}),
    )
    signer.sign(
        message,
        key_id=NODE,
        created=dt.datetime.fromtimestamp(NOW, dt.UTC),
        label=LABEL,
        tag=LABEL,
        covered_component_ids=(
            "@method",
            "@path",
            "@query",
            "content-digest",
            "lienthong-document-id",
            "lienthong-trace",
        ),
        use_existing_digest=True,
    )
    assert 'alg="rsa-v1_5-sha256"' in message.headers["Signature-Input"]
    assert check(message.headers, resolve).key_id == NODE


def test_expired_by_expires_parameter(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    message = httpsig._Request("POST", URL, httpsig._fields(request_headers()))
    HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_PSS_SHA512,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={NODE: key}),
    ).sign(
        message,
        key_id=NODE,
        created=dt.datetime.fromtimestamp(NOW - 10, dt.UTC),
        expires=dt.datetime.fromtimestamp(NOW - 1, dt.UTC),
        label=LABEL,
        tag=LABEL,
        covered_component_ids=["@method", "@path", "@query", "content-digest", "content-type"],
        use_existing_digest=True,
    )
    headers = {k: v for k, v in message.headers.items() if not k.startswith("lienthong-")}
    assert problem_code(lambda: check(headers, resolve)) == "signature_expired"
    assert check(headers, resolve, now=NOW - 5).created == NOW - 10


# --- header containers and case ------------------------------------------------------------


def test_header_names_are_case_insensitive(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    upper = {name.upper(): value for name, value in signed.items()}
    lower = {name.lower(): value for name, value in signed.items()}
    assert check(upper, resolve).key_id == NODE
    assert check(lower, resolve).key_id == NODE
    as_httpx = httpx.Headers(signed)
    assert check(as_httpx, resolve).key_id == NODE
    raw = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
    assert check(Headers(raw=raw), resolve).key_id == NODE


def test_signing_with_mixed_case_input(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    headers = {
        "CONTENT-DIGEST": content_digest(hashlib.sha256(BODY).digest()),
        "LienThong-Trace": "x",
    }
    added = sign_request(
        method="PUT", url=URL, headers=httpx.Headers(headers), key=key, key_id=NODE, created=NOW
    )
    assert '"content-digest" "lienthong-trace")' in added["Signature-Input"]
    assert check({**headers, **added}, resolve, method="PUT").key_id == NODE


def test_repeated_field_lines_are_combined(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    digest = content_digest(hashlib.sha256(BODY).digest())
    raw = [(b"content-digest", digest.encode()), (b"lienthong-hop", b"a"), (b"lienthong-hop", b"b")]
    added = sign_request(
        method="POST", url=URL, headers=Headers(raw=raw), key=key, key_id=NODE, created=NOW
    )
    signed = raw + [(name.lower().encode(), value.encode()) for name, value in added.items()]
    assert check(Headers(raw=signed), resolve).key_id == NODE
    combined = {"Content-Digest": digest, "Lienthong-Hop": "a, b"} | added
    assert check(combined, resolve).key_id == NODE
    assert (
        problem_code(lambda: check(combined | {"Lienthong-Hop": "b, a"}, resolve))
        == "bad_signature"
    )


# --- tampering, keys and peers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "changed"),
    [
        ("PUT", URL, {}),
        ("POST", URL.replace("/documents", "/document"), {}),
        ("POST", URL.replace("after=42", "after=41"), {}),
        ("POST", URL, {"Content-Digest": content_digest(hashlib.sha256(b"other").digest())}),
        ("POST", URL, {"Lienthong-Document-Id": "2025/ABC-124"}),
        ("POST", URL, {"Content-Type": "text/plain"}),
    ],
    ids=["method", "path", "query", "digest", "lienthong-header", "content-type"],
)
def test_tampering_a_covered_component_fails(
    signed: dict[str, str],
    resolve: Callable[[str], x509.Certificate | None],
    method: str,
    url: str,
    changed: dict[str, str],
) -> None:
    assert (
        problem_code(lambda: check(signed | changed, resolve, method=method, url=url))
        == "bad_signature"
    )


def test_changing_content_length_is_allowed(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    assert check(signed | {"Content-Length": "999"}, resolve).key_id == NODE


def test_wrong_key(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, signed: dict[str, str]
) -> None:
    impostor = make_certificate(other_key, NODE)
    assert problem_code(lambda: check(signed, {NODE: impostor}.get)) == "bad_signature"


def test_unknown_peer(signed: dict[str, str]) -> None:
    with pytest.raises(SignatureProblem) as caught:
        check(signed, lambda key_id: None)
    assert caught.value.code == "unknown_peer"
    assert caught.value.details == {"key_id": NODE}


def test_non_rsa_certificate_is_refused(signed: dict[str, str]) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE)])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(ec_key, hashes.SHA256())
    )
    assert problem_code(lambda: check(signed, {NODE: cert}.get)) == "unsupported_algorithm"


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (-86400, False)]
)
def test_created_must_be_within_skew(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None], offset: int, ok: bool
) -> None:
    def call() -> Verified:
        # offset > 0: the verifier's clock is ahead (old signature); < 0: created lies in the future
        return verify_request(
            method="POST", url=URL, headers=signed, resolve=resolve, now=NOW + offset
        )

    if ok:
        assert call().created == NOW
    else:
        assert problem_code(call) == "signature_expired"


def test_skew_is_configurable(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    assert (
        problem_code(lambda: check(signed, resolve, now=NOW + 11, max_skew_seconds=10))
        == "signature_expired"
    )


def test_created_defaults_to_now(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    headers = request_headers()
    headers |= sign_request(method="POST", url=URL, headers=headers, key=key, key_id=NODE)
    assert verify_request(method="POST", url=URL, headers=headers, resolve=resolve).key_id == NODE


# --- coverage ------------------------------------------------------------------------------


def test_required_component_not_covered(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    # A GET without a body: content-digest is required by default.
    added = sign_request(
        method="GET", url="https://b.example.vn/x", headers={}, key=key, key_id=NODE, created=NOW
    )
    assert (
        problem_code(lambda: check(added, resolve, method="GET", url="https://b.example.vn/x"))
        == "signature_incomplete"
    )
    verified = check(
        added, resolve, method="GET", url="https://b.example.vn/x", required=("@method", "@path")
    )
    assert verified.covered == ("@method", "@path")
    with pytest.raises(SignatureProblem) as caught:
        check(
            added,
            resolve,
            method="GET",
            url="https://b.example.vn/x",
            required=("@method", "@authority"),
        )
    assert caught.value.code == "signature_incomplete"
    assert caught.value.details == {"component": "@authority"}


def test_query_added_to_an_unsigned_url_is_incomplete(
    key: rsa.RSAPrivateKey, resolve: Callable[[str], x509.Certificate | None]
) -> None:
    url = "https://b.example.vn/x"
    added = sign_request(method="GET", url=url, headers={}, key=key, key_id=NODE, created=NOW)
    code = problem_code(
        lambda: check(added, resolve, method="GET", url=url + "?admin=1", required=("@method",))
    )
    assert code == "signature_incomplete"


def test_covered_header_absent(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    without = {k: v for k, v in signed.items() if k != "Content-Type"}
    assert problem_code(lambda: check(without, resolve)) == "signature_incomplete"


def test_unsigned_lienthong_header_is_incomplete(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    assert (
        problem_code(lambda: check(signed | {"Lienthong-Priority": "high"}, resolve))
        == "signature_incomplete"
    )


def test_other_signatures_on_the_message_are_ignored(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    both = signed | {
        "Signature-Input": 'proxy=("@method");created=1;keyid="p", ' + signed["Signature-Input"],
        "Signature": "proxy=:AAAA:, " + signed["Signature"],
    }
    assert check(both, resolve).key_id == NODE


# --- missing and garbage -------------------------------------------------------------------


@pytest.mark.parametrize(
    "drop_or_change",
    [
        {"Signature": None},
        {"Signature-Input": None},
        {"Signature": None, "Signature-Input": None},
        {"Signature-Input": 'other=("@method");created=1;keyid="x"'},
        {"Signature": "other=:AAAA:"},
        {"Signature": ""},
    ],
)
def test_missing_signature(
    signed: dict[str, str],
    resolve: Callable[[str], x509.Certificate | None],
    drop_or_change: dict[str, str | None],
) -> None:
    headers = {k: v for k, v in (signed | drop_or_change).items() if v is not None}
    assert problem_code(lambda: check(headers, resolve)) == "signature_missing"


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("Signature-Input", "garbage(((", "bad_signature"),
        ("Signature-Input", "lienthong=", "bad_signature"),
        ("Signature-Input", "lienthong=()", "bad_signature"),  # no keyid, no created
        ("Signature-Input", 'lienthong=("@method");keyid="x"', "bad_signature"),
        (
            "Signature-Input",
            f'lienthong=("@method");created="{NOW}";keyid="{NODE}"',
            "bad_signature",
        ),
        ("Signature-Input", f'lienthong=("@method");created={NOW};keyid=7', "bad_signature"),
        ("Signature-Input", f'lienthong=(@method);created={NOW};keyid="{NODE}"', "bad_signature"),
        ("Signature-Input", f'lienthong=(1 2);created={NOW};keyid="{NODE}"', "bad_signature"),
        ("Signature-Input", f'lienthong="@method";created={NOW};keyid="{NODE}"', "bad_signature"),
        (
            "Signature-Input",
            f'lienthong=("@method");created={NOW};keyid="{NODE}";alg=rsa-pss-sha512',
            "unsupported_algorithm",
        ),
        (
            "Signature-Input",
            f'lienthong=("@method");created={NOW};keyid="{NODE}";alg="hmac-sha256"',
            "unsupported_algorithm",
        ),
        (
            "Signature-Input",
            f'lienthong=("@method");created={NOW};keyid="{NODE}";alg="ed25519"',
            "unsupported_algorithm",
        ),
        ("Signature-Input", 'lienthong=("@méthod")', "bad_signature"),
        ("Signature-Input", 'a=(), a=("@method")', "bad_signature"),
        ("Signature", "lienthong=:not base64!:", "bad_signature"),
        ("Signature", "lienthong=notbytes", "bad_signature"),
        ("Signature", "lienthong=:AAAA:", "bad_signature"),
        ("Signature", "lienthong=(:AAAA:)", "bad_signature"),
        ("Signature", "lienthong=:" + "A" * 400 + ":", "bad_signature"),
        ("Signature", "\x00\x01\xff", "bad_signature"),
    ],
)
def test_garbage_headers(
    signed: dict[str, str],
    resolve: Callable[[str], x509.Certificate | None],
    name: str,
    value: str,
    code: str,
) -> None:
    assert problem_code(lambda: check(signed | {name: value}, resolve)) == code


@pytest.mark.parametrize(
    "components",
    [
        '("@method" "@path" "@query" "content-digest" "@unknown")',
        '("@method" "@path" "@query" "content-digest" "@query-param";name="nope")',
        '("@method" "@path" "@query" "content-digest" "@status")',
        '("@method" "@path" "@query" "content-digest" "Content-Type")',
        '("@method" "@path" "@query" "content-digest" "content-type";bogus)',
        '("@method" "@path" "@query" "content-digest" "@method")',
    ],
)
def test_odd_covered_components(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None], components: str
) -> None:
    value = f'lienthong={components};created={NOW};keyid="{NODE}";tag="lienthong"'
    assert problem_code(lambda: check(signed | {"Signature-Input": value}, resolve)) in {
        "bad_signature",
        "signature_incomplete",
    }


def test_wrong_tag(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    value = signed["Signature-Input"].replace('tag="lienthong"', 'tag="other-app"')
    assert (
        problem_code(lambda: check(signed | {"Signature-Input": value}, resolve)) == "bad_signature"
    )


def test_garbage_request_line(
    signed: dict[str, str], resolve: Callable[[str], x509.Certificate | None]
) -> None:
    for method, url in [
        ("post", URL),
        ("POST", "not a url"),
        ("POST", "https://[::zz]/x?a"),
        ("POST", "https://ex.vn/dữ liệu"),
    ]:
        with pytest.raises(SignatureProblem) as caught:
            check(signed, resolve, method=method, url=url)
        assert caught.value.code == "bad_signature"


@settings(max_examples=200, deadline=None)
@given(
    signature_input=st.text(max_size=120),
    signature=st.text(max_size=120),
    digest=st.text(max_size=60),
)
def test_fuzzed_headers_only_raise_signature_problem(
    signature_input: str, signature: str, digest: str
) -> None:
    headers = {"Signature-Input": signature_input, "Signature": signature, "Content-Digest": digest}
    with pytest.raises(SignatureProblem):
        verify_request(
            method="POST", url=URL, headers=headers, resolve=lambda key_id: None, now=NOW
        )


_FUZZ_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_FUZZ_RESOLVE = {NODE: make_certificate(_FUZZ_KEY, NODE)}.get


@settings(max_examples=200, deadline=None)
@given(
    params=st.lists(
        st.sampled_from(
            [
                f"created={NOW}",
                'created="x"',
                "created=-1",
                "created=99999999999999",
                f'keyid="{NODE}"',
                "keyid=?1",
                'alg="rsa-pss-sha512"',
                'alg="rsa-v1_5-sha256"',
                "alg=1.5",
                'tag="lienthong"',
                "expires=1",
                'nonce="n"',
                "zzz=1",
            ]
        ),
        max_size=6,
    ),
    components=st.lists(
        st.sampled_from(
            [
                '"@method"',
                '"@path"',
                '"@query"',
                '"content-digest"',
                '"x"',
                '"@status"',
                "1",
                "?0",
                ":AA==:",
            ]
        ),
        max_size=6,
    ),
    signature=st.sampled_from(
        ["lienthong=:AAAA:", "lienthong=1", "lienthong=:" + "QUFB" * 86 + ":"]
    ),
)
def test_fuzzed_structured_signatures_only_raise_signature_problem(
    params: list[str], components: list[str], signature: str
) -> None:
    headers = request_headers() | {
        "Signature-Input": f"lienthong=({' '.join(components)});{';'.join(params)}".rstrip(";"),
        "Signature": signature,
    }
    with pytest.raises(SignatureProblem):
        verify_request(method="POST", url=URL, headers=headers, resolve=_FUZZ_RESOLVE, now=NOW)


# --- Content-Digest ------------------------------------------------------------------------


def test_content_digest_round_trip() -> None:
    raw = hashlib.sha256(BODY).digest()
    header = content_digest(raw)
    assert header == "sha-256=:" + base64.b64encode(raw).decode() + ":"
    assert digest_of(header) == raw
    assert (
        digest_of(f"sha-512=:{base64.b64encode(hashlib.sha512(BODY).digest()).decode()}:, {header}")
        == raw
    )
    assert digest_of(None) is None
    assert digest_of("") is None
    assert (
        digest_of("sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":")
        is None
    )
    # The RFC 9530 example value for {"hello": "world"}.
    assert (
        digest_of("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        == hashlib.sha256(b'{"hello": "world"}').digest()
    )
    with pytest.raises(ValueError, match="32 bytes"):
        content_digest(b"short")


@pytest.mark.parametrize(
    "value",
    [
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        "sha-256=:not base64!:",
        "sha-256=:AAAA:",
        'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="',
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "((((",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=: garbage",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\u00e9",
    ],
)
def test_malformed_content_digest(value: str) -> None:
    assert problem_code(lambda: digest_of(value)) == "bad_digest"


def test_signing_refuses_a_malformed_digest(key: rsa.RSAPrivateKey) -> None:
    headers = {"Content-Digest": "sha-256=:AAAA:"}
    assert (
        problem_code(
            lambda: sign_request(method="POST", url=URL, headers=headers, key=key, key_id=NODE)
        )
        == "bad_digest"
    )


# --- RFC 9421 Appendix B ---------------------------------------------------------------------

# B.1.2, test-key-rsa-pss (public key).
RFC_PSS_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""

# B.2, the test request.
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
}
RFC_CREATED = 1618884473
RFC_DIGEST_LINE = '"content-digest": ' + RFC_HEADERS["Content-Digest"]

RFC_VECTORS = {
    "sig-b21": (
        (),
        {"nonce": "b3k2pp5k7z-50gnwp.yemd"},
        '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
        "d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsck"
        "zXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehh"
        "WwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mh"
        "ho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==",
    ),
    "sig-b22": (
        ("@authority", "content-digest", '"@query-param";name="Pet"'),
        {"tag": "header-example"},
        '"@authority": example.com\n' + RFC_DIGEST_LINE + '\n"@query-param";name="Pet": dog\n'
        '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet")'
        ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
        "LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSow"
        "OB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcA"
        "oFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0R"
        "oKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==",
    ),
    "sig-b23": (
        (
            "date",
            "@method",
            "@path",
            "@query",
            "@authority",
            "content-type",
            "content-digest",
            "content-length",
        ),
        {},
        '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        '"@method": POST\n'
        '"@path": /foo\n'
        '"@query": ?param=Value&Pet=dog\n'
        '"@authority": example.com\n'
        '"content-type": application/json\n' + RFC_DIGEST_LINE + '\n"content-length": 18\n'
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" '
        '"content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
        "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768Z"
        "rCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7Y"
        "fW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5"
        "ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==",
    ),
}


@pytest.mark.parametrize("label", sorted(RFC_VECTORS))
def test_rfc9421_appendix_b2_vectors(label: str) -> None:
    covered, extra, expected_base, signature = RFC_VECTORS[label]
    public_key = serialization.load_pem_public_key(RFC_PSS_PUBLIC_KEY)
    message = httpsig._Request("POST", RFC_URL, httpsig._fields(RFC_HEADERS))

    # The signature base our stack builds for these parameters, byte for byte.
    prepared = HTTPMessageSigner(signature_algorithm=algorithms.RSA_PSS_SHA512).prepare(
        message,
        key_id="test-key-rsa-pss",
        created=dt.datetime.fromtimestamp(RFC_CREATED, dt.UTC),
        label=label,
        include_alg=False,
        covered_component_ids=covered,
        use_existing_digest=True,
        nonce=extra.get("nonce"),
        tag=extra.get("tag"),
    )
    assert prepared.signature_base == expected_base.encode("ascii")

    # The RFC's own signature verifies through our verifier core.
    signature_input = f"{label}={prepared.signature_params}"
    signed = httpsig._Request(
        "POST",
        RFC_URL,
        message.headers
        | {"signature-input": signature_input, "signature": f"{label}=:{signature}:"},
    )

    def verify(**changes: object) -> Verified:
        arguments: dict[str, object] = {
            "label": label,
            "tag": extra.get("tag"),
            "public_key": {"test-key-rsa-pss": public_key}.get,
            "required": (),
            "now": RFC_CREATED,
            "max_skew": 300,
        }
        return httpsig._verify(signed, **(arguments | changes))  # type: ignore[arg-type]

    verified = verify()
    assert verified.key_id == "test-key-rsa-pss"
    assert verified.created == RFC_CREATED
    assert verified.covered == covered
    # Under our label and with a different tag policy it is not accepted.
    assert problem_code(lambda: verify(label=LABEL)) == "signature_missing"
    assert problem_code(lambda: verify(tag="lienthong")) == "bad_signature"
    # One flipped bit in the signature.
    flipped = base64.b64decode(signature)
    flipped = bytes([flipped[0] ^ 1]) + flipped[1:]
    signed.headers["signature"] = f"{label}=:{base64.b64encode(flipped).decode()}:"
    assert problem_code(verify) == "bad_signature"
