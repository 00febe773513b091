"""dtype/device `auto`: resolution per machine class (capabilities mocked), the emulated-bf16 warning, the
resolved pair in hashes, cache keys and recorded outputs, and an explicit --device cpu run on the real model."""

import json

import pytest

from symtune import hardware
from symtune.errors import SymtuneError


def machine(monkeypatch, cuda=False, cuda_bf16=False, gpus=1, mps=False, cpu_bf16=False, cpu_fp16=False):
    monkeypatch.setattr(hardware, "cuda_available", lambda: cuda)
    monkeypatch.setattr(hardware, "cuda_bf16", lambda: cuda_bf16)
    monkeypatch.setattr(hardware, "cuda_count", lambda: gpus if cuda else 0)
    monkeypatch.setattr(hardware, "mps_available", lambda: mps)
    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: cpu_bf16)
    monkeypatch.setattr(hardware, "cpu_fp16_native", lambda: cpu_fp16)


@pytest.mark.parametrize("caps, purpose, device, dtype", [
    (dict(cuda=True, cuda_bf16=True), "eval", "cuda", "bfloat16"),
    (dict(cuda=True, cuda_bf16=True), "train", "cuda", "bfloat16"),
    (dict(cuda=True, cuda_bf16=False), "eval", "cuda", "float16"),
    (dict(cuda=True, cuda_bf16=False), "train", "cuda", "float32"),
    (dict(mps=True), "eval", "mps", "float32"),
    (dict(mps=True, cuda=True, cuda_bf16=True), "eval", "cuda", "bfloat16"),  # cuda before mps
    (dict(cpu_bf16=True), "eval", "cpu", "bfloat16"),
    (dict(cpu_bf16=True), "train", "cpu", "bfloat16"),
    (dict(cpu_bf16=False), "eval", "cpu", "float32"),
    (dict(cpu_bf16=False), "train", "cpu", "float32"),
])
def test_auto_resolution_per_machine_class(monkeypatch, caps, purpose, device, dtype):
    machine(monkeypatch, **caps)
    hw = hardware.resolve("auto", "auto", purpose)
    assert (hw.device, hw.dtype) == (device, dtype)
    assert hw.reason.startswith("auto:") and not hw.emulated
    assert (hw.requested_device, hw.requested_dtype) == ("auto", "auto")


def test_explicit_device_on_a_gpu_machine_and_missing_devices(monkeypatch):
    machine(monkeypatch, cuda=True, cuda_bf16=True)
    hw = hardware.resolve("cpu", "auto", "eval")  # --device cpu on a GPU machine: the CPU's own rule
    assert (hw.device, hw.dtype) == ("cpu", "float32")
    machine(monkeypatch)
    with pytest.raises(SymtuneError, match="device cuda was asked for but torch sees no CUDA GPU"):
        hardware.resolve("cuda", "auto", "eval")
    with pytest.raises(SymtuneError, match="no Apple MPS"):
        hardware.resolve("mps", "auto", "eval")
    with pytest.raises(SymtuneError, match="unknown device 'tpu'"):
        hardware.resolve("tpu", "auto", "eval")
    with pytest.raises(SymtuneError, match="float16 is not supported for training"):
        hardware.resolve("cpu", "float16", "train")


def test_emulated_bf16_still_runs_with_one_warning_line(monkeypatch, capsys):
    machine(monkeypatch, cpu_bf16=False)
    hw = hardware.resolve("auto", "bfloat16", "eval")
    assert (hw.device, hw.dtype, hw.emulated) == ("cpu", "bfloat16", True)
    hardware.announce(hw, "eval", "--eval.dtype")
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "symtune eval: device cpu, dtype bfloat16 (asked for; emulated on this CPU, many times slower)"
    assert len(err) == 2 and "many times slower than float32; pass --eval.dtype float32" in err[1]
    machine(monkeypatch, cpu_bf16=True)
    hw = hardware.resolve("auto", "bfloat16", "eval")
    assert not hw.emulated
    hardware.announce(hw, "eval")
    assert len(capsys.readouterr().err.strip().splitlines()) == 1  # native: the start line only


