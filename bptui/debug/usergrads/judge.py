"""Loading a user's derivative file and judging each ``d_<param>`` against backprop.

A value that agrees (:func:`bptui.debug.gradcheck.close`) is "agrees"; a wrong
one is tested against the known mistakes at the current state and at probe
states (:mod:`.hypotheses`, :mod:`.probes`), a mistake is reported only when it
reproduces the user's function everywhere, and when none does the response to
the targets says where the error lies (:mod:`.localise`).  The user's code only
ever runs in the sandbox's worker process (:mod:`.sandbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptui.debug.gradcheck import close, numeric_gradient, relative_error
from bptui.debug.usergrads.context import values_of
from bptui.debug.usergrads.diagnosis import Diagnosis
from bptui.debug.usergrads.hypotheses import constant_ratio, first_fit, hypotheses_for
from bptui.debug.usergrads.layers import layer_functions
from bptui.debug.usergrads.localise import localise
from bptui.debug.usergrads.probes import Probes, ProbeState
from bptui.debug.usergrads.sandbox import Found, Outcome, Sandbox
from bptui.engine.network import Network
from bptui.engine.record import StepRecord
from bptui.errors import UserCodeError
from bptui.scenario.loading import read_input_file


@dataclass(frozen=True)
class UserFunction:
    """The user's derivative of one parameter: a ``d_<param>`` function of their file,
    or one entry of a ``d_W<l>`` / ``d_b<l>`` function that returns a whole layer.

    Every parameter is judged, and diagnosed, on its own, whichever way it is written.
    """

    param: str
    #: The function in the file that is called, when it is not ``d_<param>``.
    called: str = ""
    #: Where the parameter sits in what ``called`` returns, and that value's shape.
    entry: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()
    layer: int = 0

    @property
    def square_matrix(self) -> bool:
        """A d_W<l> of a layer as wide as it is tall: a transposed one has the right shape."""
        return len(self.shape) == 2 and self.shape[0] == self.shape[1]

    @property
    def function(self) -> str:
        """The file's function name: ``d_b3``, or ``d_W2`` for every weight of layer 2."""
        return self.called or f"d_{self.param}"

    @property
    def name(self) -> str:
        """The derivative as the user wrote it: ``d_b3``, or ``d_W2[0, 1]``."""
        if not self.called:
            return self.function
        return f"{self.called}[{', '.join(str(i) for i in self.entry)}]"

    def value(self, outcome: Outcome) -> tuple[float | None, str | None]:
        """This parameter's number in a call's outcome, or why there is none."""
        array = outcome.value
        if array is None:
            return None, outcome.error
        if not isinstance(array, np.ndarray):  # a d_<param> function's one number
            return array, None
        if array.shape != self.shape:
            got = "one number" if array.ndim == 0 else f"shape {array.shape}"
            kind, layout = ("W", "(out, in)") if len(self.shape) == 2 else ("b", "(out,)")
            hint = " (yours is (in, out), its transpose)" if array.shape == self.shape[::-1] else ""
            return None, (
                f"{self.called} returned {got}, not {self.shape}: "
                f"∂Loss/∂{kind}{self.layer} as {layout}{hint}"
            )
        number = float(array[self.entry])
        if not np.isfinite(number):
            return None, f"{self.name} is {number}, not a finite number"
        return number, None


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


#: At most this many wrong entries of one d_W / d_b function are diagnosed at a
#: state: each costs calls of it at probe states, and a wide layer has thousands.
MAX_DIAGNOSED_ENTRIES = 32


