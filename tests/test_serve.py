"""``bptui serve``: the address checks, the per-tab command, and the app in a real browser.

The browser test drives Debian's chromium with Playwright against a real
``bptui serve`` on 127.0.0.1; it is skipped, saying why, only when chromium or
Playwright is not installed. No test listens on or connects to any address
but 127.0.0.1: the non-local warning is tested without binding.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    LOCALHOST,
    chromium_path,
    open_session,
    painted,
    press,
    served_bptui,
    visible_text,
)
from cli_support import assert_one_line_error

from bptui.cli import build_parser
from bptui.scenario.loading import load_builtin
from bptui.tui import serve as serve_module
from bptui.tui.serve import exposure_warning, is_loopback, session_command

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_GRADS = REPO / "examples" / "article_grads.py"


@pytest.fixture
def never_serve(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make a test fail instead of serving forever; records the commands it would serve."""
    served: list[str] = []

    def refuse(self: serve_module.BptuiServer, debug: bool = False) -> None:
        served.append(self.command)

    monkeypatch.setattr(serve_module.BptuiServer, "serve", refuse)
    return served


# ------------------------------------------------------------ the address
def test_busy_port_is_exit_2_with_one_line(run_cli, never_serve) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOCALHOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--host", LOCALHOST, "--port", str(port))
    line = assert_one_line_error(result, f"--port {port}", "already in use", LOCALHOST)
    assert "--port" in line
    assert never_serve == []


@pytest.mark.parametrize(
    "host, words",
    [
        ("bad host", ["--host 'bad host'", "not an IP address or host name"]),
        ("999.1.1.1", ["--host '999.1.1.1'", "not an IP address or host name"]),
        ("", ["--host ''", "not an IP address or host name"]),
        ("a..b", ["--host 'a..b'", "not an IP address or host name"]),
        ("-lead.example", ["--host '-lead.example'", "not an IP address or host name"]),
    ],
)
def test_bad_host_is_exit_2_with_one_line(run_cli, never_serve, host, words) -> None:
    # Each is refused by its spelling, before any name lookup could leave the machine.
    assert_one_line_error(run_cli("serve", f"--host={host}"), *words)
    assert never_serve == []


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_bad_port_is_exit_2_with_one_line(run_cli, never_serve, port) -> None:
    assert_one_line_error(run_cli("serve", f"--port={port}"), "--port", port)
    assert never_serve == []


def test_a_bad_scenario_fails_before_serving(run_cli, never_serve, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("serve", "nosuch"), "unknown scenario 'nosuch'")
    missing = tmp_path / "missing.toml"
    assert_one_line_error(run_cli("serve", str(missing)), str(missing))
    bad_grads = tmp_path / "grads.py"
    bad_grads.write_text("def d_nosuch(ctx):\n    return 0.0\n")
    assert_one_line_error(run_cli("serve", "--grads", str(bad_grads)), "nosuch")
    assert never_serve == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.4.5.6", "::1", "localhost", "LOCALHOST."])
def test_loopback_hosts_get_no_warning(host: str) -> None:
    assert is_loopback(host)
    assert exposure_warning(host, 8000) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.org"])
def test_other_hosts_get_one_warning_line(host: str) -> None:
    assert not is_loopback(host)
    warning = exposure_warning(host, 8123)
    assert warning is not None
    assert warning.splitlines() == [warning]
    assert warning.startswith("bptui: warning: ")
    assert f"{host}:8123" in warning
    assert "anyone who can reach this address can use the app" in warning


def test_serve_prints_the_warning_once_for_a_public_host(monkeypatch, never_serve) -> None:
    # The address check is replaced: nothing is bound to 0.0.0.0 here.
    checked: list[tuple[str, int]] = []
    monkeypatch.setattr(serve_module, "check_address", lambda h, p: checked.append((h, p)))
    out, err = io.StringIO(), io.StringIO()
    serve_module.serve("true", host="0.0.0.0", port=8123, out=out, err=err)
    assert checked == [("0.0.0.0", 8123)]
    assert err.getvalue() == exposure_warning("0.0.0.0", 8123) + "\n"
    assert never_serve == ["true"]

    err = io.StringIO()
    serve_module.serve("true", host=LOCALHOST, port=8123, out=out, err=err)
    assert err.getvalue() == ""


# ------------------------------------------------------------ the per-tab command
def session_argv(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:3] == [sys.executable, "-m", "bptui"]
    return words[3:]