def test_default_processes_follow_device_and_dtype(monkeypatch):
    machine(monkeypatch, cuda=True, cuda_bf16=True, gpus=4)
    assert hardware.default_processes(hardware.resolve()) == 4  # one per GPU
    machine(monkeypatch, cpu_bf16=True)
    assert hardware.default_processes(hardware.resolve()) == hardware.CPU_PROCESSES["bfloat16"]
    machine(monkeypatch, cpu_bf16=False)
    assert hardware.default_processes(hardware.resolve()) == hardware.CPU_PROCESSES["float32"]


def test_resolved_dtype_is_what_is_hashed_and_cached(monkeypatch, tiny_model_dir):
    from symtune.eval import cache
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import config_hash

    cfg = EvalConfig(model=tiny_model_dir, suite="icl", tasks=["bbc_sport_business"], limit=2)
    assert cfg.dtype == "auto" and cfg.device == "auto"
    machine(monkeypatch, cpu_bf16=True)
    h_native, k_native = config_hash(cfg), cache.cache_key(cfg)
    import dataclasses

    assert h_native == config_hash(dataclasses.replace(cfg, dtype="bfloat16", device="cpu"))
    assert k_native == cache.cache_key(dataclasses.replace(cfg, dtype="bfloat16"))
    machine(monkeypatch, cpu_bf16=False)
    h_plain, k_plain = config_hash(cfg), cache.cache_key(cfg)
    assert h_plain == config_hash(dataclasses.replace(cfg, dtype="float32"))
    assert h_plain != h_native and k_plain != k_native  # machines that resolve differently never share


def test_stage_hashes_use_the_resolved_dtype(monkeypatch):
    from symtune.pipeline import stage_hashes
    from symtune.run_config import resolve_run

    cfg = resolve_run(None, {"preset": "quick"})
    assert cfg.train.dtype == "auto" and cfg.eval.dtype == "auto"
    machine(monkeypatch, cpu_bf16=True)
    native = stage_hashes(cfg)
    machine(monkeypatch, cpu_bf16=False)
    plain = stage_hashes(cfg)
    assert native["data"] == plain["data"]  # the data do not depend on the machine
    for stage in ("eval_base", "train", "eval_tuned", "report"):
        assert native[stage] != plain[stage]
    explicit = resolve_run(None, {"preset": "quick", "train": {"dtype": "float32"}, "eval": {"dtype": "float32"}})
    assert stage_hashes(explicit) == plain  # auto that resolves to fp32 == asking for fp32


def test_every_preset_defaults_to_auto():
    from symtune.run_config import PRESETS, resolve_run

    for name in PRESETS:
        cfg = resolve_run(None, {"preset": name})
        assert (cfg.train.dtype, cfg.eval.dtype, cfg.train.device, cfg.eval.device) == ("auto",) * 4, name
        assert cfg.eval.processes is None, name


def test_checkpointing_decision_follows_memory(monkeypatch):
    from transformers import LlamaConfig

    from symtune.train import memory
    from symtune.train.config import TrainConfig

    mc = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30)
    hw = hardware.Hardware("cpu", "float32", "test")
    cfg = TrainConfig(batch_size=8, max_length=384)
    need = memory.activation_bytes(mc, 8 * 384, "float32", lora=True)
    monkeypatch.setattr(memory, "available_bytes", lambda device: 3.1 * need)
    assert memory.checkpointing_decision(cfg, mc, hw, 1000)[0] is False
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2.9 * need)
    on, why = memory.checkpointing_decision(cfg, mc, hw, 1000)
    assert on is True and "8 x 384 tokens" in why
    assert memory.checkpointing_decision(cfg, mc, hw, 100)[0] is False  # short rows need less
    import dataclasses

    assert memory.checkpointing_decision(dataclasses.replace(cfg, gradient_checkpointing=False), mc, hw,
                                         1000) == (False, "asked for")


