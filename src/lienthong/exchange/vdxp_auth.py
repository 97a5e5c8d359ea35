"""HMAC header authentication of VNPT's SDKVXP 2.0.x, the Java client of the national hub (VDXP).

Vendor software reaches our node with the same SDK it uses for the hub, so we build and check
exactly what that SDK sends (reference §10.3, checked against the decompiled
`com.vpcp.services.VnptService.addXroadVnptHashHeader` of SDKVXP-2.0.1):

- every call fills one `java.util.HashMap` with `timestamp`, `systemid`, `Content-Type`, the keys of
  the call's JSON argument and, for sendEdoc, `hash-file`;
- each entry is sent as `XroadVnpt-<name>` (and `Content-Type` also as itself) and copied, in
  HashMap iteration order, into a Gson object under `XroadVnpt-<name>`;
- `XroadVnpt-sign-header` is that object as compact JSON, `XroadVnpt-sign-header-key` the names
  joined with `;`, `XroadVnpt-hash-header` the hex HMAC-SHA256 of the JSON under the secret.

What the hub verifies is unknown, so `verify` is tolerant: it checks the HMAC over the JSON string
as received, never over a re-serialisation, and only cross-checks what is present.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

VN_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PREFIX = "XroadVnpt-"
SIGN_HEADER = "XroadVnpt-sign-header"
SIGN_HEADER_KEY = "XroadVnpt-sign-header-key"
HASH_HEADER = "XroadVnpt-hash-header"
VERSION_HEADER = "XroadVnpt-version"
USER_AGENT = "JAVASDKAgent/1.0.0 XRoad/VPCP"
SDK_VERSION = "3.0.201608"

# Names the SDK signs that describe the call rather than being its parameters.
_ENVELOPE = frozenset({"systemid", "timestamp", "hash-file", "content-type"})
# XroadVnpt-* headers that carry the signature itself and are not in the signed JSON.
_PROTOCOL = frozenset(
    name.lower() for name in (SIGN_HEADER, SIGN_HEADER_KEY, HASH_HEADER, VERSION_HEADER)
)
_TIMESTAMP = re.compile(r"(\d{2})(\d{2})(\d{4})T(\d{2})(\d{2})(\d{2})\+(\d{1,4})")


class VdxpAuthError(Exception):
    """A call whose SDK headers do not authenticate it; the web layer answers 401."""

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en


@dataclass(frozen=True)
class VerifiedCall:
    """What an authenticated call signed.

    `params` has lower-case names without systemid/timestamp/hash-file/Content-Type. `signed`
    keeps every signed name with its exact case: a long-lived SDK object accumulates keys across
    calls, so e.g. `docId` (getEdoc) and `docid` (updateStatus) can both be present.
    """

    system_id: str
    params: dict[str, str]
    hash_file: str | None = None
    signed: dict[str, str] = field(default_factory=dict)


def java_hex(data: bytes) -> str:
    """Hex as the SDK writes `hash-file`: `Integer.toHexString(0xff & b)`, no zero padding."""
    return "".join(format(b, "x") for b in data)


def format_timestamp(moment: datetime) -> str:
    """`ddMMyyyy'T'HHmmss+SSSS` of the wall-clock fields of `moment` (pass a local time).

    Java's `SSSS` is the millisecond count padded to four digits, not a fraction of a second.
    """
    return moment.strftime("%d%m%YT%H%M%S+") + f"{moment.microsecond // 1000:04d}"


def parse_timestamp(text: str, zone: ZoneInfo) -> datetime:
    """Read an SDK timestamp, a wall-clock time in `zone`, as an aware UTC datetime."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an SDK timestamp: {text!r}")
    day, month, year, hour, minute, second, millis = (int(part) for part in match.groups())
    local = datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=zone)
    return local.astimezone(UTC)


def sdk_headers(
    system_id: str,
    secret: str,
    params: Mapping[str, str],
    *,
    file_bytes: bytes | None = None,
    now: datetime | None = None,
    zone: ZoneInfo = VN_ZONE,
    content_type: str | None = None,
) -> dict[str, str]:
    """The headers a fresh SDKVXP object sends for one call with JSON argument `params`.

    `content_type` defaults to what the SDK puts in its map: `application/octet-stream` when
    `file_bytes` is given (sendEdoc), else `application/json`. A naive `now` is read as a
    wall-clock time in `zone`.
    """
    moment = datetime.now(zone) if now is None else now
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    if content_type is None:
        content_type = "application/octet-stream" if file_bytes is not None else "application/json"
    # Insertion order of the SDK: the constructor puts timestamp then systemid, each call puts
    # Content-Type, then its JSON keys, then (sendEdoc) hash-file. A repeated put keeps its slot.
    entries: dict[str, str] = {"timestamp": format_timestamp(moment), "systemid": system_id}
    entries["Content-Type"] = content_type
    entries.update(params)
    if file_bytes is not None:
        entries["hash-file"] = java_hex(hashlib.sha256(file_bytes).digest())

    order = _java_hashmap_order(list(entries))
    headers: dict[str, str] = {}
    signed: list[tuple[str, str]] = []
    for name in order:
        value = entries[name]
        if name == "Content-Type":
            headers[name] = value
        headers[PREFIX + name] = value
        signed.append((PREFIX + name, value))
    sign_header = _gson_object(signed)
    headers[SIGN_HEADER_KEY] = ";".join(order)
    headers[SIGN_HEADER] = sign_header
    headers[HASH_HEADER] = _hmac_hex(secret, sign_header.encode("utf-8"))
    headers["User-Agent"] = USER_AGENT
    headers[VERSION_HEADER] = SDK_VERSION
    return headers


