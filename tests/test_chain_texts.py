"""Chain texts are kept per network: every record shows what a fresh build would."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bptui.engine import chain
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import builtin_names, load_builtin


def chains_of(stepper: Stepper) -> dict[str, list[tuple[str, str, list[float], str, bool]]]:
    record = stepper.record()
    return {
        name: [(f.symbol, f.formula, f.values.tolist(), f.first_use, f.reused) for f in factors]
        for name, factors in record.factors.all_chains().items()
    }


@pytest.mark.parametrize("name", builtin_names())
def test_kept_texts_are_the_texts_of_a_fresh_build(name: str) -> None:
    scenario = load_builtin(name)
    for batch_size in (0, 2):  # the loss factor's 1/n follows the batch
        stepper = Stepper(replace(scenario, batch_size=batch_size).training())
        for _ in range(3):
            kept = chains_of(stepper)
            chain._PLANS.clear()
            stepper._record = None  # the record again, its chains built from nothing
            assert chains_of(stepper) == kept
            stepper.step_once()


def test_the_loss_factor_of_a_mini_batch_divides_by_its_own_size() -> None:
    scenario = load_builtin("xor")
    full = Stepper(scenario.training()).record().factors["b3"][0]
    half = Stepper(replace(scenario, batch_size=2).training()).record().factors["b3"][0]
    assert (full.formula, half.formula) == ("(ŷ1 − y) / 4", "(ŷ1 − y) / 2")
    assert np.isfinite(half.values).all()
