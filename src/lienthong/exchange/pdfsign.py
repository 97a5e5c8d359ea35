"""The two signatures of Decree 30/2020 on a document's PDF, and their validation on receipt.

Signing (art. 5, Phụ lục I II.7.d and II.8): a PAdES signature by the competent person, its
visible image their handwritten signature in blue, then the agency's signature, its image the
red seal at real size overlapping the left third of the person's image; an attachment in a file
of its own gets only the agency's signature, at the top right of page 1, as text (number and
notation, signing time in ISO 8601 Vietnam time, Times New Roman 10 pt). Keys come from the
node's key store (`KeyStore` for the agency's, `PersonKeyStore` for the person's): an HSM or a
USB-token service can stand behind either.

Their validation on receipt is exchange/pdfcheck.py.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw, ImageFont

from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Invalid
from lienthong.kernel.offloop import off_event_loop
from lienthong.kernel.pki import FileKeyStore, SigningIdentity, issue, new_key

if TYPE_CHECKING:
    from lienthong.runtime import Runtime


PERSON, AGENCY = "person", "agency"
_FONT_PATHS = (
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",  # Times New Roman metrics
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)
MM = 72 / 25.4
SEAL_DIAMETER = 36 * MM  # a round seal of 36 mm, printed at real size


# --- keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """The competent person who signs: name, title (chức vụ) and the agency they sign for."""

    full_name: str
    title: str
    agency_code: str
    competence: str = ""  # TM., KT., TL., Q., TUQ. (Phụ lục I II.7.b)


class PersonKeyStore(Protocol):
    def person_identity(self, person: Person) -> SigningIdentity: ...


class FilePersonKeys:
    """A key and a certificate per person under the node's key folder (persons/<agency>/…),
    issued by the node's CA: subject CN = the name, title = the title, UID = the agency code."""

    def __init__(self, keys: FileKeyStore) -> None:
        self.keys = keys
        self._cache: dict[Person, SigningIdentity] = {}

    def person_identity(self, person: Person) -> SigningIdentity:
        if person in self._cache:
            return self._cache[person]
        slug = _slug(person)
        folder = self.keys.root / "persons" / person.agency_code
        key_path, cert_path = folder / f"{slug}.key", folder / f"{slug}.pem"
        if not key_path.exists():
            ca_key, ca_cert = self.keys.ensure_ca()
            key = new_key()
            cert = person_certificate(ca_key, ca_cert, key=key, person=person)
            folder.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
            cert_path.write_bytes(
                cert.public_bytes(serialization.Encoding.PEM)
                + ca_cert.public_bytes(serialization.Encoding.PEM)
            )
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        identity = SigningIdentity(
            loaded,  # type: ignore[arg-type]
            tuple(x509.load_pem_x509_certificates(cert_path.read_bytes())),
        )
        self._cache[person] = identity
        return identity


def person_certificate(
    ca_key: Any,
    ca_cert: x509.Certificate,
    *,
    key: Any,
    person: Person,
    not_before: datetime | None = None,
    days: int = 730,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.COMMON_NAME, person.full_name[:64]),
            x509.NameAttribute(NameOID.TITLE, person.title[:64] or "-"),
            x509.NameAttribute(NameOID.USER_ID, person.agency_code),
        ]
    )
    _, cert = issue(
        ca_key,
        ca_cert,
        common_name=person.full_name,
        agency_code=person.agency_code,
        days=days,
        not_before=not_before,
        key=key,
        subject=subject,
    )
    return cert


_PERSON_KEYS: dict[Path, FilePersonKeys] = {}


def person_keys(runtime: Runtime) -> PersonKeyStore:
    """The persons' keys beside the agencies' (another key store brings its own)."""
    keys = runtime.keys
    if not isinstance(keys, FileKeyStore):
        raise Invalid(
            "Nút chưa có kho khóa của người ký.",
            "The node has no key store for signing persons.",
            code="person_keys_unavailable",
        )
    return _PERSON_KEYS.setdefault(keys.root, FilePersonKeys(keys))


# --- images ---------------------------------------------------------------------------------


_IMAGE_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", *_FONT_PATHS)


