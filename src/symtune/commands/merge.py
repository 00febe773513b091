"""symtune merge ADAPTER --out DIR [--model BASE] [--dtype float32]: fold a LoRA adapter into a full model."""

HELP = "Merge a LoRA adapter (from `symtune train --method lora`) into a standalone model folder."


def add_arguments(p):
    from symtune.hardware import DTYPES

    p.add_argument("adapter", help="adapter folder (holds adapter_config.json)")
    p.add_argument("--out", required=True, help="output folder for the merged model (must not exist or be empty)")
    p.add_argument("--model", default=None,
                   help="base model (default: base_model_name_or_path from adapter_config.json)")
    p.add_argument("--dtype", default="float32", choices=[d for d in DTYPES if d != "auto"],
                   help="dtype of the merged weights (default: float32; a stored dtype, so no auto)")


def run(args) -> int:
    import time
    from pathlib import Path

    from symtune.errors import SymtuneError
    from symtune.adapters import check_adapter
    from symtune.paths import check_output
    from symtune.provenance import atomic_folder, provenance, write_json_atomic

    ap = Path(args.adapter)
    cfg_path = ap / "adapter_config.json"
    out = check_output(args.out, kind="folder", option="--out")
    if out.exists() and any(out.iterdir()):
        raise SymtuneError(f"output folder {out} exists and is not empty; choose a new --out")
    adapter_cfg = check_adapter(ap)  # missing or damaged files: one line before any model is loaded
    if args.model is not None and not args.model.strip():
        raise SymtuneError("--model is empty; pass the base model, or leave it out to use the adapter's "
                           "base_model_name_or_path")
    base = args.model or adapter_cfg.get("base_model_name_or_path")
    if not base:
        raise SymtuneError(f"{cfg_path} names no base_model_name_or_path; pass --model")

    from symtune.adapters import apply_adapter
    from symtune.models import load_model, resolve_model

    t = time.perf_counter()
    model = load_model(base, dtype=args.dtype)
    merged = apply_adapter(model, str(ap), merge=True)
    tok_src = str(ap) if (ap / "tokenizer_config.json").is_file() else resolve_model(base)
    from transformers import AutoTokenizer

    from symtune.models import from_pretrained

    tok = from_pretrained(AutoTokenizer, tok_src, str(ap) if tok_src == str(ap) else base, "tokenizer")
    with atomic_folder(out) as tmp:  # out is absent or empty (checked above)
        merged.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        write_json_atomic(tmp / "symtune_merge.json", {"adapter": str(ap.resolve()), "base_model": base,
                                                        "dtype": args.dtype, "provenance": provenance()})
    print(f"{out}: merged {ap} into {base} ({time.perf_counter() - t:.1f} s)")
    return 0
