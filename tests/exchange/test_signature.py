"""Real X.509 certificates and real XML-DSig: what we sign, signxml verifies, and the other way."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import XMLSigner, XMLVerifier

from lienthong.exchange.edxml.errors import EdxmlError
from lienthong.exchange.edxml.model import DocumentPackage, Organization
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.edxml.signature import sign, verify
from lienthong.exchange.edxml.writer import to_bytes, write_document
from lienthong.kernel.blobs import FileBlobStore
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.pki import FileKeyStore, SigningIdentity, issue
from tests.fixtures import EDXML_REFERENCE

REFERENCE = EDXML_REFERENCE
SENDER = "000.00.02.H49"


@pytest.fixture
def keys(tmp_path: Path) -> FileKeyStore:
    store = FileKeyStore(tmp_path / "keys")
    store.ensure_ca("Test node CA")
    store.ensure_agency(SENDER, "Sở Nội vụ")
    return store


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def package(blobs: FileBlobStore) -> DocumentPackage:
    sample = read_bytes(
        (REFERENCE / "vxp-sdk-samples" / "edoc_new.edxml").read_bytes(), blobs=blobs
    ).package
    assert isinstance(sample, DocumentPackage)
    return dataclasses.replace(sample, from_=Organization(organ_id=SENDER, organ_name="Sở Nội vụ"))


def signed_bytes(pkg: DocumentPackage, blobs: FileBlobStore, identity: SigningIdentity) -> bytes:
    return to_bytes(
        sign(
            lambda sig: write_document(
                pkg, open_blob=lambda r: blobs.open(r.sha256), signature=sig
            ),
            identity,
        )
    )


def check(data: bytes, keys: FileKeyStore, sender: str = SENDER) -> object:
    result = read_bytes(data)
    assert result.package.signature is not None
    return verify(
        result.package.signature, result.stream, sender_code=sender, keys=keys, allow_sha1=False
    )


def test_our_signature_verifies_here_and_in_signxml(
    keys: FileKeyStore, blobs: FileBlobStore
) -> None:
    identity = keys.identity(SENDER)
    assert identity is not None
    data = signed_bytes(package(blobs), blobs, identity)
    leaf = check(data, keys)
    assert leaf == identity.chain[0]
    ca_pem = (keys.root / "ca.pem").read_bytes()
    verified = XMLVerifier().verify(data, ca_pem_file=str(keys.root / "ca.pem"))
    assert verified.signed_xml is not None
    assert ca_pem


def test_signxml_signature_verifies_here(keys: FileKeyStore, blobs: FileBlobStore) -> None:
    identity = keys.identity(SENDER)
    assert identity is not None
    unsigned = to_bytes(write_document(package(blobs), open_blob=lambda r: blobs.open(r.sha256)))
    root = etree.fromstring(unsigned)
    header = root.find(".//{http://www.mic.gov.vn/TBT/QCVN_102_2016}edXMLHeader")
    assert header is not None
    placeholder = etree.SubElement(
        header, "{http://www.w3.org/2000/09/xmldsig#}Signature", Id="placeholder"
    )
    assert placeholder is not None
    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = [c.public_bytes(serialization.Encoding.PEM) for c in identity.chain]
    signed = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#").sign(
        root, key=key_pem, cert=cert_pem
    )
    data = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    assert check(data, keys) == identity.chain[0]


def test_tampered_content_fails(keys: FileKeyStore, blobs: FileBlobStore) -> None:
    identity = keys.identity(SENDER)
    assert identity is not None
    data = signed_bytes(package(blobs), blobs, identity)
    with pytest.raises(EdxmlError) as caught:
        check(data.replace("kết nối".encode(), "KẾT NỐI".encode(), 1), keys)
    assert caught.value.code == "bad_signature"


def test_tampered_attachment_fails(keys: FileKeyStore, blobs: FileBlobStore) -> None:
    identity = keys.identity(SENDER)
    assert identity is not None
    data = signed_bytes(package(blobs), blobs, identity)
    with pytest.raises(EdxmlError) as caught:
        check(data.replace(b">UEsDBBQ", b">UEsDBBR", 1), keys)
    assert caught.value.code == "bad_signature"


def test_certificate_of_another_agency(keys: FileKeyStore, blobs: FileBlobStore) -> None:
    other = keys.ensure_agency("000.00.03.H49", "Sở Tài chính")
    data = signed_bytes(package(blobs), blobs, other)
    with pytest.raises(AppError) as caught:
        check(data, keys)
    assert caught.value.code == "certificate_not_for_sender"


def test_expired_untrusted_and_revoked_certificates(
    keys: FileKeyStore, blobs: FileBlobStore, tmp_path: Path
) -> None:
    ca_key, ca_cert = keys.ensure_ca()
    key, cert = issue(
        ca_key,
        ca_cert,
        common_name="old",
        agency_code=SENDER,
        days=30,
        not_before=utcnow() - timedelta(days=60),
    )
    with pytest.raises(AppError) as caught:
        check(signed_bytes(package(blobs), blobs, SigningIdentity(key, (cert, ca_cert))), keys)
    assert caught.value.code == "certificate_expired"

    stranger = FileKeyStore(tmp_path / "stranger")
    stranger.ensure_ca("Some other CA")
    foreign = stranger.ensure_agency(SENDER, "Sở Nội vụ (giả)")
    with pytest.raises(AppError) as caught:
        check(signed_bytes(package(blobs), blobs, foreign), keys)
    assert caught.value.code == "untrusted_certificate"

    identity = keys.identity(SENDER)
    assert identity is not None
    keys.revoke(identity.chain[0], identity.chain[1])
    with pytest.raises(AppError) as caught:
        check(signed_bytes(package(blobs), blobs, identity), keys)
    assert caught.value.code == "certificate_revoked"


def test_reference_samples_signatures_are_refused_not_crashed(keys: FileKeyStore) -> None:
    # The samples' signatures are RSA-SHA1 over replaced payloads: refused with a reason.
    result = read_bytes((REFERENCE / "vxp-sdk-samples" / "edoc_update.edxml").read_bytes())
    assert result.package.signature is not None
    with pytest.raises(AppError) as caught:
        verify(
            result.package.signature,
            result.stream,
            sender_code="000.00.00.G22",
            keys=keys,
            allow_sha1=False,
        )
    assert caught.value.code == "weak_signature"
    with pytest.raises(AppError) as caught:
        verify(
            result.package.signature,
            result.stream,
            sender_code="000.00.00.G22",
            keys=keys,
            allow_sha1=True,
        )
    assert caught.value.code in {"bad_signature", "bad_certificate"}


def test_a_published_crl_revokes(keys: FileKeyStore, blobs: FileBlobStore) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ca_key, ca_cert = keys.ensure_ca()
    identity = keys.identity(SENDER)
    assert identity is not None
    now = utcnow()
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(identity.chain[0].serial_number)
        .revocation_date(now)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=7))
        .add_revoked_certificate(revoked)
        .sign(ca_key, hashes.SHA256())
    )
    (keys.root / "crls").mkdir()
    (keys.root / "crls" / "node.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    fresh = FileKeyStore(keys.root)  # a node starting with the CRL in place
    with pytest.raises(AppError) as caught:
        check(signed_bytes(package(blobs), blobs, identity), fresh)
    assert caught.value.code == "certificate_revoked"