def _font(
    size: int, paths: Sequence[str] = _FONT_PATHS
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in paths:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def check_image(data: bytes, *, what: str) -> Image.Image:
    """An uploaded signature or seal image: a PNG with a transparent background."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:
        raise Invalid(
            f"Ảnh {what} không đọc được.", f"The {what} image cannot be read.", code="image_invalid"
        ) from exc
    if image.format != "PNG":
        raise Invalid(
            f"Ảnh {what} phải là PNG.", f"The {what} image must be a PNG.", code="image_not_png"
        )
    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    low, _ = alpha.getextrema()
    if ("A" not in image.getbands() and "transparency" not in image.info) or low == 255:
        raise Invalid(
            f"Ảnh {what} phải có nền trong suốt.",
            f"The {what} image must have a transparent background.",
            code="image_not_transparent",
        )
    return rgba


def default_signature_image(name: str) -> Image.Image:
    """A blue handwritten-looking signature when the person uploaded none."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.text((20, 40), name, fill=(20, 40, 200, 255), font=_font(56, _IMAGE_FONTS))
    draw.line([(20, 150), (560, 130)], fill=(20, 40, 200, 255), width=6)
    return image


def default_seal_image(agency_name: str) -> Image.Image:
    """A red round seal when the agency uploaded none."""
    size = 600
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (220, 20, 30, 255)
    draw.ellipse([8, 8, size - 8, size - 8], outline=red, width=22)
    draw.ellipse([70, 70, size - 70, size - 70], outline=red, width=8)
    font = _font(40, _IMAGE_FONTS)
    for row, text in enumerate(_wrap(agency_name.upper(), 16)[:3]):
        width = draw.textlength(text, font=font)
        draw.text(((size - width) / 2, 220 + row * 56), text, fill=red, font=font)
    draw.regular_polygon((size / 2, 140, 40), 5, fill=red)
    return image


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _image_path(runtime: Runtime, agency_code: str, person: Person | None) -> Path:
    keys = runtime.keys
    root = keys.root if isinstance(keys, FileKeyStore) else Path(runtime.settings.blob_dir)
    name = "seal" if person is None else _slug(person)
    return root / "images" / agency_code / f"{name}.png"


def _slug(person: Person) -> str:
    return hashlib.sha256(f"{person.full_name}\0{person.title}".encode()).hexdigest()[:24]


def save_image(
    runtime: Runtime, data: bytes, *, agency_code: str, person: Person | None = None
) -> Path:
    """Keep an uploaded seal (person None) or signature image after checking it."""
    check_image(data, what="con dấu" if person is None else "chữ ký")
    path = _image_path(runtime, agency_code, person)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def seal_image(runtime: Runtime, *, agency_code: str, agency_name: str) -> Image.Image:
    path = _image_path(runtime, agency_code, None)
    if path.exists():
        return check_image(path.read_bytes(), what="con dấu")
    return default_seal_image(agency_name)


def signature_image(runtime: Runtime, person: Person) -> Image.Image:
    path = _image_path(runtime, person.agency_code, person)
    if path.exists():
        return check_image(path.read_bytes(), what="chữ ký")
    return default_signature_image(person.full_name)


# --- signing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where the person's signature goes: a page (−1 = the last) and a box in points, between
    the title line and the name (Phụ lục I, ô số 7b–7c)."""

    page: int = -1
    box: tuple[int, int, int, int] = (340, 150, 520, 210)

    def seal_box(self) -> tuple[int, int, int, int]:
        """The seal at real size, its right edge a third of the way into the person's image."""
        x0, y0, x1, y1 = self.box
        right = x0 + (x1 - x0) / 3
        middle = (y0 + y1) / 2
        return (
            int(right - SEAL_DIAMETER),
            int(middle - SEAL_DIAMETER / 2),
            int(right),
            int(middle + SEAL_DIAMETER / 2),
        )


def _signer(identity: SigningIdentity) -> Any:
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    certs = [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
        for c in identity.chain
    ]
    key = asn1_keys.PrivateKeyInfo.load(
        identity.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
    )


def _image_style(image: Image.Image) -> Any:
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
    from pyhanko.stamp import TextStampStyle

    return TextStampStyle(
        stamp_text="",
        border_width=0,
        background=PdfImage(image),
        background_opacity=1.0,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(0, 0, 0, 0),
        ),
    )


