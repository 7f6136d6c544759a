"""The model store: one folder per model with ``model.keras`` and ``card.json``, written atomically.

A model is first written into a hidden temporary folder beside the others and
then renamed into place, so a crash or a kill never leaves a finished-looking
half model. The card records the file's size and SHA-256; both are checked
before loading, and loading always uses Keras' safe mode.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medlib.errors import StoreError, UnsafeModelError
from medlib.models.safe_keras import load_keras_file
from medlib.store.card import ModelCard, card_for_bare_model

CARD = "card.json"
MODEL_FILE = "model.keras"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class StoredModel:
    """A model folder in the store and its card."""

    name: str
    path: Path
    card: ModelCard
    read_only: bool = False
    """A shared model (shipped or the server's): used and downloaded, never renamed, overwritten or deleted."""

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE


_CHECKOUT = Path(__file__).resolve().parents[2]


def _in_checkout() -> bool:
    """Whether medlib runs from a clone of its repository (not from an installed package)."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "models").is_dir()


def shipped_store() -> Path:
    """Where the models that ship with medlib lie: a checkout's ``models/`` folder, or, installed, the wheel's data
    files under the Python prefix (``share/medlib/models``)."""
    return _CHECKOUT / "models" if _in_checkout() else Path(sys.prefix) / "share" / "medlib" / "models"


def default_store() -> Path:
    """The writable store: ``$MEDLIB_MODELS``; else, in a checkout, its ``models/`` folder (beside the shipped
    models); else, installed, a user folder (``$XDG_DATA_HOME/medlib/models``, by default
    ``~/.local/share/medlib/models``), never inside site-packages."""
    if "MEDLIB_MODELS" in os.environ:
        return Path(os.environ["MEDLIB_MODELS"])
    if _in_checkout():
        return _CHECKOUT / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "medlib" / "models"


def shared_stores() -> list[Path]:
    """The stores every visitor of an app sees, read-only: ``$MEDLIB_MODELS`` where it is set, else the writable
    store and the shipped models (one folder in a checkout)."""
    if "MEDLIB_MODELS" in os.environ:
        return [Path(os.environ["MEDLIB_MODELS"])]
    return list(dict.fromkeys([default_store(), shipped_store()]))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise StoreError(
            f"{name!r} is not a valid model name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model card records."""
    import keras
    import numpy
    import tensorflow

    from medlib import __version__

    return {"medlib": __version__, "keras": keras.__version__, "tensorflow": tensorflow.__version__,
            "numpy": numpy.__version__}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, default=str)
        handle.flush()
        os.fsync(handle.fileno())


