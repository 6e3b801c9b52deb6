"""The article's own derivative for b3, re-enacted — bptui flags it.

The article writes  ∂Loss/∂y_green = Σ −2(y − y_green)²  and codes it as
`derivative1 = -2 * sum_of_squared_residuals(y, y_green_values)`, i.e. −2·SSR:
one number for all points.  The right factor is −2(yᵢ − greenᵢ) per point,
summed over the points after multiplying by ∂green/∂b3 = 1.

Run:  bptui check --grads examples/article_mistake.py   (exit 1: b3 disagrees)
      bptui --grads examples/article_mistake.py         (the TUI shows why)
"""


def sum_of_squared_residuals(y_true_labels, y_pred_labels):
    assert len(y_true_labels) == len(y_pred_labels), "Input lists must have the same length"
    residuals = [true - pred for true, pred in zip(y_true_labels, y_pred_labels)]
    return sum(residual**2 for residual in residuals)


def derivative1(y, y_green_values):
    return -2 * sum_of_squared_residuals(y, y_green_values)  # the article's mistake


def derivative2():
    return 1


def d_b3(ctx):
    return derivative1(ctx.y, ctx.nodes["green"]) * derivative2()
