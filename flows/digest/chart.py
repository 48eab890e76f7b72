"""The trend chart: stories per issue over the last N periods, as small multiples in one PNG.

Small multiples rather than one line per issue: fourteen overlapping lines are unreadable at email
width, while a row of tiny bar charts on a shared scale reads in a glance. Rendered with
matplotlib's Agg backend and a bare `Figure` (no pyplot, no display, no global figure state).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

INK, MUTED, ACCENT, RULE = "#1d1d1b", "#9a978f", "#8a1c1c", "#e4e1da"
MAX_PANELS = 8
COLS = 4


@dataclass(frozen=True)
class TrendSeries:
    issue_id: str
    name: str
    counts: list[int]  # one per period, oldest first; the last is this digest's window


@dataclass(frozen=True)
class Trend:
    labels: list[str]  # one per period, oldest first
    series: list[TrendSeries]  # in taxonomy order

    def shown(self) -> list[TrendSeries]:
        """The issues the chart draws: the busiest `MAX_PANELS`, kept in taxonomy order."""
        busy = [s for s in self.series if any(s.counts)]
        keep = {s.issue_id for s in sorted(busy, key=lambda s: (-s.counts[-1], -sum(s.counts)))[:MAX_PANELS]}
        return [s for s in busy if s.issue_id in keep]

    def alt_text(self) -> str:
        """What the chart says, in words, for screen readers and mail clients that block images."""
        shown = self.shown()
        if not shown:
            return "Trend chart: no stories in the last periods."
        parts = [f"{s.name} {s.counts[-1]} (before: {', '.join(str(c) for c in s.counts[:-1])})" for s in shown]
        return (
            f"Trend chart of stories per issue over the last {len(self.labels)} periods, "
            f"{self.labels[0]} to {self.labels[-1]}, latest last: " + "; ".join(parts) + "."
        )


def short_name(name: str, limit: int = 14) -> str:
    """A panel title that fits: "Technology & export controls" → "Technology"."""
    if len(name) <= limit:
        return name
    head = name.replace(",", " &").split(" & ")[0].strip()
    return head if len(head) <= limit else head[: limit - 1].rstrip() + "…"


def render_chart(trend: Trend, width_px: int = 576, scale: int = 2) -> bytes:
    """PNG bytes of the trend, `width_px` wide in CSS pixels (drawn at `scale`× for sharp screens).

    Panels are placed in pixels (not by subplot spacing) so the layout is the same for one issue
    or eight: a caption line, then rows of `COLS` bar panels on one shared scale.
    """
    import matplotlib  # imported here: ~1 s, and only a render needs it

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    shown = trend.shown()
    cols = COLS if len(shown) > 2 else 2
    rows = max(1, math.ceil(len(shown) / cols))
    pad, gap, caption, row_h, title_h, bars_h = 4, 20, 30, 100, 24, 62
    height_px = caption + rows * row_h
    dpi = 100 * scale
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=dpi, facecolor="white")
    fig.text(
        pad / width_px,
        1 - 9 / height_px,
        f"Stories per issue · {len(trend.labels)} periods, {trend.labels[0]} – {trend.labels[-1]}",
        fontsize=9.5,
        color=MUTED,
        va="top",
        ha="left",
        family="DejaVu Sans",
    )
    if not shown:
        fig.text(0.5, 0.4, "No stories in these periods", ha="center", color=MUTED, fontsize=10)
    panel_w = (width_px - 2 * pad - (cols - 1) * gap) / cols
    peak = max((max(s.counts) for s in shown), default=1) or 1
    for n, series in enumerate(shown):
        row, col = divmod(n, cols)
        left = pad + col * (panel_w + gap)
        bottom = height_px - caption - row * row_h - title_h - bars_h
        ax = fig.add_axes((left / width_px, bottom / height_px, panel_w / width_px, bars_h / height_px))
        colors = [RULE if c == 0 else MUTED for c in series.counts[:-1]] + [ACCENT]
        heights = [max(c, peak * 0.03) for c in series.counts]
        ax.bar(range(len(series.counts)), heights, color=colors, width=0.72)
        ax.set_ylim(0, peak * 1.05)
        ax.set_xlim(-0.6, len(series.counts) - 0.4)
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.spines["bottom"].set_color(RULE)
        ax.text(
            0.0,
            1.0 + 6 / bars_h,
            short_name(series.name),
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize=10,
            color=INK,
            family="DejaVu Sans",
        )
        ax.text(
            1.0,
            1.0 + 6 / bars_h,
            str(series.counts[-1]),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=10.5,
            color=ACCENT,
            fontweight="bold",
            family="DejaVu Sans",
        )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()
