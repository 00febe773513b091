"""Known, harmless library warnings, silenced only around the calls that raise them.

    from symtune.quiet import known_noise_filtered
    with known_noise_filtered():
        model = get_peft_model(model, lora_config)

Each entry names the exact message, category and raising module, so anything else (a real problem,
or the same text from another place) still reaches the user. Add an entry only with the reason.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

# (message regex, category, module regex of the warnings.warn call, why it is harmless)
KNOWN = [
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning, r"transformers\.modeling_utils",
     "peft reads the old property name while wrapping a model; nothing for a symtune user to change"),
]


@contextmanager
def known_noise_filtered():
    """Silence the KNOWN warnings inside the block; every other warning is shown as before."""
    with warnings.catch_warnings():
        for message, category, module, _why in KNOWN:
            warnings.filterwarnings("ignore", message=message, category=category, module=module)
        yield
