"""One streaming pass over an edXML package.

expat (namespace processing off, so that prefixes reach the canonicaliser as written) builds a
small tree of everything except attachment contents, which are base64-decoded straight into
the blob store and hashed on the way; the same events feed the canonicalisers that compute the
XML-DSig reference digest, skipping the enveloped Signature. Memory stays flat whatever the
size of the attachments.

Hostile input is refused before it costs anything: any DOCTYPE (so no entities, no billion
laughs, no external fetch), too deep nesting, too many elements, too much header text, or more
bytes than the configured limit.

The signature covers the whole package except its one Signature element, so nothing inside
that element may become data (signature wrapping): the Signature must be a single child of
edXMLHeader holding only XML-DSig's own elements (no Object, no Manifest), and an attachment's
content is taken only at edXML/AttachmentEncoded/Attachment/ContentTransferEncoded, bound to
its own Attachment element, never matched by position.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from lienthong.exchange.edxml import DSIG_NS, NS
from lienthong.exchange.edxml.errors import refuse, too_large
from lienthong.exchange.edxml.model import Node
from lienthong.kernel.blobs import BlobRef, BlobStore, BlobWriter
from lienthong.kernel.c14n import StreamCanonicalizer

XMLNS = "http://www.w3.org/XML/1998/namespace"
# What an enveloped XML-DSig Signature may hold. Object, Manifest and SignatureProperties are
# left out on purpose: they are where wrapped content hides.
DSIG_ELEMENTS = frozenset(
    {
        "Signature",
        "SignedInfo",
        "CanonicalizationMethod",
        "SignatureMethod",
        "Reference",
        "Transforms",
        "Transform",
        "XPath",
        "DigestMethod",
        "DigestValue",
        "SignatureValue",
        "KeyInfo",
        "KeyName",
        "KeyValue",
        "RSAKeyValue",
        "Modulus",
        "Exponent",
        "X509Data",
        "X509Certificate",
        "X509SubjectName",
        "X509IssuerSerial",
        "X509IssuerName",
        "X509SerialNumber",
        "X509SKI",
        "X509CRL",
    }
)
# The national samples write Signature without a namespace of its own, so it takes edXML's.
SIGNATURE_NAMESPACES = frozenset({DSIG_NS, NS})


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 512 * 1024 * 1024
    max_depth: int = 48
    max_elements: int = 50_000
    max_header_chars: int = 8 * 1024 * 1024
    max_attachments: int = 500


@dataclass
class StreamResult:
    root: Node
    root_namespace: str | None
    size: int
    sha256: str
    blobs: list[
        BlobRef
    ]  # every attachment blob written, in document order (each is also on its node)
    # Reference digests of the document without its Signature: (c14n, digest name) -> base64.
    digests: dict[tuple[str, str], str]
    signature_events: list[tuple[str, Any]]
    signature_namespaces: dict[str, str]
    signed_info_namespaces: dict[str, str]
    raw_blob: BlobRef | None = None  # the package as received, when kept


class _Base64Sink:
    """Decodes base64 arriving in arbitrary chunks; whitespace and line breaks are allowed."""

    def __init__(self, writer: BlobWriter | None) -> None:
        self.writer = writer
        self.pending = b""
        self.size = 0
        self.hash = hashlib.sha256()
        self.padded = False

    def feed(self, text: str) -> None:
        data = self.pending + "".join(text.split()).encode("ascii", "replace")
        usable = len(data) - len(data) % 4
        self.pending = data[usable:]
        if usable:
            self._decode(data[:usable])

    def _decode(self, chunk: bytes) -> None:
        if self.padded:
            raise binascii.Error("data after padding")
        decoded = binascii.a2b_base64(chunk, strict_mode=True)
        if chunk.endswith(b"="):
            self.padded = True
        self.size += len(decoded)
        self.hash.update(decoded)
        if self.writer is not None:
            self.writer.write(decoded)

    def close(self) -> None:
        if self.pending:
            raise binascii.Error("length is not a multiple of 4")


def _split(name: str) -> tuple[str, str]:
    prefix, _, local = name.rpartition(":")
    return prefix, local


@dataclass
class _State:
    stack: list[Node] = field(default_factory=list)
    ns_stack: list[dict[str, str]] = field(default_factory=lambda: [{"xml": XMLNS}])
    names: list[str] = field(default_factory=list)
    elements: int = 0
    header_chars: int = 0
    root: Node | None = None
    root_ns: str | None = None
    sink: _Base64Sink | None = None
    sink_node: Node | None = None
    attachment_index: int = -1
    attachment_sections: int = 0
    signature_depth: int | None = None
    signature_uri: str | None = None
    signature_events: list[tuple[str, Any]] = field(default_factory=list)
    signature_ns: dict[str, str] = field(default_factory=dict)
    signed_info_ns: dict[str, str] = field(default_factory=dict)
    done_signature: bool = False


def stream_package(
    chunks: Iterable[bytes],
    *,
    blobs: BlobStore | None,
    limits: Limits,
    digest_algorithms: tuple[str, ...] = ("sha256",),
    raw: BlobWriter | None = None,
) -> StreamResult:
    """`raw`, when given, receives the package's bytes as they pass (to keep the package)."""
    state = _State()
    writers: list[BlobWriter] = []
    finished: list[BlobRef] = []
    hashers = {
        (c14n, algo): hashlib.new(algo) for c14n in ("exc", "inc") for algo in digest_algorithms
    }
    canonicalizers = [
        StreamCanonicalizer(
            _fanout([hashers[(c14n, a)] for a in digest_algorithms]), exclusive=c14n == "exc"
        )
        for c14n in ("exc", "inc")
    ]
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.ordered_attributes = True  # document order, as a flat [name, value, …] list
    parser.buffer_size = 65536
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_dtd(*_: Any) -> int:
        raise refuse(
            "dtd_forbidden",
            "Gói tin không được chứa khai báo DOCTYPE hoặc ENTITY.",
            "The package must not contain a DOCTYPE or ENTITY declaration; remove it.",
        )

    def start(name: str, attr_list: list[str]) -> None:
        state.elements += 1
        depth = len(state.names) + 1
        if depth > limits.max_depth:
            raise refuse(
                "too_deep",
                f"Gói tin lồng quá {limits.max_depth} cấp.",
                f"The package nests deeper than {limits.max_depth} levels.",
            )
        if state.elements > limits.max_elements:
            raise refuse(
                "too_many_elements",
                f"Gói tin có quá {limits.max_elements} phần tử.",
                f"The package has more than {limits.max_elements} elements.",
            )
        if state.sink is not None:
            raise refuse(
                "malformed_attachment",
                "Nội dung tệp đính kèm không được chứa phần tử con.",
                "ContentTransferEncoded must hold base64 text only.",
            )
        attrs = list(zip(attr_list[0::2], attr_list[1::2], strict=True))
        scope = dict(state.ns_stack[-1])
        for key, value in attrs:
            if key == "xmlns":
                scope[""] = value
            elif key.startswith("xmlns:"):
                scope[key[6:]] = value
        state.ns_stack.append(scope)
        prefix, local = _split(name)
        unbound = [
            p
            for p in (prefix, *(_split(k)[0] for k, _ in attrs))
            if p and p not in scope and p != "xmlns"
        ]
        if unbound:
            raise refuse(
                "unbound_prefix",
                f"Tiền tố không gian tên '{unbound[0]}:' chưa được khai báo.",
                f"The namespace prefix '{unbound[0]}:' is used but never declared; declare it with "
                f'xmlns:{unbound[0]}="…".',
                prefix=unbound[0],
                element=name,
            )
        parent = state.stack[-1] if state.stack else None
        uri = scope.get(prefix)
        node = Node(local, {k: v for k, v in attrs if not (k == "xmlns" or k.startswith("xmlns:"))})
        in_signature = state.signature_depth is not None
        if in_signature:
            if local not in DSIG_ELEMENTS or uri != state.signature_uri:
                raise _wrapping(
                    f"Phần tử {name} không được nằm trong Signature.",
                    f"{name} may not appear inside the Signature: it holds only XML-DSig's own "
                    "elements (no Object, Manifest or content of the package).",
                    element=name,
                )
        elif local == "Signature" and uri in SIGNATURE_NAMESPACES:
            if state.done_signature or parent is None or parent.name != "edXMLHeader":
                raise _wrapping(
                    "Gói tin chỉ được có một Signature, là phần tử con của edXMLHeader.",
                    "A package has one Signature, as a child of edXMLHeader; this one is "
                    + ("a second one." if state.done_signature else "elsewhere."),
                    element=name,
                    parent=parent.name if parent is not None else None,
                )
            state.signature_depth = depth
            state.signature_uri = uri
            state.signature_ns = scope
            in_signature = True
        if parent is None:
            state.root = node
            state.root_ns = uri
        else:
            parent.children.append(node)
        state.stack.append(node)
        state.names.append(name)
        if in_signature:
            if local == "SignedInfo" and not state.signed_info_ns:
                state.signed_info_ns = state.ns_stack[-2]
            state.signature_events.append(("start", (name, attrs)))
        else:
            for canonicalizer in canonicalizers:
                canonicalizer.start(name, attrs)
        if local == "AttachmentEncoded":
            state.attachment_sections += 1
            if depth != 2 or state.attachment_sections > 1:
                raise refuse(
                    "misplaced_attachment",
                    "Gói tin chỉ có một AttachmentEncoded, là con trực tiếp của edXML.",
                    "A package has one AttachmentEncoded, directly under edXML.",
                    element=name,
                )
        if local == "ContentTransferEncoded":
            placed = (
                depth == 4
                and parent is not None
                and parent.name == "Attachment"
                and state.stack[1].name == "AttachmentEncoded"
            )
            if not placed:
                raise refuse(
                    "misplaced_attachment",
                    "Nội dung tệp (ContentTransferEncoded) chỉ được nằm trong "
                    "edXML/AttachmentEncoded/Attachment.",
                    "Attachment content (ContentTransferEncoded) may only appear at "
                    "edXML/AttachmentEncoded/Attachment.",
                    element=name,
                )
            assert parent is not None
            if sum(1 for c in parent.children if c.name == "ContentTransferEncoded") > 1:
                raise refuse(
                    "duplicate_element",
                    "Một Attachment chỉ có một ContentTransferEncoded.",
                    "An Attachment holds one ContentTransferEncoded.",
                    element=name,
                )
            state.attachment_index += 1
            if state.attachment_index >= limits.max_attachments:
                raise refuse(
                    "too_many_attachments",
                    f"Quá {limits.max_attachments} tệp đính kèm.",
                    f"More than {limits.max_attachments} attachments.",
                )
            writer = blobs.writer() if blobs is not None else None
            if writer is not None:
                writers.append(writer)
            state.sink = _Base64Sink(writer)
            state.sink_node = node

    def end(name: str) -> None:
        node = state.stack.pop()
        state.names.pop()
        state.ns_stack.pop()
        if state.signature_depth is not None:
            state.signature_events.append(("end", name))
            if len(state.names) + 1 == state.signature_depth:
                state.signature_depth = None
                state.done_signature = True
        else:
            for canonicalizer in canonicalizers:
                canonicalizer.end(name)
        if state.sink is not None and node is state.sink_node:
            sink, state.sink, state.sink_node = state.sink, None, None
            try:
                sink.close()
            except binascii.Error as exc:
                raise _bad_base64(state.attachment_index, exc) from exc
            if sink.writer is not None:
                ref = sink.writer.finish()
                writers.remove(sink.writer)
            else:
                ref = BlobRef(sink.hash.hexdigest(), sink.size)
            node.blob = ref
            finished.append(ref)

    def text(data: str) -> None:
        if not state.stack:
            return
        if state.sink is not None:
            try:
                state.sink.feed(data)
            except (binascii.Error, UnicodeError) as exc:
                raise _bad_base64(state.attachment_index, exc) from exc
        else:
            state.header_chars += len(data)
            if state.header_chars > limits.max_header_chars:
                raise refuse(
                    "header_too_large",
                    "Phần đầu gói tin quá lớn.",
                    "The package header (everything but attachments) is too large.",
                )
            state.stack[-1].text += data
        if state.signature_depth is not None:
            state.signature_events.append(("text", data))
        else:
            for canonicalizer in canonicalizers:
                canonicalizer.text(data)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text

    size = 0
    raw_hash = hashlib.sha256()
    first = True
    try:
        for chunk in chunks:
            if not chunk:
                continue
            if first:
                first = False
                if chunk.startswith(b"\xef\xbb\xbf"):
                    chunk = chunk[3:]  # a UTF-8 BOM some editors write
            size += len(chunk)
            if size > limits.max_bytes:
                raise too_large(limits.max_bytes)
            raw_hash.update(chunk)
            if raw is not None:
                raw.write(chunk)
            _parse(parser, chunk, final=False)
        _parse(parser, b"", final=True)
    except BaseException:
        for writer in writers:
            writer.abort()
        if raw is not None:
            raw.abort()
        if blobs is not None:
            blobs.discard(finished)  # attachments already complete when the refusal came
        raise
    for canonicalizer in canonicalizers:
        canonicalizer.close()
    if state.root is None:
        raise refuse(
            "not_xml", "Nội dung gửi lên trống.", "The body is empty: send an edXML package."
        )
    return StreamResult(
        root=state.root,
        root_namespace=state.root_ns,
        size=size,
        sha256=raw_hash.hexdigest(),
        blobs=finished,
        digests={key: _b64(h.digest()) for key, h in hashers.items()},
        signature_events=state.signature_events,
        signature_namespaces=state.signature_ns,
        signed_info_namespaces=state.signed_info_ns,
        raw_blob=raw.finish() if raw is not None else None,
    )


