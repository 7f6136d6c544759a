"""Volume models on small synthetic volumes made here (a sphere and an ellipsoid, two labels): the 3-D recipe, the
sliding window, metrics in millimetres, and a volume diagnosed with its label volume written on its own affine."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medlib.datasets import load_dataset
from medlib.errors import DatasetError
from medlib.models.predict import sliding_window
from medlib.preprocessing.volumes import MIRROR_VIEWS, VolumeSteps
from medlib.scoring.volumes import structure_metrics, volume_scores
from tests.helpers import SHAPE_3D as SHAPE
from tests.helpers import write_task


def test_the_recipe_plans_3d_for_isotropic_volumes_and_2d_over_slices_for_thin_stacks(tmp_path):
    from medlib.training.volumes import plan_volumes

    volumes = load_dataset(write_task(tmp_path / "iso", 8))
    steps, choices = plan_volumes(volumes, np.arange(len(volumes)))
    assert choices["configuration"].value == "3-D U-Net" and steps.patch == (24, 24, 24)
    assert steps.normalisation == "mri" and steps.spacing == (1.0, 1.0, 1.0)
    thin = load_dataset(write_task(tmp_path / "thin", 8, spacing=(0.8, 0.8, 5.0)))
    steps, choices = plan_volumes(thin, np.arange(len(thin)))
    assert choices["configuration"].value == "2-D U-Net over slices" and steps.patch == (24, 24, 1)
    assert "thin stacks" in choices["configuration"].reason and "axis 2" in choices["configuration"].reason
    assert choices["batch size"].value == 12 and choices["patches per volume"].value == 8


def test_a_thin_stack_model_trains_over_slices_and_answers_on_the_volume_s_own_grid(tmp_path):
    from medlib.answers.volume_diagnose import diagnose_volume
    from medlib.models.loaded import open_model
    from medlib.training import TrainConfig, train

    root = write_task(tmp_path / "Task98_Thin", 8, spacing=(0.8, 0.8, 5.0))
    result = train(TrainConfig(data=str(root), epochs=2), tmp_path / "store" / "thin")
    card = result.stored.card
    assert card.recipe["configuration"]["value"] == "2-D U-Net over slices" and card.input_shape[2:] == [1, 1]
    loaded = open_model(result.stored.path)
    kernels = {tuple(layer.kernel.shape[:3]) for layer in loaded.model.layers if "conv1" in layer.name}
    assert kernels == {(3, 3, 1)}  # convolved in each slice's plane only
    volume = load_dataset(root).volumes[0]
    answer = diagnose_volume(volume.image, volume.affine, loaded)
    assert answer.labels.shape == volume.image.shape and answer.spacing == pytest.approx((0.8, 0.8, 5.0))


def test_sliding_windows_equal_the_whole_volume_where_both_fit():
    from medlib.models.architectures import build_model

    model = build_model("unet", (16, 16, 16, 1), 3, width=4)
    image = np.random.default_rng(0).random((16, 16, 16, 1)).astype(np.float32)
    whole = np.asarray(model.predict_on_batch(image[None]))[0]
    assert np.allclose(sliding_window(model, image, (16, 16, 16)), whole, atol=1e-5)
    mirrored = sliding_window(model, image, (16, 16, 16), mirrors=((), (0,), (1, 2)))
    views = [np.flip(np.asarray(model.predict_on_batch(np.flip(image, a)[None]))[0], a) for a in ((), (0,), (1, 2))]
    assert np.allclose(mirrored, np.mean(views, axis=0), atol=1e-5)
    large = np.random.default_rng(1).random((40, 24, 16, 1)).astype(np.float32)
    assert sliding_window(model, large, (16, 16, 16)).shape == (40, 24, 16, 2)


def test_one_window_for_films_and_volumes_gives_the_same_labels_slab_by_slab():
    from medlib.models.architectures import build_model
    from medlib.models.predict import label_map

    rng = np.random.default_rng(2)
    model = build_model("unet", (16, 16, 16, 1), 3, width=4)
    volume = rng.random((40, 24, 32, 1)).astype(np.float32)
    settings = dict(patch=(16, 16, 16), overlap=0.5, mirrors=((), (0,)), blend="gaussian", batch=3)
    maps = sliding_window(model, volume, **settings)
    labels = sliding_window(model, volume, **settings, reduce=lambda slab: label_map(slab, 0.3))
    assert labels.dtype == np.uint8 and labels.shape == (40, 24, 32)
    assert np.array_equal(labels, label_map(maps, 0.3))  # blending slab by slab changes nothing
    film = build_model("unet", (32, 32, 1), 2, width=4)
    small = rng.random((20, 50, 1)).astype(np.float32)  # narrower than a patch: padded and cut back
    assert sliding_window(film, small, mirrors=((), (1,))).shape == (20, 50, 1)


def test_metrics_in_millimetres_use_the_spacing():
    z, y, x = np.mgrid[:60, :60, :60]
    ball = (z - 30) ** 2 + (y - 30) ** 2 + (x - 30) ** 2 <= 20**2  # radius 20 voxels of 0.5 mm: 10 mm
    metrics = structure_metrics(ball, ball, (0.5, 0.5, 0.5))
    assert metrics["volume_ml"] == pytest.approx(4 / 3 * np.pi * 10**3 / 1000, rel=0.02)
    shifted = np.roll(ball, 4, axis=0)  # 2 mm along the first axis
    moved = structure_metrics(ball, shifted, (0.5, 0.5, 0.5))
    assert 1.4 < moved["hd95_mm"] <= 2.0 and 0 < moved["asd_mm"] < 2.0  # at most the 2-mm shift
    coarser = structure_metrics(ball, shifted, (1.0, 0.5, 0.5))  # the shifted axis's voxels twice as long
    assert 1.5 * moved["hd95_mm"] < coarser["hd95_mm"] <= 4.0
    labels = ball.astype(np.uint8)
    scores = volume_scores([labels, labels], [labels, shifted.astype(np.uint8)], [(0.5,) * 3] * 2, ["ball"])
    assert scores["dice_per_structure"]["ball"] < 1.0 and scores["per_structure"]["ball"]["dice_ci"][0] is not None
    assert set(scores) >= {"dice", "hd95_mm", "asd_mm", "dice_per_structure", "hd95_mm_per_structure",
                           "volume_error_ml_per_structure"}


def test_steps_round_trip_to_the_volumes_own_grid():
    steps = VolumeSteps((1.0, 1.0, 1.0), "mri", (16, 16, 16))
    labels = np.zeros((18, 12, 20), np.uint8)
    labels[3:9, 2:7, 5:15] = 2
    prepared = steps.prepare(np.random.default_rng(0).random((18, 12, 20)), (1.0, 1.0, 1.0), labels)
    assert prepared.image.shape == (32, 16, 32, 1)
    back = prepared.record.restore_map(prepared.labels, labels.shape, nearest=True)
    assert np.array_equal(back, labels)


def test_a_card_names_its_mirror_views_and_an_older_card_answers_from_the_volume_alone():
    steps = VolumeSteps((1.0, 1.0, 1.0), "mri", (16, 16, 16), None, MIRROR_VIEWS)
    assert VolumeSteps.from_dict(steps.to_dict()) == steps
    older = {k: v for k, v in steps.to_dict().items() if k != "mirrors"}
    assert VolumeSteps.from_dict(older).mirrors == ((),)
    with pytest.raises(DatasetError, match="not lists of axes 0-2"):
        VolumeSteps.from_dict({**older, "mirrors": [[3]]})


def test_a_3d_model_trains_on_a_decathlon_task_and_scores_in_mm(toy_volume_model):
    loaded, result, _ = toy_volume_model
    card = loaded.card
    assert card.dimensions == 3 and card.structures == ["sphere", "ellipsoid"] and card.modality == "MRI"
    assert card.recipe["configuration"]["value"] == "3-D U-Net"
    assert loaded.volume_steps.mirrors == MIRROR_VIEWS
    assert card.recipe["test-time mirrors"]["value"] == [[], [0], [1], [2]]
    test = result.metrics["test"]
    assert test["dice_per_structure"]["sphere"] > 0.6, test["dice_per_structure"]
    assert {"hd95_mm", "asd_mm", "abs_volume_error_pct"} <= set(test)


def test_a_volume_diagnosed_gets_its_label_volume_on_its_own_affine(toy_volume_model, tmp_path):
    from medlib.answers.diagnose_files import diagnose_paths

    loaded, _, root = toy_volume_model
    source = nib.load(root / "imagesTr" / "v0.nii.gz")
    turned = nib.Nifti1Image(np.asarray(source.dataobj)[::-1, :, ::-1].copy(), source.affine @ np.array(
        [[-1, 0, 0, SHAPE[0] - 1], [0, 1, 0, 0], [0, 0, -1, SHAPE[2] - 1], [0, 0, 0, 1]], float))
    nib.save(turned, tmp_path / "turned.nii.gz")  # the same volume stored in another voxel order
    (line,) = diagnose_paths([tmp_path / "turned.nii.gz"], None, None, tmp_path / "out", volume_models=[loaded])
    assert line["model"] == "spheres" and "sent to spheres" in line["note"], line
    written = nib.load(line["labels"])
    assert np.allclose(written.affine, turned.affine) and written.shape == turned.shape
    reference = np.asarray(nib.load(root / "labelsTr" / "v0.nii.gz").dataobj)[::-1, :, ::-1]
    found = np.asarray(written.dataobj)
    assert 2 * np.sum((found == 1) & (reference == 1)) / (np.sum(found == 1) + np.sum(reference == 1)) > 0.6
    assert line["structures"]["sphere"]["volume_ml"] == pytest.approx(np.sum(found == 1) / 1000, rel=1e-3)


def test_a_film_and_a_volume_each_refused_by_the_other_kind_of_model(toy_volume_model):
    from medlib.answers.diagnose import diagnose
    from medlib.answers.volume_diagnose import diagnose_volume
    from medlib.errors import ModelError
    from medlib.scoring.evaluate import evaluate_volumes

    loaded, _, _ = toy_volume_model
    with pytest.raises(ModelError, match="takes volumes, not a 2-D image"):
        diagnose(np.zeros((32, 32, 1), np.float32), segmenter=loaded)
    with pytest.raises(ModelError, match="takes volumes; this image has shape"):
        diagnose_volume(np.zeros((32, 32), np.float32), np.eye(4), loaded)
    with pytest.raises(ModelError, match="is a volume model, and"):
        evaluate_volumes(loaded, load_dataset("phantom", n=12, size=32))


def test_a_volume_model_starts_from_a_stored_one_and_refuses_a_2d_one(toy_volume_model, tmp_path):
    from medlib.errors import ModelError
    from medlib.store.folders import shipped_store
    from medlib.training import TrainConfig, train

    loaded, _, root = toy_volume_model
    config = TrainConfig(data=str(root), epochs=1, init_from=str(loaded.stored.path))
    card = train(config, tmp_path / "again").stored.card
    started = card.training["init_from"]
    assert started["model"] == loaded.stored.name and started["layers_copied"] > 0 and started["layers_new"] == []
    with pytest.raises(ModelError, match="cxr-lungs is a model of 2-D images, and this run trains one of volumes"):
        train(TrainConfig(data=str(root), epochs=1, init_from=str(shipped_store() / "cxr-lungs")), tmp_path / "no")
    assert not (tmp_path / "no").exists()


def test_volumes_train_as_a_fold_ensemble_judged_out_of_fold(toy_volume_model, tmp_path):
    from medlib.models.ensemble import is_ensemble
    from medlib.models.loaded import open_model
    from medlib.training import TrainConfig, train

    _, _, root = toy_volume_model
    events = []
    result = train(TrainConfig(data=str(root), epochs=1, folds=2), tmp_path / "folds", progress=events.append)
    card = result.stored.card
    assert [f["fold"] for f in card.training["folds"]] == [1, 2]
    assert {e.get("fold") for e in events if e["event"] == "epoch"} == {1, 2}  # each fold's epochs said as such
    folds = card.metrics["folds"]
    assert sum(f["val_images"] for f in folds) == card.metrics["val"]["n"]  # every volume validated once
    assert card.recipe["folds"]["value"] == 2
    loaded = open_model(tmp_path / "folds")  # the ensemble loads in safe mode and answers as one model
    assert is_ensemble(loaded.model) and loaded.volume_steps.patch == tuple(card.input_shape[:3])
