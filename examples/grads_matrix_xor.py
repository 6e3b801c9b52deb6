"""The xor built-in's gradients as whole matrices, one function per layer — correct.

Run:  bptui xor --grads examples/grads_matrix_xor.py
      bptui check xor --grads examples/grads_matrix_xor.py   (exit 0: all 9 agree)

The network (2-2-1, sigmoid hidden layer, sigmoid output, binary cross-entropy):
    Z1 = A0 · W1ᵀ + b1,  A1 = sigmoid(Z1)        (A0 = X, one row per point)
    Z2 = A1 · W2ᵀ + b2,  A2 = sigmoid(Z2) = ŷ
    Loss = −mean over points of [y log ŷ + (1 − y) log(1 − ŷ)]

Backward, layer by layer (rows are points, n of them):
    dZ2 = (ŷ − y) / n              sigmoid + bce: the output's slope cancels
    dW2 = dZ2ᵀ · A1,   db2 = Σ over points of dZ2
    dA1 = dZ2 · W2
    dZ1 = dA1 ⊙ A1 ⊙ (1 − A1)      sigmoid' = sigmoid · (1 − sigmoid)
    dW1 = dZ1ᵀ · A0,   db1 = Σ over points of dZ1

`ctx.A[l]`, `ctx.Z[l]` are (points, nodes); `ctx.W[l]` is (out, in); `ctx.b[l]` (out,).
d_W<l> returns layer l's (out, in) matrix, d_b<l> its (out,) vector; bptui judges
(and diagnoses) every entry as the parameter it is: w1 … w6, b1 … b3.
"""


def output_delta(ctx):
    y = ctx.y.reshape(-1, 1)
    return (ctx.A[2] - y) / ctx.n


def hidden_delta(ctx):
    a1 = ctx.A[1]
    return (output_delta(ctx) @ ctx.W[2]) * a1 * (1 - a1)


def d_W2(ctx):
    return output_delta(ctx).T @ ctx.A[1]


def d_b2(ctx):
    return output_delta(ctx).sum(axis=0)


def d_W1(ctx):
    return hidden_delta(ctx).T @ ctx.A[0]


def d_b1(ctx):
    return hidden_delta(ctx).sum(axis=0)
