"""Private workspaces: each visitor of a shared app works in a folder of their own, removed when they leave.

A :class:`Workspace` holds what one browser session writes: the models it
trains or uploads, and the arrays a training run reads. :class:`Workspaces` is
the server's set of them under one base folder: it hands out new ones, finds
one again by its secret token (a page reload), removes those idle too long or
whose sessions have ended, and removes all of them when the server stops. A :class:`Shelf` is what one
visitor sees: their own models, which they may rename and delete, beside the
shared ones (shipped or the server's), which nobody can change from the app.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from medlib.errors import StoreError
from medlib.store.folders import (
    StoredModel,
    check_name,
    delete_model,
    import_upload,
    list_models,
    rename_model,
)

PREFIX = "medlib-workspaces-"
#: How long a workspace whose sessions have all ended is kept (a reload, a lost connection coming back).
ENDED_GRACE_S = 120.0


class Workspace:
    """One visitor's folder (``root``); its token is the secret that finds it again."""

    def __init__(self, root: Path, token: str) -> None:
        self.root, self.token = root, token
        self.last_used = time.monotonic()
        self.sessions: set[str] = set()  # the browser sessions that used it (a reload is a new one)
        self.models.mkdir(parents=True, exist_ok=True)
        # Removed with the last reference to it (the session state that held it dropped), or at exit.
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(root), True)

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def labelled(self) -> Path:
        """Where the sets its visitor labels are saved (:mod:`medlib.labelling.labelled_set`)."""
        return self.root / "labelled"

    @property
    def removed(self) -> bool:
        return not self._finalizer.alive

    def touch(self, session: str | None = None) -> None:
        self.last_used = time.monotonic()
        if session is not None:
            self.sessions.add(session)

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        self._finalizer()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_orphans(parent: Path) -> None:
    """Remove the workspace folders of servers that ended without removing theirs (killed, crashed)."""
    for folder in parent.glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class Workspaces:
    """The workspaces of one server under ``base`` (by default a fresh temporary folder named after the server's
    process, where the folders of servers that were killed are removed first), all removed at exit."""

    def __init__(self, base: Path | None = None) -> None:
        if base is None:
            _remove_orphans(Path(tempfile.gettempdir()))
            base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self._open: weakref.WeakValueDictionary[str, Workspace] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, str(self.base), True)

    def create(self) -> Workspace:
        token = secrets.token_hex(16)
        with self._lock:
            workspace = Workspace(self.base / token, token)
            self._open[token] = workspace
        return workspace

    def find(self, token: str | None) -> Workspace | None:
        """The open workspace with this token (a reloaded page finds its own again); None if it is gone."""
        workspace = self._open.get(token) if token else None
        return None if workspace is None or workspace.removed else workspace

    def sweep(self, idle_s: float, busy: Callable[[Workspace], bool] = lambda _: False,
              ended: Callable[[Workspace], bool] = lambda _: False) -> list[str]:
        """Remove the workspaces unused for ``idle_s`` seconds, or for ``ENDED_GRACE_S`` once ``ended`` (every
        browser session that used it is gone), except busy ones; their tokens."""
        now = time.monotonic()
        with self._lock:
            stale = [w for w in self._open.values()
                     if (now - w.last_used > idle_s or (now - w.last_used > ENDED_GRACE_S and ended(w)))
                     and not busy(w)]
        for workspace in stale:
            workspace.remove()
        return [w.token for w in stale]

    def __len__(self) -> int:
        return sum(1 for w in self._open.values() if not w.removed)


@dataclass(frozen=True)
class Shelf:
    """The models one visitor sees: their own (``own``, writable) first, then the ``shared`` stores (read-only)."""

    own: Path
    shared: tuple[Path, ...]

    def models(self) -> list[StoredModel]:
        found = list_models(self.own)
        names = {m.name for m in found}
        for store in self.shared:  # a name in two places is the first one's
            for model in list_models(store, read_only=True):
                if model.name not in names:
                    names.add(model.name)
                    found.append(model)
        return found

    def get(self, name: str) -> StoredModel:
        for model in self.models():
            if model.name == name:
                return model
        raise StoreError(f"there is no model named {name!r} in your workspace or among the shared models")

    def taken(self, name: str) -> bool:
        return any(m.name == name for m in self.models())

    def _own(self, name: str, doing: str) -> StoredModel:
        model = self.get(name)
        if model.read_only:
            raise StoreError(f"{name} is a shared model: you can use and download it, but not {doing} it; "
                             "download it and upload it under another name to have a copy of your own")
        return model

    def rename(self, name: str, new_name: str) -> StoredModel:
        self._own(name, "rename")
        if self.taken(check_name(new_name)):
            raise StoreError(f"a model named {new_name!r} already exists; choose another name")
        return replace(rename_model(name, new_name, self.own), read_only=False)

    def delete(self, name: str) -> None:
        self._own(name, "delete")
        delete_model(name, self.own)

    def add_upload(self, data: bytes, filename: str, name: str) -> StoredModel:
        """Add an uploaded model to the visitor's own models (see :func:`medlib.store.folders.import_upload`)."""
        if self.taken(check_name(name)):
            raise StoreError(f"a model named {name!r} already exists; choose another name")
        return import_upload(data, filename, name, self.own)
