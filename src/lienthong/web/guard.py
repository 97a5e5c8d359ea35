"""What every request passes before any handler: headers of a bounded size (431), bodies only
in identity encoding (415 otherwise), a bounded number of uploads in progress (503 with
Retry-After beyond it), and a total deadline to receive a body (408), so that stalled clients
cannot hold the node open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lienthong.kernel.errors import AppError

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The request line and headers: the protocol refuses more when they arrive in pieces
# (web/server.py), this when they arrive in one read.
MAX_HEADER_BYTES = 16 * 1024


class UploadTimeout(AppError):
    status_code = 408
    code = "upload_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"Tải lên quá {seconds:.0f} giây nên bị dừng; hãy gửi lại.",
            f"The upload took longer than {seconds:.0f} s and was stopped; send it again.",
            details={"deadline_seconds": seconds},
        )


def _lang(headers: dict[bytes, bytes]) -> str:
    return "en" if headers.get(b"accept-language", b"").lower().startswith(b"en") else "vi"


async def _refuse(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": None}}, ensure_ascii=False
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_uploads: int, upload_seconds: float) -> None:
        self.app = app
        self.max_uploads = max_uploads
        self.upload_seconds = upload_seconds
        self.uploading = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        lang = _lang(headers)
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        target = (scope.get("raw_path") or b"") + b"?" + (scope.get("query_string") or b"")
        if b"%00" in target or b"\x00" in target:
            await _refuse(
                send,
                422,
                "invalid_value",
                "Đường dẫn hoặc tham số chứa ký tự NUL."
                if lang == "vi"
                else "The path or a parameter contains a NUL character.",
            )
            return
        if size > MAX_HEADER_BYTES:
            await _refuse(
                send,
                431,
                "headers_too_large",
                "Phần tiêu đề quá lớn (tối đa 16 KiB)."
                if lang == "vi"
                else "The request headers are too large (16 KiB at most).",
            )
            return
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            await _refuse(
                send,
                415,
                "unsupported_content_encoding",
                "Nội dung phải gửi nguyên dạng (Content-Encoding: identity)."
                if lang == "vi"
                else "Send the body as is (Content-Encoding: identity); compressed bodies are refused.",
            )
            return
        length = headers.get(b"content-length", b"0")
        has_body = scope["method"] in BODY_METHODS and (
            b"chunked" in headers.get(b"transfer-encoding", b"").lower()
            or (length.isdigit() and int(length) > 0)
        )
        if not has_body:
            await self.app(scope, receive, send)
            return
        if self.uploading >= self.max_uploads:
            await _refuse(
                send,
                503,
                "too_many_uploads",
                "Nút đang nhận quá nhiều tệp cùng lúc; thử lại sau ít phút."
                if lang == "vi"
                else "The node is receiving too many uploads at once; try again shortly.",
                {"Retry-After": "30"},
            )
            return
        self.uploading += 1
        state: dict[str, Any] = {"holding": True}
        deadline = asyncio.get_running_loop().time() + self.upload_seconds

        def release() -> None:
            if state["holding"]:
                state["holding"] = False
                self.uploading -= 1

        async def guarded_receive() -> Message:
            if not state["holding"]:
                return await receive()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                release()
                raise UploadTimeout(self.upload_seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                release()  # the body is in: what follows is work, not an upload
            return message

        try:
            await self.app(scope, guarded_receive, send)
        finally:
            release()
