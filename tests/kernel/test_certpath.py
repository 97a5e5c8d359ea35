"""Certificate paths are validated by `cryptography`'s verifier, and revocation is read from
each issuer's own CRL: expired CRLs, CRLs signed by the wrong CA, CA certificates used as
signers, leaves not made for signing and paths too long are each refused with their code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lienthong.kernel.certpath import CertificateProblem, Revocation, check_chain
from lienthong.kernel.clock import utcnow
from lienthong.kernel.pki import FileKeyStore, PrivateKey, issue, make_ca, new_key

SENDER = "000.00.02.H49"


def _name(cn: str, uid: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if uid:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, uid))
    return x509.Name(attrs)


def _cert(
    issuer_key: PrivateKey,
    issuer_name: x509.Name,
    *,
    subject: x509.Name,
    key: PrivateKey | None = None,
    ca: bool = False,
    path_length: int | None = None,
    usage: dict[str, bool] | None = None,
    serial: int | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    key = key or new_key()
    now = utcnow()
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(
        usage or ({"key_cert_sign": True, "crl_sign": True} if ca else {"digital_signature": True})
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(**flags), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return key, cert


def _crl(
    signer_key: PrivateKey,
    issuer_name: x509.Name,
    serials: list[int],
    *,
    next_update_in: timedelta = timedelta(days=7),
    issued_ago: timedelta = timedelta(days=1),
) -> x509.CertificateRevocationList:
    now = utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name)
        .last_update(now - issued_ago)
        .next_update(now + next_update_in)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(hours=1))
            .build()
        )
    return builder.sign(signer_key, hashes.SHA256())


def _code(
    chain: list[x509.Certificate],
    anchors: list[x509.Certificate],
    revocation: Revocation = Revocation(),
) -> str:
    with pytest.raises(CertificateProblem) as caught:
        check_chain(chain, anchors=anchors, revocation=revocation, sender_code=SENDER)
    return caught.value.code


@pytest.fixture(scope="module")
def ca() -> tuple[PrivateKey, x509.Certificate]:
    return make_ca("Root CA of the test")


def test_a_good_leaf_validates(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, leaf = issue(ca_key, ca_cert, common_name="Sở Nội vụ", agency_code=SENDER)
    assert (
        check_chain([leaf], anchors=[ca_cert], revocation=Revocation(), sender_code=SENDER) == leaf
    )


def test_crls_are_used_only_for_their_own_issuer(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, leaf = issue(ca_key, ca_cert, common_name="Sở Nội vụ", agency_code=SENDER)
    genuine = _crl(ca_key, ca_cert.subject, [leaf.serial_number])
    assert _code([leaf], [ca_cert], Revocation(crls=(genuine,))) == "certificate_revoked"
    # A CRL that names our CA but was signed by another key revokes nothing.
    forged = _crl(new_key(), ca_cert.subject, [leaf.serial_number])
    assert check_chain(
        [leaf], anchors=[ca_cert], revocation=Revocation(crls=(forged,)), sender_code=SENDER
    )
    # Another CA's valid CRL listing the same serial does not touch our leaf (not pooled).
    other_key, other = make_ca("Another CA")
    theirs = _crl(other_key, other.subject, [leaf.serial_number])
    assert check_chain(
        [leaf], anchors=[ca_cert, other], revocation=Revocation(crls=(theirs,)), sender_code=SENDER
    )


def test_an_expired_crl_leaves_the_status_unknown(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, leaf = issue(ca_key, ca_cert, common_name="Sở Nội vụ", agency_code=SENDER)
    stale = _crl(ca_key, ca_cert.subject, [], next_update_in=timedelta(hours=-2))
    assert _code([leaf], [ca_cert], Revocation(crls=(stale,))) == "crl_expired"
    # A newer CRL from the same CA replaces it.
    fresh = _crl(ca_key, ca_cert.subject, [], issued_ago=timedelta(hours=1))
    assert check_chain(
        [leaf], anchors=[ca_cert], revocation=Revocation(crls=(stale, fresh)), sender_code=SENDER
    )


def test_a_ca_certificate_cannot_sign(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, sub_ca = _cert(
        ca_key, ca_cert.subject, subject=_name("Sub CA", SENDER), ca=True, path_length=0
    )
    assert _code([sub_ca], [ca_cert]) == "certificate_not_for_signing"


def test_a_leaf_not_made_for_signing_is_refused(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, encryption_only = _cert(
        ca_key,
        ca_cert.subject,
        subject=_name("Sở Nội vụ", SENDER),
        usage={"key_encipherment": True},
    )
    assert _code([encryption_only], [ca_cert]) == "certificate_not_for_signing"


def test_a_path_longer_than_the_root_allows_is_refused() -> None:
    root_key = new_key()  # self-signed: the issuer's key is its own
    root_key, root = _cert(
        root_key, _name("Root"), subject=_name("Root"), key=root_key, ca=True, path_length=0
    )
    middle_key, middle = _cert(
        root_key, root.subject, subject=_name("Middle CA"), ca=True, path_length=0
    )
    _, leaf = _cert(middle_key, middle.subject, subject=_name("Sở Nội vụ", SENDER))
    assert _code([leaf, middle], [root]) == "untrusted_certificate"
    # With a root that allows one intermediate, the same shape validates.
    root2_key = new_key()
    root2_key, root2 = _cert(
        root2_key, _name("Root 2"), subject=_name("Root 2"), key=root2_key, ca=True, path_length=1
    )
    middle2_key, middle2 = _cert(
        root2_key, root2.subject, subject=_name("Middle 2"), ca=True, path_length=0
    )
    _, leaf2 = _cert(middle2_key, middle2.subject, subject=_name("Sở Nội vụ", SENDER))
    assert check_chain(
        [leaf2, middle2], anchors=[root2], revocation=Revocation(), sender_code=SENDER
    )


def test_a_leaf_cannot_issue(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    leaf_key, leaf = issue(ca_key, ca_cert, common_name="Phường", agency_code="000.00.84.H49")
    _, under_a_leaf = _cert(leaf_key, leaf.subject, subject=_name("Sở Nội vụ", SENDER))
    assert _code([under_a_leaf, leaf], [ca_cert]) == "untrusted_certificate"


def test_a_hand_revocation_names_its_issuer(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    _, leaf = issue(ca_key, ca_cert, common_name="Sở Nội vụ", agency_code=SENDER)
    mine = Revocation(
        revoked=frozenset({(ca_cert.fingerprint(hashes.SHA256()).hex(), leaf.serial_number)})
    )
    assert _code([leaf], [ca_cert], mine) == "certificate_revoked"
    other_key, other = make_ca("Another CA")
    theirs = Revocation(
        revoked=frozenset({(other.fingerprint(hashes.SHA256()).hex(), leaf.serial_number)})
    )
    assert check_chain([leaf], anchors=[ca_cert], revocation=theirs, sender_code=SENDER)
    del other_key  # only its certificate's fingerprint matters here


def test_the_key_store_reads_crls_from_its_folder(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path)
    ca_key, ca_cert = keys.ensure_ca("Node CA")
    identity = keys.ensure_agency(SENDER, "Sở Nội vụ")
    leaf = identity.chain[0]
    (tmp_path / "crls").mkdir()
    der = _crl(ca_key, ca_cert.subject, [leaf.serial_number]).public_bytes(Encoding.DER)
    (tmp_path / "crls" / "node-ca.crl").write_bytes(der)
    keys.reload_revocation()
    with pytest.raises(CertificateProblem) as caught:
        check_chain(
            list(identity.chain),
            anchors=keys.trust_anchors(),
            revocation=keys.revocation(),
            sender_code=SENDER,
        )
    assert caught.value.code == "certificate_revoked"
