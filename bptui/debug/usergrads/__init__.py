"""The user's own derivatives: load ``d_<param>(ctx)`` functions and judge them.

A student writes their hand-derived gradient for a parameter as a plain Python
function.  bptui evaluates it on the current state, compares it with backprop
and with central differences, and — because "wrong" alone teaches nothing —
says which factor of the chain rule the wrong value is consistent with.

By job: :mod:`.sandbox` runs the user's file in a worker process where a stuck
function can be abandoned; :mod:`.context` is the read-only ctx it gets;
:mod:`.hypotheses` the known mistakes, one class each; :mod:`.probes` the
nudged states they are tested at; :mod:`.localise` the reasoning from the
response to y when no known mistake fits; :mod:`.judge` puts them together.

The names below are imported from their modules on first use: the worker
process needs only :mod:`.sandbox` and :mod:`.context`, and not importing the
judging side there (the engine, the scenarios) is a fifth of its start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bptui.errors import UserCodeError

if TYPE_CHECKING:
    from bptui.debug.usergrads.context import GradContext, context_of
    from bptui.debug.usergrads.diagnosis import Diagnosis
    from bptui.debug.usergrads.judge import (
        UserFunction,
        UserGradResult,
        UserGrads,
        load_user_grads,
    )
    from bptui.debug.usergrads.probes import MAX_POINT_PROBES
    from bptui.debug.usergrads.sandbox import CALL_SECONDS, IMPORT_SECONDS

#: Each public name and the module that defines it.
_HOMES = {
    "CALL_SECONDS": "sandbox",
    "IMPORT_SECONDS": "sandbox",
    "MAX_POINT_PROBES": "probes",
    "Diagnosis": "diagnosis",
    "GradContext": "context",
    "context_of": "context",
    "UserFunction": "judge",
    "UserGradResult": "judge",
    "UserGrads": "judge",
    "load_user_grads": "judge",
}

__all__ = [
    "CALL_SECONDS",
    "IMPORT_SECONDS",
    "MAX_POINT_PROBES",
    "Diagnosis",
    "GradContext",
    "UserCodeError",
    "UserFunction",
    "UserGradResult",
    "UserGrads",
    "context_of",
    "load_user_grads",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
