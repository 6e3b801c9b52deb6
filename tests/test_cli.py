"""The command line: options, --output, --list, --version, check, and bad usage.

Most calls run ``bptui.cli.main`` in-process; a few go through a real
``python -m bptui`` so the exit status and streams are the ones a shell sees.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error

from bptui import cli
from bptui.engine import compiled
from bptui.engine.network import Network
from bptui.errors import UsageError
from bptui.scenario.loading import builtin_names, load_builtin

BUILTINS = ["adam", "article", "circle", "deep", "diverge", "softmax3", "spiral", "xor"]
ARTICLE_PARAMS = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]


def python_m_bptui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bptui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


# ------------------------------------------------------------ bad usage
BAD_USAGE = [
    (["trace", "--steps", "-1"], ["--steps", "-1"]),
    (["trace", "--steps", "abc"], ["--steps", "abc"]),
    (["trace", "--steps", "1.5"], ["--steps", "1.5"]),
    (["trace", "--steps"], ["--steps"]),
    (["trace", "--format", "xml"], ["--format", "xml"]),
    (["trace", "--bogus"], ["--bogus"]),
    (["check", "--bogus"], ["--bogus"]),
    (["--bogus"], ["--bogus"]),
    (["trace", "article", "extra"], ["extra"]),
    (["trace", "article", "--config", "x.toml"], ["name", "--config"]),
    (["check", "article", "--config", "x.toml"], ["name", "--config"]),
    (["article", "--config", "x.toml"], ["name", "--config"]),
    (["trace", "nosuch"], ["nosuch", "article"]),
    (["check", "nosuch"], ["nosuch"]),
    (["nosuch"], ["nosuch"]),
    (["trace", "--config", "missing.toml"], ["missing.toml", "no such file"]),
    (["check", "--config", "missing.toml"], ["missing.toml"]),
    (["--config", "missing.toml"], ["missing.toml"]),
]


@pytest.mark.parametrize(
    ("args", "needles"), BAD_USAGE, ids=[" ".join(args) for args, _ in BAD_USAGE]
)
def test_bad_usage_exits_2_with_one_line(run_cli, tmp_path, monkeypatch, args, needles) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run_cli(*args), *needles)


def test_config_that_is_a_directory(run_cli, tmp_path) -> None:
    assert_one_line_error(run_cli("trace", "--config", tmp_path), str(tmp_path), "directory")


def test_config_that_is_not_utf8(run_cli, tmp_path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    assert_one_line_error(run_cli("trace", "--config", path), str(path))


# --------------------------------------------------------------- --output
def test_output_writes_what_stdout_would(run_cli, tmp_path) -> None:
    for fmt in ("json", "csv"):
        target = tmp_path / f"trace.{fmt}"
        printed = run_cli("trace", "--steps", "3", "--format", fmt)
        written = run_cli("trace", "--steps", "3", "--format", fmt, "--output", target)
        assert written.code == 0 and written.out == "" and written.err == ""
        assert target.read_text(encoding="utf-8") == printed.out
    assert len(json.loads((tmp_path / "trace.json").read_text())["steps"]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.csv", "trace.json"]


def test_output_replaces_an_existing_file(run_cli, tmp_path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old contents that are longer than nothing " * 1000)
    assert run_cli("trace", "--steps", "0", "--output", target).code == 0
    assert json.loads(target.read_text())["parameters"] == ARTICLE_PARAMS


def test_output_into_a_missing_folder(run_cli, tmp_path) -> None:
    target = tmp_path / "no" / "such" / "out.json"
    assert_one_line_error(run_cli("trace", "--output", target), "--output", "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_that_is_a_directory(run_cli, tmp_path) -> None:
    assert_one_line_error(run_cli("trace", "--output", tmp_path), "--output", "directory")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [
        ["--config", "missing.toml"],
        ["--config", "bad.toml"],
        ["--steps", "-1"],
        ["nosuch"],
    ],
)
def test_output_untouched_on_bad_input(run_cli, tmp_path, monkeypatch, bad) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[network]\nlayers = [1]\n")
    target = tmp_path / "out.json"
    target.write_text("precious")
    before = os.stat(target)
    result = run_cli("trace", *bad, "--output", target)
    assert_one_line_error(result)
    assert target.read_text() == "precious"
    assert os.stat(target).st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "out.json"]


def test_no_output_file_created_on_bad_input(run_cli, tmp_path) -> None:
    target = tmp_path / "new.json"
    assert_one_line_error(run_cli("trace", "--config", tmp_path / "nope.toml", "--output", target))
    assert list(tmp_path.iterdir()) == []


def test_write_atomically_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    """If the final rename fails, the old file stays whole and no temp file is left."""
    target = tmp_path / "out.json"
    target.write_text("old")

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(cli.os, "replace", fail)
    with pytest.raises(UsageError, match=r"^--output .*out\.json: cannot write \(disk full\)$"):
        cli.write_atomically(str(target), "new " * 10_000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_atomically_relative_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli.write_atomically("plain.txt", "hello")
    assert (tmp_path / "plain.txt").read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["plain.txt"]


# ------------------------------------------------------------------ --list
def test_list_names_every_builtin_with_a_description(run_cli) -> None:
    assert builtin_names() == BUILTINS
    result = run_cli("--list")
    assert result.code == 0 and result.err == ""
    lines = result.out.splitlines()
    assert [line.split()[0] for line in lines] == BUILTINS
    assert all(len(line.split()) > 2 for line in lines)  # a description follows each name


# ------------------------------------------------------------------- check
@pytest.mark.parametrize("name", BUILTINS)
def test_check_every_builtin_agrees(run_cli, name) -> None:
    result = run_cli("check", name)
    assert result.code == 0, result.out
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].startswith(f"Gradient check: {name}, step 0")
    assert lines[-1] == "all gradients agree"
    params = Network(load_builtin(name).arch)
    rows = [line.split() for line in lines[2:-1] if line.split()[0] in params.param_names]
    assert [r[0] for r in rows] == params.param_names
    for r in rows:
        backprop, numeric = float(r[1]), float(r[2])
        assert numeric == pytest.approx(backprop, rel=1e-4, abs=1e-8)
        assert r[4] in ("good", "ok-kink")


def test_check_article_values(run_cli) -> None:
    result = run_cli("check")  # default: the article
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    assert float(rows["b3"][1]) == pytest.approx(-1.7658128, abs=5e-8)
    assert float(rows["b3"][2]) == pytest.approx(-1.7658128, abs=1e-6)
    header = result.out.splitlines()[0]
    assert float(header.rsplit("loss ", 1)[1]) == pytest.approx(3.0667888, abs=5e-8)


def test_check_fails_when_the_engine_is_deliberately_wrong(run_cli, monkeypatch) -> None:
    """Scale backprop's output delta by 1.1: every gradient is 10% off, check exits 1.

    The article net steps as generated Python (bptui/engine/compiled.py), so
    the mistake is planted in the code it generates as well as in Network.
    """
    original = Network.output_delta
    original_lines = compiled._Writer.output_delta

    def wrong_delta(self, z, yhat, y):
        return 1.1 * original(self, z, yhat, y)

    def wrong_delta_lines(self):
        dz = self.v.dz[self.net.depth - 1]
        return original_lines(self) + [f"{d} = 1.1 * {d}" for d in dz]

    monkeypatch.setattr(Network, "output_delta", wrong_delta)
    monkeypatch.setattr(compiled._Writer, "output_delta", wrong_delta_lines)
    result = run_cli("check", "article")
    assert result.code == 1
    assert result.err == ""
    last = result.out.splitlines()[-1]
    assert last.startswith("disagree: ")
    assert last.removeprefix("disagree: ").split(", ") == ARTICLE_PARAMS
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    assert rows["b3"][4] == "wrong"
    assert float(rows["b3"][3]) == pytest.approx(0.1 / 1.1, rel=1e-3)


def test_check_with_a_bad_config(run_cli, write_file) -> None:
    path = write_file(
        "bad.toml", "[network]\nlayers = [1, 1]\nloss = 'hinge'\n[data]\nx=[1]\ny=[1]\n"
    )
    assert_one_line_error(run_cli("check", "--config", path), str(path), "network.loss")


def test_check_grads_missing_file(run_cli, tmp_path) -> None:
    missing = tmp_path / "mine.py"
    assert_one_line_error(run_cli("check", "--grads", missing), str(missing))


# ------------------------------------------------------- a real process
def test_real_process_trace_prints_json() -> None:
    proc = python_m_bptui("trace", "--steps", "1")
    assert proc.returncode == 0 and proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert doc["steps"][1]["loss"] == pytest.approx(2.9817410, abs=5e-8)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["trace", "--steps", "-1"], "--steps"),
        (["trace", "--config", "missing.toml"], "missing.toml"),
        (["--config", "missing.toml"], "missing.toml"),
        (["check", "--wat"], "--wat"),
    ],
)
def test_real_process_bad_input(tmp_path, args, needle) -> None:
    proc = python_m_bptui(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bptui: error: ") and needle in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_real_process_bad_scenario_names_file_and_row(tmp_path) -> None:
    (tmp_path / "s.toml").write_text(
        "[network]\nlayers = [1, 1]\n[data]\nx = [1, 2, 'three']\ny = [1, 2, 3]\n"
    )
    proc = python_m_bptui("trace", "--config", "s.toml", "--output", "out.json", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "bptui: error: s.toml: data.x[2]: must be a number, got 'three'\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_real_process_check_and_list() -> None:
    proc = python_m_bptui("check", "xor")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.splitlines()[-1] == "all gradients agree"
    proc = python_m_bptui("--list")
    assert proc.returncode == 0 and proc.stdout.split()[0] == "adam"


def test_real_process_help_exits_0() -> None:
    proc = python_m_bptui("trace", "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "--steps" in proc.stdout and "--output" in proc.stdout


def test_real_process_closed_pipe_is_not_an_error() -> None:
    """``bptui trace --steps 300 | head -c 100``: the reader leaving is not our failure."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptui", "trace", "--steps", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert head.startswith(b"{")
    assert b"Traceback" not in err and err == b""