def verify(
    headers: Mapping[str, str],
    *,
    secret_for: Callable[[str], str | None],
    now: datetime | None = None,
    max_skew_seconds: int | None = None,
    zone: ZoneInfo = VN_ZONE,
) -> VerifiedCall:
    """Authenticate a call from its HTTP headers (names in any case) or raise `VdxpAuthError`.

    `max_skew_seconds=None` skips the timestamp check: the SDK stamps the time once, when its
    service object is built, so clients that keep one object (Bkav's ServiceVPCP singleton)
    send ever older timestamps.
    """
    received = _received(headers)
    sign_header = _first(received, SIGN_HEADER)
    mac = _first(received, HASH_HEADER)
    if not sign_header or not mac:
        raise _error("missing_signature_headers")

    # The secret depends on who claims to sign, so the JSON is read before the HMAC is checked;
    # nothing from it is trusted until the HMAC matches.
    claimed = _parse_sign_header(sign_header)
    system_id = _lookup(claimed, "systemid")
    if not system_id:
        raise _error("malformed_sign_header", "systemid")
    secret = secret_for(system_id)
    if secret is None:
        raise _error("unknown_system", system_id)

    signed_text = _authenticated_text(sign_header, mac.strip().lower(), secret)
    if signed_text is None:
        raise _error("bad_signature")
    signed = claimed if signed_text == sign_header else _parse_sign_header(signed_text)

    _check_agreement(signed, received)
    names = _first(received, SIGN_HEADER_KEY)
    if names is not None:
        listed = sorted(name.strip().lower() for name in names.split(";") if name.strip())
        if listed != sorted(name.lower() for name in signed):
            raise _error("header_mismatch", SIGN_HEADER_KEY)
    if max_skew_seconds is not None:
        check_timestamp(signed, now=now, max_skew_seconds=max_skew_seconds, zone=zone)

    params: dict[str, str] = {}
    for name, value in signed.items():
        key = name.lower()
        # With case variants of one name, the all-lower-case spelling wins, else the first.
        if key not in _ENVELOPE and (key not in params or name == key):
            params[key] = value
    return VerifiedCall(
        system_id=system_id,
        params=params,
        hash_file=_lookup(signed, "hash-file"),
        signed=signed,
    )


def file_hash_matches(hash_file: str, digest: bytes) -> bool:
    """Whether `hash-file` is the SHA-256 `digest` (of the file), in the SDK's unpadded or the
    usual hex."""
    given = hash_file.strip().lower().encode("ascii", "replace")
    return any(
        hmac.compare_digest(given, form.encode("ascii"))
        for form in (java_hex(digest), digest.hex())
    )


_MESSAGES: dict[str, tuple[str, str]] = {
    "missing_signature_headers": (
        "Thiếu tiêu đề chữ ký XroadVnpt-sign-header hoặc XroadVnpt-hash-header.",
        "Missing the XroadVnpt-sign-header or XroadVnpt-hash-header signature header.",
    ),
    "unknown_system": (
        "Mã hệ thống (systemid) chưa được đăng ký",
        "Unknown system id (systemid)",
    ),
    "bad_signature": (
        "Chữ ký XroadVnpt-hash-header không đúng.",
        "The XroadVnpt-hash-header signature does not match.",
    ),
    "malformed_sign_header": (
        "Tiêu đề XroadVnpt-sign-header không đúng định dạng",
        "Malformed XroadVnpt-sign-header",
    ),
    "header_mismatch": (
        "Tiêu đề không khớp với nội dung đã ký",
        "A header does not match the signed content",
    ),
    "stale_timestamp": (
        "Thời điểm gửi (timestamp) lệch quá xa so với giờ máy chủ.",
        "The timestamp is too far from the server's clock.",
    ),
}


def _error(code: str, detail: str | None = None) -> VdxpAuthError:
    message_vi, message_en = _MESSAGES[code]
    if detail is not None:
        message_vi, message_en = f"{message_vi}: {detail}.", f"{message_en}: {detail}."
    return VdxpAuthError(code, message_vi, message_en)


def _java_string_hash(text: str) -> int:
    """`String.hashCode()` as an unsigned 32-bit number (Java hashes UTF-16 code units)."""
    units = text.encode("utf-16-be")
    value = 0
    for i in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return value


