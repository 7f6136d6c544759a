"""Hypothesis strategies shared by the spec tests: valid parameters drawn from a step's declaration."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from medlib.spec import Param, StepKind

#: Upper bounds that keep property tests small and fast (pixel sizes, filter strengths).
SMALL = {"height": 48, "width": 48, "bins": 256, "alpha": 60.0, "strength": 3.0, "tiles": 8}


def param_values(param: Param) -> st.SearchStrategy:
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind == "bool":
        return st.booleans()
    high = min(param.high, SMALL.get(param.name, param.high))
    if param.kind == "int":
        return st.integers(int(param.low), int(high))
    return st.floats(float(param.low), float(high), allow_nan=False, allow_infinity=False)


def step_params(kind: StepKind) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({p.name: param_values(p) for p in kind.params})


@st.composite
def images(draw, max_side: int = 40, channels: tuple[int, ...] = (1, 3)) -> np.ndarray:
    """Small images: random, constant, or 16-bit ranged; H×W×C float32."""
    h, w = draw(st.integers(4, max_side)), draw(st.integers(4, max_side))
    c = draw(st.sampled_from(channels))
    kind = draw(st.sampled_from(["random", "constant", "uint16", "unit"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "constant":
        return np.full((h, w, c), draw(st.sampled_from([0.0, 0.5, 4095.0, -1000.0])), np.float32)
    if kind == "uint16":
        return rng.integers(0, 65536, (h, w, c)).astype(np.float32)
    if kind == "unit":
        return rng.random((h, w, c)).astype(np.float32)
    return (rng.normal(0, 300, (h, w, c)) - 200).astype(np.float32)