def test_trace_is_deterministic(run_cli) -> None:
    first = run_cli("trace", "softmax3", "--steps", "5").out
    second = run_cli("trace", "softmax3", "--steps", "5").out
    assert first == second
    losses = [r["loss"] for r in json.loads(first)["steps"]]
    assert np.all(np.diff(losses) < 0)


def test_check_uses_the_first_batch_and_all_parameters(run_cli, write_file) -> None:
    """With batch_size and trainable, check still compares every parameter's step-0 gradient."""
    text = load_builtin_text("article").replace(
        "seed = 42", 'seed = 42\nbatch_size = 2\ntrainable = ["b3"]'
    )
    result = run_cli("check", "--config", write_file("b.toml", text))
    assert result.code == 0, result.out
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    assert list(rows) == ARTICLE_PARAMS
    # b3's gradient on the first batch (points 0 and 1) only: Σ −2(y − ŷ) over two points.
    full_rows = {line.split()[0]: line.split() for line in run_cli("check").out.splitlines()}
    full = float(full_rows["b3"][1])
    assert float(rows["b3"][1]) != pytest.approx(full)
    assert float(rows["b3"][1]) == pytest.approx(-2 * ((1.2 - 1.51042) + (3.2 - 1.54070)), abs=1e-4)


def test_check_on_a_non_finite_start_fails_cleanly(run_cli, write_file) -> None:
    text = (
        "[network]\nlayers = [1, 1, 1]\nactivation = 'identity'\n"
        "[data]\nx = [1e300, 2.0]\ny = [1.0, 2.0]\n"
        "[[init.layers]]\nW = [[1e300]]\nb = [0.0]\n[[init.layers]]\nW = [[1.0]]\nb = [0.0]\n"
    )
    result = run_cli("check", "--config", write_file("huge.toml", text))
    assert result.code == 1
    assert result.err == ""
    assert result.out.splitlines()[-1] == (
        "the loss or a gradient is not finite at step 0: nothing can be compared"
    )


