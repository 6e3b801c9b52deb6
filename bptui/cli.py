"""Command line: the TUI, ``trace``, ``check``, ``--list`` and ``--version``.

Bad input of any kind exits 2 with one line on stderr naming the problem and
its place; nothing here ever lets a traceback or a numpy warning through.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

from bptui import __version__
from bptui.errors import BadInput, UsageError, one_line
from bptui.scenario.loading import builtin_description, builtin_names, load_builtin, load_file
from bptui.scenario.model import Scenario

EXIT_OK, EXIT_DISAGREE, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports one line and exits 2 instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _scenario_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", nargs="?", help="built-in scenario (see --list), or a FILE.toml to open"
    )
    parser.add_argument("--config", metavar="FILE.toml", help="scenario file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bptui",
        description="See backpropagation one step at a time.",
        epilog=(
            "Subcommands: 'bptui trace …' (headless trace), 'bptui check …' (gradient check),"
            " 'bptui serve …' (the app in a browser), 'bptui lesson [FILE]' (a guided walk)."
        ),
    )
    _scenario_args(parser)
    parser.add_argument("--list", action="store_true", help="list built-in scenarios")
    parser.add_argument("--version", action="version", version=f"bptui {__version__}")
    parser.add_argument("--grads", metavar="FILE.py", help="your own d_<param> derivatives")
    _train_with_yours_arg(parser)
    parser.add_argument(
        "--impl", metavar="FILE.py", help="your own forward/backward, checked as it runs"
    )
    return parser


def _train_with_yours_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--train-with-yours",
        action="store_true",
        help="with --grads or --impl: a second run whose updates descend your gradients",
    )


def _your_training(
    scenario: Scenario, grads: str | None, impl: str | None, train_with_yours: bool
) -> Any:
    """``--grads FILE`` or ``--impl FILE`` with ``--train-with-yours``: the training on the
    file's gradients (None without)."""
    if not train_with_yours:
        return None
    if grads and impl:
        raise UsageError(
            "--train-with-yours trains with one file: give --grads or --impl, not both"
        )
    if impl:
        from bptui.debug.impl.train import training_with_your_backward

        return training_with_your_backward(scenario.training(), impl)
    if not grads:
        raise UsageError(
            "--train-with-yours needs --grads FILE or --impl FILE: the gradients to train with"
        )
    from bptui.debug.usergrads import load_user_grads
    from bptui.debug.usergrads.yours import training_with_yours

    user_grads = load_user_grads(grads, scenario.network())
    return training_with_yours(scenario.training(), user_grads)


def build_trace_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bptui trace", description="Run N steps headless and print the trace.")
    _scenario_args(parser)
    parser.add_argument(
        "--steps", type=_count, default=1, help="gradient-descent steps (default 1)"
    )
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.add_argument(
        "--output", metavar="FILE", help="write here (atomically) instead of stdout"
    )
    parser.add_argument(
        "--grads", metavar="FILE.py", help="with --train-with-yours: your d_<param> derivatives"
    )
    parser.add_argument(
        "--impl", metavar="FILE.py", help="with --train-with-yours: your forward/backward"
    )
    _train_with_yours_arg(parser)
    return parser


def build_check_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bptui check", description="Finite-difference gradient check.")
    _scenario_args(parser)
    parser.add_argument(
        "--grads", metavar="FILE.py", help="also check your own d_<param> derivatives"
    )
    parser.add_argument(
        "--impl",
        metavar="FILE.py",
        help="check your own forward/backward tensor by tensor (docs/impl.md)",
    )
    parser.add_argument(
        "--step", type=_count, default=0, help="check at this step, after N updates (default 0)"
    )
    return parser


def build_serve_parser() -> argparse.ArgumentParser:
    from bptui.tui.serve import DEFAULT_HOST, DEFAULT_PORT

    parser = _Parser(
        prog="bptui serve", description="Serve the app to a browser; each tab is its own session."
    )
    _scenario_args(parser)
    parser.add_argument("--grads", metavar="FILE.py", help="your own d_<param> derivatives")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    return parser


