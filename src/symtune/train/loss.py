"""SymtuneTrainer: Hugging Face Trainer whose loss projects onto the vocabulary only where supervised.

The model is called through its (possibly DDP/FSDP-wrapped) forward with a boolean `logits_to_keep`
mask, so `lm_head` sees only the hidden states whose next-token label is supervised; logits are
(n_supervised, vocab) instead of (batch, length, vocab). The summed loss is divided by Trainer's
`num_items_in_batch` (supervised tokens over all accumulated micro-batches and all processes), so
gradient accumulation and DDP give the same update as one large batch.

Rows marked `kl` (natural_loss kl: natural-label rows) are not trained toward their labels: at their
supervised positions the loss is KL(base || tuned), the base distribution coming from the same model
with the LoRA adapter disabled (`peft_model.disable_adapter()`, no gradient, only those rows and
positions). Its gradient is cross-entropy against the base model's soft targets, and it is exactly zero
while the adapter is the identity (B = 0), so those rows anchor behaviour instead of teaching content.

With `dense_weight`, each supervised position carries a weight (`shift_weight`; a row's weights sum to its
completion tokens) and Trainer counts only the completion tokens (`shift_query`), so the loss is the
weighted mean and each row weighs what it does under the label loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import Trainer


def _weighted_ce(logits, targets, w):
    if w is None:  # the unweighted sum exactly as before dense_weight existed
        return F.cross_entropy(logits.float(), targets, reduction="sum")
    return (F.cross_entropy(logits.float(), targets, reduction="none") * w).sum()

class SymtuneTrainer(Trainer):
    # compute_loss divides by num_items_in_batch itself (see below)
    loss_is_scaled_for_ga = True

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        # Make Trainer count supervised tokens over the accumulated batch (num_items_in_batch) whatever
        # the model class says about loss kwargs; it counts `shift_labels` from our collator.
        self.model_accepts_loss_kwargs = True
        self.step_supervised_tokens = 0
        self.reset_loss_parts()

    def _get_num_items_in_batch(self, batch_samples, device):
        # weighted dense loss: a row's weights sum to its completion tokens, so those are what is counted
        if batch_samples and "shift_query" in batch_samples[0]:
            batch_samples = [dict(b, shift_labels=b["shift_query"]) for b in batch_samples]
        return super()._get_num_items_in_batch(batch_samples, device)

    def reset_loss_parts(self) -> None:
        """Summed CE (label-trained positions) and KL (base-anchored positions) of this process since
        the last log row, with their position counts (log.jsonl: loss_ce, loss_kl)."""
        self.loss_parts = {"ce_sum": 0.0, "ce_n": 0, "kl_sum": 0.0, "kl_n": 0}

    def base_logits(self, model, inputs: dict, mask):
        """Logits of the model with its adapter disabled, at the positions of `mask` (row-major order),
        without gradient; only the rows holding such positions are run (padded batches)."""
        peft_model = self.accelerator.unwrap_model(model)
        if not hasattr(peft_model, "disable_adapter"):
            raise RuntimeError("natural_loss kl needs a PEFT (LoRA) model")  # guarded in validate()
        if "attention_mask" in inputs:  # padded: one row per example, run only those with KL positions
            rows = mask.any(dim=1)
            inputs = {k: v[rows] if torch.is_tensor(v) and v.shape[:1] == rows.shape else v
                      for k, v in inputs.items()}
            mask = mask[rows]
        with torch.no_grad(), peft_model.disable_adapter():
            out = model(**inputs, logits_to_keep=mask, use_cache=False)
        logits = out.logits
        return logits[mask] if logits.dim() == 3 else logits

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        inputs.pop("labels", None)
        shift = inputs.pop("shift_labels")
        shift_kl = inputs.pop("shift_kl", None)
        weight = inputs.pop("shift_weight", None)
        inputs.pop("shift_query", None)
        keep = shift.ne(-100)
        out = model(**inputs, logits_to_keep=keep, use_cache=False)
        logits = out.logits
        if logits.dim() == 3:  # a model class without boolean logits_to_keep: slice after the fact
            logits = logits[keep]
        targets = shift[keep]
        w = weight[keep].to(logits.device) if weight is not None else None  # per supervised position
        kl_mask = keep & shift_kl if shift_kl is not None else None
        if kl_mask is None or not bool(kl_mask.any()):
            ce_sum = _weighted_ce(logits, targets, w)
            kl_sum, n_kl, w_kl = ce_sum.new_zeros(()), 0, 0
        else:
            on_kl = shift_kl[keep]  # per supervised position, in the order of `logits`
            ce_sum = _weighted_ce(logits[~on_kl], targets[~on_kl], w[~on_kl] if w is not None else None)
            base = F.log_softmax(self.base_logits(model, inputs, kl_mask).float(), dim=-1)
            tuned = F.log_softmax(logits[on_kl].float(), dim=-1)
            # KL(base || tuned) = sum_v p_base (log p_base - log p_tuned), per position
            if w is None:
                kl_sum = F.kl_div(tuned, base, log_target=True, reduction="sum")
            else:
                kl_sum = (F.kl_div(tuned, base, log_target=True, reduction="none").sum(-1) * w[on_kl]).sum()
            n_kl = int(on_kl.sum())
            w_kl = float(w[on_kl].sum()) if w is not None else n_kl
        loss_sum = ce_sum + kl_sum
        n_local = w.sum() if w is not None else keep.sum()
        if model.training:
            p = self.loss_parts
            p["ce_sum"] += float(ce_sum.detach())
            p["ce_n"] += (float(n_local) - w_kl) if w is not None else int(n_local) - n_kl  # weighted means
            p["kl_sum"] += float(kl_sum.detach())
            p["kl_n"] += w_kl
        if num_items_in_batch is None:
            loss = loss_sum / n_local.clamp(min=1)
        else:
            if torch.is_tensor(num_items_in_batch):
                num_items_in_batch = num_items_in_batch.to(loss_sum.device)
            loss = loss_sum / num_items_in_batch
            if self.args.average_tokens_across_devices and self.accelerator.num_processes > 1:
                # num_items_in_batch counts all processes; DDP averages gradients over processes
                loss = loss * self.accelerator.num_processes
            if model.training:
                self.step_supervised_tokens = int(num_items_in_batch)
        return (loss, {"loss": loss.detach()}) if return_outputs else loss
