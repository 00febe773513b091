""".ci/run and .ci/install-chromium: the clean-clone CI installs Chromium when it is missing, so the report's
browser test runs there, and it requires that test instead of letting it skip."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / ".ci" / "install-chromium"


def fake_bin(tmp_path: Path, chromium: bool) -> Path:
    """A PATH folder with a recording apt-get (which "installs" chromium) and the basic tools the script uses."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "apt.log"
    (bin_ / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n'
        f'case "$*" in *install*) printf "#!/bin/sh\\necho fake\\n" > {bin_}/chromium; chmod +x {bin_}/chromium;; esac\n')
    (bin_ / "apt-get").chmod(0o755)
    if chromium:
        (bin_ / "chromium").write_text("#!/bin/sh\necho fake\n")
        (bin_ / "chromium").chmod(0o755)
    for tool in ("id", "sudo"):  # root in CI; a non-root run would go through sudo
        (bin_ / tool).write_text("#!/bin/sh\n" + ("echo 0\n" if tool == "id" else 'exec "$@"\n'))
        (bin_ / tool).chmod(0o755)
    return bin_


def run_install(bin_: Path):
    env = dict(os.environ, PATH=f"{bin_}:/usr/bin:/bin")
    # keep any real chromium out of reach: only the fake folder and the basic system folders are searched,
    # and the test is skipped where the system itself has a chromium there
    return subprocess.run(["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60)


def test_missing_chromium_is_installed_from_debian(tmp_path):
    import shutil

    if shutil.which("chromium", path="/usr/bin:/bin"):
        bin_ = fake_bin(tmp_path, chromium=False)
        r = run_install(bin_)
        assert r.returncode == 0 and "found at /usr/bin/chromium" in r.stdout  # nothing to install
        assert not (tmp_path / "apt.log").exists()
        return
    bin_ = fake_bin(tmp_path, chromium=False)
    r = run_install(bin_)
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1] == "install -y -qq --no-install-recommends chromium"
    assert "installing Debian's chromium" in r.stdout


def test_present_chromium_is_left_alone(tmp_path):
    bin_ = fake_bin(tmp_path, chromium=True)
    r = run_install(bin_)
    assert r.returncode == 0 and "chromium found at" in r.stdout
    assert not (tmp_path / "apt.log").exists()


def test_ci_installs_chromium_then_requires_the_browser_test_then_runs_make_test():
    lines = [x.strip() for x in (ROOT / ".ci" / "run").read_text().splitlines() if x.strip() and not x.startswith("#")]
    assert lines.index(".ci/install-chromium") < lines.index("make test")
    assert "export SYMTUNE_REQUIRE_BROWSER=1" in " ".join(lines)
    assert "set -euo pipefail" in lines  # a failed install or test fails CI
    layout = (ROOT / "tests" / "test_report_layout.py").read_text()
    assert 'os.environ.get("SYMTUNE_REQUIRE_BROWSER") != "1"' in layout