@pytest.mark.integration
def test_explicit_cpu_eval_on_the_bundled_model_records_what_ran(tmp_path, bundled_model_dir, capsys):
    from symtune.eval import EvalConfig, evaluate

    cfg = EvalConfig(model=bundled_model_dir, suite="icl", tasks=["bbc_sport_business"], limit=2, device="cpu",
                     processes=1, progress=False)
    doc = evaluate(cfg, tmp_path / "ev")
    hw = hardware.resolve("cpu", "auto", "eval")
    assert doc["device"] == "cpu" and doc["dtype"] == hw.dtype
    assert doc["hardware"]["requested_device"] == "cpu" and doc["hardware"]["requested_dtype"] == "auto"
    assert doc["hardware"]["reason"] == hw.reason
    assert doc["config"]["dtype"] == hw.dtype and doc["config"]["device"] == "cpu"
    stored = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert stored["hardware"] == doc["hardware"]
    assert f"symtune eval: device cpu, dtype {hw.dtype} ({hw.reason})" in capsys.readouterr().err
    assert doc["n_prompts"] == 8
    assert all(0.0 <= doc["summary"][s] <= 1.0 for s in ("instr+labels", "labels", "instr+symbols", "symbols"))


@pytest.mark.slow
def test_gpu_check_script_runs_end_to_end_on_the_cpu(tmp_path, bundled_model_dir):
    """benchmarks/gpu_check.py is prepared for a GPU machine; here its smoke mode (a tiny random model of the
    same family, --device cpu) shows the script itself works and writes every figure it promises."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
    out = tmp_path / "check.json"
    r = subprocess.run([sys.executable, str(script), "--device", "cpu", "--small", "--n", "8", "--steps", "12",
                        "--model-dir", bundled_model_dir, "--out", str(out)], capture_output=True, text=True,
                       timeout=600)
    doc = json.loads(out.read_text())
    ev, tr = doc["eval"], doc["train"]
    assert ev["prompts"] == 8 and ev["max_abs_logprob_diff_fp32"] == 0.0  # cpu vs cpu: the same numbers
    assert 0.0 <= ev["bf16_same_prediction"] <= 1.0 and ev["eval_vs_bound"] > 0
    assert tr["steps"] == 12 and tr["finite"] and tr["device"] == "cpu" and tr["dtype"] == "bfloat16"
    assert tr["train_tokens_per_s"] > 0 and tr["train_vs_bound"] > 0
    assert ("PASS" if doc["pass"] else "FAIL") in r.stdout.splitlines()[-1]
    assert r.returncode == (0 if doc["pass"] else 1)


class _FakeCpu:
    def __init__(self, avx512_bf16, amx):
        self._is_avx512_bf16_supported = lambda: avx512_bf16
        self._is_amx_tile_supported = lambda: amx


@pytest.mark.parametrize("machine_name, avx512_bf16, amx, onednn, native", [
    ("x86_64", False, False, True, False),  # plain AVX-512 (Skylake-SP..Ice Lake): oneDNN says yes, it converts
    ("x86_64", True, False, True, True),    # AVX512-BF16 (Cooper Lake, Zen 4)
    ("x86_64", False, True, True, True),    # AMX (Sapphire Rapids and later)
    ("x86_64", False, False, False, False),  # AVX2 only
    ("aarch64", False, False, True, True),   # ARM: oneDNN's answer
    ("aarch64", False, False, False, False),
])
def test_cpu_bf16_native_needs_the_instructions_on_x86(monkeypatch, machine_name, avx512_bf16, amx, onednn, native):
    import platform

    import torch

    monkeypatch.setattr(platform, "machine", lambda: machine_name)
    monkeypatch.setattr(torch, "cpu", _FakeCpu(avx512_bf16, amx))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn, raising=False)
    assert hardware.cpu_bf16_native() is native


@pytest.mark.parametrize("machine_name, avx512_bf16, amx, kind", [
    ("x86_64", False, False, ""),             # plain AVX-512 or AVX2
    ("x86_64", True, False, "AVX512-BF16"),   # Cooper Lake, Zen 4: ~2x the AMX class's evaluation time
    ("x86_64", True, True, "AMX"),            # Sapphire Rapids and later have both; AMX is what runs
    ("aarch64", True, True, ""),              # not x86: no such instructions to name
])
def test_cpu_bf16_kind_names_the_instructions(monkeypatch, machine_name, avx512_bf16, amx, kind):
    import platform

    import torch

    monkeypatch.setattr(platform, "machine", lambda: machine_name)
    monkeypatch.setattr(torch, "cpu", _FakeCpu(avx512_bf16, amx))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert hardware.cpu_bf16_kind() == kind
    if kind:  # what results.json records as the dtype's reason names the instructions that ran
        assert hardware.resolve("cpu", "auto", "eval").reason.endswith(f"natively ({kind})")
    described = hardware.describe_cpu()
    if machine_name == "x86_64" and not kind:
        assert described.endswith("native bf16: no (emulated)")
    else:
        assert described.endswith("native bf16: yes" + (f" ({kind})" if kind else ""))


def test_cpu_bf16_kind_falls_back_to_cpuinfo_flags(monkeypatch):
    import platform

    import torch

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch, "cpu", object())
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    assert hardware.cpu_bf16_kind() == "AMX"
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert hardware.cpu_bf16_kind() == "AVX512-BF16"
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2"})
    assert hardware.cpu_bf16_kind() == ""


def test_cpu_bf16_native_falls_back_to_cpuinfo_flags(monkeypatch):
    import platform

    import torch

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch, "cpu", object())  # a torch without the private ISA queries
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_vnni"})
    assert hardware.cpu_bf16_native() is False
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert hardware.cpu_bf16_native() is True


def test_cpu_bf16_native_agrees_with_this_machines_cpuinfo():
    """On the machine running the tests (its class changes between sessions): torch's ISA query and the
    kernel's flags give the same answer, so `dtype: auto` picks bf16 exactly where the instructions exist."""
    import platform

    flags = hardware.cpu_flags()
    if platform.machine().lower() not in hardware.X86 or not flags:
        pytest.skip("not a Linux x86 machine")
    assert hardware.cpu_bf16_native() == bool(flags & {"avx512_bf16", "amx_bf16"})
    assert hardware.cpu_bf16_kind() == ("AMX" if "amx_bf16" in flags else "AVX512-BF16" if "avx512_bf16" in flags else "")


