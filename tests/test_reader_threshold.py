"""The "not found" threshold's rule and its spread (qa.reader.threshold)."""

import numpy as np
import pytest

from qa.reader.threshold import GRID, choose_threshold, spread


def calibration_like(n_pos: int, n_near: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Scores shaped like the seed calibration halves': answerable questions read at a wide
    range of probabilities, near misses mostly below them."""
    rng = np.random.default_rng(seed)
    pos = 1 / (1 + np.exp(-rng.normal(-0.5, 2.0, n_pos)))
    near = 1 / (1 + np.exp(-rng.normal(-4.0, 1.5, n_near)))
    return pos, near


def test_rule_keeps_the_floor_and_refuses_the_most():
    pos = np.array([0.02, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97])
    near = np.array([0.01, 0.05, 0.1, 0.25, 0.5])
    t = choose_threshold(pos, near, min_found=0.9)
    # 9 of 10 found up to 0.3; from above 0.25 four near misses are refused: the lowest such
    assert t == pytest.approx(0.26)
    assert np.mean(pos >= t) >= 0.9
    assert np.mean(near < t) == pytest.approx(0.8)


def test_rule_ties_go_to_the_lower_threshold():
    pos = np.array([0.5, 0.6, 0.7])
    near = np.array([0.01])
    # every threshold above 0.01 refuses the one near miss and finds all three
    assert choose_threshold(pos, near, min_found=1.0) == pytest.approx(GRID[GRID > 0.01][0])


def test_rule_when_no_threshold_keeps_the_floor():
    # a type check refused two answerable questions outright (score 0): no threshold finds 95%
    pos = np.array([0.0, 0.0, 0.4, 0.5, 0.6])
    near = np.array([0.1, 0.2, 0.45])
    t = choose_threshold(pos, near)
    assert np.mean(pos >= t) == pytest.approx(0.6)  # as many as any threshold finds
    assert np.mean(near < t) == pytest.approx(2 / 3)
    assert t == pytest.approx(0.21)


def test_spread_narrows_with_more_calibration_questions():
    small = spread(*calibration_like(60, 40), draws=200)
    large = spread(*calibration_like(600, 400), draws=200)
    assert small[0] <= small[1] and large[0] <= large[1]
    assert large[1] - large[0] < small[1] - small[0]


def test_bad_calibration_sets_are_named():
    with pytest.raises(ValueError, match="no answerable scores"):
        choose_threshold(np.array([]), np.array([0.1]))
    with pytest.raises(ValueError, match="no near-miss scores"):
        spread(np.array([0.5]), np.array([]))
    with pytest.raises(ValueError, match="draws must be at least 2, got 1"):
        spread(np.array([0.5]), np.array([0.1]), draws=1)
