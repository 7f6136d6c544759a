"""Where the PACS is and how to sign in to it: one :class:`PacsSettings`, read once from the environment
(``MEDLIB_PACS_URL``, ``MEDLIB_PACS_USERNAME`` and ``MEDLIB_PACS_PASSWORD`` or ``MEDLIB_PACS_TOKEN``,
``MEDLIB_PACS_CA_BUNDLE``, ``MEDLIB_PACS_VERIFY``, ``MEDLIB_PACS_TIMEOUT``, ``MEDLIB_PACS_RETRIES``), else from the
``[pacs]`` table of ``.streamlit/secrets.toml`` or of ``.streamlit/medlib.toml`` (``$MEDLIB_CONFIG``), with the same
names in lower case (``url``, ``username``...).

Credentials are never shown, logged or put in a URL: a URL that carries them is refused, and the settings print
without them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medlib.errors import PacsError

KEYS = ("url", "username", "password", "token", "ca_bundle", "verify", "timeout", "retries")
"""What the settings hold, as the ``[pacs]`` table names them (``MEDLIB_PACS_<KEY>`` in the environment)."""
SECRET_FILE = Path(".streamlit") / "secrets.toml"


@dataclass(frozen=True)
class PacsSettings:
    """A DICOMweb service (its root URL, for example ``https://pacs.example.org/dicom-web``) and how to reach it:
    HTTP basic (``username`` and ``password``) or a bearer ``token``; TLS verified unless ``verify`` is off, against
    ``ca_bundle`` where one is named; each request given ``timeout`` seconds and retried ``retries`` times when the
    server is busy or unreachable."""

    url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    ca_bundle: str = ""
    verify: bool = True
    timeout: float = 30.0
    retries: int = 2

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PacsError(f"the PACS URL must be http(s)://host[:port]/path-to-dicom-web, not {self.safe_url!r}")
        if parts.username or parts.password:
            raise PacsError("the PACS URL carries credentials: remove them from it and set MEDLIB_PACS_USERNAME and "
                            "MEDLIB_PACS_PASSWORD (or MEDLIB_PACS_TOKEN), or [pacs] in .streamlit/secrets.toml")
        if self.token and (self.username or self.password):
            raise PacsError("give the PACS either a username and password or a token, not both")
        if bool(self.username) != bool(self.password):
            raise PacsError("the PACS username and password come together: set both, or neither")
        if self.timeout <= 0 or self.retries < 0:
            raise PacsError("the PACS timeout must be positive and its retries not negative")
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise PacsError(f"the PACS CA bundle {self.ca_bundle} is not a file")

    @property
    def safe_url(self) -> str:
        """The URL as it may be shown: scheme, host, port and path, never a user, password or query."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}".rstrip("/")

    @property
    def signs_in(self) -> str:
        """How it signs in, in words (``HTTP basic``, ``a bearer token`` or ``no credentials``)."""
        return "HTTP basic" if self.username else "a bearer token" if self.token else "no credentials"


def _table(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        return dict(tomllib.loads(text).get("pacs", {}))
    except tomllib.TOMLDecodeError as exc:
        raise PacsError(f"{path} is not valid TOML ({str(exc).splitlines()[0]}); fix it or remove it") from None


def _value(key: str, tables: list[dict[str, Any]]) -> Any:
    variable = f"MEDLIB_PACS_{key.upper()}"
    if variable in os.environ:
        return os.environ[variable]
    return next((table[key] for table in tables if key in table), None)


def pacs_settings(url: str | None = None) -> PacsSettings | None:
    """The PACS settings (``url`` given, else configured: see the module), or ``None`` where no URL is set."""
    tables = [_table(SECRET_FILE), _table(Path(os.environ.get("MEDLIB_CONFIG") or Path(".streamlit") / "medlib.toml"))]
    found = {key: _value(key, tables) for key in KEYS}
    found["url"] = url or found["url"]
    if not found["url"]:
        return None
    try:
        return PacsSettings(
            url=str(found["url"]), username=str(found["username"] or ""), password=str(found["password"] or ""),
            token=str(found["token"] or ""), ca_bundle=str(found["ca_bundle"] or ""),
            verify=str(found["verify"]).lower() not in ("0", "false", "no", "off") if found["verify"] is not None
            else True, timeout=float(found["timeout"] or 30.0), retries=int(found["retries"] or 2))
    except (TypeError, ValueError):
        raise PacsError("the PACS timeout must be a number of seconds and its retries a whole number") from None
