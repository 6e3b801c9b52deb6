"""``bptui serve``: the TUI in a browser, one app process per browser tab.

textual-serve runs a web server; every tab that opens the page gets its own
``python -m bptui …`` process (a shell command, built here with shlex), so
sessions never share state. What the server checks before it starts is here
too: the host is an address or a valid name, the port is free, and a host
other than this machine's loopback gets one warning line, because textual-serve
has no login — anyone who reaches the address can use the app.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import shlex
import signal
import socket
import sys
from typing import TextIO
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from bptui.errors import UsageError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000

#: How long Ctrl+C waits for open sessions before ending them (aiohttp's default is 60 s).
SHUTDOWN_SECONDS = 2.0

#: A DNS label (RFC 1123): letters, digits and inner hyphens, at most 63 long.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def session_command(
    name: str | None = None,
    config: str | None = None,
    grads: str | None = None,
    python: str = sys.executable,
) -> str:
    """The shell command textual-serve runs for each tab: this python, these options.

    Options are written ``--config=FILE`` and the name after ``--``, so a file
    whose name starts with ``-`` (or is called ``trace``) stays a file.
    """
    words = [python, "-m", "bptui"]
    if config is not None:
        words.append(f"--config={config}")
    if grads is not None:
        words.append(f"--grads={grads}")
    if name is not None:
        words += ["--", name]
    return shlex.join(words)


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The one warning line for a host other people may reach; None for loopback."""
    if is_loopback(host):
        return None
    return (
        f"bptui: warning: serving on {host}:{port} — anyone who can reach this "
        "address can use the app (there is no login)"
    )


def _check_host_syntax(host: str) -> None:
    """An IP address or a host name; refused before any lookup when it is neither."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    # A name whose last label is all digits would be a mistyped IPv4 address.
    if (
        len(host) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise UsageError(f"--host {host!r}: not an IP address or host name")


def check_address(host: str, port: int) -> None:
    """Fail with one line unless ``host:port`` can be listened on right now.

    The server would find out too, but only after printing its banner, and in
    words that name neither option.
    """
    _check_host_syntax(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise UsageError(f"--host {host}: no such address or host name") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: a port left in TIME_WAIT by a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise UsageError(_bind_problem(host, port, e)) from None


def _bind_problem(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"--port {port}: already in use on {host} (choose another with --port)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if error.errno == errno.EACCES:
        return f"--port {port}: not allowed (ports below 1024 need privileges)"
    return f"--host {host} --port {port}: cannot listen ({error.strerror or error})"


class BptuiServer(Server):
    """textual-serve's server, with bptui's banner and two safety rules.

    - The page's links use the address the browser asked for, so a server
      bound to 0.0.0.0 works from another machine (textual-serve would write
      ``ws://0.0.0.0:…``, which no browser can reach).
    - A websocket opened from another site's page is refused: any page the
      user visits could otherwise drive a localhost session.
    """

    def __init__(self, command: str, host: str, port: int, scenario: str, out: TextIO) -> None:
        super().__init__(command, host=host, port=port, title=f"bptui — {scenario}")
        self._scenario = scenario
        self._out = out

    def serve(self, debug: bool = False) -> None:
        """As textual-serve's, but Ctrl+C ends open sessions in seconds, not a minute."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for stop in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=None,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )

    async def on_startup(self, app: web.Application) -> None:
        self._out.write(
            f"bptui: serving {self._scenario} on http://{_url_host(self.host)}:{self.port}/ "
            "(each browser tab is its own session; Ctrl+C stops)\n"
        )
        self._out.flush()

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # The template reads public_url with no await in between: one request at a time.
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="bptui: a page from another site may not open a session")
        return await super().handle_websocket(request)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    command: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    scenario: str = "article",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> None:
    """Check the address, warn when it is reachable by others, then serve until Ctrl+C."""
    check_address(host, port)
    warning = exposure_warning(host, port)
    if warning:
        err.write(warning + "\n")
        err.flush()
    server = BptuiServer(command, host=host, port=port, scenario=scenario, out=out)
    try:
        server.serve()
    except OSError as e:  # taken between the check and the server's own bind
        raise UsageError(_bind_problem(host, port, e)) from None
