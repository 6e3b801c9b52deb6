"""The course two-layer net with a classic mistake: the 1/m of the mean is missing.

Run:   bptui check --impl examples/impl_missing_mean.py xor
Finds: dZ2 is wrong, 4 × the correct value: the 1/m of the mean over the
       m = 4 points is missing (exit 1).

The xor scenario's net: 2 inputs, 2 sigmoid hidden units, 1 sigmoid output,
binary cross-entropy averaged over the m points.  Samples are rows of X.
"""

import numpy as np

LAYOUT = "rows"  # X is (m, 2); W1 is (2, 2), b1 (2,); W2 is (2, 1), b2 (1,)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(params, X):
    Z1 = X @ params["W1"] + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"] + params["b2"]
    A2 = sigmoid(Z2)
    return A2, (Z1, A1, Z2, A2)


def backward(params, X, Y, cache):
    Z1, A1, Z2, A2 = cache
    dZ2 = A2 - Y  # MISTAKE: the loss is a mean over the m points, so (ŷ − y) / m
    dW2 = A1.T @ dZ2
    db2 = np.sum(dZ2, axis=0)
    dA1 = dZ2 @ params["W2"].T
    dZ1 = dA1 * A1 * (1 - A1)  # sigmoid'(Z1) = A1 (1 − A1)
    dW1 = X.T @ dZ1
    db1 = np.sum(dZ1, axis=0)
    return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
