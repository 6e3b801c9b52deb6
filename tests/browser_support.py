"""A real ``bptui serve`` process and a real browser for the end-to-end tests.

The served page draws the terminal on a canvas, so what the app shows is read
from the page's websocket (the bytes the app sends), not from the DOM. Only
127.0.0.1 is ever listened on or connected to: the browser is told to resolve
no other name and every other request is refused.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LOCALHOST = "127.0.0.1"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No name resolves to anything but this machine (the page asks for Google Fonts).
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOCALHOST}",
]

#: Escape sequences a terminal acts on without showing: CSI, OSC and two-byte ones.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, clipboard
    r"|\x1b[^\[\]]"  # two-byte escapes (save cursor, keypad modes, …)
)


def chromium_path() -> str | None:
    """Debian's chromium (``BPTUI_CHROMIUM`` overrides), or None when there is none."""
    given = os.environ.get("BPTUI_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("chromium")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


def visible_text(raw: str) -> str:
    """What a terminal would show of ``raw``, in order, escape sequences removed."""
    return _ESCAPES.sub("", raw)


@dataclass
class ServedApp:
    """A running ``bptui serve``; ``url`` is its page."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"

    def output(self) -> str:
        """Its stdout and stderr, once it has ended (for failure messages)."""
        out, err = self.process.communicate(timeout=10)
        return (out + err).decode("utf-8", "replace")


def _wait_until_listening(served: ServedApp, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"bptui serve ended early:\n{served.output()}")
        try:
            with socket.create_connection((LOCALHOST, served.port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"bptui serve did not listen on {served.url} within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server and every session it started (they share its process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl+C, as a user stops it
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # sessions that outlived it
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=10)


@contextmanager
def served_bptui(*args: str, timeout: float = 30) -> Iterator[ServedApp]:
    """``python -m bptui serve ARGS`` on a free 127.0.0.1 port, always stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "bptui", "serve", *args, "--host", LOCALHOST]
    command += ["--port", str(port)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the sessions are stopped with it
    )
    served = ServedApp(process, port)
    try:
        _wait_until_listening(served, timeout)
        yield served
    finally:
        _stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Screen:
    """Everything one page's app session sent over its websocket, as visible text."""

    page: Any
    _raw: list[str] = field(default_factory=list)
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )

    def attach(self, websocket: Any) -> None:
        websocket.on("framereceived", self._received)

    def _received(self, payload: str | bytes) -> None:
        # Text frames are the page's control messages (pong); bytes are the terminal.
        if isinstance(payload, bytes):
            self._raw.append(self._decoder.decode(payload))

    @property
    def mark(self) -> int:
        """A place in the stream: ``text(since=mark)`` is what came after it."""
        return len(self._raw)

    def text(self, since: int = 0) -> str:
        return visible_text("".join(self._raw[since:]))

    def wait_for(self, needle: str, since: int = 0, timeout: float = 20) -> str:
        """Wait until ``needle`` has been sent (after ``since``); the text so far."""
        wait_until(self.page, lambda: needle in self.text(since), timeout, needle)
        return self.text(since)


def wait_until(page: Any, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Let the browser run until ``condition()`` holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what!r} within {timeout} s")
        page.wait_for_timeout(50)  # Playwright delivers events only while it runs


def open_session(browser: Any, url: str, timeout_ms: int = 20_000) -> Screen:
    """A new tab on ``url`` whose app output is collected; requests off 127.0.0.1 refused."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(timeout_ms)
    prefix = f"http://{LOCALHOST}:"
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(prefix) else route.abort(),
    )
    screen = Screen(page)
    page.on("websocket", screen.attach)
    page.goto(url, timeout=timeout_ms)
    return screen


def press(screen: Screen, key: str) -> None:
    """Type ``key`` into the terminal (its hidden textarea holds the keyboard focus)."""
    screen.page.locator("textarea.xterm-helper-textarea").focus()
    screen.page.keyboard.press(key)


def painted(screen: Screen) -> None:
    """Wait two animation frames, so the canvas shows what the socket delivered."""
    screen.page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
