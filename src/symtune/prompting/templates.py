"""Prompt formats: one renderer for symbol-tuning rows and evaluation prompts.

An exemplar renders as  input_prefix + x + label_sep + label_prefix + " " + y ; exemplars are
joined by example_sep, and the prompt ends with the query rendered up to label_prefix (no
trailing space). The completion is " " + y: as in lm-evaluation-harness, the delimiter belongs
to the continuation, so every template scores the same way.

Sentence pairs: the two texts are joined with `pair_sep` (a newline) inside the input slot,
with no field names (the convention of the paper's reproduction notebook, appendix §2).

Instructions (evaluation settings `instr+...` and natural-label tuning prompts only) are placed
once at the top of the prompt, followed by a blank line.
"""

from __future__ import annotations

from dataclasses import dataclass

from symtune.errors import SymtuneError
from symtune.tasks.base import Example

DELIMITER = " "


@dataclass(frozen=True)
class PromptFormat:
    id: int
    input_prefix: str  # before the input text, e.g. "Input: "
    label_prefix: str  # before the label, e.g. "Output:"; the label follows after DELIMITER
    label_sep: str = "\n"  # between the input text and label_prefix
    example_sep: str = "\n\n"  # between exemplars (and before the query)
    pair_sep: str = "\n"  # between the two texts of a sentence pair
    instruction_sep: str = "\n\n"  # after the instruction

    @property
    def name(self) -> str:
        return f"{self.input_prefix.strip() or '{x}'} / {self.label_prefix}"

    def input_text(self, ex: Example) -> str:
        # every line break (\r, U+2028, ... too, not only \n) becomes a space: a text cannot start a
        # line of its own, so it cannot fake an "Output:" line of the format
        text = " ".join(ex.text.splitlines()).strip()
        if ex.text_pair is not None:
            pair = " ".join(ex.text_pair.splitlines()).strip()
            return text + self.pair_sep + pair
        return text

    def example_prefix(self, ex: Example) -> str:
        """Everything of one example before its label (ends with label_prefix)."""
        return self.input_prefix + self.input_text(ex) + self.label_sep + self.label_prefix


# The ten input-label formats of the paper (appendix §2, from its reproduction notebook).
TEMPLATES: list[PromptFormat] = [
    PromptFormat(0, "Input: ", "Output:"),
    PromptFormat(1, "Input: ", "Target:"),
    PromptFormat(2, "Input: ", "Symbol:"),
    PromptFormat(3, "Input: ", "Label:"),
    PromptFormat(4, "Question: ", "Answer:"),
    PromptFormat(5, "Student: ", "Teacher:"),
    PromptFormat(6, "X = ", "Y =", label_sep="\n"),
    PromptFormat(7, "Q: ", "A:"),
    PromptFormat(8, "", "->", label_sep=" "),
    PromptFormat(9, "Sentences: ", "Mapped To:"),
]


def get_template(template_id: int) -> PromptFormat:
    if not 0 <= template_id < len(TEMPLATES):
        raise SymtuneError(f"unknown template id {template_id}; choose 0-{len(TEMPLATES) - 1}")
    return TEMPLATES[template_id]


@dataclass(frozen=True)
class Rendered:
    prompt: str
    label_spans: list  # (start, end) of each exemplar's label string in `prompt`


def render(fmt: PromptFormat, exemplars: list[tuple[Example, str]], query: Example,
           instruction: str | None = None) -> Rendered:
    """Render exemplars (example, shown label) and the query; the completion is DELIMITER + label."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    if instruction:
        head = instruction.strip() + fmt.instruction_sep
        parts.append(head)
        pos += len(head)
    for ex, label in exemplars:
        block = fmt.example_prefix(ex) + DELIMITER
        start = pos + len(block)
        block += label + fmt.example_sep
        spans.append((start, start + len(label)))
        parts.append(block)
        pos += len(block)
    parts.append(fmt.example_prefix(query))
    return Rendered("".join(parts), spans)


def completion(label: str) -> str:
    return DELIMITER + label


def exemplar_to_drop(classes: list[int]) -> int | None:
    """Which exemplar to drop when a prompt is over its token budget, given each shown exemplar's class
    in prompt order: the last-shown one of the class with the most exemplars (ties: the highest class
    id), so every class keeps at least one. None when no class has more than one left.

    The one rule, applied by prompting/fit.py fewest_drops to tuning rows and evaluation prompts alike."""
    if not classes:
        return None
    counts: dict[int, int] = {}
    for c in classes:
        counts[c] = counts.get(c, 0) + 1
    cls = max(counts, key=lambda c: (counts[c], c))
    if counts[cls] <= 1:
        return None
    return max(i for i, c in enumerate(classes) if c == cls)


def drop_order(classes: list[int]) -> list[int]:
    """Every drop `exemplar_to_drop` would make, in order, as positions in `classes` (prompt order),
    computed once in O(n log n): calling it after each drop was quadratic in the exemplars."""
    import heapq

    stacks: dict[int, list[int]] = {}
    for i, c in enumerate(classes):
        stacks.setdefault(c, []).append(i)
    heap = [(-len(pos), -c) for c, pos in stacks.items()]
    heapq.heapify(heap)
    order = []
    while heap:
        n, c = heapq.heappop(heap)
        if -n <= 1:
            break
        order.append(stacks[-c].pop())
        heapq.heappush(heap, (n + 1, c))
    return order
