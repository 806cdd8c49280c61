"""Credentials per system: environment variables, a 0600 file, or the OS keyring.

Lookup order: RPA_CRED_<SYSTEM>_USERNAME / _PASSWORD, then the `credentials_file` (TOML, refused
unless only its owner can read it), then the OS keyring (service `rpa:<system>`) where the
`keyring` package and a backend are available. Every value found is registered with the masker,
so it never reaches a log, an exception text, a report or a trace.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from robots.config import ROOT
from robots.masking import register_secret
from robots.settings import Settings


class VaultError(RuntimeError):
    """Credentials are missing or stored unsafely; the message says how to fix it, no values."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""

    def __repr__(self) -> str:  # never show the password, even in a debugger or traceback
        return f"Credentials(username={self.username!r}, password='***', source={self.source!r})"


class Vault:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def get(self, system: str) -> Credentials:
        for source in (self._from_env, self._from_file, self._from_keyring):
            found = source(system)
            if found is not None:
                register_secret(found.password)
                return found
        key = system.upper()
        raise VaultError(
            f"Mangler innlogging for systemet {system!r}. Sett RPA_CRED_{key}_USERNAME og "
            f"RPA_CRED_{key}_PASSWORD, eller legg [{system}] username/password i filen "
            "RPA_CREDENTIALS_FILE (chmod 600), eller i OS-nøkkelringen (tjeneste "
            f"'rpa:{system}')."
        )

    def _from_env(self, system: str) -> Credentials | None:
        key = system.upper()
        user = os.environ.get(f"RPA_CRED_{key}_USERNAME")
        password = os.environ.get(f"RPA_CRED_{key}_PASSWORD")
        if user and password:
            return Credentials(user, password, "miljøvariabler")
        return None

    def _from_file(self, system: str) -> Credentials | None:
        if not self.settings.credentials_file:
            return None
        path = Path(self.settings.credentials_file)
        path = path if path.is_absolute() else ROOT / path
        if not path.exists():
            raise VaultError(f"Innloggingsfilen {path} finnes ikke (RPA_CREDENTIALS_FILE)")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise VaultError(
                f"Innloggingsfilen {path} har rettigheter {mode:04o}; andre enn eieren kan lese "
                f"den. Kjør: chmod 600 {path}"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise VaultError(f"Innloggingsfilen {path} er ikke gyldig TOML: {exc}") from None
        entry = data.get(system)
        if isinstance(entry, dict) and entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]), f"filen {path}")
        return None

    def _from_keyring(self, system: str) -> Credentials | None:
        try:
            import keyring
            from keyring.errors import KeyringError
        except ImportError:
            return None
        try:
            user = keyring.get_password(f"rpa:{system}", "username")
            password = keyring.get_password(f"rpa:{system}", "password")
        except KeyringError:
            return None
        if user and password:
            return Credentials(user, password, "OS-nøkkelringen")
        return None
