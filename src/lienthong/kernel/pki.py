"""Keys and X.509 certificates: the node's CA, agency certificates, and chain checks.

Keys are loaded once and cached by the key store: a PEM is never parsed per package.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from lienthong.kernel.certpath import (
    NODE_URN,
    Revocation,
)
from lienthong.kernel.clock import utcnow

PrivateKey = rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]  # leaf first


class KeyStore(Protocol):
    def identity(self, agency_code: str) -> SigningIdentity | None: ...
    def node_identity(self) -> SigningIdentity: ...
    def transport_identity(self) -> SigningIdentity | None: ...
    def trust_anchors(self) -> Sequence[x509.Certificate]: ...
    def revocation(self) -> Revocation: ...
    def secret_box(self) -> Fernet: ...


def new_key() -> PrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _fit(text: str, limit: int = 64) -> str:
    """X.520 caps a common name at 64 bytes of UTF-8; long agency names are cut."""
    while len(text.encode()) > limit:
        text = text[:-1]
    return text


def _name(common_name: str, agency_code: str | None = None) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name)),
    ]
    if agency_code:
        parts.append(x509.NameAttribute(NameOID.USER_ID, agency_code))
    return x509.Name(parts)


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_ca(common_name: str, *, days: int = 3650) -> tuple[PrivateKey, x509.Certificate]:
    key = new_key()
    now = utcnow()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    *,
    common_name: str,
    agency_code: str | None,
    days: int = 730,
    not_before: datetime | None = None,
    key: PrivateKey | None = None,
    subject: x509.Name | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A signing certificate whose subject carries the agency's code (UID), or is `subject`
    when given (a person's certificate: name, title and agency)."""
    key = key or new_key()
    start = not_before or utcnow() - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject or _name(common_name, agency_code))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def issue_intermediate(
    root_key: PrivateKey,
    root_cert: x509.Certificate,
    *,
    key: PrivateKey,
    subject: x509.Name,
    node_code: str,
    days: int = 3650,
) -> x509.Certificate:
    """A CA certificate for an existing key and name, under the federation's root: the node's
    agency certificates, issued by that key, then chain to the root at every node."""
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(NODE_URN + node_code)]),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


