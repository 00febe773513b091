"""The prompting home: everything that decides the text of a prompt, for tuning rows and evaluation alike.

    symbols.py    symbol pools (train / held-out eval; ints, letter strings, words), per-prompt draws
    templates.py  PromptFormat, the paper's ten templates, the one renderer and the one drop rule
    sampling.py   seeded exemplar and query draws (tuning rows; evaluation queries, test and dev)
    fit.py        the one length-fitting routine (fewest_drops) and the evaluation's Budget / fit_prompt

Callers: data/build.py (tuning rows), eval/suites.py and eval/algorithmic_suites.py (evaluation items),
train/probe.py (through the evaluation's icl_items). docs/ARCHITECTURE.md follows one prompt through it.
"""
