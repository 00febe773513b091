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


class _SignalsInDel:
    """Sends `sig` to this process from its own __del__, where Python drops any exception raised."""

    def __init__(self, sig):
        self.sig = sig

    def __del__(self):
        import os

        sig, self.sig = self.sig, None  # once: the collector calls it again when the object goes
        if sig is not None:
            os.kill(os.getpid(), sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_lost_in_a_finalizer_still_stops_the_work(tmp_path, sig):
    """A signal that lands in a __del__ (CI saw SIGTERM land in regex's) cannot raise there; it is kept, and
    the next loop check or atomic commit raises Interrupted, so nothing is written after it."""
    from symtune.provenance import write_text_atomic

    previous = runtime.install_signal_handlers()
    try:
        _SignalsInDel(sig).__del__()  # called as the garbage collector would
        with pytest.raises(runtime.Interrupted) as e:
            write_text_atomic(tmp_path / "out.txt", "x")
        assert e.value.exit_code == 128 + sig
        with pytest.raises(runtime.Interrupted):  # kept until the command ends, not consumed by one raise
            runtime.check_interrupted()
        assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary file
    finally:
        runtime.restore_signal_handlers(previous)
    runtime.check_interrupted()  # the command is over: the next one starts clean
    write_text_atomic(tmp_path / "out.txt", "x")
    assert (tmp_path / "out.txt").read_text() == "x"


def test_a_signal_raises_where_it_lands_outside_finalizers():
    import os

    previous = runtime.install_signal_handlers()
    try:
        with pytest.raises(runtime.Interrupted) as e:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10**6):  # the handler runs between bytecodes of this thread
                pass
        assert e.value.exit_code == 143
    finally:
        runtime.restore_signal_handlers(previous)
    assert signal.getsignal(signal.SIGTERM) is previous[signal.SIGTERM]


def test_command_that_finishes_after_a_lost_signal_exits_interrupted(monkeypatch, capsys):
    """The command line's last check: a verb whose work ended after a lost signal exits 143, not 0."""
    from symtune import cli
    from symtune.commands import hardware

    def run(args):
        _SignalsInDel(signal.SIGTERM).__del__()
        return 0

    monkeypatch.setattr(hardware, "run", run)
    assert cli.main(["hardware"]) == 143
    assert "interrupted; rerun the same command to resume" in capsys.readouterr().err
