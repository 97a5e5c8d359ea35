"""Serving HTTP: uvicorn with its h11 protocol, except that a request the protocol itself
refuses (headers over the limit, a malformed request line) gets the node's JSON error shape
instead of uvicorn's plain text."""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from lienthong.web.guard import MAX_HEADER_BYTES


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        too_large = len(buffered) >= MAX_HEADER_BYTES
        status, code, message = (
            (431, "headers_too_large", "The request headers are too large (16 KiB at most).")
            if too_large
            else (400, "bad_http_request", "The request is not valid HTTP/1.1.")
        )
        body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
        reason = "Request Header Fields Too Large" if too_large else "Bad Request"
        # h11 has put the connection in its error state: write the answer's bytes directly.
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n".encode()
            + body
        )
        self.transport.close()
