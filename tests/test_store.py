"""The model store: atomic writes, checks before loading, safe mode, rename/delete/export/import."""

from __future__ import annotations

import io
import tempfile
import zipfile

import numpy as np
import pytest

from medlib.models.safe_keras import load_keras_file
from medlib.store.card import ModelCard
from medlib.store.folders import (
    StoreError,
    UnsafeModelError,
    delete_model,
    export_zip,
    get_model,
    import_upload,
    list_models,
    load_model,
    rename_model,
    save_model,
)

keras = pytest.importorskip("keras")

CARD = ModelCard("classify", "tiny", [8, 8, 1], ["normal", "finding"])


def tiny_model():
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs, name="tiny")


def lambda_model():
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    return keras.Model(inputs, outputs)


def test_save_list_load_round_trip(tmp_path):
    model = tiny_model()
    stored = save_model(model, CARD, tmp_path, "tiny")
    assert [m.name for m in list_models(tmp_path)] == ["tiny"]
    assert stored.card.size == stored.model_file.stat().st_size
    loaded = load_model(get_model("tiny", tmp_path))
    x = np.random.default_rng(0).random((2, 8, 8, 1), np.float32)
    assert np.allclose(loaded.predict_on_batch(x), model.predict_on_batch(x))


def test_a_changed_file_is_refused(tmp_path):
    stored = save_model(tiny_model(), CARD, tmp_path, "tiny")
    with open(stored.model_file, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(StoreError, match="changed since it was saved"):
        load_model(get_model("tiny", tmp_path))


def test_a_failed_save_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    save_model(tiny_model(), CARD, tmp_path, "first")
    model = tiny_model()

    def disk_full(path, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save", disk_full)
    with pytest.raises(StoreError, match="No space left on device.*untouched"):
        save_model(model, CARD, tmp_path, "second")
    assert [m.name for m in list_models(tmp_path)] == ["first"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]


def test_a_read_only_store_gives_a_clear_error(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    with pytest.raises(StoreError, match="Permission denied"):
        save_model(tiny_model(), CARD, tmp_path, "blocked")


def test_lambda_layer_is_refused_in_safe_mode(tmp_path):
    path = tmp_path / "evil.keras"
    lambda_model().save(path)
    with pytest.raises(UnsafeModelError, match="unsafe deserialisation"):
        load_keras_file(path)
    with pytest.raises(UnsafeModelError):
        import_upload(path.read_bytes(), "evil.keras", "evil", tmp_path)
    assert list_models(tmp_path) == []


def test_legacy_h5_and_garbage_are_refused(tmp_path):
    with pytest.raises(UnsafeModelError, match="legacy HDF5"):
        import_upload(b"\x89HDF\r\n", "old.h5", "old", tmp_path)
    with pytest.raises(StoreError, match="not a loadable Keras model"):
        import_upload(b"not a zip at all", "broken.keras", "broken", tmp_path)


def test_rename_delete_export_import(tmp_path):
    save_model(tiny_model(), CARD, tmp_path, "a")
    renamed = rename_model("a", "b", tmp_path)
    assert renamed.card.name == "b" and [m.name for m in list_models(tmp_path)] == ["b"]
    data = export_zip(get_model("b", tmp_path))
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["b/card.json", "b/model.keras"]
    imported = import_upload(data, "b.zip", "c", tmp_path)
    assert imported.card.task == "classify" and imported.card.uploaded_from == "b.zip"
    delete_model("b", tmp_path)
    assert [m.name for m in list_models(tmp_path)] == ["c"]


def test_bare_keras_upload_gets_a_card(tmp_path):
    path = tmp_path / "m.keras"
    tiny_model().save(path)
    stored = import_upload(path.read_bytes(), "m.keras", "bare", tmp_path / "store")
    assert stored.card.input_shape == [8, 8, 1] and stored.card.class_names == ["class_0", "class_1"]


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "x" * 80, "spaces here"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(StoreError, match="not a valid model name"):
        save_model(tiny_model(), CARD, tmp_path, name)


def test_a_truncated_keras_file_is_refused_and_the_store_is_unchanged(tmp_path):
    save_model(tiny_model(), CARD, tmp_path, "good")
    whole = export_zip(get_model("good", tmp_path))
    keras_bytes = zipfile.ZipFile(io.BytesIO(whole)).read("good/model.keras")
    with pytest.raises(StoreError, match="not a loadable Keras model"):
        import_upload(keras_bytes[: len(keras_bytes) // 2], "cut.keras", "cut", tmp_path)
    assert [m.name for m in list_models(tmp_path)] == ["good"]


def test_a_colour_set_fits_a_gray_model_but_a_preprocessing_of_another_size_is_refused():
    import dataclasses
    from pathlib import Path

    from medlib.datasets import Dataset
    from medlib.datasets.split import assign_splits
    from medlib.models.architectures import ModelError
    from medlib.models.loaded import check_fit, open_model
    from medlib.preprocessing.pipeline import make_pipeline

    loaded = open_model(Path(__file__).resolve().parents[1] / "models" / "chest-classifier")  # gray 128×128, 3 classes
    labels = np.arange(12) % 3
    colour = Dataset("colour", np.zeros((12, 64, 64, 3), np.float32), assign_splits(12, labels, seed=0),
                     [f"c{i}" for i in range(12)], labels=labels, class_names=["a", "b", "c"])
    check_fit(loaded, colour)  # the card's preprocessing brings colour to the gray channel the model takes
    smaller = dataclasses.replace(loaded, pipeline=make_pipeline(("color", {}), ("resize", {"height": 64})))
    with pytest.raises(ModelError, match=r"takes \(128, 128, 1\) inputs"):
        check_fit(smaller, colour)
