"""symtune symbols: print symbols drawn from a pool."""

HELP = "Print N symbols drawn from the training or evaluation symbol pool."


def add_arguments(p):
    p.add_argument("--pool", choices=["train", "eval"], default="train", help="which pool (disjoint)")
    p.add_argument("-n", type=int, default=10, help="how many symbols (distinct)")
    p.add_argument("--seed", type=int, default=0, help="seed")
    p.add_argument("--family", action="append", choices=["int", "letters", "word"],
                   help="restrict to a family (repeatable); default all three")
    p.add_argument("--pool-size", type=int, default=None, help="symbols per family in the pool (ablation)")
    p.add_argument("--model", default=None, help="tokenizer for the prefix-free check and --max-tokens")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on a symbol's token count (needs --model)")


def run(args) -> int:
    import random

    from symtune.errors import SymtuneError
    from symtune.prompting.symbols import FAMILIES, SymbolPool

    if args.n < 1:
        raise SymtuneError("-n must be at least 1")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise SymtuneError(f"--max-tokens must be at least 1 (a symbol is one token or more), got {args.max_tokens}")
    if args.pool_size is not None and args.pool_size < 1:
        raise SymtuneError(f"--pool-size must be at least 1, got {args.pool_size}")
    tok = None
    if args.model is not None or args.max_tokens is not None:
        from symtune.models import load_tokenizer

        tok = load_tokenizer(args.model if args.model is not None else "smollm2-135m")  # "" is refused there
    pool = SymbolPool(args.pool, tuple(args.family or FAMILIES), args.pool_size)
    for s in pool.sample(args.n, random.Random(args.seed), tokenizer=tok, max_tokens=args.max_tokens):
        print(s)
    return 0
