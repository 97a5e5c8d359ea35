"""Line charts drawn on the server as SVG: no script, nothing from a CDN, readable at 390 px."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from lienthong.kernel.clock import LOCAL_ZONE

WIDTH, HEIGHT, PAD = 360, 140, 28


def line(points: Sequence[tuple[datetime, float | None]], *, title: str) -> str:
    """A polyline of the points that have a value; gaps where they have none."""
    known = [(t, v) for t, v in points if v is not None]
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}"'
        ' xmlns="http://www.w3.org/2000/svg">'
        f'<text x="4" y="14" font-size="12">{escape(title)}</text>'
    )
    if not known:
        return (
            head
            + f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" font-size="12" text-anchor="middle">—</text></svg>'
        )
    t0, t1 = known[0][0].timestamp(), known[-1][0].timestamp()
    top = max(v for _, v in known) or 1.0
    span = (t1 - t0) or 1.0

    def xy(t: datetime, v: float) -> str:
        x = PAD + (WIDTH - 2 * PAD) * ((t.timestamp() - t0) / span if len(known) > 1 else 0.5)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v / top)
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(t, v) for t, v in known)
    first = known[0][0].astimezone(LOCAL_ZONE).strftime("%d/%m %H:%M")
    last = known[-1][0].astimezone(LOCAL_ZONE).strftime("%d/%m %H:%M")
    return (
        head
        + f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        + f'<text x="{PAD}" y="{PAD - 2}" font-size="10">{top:g}</text>'
        + f'<polyline fill="none" stroke="#0b5cad" stroke-width="2" points="{path}"/>'
        + f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{first}</text>'
        + f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">{last}</text>'
        + "</svg>"
    )