def _java_hashmap_order(names: list[str]) -> list[str]:
    """Iteration order of a Java 8+ `HashMap<String, String>` filled with `names` in order.

    The table starts at 16 buckets and doubles whenever the size passes 3/4 of it; a bucket is
    the spread hash `h ^ (h >>> 16)` masked by the table size, and a bucket keeps insertion
    order (resizing splits buckets without reordering). Tree bins (8+ names in one bucket of a
    64+ table) are not modelled; SDK calls carry about ten names.
    """
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2

    def bucket(name: str) -> int:
        h = _java_string_hash(name)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(names, key=bucket)  # sorted() is stable: insertion order within a bucket


def _gson_object(pairs: list[tuple[str, str]]) -> str:
    """`JsonObject.toString()` of string properties: compact, non-ASCII kept as is."""
    return "{" + ",".join(f"{_gson_string(k)}:{_gson_string(v)}" for k, v in pairs) + "}"


def _gson_string(text: str) -> str:
    # Gson escapes what json.dumps escapes, plus U+2028/U+2029 (JavaScript line separators).
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _received(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Header values by lower-case name; keeps repeats when the mapping yields them (starlette)."""
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        values.setdefault(name.lower(), []).append(value)
    return values


def _first(received: dict[str, list[str]], name: str) -> str | None:
    found = received.get(name.lower())
    return found[0] if found else None


def _lookup(signed: dict[str, str], name: str) -> str | None:
    """A signed value by case-insensitive name."""
    return next((value for key, value in signed.items() if key.lower() == name), None)


def _parse_sign_header(text: str) -> dict[str, str]:
    """The signed JSON object as {name without the XroadVnpt- prefix: value}."""

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:  # Gson cannot emit a repeated key; refuse the ambiguity
                raise ValueError(f"repeated key {key!r}")
            result[key] = value
        return result

    try:
        document = json.loads(text, object_pairs_hook=pairs_hook)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise _error("malformed_sign_header") from exc
    if not isinstance(document, dict):
        raise _error("malformed_sign_header")
    signed: dict[str, str] = {}
    for key, value in document.items():
        if not key.lower().startswith(PREFIX.lower()) or not isinstance(value, str):
            raise _error("malformed_sign_header", key)
        signed[key[len(PREFIX) :]] = value
    return signed


def _utf8_view(value: str) -> str | None:
    """The text meant when UTF-8 bytes were decoded as Latin-1, as ASGI servers decode headers."""
    try:
        decoded = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    return decoded if decoded != value else None


def _authenticated_text(sign_header: str, mac: str, secret: str) -> str | None:
    """The sign-header text whose HMAC is `mac`, or None.

    The SDK signs the UTF-8 bytes of its JSON. A caller handing us real text (a dict) needs
    those bytes re-encoded; a server that decoded the raw header bytes as Latin-1 hands us a
    string whose Latin-1 encoding is those very bytes. Both are tried; for ASCII they agree.
    """
    expected = mac.encode("ascii", "replace")
    candidates = [(sign_header.encode("utf-8"), sign_header)]
    meant = _utf8_view(sign_header)
    if meant is not None:
        candidates.append((sign_header.encode("latin-1"), meant))
    for message, text in candidates:
        if hmac.compare_digest(_hmac_hex(secret, message).encode("ascii"), expected):
            return text
    return None


def _check_agreement(signed: dict[str, str], received: dict[str, list[str]]) -> None:
    """Every XroadVnpt-<name> (and plain <name>) header that is present matches the signed value.

    Unsigned XroadVnpt-* headers are refused so that no code downstream can read a parameter
    that the signature does not cover.
    """
    allowed: dict[str, set[str]] = {}
    for name, value in signed.items():
        allowed.setdefault(name.lower(), set()).add(value)
    for header, values in received.items():
        if header.startswith(PREFIX.lower()):
            name = header[len(PREFIX) :]
            if header in _PROTOCOL:
                continue
            if name not in allowed:
                raise _error("header_mismatch", PREFIX + name)
        elif header in allowed and header != "content-type":
            # The body's real Content-Type may differ from the signed one (the SDK's sendEdoc).
            name = header
        else:
            continue
        for value in values:
            if value not in allowed[name] and _utf8_view(value) not in allowed[name]:
                raise _error("header_mismatch", header)


def check_timestamp(
    signed: Mapping[str, str], *, now: datetime | None, max_skew_seconds: int, zone: ZoneInfo
) -> None:
    """For software that re-stamps every call: the signed timestamp, read in `zone`, must be
    within `max_skew_seconds` of now."""
    stamp = _lookup(dict(signed), "timestamp")
    if stamp is None:
        raise _error("malformed_sign_header", "timestamp")
    try:
        sent = parse_timestamp(stamp, zone)
    except ValueError as exc:
        raise _error("malformed_sign_header", "timestamp") from exc
    current = datetime.now(UTC) if now is None else now
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    if abs(current - sent) > timedelta(seconds=max_skew_seconds):
        raise _error("stale_timestamp", stamp)
