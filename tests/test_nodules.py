"""Simulated nodules: a CT nodule's footprint blended into a film inside the lungs, its centre and size recorded
exactly and the same for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.datasets.nodules import place_nodule, project_nodule, simulate_nodules
from medlib.errors import DatasetError


def _ball(radius: float = 6.0, side: int = 20) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[:side, :side, :side] - (side - 1) / 2
    inside = x**2 + (y / 1.3) ** 2 + (z * 1.2) ** 2 <= radius**2  # not round: its footprint is an ellipse
    return np.where(inside, 30.0, -850.0) + np.random.default_rng(0).normal(0, 5, inside.shape), inside


def _film() -> tuple[np.ndarray, np.ndarray]:
    film = np.random.default_rng(1).normal(100.0, 3.0, (96, 120)).astype(np.float32)
    lungs = np.zeros(film.shape, bool)
    lungs[15:80, 10:50] = lungs[15:80, 70:112] = True
    return film, lungs


def test_a_simulated_nodules_projected_centre_lies_on_its_record_inside_the_lungs():
    nodule = project_nodule(*_ball(), source="ball")
    assert nodule.diameter_mm == pytest.approx(2 * np.sqrt(6 * 5), rel=0.05)  # its front view: an ellipse of 6 × 5
    film, lungs = _film()
    for seed in range(8):
        placed, finding = place_nodule(film, lungs, nodule, spacing=0.8, contrast=0.2,
                                       rng=np.random.default_rng(seed), diameter_mm=9.0)
        added = placed - film
        rows, columns = np.mgrid[: film.shape[0], : film.shape[1]]
        centre = ((added * columns).sum() / added.sum(), (added * rows).sum() / added.sum())
        assert np.hypot(centre[0] - finding.centre[0], centre[1] - finding.centre[1]) <= 0.5, (seed, finding)
        assert lungs[added > 0].all()  # the whole outline inside the lungs
        assert finding.radius * 2 * 0.8 == pytest.approx(9.0, rel=0.2)  # its diameter in mm, at 0.8 mm a pixel
        values = film[lungs]
        assert added.max() == pytest.approx(0.2 * (np.percentile(values, 99) - np.percentile(values, 1)), rel=0.01)


def test_the_same_seed_gives_the_same_nodules_and_another_seed_others():
    nodules = [project_nodule(*_ball(r), source=f"ball{r}") for r in (4.0, 6.0, 8.0)]
    film, lungs = _film()
    first = simulate_nodules(film, lungs, nodules, 0.8, 3, np.random.default_rng(5))
    again = simulate_nodules(film, lungs, nodules, 0.8, 3, np.random.default_rng(5))
    other = simulate_nodules(film, lungs, nodules, 0.8, 3, np.random.default_rng(6))
    assert np.array_equal(first[0], again[0]) and first[1] == again[1] and len(first[1]) == 3
    assert first[1] != other[1]
    apart = [(a, b) for i, a in enumerate(first[1]) for b in first[1][i + 1:]]
    assert all(np.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]) > a.radius + b.radius for a, b in apart)


def test_a_film_without_lungs_or_an_empty_nodule_is_refused_with_what_to_do():
    film, _ = _film()
    with pytest.raises(DatasetError, match="no lung field"):
        place_nodule(film, np.zeros(film.shape, bool), project_nodule(*_ball(), source="b"), 1.0, 0.1,
                     np.random.default_rng(0))
    patch, _ = _ball()
    with pytest.raises(DatasetError, match="mask is empty"):
        project_nodule(patch, np.zeros(patch.shape, bool), source="empty")


def test_node21_nodules_project_to_footprints_of_their_listed_diameters(shared_data):
    import csv

    from medlib.datasets.nodules import read_nodules

    folder = shared_data / "node21_nodules"
    nodules = read_nodules(folder, limit=12)
    with open(folder / "nodules.csv", newline="") as handle:
        listed = [float(row["diameter_mm"]) for row in list(csv.DictReader(handle))[:12]]
    assert len(nodules) == 12 and all(n.footprint.max() == 1.0 for n in nodules)
    # the outline's disk diameter against the table's (a CT diameter: the longest axis, so a little larger)
    assert np.median([n.diameter_mm / d for n, d in zip(nodules, listed, strict=True)]) == pytest.approx(1.0, abs=0.35)


def test_simulate_nodules_writes_a_manifest_set_whose_nodules_lie_where_recorded(shared_data, tmp_path):
    import json

    from medlib.cli import main
    from medlib.datasets import load_dataset

    def simulate(out):
        return main(["simulate-nodules", "--films", str(shared_data / "jsrt"), "--nodules",
                     str(shared_data / "node21_nodules"), "--out", str(out), "--count", "4", "--seed", "3",
                     "--diameters", "12-16", "--contrasts", "0.1-0.15"])

    out = tmp_path / "simulated"
    assert simulate(out) == 0
    made = json.loads((out / "simulation.json").read_text())
    assert made["films"] == 4 and made["spacing_from"] == "the films' own"
    simulated = load_dataset(out)
    jsrt = load_dataset(shared_data / "jsrt")
    assert sorted(simulated.class_names) == ["nodule", "normal"]
    assert simulated.spacing == pytest.approx(jsrt.spacing, abs=1e-3)  # from each nodule's size and radius
    for i in np.flatnonzero(simulated.labels == simulated.class_names.index("nodule")):
        source = simulated.ids[i].split("_", 1)[1]
        original = jsrt.images[jsrt.ids.index(next(k for k in jsrt.ids if k.endswith(source)))][..., 0]
        added = simulated.images[i][..., 0].astype(float) - original
        lungs = np.isin(jsrt.masks[jsrt.ids.index(next(k for k in jsrt.ids if k.endswith(source)))], [1, 2])
        assert added.max() > 0 and lungs[added > 1].all()  # every nodule inside the lungs
        for finding in simulated.findings[i]:
            x, y = (round(v) for v in finding.centre)
            assert added[y, x] > 0 and 2 * finding.radius * simulated.spacing[1] == pytest.approx(14, abs=3.5)
    again = tmp_path / "again"
    assert simulate(again) == 0
    assert (again / "manifest.csv").read_text() == (out / "manifest.csv").read_text()  # the same seed, the same set


def test_a_runs_simulation_gives_nodules_to_a_share_of_its_training_films_only():
    from medlib.datasets import Dataset
    from medlib.datasets.nodule_sets import NoduleSimulation

    film, lungs = _film()
    n = 40
    images = np.repeat(np.clip(film, 0, 255).astype(np.uint8)[None, ..., None], n, axis=0)
    data = Dataset("films", images, np.array(["train"] * 30 + ["val"] * 10), [f"f{i}" for i in range(n)],
                   labels=np.zeros(n, int), class_names=["normal", "nodule"], findings=[[] for _ in range(n)])
    simulation = NoduleSimulation([project_nodule(*_ball(), source="ball")], [lungs] * n, 0.8, 0.5, "balls",
                                  diameters=(6.0, 10.0))
    train = np.arange(30)
    simulated, done = simulation.apply(data, train, seed=0)
    given = [i for i in range(n) if simulated.findings[i]]
    assert set(given) <= set(train) and 8 <= len(given) <= 22 and done.startswith(f"{len(given)} of 30 ")
    assert all(simulated.labels[i] == 1 for i in given) and not simulated.labels[30:].any()
    assert np.array_equal(simulated.images[30:], images[30:]) and np.array_equal(data.images, images)  # a copy
    for i in given:
        changed = simulated.images[i][..., 0] != images[i][..., 0]
        assert changed.any() and lungs[changed].all()
    again, _ = simulation.apply(data, train, seed=0)
    assert [f for f in again.findings] == simulated.findings  # seeded


class _Brightest:
    """A stand-in detector: candidates where the film stands out of its smoothed self (a top-hat), so larger and
    brighter nodules stand out more; no model, the same answer every time."""

    def __init__(self):
        from medlib.preprocessing.pipeline import make_pipeline

        self.pipeline = make_pipeline()
        self.task = self

    def candidates(self, loaded, processed):
        import cv2

        from medlib.scoring.candidates import find_candidates

        film = processed.image[..., 0].astype(np.float32)
        excess = np.clip(film - cv2.blur(film, (25, 25)), 0, None) / 40.0
        return find_candidates(np.clip(excess, 0, 1), floor=0.02)


def test_detectability_finds_large_bright_nodules_and_says_how_sure_it_is():
    from medlib.scoring.detectability import detectability

    film, lungs = _film()
    films = [np.clip(film + k, 0, 255).astype(np.uint8)[..., None] for k in range(4)]
    result = detectability(_Brightest(), films, [lungs] * 4, [project_nodule(*_ball(), source="ball")], 0.8,
                           diameters=(2.0, 12.0), contrasts=(0.03, 0.6), placements=12, seed=1)
    curve = {(row["diameter_mm"], row["contrast"]): row for row in result["curve"]}
    assert result["films"] == 4 and len(curve) == 4
    assert curve[(12.0, 0.6)]["sensitivity"] >= 0.9 > 0.5 > curve[(2.0, 0.03)]["sensitivity"]
    for row in curve.values():
        low, high = row["ci"]
        assert low <= row["sensitivity"] <= high and row["found"] == round(row["sensitivity"] * 12)
    again = detectability(_Brightest(), films, [lungs] * 4, [project_nodule(*_ball(), source="ball")], 0.8,
                          diameters=(2.0, 12.0), contrasts=(0.03, 0.6), placements=12, seed=1)
    assert again == result


def test_medlib_detectability_prints_the_curve_on_a_splits_normal_films(shared_data, capsys):
    import json

    from medlib.cli import main

    assert main(["detectability", "--model", "models/cxr-nodule", "--data", str(shared_data / "jsrt"), "--nodules",
                 str(shared_data / "node21_nodules"), "--diameters", "10,30", "--placements", "4"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["split"] == "val" and result["films"] > 0 and result["spacing_from"] == "the films' own"
    assert [row["diameter_mm"] for row in result["curve"]] == [10.0, 30.0]
    assert all(row["placements"] == 4 and row["ci"][0] <= row["sensitivity"] <= row["ci"][1] for row in result["curve"])
