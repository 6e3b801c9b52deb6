"""The user's own derivatives: load ``d_<param>(ctx)`` functions and judge them.

A student writes their hand-derived gradient for a parameter as a plain Python
function.  bptui evaluates it on the current state, compares it with backprop
and with central differences, and — because "wrong" alone teaches nothing —
says which factor of the chain rule the wrong value is consistent with.

How the diagnosis works: a parameter's gradient is Σᵢ Πₖ fₖ[i] over the chain
factors of ``record.factors``.  Every candidate mistake (sign, a lost constant,
a dropped factor, one point instead of the sum, the article's ``−2·SSR``) is a
function of the state, so it is tested against the user's function not only at
the current state but at *probe* states where one target yᵢ or a parameter is
nudged: a hypothesis is reported only when it reproduces the user's function
everywhere.  When none does, the response to y decides: only the first factor
(∂Loss/∂ŷ or ∂Loss/∂z) depends on y, so a wrong response to y implicates it,
and a right response clears it and implicates the rest of the chain.
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
import signal
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bptui.debug.gradcheck import numeric_gradient, relative_error
from bptui.engine.chain import Factor
from bptui.engine.record import StepRecord, build_record
from bptui.errors import UserCodeError
from bptui.scenario.loading import read_input_file

Array = np.ndarray

#: A user's value agrees with backprop within this relative error …
AGREE_REL = 1e-6
#: … or this absolute difference (round-off on gradients near zero).
AGREE_ABS = 1e-9
#: Probes nudge a target or a parameter by this much (times 1 + |value|).
PROBE = 0.25
#: At most this many points get their own y probe.
MAX_POINT_PROBES = 8

_module_counter = itertools.count()


# ------------------------------------------------------------------ context
@dataclass(frozen=True)
class GradContext:
    """What a ``d_<param>(ctx)`` function may read: the state of one step.

    Per-point values are 1-D arrays when there is one column (the article's x,
    y, and every node); all arrays are read-only copies, so a user's function
    cannot change what bptui shows.
    """

    x: Array
    y: Array
    nodes: Mapping[str, Array]
    z: Mapping[str, Array]
    params: Mapping[str, float]
    learning_rate: float | None
    n: int
    loss: float
    yhat: Array
    step: int

    def __getitem__(self, name: str) -> Any:
        """``ctx["w3"]`` or ``ctx["blue"]``: a parameter or a node by name."""
        if name in self.params:
            return self.params[name]
        return self.nodes[name]


def _frozen(values: Array) -> Array:
    out = np.array(values, dtype=np.float64, copy=True)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    out.setflags(write=False)
    return out


def context_of(record: StepRecord, learning_rate: float | None = None) -> GradContext:
    """The ctx of a record, restricted to the points its gradient descends (its batch)."""
    batch = record.batch
    nodes = {k: _frozen(v[batch]) for k, v in record.nodes.items()}
    z = {k: _frozen(v[batch]) for k, v in record.pre_activations.items()}
    return GradContext(
        x=_frozen(record.x[batch]),
        y=_frozen(record.y[batch]),
        nodes=types.MappingProxyType(nodes),
        z=types.MappingProxyType(z),
        params=types.MappingProxyType(dict(record.params)),
        learning_rate=learning_rate,
        n=len(batch),
        loss=float(record.batch_loss),
        yhat=_frozen(record.yhat[batch]),
        step=record.step,
    )


# ------------------------------------------------------------------ loading
@dataclass(frozen=True)
class UserFunction:
    """One ``d_<param>`` function and where it came from."""

    param: str
    func: Callable[[GradContext], Any]

    @property
    def name(self) -> str:
        return f"d_{self.param}"


def _line_in(path: Path, tb: types.TracebackType | None) -> int | None:
    """The last line of the user's file in a traceback, if any."""
    line = None
    for frame in traceback.extract_tb(tb):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_user_grads(path: str | Path, param_names: list[str]) -> UserGrads:
    """Import a derivative file and collect its ``d_<param>`` functions.

    The file is compiled and run as a throw-away module: nothing stays in
    ``sys.modules`` and no ``__pycache__`` is written next to it.
    """
    path = Path(path)
    source = read_input_file(path, "a Python file", UserCodeError)
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UserCodeError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except ValueError as e:  # e.g. null bytes
        raise UserCodeError(f"{path}: cannot compile: {e}") from None

    module_name = f"_bptui_user_grads_{next(_module_counter)}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses & co. look themselves up here
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(code, module.__dict__)
    except KeyboardInterrupt:
        raise
    except SystemExit:
        raise UserCodeError(f"{path}: importing it called exit()") from None
    except BaseException as e:
        line = _line_in(path, e.__traceback__)
        where = f"{path}:{line}" if line else str(path)
        raise UserCodeError(f"{where}: importing it raised {_describe(e)}") from None
    finally:
        sys.modules.pop(module_name, None)

    known = ", ".join(param_names)
    functions: list[UserFunction] = []
    for attr, value in vars(module).items():
        if not attr.startswith("d_"):
            continue
        param = attr[2:]
        if param not in param_names:
            raise UserCodeError(
                f"{path}: {attr}: no parameter named {param!r} (this network has {known}; "
                "name helpers without the d_ prefix)"
            )
        if not callable(value):
            raise UserCodeError(
                f"{path}: {attr} is a {type(value).__name__}, not a function of ctx"
            )
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            try:
                signature.bind(None)
            except TypeError:
                raise UserCodeError(
                    f"{path}: {attr}{signature} must take exactly one argument, ctx"
                ) from None
        functions.append(UserFunction(param, value))
    if not functions:
        raise UserCodeError(
            f"{path}: no d_<parameter> functions (write e.g. 'def d_b3(ctx): ...'; "
            f"parameters: {known})"
        )
    order = {name: i for i, name in enumerate(param_names)}
    functions.sort(key=lambda f: order[f.param])
    return UserGrads(path, functions)


