"""A figure with its 95% interval as the pages' tables show it: ``0.970 [0.956, 0.983]``."""

from __future__ import annotations

from collections.abc import Sequence


def with_interval(value: float | None, interval: Sequence[float | None] | None) -> str:
    """``value`` at three decimals with its interval beside it; a dash where there is no value, the value alone
    where there is no interval.

    >>> with_interval(0.97, [0.956, 0.983]), with_interval(0.5, None), with_interval(None, [0.1, 0.2])
    ('0.970 [0.956, 0.983]', '0.500', '–')
    """
    if value is None:
        return "–"
    low, high = interval or (None, None)
    return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None and high is not None else f"{value:.3f}"
