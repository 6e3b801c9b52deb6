"""The article's mistakes, re-enacted and corrected with the engine.

Each wrong number is *computed*, not copied: the article's network is the
engine's network with orange fed w1, b1 (its code's slip), its derivative is
−2·SSR, its update adds the step.  The right numbers come from the engine as
it is.  A reader can check every line of the errata page against the article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptui.engine.network import Network
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin

Array = np.ndarray

#: The learning rate in the article's prose (its code uses 0.01).
PROSE_LEARNING_RATE = 0.001


@dataclass(frozen=True)
class ArticleNumbers:
    """Every number the errata page shows, wrong (article) and right (engine)."""

    learning_rate: float
    # erratum 2: orange computed with w1, b1
    article_blue: Array
    article_orange: Array
    article_yhat: Array
    article_ssr: float
    correct_blue: Array
    correct_orange: Array
    correct_yhat: Array
    correct_ssr: float
    # erratum 3: derivative1 = −2·SSR
    article_derivative: float  # −2·SSR with the article's ŷ (its printed −5.7164)
    article_derivative_correct_yhat: float  # −2·SSR with the right ŷ
    correct_derivative: float  # Σ −2(y − ŷ)
    # erratum 4: θ_old + step
    article_b3: float
    article_loss_after: float
    article_b3_correct_yhat: float  # the article's rule on the right network
    article_loss_after_correct_yhat: float
    correct_b3: float
    correct_loss_after: float
    # erratum 5: the derivative printed as "step size"
    article_step_size: float
    correct_step_size: float  # α·∂Loss/∂b3, what "step size" means
    correct_step: float  # −α·∂Loss/∂b3, the step taken
    # erratum 6: learning rate 0.01 (code) vs 0.001 (prose)
    prose_b3: float
    prose_loss_after: float


def _b3_step(
    network: Network, theta: Array, x: Array, y: Array, delta: float
) -> tuple[float, float]:
    """b3 moved by ``delta`` alone: its new value and the loss after."""
    moved = theta.copy()
    k = network.param_index["b3"]
    moved[k] += delta
    return float(moved[k]), network.loss_value(moved, x, y)


def article_numbers() -> ArticleNumbers:
    """The article's printed numbers re-enacted, beside the correct ones."""
    stepper = Stepper(load_builtin("article").training())
    record = stepper.record()
    net, x, y, alpha = stepper.network, stepper.x, stepper.y, stepper.learning_rate
    idx = net.param_index
    theta = record.theta

    # The article's code: y_orange(x, w_1, b_1) — orange fed blue's parameters.
    slipped = theta.copy()
    slipped[idx["w2"]] = theta[idx["w1"]]
    slipped[idx["b2"]] = theta[idx["b1"]]
    _, acts = net.forward(slipped, x)
    article_yhat = acts[-1][:, 0]
    article_ssr = net.loss_value(slipped, x, y)

    yhat = record.yhat[:, 0]
    article_derivative = -2.0 * article_ssr
    wrong_with_right_yhat = -2.0 * record.loss
    correct = float(np.sum(-2.0 * (y[:, 0] - yhat)))

    article_b3, article_after = _b3_step(net, slipped, x, y, +alpha * article_derivative)
    article_b3_right, article_after_right = _b3_step(
        net, theta, x, y, +alpha * wrong_with_right_yhat
    )
    correct_b3, correct_after = _b3_step(net, theta, x, y, -alpha * correct)
    prose_b3, prose_after = _b3_step(net, theta, x, y, -PROSE_LEARNING_RATE * correct)
    return ArticleNumbers(
        learning_rate=alpha,
        article_blue=acts[1][:, 0],
        article_orange=acts[1][:, 1],
        article_yhat=article_yhat,
        article_ssr=article_ssr,
        correct_blue=record.nodes["blue"],
        correct_orange=record.nodes["orange"],
        correct_yhat=yhat,
        correct_ssr=record.loss,
        article_derivative=article_derivative,
        article_derivative_correct_yhat=wrong_with_right_yhat,
        correct_derivative=correct,
        article_b3=article_b3,
        article_loss_after=article_after,
        article_b3_correct_yhat=article_b3_right,
        article_loss_after_correct_yhat=article_after_right,
        correct_b3=correct_b3,
        correct_loss_after=correct_after,
        article_step_size=article_derivative,
        correct_step_size=alpha * correct,
        correct_step=-alpha * correct,
        prose_b3=prose_b3,
        prose_loss_after=prose_after,
    )


@dataclass(frozen=True)
class Erratum:
    """One mistake: what the article says, what is right, and the numbers of both."""

    number: int
    title: str
    article: str
    correct: str
    #: (quantity, the article's value, the correct value)
    numbers: tuple[tuple[str, str, str], ...] = ()


