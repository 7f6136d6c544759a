"""Declarative, JSON-serialisable specs: an ordered list of named steps with validated parameters.

Preprocessing pipelines and augmentation specs are both such lists. Each kind
of step declares its parameters once (:class:`Param`); validation, defaults,
JSON round trips, diffs and the pages' widgets all come from that declaration.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medlib.errors import SpecError


@dataclass(frozen=True)
class Param:
    """One parameter of a step: its type, default and allowed values.

    ``kind`` is ``int``, ``float``, ``bool`` or ``choice``; numbers are bounded
    by ``low`` and ``high`` (inclusive); a choice takes one of ``choices``.
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    step: float | None = None
    shown_if: tuple[str, tuple[str, ...]] | None = None  # (other parameter, its values): when a UI shows it
    label: str = ""  # what a UI calls it; its name with spaces where empty
    log: bool = False  # a number spanning decades (a learning rate): a UI takes it typed, not on a slider

    @property
    def title(self) -> str:
        """What a UI calls the parameter."""
        return self.label or self.name.replace("_", " ")

    def check(self, value: Any, where: str) -> Any:
        """The value converted to this parameter's type, or :class:`SpecError` saying what is allowed."""
        if self.kind == "choice":
            if value not in self.choices:
                raise SpecError(f"{where}: {self.name}={value!r} is not allowed; choose one of {list(self.choices)}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{where}: {self.name} must be true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: {self.name} must be a number, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise SpecError(f"{where}: {self.name} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise SpecError(f"{where}: {self.name}={value} is out of range; allowed {self.low} to {self.high}")
        return value


@dataclass(frozen=True)
class StepKind:
    """A kind of step: its name, a title and help for people, its parameters and its implementation."""

    name: str
    title: str
    params: tuple[Param, ...]
    build: Callable[..., Any]
    help: str = ""
    group: str = ""

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, params: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Complete ``params`` with defaults and check every value; unknown names are refused."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise SpecError(f"{where}: unknown parameter(s) {unknown} for {self.name!r}; known: {sorted(known)}")
        merged = {**self.defaults(), **params}
        return {name: known[name].check(value, where) for name, value in merged.items()}


@dataclass
class Spec:
    """An ordered list of validated steps of one family (``preprocess`` or ``augment``)."""

    family: str
    registry: Mapping[str, StepKind] = field(repr=False)
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.steps = [self._checked(i, name, params) for i, (name, params) in enumerate(self.steps)]

    def _checked(self, index: int, name: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        if name not in self.registry:
            raise SpecError(
                f"step {index + 1}: unknown {self.family} step {name!r}; known steps: {sorted(self.registry)}"
            )
        return name, self.registry[name].validate(params, f"step {index + 1} ({name})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "medlib": self.family,
            "version": 1,
            "steps": [{"step": name, "params": dict(params)} for name, params in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def diff(self, other: Spec) -> list[str]:
        """Human-readable changes from ``self`` to ``other``: steps added, removed, and parameters changed."""
        changes: list[str] = []
        names_a, names_b = [n for n, _ in self.steps], [n for n, _ in other.steps]
        matcher = difflib.SequenceMatcher(a=names_a, b=names_b, autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op == "equal":
                for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                    old, new = self.steps[i][1], other.steps[j][1]
                    for key in old:
                        if old[key] != new.get(key):
                            changes.append(f"step {j + 1} {names_b[j]}: {key} {old[key]} → {new.get(key)}")
                continue
            changes += [f"removed step {i + 1} {names_a[i]}" for i in range(a0, a1)]
            changes += [f"added step {j + 1} {names_b[j]}" for j in range(b0, b1)]
        return changes


def parse_spec(data: str | bytes | Mapping[str, Any], family: str, registry: Mapping[str, StepKind]) -> Spec:
    """A :class:`Spec` from its JSON text or dict, validated, with errors that say what to fix."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"the {family} spec is not valid JSON ({exc}); export it again") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("steps"), list):
        raise SpecError(f'a {family} spec is a JSON object with a "steps" list')
    if data.get("medlib", family) != family:
        raise SpecError(f"this is a {data.get('medlib')} spec, not a {family} spec")
    steps: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(data["steps"]):
        if not isinstance(item, Mapping) or "step" not in item:
            raise SpecError(f'step {index + 1}: each step is an object like {{"step": "resize", "params": {{...}}}}')
        params = item.get("params", {})
        if not isinstance(params, Mapping):
            raise SpecError(f"step {index + 1}: params must be an object")
        steps.append((str(item["step"]), dict(params)))
    return Spec(family, registry, steps)
