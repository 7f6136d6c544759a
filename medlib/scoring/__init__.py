"""Scoring: every figure a model is judged by, with its interval: classifiers
(:mod:`~medlib.scoring.classification`, :mod:`~medlib.scoring.probabilities`, :mod:`~medlib.scoring.calibration`,
:mod:`~medlib.scoring.thresholds`), maps (:mod:`~medlib.scoring.segmentation`, in mm for volumes:
:mod:`~medlib.scoring.volumes`), candidates against located findings (:mod:`~medlib.scoring.candidates`), and a
model's outputs on a split (:mod:`~medlib.scoring.splits`)."""
