"""A classifier fitted to a site: calibration and threshold refitted on the site's labelled films, weights kept, the
before and after said on the films it was not fitted on; a set it cannot be fitted on is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medlib.datasets import Dataset
from medlib.errors import DatasetError
from tests.helpers import squares

pytest.importorskip("tensorflow")


def _site(n: int = 120):
    """Another hospital's films: the squares far fainter than the model learned them (it is overconfident there)."""
    return squares(n=n, seed=7, contrast=0.25)


def test_the_site_calibration_lowers_the_error_on_the_sites_other_films_and_keeps_the_ranking(toy_classifiers,
                                                                                            tmp_path):
    from sklearn.metrics import roc_auc_score

    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import predict_split
    from medlib.training.recalibrate import recalibrate

    root, _ = toy_classifiers
    loaded, site = open_model(root / "resnet"), _site()
    done = recalibrate(loaded, site, tmp_path / "resnet-site")
    again = open_model(done.stored.path)
    before, after = done.site["before"], done.site["after"]
    assert done.site["films"] == 120 and done.site["fit_films"] + done.site["check_films"] == 120
    assert again.card.calibration["applied"]  # it was miscalibrated there (ECE about 0.5, all films called empty)
    assert after["ece"] < before["ece"] - 0.1  # on the half it was not fitted on
    assert after["sensitivity"] > before["sensitivity"]  # the site's own threshold finds its fainter squares
    assert after["threshold"] == pytest.approx(again.threshold, abs=1e-4) and again.card.site["name"] == site.name
    for figures in (before, after):
        assert figures["ece_ci"][0] <= figures["ece"] <= figures["ece_ci"][1]
        assert all(len(figures[f"{name}_ci"]) == 2 for name in ("sensitivity", "specificity", "auc"))
    # the weights are the model's: only the head is rescaled, so every film is ranked as before
    old, new = loaded.model.get_weights(), again.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(old[:-2], new[:-2], strict=True))
    labels = site.labels
    auc = [roc_auc_score(labels, np.asarray(predict_split(m, site, "all")[1]).reshape(len(labels), -1)[:, -1])
           for m in (loaded, again)]
    assert auc[0] == pytest.approx(auc[1], abs=1e-6)
    assert set(done.reliability) == {"before", "after"}


def test_a_site_set_too_small_or_of_one_class_is_refused_with_what_is_needed(toy_classifiers, tmp_path):
    from medlib.models.loaded import open_model
    from medlib.training.recalibrate import recalibrate

    root, _ = toy_classifiers
    loaded = open_model(root / "resnet")
    with pytest.raises(DatasetError, match="at least 20 labelled films .* at least 5 of each class; this set has 12"):
        recalibrate(loaded, _site(12), tmp_path / "small")
    site = _site(60)
    one = np.flatnonzero(site.labels == 1)
    squares_only = Dataset("squares only", site.images[one], site.split[one], [site.ids[i] for i in one],
                           labels=site.labels[one], class_names=site.class_names, synthetic=True)
    with pytest.raises(DatasetError, match="at least 5 of each class; this set has 30 .0 empty, 30 square."):
        recalibrate(loaded, squares_only, tmp_path / "one-class")
    assert not (tmp_path / "small").exists() and not (tmp_path / "one-class").exists()


def test_the_command_writes_the_new_model_and_says_what_changed(toy_classifiers, tmp_path):
    from medlib.cli import main

    root, _ = toy_classifiers
    site, data = _site(), tmp_path / "site.npz"
    np.savez(data, train_images=np.round(site.images[..., 0] * 255).clip(0, 255).astype(np.uint8),
             train_labels=site.labels[:, None])
    assert main(["recalibrate", "--model", str(root / "resnet"), "--data", str(data), "--out",
                 str(tmp_path / "site-model")]) == 0
    card = json.loads((tmp_path / "site-model" / "card.json").read_text())
    assert card["site"]["films"] == 120 and {"before", "after"} <= set(card["site"])
    assert card["threshold"]["chosen_on"].startswith("the site set")


def test_only_a_two_class_classifier_is_recalibrated(tmp_path):
    from medlib.errors import ModelError
    from medlib.models.loaded import open_model
    from medlib.training.recalibrate import recalibrate
    from tests.conftest import ROOT

    with pytest.raises(ModelError, match="not a two-class classifier"):
        recalibrate(open_model(ROOT / "models" / "cxr-anatomy"), _site(), tmp_path / "anatomy-site")
