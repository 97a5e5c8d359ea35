"""The edXML codec on the real packages of two vendors, and on hostile input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lienthong.exchange.edxml.errors import EdxmlError
from lienthong.exchange.edxml.model import DocumentPackage, StatusPackage
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.edxml.stream import Limits
from lienthong.exchange.edxml.writer import to_bytes, write_document, write_status
from lienthong.kernel.blobs import FileBlobStore
from tests.fixtures import EDXML_REFERENCE

REFERENCE = EDXML_REFERENCE
PACKAGES = sorted(REFERENCE.glob("*/*.edxml"))


def test_reference_packages_are_there() -> None:
    assert len(PACKAGES) == 16


def _values(package: object) -> dict[str, object]:
    values = dataclasses.asdict(package)  # type: ignore[call-overload]
    values.pop("signature", None)
    for attachment in values.get("attachments", []):  # whether this read wrote the file: not data
        if attachment.get("blob"):
            attachment["blob"].pop("fresh", None)
    # The writer emits dates as yyyy/MM/dd whatever order they came in: compare the dates.
    for raw, parsed in (
        ("promulgation_date_raw", "promulgation_date"),
        ("due_date_raw", "due_date"),
        ("timestamp_raw", "timestamp"),
    ):
        if values.get(parsed) is not None:
            values.pop(raw)
    return values


@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: p.name)
def test_every_reference_package_reads_and_round_trips(path: Path, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    first = read_bytes(path.read_bytes(), blobs=blobs).package
    if isinstance(first, DocumentPackage):
        assert first.document_id
        assert first.to
        assert all(t.organ_id for t in first.to)
        assert first.attachments
        assert first.attachments[0].blob is not None
        assert blobs.exists(first.attachments[0].blob.sha256)
        written = to_bytes(write_document(first, open_blob=lambda ref: blobs.open(ref.sha256)))
    else:
        assert isinstance(first, StatusPackage)
        assert first.response_for.document_id
        written = to_bytes(write_status(first))
    second = read_bytes(written, blobs=blobs).package
    assert _values(second) == _values(first)


def test_tolerant_reading_of_the_variants() -> None:
    tay_ninh = read_bytes(
        (REFERENCE / "bkav-edoc-integrator" / "edoc_new_tayninh.edxml").read_bytes()
    ).package
    assert isinstance(tay_ninh, DocumentPackage)
    assert tay_ninh.promulgation_date is not None  # dd/MM/yyyy in this vendor's package
    update = read_bytes((REFERENCE / "vxp-sdk-samples" / "edoc_update.edxml").read_bytes()).package
    assert isinstance(update, DocumentPackage)
    assert update.business.doc_type == 2
    assert [(r.organ_id, r.receiver_type) for r in update.business.receivers] == [
        ("000.00.00.H41", 0),
        ("000.00.00.H14", 1),
    ]
    assert len(update.to) == 3
    replacement = read_bytes(
        (REFERENCE / "vxp-sdk-samples" / "edoc_replacement.edxml").read_bytes()
    ).package
    assert isinstance(replacement, DocumentPackage)
    assert replacement.business.doc_type == 3
    assert replacement.business.replacements[0].organ_ids
    recall = read_bytes(
        (REFERENCE / "vxp-sdk-samples" / "edoc_revocation.edxml").read_bytes()
    ).package
    assert isinstance(recall, DocumentPackage)
    assert recall.business.doc_type == 1
    assert recall.response_for
    assert recall.response_for[0].document_id
    status = read_bytes(
        (REFERENCE / "vxp-sdk-samples" / "status_acceptance_03.edxml").read_bytes()
    ).package
    assert isinstance(status, StatusPackage)
    assert status.status_code == "03"


SAMPLE = (REFERENCE / "vxp-sdk-samples" / "edoc_new.edxml").read_bytes()


def test_bom_crlf_and_prefixed_root_are_read() -> None:
    variant = b"\xef\xbb\xbf" + SAMPLE.replace(b"\n", b"\r\n")
    assert isinstance(read_bytes(variant).package, DocumentPackage)
    prefixed = SAMPLE.replace(
        b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">',
        b'<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016" '
        b'xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">',
    ).replace(b"</edXML>\n", b"</edXML:edXML>\n")
    assert isinstance(read_bytes(prefixed).package, DocumentPackage)


def test_unknown_elements_are_kept() -> None:
    extra = SAMPLE.replace(
        b"<edXML:SteeringType>",
        b"<edXML:ApplicationType>QLVB</edXML:ApplicationType><edXML:SteeringType>",
    )
    package = read_bytes(extra).package
    assert isinstance(package, DocumentPackage)
    assert [(n.name, n.text) for n in package.extra] == [("ApplicationType", "QLVB")]
    again = read_bytes(
        to_bytes(write_document(dataclasses.replace(package, attachments=[])))
    ).package
    assert isinstance(again, DocumentPackage)
    assert [(n.name, n.text) for n in again.extra] == [("ApplicationType", "QLVB")]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not xml at all", "not_xml"),
        (b"", "not_xml"),
        (b"<edXML xmlns='http://www.go.vn/eDoc'><x/></edXML>", "wrong_namespace"),
        (b"<html/>", "wrong_root"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<edXML>&lol2;</edXML>",
            "dtd_forbidden",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><edXML/>',
            "dtd_forbidden",
        ),
        (
            b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'>"
            + b"<a>" * 100
            + b"</a>" * 100
            + b"</edXML>",
            "too_deep",
        ),
        (SAMPLE.replace(b"<edXML:OrganId>000.00.00.A80</edXML:OrganId>", b"", 1), "missing_from"),
        (
            SAMPLE.replace(b"<edXML:DocumentId>", b"<edXML:X>").replace(
                b"</edXML:DocumentId>", b"</edXML:X>"
            ),
            "missing_document_id",
        ),
        (SAMPLE.replace(b"UEsDBBQ", b"UE$DBBQ"), "bad_base64"),
    ],
)
def test_hostile_and_broken_input_is_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(EdxmlError) as caught:
        read_bytes(data)
    assert caught.value.code == code
    assert caught.value.message_en
    assert caught.value.message_vi


def test_missing_to_is_named() -> None:
    import re

    no_to = re.sub(rb"<edXML:To>.*?</edXML:To>", b"", SAMPLE, flags=re.S)
    with pytest.raises(EdxmlError) as caught:
        read_bytes(no_to)
    assert caught.value.code == "missing_to"


def test_size_limit(tmp_path: Path) -> None:
    from lienthong.kernel.errors import AppError

    blobs = FileBlobStore(tmp_path)
    with pytest.raises(AppError) as caught:
        read_bytes(SAMPLE, blobs=blobs, limits=Limits(max_bytes=1000))
    assert caught.value.code == "package_too_large"
    assert caught.value.status_code == 413
    assert list((tmp_path / "tmp").iterdir()) == []  # no half-written attachment left
