"""The two Decree 30 signatures on a PDF: their cost on the node against pyHanko's own.

    .venv/bin/python benchmarks/clerk.py [--size-mb 2] [--rounds 20] [--big-mb 200]

Makes a PDF of about `--size-mb` (pages of text and an incompressible image), then, per
document and in this process (thread CPU time, no database or HTTP):

- sign: the composer's signing step (exchange/pdfsign.sign_document: the person's signature,
  then the agency's, both visible and time-stamped by the node's own TSA, PAdES B-T);
- intake validation: exchange/pdfcheck.validate (both signatures: integrity, chain, CRL,
  coverage, modifications, roles) against pyHanko's `validate_pdf_signature` alone on the
  same signatures with the same validation context, and the difference (what the node adds).

Target: intake validation <= 30 ms CPU per document with two signatures. `--big-mb` validates a
signed PDF of that size once and prints the growth of the peak RSS (VmHWM) during it: the
target is memory that does not grow with the PDF (the file is read through a handle).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from rich.console import Console

from lienthong.config import Settings
from lienthong.exchange import pdfcheck, pdfsign, tsa
from lienthong.kernel.pki import FileKeyStore
from lienthong.runtime import build_runtime

SENDER = "000.00.02.H49"
console = Console()


def make_pdf(size_mb: float, path: Path) -> None:
    """A PDF of about `size_mb`: text pages and noise images (they do not compress)."""
    target = int(size_mb * 1024 * 1024)
    page = canvas.Canvas(str(path))
    written, number = 0, 0
    side = 512 if target > 8 * 1024 * 1024 else 256
    while written < target:
        number += 1
        page.drawString(72, 760, f"Trang {number}: văn bản thử nghiệm")
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        page.drawImage(ImageReader(noise), 72, 300, width=400, height=400)
        page.showPage()
        written += side * side * 3
    page.save()


def thread_cpu(action: Callable[[], object], rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        start = time.thread_time()
        action()
        spent.append(time.thread_time() - start)
    return spent


def vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    return 0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--big-mb", type=float, default=0)
    args = parser.parse_args()

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = Settings(
            database_url=f"sqlite:///{root}/unused.db",
            blob_dir=root / "blobs",
            key_dir=root / "keys",
            log_json=False,
        )
        runtime = build_runtime(settings)
        keys = runtime.keys
        assert isinstance(keys, FileKeyStore)
        agency = keys.ensure_agency(SENDER, "Sở Nội vụ")
        person = pdfsign.FilePersonKeys(keys).person_identity(
            pdfsign.Person("Nguyễn Văn Minh", "Giám đốc", SENDER)
        )
        signature_image = pdfsign.default_signature_image("Nguyễn Văn Minh")
        seal = pdfsign.default_seal_image("Sở Nội vụ")
        stamper = tsa.stamper(runtime)
        source = root / "plain.pdf"
        make_pdf(args.size_mb, source)
        plain = source.read_bytes()
        console.print(f"PDF: {len(plain) / 2**20:.1f} MB")

        def sign() -> bytes:
            return pdfsign.sign_document(
                plain,
                person=person,
                agency=agency,
                signature_image=signature_image,
                seal_image=seal,
                timestamper=stamper,
            )

        signed = sign()
        verdict = pdfcheck.validate(io.BytesIO(signed), keys=keys, sender_code=SENDER, main=True)
        assert verdict.state == "green", verdict
        assert all(s["timestamp"] for s in verdict.signatures)
        context = pdfcheck.trust_context(keys)

        def ours() -> None:
            pdfcheck.validate(io.BytesIO(signed), keys=keys, sender_code=SENDER, main=True)

        def theirs() -> None:
            for embedded in PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures:
                validate_pdf_signature(embedded, signer_validation_context=context)

        rounds = max(3, args.rounds // 4)
        signing = thread_cpu(sign, rounds)
        node = thread_cpu(ours, args.rounds)
        library = thread_cpu(theirs, args.rounds)
        ms = 1000.0
        console.print(
            f"sign (2 signatures + 2 time-stamps): median {statistics.median(signing) * ms:.1f} ms CPU"
        )
        console.print(
            f"intake validation: median {statistics.median(node) * ms:.1f} ms CPU per document; "
            f"pyHanko alone {statistics.median(library) * ms:.1f} ms; "
            f"node adds {(statistics.median(node) - statistics.median(library)) * ms:.1f} ms"
        )
        if args.big_mb:
            big = root / "big.pdf"
            make_pdf(args.big_mb, big)
            with big.open("rb") as handle:
                big_signed = pdfsign.sign_attachment(
                    handle.read(), agency=agency, first_line="01/SNV"
                )
            (root / "big-signed.pdf").write_bytes(big_signed)
            size = len(big_signed)
            del big_signed
            before = vm("VmRSS")
            exact = reset_peak()
            start = time.thread_time()
            with (root / "big-signed.pdf").open("rb") as handle:
                verdict = pdfcheck.validate(handle, keys=keys, sender_code=SENDER, main=False)
            spent = time.thread_time() - start
            growth = vm("VmHWM") - before
            console.print(
                f"validate {size / 2**20:.0f} MB: {verdict.state}, {spent * ms:.0f} ms CPU, "
                f"peak RSS growth {growth} MB{'' if exact else ' (peak not reset: upper bound)'}"
            )


if __name__ == "__main__":
    main()