def save_model(model: Any, card: ModelCard, store: Path, name: str, overwrite: bool = False) -> StoredModel:
    """Write ``model`` and its ``card`` as ``store/name``, atomically; the card gains its name, the file's size and
    hash, and its creation time where it has none."""
    check_name(name)
    final = store / name
    if final.exists() and not overwrite:
        raise StoreError(f"a model named {name!r} already exists; choose another name or delete it first")
    temporary: Path | None = None
    try:
        store.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=store))
        model.save(temporary / MODEL_FILE)
        stat = (temporary / MODEL_FILE).stat()
        card = card.replace(name=name, created=card.created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            file={"name": MODEL_FILE, "size": stat.st_size, "sha256": _sha256(temporary / MODEL_FILE)})
        _write_json(temporary / CARD, card.to_dict())
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=store))
            os.replace(final, trash / name)
            os.replace(temporary, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(temporary, final)
        temporary = None
    except OSError as exc:
        raise StoreError(
            f"could not save model {name!r} in {store} ({exc.strerror or exc}); free disk space or make the folder "
            "writable, then try again; the models already there are untouched"
        ) from exc
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return StoredModel(name, final, card)


def read_card(folder: Path) -> ModelCard:
    """The card of a model folder; one that cannot be read, or that is not a finished model's, raises."""
    try:
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(
            f"the card of {folder.name} cannot be read ({exc}); the folder is not a finished model"
        ) from exc
    if not isinstance(card, dict) or "file" not in card:
        raise StoreError(f"the card of {folder.name} is incomplete; the folder is not a finished model")
    return ModelCard.from_dict(card, f"the card of {folder.name}")


def list_models(store: Path | None = None, read_only: bool = False) -> list[StoredModel]:
    """The finished models of a store, newest first (temporary and broken folders are left out), flagged
    ``read_only`` as asked."""
    store = store or default_store()
    if not store.is_dir():
        return []
    found = []
    for folder in store.iterdir():
        if folder.name.startswith(".") or not folder.is_dir() or not (folder / CARD).is_file():
            continue
        try:
            found.append(StoredModel(folder.name, folder, read_card(folder), read_only))
        except StoreError:
            continue
    return sorted(found, key=lambda m: (m.card.created, m.name), reverse=True)


def get_model(name: str, store: Path | None = None) -> StoredModel:
    store = store or default_store()
    folder = store / check_name(name)
    if not (folder / CARD).is_file():
        raise StoreError(f"there is no model named {name!r} in {store}")
    return StoredModel(name, folder, read_card(folder))


def load_model(stored: StoredModel) -> Any:
    """The Keras model of a store entry, after checking its size and SHA-256 against the card."""
    path = stored.model_file
    if not path.is_file():
        raise StoreError(f"model {stored.name!r} has no {MODEL_FILE}; delete the folder and train it again")
    if path.stat().st_size != stored.card.size or _sha256(path) != stored.card.sha256:
        raise StoreError(
            f"the file of model {stored.name!r} changed since it was saved (size or SHA-256); it is refused"
        )
    return load_keras_file(path)


def update_card(stored: StoredModel, **changes: Any) -> StoredModel:
    """The store entry with ``changes`` made to its card, written atomically (the model file is untouched)."""
    card = stored.card.replace(**changes)
    temporary = stored.path / f".{CARD}.tmp"
    try:
        _write_json(temporary, card.to_dict())
        os.replace(temporary, stored.path / CARD)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"could not update the card of {stored.name!r} ({exc.strerror or exc}); it is unchanged") \
            from exc
    return StoredModel(stored.name, stored.path, card)


def rename_model(name: str, new_name: str, store: Path | None = None) -> StoredModel:
    store = store or default_store()
    stored = get_model(name, store)
    target = store / check_name(new_name)
    if target.exists():
        raise StoreError(f"a model named {new_name!r} already exists")
    os.replace(stored.path, target)
    card = stored.card.replace(name=new_name)
    _write_json(target / CARD, card.to_dict())
    return StoredModel(new_name, target, card)


def delete_model(name: str, store: Path | None = None) -> None:
    store = store or default_store()
    stored = get_model(name, store)
    trash = Path(tempfile.mkdtemp(prefix=f".del-{name}-", dir=store))
    os.replace(stored.path, trash / name)
    shutil.rmtree(trash, ignore_errors=True)


def export_zip(stored: StoredModel) -> bytes:
    """The model folder (``model.keras`` and ``card.json``) as ZIP bytes, for download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in (CARD, MODEL_FILE):
            archive.write(stored.path / file, f"{stored.name}/{file}")
    return buffer.getvalue()


def import_upload(data: bytes, filename: str, name: str, store: Path | None = None) -> StoredModel:
    """Add an uploaded model: a ZIP from :func:`export_zip`, or a bare ``.keras`` file (a card is made for it).

    The model is loaded in safe mode before it is accepted.
    """
    from medlib.datasets.archive import extract_zip

    store = store or default_store()
    check_name(name)
    lower = filename.lower()
    if lower.endswith((".h5", ".hdf5")):
        raise UnsafeModelError(f"{filename} is a legacy HDF5 model, which is refused; save it as .keras")
    with tempfile.TemporaryDirectory(prefix="medlib-upload-") as folder:
        root = Path(folder)
        if lower.endswith(".zip"):
            extract_zip(data, root)
            cards = list(root.rglob(CARD))
            if len(cards) != 1 or not (cards[0].parent / MODEL_FILE).is_file():
                raise StoreError(f"{filename} must hold one folder with {CARD} and {MODEL_FILE} (as downloaded)")
            card, model_path = read_card(cards[0].parent), cards[0].parent / MODEL_FILE
        elif lower.endswith(".keras"):
            model_path = root / MODEL_FILE
            model_path.write_bytes(data)
            card = None
        else:
            raise StoreError(f"{filename} is not a model: upload a .keras file or a model ZIP from this app")
        model = load_keras_file(model_path)
        card = (card or card_for_bare_model(model)).replace(file={}, created="", uploaded_from=filename)
        return save_model(model, card, store, name)