class _Calls:
    """The user's functions called at probe states, each (function, state) once per evaluation.

    Every entry of a d_W function asks for the same y probes; the matrix is computed once.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._done: dict[tuple[str, int], Outcome] = {}

    def at(self, called: str, states: Sequence[ProbeState]) -> list[Outcome]:
        todo = [s for s in states if (called, id(s)) not in self._done]
        for state, outcome in zip(todo, self.sandbox.run([(called, s.values) for s in todo])):
            self._done[called, id(state)] = outcome
        return [self._done[called, id(s)] for s in states]


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
        called = list(dict.fromkeys(f.function for f in self.functions))  # each once
        outcomes = dict(zip(called, self.sandbox.run([(name, values) for name in called])))
        probes = Probes(record, learning_rate)
        calls = _Calls(self.sandbox)
        grads = record.grads
        transposed: dict[str, bool] = {}  # per d_W function, tested once
        diagnosed: dict[str, int] = {}  # wrong entries diagnosed, per d_W / d_b function
        results: dict[str, UserGradResult] = {}
        for function in self.functions:
            name = function.param
            num = float(numeric[net.param_index[name]])
            outcome = outcomes[function.function]
            user, why = function.value(outcome)
            if user is None:
                diagnosis = Diagnosis("error", str(why))
            elif close(user, grads[name]):
                diagnosis = Diagnosis("agrees", "agrees with backprop")
            elif function.square_matrix and self._transposed(
                function, outcome.value, probes, calls, transposed
            ):
                diagnosis = _transpose_diagnosis(function)
            elif function.called and diagnosed.get(function.called, 0) >= MAX_DIAGNOSED_ENTRIES:
                diagnosis = _undiagnosed(function)
            else:
                if function.called:
                    diagnosed[function.called] = diagnosed.get(function.called, 0) + 1
                diagnosis = self._diagnose(function, user, probes, calls)
            results[name] = UserGradResult(
                name, function.name, user, grads[name], num, why, diagnosis, outcome.output
            )
        return results

    def _transposed(
        self,
        function: UserFunction,
        user: object,
        probes: Probes,
        calls: _Calls,
        seen: dict[str, bool],
    ) -> bool:
        """Whether a d_W<l> is backprop's ∂Loss/∂W<l> transposed, here and at every y probe."""
        if function.function in seen:
            return seen[function.function]
        states = [s for _, s in probes.y_states()]
        outcomes = calls.at(function.function, states)
        observed = [(probes.record, user), *((s.record, o.value) for s, o in zip(states, outcomes))]
        answer = True
        for record, value in observed:
            backprop = record.layers[function.layer - 1].dW
            if not isinstance(value, np.ndarray) or value.shape != backprop.shape:
                answer = False
                break
            if not all(close(float(u), float(d)) for u, d in zip(value.flat, backprop.T.flat)):
                answer = False
                break
        seen[function.function] = answer
        return answer

    def _diagnose(
        self, function: UserFunction, user: float, probes: Probes, calls: _Calls
    ) -> Diagnosis:
        """What the user's wrong value is consistent with, tested at the probe states."""
        record = probes.record
        y_states = probes.y_states()
        states = [s for _, s in y_states] + probes.theta_states(function.param)
        outcomes = calls.at(function.function, states)
        values = [function.value(o)[0] for o in outcomes]
        answers = [(s.record, v) for s, v in zip(states, values) if v is not None]
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


def _undiagnosed(function: UserFunction) -> Diagnosis:
    """A wrong entry past the first MAX_DIAGNOSED_ENTRIES of its function."""
    return Diagnosis(
        "undiagnosed",
        f"not diagnosed: only the first {MAX_DIAGNOSED_ENTRIES} wrong entries of "
        f"{function.called} are (the others cost as many calls each)",
    )


def _transpose_diagnosis(function: UserFunction) -> Diagnosis:
    """What a transposed d_W<l> is, in words true of every entry it gets wrong."""
    row, col = function.entry
    return Diagnosis(
        "transpose",
        f"{function.called} is backprop's ∂Loss/∂W{function.layer} transposed: its [{row}, {col}] "
        f"holds ∂Loss/∂W{function.layer}[{col}, {row}]. Entry [i, j] is the weight into node i "
        "from input j, so ∂Loss/∂W = dZᵀ · A_prev, shape (out, in)",
    )


