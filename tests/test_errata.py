"""The errata page's numbers: the article's printed values re-enacted, and SPEC §1's corrections."""

from __future__ import annotations

import numpy as np
import pytest

from bptui.debug.errata import article_numbers, errata, errata_text


@pytest.fixture(scope="module")
def numbers():
    return article_numbers()


def test_orange_with_w1_b1_reproduces_the_article_printout(numbers) -> None:
    # The article's printed outputs, to all the digits it printed.
    np.testing.assert_allclose(
        numbers.article_blue,
        [0.718291262698181, 0.8334146592824242, 0.9173954367325202],
        rtol=1e-13,
    )
    np.testing.assert_array_equal(numbers.article_orange, numbers.article_blue)
    np.testing.assert_allclose(
        numbers.article_yhat,
        [1.559208056553835, 1.8091085311575739, 1.9914071495536403],
        rtol=1e-13,
    )
    assert numbers.article_ssr == pytest.approx(2.8582, abs=5e-5)
    np.testing.assert_allclose(numbers.correct_yhat, [1.51042, 1.54070, 1.56598], atol=5e-6)
    assert numbers.correct_ssr == pytest.approx(3.0667888, abs=5e-8)
    assert not np.allclose(numbers.correct_orange, numbers.correct_blue)


def test_derivative1_wrong_and_right(numbers) -> None:
    assert numbers.article_derivative == pytest.approx(-5.716432424534343, rel=1e-13)
    assert numbers.article_derivative_correct_yhat == pytest.approx(-6.1335776, abs=5e-8)
    assert numbers.correct_derivative == pytest.approx(-1.7658128, abs=5e-8)


def test_plus_sign_raises_the_loss_minus_sign_lowers_it(numbers) -> None:
    assert numbers.article_b3 == pytest.approx(-0.05716432424534343, rel=1e-12)
    assert numbers.article_loss_after == pytest.approx(2.884057087700263, rel=1e-12)
    assert numbers.article_loss_after > numbers.article_ssr
    assert numbers.correct_b3 == pytest.approx(0.0176581, abs=5e-8)
    assert numbers.correct_loss_after == pytest.approx(3.0365433, abs=5e-8)
    assert numbers.correct_loss_after < numbers.correct_ssr
    assert numbers.article_loss_after_correct_yhat > numbers.correct_ssr


def test_step_size_and_learning_rates(numbers) -> None:
    assert numbers.article_step_size == numbers.article_derivative  # printed as "step size"
    assert numbers.correct_step == pytest.approx(0.0176581, abs=5e-8)
    assert numbers.learning_rate == 0.01
    assert numbers.prose_b3 == pytest.approx(0.00176581, abs=5e-9)
    assert numbers.correct_ssr > numbers.prose_loss_after > numbers.correct_loss_after


def test_page_lists_every_erratum_with_its_numbers(numbers) -> None:
    items = errata(numbers)
    assert [e.number for e in items] == [1, 2, 3, 4, 5, 6]
    text = errata_text(numbers)
    for expected in [
        "softplus",
        "sum of squared residuals",
        "[1.5592, 1.8091, 1.9914]",
        "[1.5104, 1.5407, 1.5660]",
        "SSR: article 2.8582 · correct 3.0667888",
        "article -5.7164",
        "article -6.1335776 · correct -1.7658128",
        "b3 after one step: article -0.0572 · correct 0.0176581",
        "loss: article 2.8582 → 2.8841 RISES · correct 3.0667888 → 3.0365433 falls",
        "printed “step size”: article -5.7164 · correct -0.0176581",
        "α = 0.001 (prose)",
        "α = 0.01 (code)",
    ]:
        assert expected in text, expected


def test_step_size_is_alpha_times_the_derivative_with_its_sign(numbers) -> None:
    """Erratum 5 defines the step size as α·∂Loss/∂b3: its number must carry that sign."""
    alpha_times_derivative = numbers.learning_rate * numbers.correct_derivative
    assert alpha_times_derivative == pytest.approx(-0.0176581, abs=5e-8)
    assert numbers.correct_step_size == alpha_times_derivative
    assert numbers.correct_step == -alpha_times_derivative
    fifth = errata(numbers)[4]
    assert f"step size = α·∂Loss/∂b3 = {alpha_times_derivative:+.7f}" in fifth.correct
    assert f"the step taken is −(step size) = {-alpha_times_derivative:+.7f}" in fifth.correct
    (row,) = fifth.numbers
    assert row[0] == "printed “step size”"
    assert float(row[2]) == pytest.approx(alpha_times_derivative, abs=5e-8)
