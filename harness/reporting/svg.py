"""SVG drawing primitives for the report's charts: escaped text, marks, linear scales and axes."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1d2330", "#57606a", "#d0d7de"
TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 13, 12, 11
# XML 1.0 forbids these characters even escaped: one in a slice value would make the image unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def esc(text: str) -> str:
    """Untrusted text made safe for SVG element content and double- or single-quoted attributes."""
    return escape(_NOT_XML.sub("\ufffd", text), {'"': "&quot;", "'": "&apos;"})


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated rendered width: about 0.6 × font size per character in a sans-serif face."""
    return len(text) * size * (0.65 if bold else 0.6)


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Scale:
    """Linear map from data values (lo..hi) to pixels (start..end; end < start flips the axis)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


@dataclass
class Canvas:
    width: float
    height: float
    parts: list[str] = field(default_factory=list)

    def text(self, x: float, y: float, text: str, *, size: float = LABEL_SIZE, anchor: str = "start",
             colour: str = INK, bold: bool = False, baseline: str = "middle", rotate: bool = False) -> None:
        extra = ' font-weight="bold"' if bold else ""
        if rotate:
            extra += f' transform="rotate(-90 {num(x)} {num(y)})"'
        self.parts.append(f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" text-anchor="{anchor}" '
                          f'dominant-baseline="{baseline}" fill="{colour}"{extra}>{esc(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, *, colour: str = INK, width: float = 1.0,
             cls: str = "") -> None:
        self.parts.append(f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
                          f'stroke="{colour}" stroke-width="{width}"{_cls(cls)}/>')

    def circle(self, x: float, y: float, r: float, colour: str, cls: str = "") -> None:
        self.parts.append(f'<circle cx="{num(x)}" cy="{num(y)}" r="{r}" fill="{colour}"{_cls(cls)}/>')

    def rect(self, x: float, y: float, w: float, h: float, colour: str, *, opacity: float = 1.0,
             stroke: str = "none", cls: str = "") -> None:
        self.parts.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" fill="{colour}" '
                          f'fill-opacity="{opacity:.2f}" stroke="{stroke}" stroke-width="2"{_cls(cls)}/>')

    def cross(self, x: float, y: float, r: float, colour: str, cls: str = "") -> None:
        d = (f"M{num(x - r)} {num(y - r)}L{num(x + r)} {num(y + r)}"
             f"M{num(x - r)} {num(y + r)}L{num(x + r)} {num(y - r)}")
        self.parts.append(f'<path d="{d}" stroke="{colour}" stroke-width="1.8" fill="none"{_cls(cls)}/>')

    def steps(self, points: Sequence[tuple[float, float]], colour: str, cls: str = "") -> None:
        """A step line that holds each y until the next x (matplotlib's "steps-post")."""
        (x0, y0), rest = points[0], points[1:]
        d = f"M{num(x0)} {num(y0)}" + "".join(f"H{num(x)}V{num(y)}" for x, y in rest)
        self.parts.append(f'<path d="{d}" stroke="{colour}" stroke-width="1.6" fill="none"{_cls(cls)}/>')

    def x_axis(self, scale: Scale, ticks: Sequence[float], top: float, bottom: float, label: str,
               tick_text: str = "{:g}") -> None:
        """Vertical gridlines from top to bottom, tick values under them and the axis label below."""
        for tick in ticks:
            x = scale(tick)
            self.line(x, top, x, bottom, colour=GRID)
            self.text(x, bottom + 12, tick_text.format(tick), size=TICK_SIZE, anchor="middle", colour=MUTED)
        self.line(scale.start, bottom, scale.end, bottom, colour=MUTED)
        self.text((scale.start + scale.end) / 2, bottom + 30, label, anchor="middle")

    def y_axis(self, scale: Scale, ticks: Sequence[float], left: float, right: float, label: str) -> None:
        """Horizontal gridlines from left to right, tick values left of them and the label rotated."""
        for tick in ticks:
            y = scale(tick)
            self.line(left, y, right, y, colour=GRID)
            self.text(left - 5, y, f"{tick:g}", size=TICK_SIZE, anchor="end", colour=MUTED)
        self.line(left, scale.start, left, scale.end, colour=MUTED)
        self.text(left - 34, (scale.start + scale.end) / 2, label, anchor="middle", rotate=True)

    def legend(self, x: float, y: float, entries: Sequence[tuple[str, str]]) -> None:
        """One row per (label, colour) entry, starting at (x, y): a swatch then the label."""
        for i, (label, colour) in enumerate(entries):
            row = y + i * 16
            self.rect(x, row - 5, 10, 10, colour)
            self.text(x + 15, row, label, size=TICK_SIZE)

    def uri(self, title: str) -> str:
        body = "".join(self.parts)
        w, h = num(self.width), num(self.height)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
               f'font-family="{FONT}" role="img"><title>{esc(title)}</title>'
               f'<rect width="100%" height="100%" fill="white"/>{body}</svg>')
        return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _cls(cls: str) -> str:
    return f' class="{cls}"' if cls else ""