def build_lesson_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bptui lesson",
        description="Walk through a lesson: the app with a text panel, → and ← move between stops.",
    )
    parser.add_argument(
        "file", nargs="?", metavar="FILE.toml", help="a lesson file (default: the article's lesson)"
    )
    return parser


def _port(text: str) -> int:
    value = _count(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {value}")
    return value


def build_export_parser() -> argparse.ArgumentParser:
    from bptui.debug.worked import FORMATS

    parser = _Parser(
        prog="bptui export",
        description="Write one step's worked example: forward, loss, chain rule, update.",
    )
    _scenario_args(parser)
    parser.add_argument("--step", type=_count, default=0, help="the step to work out (default 0)")
    parser.add_argument(
        "--param",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="parameters whose chain rule to write (default: all, or w1 and b1 of a big net)",
    )
    parser.add_argument(
        "--format",
        choices=(*FORMATS, "python"),
        default="md",
        help="python: the net's whole step as plain Python, runnable",
    )
    parser.add_argument(
        "--exercise", action="store_true", help="computed numbers blank, with an answer key"
    )
    parser.add_argument(
        "--seed", type=_count, help="move the data by this seed (each student their own)"
    )
    parser.add_argument(
        "--output", metavar="FILE", help="write here (atomically) instead of stdout"
    )
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def resolve_scenario(name: str | None, config: str | None) -> Scenario:
    """A built-in by name, or a file: ``--config FILE`` or a name ending in .toml."""
    if name and config:
        raise UsageError("give a scenario name or --config, not both")
    if name and name.endswith(".toml"):
        config = name
    if config:
        return load_file(config)
    return load_builtin(name or "article")


#: Signals that end a process by default: on any of them, --output removes its
#: temporary file before the process goes (those this platform has).
_ENDING_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
    if hasattr(signal, name)
)


def _temporary_name(folder: Path, target: Path) -> Path:
    """A hidden file beside the target, short enough for any file system (255 bytes)."""
    stem = target.name.encode("utf-8")[:160].decode("utf-8", "ignore")
    return folder / f".{stem}.{os.getpid()}.{os.urandom(4).hex()}.tmp"


def _check_output_target(path: str, protected: Sequence[str]) -> tuple[Path, Path]:
    """The output file and its folder, or a UsageError naming what is wrong with it."""
    target = Path(path)
    try:
        if target.is_dir():
            raise UsageError(f"--output {path}: is a directory")
        if target.exists() and not target.is_file():
            raise UsageError(f"--output {path}: not a regular file (leave --output out for stdout)")
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"--output {path}: folder {folder} does not exist")
        for given in protected:
            if target.exists() and Path(given).exists() and os.path.samefile(target, given):
                raise UsageError(f"--output {path}: is the scenario file; it would be overwritten")
    except OSError as e:
        raise UsageError(f"--output {path}: cannot write ({e.strerror or e})") from None
    return target, folder