def load_builtin_text(name: str) -> str:
    return (
        resources.files("bptui").joinpath("scenario", "builtins", f"{name}.toml").read_text("utf-8")
    )


def test_sigterm_during_output_leaves_no_file(tmp_path: Path) -> None:
    """A killed `trace --output` removes its temporary file: no half-written output."""
    interrupted_trace_leaves_nothing(tmp_path, signal.SIGTERM)


def interrupted_trace_leaves_nothing(tmp_path: Path, signum: int) -> None:
    target = tmp_path / "trace.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptui", "trace", "deep", "--steps", "100000", "--output", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(6000):  # poll until the temporary file exists (bounded)
            if list(tmp_path.glob(".trace.json.*.tmp")) or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the trace ended before it could be interrupted"
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(tmp_path.iterdir()) == []


def test_a_toml_file_given_as_a_name_opens_it(run_cli, tmp_path) -> None:
    """`bptui FILE.toml` means `bptui --config FILE.toml`, for every command."""
    path = tmp_path / "mine.toml"
    path.write_text(load_builtin_text("xor"), encoding="utf-8")
    by_name = run_cli("trace", path, "--steps", "2", "--format", "csv")
    by_config = run_cli("trace", "--config", path, "--steps", "2", "--format", "csv")
    assert by_name.code == 0 and by_name.out == by_config.out != ""
    assert run_cli("check", path).out == run_cli("check", "--config", path).out
    missing = run_cli("trace", tmp_path / "nope.toml")
    assert_one_line_error(missing, "nope.toml: no such file")


