"""Status codes of QCVN 102 (§9.2 of the reference) and who may send which, after which."""

from __future__ import annotations

from dataclasses import dataclass

ARRIVED, REJECTED, ACCEPTED, ASSIGNED, PROCESSING, FINISHED = "01", "02", "03", "04", "05", "06"
RECALL_REQUESTED, REQUEST_AGREED, REQUEST_REFUSED = "13", "15", "16"


@dataclass(frozen=True)
class StatusCode:
    code: str
    vi: str
    en: str
    by: str  # node, recipient, sender


STATUS_CODES = {
    s.code: s
    for s in (
        StatusCode(ARRIVED, "Đã đến", "Arrived", "node"),
        StatusCode(REJECTED, "Từ chối tiếp nhận", "Rejected", "recipient"),
        StatusCode(ACCEPTED, "Đã tiếp nhận", "Accepted", "recipient"),
        StatusCode(ASSIGNED, "Phân công xử lý", "Assigned", "recipient"),
        StatusCode(PROCESSING, "Đang xử lý", "Processing", "recipient"),
        StatusCode(FINISHED, "Hoàn thành", "Finished", "recipient"),
        StatusCode(RECALL_REQUESTED, "Yêu cầu lấy lại", "Recall requested", "sender"),
        StatusCode(REQUEST_AGREED, "Đồng ý cập nhật/lấy lại", "Recall/update agreed", "recipient"),
        StatusCode(
            REQUEST_REFUSED, "Từ chối cập nhật/lấy lại", "Recall/update refused", "recipient"
        ),
    )
}

# What a recipient may send after each processing status.
RECIPIENT_NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset(),
    ARRIVED: frozenset({REJECTED, ACCEPTED}),
    ACCEPTED: frozenset({ASSIGNED, PROCESSING, FINISHED}),
    ASSIGNED: frozenset({PROCESSING, FINISHED}),
    PROCESSING: frozenset({PROCESSING, FINISHED}),
    FINISHED: frozenset(),
    REJECTED: frozenset(),
}


def label(code: str | None, lang: str = "vi") -> str:
    status = STATUS_CODES.get(code or "")
    if status is None:
        return "Đang chuyển" if lang != "en" else "In transit"
    return status.en if lang == "en" else status.vi
