"""Chat templates: tuning rows and evaluation prompts rendered as the model is served (`chat_template`).

    symtune run --preset quick --chat-template --out runs/chat      # both stages, identically
    symtune eval --chat-template ...   /   symtune data --chat-template ...

Off by default, like lm-evaluation-harness's --apply_chat_template. When on, the plain few-shot
prompt (instruction, exemplars, query up to its label prefix) becomes ONE user message; the
tokenizer's chat template adds its markers and the assistant header (add_generation_prompt), and the
answer is the label with the plain format's delimiter, " positive", as lm-evaluation-harness scores it
(its target delimiter stays in the continuation), so the answer is the same tokens as the labels the
exemplars show. On the bundled 135M model the chat format costs most of its few-shot accuracy with
or without the space (docs/EVALUATION.md). The same `ChatWrap` serves the data builder
(data/build.py), the evaluation (eval/runner.py) and the training probe, so a model is tuned and
measured on the same text.

The template is rendered once around a marker and split into head and tail; every prompt is then
head + prompt + tail. `check` renders a real prompt through the template to confirm that this holds
for the model's template (a template that rewrites its content is refused with a one-line error).
"""

from __future__ import annotations

from symtune.errors import SymtuneError

_MARK = "\u2063symtune-prompt\u2063"


class ChatWrap:
    def __init__(self, tokenizer, model: str = "the model"):
        if not getattr(tokenizer, "chat_template", None):
            raise SymtuneError(f"option 'chat_template': {model}'s tokenizer has no chat template; "
                               "turn chat_template off or use an instruct model that ships one")
        self.tok = tokenizer
        text = tokenizer.apply_chat_template([{"role": "user", "content": _MARK}], add_generation_prompt=True,
                                             tokenize=False)
        if text.count(_MARK) != 1:
            raise SymtuneError(f"option 'chat_template': {model}'s chat template does not keep the user message "
                               "verbatim; turn chat_template off")
        head, tail = text.split(_MARK)
        # a template that writes the BOS token as text would double it: the tokenizer adds its own
        bos = getattr(tokenizer, "bos_token", None)
        if bos and head.startswith(bos) and tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]:
            head = head[len(bos):]
        self.head, self.tail = head, tail
        self.overhead = len(tokenizer(head + tail, add_special_tokens=False)["input_ids"]) + 1
        self.check("Input: one\ntwo\nOutput: a\n\nInput: three\nOutput:")

    def prompt(self, prompt: str) -> str:
        """The served text of a plain few-shot prompt (ends with the assistant header)."""
        return self.head + prompt + self.tail

    def check(self, prompt: str) -> None:
        """Confirm head + prompt + tail equals the template rendered with this content."""
        real = self.tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=False)
        if real.endswith(self.prompt(prompt)) and len(real) - len(self.prompt(prompt)) in (0, len(self.tok.bos_token or "")):
            return
        raise SymtuneError("option 'chat_template': the model's chat template rewrites the prompt text "
                           "(it is not head + prompt + tail); turn chat_template off")
