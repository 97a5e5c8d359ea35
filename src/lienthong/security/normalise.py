"""Lines and documents as they arrive, turned into flat Elastic Common Schema fields.

Each decoder returns the ECS fields of one event (dotted names: `source.ip`, `event.action` …)
or raises `Malformed`; the caller keeps the original either way. Written here rather than
taken from a library: the syslog parsers on PyPI either handle one of the two RFCs or build
objects per field at a cost that shows at 20,000 lines/s, and each format is one regular
expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from lienthong.kernel.clock import utcnow


class Malformed(ValueError):
    """A line that is not in the format its source speaks."""


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(value: Any) -> datetime | None:
    """An ISO 8601 time as ECS and JSON sources write it, in UTC; None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("z", "Z")
    # Python before 3.12 takes only 0, 3 or 6 fraction digits.
    text = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), text, count=1)
    # Suricata writes +0000 without a colon.
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted names (`{"source": {"ip": x}}` → `source.ip`)."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


# ---- syslog (RFC 5424 and RFC 3164) -------------------------------------------------------

FACILITIES = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
]
SEVERITIES = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
]

_PRI = re.compile(rb"^<(\d{1,3})>")
_RFC5424 = re.compile(
    r"^(?P<version>[1-9]\d{0,2}) (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    r"(?P<msgid>\S+) (?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r"\[([^\s\]=]+)((?:\s+[^\s=\]]+=\"(?:[^\"\\]|\\.)*\")*)\s*\]")
_SD_PARAM = re.compile(r"([^\s=\]]+)=\"((?:[^\"\\]|\\.)*)\"")
_RFC3164 = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?:(?P<host>[^\s:\[]+) )?"
    r"(?P<tag>[^\s:\[]{1,48})(?:\[(?P<pid>[^\]]{1,20})\])?: ?(?P<msg>.*)$",
    re.DOTALL,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
# What sshd says about sign-ins (OpenSSH's auth.log lines).
_SSHD = re.compile(
    r"^(?P<verdict>Failed|Accepted|Invalid user) (?:(?P<method>\S+) for )?(?:invalid user )?"
    r"(?P<user>\S*) from (?P<ip>[0-9a-fA-F:.]+)(?: port (?P<port>\d+))?"
)


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _unescape_sd(value: str) -> str:
    return re.sub(r"\\([\"\\\]])", r"\1", value)


def parse_syslog(raw: bytes, *, local_zone: tzinfo, now: datetime | None = None) -> dict[str, Any]:
    """One syslog message (no framing) as ECS fields; `Malformed` when it has no PRI or fits
    neither RFC."""
    match = _PRI.match(raw)
    if match is None or int(match.group(1)) > 191:
        raise Malformed("no <PRI> at the start")
    pri = int(match.group(1))
    text = raw[match.end() :].decode("utf-8", errors="replace").rstrip("\r\n\x00")
    fields: dict[str, Any] = {
        "event.kind": "event",
        "event.module": "syslog",
        "event.dataset": "syslog",
        "log.syslog.priority": pri,
        "log.syslog.facility.code": pri >> 3,
        "log.syslog.facility.name": FACILITIES[pri >> 3],
        "log.syslog.severity.code": pri & 7,
        "log.syslog.severity.name": SEVERITIES[pri & 7],
    }
    if (m := _RFC5424.match(text)) is not None:
        when = parse_stamp(m["ts"]) if m["ts"] != "-" else None
        fields["log.syslog.version"] = m["version"]
        host, app, procid, msgid = (_nil(m[k]) for k in ("host", "app", "procid", "msgid"))
        message = (m["msg"] or "").removeprefix("\ufeff")
        if m["sd"] != "-":
            for element in _SD_ELEMENT.finditer(m["sd"]):
                for name, value in _SD_PARAM.findall(element.group(2)):
                    fields[f"log.syslog.structured_data.{element.group(1)}.{name}"] = _unescape_sd(
                        value
                    )
    elif (m := _RFC3164.match(text)) is not None:
        current = now or utcnow()
        local_now = current.astimezone(local_zone)
        month, day, clock = m["ts"].split()[0], int(m["ts"][4:6]), m["ts"][7:]
        hour, minute, second = (int(x) for x in clock.split(":"))
        year = local_now.year - (
            1 if _MONTHS[month] > local_now.month else 0
        )  # a December line read in January
        when = datetime(year, _MONTHS[month], day, hour, minute, second, tzinfo=local_zone)
        host, app, procid, msgid = m["host"], m["tag"], m["pid"], None
        message = m["msg"]
    else:
        raise Malformed("neither RFC 5424 nor RFC 3164")
    fields["@timestamp"] = stamp(when or utcnow())
    if host:
        fields["host.hostname"] = fields["host.name"] = host
    if app:
        fields["process.name"] = app
    if procid:
        fields["process.pid"] = int(procid) if procid.isdigit() else procid
    if msgid:
        fields["event.code"] = msgid
    fields["message"] = message
    if app == "sshd":
        _sshd(fields, message)
    return fields


def _sshd(fields: dict[str, Any], message: str) -> None:
    m = _SSHD.match(message)
    if m is None:
        return
    fields["event.category"] = "authentication"
    fields["event.action"] = "ssh_login"
    fields["event.outcome"] = "success" if m["verdict"] == "Accepted" else "failure"
    fields["source.ip"] = m["ip"]
    if m["port"]:
        fields["source.port"] = int(m["port"])
    if m["user"]:
        fields["user.name"] = m["user"]


class SyslogFramer:
    """Messages out of one TCP stream: octet-counted (RFC 6587 §3.4.1, `123 <13>1 …`) when a
    frame starts with a digit, else one per LF (the non-transparent framing `logger --tcp` and
    rsyslog use by default). A frame past `max_line` is cut to it and the rest skipped as it
    arrives, so a giant frame never fills memory; `truncated` counts them."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.buffer = bytearray()
        self.skip = 0  # bytes of a cut octet-counted frame still to come
        self.skip_line = False  # the rest of a cut LF frame
        self.truncated = 0

    def feed(self, data: bytes) -> list[bytes]:
        if self.skip:
            taken = min(self.skip, len(data))
            self.skip -= taken
            data = data[taken:]
        if self.skip_line:
            newline = data.find(b"\n")
            if newline < 0:
                return []
            self.skip_line = False
            data = data[newline + 1 :]
        self.buffer += data
        frames: list[bytes] = []
        buffer = self.buffer
        while buffer:
            if buffer[:1].isdigit():
                space = buffer.find(b" ", 0, 12)
                if space < 0:
                    if len(buffer) < 12:
                        break  # the length is still arriving
                    space = 0  # digits without an end: read it as a plain line
                head = bytes(buffer[:space])
                if space and head.isdigit():
                    length = int(head)
                    end = space + 1 + length
                    if len(buffer) >= end:
                        frames.append(self._cut(bytes(buffer[space + 1 : end])))
                        del buffer[:end]
                        continue
                    if length <= self.max_line:
                        break
                    if len(buffer) - space - 1 >= self.max_line:
                        frames.append(bytes(buffer[space + 1 : space + 1 + self.max_line]))
                        self.truncated += 1
                        self.skip = end - len(buffer)
                        buffer.clear()
                    break
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > self.max_line:
                    frames.append(bytes(buffer[: self.max_line]))
                    self.truncated += 1
                    self.skip_line = True
                    buffer.clear()
                break
            frames.append(self._cut(bytes(buffer[:newline])))
            del buffer[: newline + 1]
        return [f for f in frames if f.strip()]

    def _cut(self, frame: bytes) -> bytes:
        if len(frame) > self.max_line:
            self.truncated += 1
            return frame[: self.max_line]
        return frame


# ---- web-server access logs (nginx and Apache "combined") ---------------------------------

_COMBINED = re.compile(
    r'^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referrer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)")?'
)


def parse_access_line(line: str, *, dataset: str = "nginx.access") -> dict[str, Any]:
    m = _COMBINED.match(line)
    if m is None:
        raise Malformed("not in the combined log format")
    try:
        when = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError as exc:
        raise Malformed("bad time in an access log line") from exc
    fields: dict[str, Any] = {
        "@timestamp": stamp(when),
        "event.kind": "event",
        "event.module": dataset.split(".")[0],
        "event.dataset": dataset,
        "event.category": "web",
        "source.ip": m["ip"],
        "http.response.status_code": int(m["status"]),
        "message": line,
    }
    status = int(m["status"])
    fields["event.outcome"] = "failure" if status >= 400 else "success"
    if m["user"] != "-":
        fields["user.name"] = m["user"]
    if m["bytes"] != "-":
        fields["http.response.body.bytes"] = int(m["bytes"])
    parts = m["request"].split(" ")
    if len(parts) == 3:
        fields["http.request.method"] = parts[0]
        fields["url.original"] = parts[1]
        fields["url.path"] = parts[1].split("?", 1)[0]
        fields["http.version"] = parts[2].removeprefix("HTTP/")
    else:
        fields["url.original"] = m["request"]
    if m["referrer"] and m["referrer"] != "-":
        fields["http.request.referrer"] = m["referrer"]
    if m["agent"] and m["agent"] != "-":
        fields["user_agent.original"] = m["agent"]
    return fields


# ---- Suricata EVE JSON ---------------------------------------------------------------------

_EVE = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dest_ip": "destination.ip",
    "dest_port": "destination.port",
    "proto": "network.transport",
    "app_proto": "network.protocol",
    "in_iface": "observer.ingress.interface.name",
    "alert.signature": "rule.name",
    "alert.signature_id": "rule.id",
    "alert.category": "rule.category",
    "alert.severity": "event.severity",
    "alert.action": "suricata.eve.alert.action",
    "dns.rrname": "dns.question.name",
    "dns.rrtype": "dns.question.type",
    "http.hostname": "url.domain",
    "http.url": "url.original",
    "http.http_method": "http.request.method",
    "http.status": "http.response.status_code",
    "http.http_user_agent": "user_agent.original",
    "tls.sni": "tls.client.server_name",
    "tls.version": "tls.version",
    "fileinfo.sha256": "file.hash.sha256",
    "fileinfo.md5": "file.hash.md5",
}


def parse_eve(document: Mapping[str, Any]) -> dict[str, Any]:
    """One Suricata EVE record: its own fields kept under `suricata.eve.*`, the common ones in
    their ECS names."""
    kind = document.get("event_type")
    if not isinstance(kind, str):
        raise Malformed("an EVE record without event_type")
    flat = flatten(document)
    when = parse_stamp(document.get("timestamp"))
    fields: dict[str, Any] = {
        "@timestamp": stamp(when or utcnow()),
        "event.kind": "alert" if kind == "alert" else "event",
        "event.module": "suricata",
        "event.dataset": "suricata.eve",
        "event.type": kind,
        "suricata.eve.event_type": kind,
    }
    if "flow_id" in document:
        fields["suricata.eve.flow_id"] = document["flow_id"]
    category = {"alert": "intrusion_detection", "anomaly": "network", "flow": "network"}
    fields["event.category"] = category.get(kind, "network")
    for name, value in flat.items():
        if name in _EVE:
            fields[_EVE[name]] = value
        elif name not in ("timestamp", "event_type", "flow_id"):
            fields[f"suricata.eve.{name}"] = value
    return fields


# ---- JSON lines posted by a source ---------------------------------------------------------


def parse_json_event(document: Any, *, dataset: str) -> dict[str, Any]:
    """A JSON object posted by a source system: ECS fields, nested or dotted; `@timestamp`
    defaults to now and `event.dataset` to the source's own."""
    if not isinstance(document, Mapping):
        raise Malformed("an event must be a JSON object")
    if document.get("event_type") and document.get("timestamp") and "@timestamp" not in document:
        return parse_eve(document)
    fields = flatten(document)
    when = parse_stamp(fields.get("@timestamp"))
    fields["@timestamp"] = stamp(when or utcnow())
    fields.setdefault("event.kind", "event")
    fields.setdefault("event.dataset", dataset)
    return fields


def decode_json_line(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("not JSON") from exc
