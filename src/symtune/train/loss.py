"""SymtuneTrainer: Hugging Face Trainer whose loss projects onto the vocabulary only where supervised.

The model is called through its (possibly DDP/FSDP-wrapped) forward with a boolean `logits_to_keep`
mask, so `lm_head` sees only the hidden states whose next-token label is supervised; logits are
(n_supervised, vocab) instead of (batch, length, vocab). The summed cross-entropy is divided by
Trainer's `num_items_in_batch` (supervised tokens over all accumulated micro-batches and all
processes), so gradient accumulation and DDP give the same update as one large batch.
"""

from __future__ import annotations


def make_trainer_class():
    import torch
    import torch.nn.functional as F
    from transformers import Trainer

    class SymtuneTrainer(Trainer):
        # compute_loss divides by num_items_in_batch itself (see below)
        loss_is_scaled_for_ga = True

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            # Make Trainer count supervised tokens over the accumulated batch (num_items_in_batch) whatever
            # the model class says about loss kwargs; it counts `shift_labels` from our collator.
            self.model_accepts_loss_kwargs = True
            self.step_supervised_tokens = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            inputs.pop("labels", None)
            shift = inputs.pop("shift_labels")
            keep = shift.ne(-100)
            out = model(**inputs, logits_to_keep=keep, use_cache=False)
            logits = out.logits
            if logits.dim() == 3:  # a model class without boolean logits_to_keep: slice after the fact
                logits = logits[keep]
            targets = shift[keep]
            loss_sum = F.cross_entropy(logits.float(), targets, reduction="sum")
            n_local = keep.sum()
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

    return SymtuneTrainer
