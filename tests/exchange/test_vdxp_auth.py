"""SDKVXP HMAC headers: what the Java SDK sends, and how tolerantly we check it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lienthong.exchange.vdxp_auth import (
    HASH_HEADER,
    SIGN_HEADER,
    SIGN_HEADER_KEY,
    VdxpAuthError,
    VerifiedCall,
    file_hash_matches,
    format_timestamp,
    java_hex,
    parse_timestamp,
    sdk_headers,
    verify,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SYSTEM = "vxp.saas.02"
SECRET = "s3cret"
# 07/03/2025 09:05:03.045 in Vietnam (UTC+7).
NOW = datetime(2025, 3, 7, 2, 5, 3, 45000, tzinfo=UTC)
LIST_CALL = {"servicetype": "eDoc", "messagetype": "edoc"}
FILE = b"<edXML>0</edXML>"  # its SHA-256 has bytes 0x0a and 0x03: unpadded hex is shorter


def secrets(system_id: str) -> str | None:
    return {SYSTEM: SECRET}.get(system_id)


def check(
    headers: Mapping[str, str], *, max_skew_seconds: int | None = 300, zone: ZoneInfo = VN
) -> VerifiedCall:
    return verify(
        headers, secret_for=secrets, now=NOW, max_skew_seconds=max_skew_seconds, zone=zone
    )


def resign(headers: dict[str, str], sign_header: str, secret: str = SECRET) -> dict[str, str]:
    """The headers with a new sign-header, correctly signed (to reach checks after the HMAC)."""
    mac = hmac.new(secret.encode(), sign_header.encode(), hashlib.sha256).hexdigest()
    return {**headers, SIGN_HEADER: sign_header, HASH_HEADER: mac}


def failure(headers: Mapping[str, str], *, max_skew_seconds: int | None = 300) -> str:
    with pytest.raises(VdxpAuthError) as caught:
        check(headers, max_skew_seconds=max_skew_seconds)
    assert caught.value.message_vi
    assert caught.value.message_en
    return caught.value.code


# --- encodings --------------------------------------------------------------------------------


def test_java_hex_drops_leading_zeros_byte_by_byte() -> None:
    assert java_hex(b"\x00\x0a\xff") == "0aff"
    assert java_hex(b"\x10\x01") == "101"
    assert java_hex(b"") == ""


def test_timestamp_milliseconds_are_four_digits() -> None:
    local = NOW.astimezone(VN)
    assert format_timestamp(local) == "07032025T090503+0045"
    assert format_timestamp(local.replace(microsecond=999_999)) == "07032025T090503+0999"
    assert parse_timestamp("07032025T090503+0045", VN) == NOW


def test_parse_timestamp_rejects_other_shapes() -> None:
    for text in ("2025-03-07T09:05:03", "07032025T090503", "32032025T090503+0000"):
        with pytest.raises(ValueError):  # noqa: PT011 — message varies with the cause
            parse_timestamp(text, VN)


def test_file_hash_accepts_unpadded_and_padded_hex() -> None:
    digest = hashlib.sha256(FILE).digest()
    assert len(java_hex(digest)) < 64
    assert file_hash_matches(java_hex(digest), digest)
    assert file_hash_matches(digest.hex().upper(), digest)
    assert not file_hash_matches(java_hex(digest), hashlib.sha256(FILE + b"\r\n").digest())
    assert not file_hash_matches("not hex é", digest)


# --- golden vectors: the SDK's bytes, written out by hand -------------------------------------


def test_golden_vector_list_call() -> None:
    """Entries go out in java.util.HashMap order (checked against a JVM with Gson 2.11)."""
    sign_header = (
        '{"XroadVnpt-systemid":"vxp.saas.02",'
        '"XroadVnpt-servicetype":"eDoc",'
        '"XroadVnpt-messagetype":"edoc",'
        '"XroadVnpt-timestamp":"07032025T090503+0045",'
        '"XroadVnpt-Content-Type":"application/json"}'
    )
    mac = hmac.new(b"s3cret", sign_header.encode(), hashlib.sha256).hexdigest()
    assert mac == "6562cf522aca01539f3b5e80240fbd96dcccc7cb7bf5c01667b1e0abaa06b0de"  # JVM's

    assert sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW) == {
        "XroadVnpt-systemid": "vxp.saas.02",
        "XroadVnpt-servicetype": "eDoc",
        "XroadVnpt-messagetype": "edoc",
        "XroadVnpt-timestamp": "07032025T090503+0045",
        "Content-Type": "application/json",
        "XroadVnpt-Content-Type": "application/json",
        "XroadVnpt-sign-header-key": "systemid;servicetype;messagetype;timestamp;Content-Type",
        "XroadVnpt-sign-header": sign_header,
        "XroadVnpt-hash-header": mac,
        "User-Agent": "JAVASDKAgent/1.0.0 XRoad/VPCP",
        "XroadVnpt-version": "3.0.201608",
    }


def test_golden_vector_send_edoc() -> None:
    hash_file = "3736a9e87f91e1c6ece60a6129cb95435c42cb264636bb377434c76c24d82c"
    sign_header = (
        '{"XroadVnpt-systemid":"vxp.saas.02",'
        '"XroadVnpt-servicetype":"eDoc",'
        '"XroadVnpt-messagetype":"edoc",'
        f'"XroadVnpt-hash-file":"{hash_file}",'
        '"XroadVnpt-from":"000.00.00.H49",'
        '"XroadVnpt-timestamp":"07032025T090503+0045",'
        '"XroadVnpt-Content-Type":"application/octet-stream"}'
    )
    mac = hmac.new(b"s3cret", sign_header.encode(), hashlib.sha256).hexdigest()
    assert mac == "08a1e25eb159436d24c99cb95c0ab564e52a05c6d8c123eff90c30ecc59efb0a"  # JVM's

    params = {"from": "000.00.00.H49", **LIST_CALL}
    headers = sdk_headers(SYSTEM, SECRET, params, file_bytes=FILE, now=NOW)
    assert headers[SIGN_HEADER] == sign_header
    assert headers[HASH_HEADER] == mac
    assert headers[SIGN_HEADER_KEY] == (
        "systemid;servicetype;messagetype;hash-file;from;timestamp;Content-Type"
    )
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["XroadVnpt-hash-file"] == hash_file


def test_sign_header_escapes_like_gson() -> None:
    headers = sdk_headers(SYSTEM, SECRET, {"name": 'Sở "A"\\\n\u2028<&>'}, now=NOW)
    assert '"XroadVnpt-name":"Sở \\"A\\"\\\\\\n\\u2028<&>"' in headers[SIGN_HEADER]
    assert json.loads(headers[SIGN_HEADER])["XroadVnpt-name"] == 'Sở "A"\\\n\u2028<&>'


# --- verification -----------------------------------------------------------------------------


def test_round_trip() -> None:
    params = {"from": "000.00.00.H49", "to": '[{"code":"000.00.01.H49"}]', **LIST_CALL}
    call = check(sdk_headers(SYSTEM, SECRET, params, file_bytes=FILE, now=NOW))
    assert call.system_id == SYSTEM
    assert call.params == {
        "from": "000.00.00.H49",
        "to": '[{"code":"000.00.01.H49"}]',
        "servicetype": "eDoc",
        "messagetype": "edoc",
    }
    assert call.hash_file is not None
    assert file_hash_matches(call.hash_file, hashlib.sha256(FILE).digest())
    assert call.signed["Content-Type"] == "application/octet-stream"


def test_round_trip_without_file_has_no_hash() -> None:
    call = check(sdk_headers(SYSTEM, SECRET, {"docid": "D1", "status": "done"}, now=NOW))
    assert call.params == {"docid": "D1", "status": "done"}
    assert call.hash_file is None


def test_lookup_is_case_insensitive() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    lowered = {name.lower(): value for name, value in headers.items()}
    shouted = {name.upper(): value for name, value in headers.items()}
    assert check(lowered).params == LIST_CALL
    assert check(shouted).params == LIST_CALL


def test_plain_headers_are_accepted_when_they_agree() -> None:
    headers = {**sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW), "servicetype": "eDoc"}
    assert check(headers).system_id == SYSTEM


def test_repeated_headers_from_a_starlette_like_mapping() -> None:
    """A long-lived SDK object signs both docId and docid; HTTP sees one name twice."""

    class Repeating(dict[str, str]):
        def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
            return [*super().items(), ("xroadvnpt-docid", "D2")]

    headers = sdk_headers(SYSTEM, SECRET, {"docId": "D1", "docid": "D2"}, now=NOW)
    call = check(Repeating(headers))
    assert call.params["docid"] == "D2"  # the all-lower-case spelling wins
    assert call.signed["docId"] == "D1"


def test_utf8_header_bytes_read_as_latin1() -> None:
    """ASGI servers decode header bytes as Latin-1; the HMAC covers the UTF-8 bytes."""
    headers = sdk_headers(SYSTEM, SECRET, {"name": "Sở Nội vụ"}, now=NOW)
    as_asgi = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    assert check(as_asgi).params == {"name": "Sở Nội vụ"}
    assert check(headers).params == {"name": "Sở Nội vụ"}


def test_missing_signature_headers() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    for name in (SIGN_HEADER, HASH_HEADER):
        assert failure({k: v for k, v in headers.items() if k != name}) == (
            "missing_signature_headers"
        )
    assert failure({}) == "missing_signature_headers"
    # The key list is only a cross-check: without it the call still authenticates.
    assert check({k: v for k, v in headers.items() if k != SIGN_HEADER_KEY}).params == LIST_CALL


def test_wrong_secret() -> None:
    assert failure(sdk_headers(SYSTEM, "not-the-secret", LIST_CALL, now=NOW)) == "bad_signature"


def test_unknown_system() -> None:
    assert failure(sdk_headers("vxp.saas.99", SECRET, LIST_CALL, now=NOW)) == "unknown_system"


def test_tampered_sign_header() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    tampered = headers[SIGN_HEADER].replace('"edoc"', '"status"')
    assert failure({**headers, SIGN_HEADER: tampered}) == "bad_signature"
    # Same content, other key order: still refused, the HMAC covers the exact string.
    reordered = json.dumps(dict(reversed(json.loads(headers[SIGN_HEADER]).items())))
    assert failure({**headers, SIGN_HEADER: reordered}) == "bad_signature"


def test_tampered_header_value() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    assert failure({**headers, "XroadVnpt-messagetype": "status"}) == "header_mismatch"
    assert failure({**headers, "messagetype": "status"}) == "header_mismatch"
    assert failure({**headers, "XroadVnpt-Content-Type": "text/plain"}) == "header_mismatch"


def test_unsigned_xroad_header_is_refused() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    assert failure({**headers, "XroadVnpt-docid": "D9"}) == "header_mismatch"


def test_real_content_type_may_differ_from_the_signed_one() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, file_bytes=FILE, now=NOW)
    assert check({**headers, "content-type": "multipart/form-data; boundary=x"}).system_id


def test_sign_header_key_must_list_the_signed_names() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    listed = headers[SIGN_HEADER_KEY]
    assert failure({**headers, SIGN_HEADER_KEY: listed + ";docid"}) == "header_mismatch"
    assert failure({**headers, SIGN_HEADER_KEY: "systemid;timestamp"}) == "header_mismatch"
    # Order, case and a trailing ';' do not matter.
    relaxed = ";".join(reversed(listed.upper().split(";"))) + ";"
    assert check({**headers, SIGN_HEADER_KEY: relaxed}).system_id == SYSTEM


def test_malformed_sign_header() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW)
    # Only the signature headers, so that no cross-check fires before the one under test.
    minimal = {k: v for k, v in headers.items() if not k.startswith("XroadVnpt-")}
    stamp = '"XroadVnpt-timestamp":"07032025T090503+0045"'
    for bad in (
        "not json",
        '["XroadVnpt-systemid"]',
        '{"XroadVnpt-timestamp":"07032025T090503+0045"}',  # no systemid
        '{"XroadVnpt-systemid":"vxp.saas.02","systemid":"vxp.saas.02"}',  # no prefix
        '{"XroadVnpt-systemid":"vxp.saas.02","XroadVnpt-n":1}',  # not a string
        '{"XroadVnpt-systemid":"vxp.saas.02","XroadVnpt-systemid":"vxp.saas.03"}',
        '{"XroadVnpt-systemid":"vxp.saas.02"}',  # no timestamp while it is checked
        '{"XroadVnpt-systemid":"vxp.saas.02","XroadVnpt-timestamp":"yesterday"}',
    ):
        assert failure(resign(minimal, bad)) == "malformed_sign_header", bad
    # A minimal JSON is enough: only systemid and, while it is checked, timestamp are required.
    signed = resign(minimal, '{"XroadVnpt-systemid":"vxp.saas.02",' + stamp + "}")
    assert check(signed).params == {}


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_stale_timestamp_both_directions(offset: timedelta) -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW + offset)
    assert failure(headers) == "stale_timestamp"
    assert check(headers, max_skew_seconds=302).system_id == SYSTEM


def test_skew_is_configurable_and_can_be_switched_off() -> None:
    day_old = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW - timedelta(days=1))
    assert failure(day_old, max_skew_seconds=60) == "stale_timestamp"
    assert check(day_old, max_skew_seconds=None).system_id == SYSTEM
    within = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW + timedelta(seconds=299))
    assert check(within).system_id == SYSTEM


def test_timestamp_is_read_in_the_configured_zone() -> None:
    # The same wall-clock text means another instant in another zone: 7 h apart from Vietnam.
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=NOW, zone=ZoneInfo("UTC"))
    assert headers["XroadVnpt-timestamp"] == "07032025T020503+0045"
    assert failure(headers) == "stale_timestamp"
    assert check(headers, zone=ZoneInfo("UTC")).system_id == SYSTEM


def test_naive_now_in_sdk_headers_is_local_wall_clock() -> None:
    headers = sdk_headers(SYSTEM, SECRET, LIST_CALL, now=datetime(2025, 3, 7, 9, 5, 3, 45000))
    assert headers["XroadVnpt-timestamp"] == "07032025T090503+0045"


def test_error_carries_code_and_both_languages() -> None:
    assert issubclass(VdxpAuthError, Exception)
    error = VdxpAuthError("bad_signature", "Chữ ký sai", "Bad signature")
    assert (error.code, error.message_vi, error.message_en) == (
        "bad_signature",
        "Chữ ký sai",
        "Bad signature",
    )
    assert str(error) == "Bad signature"
