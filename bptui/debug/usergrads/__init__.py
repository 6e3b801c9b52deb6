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
"""

from bptui.debug.usergrads.context import GradContext, context_of
from bptui.debug.usergrads.diagnosis import Diagnosis
from bptui.debug.usergrads.judge import UserFunction, UserGradResult, UserGrads, load_user_grads
from bptui.debug.usergrads.probes import MAX_POINT_PROBES
from bptui.debug.usergrads.sandbox import CALL_SECONDS, IMPORT_SECONDS
from bptui.errors import UserCodeError

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