def write_atomically(path: str, chunks: Iterable[str], protected: Sequence[str] = ()) -> None:
    """Write via a temporary file in the same folder, so no half-written output.

    ``protected`` are files the output must not replace (the scenario it was
    made from).
    """
    target, folder = _check_output_target(path, protected)
    made: list[str] = []

    def interrupted(signum: int, frame: object) -> NoReturn:
        # Not an exception: one raised inside a finalizer would be swallowed.
        for name in made:
            Path(name).unlink(missing_ok=True)
        os._exit(128 + signum)

    previous = {s: signal.signal(s, interrupted) for s in _ENDING_SIGNALS}
    try:
        # The name is recorded before the file exists, so the handler can
        # always remove it, whenever the signal lands.
        tmp = str(_temporary_name(folder, target))
        made.append(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        except OSError as e:
            raise UsageError(f"--output {path}: cannot write ({e.strerror or e})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines(chunks)
            os.replace(tmp, target)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise UsageError(f"--output {path}: cannot write ({e.strerror or e})") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def cmd_trace(argv: Sequence[str]) -> int:
    from bptui.scenario.export import trace_csv, trace_json

    args = build_trace_parser().parse_args(argv)
    if args.grads and not args.train_with_yours:
        raise UsageError("trace --grads goes with --train-with-yours (bptui check --grads checks)")
    if args.impl and not args.train_with_yours:
        raise UsageError("trace --impl goes with --train-with-yours (bptui check --impl checks)")
    scenario = resolve_scenario(args.name, args.config)
    yours = _your_training(scenario, args.grads, args.impl, args.train_with_yours)
    if args.format == "csv":
        chunks = trace_csv(scenario, args.steps, yours)
    else:
        path = args.grads or args.impl
        about = None if yours is None else {"update_gradient": _update_gradient(yours, path)}
        chunks = trace_json(scenario, args.steps, yours, about)
    if args.output:
        config = args.config or (args.name if args.name and args.name.endswith(".toml") else None)
        write_atomically(args.output, chunks, protected=[config] if config else [])
    else:
        _stdout().writelines(chunks)
    failure = None if yours is None else yours.gradient.failure
    if failure:  # the trace ends at the step whose update your derivatives could not give
        sys.stderr.write(f"bptui: {one_line(failure)}\n")
        return EXIT_DISAGREE
    return EXIT_OK


def _update_gradient(training: Any, path: str) -> dict[str, Any]:
    """The trace's note of what the updates descended: which parameters were yours."""
    gradient = training.gradient
    return {"file": path, "yours": gradient.covered, "backprop": gradient.uncovered}


def cmd_check(argv: Sequence[str]) -> int:
    from bptui.debug.report import check_report

    args = build_check_parser().parse_args(argv)
    if args.grads and args.impl:
        raise UsageError("give --grads or --impl, not both")
    scenario = resolve_scenario(args.name, args.config)
    if args.impl:
        from bptui.debug.impl.check import impl_report

        if args.step:
            raise UsageError("--step goes with the gradient check and --grads, not --impl")
        text, ok = impl_report(scenario, args.impl)
    else:
        text, ok = check_report(scenario, args.grads, args.step)
    _stdout().write(text)
    return EXIT_OK if ok else EXIT_DISAGREE


def _export_python(scenario: Scenario, args: argparse.Namespace) -> int:
    """The net's step as straight-line Python, with its data and θ at --step."""
    from bptui.engine.compiled import python_program
    from bptui.engine.stepper import Stepper

    if args.exercise or args.param or args.seed is not None:
        raise UsageError("--format python: --exercise, --param and --seed do not apply")
    stepper = Stepper(scenario.training())
    stepper.goto(args.step)
    if stepper.step != args.step:
        raise UsageError(f"--step {args.step}: the run diverges at step {stepper.diverged}")
    text = python_program(stepper.network, stepper.theta, stepper.x, stepper.y, args.step)
    if args.output:
        config = args.config or (args.name if args.name and args.name.endswith(".toml") else None)
        write_atomically(args.output, [text], protected=[config] if config else [])
    else:
        _stdout().write(text)
    return EXIT_OK


def cmd_export(argv: Sequence[str]) -> int:
    """The worked example; a worksheet's key goes to FILE.answers.EXT, or after it on stdout."""
    from bptui.debug.worked import answers_path, export

    args = build_export_parser().parse_args(argv)
    scenario = resolve_scenario(args.name, args.config)
    if args.format == "python":
        return _export_python(scenario, args)
    text, key = export(
        scenario,
        args.format,
        step=args.step,
        params=args.param,
        as_exercise=args.exercise,
        seed=args.seed,
        separate_key=bool(args.output),
    )
    if args.output:
        config = args.config or (args.name if args.name and args.name.endswith(".toml") else None)
        protected = [config] if config else []
        if key is not None:
            write_atomically(answers_path(args.output), [key], protected=protected)
        write_atomically(args.output, [text], protected=protected)
    else:
        _stdout().write(text)
    return EXIT_OK


def cmd_list() -> int:
    names = builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        _stdout().write(f"{name:<{width}}  {builtin_description(name)}\n")
    return EXIT_OK


def cmd_tui(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        return cmd_list()
    scenario = resolve_scenario(args.name, args.config)
    user_grads = runs = None
    yours = _your_training(scenario, args.grads, args.impl, args.train_with_yours)
    if yours is not None and args.impl:
        from bptui.debug.impl.train import runs_with_your_backward

        runs = runs_with_your_backward(scenario.training(), yours)
    elif yours is not None:
        from bptui.debug.usergrads.yours import runs_with_yours

        user_grads = yours.gradient.user_grads
        runs = runs_with_yours(scenario.training(), yours)
    elif args.grads:
        from bptui.debug.usergrads import load_user_grads

        user_grads = load_user_grads(args.grads, scenario.network())
    impl = _impl_session(args.impl, args.grads, scenario)
    from bptui.tui.app import make_app

    app = make_app(scenario, user_grads=user_grads, impl=impl, runs=runs)
    app.run()
    # Textual prints the error and sets 1 when the app died of one: say so to scripts.
    return app.return_code or EXIT_OK


def _impl_session(path: str | None, grads: str | None, scenario: Scenario) -> Any:
    """``--impl FILE``: the user's code checked at step 0 now, so a broken file exits 2 here."""
    if path is None:
        return None
    if grads:
        raise UsageError("give --grads or --impl, not both")
    from bptui.debug.session import ImplSession
    from bptui.engine.stepper import Stepper

    return ImplSession.open(path, Stepper(scenario.training()))


def cmd_lesson(argv: Sequence[str]) -> int:
    """A bad lesson file raises ScenarioError naming the stop and key (exit 2 in main)."""
    from bptui.scenario.lesson import load_lesson

    args = build_lesson_parser().parse_args(argv)
    lesson = load_lesson(args.file)
    from bptui.tui.lesson import make_lesson_app

    app = make_lesson_app(lesson)
    app.run()
    return app.return_code or EXIT_OK


def cmd_serve(argv: Sequence[str]) -> int:
    """Check everything a session will load once, here, then serve until Ctrl+C."""
    from bptui.tui.serve import serve, session_command

    args = build_serve_parser().parse_args(argv)
    scenario = resolve_scenario(args.name, args.config)
    if args.grads:
        from bptui.debug.usergrads import load_user_grads

        load_user_grads(args.grads, scenario.network())
    command = session_command(args.name, args.config, args.grads)
    serve(command, args.host, args.port, scenario=scenario.name)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "trace": cmd_trace,
        "check": cmd_check,
        "export": cmd_export,
        "serve": cmd_serve,
        "lesson": cmd_lesson,
    }
    try:
        # A diverging run overflows on purpose; it is shown, never warned about.
        with np.errstate(all="ignore"):
            if argv and argv[0] in commands:
                return commands[argv[0]](argv[1:])
            return cmd_tui(argv)
    except BadInput as e:
        sys.stderr.write(f"bptui: error: {one_line(str(e))}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `bptui trace | head`: the reader left; that is not an error of ours.
        _quietly_close_stdout()
        return EXIT_OK
    except OSError as e:  # stdout on a full disk (/dev/full), a vanished terminal, …
        _quietly_close_stdout()
        sys.stderr.write(f"bptui: error: cannot write to standard output ({e.strerror})\n")
        return EXIT_BAD_INPUT


def _stdout() -> TextIO:
    """Standard output, or a UsageError when the process was started without one."""
    if sys.stdout is None:
        raise UsageError("standard output is closed (use --output FILE)")
    return sys.stdout


def _quietly_close_stdout() -> None:
    """Drop what stdout still buffers: flushing it again would raise at exit."""
    if sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