# --------------------------------------------------------------- evaluating
class _CallFailed(Exception):
    """The user's function raised or returned something that is not a number."""


#: How long one call of a user's function may take before it is given up on.
CALL_SECONDS = 2.0


class _TimeLimit(BaseException):
    """Raised inside a user's function that ran past CALL_SECONDS."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a runaway user function (an endless loop must not freeze the app).

    SIGALRM can only be handled on the main thread (where both the CLI and the
    Textual app call user code); elsewhere the call simply runs unlimited.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _as_number(value: Any, what: str) -> float:
    """The user's return value as a float, or a one-line reason why it is not one."""
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise _CallFailed(f"{what} returned {type(value).__name__}, not a number") from None
        if array.size != 1:
            raise _CallFailed(
                f"{what} returned {array.size} values, not one number "
                "(sum the per-point terms over the data points)"
            )
        value = float(array.reshape(()))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _CallFailed(f"{what} returned {type(value).__name__} {value!r:.40}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise _CallFailed(f"{what} returned {number}, not a finite number")
    return number


@dataclass(frozen=True)
class Diagnosis:
    """What a user's value is consistent with.

    ``factor`` is the chain factor implicated (its symbol), or None when the
    mistake is not in one factor (the sum over points) or cannot be told.
    ``implied`` and ``correct`` are that factor's value as the user's number
    implies it and as it really is (one number, or one per point).
    """

    kind: str
    message: str
    factor: str | None = None
    implied: float | tuple[float, ...] | None = None
    correct: float | tuple[float, ...] | None = None


@dataclass(frozen=True)
class UserGradResult:
    """One parameter: the user's value against backprop's and the numeric one."""

    name: str
    function: str
    user: float | None
    backprop: float
    numeric: float
    error: str | None
    diagnosis: Diagnosis

    @property
    def agrees(self) -> bool:
        return self.error is None and self.user is not None and close(self.user, self.backprop)

    @property
    def rel_error(self) -> float | None:
        return None if self.user is None else relative_error(self.user, self.backprop)


def close(a: float, b: float) -> bool:
    """Agreement: relative error ≤ AGREE_REL, or absolute difference ≤ AGREE_ABS."""
    diff = abs(a - b)
    return diff <= AGREE_ABS or diff <= AGREE_REL * max(abs(a), abs(b))


class UserGrads:
    """The loaded ``d_<param>`` functions of one file."""

    def __init__(self, path: Path, functions: list[UserFunction]) -> None:
        self.path = path
        self.functions = functions
        #: Functions that once ran past the time limit are not called again:
        #: the TUI evaluates after every step and must not stall each time.
        self.timed_out: dict[str, str] = {}

    @property
    def params(self) -> list[str]:
        return [f.param for f in self.functions]

    def call(self, function: UserFunction, ctx: GradContext) -> float:
        """The user's number, or _CallFailed with a one-line reason."""
        if function.name in self.timed_out:
            raise _CallFailed(self.timed_out[function.name])
        try:
            with (
                _time_limit(CALL_SECONDS),
                warnings.catch_warnings(),
                np.errstate(all="ignore"),
            ):
                warnings.simplefilter("ignore")
                value = function.func(ctx)
        except _TimeLimit:
            reason = f"{function.name} did not return within {CALL_SECONDS:g} s (an endless loop?)"
            self.timed_out[function.name] = reason
            raise _CallFailed(reason) from None
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            line = _line_in(self.path, e.__traceback__)
            where = f" ({self.path.name}:{line})" if line else ""
            raise _CallFailed(f"{function.name}{where} raised {_describe(e)}") from None
        return _as_number(value, function.name)

    def evaluate(
        self, record: StepRecord, learning_rate: float | None = None
    ) -> dict[str, UserGradResult]:
        """Every covered parameter's verdict and diagnosis at this record."""
        net = record.network
        batch = record.batch
        numeric = numeric_gradient(net, record.theta, record.x[batch], record.y[batch])
        ctx = context_of(record, learning_rate)
        grads = record.grads
        results: dict[str, UserGradResult] = {}
        prober = _Prober(self, record, learning_rate)
        for function in self.functions:
            name = function.param
            backprop = grads[name]
            num = float(numeric[net.param_index[name]])
            try:
                user = self.call(function, ctx)
            except _CallFailed as e:
                results[name] = UserGradResult(
                    name,
                    function.name,
                    None,
                    backprop,
                    num,
                    str(e),
                    Diagnosis("error", str(e)),
                )
                continue
            if close(user, backprop):
                diagnosis = Diagnosis("agrees", "agrees with backprop")
            else:
                diagnosis = prober.diagnose(function, user)
            results[name] = UserGradResult(
                name, function.name, user, backprop, num, None, diagnosis
            )
        return results


# ---------------------------------------------------------------- diagnosis
@dataclass(frozen=True)
class _State:
    """One probe state: its record and the user's ctx of it."""

    record: StepRecord
    ctx: GradContext


def _fmt(value: float) -> str:
    return f"{value:.8g}"


def _fmt_points(values: Array) -> str:
    return "[" + ", ".join(f"{v:.5g}" for v in values) + "]"


class _Prober:
    """Tests candidate mistakes against the user's function at probe states."""

    def __init__(self, owner: UserGrads, record: StepRecord, learning_rate: float | None) -> None:
        self.owner = owner
        self.record = record
        self.learning_rate = learning_rate
        self._y_states: list[tuple[int, _State]] | None = None
        self._theta_states: dict[str, list[_State]] = {}

    # ---- probe states
    def _state(self, theta: Array, y: Array) -> _State | None:
        rec = self.record
        record = build_record(rec.network, theta, rec.x, y, rec.batch, rec.step)
        if not record.finite:
            return None
        return _State(record, context_of(record, self.learning_rate))

    def y_states(self) -> list[tuple[int, _State]]:
        """One state per (batch) point with that point's targets nudged."""
        if self._y_states is None:
            rec = self.record
            states = []
            for i in rec.batch[:MAX_POINT_PROBES]:
                y = rec.y.copy()
                y[i] += PROBE * (1.0 + np.abs(y[i]))
                state = self._state(rec.theta, y)
                if state is not None:
                    states.append((int(i), state))
            self._y_states = states
        return self._y_states

    def theta_states(self, param: str) -> list[_State]:
        """The parameter itself nudged, and every parameter nudged a little."""
        if param not in self._theta_states:
            rec = self.record
            k = rec.network.param_index[param]
            theta = rec.theta.copy()
            theta[k] += PROBE * (1.0 + abs(theta[k]))
            spread = rec.theta + 0.1 * PROBE * (1.0 + np.abs(rec.theta)) * np.cos(
                np.arange(rec.theta.size) + 1.0
            )
            states = [self._state(theta, rec.y), self._state(spread, rec.y)]
            self._theta_states[param] = [s for s in states if s is not None]
        return self._theta_states[param]

    # ---- hypotheses
    def diagnose(self, function: UserFunction, user: float) -> Diagnosis:
        param = function.param
        base = _State(self.record, context_of(self.record, self.learning_rate))
        probes = [s for _, s in self.y_states()] + self.theta_states(param)
        try:
            responses = [(s, self.owner.call(function, s.ctx)) for s in probes]
        except _CallFailed:
            responses = []
        all_states = [(base, user)] + responses
        for hypothesis, predict in self.hypotheses(param, base.record):
            predicted = [predict(s.record) for s, _ in all_states]
            if all(abs(p) <= AGREE_ABS for p in predicted):
                continue  # a mistake that predicts 0 everywhere explains nothing
            if all(close(value, p) for (_, value), p in zip(all_states, predicted)):
                return hypothesis(base.record, user)
        return self.localise(param, user, base.record, responses)

    def hypotheses(
        self, param: str, rec: StepRecord
    ) -> list[tuple[Callable[[StepRecord, float], Diagnosis], Callable[[StepRecord], float]]]:
        """(describe, predict) pairs, most specific and most common first."""
        net = rec.network
        factors = rec.factors[param]
        first = factors[0]
        n = len(rec.batch)
        out: list[tuple[Any, Any]] = []

        def gradient(r: StepRecord) -> float:
            return r.grads[param]

        def first_total(r: StepRecord) -> float:
            return float(np.sum(r.factors[param][0].values))

        def rest(r: StepRecord) -> Array:
            product = np.ones(r.x.shape[0])
            for f in r.factors[param][1:]:
                product = product * f.values
            return product[r.batch]

        squared = net.loss in ("ssr", "mse") and not net.fused
        if squared:
            # The article's derivative1: ∂Loss/∂ŷ as the single number −2·Loss.
            def article(r: StepRecord) -> float:
                return -2.0 * r.batch_loss * float(np.mean(rest(r)))

            def describe_article(r: StepRecord, user: float) -> Diagnosis:
                wrong = -2.0 * r.batch_loss
                right = first_total(r)
                rest_text = ""
                if len(factors) > 1 and not np.allclose(rest(r), 1.0):
                    rest_text = " (times the rest of the chain averaged over the points)"
                return Diagnosis(
                    "loss_scalar",
                    f"consistent with {first.symbol} = −2·{_loss_name(net.loss)} = {_fmt(wrong)}"
                    f"{rest_text} — the article's derivative1 — instead of "
                    f"Σᵢ {first.formula} = {_fmt(right)}",
                    first.symbol,
                    wrong,
                    right,
                )

            out.append((describe_article, article))

        for c, text in _scales(net.loss, n, net.fused):

            def scaled(r: StepRecord, c: float = c) -> float:
                return c * gradient(r)

            def describe_scale(r: StepRecord, user: float, c: float = c, text: str = text):
                factor = first.symbol if squared and c != -1.0 else None
                message = text.format(factor=first.symbol, formula=first.formula)
                if factor:
                    message += (
                        f" (Σᵢ {factor}: yours acts as {_fmt(c * first_total(r))}, "
                        f"correct {_fmt(first_total(r))})"
                    )
                return Diagnosis(
                    "sign" if c == -1.0 else "scale",
                    message,
                    factor,
                    c * first_total(r) if factor else None,
                    first_total(r) if factor else None,
                )

            out.append((describe_scale, scaled))

        for k, factor in enumerate(factors):
            if np.allclose(factor.values[rec.batch], 1.0):
                continue

            def dropped(r: StepRecord, k: int = k) -> float:
                product = np.ones(r.x.shape[0])
                for j, f in enumerate(r.factors[param]):
                    if j != k:
                        product = product * f.values
                return float(product[r.batch].sum())

            def describe_drop(r: StepRecord, user: float, k: int = k):
                f = r.factors[param][k]
                return Diagnosis(
                    "drop",
                    f"consistent with leaving out the factor {f.symbol} = {f.formula} "
                    "(the other factors' product, summed over the points, gives your value)",
                    f.symbol,
                    1.0,
                    tuple(float(v) for v in f.values[r.batch]),
                )

            out.append((describe_drop, dropped))

        if n > 1:
            for i in rec.batch[:MAX_POINT_PROBES]:

                def one_point(r: StepRecord, i: int = int(i)) -> float:
                    return float(r.chain_product(param)[i])

                def describe_point(r: StepRecord, user: float, i: int = int(i)):
                    return Diagnosis(
                        "single_point",
                        f"consistent with the chain at point {i + 1} alone: the sum over the "
                        f"{n} points is missing (Σᵢ = {_fmt(gradient(r))})",
                    )

                out.append((describe_point, one_point))
        return out

    def localise(
        self,
        param: str,
        user: float,
        rec: StepRecord,
        responses: list[tuple[_State, float]],
    ) -> Diagnosis:
        """No known mistake fits: let the response to y say where the error lies."""
        first = rec.factors[param][0]
        y_probes = self.y_states()
        if not responses or not y_probes:
            return Diagnosis(
                "unknown",
                f"differs by {_fmt(user - rec.grads[param])}; which factor cannot be told",
            )
        user_at = dict(zip([id(s) for s, _ in responses], [v for _, v in responses]))
        points, v, t, slope, rest_true = [], [], [], [], []
        for i, state in y_probes:
            dy = float(np.sum(state.record.y[i] - rec.y[i]))
            points.append(i)
            v.append((user_at[id(state)] - user) / dy)
            t.append((state.record.grads[param] - rec.grads[param]) / dy)
            f_new = state.record.factors[param][0].values[i]
            slope.append((f_new - first.values[i]) / dy)
            rest_true.append(
                rec.chain_product(param)[i] / first.values[i] if first.values[i] else 0.0
            )
        v_arr, t_arr, s_arr = np.array(v), np.array(t), np.array(slope)
        scale = max(float(np.abs(t_arr).max()), float(np.abs(v_arr).max()), 1e-12)
        same = np.abs(v_arr - t_arr).max() <= 1e-5 * scale
        if same:
            return Diagnosis(
                "offset",
                f"responds to y exactly as backprop does, so the chain after {first.symbol} "
                f"is consistent; the difference {_fmt(user - rec.grads[param])} does not depend "
                f"on y — consistent with {first.symbol} computed from a wrong prediction, or a "
                "term added",
                first.symbol,
            )
        if np.abs(v_arr).max() <= 1e-9 * max(1.0, abs(user)):
            return Diagnosis(
                "no_y",
                f"your value does not change with the targets y at all, but the gradient does, "
                f"through {first.symbol} ({first.formula}): that factor is missing or wrong",
                first.symbol,
            )
        usable = np.abs(s_arr) > 1e-12
        covered = len(points) == len(rec.batch)
        if not covered:
            # The per-point split needs every point's response to its own y.
            return Diagnosis(
                "unknown",
                f"differs by {_fmt(user - rec.grads[param])}; which factor cannot be told "
                f"(only {len(points)} of the {len(rec.batch)} points were probed)",
            )
        if covered and usable.all():
            rest_user = v_arr / s_arr
            rebuilt = float(np.sum(first.values[rec.batch] * rest_user))
            if close(rebuilt, user):
                others = [f for f in rec.factors[param][1:] if not np.allclose(f.values, 1.0)]
                correct_rest = rest_true
                if len(others) == 1:
                    f = others[0]
                    return Diagnosis(
                        "factor",
                        f"{first.symbol} is right, {f.symbol} is not: per point yours acts as "
                        f"{_fmt_points(rest_user)} where {f.formula} = {_fmt_points(np.array(correct_rest))}",
                        f.symbol,
                        tuple(float(r) for r in rest_user),
                        tuple(float(r) for r in correct_rest),
                    )
                blamed = _blame_in_rest(others, rec.batch, rest_user, np.array(correct_rest))
                if blamed is not None:
                    f, implied, why = blamed
                    correct_values = tuple(float(v) for v in f.values[rec.batch])
                    return Diagnosis(
                        "factor",
                        f"{first.symbol} is right, {f.symbol} ({f.formula}) is not — {why}: "
                        f"per point yours acts as {_fmt_points(np.array(implied))} where it is "
                        f"{_fmt_points(np.array(correct_values))}",
                        f.symbol,
                        tuple(implied),
                        correct_values,
                    )
                symbols = " · ".join(f.symbol for f in rec.factors[param][1:])
                return Diagnosis(
                    "rest",
                    f"{first.symbol} is right; the rest of the chain ({symbols}) is not — per "
                    f"point yours acts as {_fmt_points(rest_user)} instead of "
                    f"{_fmt_points(np.array(correct_rest))}; which of its factors cannot be told",
                    None,
                    tuple(float(r) for r in rest_user),
                    tuple(float(r) for r in correct_rest),
                )
        return Diagnosis(
            "loss",
            f"{first.symbol} ({first.formula}) is wrong: your value responds to the targets "
            f"yᵢ by {_fmt_points(v_arr)} where the correct chain responds by "
            f"{_fmt_points(t_arr)}, and only {first.symbol} depends on y",
            first.symbol,
        )


def _blame_in_rest(
    others: list[Factor], batch: Array, rest_user: Array, rest_true: Array
) -> tuple[Factor, list[float], str] | None:
    """Which factor after the first explains the user's per-point rest, if one can.

    A factor that is one number for every point (a weight, ∂green/∂blue = w3)
    can only scale all points alike; a per-point factor (sigmoid(z)·x) can
    scale them differently.  So a ratio yours/correct that is the same at
    every point points at the single constant factor, and one that varies
    points at the single varying factor.
    """
    usable = np.abs(rest_true) > 1e-12
    if not usable.any():
        return None
    ratio = rest_user[usable] / rest_true[usable]
    constant = [f for f in others if np.allclose(f.values[batch], f.values[batch][0])]
    varying = [f for f in others if f not in constant]
    same = bool(np.allclose(ratio, ratio[0], rtol=1e-6, atol=1e-12))
    if same and len(constant) == 1:
        f = constant[0]
        c = float(ratio[0])
        implied = [float(v) * c for v in f.values[batch]]
        return (
            f,
            implied,
            f"yours is ×{c:.6g} the correct chain at every point, and it is the only "
            "remaining factor that is one number for all points",
        )
    if not same and len(varying) == 1:
        f = varying[0]
        full = np.ones_like(rest_true)
        full[usable] = rest_user[usable] / rest_true[usable]
        implied = [float(v) for v in f.values[batch] * full]
        return f, implied, "it is the only remaining factor that varies from point to point"
    return None


def _loss_name(loss: str) -> str:
    return {"ssr": "SSR", "mse": "MSE"}.get(loss, "Loss")


def _scales(loss: str, n: int, fused: bool) -> list[tuple[float, str]]:
    """Constant-factor mistakes and what each says about the loss factor."""
    squared = loss in ("ssr", "mse") and not fused
    sign = (
        -1.0,
        "the sign is flipped: consistent with one factor's sign — which one cannot be told; "
        "most often {factor} ({formula}) written without its minus",
    )
    if not squared:
        return [sign] + [
            (c, f"{c:g} × backprop's value: off by a constant factor — which factor cannot be told")
            for c in (0.5, 2.0)
        ]
    scales = [
        sign,
        (0.5, "half of backprop's value: consistent with {factor} ({formula}) missing its 2"),
        (2.0, "twice backprop's value: consistent with an extra 2 in {factor} ({formula})"),
        (
            -0.5,
            "minus half of backprop's value: consistent with {factor} ({formula}) missing its −2",
        ),
        (
            -2.0,
            "minus twice backprop's value: consistent with {factor} ({formula}) "
            "with its sign flipped and an extra 2",
        ),
    ]
    if n > 2:
        if loss == "ssr":
            scales.append(
                (
                    1.0 / n,
                    f"1/{n} of backprop's value: consistent with {{factor}} "
                    f"averaged over the {n} points, but SSR sums them (no 1/n)",
                )
            )
            scales.append(
                (
                    float(n),
                    f"{n} × backprop's value: consistent with {{factor}} "
                    "counted once per point too many",
                )
            )
        else:
            scales.append(
                (
                    float(n),
                    f"{n} × backprop's value: consistent with {{factor}} "
                    f"({{formula}}) missing the 1/{n} of the mean over {n} points",
                )
            )
            scales.append(
                (
                    1.0 / n,
                    f"1/{n} of backprop's value: consistent with {{factor}} "
                    f"({{formula}}) divided by {n} twice",
                )
            )
    return scales
