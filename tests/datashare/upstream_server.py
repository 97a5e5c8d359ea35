"""An owner agency's own REST service, run as a separate process by the tests: a few
records, and paths that misbehave on purpose (slow, 5xx, too large, malformed JSON).

    python -m tests.datashare.upstream_server PORT
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RECORDS = {
    "5700100256": {
        "ma_so_thue": "5700100256",
        "ten": "Công ty Than Hòn Gai",
        "nguoi_dai_dien": "Trần Văn B",
        "trang_thai": "Đang hoạt động",
    },
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        mode, _, rest = url.path.lstrip("/").partition("/")
        if mode == "slow":
            time.sleep(2)
        elif mode == "broken":
            return self._send(500, b'{"error": "down"}')
        elif mode == "huge":
            return self._send(200, b'{"records": [' + b'{"x": "y"},' * 200_000 + b"{}]}")
        elif mode == "garbled":
            return self._send(200, b"{not json")
        path = "/" + rest
        if path.startswith("/records/"):
            record = RECORDS.get(path.removeprefix("/records/"))
            if record is None:
                return self._send(404, b"{}")
            return self._send(200, json.dumps(record).encode())
        if path == "/records":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            found = [
                r
                for r in RECORDS.values()
                if all(r.get(k) == v for k, v in query.items() if k not in ("offset", "limit"))
            ]
            return self._send(200, json.dumps({"records": found, "total": len(found)}).encode())
        return self._send(404, b"{}")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