def _page_count(data: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Count"])


@off_event_loop
def _one_signature(
    data: bytes,
    identity: SigningIdentity,
    *,
    field_name: str,
    page: int,
    box: tuple[int, int, int, int],
    style: Any,
    reason: str,
    timestamper: Any = None,
) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name=field_name,
            reason=reason,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
        ),
        _signer(identity),
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(field_name, on_page=page, box=box),
    ).sign_pdf(writer, output=out)
    return out.getvalue()


def _readable(data: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not data.startswith(b"%PDF-"):
        raise Invalid("Tệp không phải PDF.", "The file is not a PDF.", code="pdf_unreadable")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        _ = reader.root["/Pages"]
    except Exception as exc:
        raise Invalid(
            "Không đọc được tệp PDF.", "The PDF cannot be read.", code="pdf_unreadable"
        ) from exc
    if reader.encrypted:
        raise Invalid(
            "Tệp PDF được mã hóa: không ký được.",
            "The PDF is encrypted: it cannot be signed.",
            code="pdf_encrypted",
        )


def sign_document(
    data: bytes,
    *,
    person: SigningIdentity,
    agency: SigningIdentity,
    signature_image: Image.Image,
    seal_image: Image.Image,
    place: Place | None = None,
    timestamper: Any = None,
) -> bytes:
    """The main document: the person's signature, then the agency's over it."""
    _readable(data)
    place = place or Place()
    page = place.page if place.page >= 0 else _page_count(data) + place.page
    signed = _one_signature(
        data,
        person,
        field_name="NguoiKy",
        page=page,
        box=place.box,
        style=_image_style(signature_image),
        reason="Ký số của người có thẩm quyền",
        timestamper=timestamper,
    )
    return _one_signature(
        signed,
        agency,
        field_name="CoQuan",
        page=page,
        box=place.seal_box(),
        style=_image_style(seal_image),
        reason="Ký số của cơ quan, tổ chức",
        timestamper=timestamper,
    )


def text_image(text: str, *, width: int, height: int, scale: int = 4) -> Image.Image:
    """The visible text of a signature without an image: Times New Roman (Liberation Serif, its
    metrics) 10 pt, regular, black, drawn at `scale` times the resolution of 72 dpi."""
    image = Image.new("RGBA", (width * scale, height * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = _font(10 * scale)
    for row, line in enumerate(text.splitlines()):
        draw.text((0, row * 12 * scale), line, fill=(0, 0, 0, 255), font=font)
    return image


def _top_right(data: bytes, width: int = 170, height: int = 28) -> tuple[int, int, int, int]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    page = PdfFileReader(io.BytesIO(data), strict=False).root["/Pages"]["/Kids"][0]
    media = [float(v) for v in page.get("/MediaBox", [0, 0, 595, 842])]
    right, top = int(media[2]) - 28, int(media[3]) - 20
    return (right - width, top - height, right, top)


def iso_local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).isoformat(timespec="seconds")


def sign_attachment(
    data: bytes,
    *,
    agency: SigningIdentity,
    first_line: str,
    moment: datetime | None = None,
    timestamper: Any = None,
    field_name: str = "CoQuan",
) -> bytes:
    """An attachment in a file of its own, or an electronic copy: the agency's signature at the
    top right of page 1, no image, the text of `first_line` (number and notation, or the copy
    form and the copying agency) and the signing time."""
    _readable(data)
    text = f"{first_line}\n{iso_local(moment or utcnow())}"
    font = _font(10)
    width = max(int(font.getlength(line)) for line in text.splitlines()) + 6
    box = _top_right(data, width=min(max(width, 120), 400), height=28)
    return _one_signature(
        data,
        agency,
        field_name=field_name,
        page=0,
        box=box,
        style=_image_style(text_image(text, width=box[2] - box[0], height=box[3] - box[1])),
        reason="Ký số của cơ quan, tổ chức",
        timestamper=timestamper,
    )
