"""Seeded train/val/test splits: stratified by class, grouped by patient."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)


def _cut(count: int, fractions: Sequence[float]) -> tuple[int, int]:
    """How many of ``count`` items go to val and to test (at least one each once there are three)."""
    n_val = int(round(count * fractions[1]))
    n_test = int(round(count * fractions[2]))
    if count >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    while n_val + n_test >= count and count > 0:
        if n_val >= n_test and n_val > 0:
            n_val -= 1
        elif n_test > 0:
            n_test -= 1
    return n_val, n_test


def assign_splits(
    n: int,
    labels: Sequence[int] | np.ndarray | None = None,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> np.ndarray:
    """A split name for each of ``n`` items.

    Items are stratified by ``labels`` (when given) and never separated from
    their ``groups`` (patient ids): every image of a patient lands in one split.

    >>> assign_splits(10, labels=[0, 1] * 5, seed=1).tolist().count("train")
    6
    """
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and add up to 1, got {tuple(fractions)}")
    group_of = list(groups) if groups is not None else [str(i) for i in range(n)]
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(group_of):
        members[group].append(index)
    strata: dict[int, list[str]] = defaultdict(list)
    for group, items in sorted(members.items()):
        label = Counter(int(labels[i]) for i in items).most_common(1)[0][0] if labels is not None else 0
        strata[label].append(group)
    rng = np.random.default_rng(seed)
    out = np.full(n, "train", dtype=object)
    for label in sorted(strata):
        shuffled = [strata[label][k] for k in rng.permutation(len(strata[label]))]
        n_val, n_test = _cut(len(shuffled), fractions)
        for position, group in enumerate(shuffled):
            name = "val" if position < n_val else "test" if position < n_val + n_test else "train"
            out[members[group]] = name
    return out.astype(str)
