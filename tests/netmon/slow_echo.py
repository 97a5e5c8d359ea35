"""An ICMP echo responder that answers after a delay: run inside a test host's namespace (with
the kernel's own echo replies turned off) where the kernel has no `sch_netem` to delay packets.

    python -m tests.netmon.slow_echo 0.2
"""

from __future__ import annotations

import socket
import struct
import sys
import threading


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def main(delay: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    while True:
        packet, (source, _) = sock.recvfrom(65535)
        header_length = (packet[0] & 0x0F) * 4
        icmp = packet[header_length:]
        if len(icmp) < 8 or icmp[0] != 8:  # echo requests only
            continue
        reply = b"\0\0\0\0" + icmp[4:]
        reply = reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]
        timer = threading.Timer(delay, sock.sendto, (reply, (source, 0)))
        timer.daemon = True
        timer.start()


if __name__ == "__main__":
    main(float(sys.argv[1]))
