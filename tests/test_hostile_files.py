"""Issue 23, part A: nothing of the user's lost, nothing stale trusted, no code run.

Security (a model's own code, device nodes, what `push` uploads), files symtune did not write
(ownership manifest, symbolic links, --force), one writer per output folder (the lock), and hangs
or tracebacks turned into one-line errors (10,000 classes, YAML alias bombs, a full disk, no
network, a cache-store race, a damaged run.json).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import texts, tree, write_csv
from symtune import ownership
from symtune.cli import main
from symtune.errors import SymtuneError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def user_tree(path: Path) -> dict:
    """tree() without symtune's lock file (it stays in a folder symtune was asked to write)."""
    return {k: v for k, v in tree(path).items() if k != ownership.LOCK}


def one_line_error(capsys, needle: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = re.findall(r"symtune [\w-]+: error: [^\r\n]*", err)
    assert len(lines) == 1, err
    rest = err.replace(lines[0], "").replace("\r", "\n").splitlines()
    start = re.compile(r"^symtune [\w-]+: device \w+, dtype \w+ \(")  # the start line says what runs
    assert all("%|" in x or start.match(x) for x in rest if x.strip()), err  # nothing else but progress bars
    assert needle in lines[0], err
    return lines[0]


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than `seconds`."""
    def boom(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def held_by_another_process(folder: Path):
    """A separate process holding `folder`'s symtune lock, as a running `symtune run` would."""
    code = ("import sys; from symtune import ownership\n"
            f"with ownership.locked({str(folder)!r}):\n"
            "    print('locked', flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=SRC))
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def tiny_eval_args(model: str, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", model, "--suite", "icl", "--tasks", "tweets_pn", "--settings", "labels",
            "--k", "1", "--limit", "2", "--dtype", "float32", "--out", str(out), "--no-progress", *extra]


# == 1. security ===================================================================================
EVIL_CONFIG = ("import os, pathlib\npathlib.Path(os.environ['EVIL_MARK']).write_text('ran')\n"
               "from transformers import LlamaConfig\nclass EvilConfig(LlamaConfig):\n    model_type = 'evil'\n")
EVIL_TOKENIZER = ("import os, pathlib\npathlib.Path(os.environ['EVIL_MARK']).write_text('ran')\n"
                  "from transformers import PreTrainedTokenizerFast\nclass EvilTokenizer(PreTrainedTokenizerFast):\n"
                  "    pass\n")


@pytest.fixture()
def says_yes(monkeypatch, tmp_path):
    """Answer "y" to any stdin question (transformers' "run the custom code?"), and a marker file the
    model folder's code writes when it runs."""
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "y")
    mark = tmp_path / "CODE_RAN"
    monkeypatch.setenv("EVIL_MARK", str(mark))
    return asked, mark


def test_eval_never_runs_a_models_own_code(tiny_model_dir, tmp_path, says_yes, capsys):
    asked, mark = says_yes
    evil = tmp_path / "evil_model"
    shutil.copytree(tiny_model_dir, evil)
    (evil / "configuration_evil.py").write_text(EVIL_CONFIG)
    cfg = json.loads((evil / "config.json").read_text())
    cfg.update(model_type="evil", auto_map={"AutoConfig": "configuration_evil.EvilConfig"})
    (evil / "config.json").write_text(json.dumps(cfg))
    assert main(tiny_eval_args(str(evil), tmp_path / "out")) == 2
    one_line_error(capsys, f"model '{evil}' needs its own Python code")
    assert not mark.exists() and asked == []  # never asked, never ran
    assert not (tmp_path / "out" / "results.json").exists()


def test_merge_never_runs_an_adapters_tokenizer_code(tiny_model_dir, tmp_path, says_yes, capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    asked, mark = says_yes
    adapter = tmp_path / "adapter"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], task_type="CAUSAL_LM")) \
        .save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    (adapter / "tokenization_evil.py").write_text(EVIL_TOKENIZER)
    tc = json.loads((adapter / "tokenizer_config.json").read_text())
    tc.update(tokenizer_class="EvilTokenizer", auto_map={"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]})
    (adapter / "tokenizer_config.json").write_text(json.dumps(tc))
    assert main(["merge", str(adapter), "--model", tiny_model_dir, "--out", str(tmp_path / "merged")]) == 2
    one_line_error(capsys, "needs its own Python code to load its tokenizer")
    assert not mark.exists() and asked == []
    assert not (tmp_path / "merged").exists()


def _device_or_pipe(path: Path) -> str:
    try:  # a character device like /dev/null (root can make one); else a FIFO, also not a regular file
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return "chr"
    except (PermissionError, OSError):
        os.mkfifo(path)
        return "fifo"


def test_data_never_replaces_a_device_or_pipe(tiny_model_dir, tmp_path, capsys):
    node = tmp_path / "null"
    kind = _device_or_pipe(node)
    assert main(["data", "--model", tiny_model_dir, "--out", str(node), "--force", "--n-prompts", "2"]) == 2
    one_line_error(capsys, "is not a regular file")
    mode = os.lstat(node).st_mode
    assert (stat.S_ISCHR(mode) if kind == "chr" else stat.S_ISFIFO(mode))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no stats file, no temporary


def test_push_uploads_no_temporary_lock_or_file_list(tmp_path, monkeypatch):
    """Which files the real HfApi.upload_folder selection would send (only the commit is stubbed)."""
    import huggingface_hub
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

    from helpers import push_run_folder as _run_folder

    sent = {}

    class Recording(HfApi):
        def create_repo(self, repo_id, **kw):
            return f"https://huggingface.co/{repo_id}"

        def _validate_yaml(self, *a, **kw):  # the Hub's README check is a network call
            return None

        def upload_folder(self, *, repo_id, folder_path, path_in_repo=None, ignore_patterns=None, **kw):
            ops = self._prepare_upload_folder_additions(folder_path, path_in_repo or "",
                                                        ignore_patterns=list(ignore_patterns) + DEFAULT_IGNORE_PATTERNS)
            sent[path_in_repo or ""] = sorted(op.path_in_repo for op in ops)

    monkeypatch.setattr(huggingface_hub, "HfApi", Recording)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    run = _run_folder(tmp_path)
    train, report = run / "train", run / "report"
    # what a kill -9 mid-save, the lock and the file list leave behind, at the top and deeper down
    (train / ".adapter_model.safetensors.4242-ab12cd.tmp").write_bytes(b"half")
    (train / ownership.LOCK).write_text("4242\n")
    (train / ownership.MANIFEST).write_text("{}")
    (train / ".tokenizer.json.77-x.tmp").mkdir()
    (train / ".tokenizer.json.77-x.tmp" / "tokenizer.json").write_text("{}")
    (train / "extra").mkdir()
    (train / "extra" / ".notes.txt.9-q.tmp").write_text("half")
    (train / "extra" / "notes.txt").write_text("kept")
    (report / ".report.md.5-zz.tmp").write_text("half")
    (report / ownership.MANIFEST).write_text("{}")
    assert main(["push", str(run), "--repo-id", "me/st"]) == 0
    assert sent[""] == ["README.md", "adapter_config.json", "adapter_model.safetensors", "extra/notes.txt",
                        "symtune_train.json"]
    assert sent["report"] == ["report/report.html"]


def test_push_without_network_is_one_line_without_the_token(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from helpers import push_run_folder as _run_folder

    run = _run_folder(tmp_path)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens: connection refused
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_123")
    assert main(["push", str(run), "--repo-id", "me/st"]) == 2
    out = capsys.readouterr()
    assert "hf_secret_token_123" not in out.out + out.err
    err = out.err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach the Hub to upload to me/st" in err, err


# == 2. files symtune did not write ==================================================================
def test_ownership_clear_and_claim_touch_only_symtunes_files(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "theirs.csv").write_text("user")
    ownership.claim(d, "mine.json", "later.json")
    (d / "mine.json").write_text("x")
    (d / f".mine.json.{os.getpid()}-zz.tmp").write_text("ours, in use")
    ownership.claim(d, "mine.json")  # its own file: claimed again, fine
    with pytest.raises(SymtuneError, match="theirs.csv was not written by symtune"):
        ownership.claim(d, "new.json", "theirs.csv")
    assert "new.json" not in ownership.owned(d)  # nothing recorded by a refused claim
    target = tmp_path / "elsewhere.txt"
    target.write_text("user")
    (d / "link.json").symlink_to(target)
    with pytest.raises(SymtuneError, match="is a symbolic link"):
        ownership.claim(d, "link.json")
    assert sorted(ownership.clear(d)) == ["link.json", "theirs.csv"]
    assert (d / "theirs.csv").read_text() == "user" and target.read_text() == "user"
    assert not (d / "mine.json").exists() and (d / f".mine.json.{os.getpid()}-zz.tmp").exists()
    assert ownership.owned(d) == {"later.json"}  # claimed but not yet written: still symtune's to write
    with pytest.raises(SymtuneError, match="theirs.csv was not written"):
        ownership.remove(d, "theirs.csv")


def test_run_force_on_a_users_folder_keeps_their_files_when_a_stage_reruns(tiny_model_dir, tmp_path):
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    proj = tmp_path / "PROJ"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "my_labels.csv").write_text("text,label\nmine,1\n")
    (proj / "notes.md").write_text("my notes")
    run_pipeline(tiny_cfg(tiny_model_dir), proj, force=True, stop_after="data")
    first = (proj / "data" / "data.jsonl").read_bytes()
    run_pipeline(tiny_cfg(tiny_model_dir, data__n_prompts=6), proj, force=True, stop_after="data")  # stale data
    assert (proj / "data" / "my_labels.csv").read_text() == "text,label\nmine,1\n"
    assert (proj / "notes.md").read_text() == "my notes"
    rows = (proj / "data" / "data.jsonl").read_bytes()
    assert rows != first and len(rows.splitlines()) == 6


def test_run_never_writes_through_a_linked_stage_folder(report_runs, tiny_model_dir, tmp_path, capsys):
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    st = report_runs[0]
    run = tmp_path / "run"
    shutil.copytree(st, run, symlinks=True)
    user = tmp_path / "my_figures"
    user.mkdir()
    (user / "flipped.png").write_bytes(b"my own figure")
    shutil.rmtree(run / "report")
    (run / "report").symlink_to(user)
    cfg = tiny_cfg(tiny_model_dir, eval__suite="all", eval__limit=4, eval__lf_subtasks=["c001", "c002", "c003"])
    with pytest.raises(SymtuneError, match="report is a symbolic link"):
        run_pipeline(cfg, run)
    assert tree(user) == {"flipped.png": b"my own figure"}
    # the report verb's default folder is not written through a link either
    assert main(["report", str(run)]) == 2
    one_line_error(capsys, "is a symbolic link")
    assert tree(user) == {"flipped.png": b"my own figure"}


def test_report_keeps_files_it_did_not_write_and_refuses_to_replace_one(report_runs, tmp_path, capsys):
    from symtune.report import PNG_NAMES

    st = report_runs[0]
    scratch = tmp_path / "scratch"
    assert main(["report", str(st), "--out", str(scratch)]) == 0
    written = {p.name for p in scratch.glob("*.png")}
    others = [n for n in PNG_NAMES if n not in written]
    assert written and others
    out = tmp_path / "figures"
    out.mkdir()
    for name in others:  # e.g. flip_curve.png, k_curve.png of the user's own
        (out / name).write_bytes(b"mine " + name.encode())
    before = tree(out)
    capsys.readouterr()
    assert main(["report", str(st), "--out", str(out)]) == 0
    assert all(tree(out)[n] == before[n] for n in others)
    assert main(["report", str(st), "--out", str(out)]) == 0  # its own files are replaced on a rerun
    # a user's file where the report writes one of its own: refused, nothing changed
    clash = sorted(written)[0]
    out2 = tmp_path / "figures2"
    out2.mkdir()
    (out2 / clash).write_bytes(b"my figure")
    capsys.readouterr()
    assert main(["report", str(st), "--out", str(out2)]) == 2
    one_line_error(capsys, f"{clash} was not written by symtune")
    assert user_tree(out2) == {clash: b"my figure"}


def test_export_refuses_to_replace_the_users_readme(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "tasks"
    out.mkdir()
    (out / "README.md").write_text("# my notes\n")
    args = ["export", "lm-eval", "--model", tiny_model_dir, "--suite", "icl", "--tasks", "tweets_pn",
            "--settings", "labels", "--k", "1", "--limit", "2", "--out", str(out)]
    assert main(args) == 2
    one_line_error(capsys, "README.md was not written by symtune")
    assert user_tree(out) == {"README.md": b"# my notes\n"}
    (out / "README.md").unlink()
    assert main(args) == 0 and main(args) == 0  # its own export is replaced by the next one
    assert "symtune prompts" in (out / "README.md").read_text()


def test_eval_force_never_deletes_results_it_did_not_write(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "ev"
    out.mkdir()
    (out / "results.json").write_text('{"mine": true}')
    (out / "samples_icl_tweets_pn.jsonl").write_text('{"my": "row"}\n')
    before = tree(out)
    assert main(tiny_eval_args(tiny_model_dir, out, "--force")) == 2
    one_line_error(capsys, "was not written by symtune")
    assert user_tree(out) == before


# == 15. one writer per output folder ===============================================================
def test_a_second_run_into_a_folder_being_written_is_refused(tiny_model_dir, tmp_path):
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    out = tmp_path / "run"
    with held_by_another_process(out) as pid:
        with pytest.raises(SymtuneError, match=f"being written by another symtune process \\(pid {pid}\\)") as e:
            run_pipeline(tiny_cfg(tiny_model_dir), out, stop_after="data")
        assert "\n" not in str(e.value)
        assert os.listdir(out) == [ownership.LOCK]  # nothing of the second run's work
    run_pipeline(tiny_cfg(tiny_model_dir), out, stop_after="data")  # once the first is gone, it runs
    assert (out / "data" / "data.jsonl").is_file()


def test_eval_force_into_a_folder_being_evaluated_is_refused(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "ev"
    out.mkdir()
    (out / "samples_icl_tweets_pn.jsonl").write_text('{"row": 1}\n')  # the running evaluation's samples
    with held_by_another_process(out):
        assert main(tiny_eval_args(tiny_model_dir, out, "--force")) == 2
        one_line_error(capsys, "is being written by another symtune process")
        assert (out / "samples_icl_tweets_pn.jsonl").read_text() == '{"row": 1}\n'


def test_children_of_a_launch_go_through_their_parents_lock(tmp_path, monkeypatch):
    """runtime.launch hands the held folders to its accelerate children, which then do not block."""
    from symtune import runtime
    from symtune.eval.config import EvalConfig

    seen = {}

    class Proc:
        def __init__(self, cmd, env=None):
            seen["env"] = env

        def wait(self, timeout=None):
            return 0

    d = tmp_path / "ev"
    code = f"from symtune import ownership\nwith ownership.locked({str(d)!r}):\n    print('in')\n"
    with ownership.locked(d):
        with monkeypatch.context() as m:
            m.setattr(runtime.subprocess, "Popen", Proc)
            runtime.launch("eval", EvalConfig(), processes=2)
        child = subprocess.run([sys.executable, "-c", code], env={**seen["env"], "PYTHONPATH": SRC},
                               capture_output=True, text=True, timeout=60)
        assert child.returncode == 0 and child.stdout.strip() == "in", child.stderr
        stranger = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "PYTHONPATH": SRC})
        assert stranger.returncode != 0 and "another symtune process" in stranger.stderr


# == 17. many classes fail fast =====================================================================
@pytest.fixture(scope="module")
def ten_thousand_classes(tmp_path_factory):
    path = tmp_path_factory.mktemp("many") / "classes.csv"
    rows = [(f"item {c} copy {i}", f"c{c}") for c in range(10_000) for i in range(5)]
    return write_csv(path, rows)


def test_eval_with_10000_classes_fails_fast(tiny_model_dir, ten_thousand_classes, tmp_path, capsys):
    args = ["eval", "--model", tiny_model_dir, "--suite", "icl", "--task-file", ten_thousand_classes,
            "--text-col", "text", "--label-col", "label", "--k", "1", "--limit", "1", "--out", str(tmp_path / "e")]
    t = time.perf_counter()
    with deadline(60):
        assert main(args) == 2
    one_line_error(capsys, "has 10000 classes: a prompt with one exemplar per class needs at least 10000 tokens")
    assert time.perf_counter() - t < 30


def test_data_with_10000_classes_fails_fast(tiny_model_dir, ten_thousand_classes, tmp_path, capsys):
    args = ["data", "--model", tiny_model_dir, "--task-files", ten_thousand_classes, "--n-prompts", "1",
            "--min-exemplars", "1", "--max-exemplars", "2", "--out", str(tmp_path / "d.jsonl")]
    with deadline(60):
        assert main(args) == 2
    one_line_error(capsys, "too small for one exemplar per class")
    assert not (tmp_path / "d.jsonl").exists()


def test_shortening_drops_the_same_exemplars_in_fewer_renders(tiny_model_dir):
    """Bisection over the precomputed drop order ends where dropping one at a time did."""
    import random

    from symtune.eval.scoring import Encoder
    from symtune.prompting.fit import Budget, fit_prompt
    from symtune.models import load_tokenizer
    from symtune.prompting.templates import TEMPLATES, drop_order, exemplar_to_drop, render
    from symtune.tasks.base import Example

    for seed in range(200):  # the precomputed order is the one-at-a-time rule's
        r = random.Random(seed)
        classes = [r.randrange(r.randint(1, 5)) for _ in range(r.randint(0, 25))]
        left, expect = list(range(len(classes))), []
        while (k := exemplar_to_drop([classes[i] for i in left])) is not None:
            expect.append(left.pop(k))
        assert drop_order(classes) == expect
    tok = load_tokenizer(tiny_model_dir)
    fmt = TEMPLATES[0]
    rng = random.Random(0)
    pairs = [(Example(" ".join(texts(rng.randint(1, 6), f"w{i}")), i % 3), ["pos", "neg", "odd"][i % 3])
             for i in range(30)]
    q = Example("the query", 0)
    renders = []

    def draw(ps):
        renders.append(len(ps))
        return render(fmt, ps, q, None).prompt

    for limit in (200, 320, 450):
        budget = Budget(Encoder(tok), limit)
        ps, dropped = list(pairs), 0  # the old loop: one render per drop
        while not budget.fits(render(fmt, ps, q, None).prompt, ["pos", "neg", "odd"])[0]:
            del ps[exemplar_to_drop([ex.label for ex, _ in ps])]
            dropped += 1
        renders.clear()
        prompt, n_dropped, n, used = fit_prompt("t", 0, pairs, draw, ["pos", "neg", "odd"], budget, 0)
        assert (used, n_dropped) == (ps, dropped) and prompt == render(fmt, ps, q, None).prompt
        assert dropped > 3 and len(renders) < dropped


def test_prefix_free_symbols_are_the_same_draws_as_before(tiny_model_dir):
    import random

    from symtune.models import load_tokenizer
    from symtune.prompting.symbols import SymbolPool

    tok = load_tokenizer(tiny_model_dir)
    pool = SymbolPool("eval")

    def reference(n, rng):  # the former list scan, kept here as the specification
        out, ids = [], []
        while len(out) < n:
            s, _ = pool._draw(rng)
            t = pool.token_ids(s, tok)
            if s in out or any(t[:len(o)] == o or o[:len(t)] == t for o in ids):
                continue
            out.append(s)
            ids.append(t)
        return out

    for seed in range(5):
        assert pool.sample(300, random.Random(seed), tok) == reference(300, random.Random(seed))


# == 18. YAML alias bombs and huge values in messages ================================================
def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("train: *a8")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 700
    cmd = [sys.executable, "-m", "symtune.cli", "run", "--config", str(bomb), "--out", str(tmp_path / "r"),
           "--dry-run"]

    def cap():  # 2 GB: the bomb must not be expanded in memory
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, preexec_fn=cap,
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "expands to more than 100,000 values through YAML aliases" in err


def test_recursive_yaml_alias_is_refused(tmp_path, capsys):
    f = tmp_path / "loop.yaml"
    f.write_text("train: &t\n  lr: 1\n  self: *t\n")
    assert main(["run", "--config", str(f), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    one_line_error(capsys, "refers to itself")


def test_error_messages_show_a_bounded_value():
    from symtune.config import resolve
    from symtune.run_config import RunConfig

    huge = [[i] * 1000 for i in range(1000)]
    t = time.perf_counter()
    with pytest.raises(SymtuneError, match="'train' must be a mapping") as e:
        resolve(RunConfig, [("x.yaml", {"train": huge})])
    assert len(str(e.value)) < 400 and time.perf_counter() - t < 2


# == 21. a full disk ================================================================================
def _fsync_fails_for(monkeypatch, needle: str):
    real = os.fsync

    def fsync(fd):
        if needle in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_full_disk_in_data_force_is_one_line_and_keeps_the_old_file(tiny_model_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "d.jsonl"
    out.write_text("old rows\n")
    (tmp_path / "d.stats.json").write_text("{}")
    before = tree(tmp_path)
    _fsync_fails_for(monkeypatch, "d.jsonl")
    assert main(["data", "--model", tiny_model_dir, "--out", str(out), "--force", "--n-prompts", "3"]) == 2
    one_line_error(capsys, f"cannot write {out}: No space left on device")
    assert tree(tmp_path) == before  # old file intact, no temporary left


def test_full_disk_in_eval_is_one_line_and_the_same_command_then_finishes(tiny_model_dir, tmp_path, monkeypatch,
                                                                          capsys):
    out = tmp_path / "ev"
    _fsync_fails_for(monkeypatch, "results.json")
    assert main(tiny_eval_args(tiny_model_dir, out)) == 2
    one_line_error(capsys, f"cannot write {out / 'results.json'}: No space left on device")
    assert not (out / "results.json").exists() and not list(out.glob(".*.tmp"))
    samples = (out / "samples_icl_tweets_pn.jsonl").read_text()
    monkeypatch.undo()
    assert main(tiny_eval_args(tiny_model_dir, out)) == 0  # space freed: the rerun finishes from the samples
    assert json.loads((out / "results.json").read_text())["n_resumed"] == len(samples.splitlines())


# == 24. two stores of one cache entry ==============================================================
def test_racing_cache_stores_keep_the_first_entry(tmp_path, monkeypatch):
    from symtune.eval import cache

    src = tmp_path / "eval_base"
    src.mkdir()
    (src / "results.json").write_text('{"n": 1}')
    root, key = tmp_path / "cache", "k" * 32
    real_replace = os.replace

    def lose_the_race(a, b):  # the other store renames its complete entry into place just before ours
        if Path(b) == root / key and not (root / key).exists():
            (root / key).mkdir()
            (root / key / "results.json").write_text('{"n": 1}')
            (root / key / cache.ENTRY_FILE).write_text('{"winner": true}')
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", lose_the_race)
    assert cache.store(src, key, root, {}) == root / key
    assert json.loads((root / key / cache.ENTRY_FILE).read_text()) == {"winner": True}
    assert sorted(p.name for p in root.iterdir()) == [key]  # our copy discarded, no temporary left


# == 25. a damaged run.json, a folder as --config ===================================================
def test_truncated_run_json_is_named_as_damaged(tiny_model_dir, tmp_path):
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    out = tmp_path / "run"
    run_pipeline(tiny_cfg(tiny_model_dir), out, stop_after="data")
    text = (out / "run.json").read_text()
    (out / "run.json").write_text(text[: len(text) // 2])  # killed mid-write by something else
    with pytest.raises(SymtuneError) as e:
        run_pipeline(tiny_cfg(tiny_model_dir), out, stop_after="data")
    assert f"{out / 'run.json'} is damaged" in str(e.value) and "different config" not in str(e.value)
    run_pipeline(tiny_cfg(tiny_model_dir), out, force=True, stop_after="data")  # --force rewrites it
    assert json.loads((out / "run.json").read_text())["skipped"] == ["data"]


def test_config_folder_is_named_as_a_folder(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    one_line_error(capsys, f"config file {tmp_path} is a folder; pass a YAML file")
