"""The shipped real-film models on real films: any channel count and bit depth, the out-of-distribution gate, and
(where ../shared is present) films of patients they never saw."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from medlib.answers.diagnose import diagnose
from medlib.input import read_image
from medlib.models.loaded import open_model
from tests.conftest import ROOT

pytest.importorskip("tensorflow")

FILM = ROOT / "samples" / "IM-0141-0001.jpeg"


@pytest.fixture(scope="module")
def models():
    return open_model(ROOT / "models" / "cxr-pneumonia"), open_model(ROOT / "models" / "cxr-lungs")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_rgb_rgba_palette_and_16_bit_films_go_through_the_1_channel_models_alike(models):
    gray = Image.open(FILM).convert("L")
    pixels = np.asarray(gray)
    versions = {
        "gray": _png(gray), "rgb": _png(gray.convert("RGB")), "rgba": _png(gray.convert("RGBA")),
        "palette": _png(gray.convert("P")), "16-bit": cv2.imencode(".png", pixels.astype(np.uint16) * 257)[1].tobytes(),
    }
    results = {name: diagnose(read_image(data).data[0], *models) for name, data in versions.items()}
    reference = results["gray"].probabilities
    for name, result in results.items():
        assert result.gate.in_distribution, name
        assert result.probabilities == pytest.approx(reference, abs=0.02), name
        assert result.predicted == results["gray"].predicted and len(result.lesions) >= 2, name


def test_an_older_card_without_a_channel_step_still_takes_an_rgb_film():
    synthetic = open_model(ROOT / "models" / "chest-classifier")
    rgb = np.repeat(read_image(FILM).data[0], 3, axis=-1)
    assert diagnose(rgb, synthetic).probabilities


def test_the_gate_flags_noise_and_blank_images_and_passes_the_sample_films(models):
    rng = np.random.default_rng(0)
    for image in (rng.uniform(0, 255, (256, 256, 1)), np.full((300, 300, 1), 128.0),
                  rng.uniform(0, 255, (200, 300, 3))):
        result = diagnose(image.astype(np.float32), *models)
        assert not result.gate.in_distribution and result.predicted is None and result.heat is None
    for film in sorted((ROOT / "samples").glob("*.jpeg")):
        result = diagnose(read_image(film).data[0], *models)
        assert result.gate.in_distribution and result.predicted in ("NORMAL", "PNEUMONIA"), film.name


@pytest.mark.shared
def test_films_of_patients_never_seen_pass_the_gate_and_are_mostly_right(models, shared_data):
    from medlib.datasets import load_dataset

    films = load_dataset(shared_data / "chest_xray_224")
    test = films.indices("test")[::12]  # 59 films of the patient-grouped test split (the card's own split)
    results = [diagnose(films.images[i], *models) for i in test]
    assert sum(r.gate.in_distribution for r in results) >= len(results) - 1
    right = [r.predicted == films.class_names[films.labels[i]] for r, i in zip(results, test, strict=True)]
    assert np.mean(right) > 0.9


def test_a_2048_pixel_film_gets_its_nodule_circles_where_the_224_pixel_one_has_them():
    """The JSRT sample at the original's 2048 pixels (0.175 mm each) and at 224 (1.6 mm): the nodule model's
    candidates come back onto each film through the geometry record, at the same places and sizes in mm (the two
    films differ a little after resampling, so their candidates' order and scores may too)."""
    locator = open_model(ROOT / "models" / "cxr-nodule")
    film = read_image(ROOT / "samples" / "JPCLN012.png").data[0]
    big = cv2.resize(film, (2048, 2048), interpolation=cv2.INTER_CUBIC)[..., None]
    small = diagnose(film, locator=locator, spacing=(1.6, 1.6))
    large = diagnose(big, locator=locator, spacing=(1.6 * 224 / 2048,) * 2)
    assert small.candidates and large.image_size == (2048, 2048)
    scale = 2048 / 224
    matched = 0
    for far in large.candidates[:3]:
        near = min(small.candidates, key=lambda c: np.hypot(c.centre[0] * scale - far.centre[0],
                                                             c.centre[1] * scale - far.centre[1]))
        if np.hypot(near.centre[0] * scale - far.centre[0], near.centre[1] * scale - far.centre[1]) <= 2.5 * scale:
            matched += 1
            assert far.size_mm(large.spacing) == pytest.approx(near.size_mm(small.spacing), rel=0.3)
    assert matched >= 2


def test_a_film_of_a_wider_field_is_answered_at_the_detectors_own_millimetres():
    """The JSRT sample in a corner of a dark canvas twice as wide and tall, at the same 1.6 mm a pixel: the detector
    sees it at its own millimetres (in tiles), not shrunk to fit its input, so its candidates lie where they lie
    on the film alone. Without a spacing the canvas is taken to span the training films' field, and the answer says
    so; a spacing that would make it kilometres wide is capped, and said too."""
    locator = open_model(ROOT / "models" / "cxr-nodule")
    assert locator.card.pixel_mm == pytest.approx(1.6, abs=0.01)
    film = read_image(ROOT / "samples" / "JPCLN012.png").data[0]
    canvas = np.full((448, 560, 1), film.min(), film.dtype)
    canvas[:224, :224] = film
    alone = diagnose(film, locator=locator, spacing=(1.6, 1.6))
    wide = diagnose(canvas, locator=locator, spacing=(1.6, 1.6))
    for candidate in alone.candidates[:4]:
        nearest = min(np.hypot(c.centre[0] - candidate.centre[0], c.centre[1] - candidate.centre[1])
                      for c in wide.candidates)
        assert nearest <= 2.5, candidate  # 4 mm: tiles blend their neighbours' context in
    assert not [n for n in wide.notes if "mm" in n]
    guessed = diagnose(canvas, locator=locator)
    assert any("no pixel spacing" in n and "358 mm" in n for n in guessed.notes)
    pipeline, note = locator.pipeline_for(canvas.shape, (20.0, 20.0))
    assert pipeline.run(canvas).image.shape[:2] == (round(896 * 448 / 560), 896) and "saw it at" in note
    classifier = open_model(ROOT / "models" / "cxr-pneumonia")
    assert classifier.pipeline_for(canvas.shape, (1.6, 1.6)) == (classifier.pipeline, "")
