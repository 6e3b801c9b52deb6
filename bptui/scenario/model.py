"""A resolved scenario: the validated contents of one scenario file or built-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bptui.engine.events import Event
from bptui.engine.network import Architecture, Network
from bptui.engine.optimizers import Optimizer
from bptui.engine.stepper import Training
from bptui.engine.watches import Watch

Array = np.ndarray


@dataclass(frozen=True)
class Data:
    """A scenario's points: those trained on, those held out, and how they were made."""

    x: Array
    y: Array
    x_test: Array | None = None
    y_test: Array | None = None
    #: The [data] keys that made the points (generate, n, noise, seed, test_fraction);
    #: empty for points written in the file without a test split.
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    """A resolved, validated scenario: everything needed to train and to show."""

    name: str
    arch: Architecture
    learning_rate: float
    seed: int
    x: Array
    y: Array
    batch_size: int = 0
    trainable: tuple[str, ...] | None = None
    init_layers: list[tuple[Array, Array]] | None = None
    source: str = "built-in"
    watches: list[Watch] = field(default_factory=list)
    x_test: Array | None = None
    y_test: Array | None = None
    data_origin: dict[str, Any] = field(default_factory=dict)
    optimizer: Optimizer = Optimizer()
    #: A saved session's edits ([[event]] tables), replayed at their steps.
    events: tuple[Event, ...] = ()

    def network(self) -> Network:
        return Network(self.arch)

    def training(self) -> Training:
        """The plain training description the engine's :class:`Stepper` takes.

        One Network serves both the training and its initial parameters.
        """
        net = self.network()
        return Training(
            network=net,
            x=self.x,
            y=self.y,
            initial=self.initial_theta(net),
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            trainable=self.trainable,
            x_test=self.x_test,
            y_test=self.y_test,
            optimizer=self.optimizer,
            events=self.events,
        )

    def initial_theta(self, net: Network | None = None) -> Array:
        """Step 0's parameters: the file's layers, or the seeded init (on ``net`` if given)."""
        net = self.network() if net is None else net
        if self.init_layers is not None:
            return net.pack(self.init_layers)
        return net.random_init(self.seed)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario, as the JSON trace embeds it."""
        net = self.network()
        init = [{"W": W.tolist(), "b": b.tolist()} for W, b in net.views(self.initial_theta())]
        training = {
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "trainable": list(self.trainable) if self.trainable is not None else net.param_names,
        }
        if not self.optimizer.plain:  # plain SGD's traces stay as they were
            training.update(self.optimizer.settings())
        return {
            "name": self.name,
            "network": {
                "layers": list(self.arch.layers),
                "activation": self.arch.activation,
                "output_activation": self.arch.output_activation,
                "loss": self.arch.loss,
                "node_names": net.all_node_names,
            },
            "training": training,
            "data": self.data_dict(),
            "init": {"layers": init},
        }

    def data_dict(self) -> dict[str, Any]:
        """How the points were made, then the points: trained on, and held out if any."""
        data: dict[str, Any] = {**self.data_origin, "x": self.x.tolist(), "y": self.y.tolist()}
        if self.x_test is not None and self.y_test is not None:
            data["x_test"] = self.x_test.tolist()
            data["y_test"] = self.y_test.tolist()
        return data