def _v(values: Array) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def _rise(before: float, after: float) -> str:
    return "RISES" if after > before else "falls"


def errata(numbers: ArticleNumbers | None = None) -> list[Erratum]:
    """The errata page's content, every number computed by :func:`article_numbers`."""
    n = numbers or article_numbers()
    a = n.learning_rate
    return [
        Erratum(
            1,
            "Swapped labels",
            "Loss (called: softplus) = Σ(y − ŷ)²;  Act (called: sum of squared residuals) "
            "= log(1 + eˣ)",
            "The loss is the sum of squared residuals (SSR); the activation is softplus.",
        ),
        Erratum(
            2,
            "orange computed with w1, b1",
            "y_orange_values = y_orange(x, w_1, b_1) — so its printed orange equals blue",
            "orange = softplus(w2·x + b2)",
            (
                ("blue", _v(n.article_blue), _v(n.correct_blue)),
                ("orange", _v(n.article_orange), _v(n.correct_orange)),
                ("ŷ = green", _v(n.article_yhat), _v(n.correct_yhat)),
                ("SSR", f"{n.article_ssr:.4f}", f"{n.correct_ssr:.7f}"),
            ),
        ),
        Erratum(
            3,
            "derivative1 is −2·SSR",
            "∂SSR/∂green = Σ −2(y − green)², coded as -2 * sum_of_squared_residuals(y, ŷ)",
            "∂SSR/∂greenᵢ = −2(yᵢ − greenᵢ) per point; ∂SSR/∂b3 = Σᵢ −2(yᵢ − greenᵢ)·1",
            (
                ("∂SSR/∂b3 (article's ŷ)", f"{n.article_derivative:.4f}", ""),
                (
                    "∂SSR/∂b3 (right ŷ)",
                    f"{n.article_derivative_correct_yhat:.7f}",
                    f"{n.correct_derivative:.7f}",
                ),
            ),
        ),
        Erratum(
            4,
            "Update adds the step",
            "θ_new = θ_old + step size = θ_old + α·∂f/∂θ",
            "θ_new = θ_old − α·∂Loss/∂θ (downhill)",
            (
                ("b3 after one step", f"{n.article_b3:.4f}", f"{n.correct_b3:.7f}"),
                (
                    "loss",
                    f"{n.article_ssr:.4f} → {n.article_loss_after:.4f} "
                    f"{_rise(n.article_ssr, n.article_loss_after)}",
                    f"{n.correct_ssr:.7f} → {n.correct_loss_after:.7f} "
                    f"{_rise(n.correct_ssr, n.correct_loss_after)}",
                ),
                (
                    "its rule, right ŷ",
                    f"b3 {n.article_b3_correct_yhat:.7f}, loss → "
                    f"{n.article_loss_after_correct_yhat:.7f} "
                    f"{_rise(n.correct_ssr, n.article_loss_after_correct_yhat)}",
                    "",
                ),
            ),
        ),
        Erratum(
            5,
            "The derivative printed as “step size”",
            'print(f"step size: {derivative_value}") prints the derivative',
            f"step size = α·∂Loss/∂b3 = {n.correct_step_size:+.7f}; the step taken is "
            f"−(step size) = {n.correct_step:+.7f}",
            (("printed “step size”", f"{n.article_step_size:.4f}", f"{n.correct_step_size:+.7f}"),),
        ),
        Erratum(
            6,
            "Two learning rates",
            f"prose: α = {PROSE_LEARNING_RATE:g};  code: learning_rate() returns {a:g}",
            f"bptui uses the code's α = {a:g} (set training.learning_rate to change it)",
            (
                (
                    "one right b3 step",
                    f"α = {PROSE_LEARNING_RATE:g} (prose): b3 {n.prose_b3:.7f}, "
                    f"loss → {n.prose_loss_after:.7f}",
                    f"α = {a:g} (code): b3 {n.correct_b3:.7f}, loss → {n.correct_loss_after:.7f}",
                ),
            ),
        ),
    ]


def errata_text(numbers: ArticleNumbers | None = None) -> str:
    """The errata as plain text (the help page renders the same content)."""
    lines = ["The article's mistakes, corrected (numbers computed by bptui)", ""]
    for e in errata(numbers):
        lines.append(f"{e.number}. {e.title}")
        lines.append(f"   article: {e.article}")
        lines.append(f"   correct: {e.correct}")
        for quantity, wrong, right in e.numbers:
            line = f"   {quantity}: article {wrong}"
            if right:
                line += f" · correct {right}"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)