def test_session_command_for_a_builtin_name(run_cli, never_serve) -> None:
    assert run_cli("serve", "xor").code == 0
    (command,) = never_serve
    assert session_argv(command) == ["--", "xor"]
    args = build_parser().parse_args(session_argv(command))
    assert (args.name, args.config, args.grads) == ("xor", None, None)


def test_session_command_for_no_name_is_the_default(run_cli, never_serve) -> None:
    assert run_cli("serve").code == 0
    assert never_serve == [shlex.join([sys.executable, "-m", "bptui"])]


def test_session_command_for_a_toml_file_and_grads(run_cli, never_serve, tmp_path) -> None:
    # A name a shell would expand, split or run, and one that looks like an option.
    folder = tmp_path / "it's $(touch pwned) `x` ; a b"
    folder.mkdir()
    scenario = folder / "-my scenario.toml"
    scenario.write_text((REPO / "bptui/scenario/builtins/article.toml").read_text())
    grads = folder / "my grads.py"
    grads.write_text(EXAMPLE_GRADS.read_text())

    assert run_cli("serve", str(scenario), "--grads", str(grads)).code == 0
    assert run_cli("serve", "--config", str(scenario)).code == 0
    by_name, by_config = never_serve
    assert session_argv(by_name) == [f"--grads={grads}", "--", str(scenario)]
    assert session_argv(by_config) == [f"--config={scenario}"]
    for command, name, config, given_grads in [
        (by_name, str(scenario), None, str(grads)),
        (by_config, None, str(scenario), None),
    ]:
        args = build_parser().parse_args(session_argv(command))
        assert (args.name, args.config, args.grads) == (name, config, given_grads)
    assert not (Path.cwd() / "pwned").exists()


def test_session_command_runs_this_python() -> None:
    assert session_command("xor", python="/opt/my python/bin/python3") == (
        "'/opt/my python/bin/python3' -m bptui -- xor"
    )


def test_visible_text_drops_escape_sequences() -> None:
    raw = "\x1b[1;38;2;224;224;224mLoss \x1b[0m\x1b[1m3.066789\x1b[0m\x1b]0;title\x07\x1b7ok"
    assert visible_text(raw) == "Loss 3.066789ok"


# ------------------------------------------------------------ a real browser
@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright; skipped (saying why) only when either is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
    )
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def served():
    """One ``bptui serve`` on 127.0.0.1 for the module; each tab is a session of its own."""
    with served_bptui() as app:
        yield app


def test_the_app_in_a_browser(browser, served, tmp_path: Path) -> None:
    first = open_session(browser, served.url)
    first.wait_for("Loss 3.066789")
    assert "Step 0" in first.text()

    before = first.mark
    press(first, "s")
    after = first.wait_for("2.981741", since=before)
    assert "Step 1" in after

    # A second tab is a session of its own: it starts at step 0.
    second = open_session(browser, served.url)
    second.wait_for("Loss 3.066789")
    assert "Step 1" not in second.text()
    assert "2.981741" not in second.text()
    second.page.close()

    painted(first)
    shot = tmp_path / "browser.png"
    first.page.screenshot(path=str(shot), timeout=20_000)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a painted screen, not a blank page
    if os.environ.get("BPTUI_SCREENSHOTS") == "1":
        (REPO / "screenshots").mkdir(exist_ok=True)
        (REPO / "screenshots" / "browser.png").write_bytes(shot.read_bytes())
    first.page.close()


def websocket_handshake(port: int, origin: str) -> str:
    """The status line the server answers a websocket upgrade from ``origin`` with."""
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {LOCALHOST}:{port}\r\nOrigin: {origin}\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    with socket.create_connection((LOCALHOST, port), timeout=20) as connection:
        connection.sendall(request.encode("ascii"))
        return connection.makefile("rb").readline().decode("ascii").strip()


def test_a_page_from_another_site_cannot_open_a_session(served) -> None:
    # Any page the user visits could otherwise drive their localhost session.
    assert websocket_handshake(served.port, "http://evil.example") == "HTTP/1.1 403 Forbidden"
    own = f"http://{LOCALHOST}:{served.port}"
    assert websocket_handshake(served.port, own) == "HTTP/1.1 101 Switching Protocols"


