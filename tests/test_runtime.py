"""symtune.runtime: one relaunch path for train and eval, one child test, interrupts passed through."""

import signal

import pytest
import yaml

from symtune import runtime
from symtune.errors import SymtuneError
from symtune.eval.config import EvalConfig
from symtune.train.config import TrainConfig


def test_in_child(monkeypatch):
    monkeypatch.delenv(runtime.CHILD_ENV, raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not runtime.in_child()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not runtime.in_child()
    monkeypatch.setenv("WORLD_SIZE", "2")  # a launcher the user ran
    assert runtime.in_child()
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv(runtime.CHILD_ENV, "1")  # started by runtime.launch
    assert runtime.in_child()


class FakeProc:
    def __init__(self, rc, seen):
        self.rc, self.seen = rc, seen

    def wait(self, timeout=None):
        return self.rc

    def send_signal(self, sig):
        self.seen["signal"] = sig


@pytest.mark.parametrize("verb, cfg, kw, expect", [
    ("train", TrainConfig(accelerate_config="cpu-ddp", steps=3), {"accelerate_config": "cpu-ddp"}, "--config_file"),
    ("eval", EvalConfig(processes=2, limit=4), {"processes": 2, "verb_args": ["--out", "o"]}, "--num_processes"),
])
def test_launch_passes_the_resolved_config_to_a_child(monkeypatch, verb, cfg, kw, expect):
    seen = {}

    def popen(cmd, env):
        seen["cmd"], seen["env"] = cmd, env
        i = cmd.index("--config")
        seen["cfg"] = yaml.safe_load(open(cmd[i + 1]).read())
        return FakeProc(0, seen)

    monkeypatch.setattr(runtime.subprocess, "Popen", popen)
    runtime.launch(verb, cfg, **kw)
    cmd = seen["cmd"]
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and expect in cmd
    assert cmd[cmd.index("symtune.cli") + 1] == verb and seen["env"][runtime.CHILD_ENV] == "1"
    assert seen["cfg"].get("accelerate_config") is None  # the child never relaunches
    assert seen["cfg"].get("steps", seen["cfg"].get("limit")) in (3, 4)


@pytest.mark.parametrize("rc, raised", [(130, runtime.Interrupted), (143, runtime.Interrupted), (1, SymtuneError)])
def test_child_exit_codes(monkeypatch, rc, raised):
    monkeypatch.setattr(runtime.subprocess, "Popen", lambda cmd, env: FakeProc(rc, {}))
    with pytest.raises(raised) as e:
        runtime.launch("eval", EvalConfig(processes=2), processes=2)
    if raised is runtime.Interrupted:
        assert e.value.exit_code == rc


def test_interrupt_is_passed_to_the_child(monkeypatch):
    seen = {}

    class Proc(FakeProc):
        calls = 0

        def wait(self, timeout=None):
            Proc.calls += 1
            if Proc.calls == 1:
                raise runtime.Interrupted(signal.SIGTERM)
            return 143

    monkeypatch.setattr(runtime.subprocess, "Popen", lambda cmd, env: Proc(0, seen))
    with pytest.raises(runtime.Interrupted):
        runtime.launch("eval", EvalConfig(processes=2), processes=2)
    assert seen["signal"] == signal.SIGTERM
