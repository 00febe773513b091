"""symtune hardware [--device D] [--dtype D] [--json | --demo-preset]: what `auto` picks on this machine."""

HELP = "Show the device, dtype and evaluation processes `auto` resolves to on this machine, and why."
DESCRIPTION = """Show what `device: auto` and `dtype: auto` (the defaults of every stage) resolve to here, and why:
bf16 where the device computes it natively (a CUDA GPU with bf16; a CPU with AVX512-BF16 or AMX), fp16 for
evaluation on a CUDA GPU without bf16, fp32 otherwise. Nothing is loaded or run.

  symtune hardware                    # a few lines
  symtune hardware --json             # the same as JSON
  symtune hardware --demo-preset      # only the preset `make demo` runs here (quick or quick-fp32)
  symtune hardware --dtype bfloat16   # what asking for bf16 would mean here (emulated: a warning)
"""


def add_arguments(p):
    from symtune.hardware import DEVICES, DTYPES

    p.add_argument("--device", default="auto", choices=DEVICES, help="device to resolve (default: auto)")
    p.add_argument("--dtype", default="auto", choices=DTYPES, help="dtype to resolve (default: auto)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--demo-preset", action="store_true", help="print only the preset `make demo` runs here")


def run(args) -> int:
    import json

    from symtune.hardware import emulated_warning, resolve, summary

    s = summary(args.device, args.dtype)
    if args.demo_preset:
        print(s["demo_preset"])
        return 0
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    for stage in ("eval", "train"):
        h = s[stage]
        print(f"{stage + ':':<7}device {h['device']}, dtype {h['dtype']} ({h['reason']})")
    print(f"evaluation processes by default: {s['eval_processes']}")
    print(f"{s['cpu']}; CUDA GPUs: {s['cuda_gpus']}; MPS: {'yes' if s['mps'] else 'no'}")
    print(f"torch {s['torch']} ({'CUDA ' + s['torch_cuda_build'] if s['torch_cuda_build'] else 'CPU-only build'})")
    print(f"make demo runs: --preset {s['demo_preset']}")
    ev = resolve(args.device, args.dtype, "eval")
    if ev.emulated:
        print(emulated_warning(ev))
    return 0