def _parse(parser: Any, chunk: bytes, *, final: bool) -> None:
    try:
        parser.Parse(chunk, final)
    except expat.ExpatError as exc:
        raise refuse(
            "not_xml",
            f"Gói tin không phải XML hợp lệ (dòng {exc.lineno}, cột {exc.offset}): "
            f"{expat.ErrorString(exc.code)}.",
            f"The package is not well-formed XML (line {exc.lineno}, column {exc.offset}): "
            f"{expat.ErrorString(exc.code)}.",
            line=exc.lineno,
            column=exc.offset,
        ) from exc
    except LookupError as exc:
        raise refuse(
            "unsupported_encoding",
            f"Bảng mã không được hỗ trợ ({exc}); hãy dùng UTF-8.",
            f"Unsupported encoding ({exc}); use UTF-8.",
        ) from exc
    except (ValueError, UnicodeError) as exc:
        raise refuse(
            "not_xml",
            f"Gói tin không phải XML hợp lệ: {exc}.",
            f"The package is not well-formed XML: {exc}.",
        ) from exc


def _wrapping(vi: str, en: str, **details: Any) -> Exception:
    return refuse("signature_wrapping", vi, en, **details)


def _bad_base64(index: int, exc: Exception) -> Exception:
    return refuse(
        "bad_base64",
        f"Tệp đính kèm thứ {index + 1} không phải base64 hợp lệ ({exc}).",
        f"Attachment {index + 1} is not valid base64 ({exc}).",
        attachment=index + 1,
    )


def _fanout(targets: list[Any]) -> Callable[[bytes], None]:
    def sink(data: bytes) -> None:
        for target in targets:
            target.update(data)

    return sink


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


__all__ = ["NS", "Limits", "StreamResult", "stream_package"]
