"""What every task answers: the small protocol a task module implements (:class:`Task`), and the parts of a model
that a task's answer reads (:class:`AnsweringModel`).

A task owns its whole path: which samples it learns from and their targets, its loss and the architectures that
can learn it, the validation score a run watches, its outputs on a split and how they are scored against the
truth, its calibration, what the out-of-distribution gate reads, and the candidates it places on one image.
Training, scoring, the answers and the pages ask the task; none of them compares task names or reads a task's
private traits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from medlib.datasets import Dataset
from medlib.models.architectures import ARCHITECTURES, Architecture
from medlib.preprocessing.pipeline import Pipeline, Processed
from medlib.scoring.calibration import Calibration
from medlib.scoring.splits import SplitOutputs
from medlib.targets import Finding


class AnsweringModel(Protocol):
    """What a task reads of a loaded model to answer (:class:`medlib.models.loaded.LoadedModel` is one)."""

    model: Any

    @property
    def card(self) -> Any: ...
    @property
    def mirrors(self) -> tuple[tuple[int, ...], ...]: ...
    @property
    def image_calibration(self) -> Calibration | None: ...


@dataclass(frozen=True)
class Task:
    """One task: what it needs, how it learns and how it is judged. A task module subclasses it and registers one
    instance (:data:`medlib.tasks.TASKS`)."""

    name: ClassVar[str]
    title: ClassVar[str]
    needs: ClassVar[str]
    """What the samples must carry, in words (the error a set without it gets names it)."""
    watched: ClassVar[str]
    """The validation metric that keeps the best epoch."""
    gate_signal: ClassVar[str]
    """What the gate compares: ``features`` (a classifier's feature vector) or ``shape`` (a map's statistics)."""
    default_model: ClassVar[str]
    loss: ClassVar[str]
    """The loss, in words (the recipe and the card show it)."""
    scored_by: ClassVar[str]
    """The card's and the evaluation's metrics, in words."""
    view: ClassVar[str]
    """The evaluation view that shows its figures (the Evaluation page draws each view once)."""
    prior: ClassVar[float | None] = None
    """Where its maps start (:func:`medlib.models.architectures.build_model`): rare findings' maps near zero."""
    at_own_scale: ClassVar[bool] = False
    """Whether its models answer an image at their training images' millimetres per pixel
    (:meth:`medlib.models.loaded.LoadedModel.pipeline_for`): a detector's findings must be as many pixels across as
    those it learned from, where a classifier or an outline reads the whole image at its input size."""
    _maps: ClassVar[bool] = False
    """Whether its models answer with a map (one value per pixel per target) rather than one row per image."""
    _centres: ClassVar[bool] = False
    """Whether its maps are object centres with their radii (a detector's) rather than probabilities per pixel."""

    # What it learns from -------------------------------------------------------------------------------------
    def has_targets(self, dataset: Dataset) -> bool:
        """Whether ``dataset`` carries what this task learns from."""
        raise NotImplementedError

    def training_set(self, dataset: Dataset) -> Dataset:
        """``dataset`` with the targets this task trains on (a map task's in its ``masks``)."""
        return dataset

    def target_names(self, dataset: Dataset) -> list[str]:
        """What the model's outputs name: the classes, or the background and each structure or finding label."""
        return ["background", *self.training_set(dataset).structures]

    def num_outputs(self, dataset: Dataset) -> int:
        """Classes of a classifier; background plus structures (or finding labels) of a map model."""
        return len(self.target_names(dataset))

    def structures(self, names: Sequence[str]) -> list[str]:
        """What a model answering ``names`` outlines or locates (empty for a classifier)."""
        return list(names[1:])

    def positive_class(self, names: Sequence[str]) -> str:
        """The class a two-class model finds (its class 1), else ''."""
        return ""

    def located_by(self, dataset: Dataset, names: Sequence[str]) -> str:
        """How a model trained on ``dataset`` (answering ``names``) places its findings
        (:attr:`medlib.store.card.ModelCard.located_by`): ``map``, ``heat map`` or '' (not at all)."""
        return ""

    def finding(self, dataset: Dataset) -> str:
        """The finding a classifier trained on ``dataset`` locates by its heat map, else ''."""
        return ""

    def describe_targets(self, count: int) -> str:
        """What ``count`` outputs are called in an error (``3 classes``, ``2 structures``)."""
        return f"{count} structures"

    # How it learns -------------------------------------------------------------------------------------------
    def takes(self, architecture: Architecture | str) -> bool:
        """Whether ``architecture`` (or its name) answers in this task's form."""
        arch = ARCHITECTURES[architecture] if isinstance(architecture, str) else architecture
        return arch.dense == self._maps and arch.centres == self._centres

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        """The Keras loss for ``num_classes`` outputs (:mod:`medlib.models.losses`)."""
        raise NotImplementedError

    def class_weight(self, labels: np.ndarray, num_classes: int, rule: str) -> dict[int, float] | None:
        """Weights per class for the training ``labels`` (``rule``: ``balanced`` or ``none``); ``None`` where the
        task's targets are maps."""
        return None

    def mixes(self, mixup: float) -> bool:
        """Whether a run with this ``mixup`` blends its batches (only whole-image labels blend)."""
        return False

    def fits_input(self, model_input: tuple[int, ...], expected: tuple[int, ...]) -> bool:
        """Whether a preprocessed input of shape ``model_input`` fits a model taking ``expected``: a classifier takes
        its own shape, a map model any size with its channels (it predicts in tiles)."""
        return model_input[-1] == expected[-1]

    def explains(self) -> bool:
        """Whether its models are explained by heat maps (:mod:`medlib.models.heatmaps`): a map model's output is
        already a map."""
        return False

    def sample(self, dataset: Dataset, i: int, pipeline: Pipeline) -> tuple[np.ndarray, np.ndarray]:
        """Image ``i`` after ``pipeline`` and its training target (a label, or a label map moved with it), both
        float32 (:func:`medlib.training.inputs.make_inputs`)."""
        raise NotImplementedError

    def target_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample's target for an image of ``image_shape``."""
        raise NotImplementedError

    def encode(self, targets: Any, num_outputs: int) -> Any:
        """A batch of targets as the model's loss takes them (a tf tensor in, a tf tensor out)."""
        return targets

    def image_calibration(self, calibration: dict[str, Any] | None) -> Calibration | None:
        """The calibration of a stored model's image-level probability from its card's ``calibration`` (a
        locating model's); ``None`` where the calibration is folded into the model or absent."""
        return None

    def validation_scores(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                          val_inputs: Any, logs: dict[str, Any]) -> np.ndarray:
        """Score the validation images at ``index`` after an epoch (adding ``val_*`` entries to ``logs``): per-image
        scores, higher better, that keep the best epoch (:class:`medlib.training.monitor.Monitor`)."""
        raise NotImplementedError

    def validation_inputs(self, make: Any) -> Any:
        """What the run prepares once for :meth:`validation_scores` (``make()`` builds the batched inputs)."""
        return None

    # How it is judged ----------------------------------------------------------------------------------------
    def outputs(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                mirrors: Sequence[tuple[int, ...]] = ((),), finding: str = "") -> SplitOutputs:
        """The model's outputs on the images at ``index``, ready to be scored or pooled (``finding``: what a
        classifier locates by its heat map, where it does)."""
        raise NotImplementedError

    def labels(self, dataset: Dataset, index: np.ndarray, class_labels: np.ndarray | None = None) -> np.ndarray | None:
        """The truth a classifier is scored against (``class_labels``: the labels as the model's class indices
        where they differ from the set's); ``None`` for a map model, whose truth is in its outputs."""
        return None

    def score(self, outputs: SplitOutputs, labels: np.ndarray | None = None, threshold: float = 0.5,
              structures: Sequence[str] | None = None, image_calibration: Calibration | None = None,
              seed: int = 0) -> dict[str, Any]:
        """The metrics of ``outputs`` with 95% bootstrap intervals (:mod:`medlib.scoring`)."""
        raise NotImplementedError

    def calibrate(self, model: Any, dataset: Dataset, parts: list[SplitOutputs], logits: list[np.ndarray | None],
                  where: str, emit: Any) -> tuple[Any, dict[str, Any], Calibration | None]:
        """After training: the model to store, what its card records of its calibration and threshold (chosen on
        the validation ``parts``, ``where``), and the calibration of its image-level probability (a locating
        model's). A classifier's calibration is folded into the model and its parts' outputs."""
        return model, {}, None

    def logits(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline) -> np.ndarray | None:
        """A classifier's validation logits (what its calibration is fitted on); ``None`` for a map model."""
        return None

    def gate_vectors(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                     mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
        """What the gate compares for the images at ``index`` (:attr:`gate_signal`); the data set's own targets
        are not needed."""
        raise NotImplementedError

    # Its answer on one image ------------------------------------------------------------------------------------
    def candidates(self, loaded: AnsweringModel, processed: Processed) -> list[Finding]:
        """The located candidates of one preprocessed image (at the model's input), scored as the user reads them;
        empty where the model locates nothing."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "needs": self.needs, "watched": self.watched,
                "loss": self.loss, "scored_by": self.scored_by, "default_model": self.default_model}

