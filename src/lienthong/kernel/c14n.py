"""Streaming XML canonicalisation (C14N 1.0 and Exclusive C14N 1.0, both without comments).

edXML packages (QCVN 102:2016) are signed with an enveloped XML-DSig whose digest covers the
canonical form of the whole document, and they carry base64 attachments of hundreds of MB.
lxml's c14n needs the whole tree in memory (hundreds of MB of RSS for a 200 MB package), so we
canonicalise from expat events instead and hash the output as it is produced: memory stays flat
whatever the package size.

Events are raw, as expat gives them with namespace processing off: qualified names with their
prefixes, and ``xmlns``/``xmlns:p`` declarations as ordinary attributes. This module resolves the
prefixes itself.

Output matches libxml2 (lxml) byte for byte except where libxml2 departs from the specs; there we
follow the specs: "&" in a namespace URI is escaped, "#default" in an InclusiveNamespaces
PrefixList is honoured (lxml drops it), and an inclusive subset keeps an inherited default
namespace below the apex (lxml writes xmlns="" on grandchildren of a non-root element).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from io import BytesIO
from typing import BinaryIO
from xml.parsers import expat

__all__ = ["StreamCanonicalizer", "canonicalize", "canonicalize_stream"]

XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
# Output is handed to the sink in pieces of about this many characters: big enough that a
# hash update per piece costs nothing, small enough that memory does not grow with the input.
FLUSH_AT = 64 * 1024


def _escape_text(data: str) -> str:
    if "&" in data:
        data = data.replace("&", "&amp;")
    if "<" in data:
        data = data.replace("<", "&lt;")
    if ">" in data:
        data = data.replace(">", "&gt;")
    if "\r" in data:
        data = data.replace("\r", "&#xD;")
    return data


def _escape_attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#x9;")
        .replace("\n", "&#xA;")
        .replace("\r", "&#xD;")
    )


def _prefix(qname: str) -> str:
    prefix, colon, _ = qname.partition(":")
    return prefix if colon else ""


class _Frame:
    """One open element.

    ``scope`` is the in-scope prefix → URI map ("" is the default namespace, "" as its value means
    no default). ``rendered`` is what the output has in effect at this element: the same as
    ``scope`` in inclusive mode, only the declarations actually written in exclusive mode. Both
    are shared with the parent unless the element changes them, so depth costs little.
    """

    __slots__ = ("name", "rendered", "scope")

    def __init__(self, name: str, scope: dict[str, str], rendered: dict[str, str]) -> None:
        self.name = name
        self.scope = scope
        self.rendered = rendered


class StreamCanonicalizer:
    """Canonicalise a stream of raw (non-namespace-aware) expat-like events into ``sink``.

    Feed exactly the nodes to be canonicalised: for the enveloped-signature transform, leave out
    the Signature element's events; for SignedInfo, feed its subtree alone and pass the ancestors'
    declarations as ``inherited_namespaces`` (prefix → URI, "" for the default namespace).

    Inclusive mode does not copy ``xml:*`` attributes from unfed ancestors onto the apex (C14N 1.0
    §2.4 for document subsets): XML-DSig SignedInfo in edXML never relies on them.
    """

    def __init__(
        self,
        sink: Callable[[bytes], None],
        *,
        exclusive: bool = True,
        inclusive_prefixes: Sequence[str] = (),
        inherited_namespaces: Mapping[str, str] | None = None,
    ) -> None:
        self._sink = sink
        self._exclusive = exclusive
        self._inclusive_prefixes = tuple(
            "" if p == "#default" else p for p in inclusive_prefixes if p != "xml"
        )
        scope = {"": ""}
        scope.update(inherited_namespaces or {})
        scope.pop("xml", None)
        # The base frame stands for the unfed ancestors: their namespaces are in scope, but
        # nothing has been written for them.
        self._stack: list[_Frame] = [_Frame("", scope, {"": ""})]
        self._buffer: list[str] = []
        self._buffered = 0
        self._root_seen = False

    # -- events -------------------------------------------------------------------------------

    def start(self, name: str, attributes: Sequence[tuple[str, str]]) -> None:
        """An element start tag: raw qualified name and attributes in document order."""
        parent = self._stack[-1]
        declared: dict[str, str] = {}
        plain: list[tuple[str, str]] = []
        for attr_name, value in attributes:
            if attr_name == "xmlns":
                declared[""] = value
            elif attr_name.startswith("xmlns:"):
                declared[attr_name[6:]] = value
            else:
                plain.append((attr_name, value))
        declared.pop("xml", None)  # the xml prefix is bound by definition and never written

        scope = parent.scope
        if declared:
            scope = dict(scope)
            for prefix, uri in declared.items():
                if uri or not prefix:
                    scope[prefix] = uri
                else:  # XML 1.1 prefix undeclaration
                    scope.pop(prefix, None)

        if self._exclusive:
            namespaces, rendered = self._exclusive_namespaces(name, plain, scope, parent.rendered)
        else:
            namespaces, rendered = self._inclusive_namespaces(declared, scope, parent)

        out = ["<", name]
        for prefix, uri in sorted(namespaces.items()):
            out.append(f' xmlns:{prefix}="' if prefix else ' xmlns="')
            out.append(_escape_attr(uri))
            out.append('"')
        if plain:
            keyed = [(self._attr_key(attr_name, scope), attr_name, v) for attr_name, v in plain]
            keyed.sort()
            for _, attr_name, value in keyed:
                out.append(f' {attr_name}="')
                out.append(_escape_attr(value))
                out.append('"')
        out.append(">")
        self._write("".join(out))
        self._stack.append(_Frame(name, scope, rendered))
        self._root_seen = True

    def end(self, name: str) -> None:
        """An element end tag."""
        if len(self._stack) < 2 or self._stack[-1].name != name:
            raise ValueError(f"unexpected end tag {name!r}")
        self._stack.pop()
        self._write(f"</{name}>")

    def text(self, data: str) -> None:
        """Character data (CDATA content included), in any number of chunks."""
        if data:
            self._write(_escape_text(data))

    def processing_instruction(self, target: str, data: str) -> None:
        """A processing instruction; outside the root it gets the newline C14N prescribes."""
        pi = f"<?{target} {data}?>" if data else f"<?{target}?>"
        if len(self._stack) > 1:
            self._write(pi)
        elif self._root_seen:
            self._write("\n" + pi)
        else:
            self._write(pi + "\n")

    def close(self) -> None:
        """Hand whatever is buffered to the sink."""
        if self._buffer:
            self._sink("".join(self._buffer).encode("utf-8"))
            self._buffer.clear()
            self._buffered = 0

    # -- internals ----------------------------------------------------------------------------

    def _write(self, piece: str) -> None:
        self._buffer.append(piece)
        self._buffered += len(piece)
        if self._buffered >= FLUSH_AT:
            self.close()

    def _inclusive_namespaces(
        self, declared: Mapping[str, str], scope: dict[str, str], parent: _Frame
    ) -> tuple[dict[str, str], dict[str, str]]:
        # Every in-scope namespace the output parent does not already have with the same value.
        # Below the apex the scope only changes through declarations, so only those need looking
        # at; the apex (parent is the base frame) gets everything in scope.
        candidates = scope.keys() if len(self._stack) == 1 else declared.keys()
        above = parent.rendered
        out: dict[str, str] = {}
        for prefix in candidates:
            uri = scope.get(prefix)
            if uri is None:
                continue  # undeclared in this very element
            if prefix:
                if above.get(prefix) != uri:
                    out[prefix] = uri
            elif above.get("", "") != uri:
                out[""] = uri  # may be xmlns="" cancelling a parent's default
        return out, scope

    def _exclusive_namespaces(
        self,
        name: str,
        attributes: Sequence[tuple[str, str]],
        scope: Mapping[str, str],
        above: dict[str, str],
    ) -> tuple[dict[str, str], dict[str, str]]:
        # Only visibly utilised prefixes (the element's, its attributes') and the
        # InclusiveNamespaces PrefixList, each written unless an output ancestor already wrote
        # the same value. An unprefixed element utilises the default namespace, so it may need
        # xmlns="" when an output ancestor wrote a non-empty default.
        used = {_prefix(name)}
        for attr_name, _ in attributes:
            prefix = _prefix(attr_name)
            if prefix and prefix != "xml":
                used.add(prefix)
        out: dict[str, str] = {}
        for prefix in (*used, *self._inclusive_prefixes):
            if prefix in out:
                continue
            if prefix:
                uri = scope.get(prefix)
                if uri is None:
                    if prefix in used:
                        raise ValueError(f"unbound namespace prefix {prefix!r}")
                    continue  # a PrefixList entry not in scope here
                if above.get(prefix) != uri:
                    out[prefix] = uri
            else:
                uri = scope.get("", "")
                if above.get("", "") != uri:
                    out[""] = uri
        if not out:
            return out, above
        rendered = dict(above)
        rendered.update(out)
        return out, rendered

    @staticmethod
    def _attr_key(attr_name: str, scope: Mapping[str, str]) -> tuple[str, str]:
        # Sorted by (namespace URI, local name); unprefixed attributes are in no namespace.
        prefix, colon, local = attr_name.partition(":")
        if not colon:
            return ("", attr_name)
        if prefix == "xml":
            return (XML_NAMESPACE, local)
        uri = scope.get(prefix)
        if uri is None:
            raise ValueError(f"unbound namespace prefix {prefix!r}")
        return (uri, local)


def canonicalize_stream(
    source: BinaryIO,
    sink: Callable[[bytes], None],
    *,
    exclusive: bool = True,
    inclusive_prefixes: Sequence[str] = (),
    skip: Callable[[str, list[tuple[str, str]]], bool] | None = None,
) -> None:
    """Parse ``source`` with expat and write its canonical form to ``sink`` piece by piece.

    Element subtrees for which ``skip(name, attributes)`` is true are left out (the
    enveloped-signature transform). Text outside the root element is ignored, processing
    instructions there are kept as C14N prescribes (comments never are); a DOCTYPE is
    refused, since entity and default-attribute declarations would change the canonical form and
    open the door to entity expansion attacks.
    """
    canon = StreamCanonicalizer(sink, exclusive=exclusive, inclusive_prefixes=inclusive_prefixes)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = FLUSH_AT
    parser.ordered_attributes = True
    depth = 0
    skipping = 0  # depth inside a skipped subtree, 0 when not skipping

    def start(name: str, flat: list[str]) -> None:
        nonlocal depth, skipping
        depth += 1
        if skipping:
            skipping += 1
            return
        attributes = list(zip(flat[::2], flat[1::2], strict=True))
        if skip is not None and skip(name, attributes):
            skipping = 1
            return
        canon.start(name, attributes)

    def end(name: str) -> None:
        nonlocal depth, skipping
        depth -= 1
        if skipping:
            skipping -= 1
            return
        canon.end(name)

    def text(data: str) -> None:
        if depth and not skipping:
            canon.text(data)

    def pi(target: str, data: str) -> None:
        if not skipping:
            canon.processing_instruction(target, data)

    def doctype(*_: object) -> None:
        raise ValueError("DTD not allowed")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.ProcessingInstructionHandler = pi
    parser.StartDoctypeDeclHandler = doctype
    parser.ParseFile(source)
    canon.close()


def canonicalize(
    xml: bytes,
    *,
    exclusive: bool = True,
    inclusive_prefixes: Sequence[str] = (),
    skip: Callable[[str, list[tuple[str, str]]], bool] | None = None,
) -> bytes:
    """The canonical form of a whole document, as bytes (see ``canonicalize_stream``)."""
    pieces: list[bytes] = []
    canonicalize_stream(
        BytesIO(xml),
        pieces.append,
        exclusive=exclusive,
        inclusive_prefixes=inclusive_prefixes,
        skip=skip,
    )
    return b"".join(pieces)