def verify_rsa(
    cert: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        public.verify(signature, data, padding.PKCS1v15(), algorithm)
        return True
    except Exception:
        return False


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class FileKeyStore:
    """Keys and certificates under a folder (the demo's and a small node's; production may put
    them in an HSM behind the same protocol):

        ca.pem, ca.key            the node's CA (the demo's trust anchor)
        anchors/*.pem             more trust anchors, e.g. the government CA chain
        revoked.txt               revoked serial numbers in hex, one a line (from the CRLs)
        agencies/<code>.key|.pem  keys held for remote signing, chain in the .pem, leaf first
        node.key, node.pem        the node's federation identity (`lienthong node init`):
                                  signs node-to-node requests and the node's own statuses
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._identities: dict[str, SigningIdentity | None] = {}
        self._anchors: list[x509.Certificate] | None = None
        self._revocation: Revocation | None = None
        self._node: SigningIdentity | None = None
        self._box: Fernet | None = None

    def ensure_ca(
        self, common_name: str = "lienthong node CA"
    ) -> tuple[PrivateKey, x509.Certificate]:
        key_path, cert_path = self.root / "ca.key", self.root / "ca.pem"
        if not key_path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            key, cert = make_ca(common_name)
            key_path.write_bytes(_key_pem(key))
            key_path.chmod(0o600)
            cert_path.write_bytes(pem(cert))
            self._anchors = None
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return loaded, x509.load_pem_x509_certificate(cert_path.read_bytes())

    def ensure_agency(self, agency_code: str, common_name: str) -> SigningIdentity:
        identity = self.identity(agency_code)
        if identity is not None:
            return identity
        ca_key, ca_cert = self.ensure_ca()
        key, cert = issue(ca_key, ca_cert, common_name=common_name, agency_code=agency_code)
        self.store_identity(agency_code, key, [cert, ca_cert])
        identity = self.identity(agency_code)
        assert identity is not None
        return identity

    def store_identity(
        self, agency_code: str, key: PrivateKey, chain: Sequence[x509.Certificate]
    ) -> None:
        folder = self.root / "agencies"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{agency_code}.key").write_bytes(_key_pem(key))
        (folder / f"{agency_code}.key").chmod(0o600)
        (folder / f"{agency_code}.pem").write_bytes(b"".join(pem(c) for c in chain))
        with self._lock:
            self._identities.pop(agency_code, None)

    def identity(self, agency_code: str) -> SigningIdentity | None:
        with self._lock:
            if agency_code in self._identities:
                return self._identities[agency_code]
        key_path = self.root / "agencies" / f"{agency_code}.key"
        identity = None
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            chain = x509.load_pem_x509_certificates(key_path.with_suffix(".pem").read_bytes())
            identity = SigningIdentity(key, tuple(chain))
        with self._lock:
            self._identities[agency_code] = identity
        return identity

    def node_identity(self) -> SigningIdentity:
        # Loaded once: parsing the PEM per delivery cost ~40 ms of ~56 ms a job (benchmark).
        if self._node is None:
            key, cert = self.ensure_ca()
            self._node = SigningIdentity(key, (cert,))
        return self._node

    def transport_identity(self) -> SigningIdentity | None:
        """The node's certificate under the federation's root, once `node init` has made it."""
        with self._lock:
            if "\0node" in self._identities:
                return self._identities["\0node"]
        identity = None
        if (self.root / "node.key").exists():
            key = serialization.load_pem_private_key(
                (self.root / "node.key").read_bytes(), password=None
            )
            assert isinstance(key, rsa.RSAPrivateKey)
            chain = x509.load_pem_x509_certificates((self.root / "node.pem").read_bytes())
            identity = SigningIdentity(key, tuple(chain))
        with self._lock:
            self._identities["\0node"] = identity
        return identity

    def join_federation(
        self, *, node_code: str, root_key: PrivateKey, root_cert: x509.Certificate
    ) -> SigningIdentity:
        """Make this node a member of the federation whose root is given: a node certificate
        (UID = node code), the root as a trust anchor, and the node's agency CA re-certified
        under the root (same key and name, so certificates it already issued stay valid and
        now chain to the root everywhere). Running it again changes nothing."""
        current = self.transport_identity()
        if current is not None and current.chain[-1] == root_cert:
            return current
        ca_key, ca_cert = self.ensure_ca()
        intermediate = issue_intermediate(
            root_key, root_cert, key=ca_key, subject=ca_cert.subject, node_code=node_code
        )
        (self.root / "anchors").mkdir(parents=True, exist_ok=True)
        (self.root / "anchors" / "federation.pem").write_bytes(pem(root_cert))
        (self.root / "ca.pem").write_bytes(pem(intermediate))
        for chain_path in sorted((self.root / "agencies").glob("*.pem")):
            leaf = x509.load_pem_x509_certificates(chain_path.read_bytes())[0]
            chain_path.write_bytes(pem(leaf) + pem(intermediate))
        key, cert = issue(
            root_key, root_cert, common_name=f"lienthong node {node_code}", agency_code=node_code
        )
        (self.root / "node.key").write_bytes(_key_pem(key))
        (self.root / "node.key").chmod(0o600)
        (self.root / "node.pem").write_bytes(pem(cert) + pem(root_cert))
        with self._lock:
            self._identities.clear()
        self._anchors = None
        self._node = None
        identity = self.transport_identity()
        assert identity is not None
        return identity

    def trust_anchors(self) -> Sequence[x509.Certificate]:
        if self._anchors is None:
            anchors = []
            if (self.root / "ca.pem").exists():
                anchors.append(x509.load_pem_x509_certificate((self.root / "ca.pem").read_bytes()))
            for path in (
                sorted((self.root / "anchors").glob("*.pem"))
                if (self.root / "anchors").exists()
                else []
            ):
                anchors.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            self._anchors = anchors
        return self._anchors

    def revocation(self) -> Revocation:
        """The CRLs in crls/ (PEM or DER, as CAs publish them) and revoked.txt (one revoked
        certificate a line: its serial in hex and its issuer's sha-256 fingerprint; a bare
        serial, the older form, applies whatever the issuer). Loaded once."""
        if self._revocation is None:
            revoked: set[tuple[str | None, int]] = set()
            path = self.root / "revoked.txt"
            if path.exists():
                for line in path.read_text().splitlines():
                    parts = line.split()
                    if parts:
                        revoked.add((parts[1] if len(parts) > 1 else None, int(parts[0], 16)))
            crls = []
            folder = self.root / "crls"
            for crl_path in sorted(folder.glob("*")) if folder.exists() else []:
                data = crl_path.read_bytes()
                crls.append(
                    x509.load_pem_x509_crl(data)
                    if data.lstrip().startswith(b"-----")
                    else x509.load_der_x509_crl(data)
                )
            self._revocation = Revocation(tuple(crls), frozenset(revoked))
        return self._revocation

    def reload_revocation(self) -> None:
        """Read crls/ and revoked.txt again (after the operator changed them)."""
        self._revocation = None

    def secret_box(self) -> Fernet:
        """Seals shared secrets the node must read back (the national axis' HMAC scheme needs the
        secret itself, not a hash of it)."""
        if self._box is None:
            path = self.root / "secrets.key"
            if not path.exists():
                self.root.mkdir(parents=True, exist_ok=True)
                path.write_bytes(Fernet.generate_key())
                path.chmod(0o600)
            self._box = Fernet(path.read_bytes())
        return self._box

    def revoke(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """Revoke one certificate by hand (say which issuer's: serials are unique per CA)."""
        path = self.root / "revoked.txt"
        with path.open("a") as handle:
            handle.write(f"{cert.serial_number:x} {issuer.fingerprint(hashes.SHA256()).hex()}\n")
        self._revocation = None


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