# ------------------------------------------------------------------ loading
def _compiles(path: Path, source: str) -> None:
    """Syntax errors are told here, before any worker starts."""
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UserCodeError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except ValueError as e:  # e.g. null bytes
        raise UserCodeError(f"{path}: cannot compile: {e}") from None


def _callable(path: Path, found: Found) -> None:
    """UserCodeError unless the ``d_…`` name is a function of one argument."""
    if not found.is_callable:
        raise UserCodeError(f"{path}: {found.attr} is a {found.type_name}, not a function of ctx")
    if not found.takes_one_argument:
        raise UserCodeError(
            f"{path}: {found.attr}{found.signature} must take exactly one argument, ctx"
        )


def _scalar_function(path: Path, found: Found, param_names: Sequence[str]) -> UserFunction:
    """The ``d_<param>`` function a name stands for, or UserCodeError saying what is wrong."""
    param = found.attr[2:]
    if param not in param_names:
        raise UserCodeError(
            f"{path}: {found.attr}: no parameter named {param!r} (this network has "
            f"{', '.join(param_names)}; name helpers without the d_ prefix)"
        )
    _callable(path, found)
    return UserFunction(param)


def _layer_function(
    path: Path, found: Found, kind: str, layer: int, net: Network | None
) -> list[UserFunction]:
    """One UserFunction per entry of a ``d_W<l>`` / ``d_b<l>`` function's matrix or vector."""
    if net is None:  # a caller that gave names only: no layer shapes to check against
        raise UserCodeError(f"{path}: {found.attr}: whole-layer functions need the network")
    if layer > net.depth:
        raise UserCodeError(
            f"{path}: {found.attr}: no layer {layer} (this network has layers 1 … {net.depth}: "
            f"d_W1 … d_W{net.depth})"
        )
    _callable(path, found)
    out, inp = net.layers[layer], net.layers[layer - 1]
    shape = (out, inp) if kind == "W" else (out,)
    mine = [p for p in net.params if p.layer == layer and p.kind == kind]
    return [
        UserFunction(
            p.name, found.attr, (p.row,) if p.col is None else (p.row, p.col), shape, layer
        )
        for p in mine
    ]


def _functions_of(
    path: Path, found: list[Found], network: Network | Sequence[str]
) -> tuple[list[UserFunction], list[str]]:
    """Every parameter the file covers, each by exactly one function (or matrix entry)."""
    net = network if isinstance(network, Network) else None
    param_names = net.param_names if net is not None else list(network)
    layered = layer_functions(f.attr for f in found)
    functions: list[UserFunction] = []
    for f in found:
        if f.attr in layered:
            functions += _layer_function(path, f, *layered[f.attr], net)
        else:
            functions.append(_scalar_function(path, f, param_names))
    by_param: dict[str, UserFunction] = {}
    for function in functions:
        if function.param in by_param:
            raise UserCodeError(
                f"{path}: {function.param} has two functions, "
                f"{by_param[function.param].name} and {function.name}: keep one"
            )
        by_param[function.param] = function
    order = {name: i for i, name in enumerate(param_names)}
    return sorted(functions, key=lambda f: order[f.param]), param_names


def load_user_grads(path: str | Path, network: Network | Sequence[str]) -> UserGrads:
    """Import a derivative file (in a worker process) and collect its functions.

    ``network`` is the scenario's network (or, for files of ``d_<param>``
    functions only, its parameter names).  Nothing of the file enters bptui's
    own process: no module in ``sys.modules``, no ``__pycache__`` next to it.
    """
    path = Path(path)
    source = read_input_file(path, "a Python file", UserCodeError)
    _compiles(path, source)
    sandbox = Sandbox(path, source)
    found = sandbox.open()
    try:
        functions, param_names = _functions_of(path, found, network)
        if not functions:
            raise UserCodeError(
                f"{path}: no d_<parameter> functions (write e.g. 'def d_b3(ctx): ...' "
                f"or 'def d_W1(ctx): ...'; parameters: {', '.join(param_names)})"
            )
    except UserCodeError:
        sandbox.close()
        raise
    return UserGrads(path, functions, sandbox)
