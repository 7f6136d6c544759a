"""The fold table of the Training and Evaluation pages: one column per figure, three decimals."""

from __future__ import annotations

from ui.map_evaluation import fold_table


def _fold(k: int, auc: float, image_auc: float | None) -> dict:
    detection = {"nodule": {"image_auc": image_auc, "sensitivity_at_1fp": 0.5}} if image_auc is not None else {}
    return {"fold": k, "train_images": 80, "val_images": 20, "kept_epoch": 3,
            "val": {"auc": auc, "detection": detection}}


def test_a_figure_is_shown_once_at_three_decimals():
    table = fold_table([_fold(1, 0.81234, 0.81234), _fold(2, 0.9, 0.9)])
    assert "image AUC" not in table.columns  # the classifier's own AUC, once
    assert list(table["AUC"]) == ["0.812", "0.900"] and list(table["sensitivity at 1 FP"]) == ["0.500", "0.500"]


def test_a_detectors_own_image_auc_keeps_its_column():
    table = fold_table([_fold(1, 0.7, 0.65)])
    assert list(table["image AUC"]) == ["0.650"]
