"""What the applicant is told, by e-mail and SMS, as the dossier moves: received (with the
appointment), papers asked for (what, why, by when), fee asked for, result ready. Queued in the
transaction of the change through `kernel/notify.py` (its `Notifier` Protocol: SMTP, the SMS
gateway), so a slow mail server never holds up the officer and nothing is lost."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel import notify
from lienthong.kernel.clock import format_datetime
from lienthong.onestop.models import Dossier

TOPIC = "onestop.dossier"
SUBJECTS = {
    "received": "Hồ sơ {code} đã được tiếp nhận",
    "supplement": "Hồ sơ {code}: cần bổ sung giấy tờ",
    "fee": "Hồ sơ {code}: đề nghị nộp phí, lệ phí",
    "result": "Hồ sơ {code} đã có kết quả",
}


def _body(what: str, dossier: Dossier, link: str, detail: str) -> str:
    lines = {
        "received": f"Hồ sơ {dossier.code} đã được tiếp nhận. Hẹn trả kết quả: "
        f"{format_datetime(dossier.due_at) or '—'}.",
        "supplement": f"Hồ sơ {dossier.code} cần bổ sung: {detail}. Nộp bổ sung trực tuyến tại "
        "trang hồ sơ của anh/chị.",
        "fee": f"Hồ sơ {dossier.code}: đề nghị nộp phí, lệ phí {dossier.fee_vnd:,} đ.".replace(
            ",", "."
        ),
        "result": f"Hồ sơ {dossier.code} đã có kết quả giải quyết.",
    }
    return f"{lines[what]} Tra cứu: {link}"


def tell(
    session: Session, settings: Settings, dossier: Dossier, what: str, detail: str = ""
) -> list[notify.Notification]:
    """Queues the e-mail and the SMS about `what` to the applicant's address and phone."""
    link = f"{settings.public_url}/tra-cuu?ma={dossier.code}"
    body = _body(what, dossier, link, detail)
    subject = SUBJECTS[what].format(code=dossier.code)
    out = []
    for channel, recipient in (
        (notify.EMAIL, dossier.applicant_email),
        (notify.SMS, dossier.applicant_phone),
    ):
        if recipient and recipient.strip():
            out.append(
                notify.queue(
                    session,
                    channel=channel,
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    topic=TOPIC,
                    ref=dossier.code,
                    data={"event": what},
                )
            )
    return out