def test_version(run_cli) -> None:
    from bptui import __version__

    with pytest.raises(SystemExit) as info:
        run_cli("--version")
    assert info.value.code == 0
    proc = python_m_bptui("--version")
    assert proc.returncode == 0 and proc.stdout == f"bptui {__version__}\n"


@pytest.mark.parametrize("how", ["--config", "name"])
def test_output_may_not_replace_the_scenario_file(run_cli, tmp_path, how) -> None:
    path = tmp_path / "mine.toml"
    text = load_builtin_text("article")
    path.write_text(text, encoding="utf-8")
    args = ["--config", path] if how == "--config" else [path]
    result = run_cli("trace", *args, "--output", path)
    assert_one_line_error(result, f"--output {path}", "is the scenario file")
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]


@pytest.mark.parametrize("length", [250, 300])
def test_output_with_a_very_long_name(run_cli, tmp_path, length) -> None:
    """A name the file system takes is written; one it refuses is one line, exit 2."""
    target = tmp_path / ("a" * length)
    result = run_cli("trace", "--steps", "0", "--output", target)
    if length <= 255:
        assert result.code == 0 and result.err == ""
        assert json.loads(target.read_text(encoding="utf-8"))["steps"][0]["step"] == 0
    else:
        assert_one_line_error(result, "--output", "cannot write", "too long")
    assert [p.name for p in tmp_path.iterdir()] == ([target.name] if length <= 255 else [])


def test_stdout_on_a_full_disk_is_one_line() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "bptui", "trace", "--steps", "20"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert (
        proc.stderr == "bptui: error: cannot write to standard output (No space left on device)\n"
    )


def test_closed_stdout_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bptui", "trace", "--steps", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        # The child starts with file descriptor 1 closed, as `bptui trace >&-` does.
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 2
    assert proc.stderr == "bptui: error: standard output is closed (use --output FILE)\n"


@pytest.mark.parametrize("signame", ["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGINT"])
def test_any_ending_signal_during_output_leaves_no_file(tmp_path: Path, signame: str) -> None:
    if not hasattr(signal, signame):
        pytest.skip(f"no {signame} on this platform")
    interrupted_trace_leaves_nothing(tmp_path, getattr(signal, signame))


def test_control_characters_in_a_message_stay_on_one_line(run_cli) -> None:
    """What the user typed is quoted in the message; a newline or escape in it is escaped."""
    result = run_cli("trace", "article", "bad\x85name\n\x1b[2J")
    line = assert_one_line_error(result, "unrecognized arguments")
    assert "\\x85" in line and "\\n" in line and "\\x1b" in line
