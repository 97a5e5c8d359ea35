"""Fees: a PaymentGateway protocol and a local gateway that really works offline.

The local gateway stands in for the national Payment Platform (whose specification is not
public, reference §8): it has a page where the payer confirms or cancels, and it reports the
result with a callback signed HMAC-SHA256 over the exact body, which the node verifies before
believing anything. Callbacks are idempotent: the same result twice changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from vietnam_qr_pay import QRPay  # type: ignore[import-untyped]  # ships no py.typed

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Conflict, Invalid, NotFound
from lienthong.onestop import kpis
from lienthong.onestop.models import Dossier, Payment

SIGNATURE_HEADER = "X-Lienthong-Signature"
STATES = ("pending", "paid", "failed")


class BadCallbackSignature(AppError):
    status_code = 401
    code = "bad_signature"


@dataclass(frozen=True)
class Callback:
    reference: str
    state: str
    amount: int
    transaction_id: str | None


class PaymentGateway(Protocol):
    name: str

    def checkout_url(self, payment: Payment) -> str: ...
    def sign(self, body: bytes) -> str: ...
    def parse_callback(self, body: bytes, signature: str | None) -> Callback: ...


def verify(gateway: PaymentGateway, body: bytes, signature: str | None) -> None:
    """Refuses a callback whose HMAC is not the gateway's own."""
    if not signature or not hmac.compare_digest(gateway.sign(body), signature.strip().lower()):
        raise BadCallbackSignature(
            "Chữ ký của thông báo thanh toán không hợp lệ.",
            "The payment callback's signature is not valid.",
        )


class LocalGateway:
    """Signs and verifies callbacks with a key kept beside the node's other keys."""

    name = "local"

    def __init__(self, key_dir: Path) -> None:
        path = key_dir / "payment-gateway.key"
        if not path.exists():
            key_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        self._key = path.read_bytes()

    def checkout_url(self, payment: Payment) -> str:
        return f"/thanh-toan/local/{payment.reference}"

    def sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def parse_callback(self, body: bytes, signature: str | None) -> Callback:
        verify(self, body, signature)
        try:
            data = json.loads(body)
            callback = Callback(
                str(data["reference"]),
                str(data["state"]),
                int(data["amount"]),
                data.get("transaction_id"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(
                "Thông báo thanh toán sai định dạng.",
                "Malformed payment callback.",
                code="malformed_callback",
            ) from exc
        if callback.state not in STATES:
            raise Invalid(
                f"Trạng thái '{callback.state}' không hợp lệ.",
                f"Unknown state '{callback.state}'.",
                code="malformed_callback",
            )
        return callback

    def callback_body(self, payment: Payment, state: str) -> bytes:
        """What the gateway sends when the payer confirms or cancels."""
        return json.dumps(
            {
                "reference": payment.reference,
                "state": state,
                "amount": payment.amount,
                "transaction_id": f"LOCAL-{secrets.token_hex(6).upper()}",
            }
        ).encode()


def start_payment(session: Session, *, dossier: Dossier, gateway: PaymentGateway) -> Payment:
    if not dossier.fee_vnd:
        raise Conflict("Thủ tục này không thu phí.", "This procedure has no fee.", code="no_fee")
    if dossier.payment_state == "paid":
        raise Conflict("Hồ sơ đã nộp phí.", "The fee is already paid.", code="already_paid")
    pending = session.scalars(
        select(Payment).where(Payment.dossier_id == dossier.id, Payment.state == "pending")
    ).first()
    if pending is not None:
        return pending
    now = utcnow()
    payment = Payment(
        dossier_id=dossier.id,
        reference=f"LT{now:%y%m%d}{secrets.token_hex(6).upper()}",
        gateway=gateway.name,
        amount=dossier.fee_vnd,
        state="pending",
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    dossier.payment_state = "pending"
    session.flush()
    return payment


def apply_callback(session: Session, *, callback: Callback) -> tuple[Payment, bool]:
    """(payment, changed). A repeat of the final state is accepted and changes nothing."""
    payment = session.scalars(
        select(Payment).where(Payment.reference == callback.reference)
    ).first()
    if payment is None:
        raise NotFound(
            f"Không có giao dịch {callback.reference}.",
            f"No payment {callback.reference}.",
            code="unknown_payment",
        )
    if callback.amount != payment.amount:
        raise Invalid(
            "Số tiền không khớp với giao dịch.",
            "The amount does not match the payment.",
            code="amount_mismatch",
            details={"expected": payment.amount, "got": callback.amount},
        )
    if payment.state == callback.state:
        return payment, False
    if payment.state != "pending":
        raise Conflict(
            f"Giao dịch đã kết thúc ({payment.state}).",
            f"The payment is already {payment.state}.",
            code="payment_final",
        )
    dossier = session.get_one(Dossier, payment.dossier_id)
    now = utcnow()
    payment.state = callback.state
    payment.transaction_id = callback.transaction_id
    payment.updated_at = now
    if callback.state == "paid":
        payment.receipt_number = f"BL-{now:%y%m%d}-{payment.id:06d}"
        dossier.payment_state = "paid"
        dossier.paid_online = True
        for measure in ("paid", "paid_online"):
            kpis.bump(session, agency_id=dossier.agency_id, at=now, measure=measure)
    elif callback.state == "failed":
        dossier.payment_state = "failed"
    session.flush()
    return payment, True


REFERENCE_IN_TEXT = re.compile(r"LT\d{6}[0-9A-F]{12}")


def vietqr_payload(payment: Payment, *, bank_bin: str, account: str) -> str:
    """The NAPAS EMVCo (VietQR) string a banking app scans: the fee's amount, and the payment's
    reference as the transfer's content, which the bank's notification carries back."""
    qr = QRPay.init_viet_qr(
        bank_bin=bank_bin,
        bank_number=account,
        amount=str(payment.amount),
        purpose=payment.reference,
    )
    return str(qr.build())


def transfer_callback(body: bytes) -> Callback:
    """A bank transfer notification {"content", "amount", "transaction_id"}: the payment is the
    one whose reference the transfer's content holds (banks may add words around it)."""
    try:
        data = json.loads(body)
        content = str(data["content"]).upper()
        amount = int(data["amount"])
        transaction_id = str(data["transaction_id"])[:64]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(
            "Thông báo chuyển khoản sai định dạng.",
            "Malformed transfer notification.",
            code="malformed_callback",
        ) from exc
    found = REFERENCE_IN_TEXT.search(content.replace(" ", ""))
    if found is None:
        raise NotFound(
            "Nội dung chuyển khoản không có mã giao dịch của hồ sơ.",
            "The transfer's content holds no payment reference.",
            code="unknown_payment",
        )
    return Callback(found.group(0), "paid", amount, transaction_id)
