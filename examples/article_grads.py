"""Hand-derived gradients for the article's network — all seven, all correct.

Run:  bptui --grads examples/article_grads.py        (the TUI, article scenario)
      bptui check --grads examples/article_grads.py  (exit 0: every one agrees)

The network (the article's worked example):
    blue   = softplus(z_blue),    z_blue   = w1·x + b1
    orange = softplus(z_orange),  z_orange = w2·x + b2
    green  = w3·blue + w4·orange + b3          (= ŷ)
    SSR    = Σᵢ (yᵢ − greenᵢ)²

Every gradient is a sum over the data points of a product of chain-rule factors:
    ∂SSR/∂green   = −2(y − green)                 (per point — NOT −2·SSR!)
    ∂green/∂b3    = 1
    ∂green/∂w3    = blue,        ∂green/∂w4 = orange
    ∂green/∂blue  = w3,          ∂green/∂orange = w4
    ∂blue/∂z_blue = sigmoid(z_blue)   (softplus' = sigmoid)
    ∂z_blue/∂w1   = x,           ∂z_blue/∂b1 = 1    (same for orange with w2, b2)

`ctx` gives x, y, nodes (by name), z (pre-activations by name), params, n, loss.
"""

import math


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def dssr_dgreen(ctx):
    """∂SSR/∂green for each point: −2(yᵢ − greenᵢ)."""
    return [-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"])]


def d_b3(ctx):
    # ∂SSR/∂b3 = Σᵢ ∂SSR/∂greenᵢ · ∂green/∂b3 = Σᵢ −2(yᵢ − greenᵢ) · 1
    return sum(d * 1 for d in dssr_dgreen(ctx))


def d_w3(ctx):
    # ∂SSR/∂w3 = Σᵢ −2(yᵢ − greenᵢ) · blueᵢ
    return sum(d * b for d, b in zip(dssr_dgreen(ctx), ctx.nodes["blue"]))


def d_w4(ctx):
    # ∂SSR/∂w4 = Σᵢ −2(yᵢ − greenᵢ) · orangeᵢ
    return sum(d * o for d, o in zip(dssr_dgreen(ctx), ctx.nodes["orange"]))


def d_b1(ctx):
    # ∂SSR/∂b1 = Σᵢ −2(yᵢ − greenᵢ) · w3 · sigmoid(z_blueᵢ) · 1
    w3 = ctx.params["w3"]
    return sum(d * w3 * sigmoid(z) for d, z in zip(dssr_dgreen(ctx), ctx.z["blue"]))


def d_w1(ctx):
    # ∂SSR/∂w1 = Σᵢ −2(yᵢ − greenᵢ) · w3 · sigmoid(z_blueᵢ) · xᵢ
    w3 = ctx.params["w3"]
    return sum(d * w3 * sigmoid(z) * x for d, z, x in zip(dssr_dgreen(ctx), ctx.z["blue"], ctx.x))


def d_b2(ctx):
    # ∂SSR/∂b2 = Σᵢ −2(yᵢ − greenᵢ) · w4 · sigmoid(z_orangeᵢ) · 1
    w4 = ctx.params["w4"]
    return sum(d * w4 * sigmoid(z) for d, z in zip(dssr_dgreen(ctx), ctx.z["orange"]))


def d_w2(ctx):
    # ∂SSR/∂w2 = Σᵢ −2(yᵢ − greenᵢ) · w4 · sigmoid(z_orangeᵢ) · xᵢ
    w4 = ctx.params["w4"]
    return sum(d * w4 * sigmoid(z) * x for d, z, x in zip(dssr_dgreen(ctx), ctx.z["orange"], ctx.x))
