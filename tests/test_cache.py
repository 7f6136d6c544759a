"""Data sets read from disk: the cache holds what the in-memory set holds, reads only what is asked for, and
trains through the same tf.data input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.datasets import cache_dataset, load_dataset
from medlib.datasets.cache import ShardedArray, dataset_chunks, is_cache, open_cache, write_cache
from medlib.datasets.folders import folder_plan
from medlib.datasets.phantom import make_phantom, phantom_chunks
from medlib.errors import DatasetError
from tests.helpers import squares


def _eight_bit(dataset):
    dataset.images = np.round(dataset.images * 255).clip(0, 255).astype(np.uint8)
    return dataset


def test_a_cache_holds_what_the_set_in_memory_holds(tmp_path):
    memory = _eight_bit(squares(n=40))
    cached = open_cache(write_cache(memory, dataset_chunks(memory, size=16), tmp_path / "cache"))
    assert cached.streamed and not memory.streamed
    assert cached.images.shape == memory.images.shape and cached.images.dtype == memory.images.dtype
    assert np.array_equal(cached.images[:], memory.images) and np.array_equal(cached.masks[:], memory.masks)
    assert np.array_equal(cached.labels, memory.labels) and list(cached.split) == list(memory.split)
    assert cached.fingerprint == memory.fingerprint
    assert cached.summary() == memory.summary()
    assert len(list((tmp_path / "cache").glob("images-*.npy"))) == 3


def test_opening_and_summarising_a_cache_reads_no_image(tmp_path, monkeypatch):
    memory = _eight_bit(squares(n=20))
    folder = write_cache(memory, dataset_chunks(memory), tmp_path / "cache")

    def refuse(self, i):
        raise AssertionError(f"image {i} was read")

    monkeypatch.setattr(ShardedArray, "item", refuse)
    cached = load_dataset(folder)
    assert cached.summary()["counts"] == memory.counts() and cached.fingerprint == memory.fingerprint


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_sharded_reads_index_like_numpy(tmp_path_factory, shard_sizes, data):
    folder = tmp_path_factory.mktemp("shards")
    whole = np.arange(sum(shard_sizes) * 6, dtype=np.uint16).reshape(-1, 2, 3)
    paths, start = [], 0
    for k, size in enumerate(shard_sizes):
        part = whole[start : start + size]
        np.save(folder / f"s{k}.npy", part.astype(np.uint8) if k == 0 else part)  # one narrower shard
        paths.append(folder / f"s{k}.npy")
        start += size
    array = ShardedArray(paths, np.uint16)
    n = len(whole)
    assert array.shape == whole.shape and len(array) == n
    i = data.draw(st.integers(-n, n - 1))
    picks = data.draw(st.lists(st.integers(0, n - 1), max_size=6))
    chosen = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    cut = slice(data.draw(st.integers(0, n)), data.draw(st.integers(0, n)))
    assert np.array_equal(array[i], whole[i])
    assert np.array_equal(array[np.array(picks, int)], whole[np.array(picks, int)])
    assert np.array_equal(array[chosen], whole[chosen]) and np.array_equal(array[cut], whole[cut])
    assert np.array_equal(array[picks, ..., 0], whole[picks, ..., 0]) and np.array_equal(array[i, 1], whole[i, 1])
    with pytest.raises(IndexError):
        array[n]


def test_a_folder_is_cached_a_shard_at_a_time_as_it_would_load(tmp_path):
    source = tmp_path / "films"
    for i in range(9):
        folder = source / ("sick" if i % 3 == 0 else "well")
        folder.mkdir(parents=True, exist_ok=True)
        side = 24 + 4 * (i % 2)  # two sizes: the images are padded to one square as they are read
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((side, side + 6), 20 * i, np.uint8))
    plan = folder_plan(source, seed=1)
    chunks = list(plan.chunks(size=4))
    assert [len(c.images) for c in chunks] == [4, 4, 1]
    cached = open_cache(write_cache(plan.template, iter(chunks), tmp_path / "cache"))
    memory = load_dataset(source, seed=1)
    assert cached.fingerprint == memory.fingerprint and cached.notes == memory.notes
    assert np.array_equal(cached.images[:], memory.images) and cached.source_sizes == memory.source_sizes


def test_shards_of_two_types_are_read_in_the_type_the_set_in_memory_takes(tmp_path):
    from medlib.datasets.cache import Chunk

    memory = squares(n=8)
    unsigned = np.arange(4 * 32 * 32, dtype=np.uint16).reshape(4, 32, 32, 1)
    signed = -np.arange(4 * 32 * 32, dtype=np.int16).reshape(4, 32, 32, 1)
    memory.images, memory.masks = np.concatenate([unsigned, signed]).astype(np.float32), None
    chunks = [Chunk(unsigned), Chunk(signed)]
    cached = open_cache(write_cache(memory, iter(chunks), tmp_path / "cache"))
    assert cached.images.dtype == np.float32 and np.array_equal(cached.images[:], memory.images)
    assert cached.fingerprint == memory.fingerprint


def test_the_phantom_is_cached_in_chunks_as_its_eight_bit_films(tmp_path):
    written: list[int] = []
    folder = cache_dataset("phantom", tmp_path / "cache", n=12, size=32, seed=4, report=written.append)
    cached, memory = load_dataset(folder), make_phantom(n=12, size=32, seed=4)
    assert written == [12] and cached.images.dtype == np.uint8
    assert np.array_equal(cached.images[:], np.round(memory.images * 255).astype(np.uint8))
    assert np.array_equal(cached.masks[:], memory.masks) and list(cached.split) == list(memory.split)
    template, chunks = phantom_chunks(12, 32, seed=4, chunk=5, workers=2)
    parts = list(chunks)
    assert [len(c.images) for c in parts] == [5, 5, 2] and template.images.strides[0] == 0  # no memory
    assert np.array_equal(np.concatenate([c.images for c in parts]), cached.images[:])


def test_a_failed_write_leaves_nothing_and_an_existing_folder_is_kept(tmp_path):
    memory = _eight_bit(squares(n=20))

    def broken():
        yield from dataset_chunks(memory, size=8)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_cache(memory, broken(), tmp_path / "cache")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "cache").mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        write_cache(memory, dataset_chunks(memory), tmp_path / "cache")


def test_a_cache_of_another_version_is_refused_with_what_to_do(tmp_path):
    memory = _eight_bit(squares(n=20))
    folder = write_cache(memory, dataset_chunks(memory), tmp_path / "cache")
    meta = json.loads((folder / "cache.json").read_text())
    (folder / "cache.json").write_text(json.dumps(meta | {"version": 99}))
    with pytest.raises(DatasetError, match="write it again"):
        open_cache(folder)


def test_a_streamed_set_gives_the_same_batches_as_in_memory(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.training import TrainConfig, resolve
    from medlib.training.inputs import make_inputs

    memory = _eight_bit(squares(n=60))
    cached = open_cache(write_cache(memory, dataset_chunks(memory, size=16), tmp_path / "cache"))
    config = TrainConfig(task="segment", epochs=1, augment={"steps": []}, patch_size=16, patches_per_image=2)
    recipe = resolve(config, memory)
    pairs = [make_inputs(d, recipe.val_index, recipe, seed=0) for d in (memory, cached)]
    for (a_images, a_masks), (b_images, b_masks) in zip(*pairs, strict=True):
        assert np.array_equal(a_images, b_images) and np.array_equal(a_masks, b_masks)
    shuffled = make_inputs(cached, recipe.train_index, recipe, seed=0, shuffle=True)
    epochs = [np.concatenate([m.numpy().sum(axis=(1, 2, 3)) for _, m in shuffled]) for _ in range(2)]
    assert len(epochs[0]) == recipe.train_index.size * 2 and not np.array_equal(epochs[0], epochs[1])


def test_the_cache_command_writes_a_set_that_info_reads(tmp_path, capsys):
    from medlib.cli import main

    assert main(["cache", "phantom", "--n", "9", "--size", "16", "--out", str(tmp_path / "films")]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert written["images"] == 9 and written["dtype"] == "uint8" and written["image_size"] == [16, 16]
    assert main(["info", str(tmp_path / "films")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["fingerprint"] == written["fingerprint"]
    assert main(["cache", "phantom", "--n", "9", "--out", str(tmp_path / "films")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_set_too_large_for_memory_is_refused_with_the_way_to_train_from_disk(tmp_path, monkeypatch):
    from medlib.errors import ImageTooLargeError

    for i in range(4):
        folder = tmp_path / "films" / ("sick" if i % 2 else "well")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"f{i}.png"), np.zeros((600, 600), np.uint8))
    monkeypatch.setenv("MEDLIB_MAX_DATASET_MB", "1")
    with pytest.raises(ImageTooLargeError, match="python -m medlib cache DATA --out DIR"):
        load_dataset(tmp_path / "films")


def test_a_zip_is_cached_as_it_would_load(tmp_path):
    from medlib.datasets.phantom_export import write_png_zip

    archive = write_png_zip(make_phantom(n=12, size=32), tmp_path / "films.zip")
    memory, cached = load_dataset(archive), load_dataset(cache_dataset(archive, tmp_path / "cache"))
    assert cached.streamed and cached.fingerprint == memory.fingerprint
    assert cached.source_format == memory.source_format == "zip (class folders)" and cached.notes == memory.notes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("medlib-zip-")] == []


def test_training_on_a_folder_too_large_for_memory_caches_it_first_and_trains_from_disk(tmp_path, monkeypatch, capsys):
    from medlib.cli import main

    for i in range(24):
        folder = tmp_path / "films" / ("sick" if i % 2 else "well")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((256, 256), 40 + 150 * (i % 2), np.uint8))
    monkeypatch.setenv("MEDLIB_MAX_DATASET_MB", "1")
    code = main(["train", "--data", str(tmp_path / "films"), "--out", str(tmp_path / "store" / "big"),
                 "--epochs", "1", "--model", "seed-cnn", "--image-size", "32"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"cached 24 of 24 images to {tmp_path / 'films.medlib-cache'}" in out
    assert is_cache(tmp_path / "films.medlib-cache") and (tmp_path / "store" / "big").is_dir()
