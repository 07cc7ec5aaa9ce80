"""Settings from environment variables, optionally from a TOML file named by SHIELDWALL_CONFIG.

Environment variables win over the file so a deployment can override one value without editing it.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from shieldwall.atomic import create_once

ENV_PREFIX = "SHIELDWALL_"


class SettingsError(ValueError):
    """A setting (or the installation secret) cannot be used; the message names it and what to do. The
    command line prints it and exits 2 instead of a traceback."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path("var").resolve())
    database_url: str = ""
    secret_key: str = ""
    hub_name: str = "Shieldwall hub"
    max_body_bytes: int = 10 * 1024 * 1024
    rate_limit_per_minute: int = 600
    page_size_default: int = 100
    page_size_max: int = 1000
    # Hosts and networks (comma-separated: "hooks.internal, 10.0.5.0/24") that webhooks may reach although
    # they are not public addresses; empty: only public addresses.
    webhook_allow: str = ""
    # Sign-in: after this many failures in the window, per account and per client address, refuse for a while.
    login_failures_allowed: int = 5
    login_failure_window_seconds: int = 900

    def resolved(self) -> Settings:
        """Fill values that depend on others: the SQLite file and a stable secret under data_dir."""
        data_dir = Path(self.data_dir).resolve()
        database_url = self.database_url or f"sqlite:///{data_dir / 'shieldwall.db'}"
        try:
            secret_key = self.secret_key or _stable_secret(data_dir)
        except OSError as error:  # a file in the way, no permission, a read-only disk
            raise SettingsError(
                f"data directory: cannot use {error.filename or data_dir}: {error.strerror or error} "
                f"({ENV_PREFIX}DATA_DIR must name a directory this user can create and write)"
            ) from None
        return replace(self, data_dir=data_dir, database_url=database_url, secret_key=secret_key)


def _stable_secret(data_dir: Path) -> str:
    """A per-installation secret kept in the data dir so sessions survive restarts."""
    path = data_dir / "secret.key"
    if not path.exists():  # web workers starting together: one creates it, all read the same
        create_once(path, secrets.token_urlsafe(48).encode())
    secret = path.read_text().strip()
    if not secret:
        raise SettingsError(f"{path} is empty; delete it and a new secret is made (sessions then end)")
    return secret


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "int":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{ENV_PREFIX}{name.upper()}: not a whole number ({raw!r})") from None
    if kind == "Path":
        return Path(raw)
    if isinstance(raw, list):  # a TOML list for a comma-separated setting
        return ",".join(str(item) for item in raw)
    return str(raw)


def load_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {}
    config_file = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                values.update(tomllib.load(handle))
        except OSError as error:
            raise SettingsError(f"{ENV_PREFIX}CONFIG: cannot read {config_file}: {error.strerror or error}") from None
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{ENV_PREFIX}CONFIG: {config_file} is not TOML: {error}") from None
    for f in fields(Settings):
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        if env is not None:
            values[f.name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    return Settings(**{k: _coerce(k, v) for k, v in values.items()}).resolved()
