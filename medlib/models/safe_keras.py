"""Loading a ``.keras`` file safely: Keras' safe mode on a release without known bypasses, legacy HDF5 refused.

A model file is code as much as data (a Lambda layer runs what it holds), so a model from a visitor or a download
is loaded only where Keras refuses such layers, and only on a Keras release whose safe mode has no known bypass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medlib.errors import StoreError, UnsafeModelError

#: Keras releases before this one have safe-mode bypasses (CVE-2025-1550, CVE-2025-9906, CVE-2026-1462).
MIN_KERAS = (3, 13, 2)


def _check_keras() -> Any:
    """Keras, with its thread pools sized, where its release has no known safe-mode bypass."""
    import keras

    from medlib.models.architectures import size_thread_pools

    size_thread_pools()
    version = tuple(int(p) for p in re.findall(r"\d+", keras.__version__)[:3])
    if version < MIN_KERAS:
        raise UnsafeModelError(
            f"keras {keras.__version__} has known safe-mode bypasses; install keras >= "
            f"{'.'.join(map(str, MIN_KERAS))} before loading models"
        )
    return keras


def load_keras_file(path: Path) -> Any:
    """Load a ``.keras`` file in safe mode; a file that needs unsafe code or is damaged raises a store error."""
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise UnsafeModelError(f"{path.name} is a legacy HDF5 model, which is refused; save it as .keras")
    keras = _check_keras()
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError, zipfile errors...
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "lambda" in message.lower() or "unsafe" in message.lower() or "safe_mode" in message.lower():
            raise UnsafeModelError(
                f"{path.name} needs unsafe deserialisation (it holds a Lambda layer or custom code) and is refused"
            ) from exc
        raise StoreError(f"{path.name} is not a loadable Keras model ({message}); upload it again") from exc


