"""Blocks -> report.md (GitHub-flavoured Markdown; images referenced by file name)."""

from __future__ import annotations

from symtune.report.blocks import Bullets, Details, Heading, Image, Para, Table


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> str:
    align = t.align or ("l" + "r" * (len(t.header) - 1))
    sep = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(_md_cell(h) for h in t.header) + " |",
             "|" + "|".join(sep.get(a, "---") for a in align.ljust(len(t.header), "r")) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def to_markdown(blocks: list) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            out.append(table_markdown(b))
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.name})")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Details):
            out.append(f"**{b.summary}**")
            out.append(to_markdown(b.blocks).rstrip("\n"))
    return "\n\n".join(out) + "\n"