@pytest.mark.parametrize("caps, isa, preset", [
    (dict(cpu_bf16=True), "AVX512", "quick"),                   # AMX / AVX512-BF16: bf16, 100 steps
    (dict(cpu_bf16=False), "AVX512", "quick"),                  # plain AVX-512: fp32, 100 steps (~44 min)
    (dict(cpu_bf16=False), "AVX2", "quick-fp32"),               # AVX2 only: fp32, 40 steps
    (dict(cpu_bf16=False), "DEFAULT", "quick-fp32"),            # aarch64 without bf16, or no vector ISA
    (dict(cuda=True, cuda_bf16=True), "AVX2", "quick"),         # a GPU, whatever the CPU
])
def test_demo_preset_per_machine_class(monkeypatch, caps, isa, preset):
    import torch

    machine(monkeypatch, **caps)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: isa)
    assert hardware.demo_preset(hardware.resolve("auto", "auto", "eval")) == preset


def test_demo_preset_names_a_preset_on_this_machine(capsys):
    """`symtune hardware --demo-preset` prints only a preset name that `make demo` can pass to --preset."""
    from symtune.cli import main
    from symtune.run_config import PRESETS

    assert main(["hardware", "--demo-preset"]) == 0
    assert capsys.readouterr().out.strip() in PRESETS
