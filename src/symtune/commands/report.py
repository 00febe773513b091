"""symtune report DIR [DIR ...] [--out OUTDIR] [--labels A,B] [--metric acc]: report from results files only."""

HELP = "Write report.md, a self-contained report.html and PNGs from run folders (never runs a model)."
DESCRIPTION = """Write report.md, report.html (PNGs embedded, no external assets) and the PNGs from one or
more run folders written by `symtune run` (data/, eval_base/, train/, eval_tuned/, run.json). Parts
that are missing are reported as missing. Several folders are shown side by side (e.g. symbol-tuned vs a
control), one column per run, labelled by folder name or --labels.

  symtune report runs/demo
  symtune report runs/st runs/random-labels --labels symbol-tuned,control --out runs/report
"""


def add_arguments(p):
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run folder(s) written by `symtune run`")
    p.add_argument("--out", default=None, metavar="OUTDIR",
                   help="output folder (default: DIR/report for one run, ./report for several)")
    p.add_argument("--labels", default=None, metavar="A,B",
                   help="comma-separated column labels, one per DIR (default: folder names)")
    p.add_argument("--metric", default="acc", choices=["acc", "acc_norm", "acc_gen"],
                   help="per-task accuracy field of results.json to report (default: acc)")


def run(args) -> int:
    from pathlib import Path

    from symtune.errors import SymtuneError
    from symtune.paths import check_output
    from symtune.report import build_report

    labels = None
    if args.labels is not None:
        labels = [x.strip() for x in args.labels.split(",")]
        if any(not x for x in labels):
            raise SymtuneError(f"report: --labels {args.labels!r} has an empty label; give names like A,B")
    out = args.out or (Path(args.dirs[0]) / "report" if len(args.dirs) == 1 else Path("report"))
    if args.out is None:  # a folder the user did not name: never written through a link
        from symtune.ownership import check_entry

        check_entry(out.parent, out.name)
    check_output(out, kind="folder", option="--out")
    res = build_report(args.dirs, out=out, labels=labels, metric=args.metric)
    print(f"report: {res['md']} and {res['html']} ({len(res['pngs'])} figures) for "
          + ", ".join(r.label for r in res["runs"]))
    for r in res["runs"]:
        for m in r.missing:
            print(f"  {r.label}: missing {m}")
    return 0
