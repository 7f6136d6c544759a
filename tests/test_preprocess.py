"""Preprocessing: properties of every step, the pipeline's JSON round trip and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.errors import SpecError
from medlib.input.image import Window
from medlib.preprocessing.pipeline import STEPS, Pipeline, default_pipeline, load_pipeline, make_pipeline
from tests.strategies import images, step_params


def _expected_shape(name: str, params: dict, shape: tuple[int, int, int]) -> tuple[int, int, int] | None:
    h, w, c = shape
    if name == "resize":
        return params["height"], params["width"] or params["height"], c
    if name == "color":
        return h, w, 3 if params["mode"] == "rgb" else 1
    if name == "crop":
        return None  # checked separately against its box
    return shape


@pytest.mark.parametrize("name", sorted(STEPS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_step_keeps_dtype_shape_and_finiteness(name, data):
    params = data.draw(step_params(STEPS[name]))
    image = data.draw(images())
    before = image.copy()
    pipeline = Pipeline([(name, params)])
    out, _ = pipeline.apply(image)
    again, _ = pipeline.apply(image)
    assert np.array_equal(image, before), "the input was changed"
    assert out.dtype == np.float32 and out.ndim == 3
    assert np.isfinite(out).all()
    assert np.array_equal(out, again)
    expected = _expected_shape(name, params, image.shape)
    if expected is not None:
        assert out.shape == expected


@pytest.mark.parametrize("name", ["window", "normalize", "equalize"])
def test_intensity_steps_on_a_constant_16_bit_image_give_no_nan(name):
    out, _ = Pipeline([(name, {})]).apply(np.full((32, 32), 4095, np.uint16))
    assert np.isfinite(out).all() and 0.0 <= out.min() <= out.max() <= 1.0


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_geometric_steps_keep_masks_binary_and_aligned(data):
    name = data.draw(st.sampled_from(["resize", "crop"]))
    params = data.draw(step_params(STEPS[name]))
    if name == "resize":
        params["interpolation"] = "nearest"
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    mask = (rng.random((data.draw(st.integers(8, 40)), data.draw(st.integers(8, 40)))) > 0.6).astype(np.uint8)
    image = mask.astype(np.float32)  # an image whose threshold is the mask
    out, out_mask = Pipeline([(name, params)]).apply(image, mask)
    assert set(np.unique(out_mask)) <= {0, 1}
    assert out_mask.shape == out.shape[:2]
    assert np.array_equal(out_mask, (out[..., 0] > 0.5).astype(np.uint8))


def test_green_mode_keeps_the_green_channel_of_a_colour_image():
    image = np.stack([np.full((4, 4), v, np.float32) for v in (10.0, 200.0, 30.0)], axis=-1)
    out, _ = make_pipeline(("color", {"mode": "green"})).apply(image)
    assert out.shape == (4, 4, 1) and np.all(out == 200.0)
    gray = np.full((4, 4, 1), 7.0, np.float32)
    assert np.array_equal(make_pipeline(("color", {"mode": "green"})).apply(gray)[0], gray)


def test_resize_with_padding_keeps_the_aspect_ratio():
    image = np.ones((50, 100), np.float32)
    out, _ = make_pipeline(("resize", {"height": 64, "mode": "pad", "interpolation": "nearest"})).apply(image)
    assert out.shape == (64, 64, 1)
    assert out[16:48].min() == 1.0 and out[:16].max() == 1.0  # padded with the darkest value (1.0 here)


def test_window_presets_and_the_file_window():
    hu = np.array([[-1000.0, 40.0, 1000.0]], np.float32)
    brain, _ = make_pipeline(("window", {"preset": "brain"})).apply(hu)
    assert brain[0, :, 0].tolist() == [0.0, 0.5, 1.0]
    own, _ = make_pipeline(("window", {"preset": "file"})).apply(hu, file_window=Window(0.0, 2000.0))
    assert own[0, :, 0].tolist() == pytest.approx([0.0, 0.52, 1.0])


def test_trace_shows_every_stage_with_its_time():
    stages = default_pipeline(32).trace(np.random.default_rng(0).random((64, 80)))
    assert [s.name for s in stages] == ["input", "resize", "window"]
    assert stages[-1].image.shape == (32, 32, 1) and all(s.seconds >= 0 for s in stages)


def test_json_round_trip_and_diff():
    pipeline = make_pipeline("resize", ("window", {"preset": "lung"}), ("equalize", {"method": "histogram"}))
    again = load_pipeline(pipeline.to_json())
    assert again.to_dict() == pipeline.to_dict() and not pipeline.diff(again)
    changed = load_pipeline(json.dumps({**pipeline.to_dict(), "steps": pipeline.to_dict()["steps"][1:]}))
    changed.steps[0][1]["preset"] = "bone"
    assert pipeline.diff(changed) == ["removed step 1 resize", "step 1 window: preset lung → bone"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('{"steps": [{"step": "sharpen"}]}', "unknown preprocess step 'sharpen'"),
        ('{"steps": [{"step": "resize", "params": {"height": 2}}]}', r"height=2 is out of range; allowed 8 to 4096"),
        ('{"steps": [{"step": "resize", "params": {"height": "big"}}]}', "height must be a number"),
        ('{"steps": [{"step": "resize", "params": {"size": 3}}]}', r"unknown parameter\(s\) \['size'\]"),
        ('{"steps": [{"step": "window", "params": {"preset": "liver"}}]}', "preset='liver' is not allowed"),
        ('{"steps": [{"step": "resize", "params": {"height": 10.5}}]}', "must be a whole number"),
        ("not json", "not valid JSON"),
        ('{"stages": []}', 'with a "steps" list'),
        ('{"medlib": "augment", "steps": []}', "this is a augment spec"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(SpecError, match=message):
        load_pipeline(spec)


def test_wrong_image_shape_is_refused():
    with pytest.raises(SpecError, match="H×W or H×W×"):
        default_pipeline().apply(np.zeros((2, 3, 4, 5)))


def test_the_default_for_a_data_set_follows_how_its_values_are_stored():
    from medlib.datasets import Dataset
    from medlib.training.recipe import dataset_defaults

    def dataset(values):
        return Dataset("d", values, np.array(["train"] * len(values)), [str(i) for i in range(len(values))],
                       labels=np.arange(len(values)) % 2, class_names=["a", "b"])

    def steps(values):
        pipeline, _ = dataset_defaults(dataset(values))
        return dict(pipeline.steps), [name for name, _ in pipeline.steps]

    rng = np.random.default_rng(0)
    eight_bit, names = steps(rng.integers(0, 256, (4, 20, 30, 1)).astype(np.uint8))
    assert names == ["color", "resize", "window"]
    assert eight_bit["color"]["mode"] == "gray" and eight_bit["window"]["preset"] == "bits"
    assert eight_bit["resize"]["height"] == 30 and eight_bit["resize"]["mode"] == "pad"  # not square: padded
    unit, _ = steps(rng.random((4, 8, 8, 1)).astype(np.float32))
    assert unit["window"]["preset"] == "bits" and unit["resize"]["mode"] == "stretch"  # squares: stretched
    hounsfield, _ = steps(rng.normal(-500, 400, (4, 300, 300, 1)).astype(np.float32))
    assert hounsfield["window"]["preset"] == "auto" and hounsfield["resize"]["height"] == 128
    colour, _ = steps(rng.integers(0, 256, (4, 16, 16, 3)).astype(np.uint8))
    assert colour["color"]["mode"] == "rgb"


def test_the_bits_window_maps_an_8_bit_film_and_its_16_bit_export_alike():
    from medlib.preprocessing.pipeline import make_pipeline

    film = np.random.default_rng(1).integers(0, 256, (32, 32, 1)).astype(np.float32)
    bits = make_pipeline(("window", {"preset": "bits"}))
    eight, _ = bits.apply(film)
    sixteen, _ = bits.apply(film * 257.0)
    twelve, _ = bits.apply(np.round(film * 4095.0 / 255.0))
    assert np.allclose(eight, film / 255.0) and np.allclose(sixteen, eight, atol=1e-6)
    assert np.allclose(twelve, eight, atol=1e-3)
    hounsfield, _ = bits.apply(film - 1000.0)  # negative values have no bit depth: the robust window instead
    assert 0.0 <= hounsfield.min() and hounsfield.max() <= 1.0 and hounsfield.std() > 0.1


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 200), st.integers(8, 200), st.integers(8, 64), st.sampled_from(["pad", "stretch"]),
       st.floats(0.1, 0.9))
def test_the_recorded_geometry_brings_a_map_back_onto_the_image(height, width, side, mode, value):
    pipeline = make_pipeline(("resize", {"height": side, "mode": mode}))
    processed = pipeline.run(np.zeros((height, width)))
    image_box = np.zeros((height, width), np.uint8)
    image_box[:] = 1
    inside = processed.geometry.record.move(image_box, nearest=True, fill=0).astype(bool)
    assert inside.shape == processed.image.shape[:2] and not processed.geometry.crops
    # a map that is `value` where the image lies in the model input, and 0 in the padding, comes back as `value`
    values = np.where(inside, value, 0.0).astype(np.float32)
    back = processed.geometry.to_input(values)
    assert back.shape == (height, width) and np.allclose(back, value, atol=1e-5)


def test_a_crop_is_recorded_and_a_map_cannot_come_back_over_what_it_cut_off():
    processed = make_pipeline(("crop", {"mode": "center", "fraction": 0.5}), ("resize", {"height": 16})).run(
        np.zeros((40, 60)))
    steps = processed.geometry.record.steps
    assert [type(s).__name__ for s in steps] == ["Crop", "Scale", "Pad"]
    assert steps[0].box == ((10, 30), (15, 45)) and processed.geometry.crops
    assert processed.geometry.to_input(np.zeros((16, 16), np.float32)) is None


def test_a_failing_step_names_itself_and_its_input():
    with pytest.raises(SpecError, match=r"step 2 \(denoise\) failed on a 0×5×1 float32 input"):
        make_pipeline("color", "denoise").apply(np.zeros((0, 5)))
