"""The seeded init drawn in Python is numpy's RandomState(seed).normal(0, 1, n), bit for bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bptui.engine.network import SEEDED_IN_PYTHON, Architecture, Network
from bptui.engine.seeded import legacy_normals

SEEDS = [*range(200), 2**31 - 1, 2**31, 2**32 - 1, 123_456_789]


@pytest.mark.parametrize("seed", SEEDS)
def test_normals_are_numpys_bit_for_bit(seed: int) -> None:
    for count in (0, 1, 2, 3, 4, 7, 64):
        ours = np.array(legacy_normals(seed, count), dtype=float)
        numpys = np.random.RandomState(seed).normal(0, 1, size=count)
        assert ours.tobytes() == numpys.tobytes(), (seed, count)


def test_a_long_stream_stays_numpys() -> None:
    """Past the first state regeneration (624 words) and many rejected pairs."""
    ours = np.array(legacy_normals(7, 20_000))
    assert ours.tobytes() == np.random.RandomState(7).normal(0, 1, size=20_000).tobytes()


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seeds_outside_numpys_range_are_refused_as_numpy_does(seed: int) -> None:
    with pytest.raises(ValueError):
        np.random.RandomState(seed)
    with pytest.raises(ValueError, match="between 0 and 2\\*\\*32 - 1"):
        legacy_normals(seed, 3)


@pytest.mark.parametrize(
    ("layers", "in_python"),
    [
        ((1, 2, 1), True),
        ((2, 8, 8, 1), True),
        ((2, 14, 14, 1), True),  # 238 weights
        ((2, 15, 15, 1), False),  # 270
        ((784, 64, 10), False),
    ],
)
def test_random_init_is_the_same_on_both_sides_of_the_threshold(
    layers: tuple[int, ...], in_python: bool
) -> None:
    net = Network(Architecture(layers))
    for seed in (0, 3, 2**32 - 1):
        expected = np.zeros(net.size)
        expected[: net.weight_count] = np.random.RandomState(seed).normal(
            0, 1, size=net.weight_count
        )
        assert net.random_init(seed).tobytes() == expected.tobytes()
    assert (net.weight_count <= SEEDED_IN_PYTHON) == in_python


def test_the_article_launch_path_does_not_import_numpy_random() -> None:
    probe = (
        "import sys\n"
        "from bptui.scenario.loading import load_builtin\n"
        "load_builtin('article').training()\n"
        "print('numpy.random' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
