"""Blocks -> report.html: one self-contained page (PNGs as base64 data URIs, inline CSS, no external assets)."""

from __future__ import annotations

import base64
import html
import re

from symtune.report.blocks import Bullets, Details, Heading, Image, Para, Table


CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #ddd;padding-bottom:.2em}h2{border-bottom:1px solid #eee;padding-bottom:.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d0d0d0;padding:.28em .6em}th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}td.c,th.c{text-align:center}
img{max-width:100%;height:auto;display:block;margin:.8em 0}
code{background:#f2f2f2;padding:0 .25em;border-radius:3px;font-size:.92em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto}details{margin:.8em 0}summary{cursor:pointer;font-weight:600}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
.scroll{overflow-x:auto;max-width:100%}p,li,figcaption{overflow-wrap:anywhere}
"""


def _inline(text: str) -> str:
    s = html.escape(str(text), quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)


def _table_html(t: Table) -> str:
    align = (t.align or ("l" + "r" * (len(t.header) - 1))).ljust(len(t.header), "r")
    cls = lambda i: f' class="{align[i]}"' if align[i] in "rc" else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{_inline(h)}</th>" for i, h in enumerate(t.header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{_inline(c)}</td>" for i, c in enumerate(row)) + "</tr>\n"
                   for row in t.rows)
    # in a scrolling box: a wide table scrolls by itself instead of widening the page
    return f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table></div>'


def _html_blocks(blocks: list) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            out.append(_table_html(b))
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{html.escape(b.alt)} ({html.escape(b.name)})</figcaption></figure>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Details):
            out.append(f"<details><summary>{_inline(b.summary)}</summary>\n" + "\n".join(_html_blocks(b.blocks))
                       + "\n</details>")
    return out


def to_html(blocks: list, title: str = "Symbol tuning report") -> str:
    body = "\n".join(_html_blocks(blocks))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