def test_ctrl_c_ends_the_server_and_its_open_sessions() -> None:
    with served_bptui() as app:
        with socket.create_connection((LOCALHOST, app.port), timeout=20) as held_open:
            held_open.sendall(
                (
                    f"GET /ws HTTP/1.1\r\nHost: {LOCALHOST}:{app.port}\r\n"
                    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                ).encode("ascii")
            )
            status = held_open.makefile("rb").readline().decode("ascii").strip()
            assert status == "HTTP/1.1 101 Switching Protocols"
            # The session's app process starts; Ctrl+C to the server alone must end it too.
            os.kill(app.process.pid, signal.SIGINT)
            assert app.process.wait(timeout=15) == 0
            assert_group_ends(app.process.pid, timeout=15)
        assert "bptui: serving article on" in app.output()


def assert_group_ends(group: int, timeout: float) -> None:
    """Every process of ``group`` (the server's sessions) has ended within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"a session of the stopped server still runs after {timeout} s")


# ------------------------------------------------ exported math, rendered by KaTeX
#: The KaTeX the test renders with: installed once from the npm registry into this cache.
KATEX_VERSION = "0.16"
_DISPLAY_MATH = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.S | re.M)
_INLINE_MATH = re.compile(r"\$([^$\n]+)\$")


def _katex_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bptui-test" / f"katex-{KATEX_VERSION}"


@pytest.fixture(scope="session")
def katex_js() -> Path:
    """katex.min.js from the cache, installed there by npm on first use.

    Skipped, saying why, when npm is missing or cannot reach the registry.
    The install goes to a temporary folder renamed into place, so an
    interrupted one is never taken for a finished one.
    """
    script = _katex_cache() / "node_modules" / "katex" / "dist" / "katex.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch KaTeX to render the exported math")
    cache = _katex_cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as scratch:
        command = [npm, "install", "--no-audit", "--no-fund", "--prefix", scratch]
        try:
            done = subprocess.run(
                [*command, f"katex@{KATEX_VERSION}"], capture_output=True, text=True, timeout=180
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm install katex took over 180 s (no network to the npm registry?)")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"npm install katex failed (no network to the npm registry?): {last}")
        try:
            os.replace(scratch, cache)
        except OSError:
            pass  # another test run put it there first
        Path(scratch).mkdir(exist_ok=True)  # for TemporaryDirectory's cleanup
    assert script.is_file(), f"npm installed KaTeX but {script} is missing"
    return script


def math_of(markdown: str) -> list[tuple[str, bool]]:
    """Every math expression of a Markdown export: (TeX, display?), display blocks first."""
    blocks = [(tex, True) for tex in _DISPLAY_MATH.findall(markdown)]
    prose = _DISPLAY_MATH.sub("", markdown)
    inline = [(tex, False) for tex in _INLINE_MATH.findall(prose)]
    assert "$" not in _INLINE_MATH.sub("", prose), "a $ that opens no math"
    return blocks + inline


RENDER_ALL = """(items) => items.map(([tex, display]) => {
    const box = document.createElement("div");
    try {
        katex.render(tex, box, {throwOnError: true, displayMode: display, strict: "error"});
        return {error: null, text: box.querySelector(".katex-html").textContent};
    } catch (e) {
        return {error: String(e), text: ""};
    }
})"""


@pytest.mark.parametrize(
    "scenario, step, worksheet, shown",
    [
        ("article", 0, False, ["0.718291", "3.06679", "0.00646880"]),
        ("xor", 0, False, []),
        ("article", 1, True, []),  # a worksheet and its key: blanks and numbered answers
    ],
)
def test_exported_markdown_math_renders_in_katex(
    browser, katex_js: Path, tmp_path: Path, scenario: str, step: int, worksheet: bool, shown
) -> None:
    from bptui.debug.worked import export

    sheet, key = export(load_builtin(scenario), "md", step=step, as_exercise=worksheet)
    items = math_of(sheet + (key or ""))
    assert len(items) > 20
    page_file = tmp_path / "math.html"
    page_file.write_text(
        f'<!doctype html><meta charset="utf-8"><script src="{katex_js.as_uri()}"></script>',
        encoding="utf-8",
    )
    page = browser.new_page()
    page.set_default_timeout(20_000)
    # Files from disk only: nothing in this page may come from the network.
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith("file://") else route.abort()
        ),
    )
    try:
        page.goto(page_file.as_uri())
        assert page.evaluate("typeof katex.render") == "function"
        results = page.evaluate(RENDER_ALL, [list(item) for item in items])
    finally:
        page.close()
    errors = [(tex, r["error"]) for (tex, _), r in zip(items, results) if r["error"]]
    assert errors == []
    rendered = "".join(r["text"] for r in results)
    for number in shown:
        assert number in rendered, number
