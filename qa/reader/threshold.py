"""The "not found" threshold, chosen on a calibration set of answerable and near-miss questions.

The rule (``choose_threshold``): the threshold that refuses the most near misses while at least
``MIN_FOUND`` of the answerable questions are still found. The floor makes it an order statistic:
on the 95 answerable questions of the first seed set's calibration half, the fifth-lowest score
set it, and one question read a little lower moved it from 0.045 to 0.0175. ``spread`` says how
far the calibration sample moves it (bootstrap interquartile range): 0.0175 to 0.13 on those 95
questions, 0.0275 to 0.05 with the second seed set's calibration half beside them
(bench/RESULTS.md). Bagging the rule (the median over bootstrap resamples) was tried: it narrowed
the range for one graph only, and one question still moved it as far.
"""

from __future__ import annotations

import numpy as np

MIN_FOUND = 0.95
# Finer below 0.1, where a step of 0.01 is a large step in log-odds (0.02 -> 0.03: 0.42).
GRID = np.unique(np.round(np.r_[np.arange(0.005, 0.1, 0.0025), np.arange(0.1, 0.99, 0.01)], 4))


def _scores(name: str, values: np.ndarray) -> np.ndarray:
    scores = np.asarray(values, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        raise ValueError(f"no {name} scores to calibrate the threshold on")
    return scores


def choose_threshold(pos: np.ndarray, near: np.ndarray, min_found: float = MIN_FOUND) -> float:
    """The grid threshold refusing the most near misses (``near``) with at least ``min_found`` of
    the answerable questions (``pos``) found; when the type checks already refuse more than that,
    as many as any threshold finds. Ties go to the lower threshold."""
    pos, near = _scores("answerable", pos), _scores("near-miss", near)
    found = (pos[None, :] >= GRID[:, None]).mean(axis=1)
    refused = (near[None, :] < GRID[:, None]).mean(axis=1)
    floor = min(min_found, float(found.max()))
    ok = np.flatnonzero(found >= floor - 1e-9)
    # the highest refusal among the thresholds that keep the floor; argmax takes the first
    return float(GRID[ok[int(np.argmax(refused[ok]))]])


def spread(
    pos: np.ndarray,
    near: np.ndarray,
    min_found: float = MIN_FOUND,
    draws: int = 300,
    seed: int = 0,
) -> list[float]:
    """The rule's threshold over ``draws`` bootstrap resamples of both sets: its interquartile
    range, how far the calibration sample alone moves it."""
    pos, near = _scores("answerable", pos), _scores("near-miss", near)
    if draws < 2:
        raise ValueError(f"draws must be at least 2, got {draws}")
    rng = np.random.default_rng(seed)
    picks = [
        choose_threshold(rng.choice(pos, pos.size), rng.choice(near, near.size), min_found)
        for _ in range(draws)
    ]
    return [round(float(x), 4) for x in np.percentile(picks, [25, 75])]
