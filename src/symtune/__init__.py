"""symtune: symbol tuning (Wei et al. 2023) end to end.

Data flow, one subpackage per stage:
    tasks/ (sources) -> prompting/ (symbols, templates, draws, fitting) -> data/ (tuning rows)
    -> train/ (LoRA or full) -> eval/ (ICL, flipped, algorithmic) -> report/
"""

__version__ = "0.1.0"
