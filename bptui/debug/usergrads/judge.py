"""Loading a user's derivative file and judging each ``d_<param>`` against backprop.

A value that agrees (:func:`bptui.debug.gradcheck.close`) is "agrees"; a wrong
one is tested against the known mistakes at the current state and at probe
states (:mod:`.hypotheses`, :mod:`.probes`), a mistake is reported only when it
reproduces the user's function everywhere, and when none does the response to
the targets says where the error lies (:mod:`.localise`).  The user's code only
ever runs in the sandbox's worker process (:mod:`.sandbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bptui.debug.gradcheck import close, numeric_gradient, relative_error
from bptui.debug.usergrads.context import values_of
from bptui.debug.usergrads.diagnosis import Diagnosis
from bptui.debug.usergrads.hypotheses import constant_ratio, first_fit, hypotheses_for
from bptui.debug.usergrads.localise import localise
from bptui.debug.usergrads.probes import Probes
from bptui.debug.usergrads.sandbox import Found, Sandbox
from bptui.engine.record import StepRecord
from bptui.errors import UserCodeError
from bptui.scenario.loading import read_input_file


@dataclass(frozen=True)
class UserFunction:
    """One ``d_<param>`` function of the user's file (it lives in the sandbox)."""

    param: str

    @property
    def name(self) -> str:
        return f"d_{self.param}"


@dataclass(frozen=True)
class UserGradResult:
    """One parameter: the user's value against backprop's and the numeric one.

    ``output`` is what the user's function printed on this call (bounded).
    """

    name: str
    function: str
    user: float | None
    backprop: float
    numeric: float
    error: str | None
    diagnosis: Diagnosis
    output: str = ""

    @property
    def agrees(self) -> bool:
        return self.error is None and self.user is not None and close(self.user, self.backprop)

    @property
    def rel_error(self) -> float | None:
        return None if self.user is None else relative_error(self.user, self.backprop)


class UserGrads:
    """The loaded ``d_<param>`` functions of one file, and the sandbox they run in."""

    def __init__(self, path: Path, functions: list[UserFunction], sandbox: Sandbox) -> None:
        self.path = path
        self.functions = functions
        self.sandbox = sandbox

    @property
    def params(self) -> list[str]:
        return [f.param for f in self.functions]

    def close(self) -> None:
        """Stop the worker process (it is also stopped when this object is dropped)."""
        self.sandbox.close()

    def evaluate(
        self, record: StepRecord, learning_rate: float | None = None
    ) -> dict[str, UserGradResult]:
        """Every covered parameter's verdict and diagnosis at this record."""
        net = record.network
        batch = record.batch
        numeric = numeric_gradient(net, record.theta, record.x[batch], record.y[batch])
        values = values_of(record, learning_rate)
        outcomes = self.sandbox.run([(f.name, values) for f in self.functions])
        probes = Probes(record, learning_rate)
        grads = record.grads
        results: dict[str, UserGradResult] = {}
        for function, outcome in zip(self.functions, outcomes):
            name = function.param
            num = float(numeric[net.param_index[name]])
            if outcome.value is None:
                why = str(outcome.error)
                diagnosis = Diagnosis("error", why)
            elif close(outcome.value, grads[name]):
                why, diagnosis = None, Diagnosis("agrees", "agrees with backprop")
            else:
                why, diagnosis = None, self._diagnose(function, outcome.value, probes)
            results[name] = UserGradResult(
                name, function.name, outcome.value, grads[name], num, why, diagnosis, outcome.output
            )
        return results

    def _diagnose(self, function: UserFunction, user: float, probes: Probes) -> Diagnosis:
        """What the user's wrong value is consistent with, tested at the probe states."""
        record = probes.record
        y_states = probes.y_states()
        states = [s for _, s in y_states] + probes.theta_states(function.param)
        outcomes = self.sandbox.run([(function.name, s.values) for s in states])
        answers = [(s.record, o.value) for s, o in zip(states, outcomes) if o.value is not None]
        if len(answers) < len(states):
            answers = []  # a probe that failed says nothing about the others
        observed = [(record, user), *answers]
        known = hypotheses_for(function.param, record)
        known += constant_ratio(function.param, record, user)
        hypothesis = first_fit(known, observed)
        if hypothesis is not None:
            return hypothesis.describe(record, user)
        y_responses = [(i, probe, v) for (i, _), (probe, v) in zip(y_states, answers)]
        return localise(function.param, user, record, y_responses)


# ------------------------------------------------------------------ loading
def _compiles(path: Path, source: str) -> None:
    """Syntax errors are told here, before any worker starts."""
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UserCodeError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except ValueError as e:  # e.g. null bytes
        raise UserCodeError(f"{path}: cannot compile: {e}") from None


def _function_of(path: Path, found: Found, param_names: list[str]) -> UserFunction:
    """The UserFunction a ``d_…`` name stands for, or UserCodeError saying what is wrong."""
    param = found.attr[2:]
    if param not in param_names:
        raise UserCodeError(
            f"{path}: {found.attr}: no parameter named {param!r} (this network has "
            f"{', '.join(param_names)}; name helpers without the d_ prefix)"
        )
    if not found.is_callable:
        raise UserCodeError(f"{path}: {found.attr} is a {found.type_name}, not a function of ctx")
    if not found.takes_one_argument:
        raise UserCodeError(
            f"{path}: {found.attr}{found.signature} must take exactly one argument, ctx"
        )
    return UserFunction(param)


def load_user_grads(path: str | Path, param_names: list[str]) -> UserGrads:
    """Import a derivative file (in a worker process) and collect its ``d_<param>`` functions.

    Nothing of it enters bptui's own process: no module in ``sys.modules``, no
    ``__pycache__`` next to the file.
    """
    path = Path(path)
    source = read_input_file(path, "a Python file", UserCodeError)
    _compiles(path, source)
    sandbox = Sandbox(path, source)
    found = sandbox.open()
    try:
        functions = [_function_of(path, f, param_names) for f in found]
        if not functions:
            raise UserCodeError(
                f"{path}: no d_<parameter> functions (write e.g. 'def d_b3(ctx): ...'; "
                f"parameters: {', '.join(param_names)})"
            )
    except UserCodeError:
        sandbox.close()
        raise
    order = {name: i for i, name in enumerate(param_names)}
    functions.sort(key=lambda f: order[f.param])
    return UserGrads(path, functions, sandbox)
