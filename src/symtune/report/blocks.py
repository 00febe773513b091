"""The report's block model: what a report is made of, independent of how it is rendered.

Heading, Para, Table, Image (PNG bytes), Bullets, Details (a collapsible group of blocks). Section
builders (render.py, measure_blocks.py) produce lists of blocks; markdown.py and page.py render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str  # `code` spans allowed


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    align: str = ""  # one char per column: l / r / c (default: first left, rest right)


@dataclass
class Image:
    name: str  # file name next to report.md
    alt: str
    png: bytes


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)


def images(blocks: list) -> list[Image]:
    out = []
    for b in blocks:
        if isinstance(b, Image):
            out.append(b)
        elif isinstance(b, Details):
            out += images(b.blocks)
    return out
