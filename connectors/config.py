"""Typed pipeline configuration: which channels and shops to pull, resolved at run time.

Channels and shops are declared in one TOML file (the built-in default, `config/sandbox.toml`,
points at the local sandbox). Values may reference environment variables as `${VAR}` or
`${VAR:-default}`; credentials must. Nothing is resolved at import time, and credential values
never appear in a repr, a log line or an error message (only the variable's name does).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.common.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config" / "sandbox.toml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^${}]*(?:\$\{[^}]*\}[^${}]*)*))?\}")


def data_dir() -> Path:
    """Where landing, the warehouse and the sandbox's files live (OMNI_DATA_DIR, default ./data)."""
    return Path(os.environ.get("OMNI_DATA_DIR") or "data").resolve()


def config_path() -> Path:
    return Path(os.environ.get("OMNI_CONFIG") or DEFAULT_CONFIG).resolve()


def interpolate(value: str, where: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand ${VAR} / ${VAR:-default} (defaults may nest). Returns the value and the variables used."""
    used: list[str] = []

    def expand(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        used.append(name)
        if env.get(name):
            return env[name]
        if default is not None:
            value, nested = interpolate(default, where, env)
            used.extend(nested)
            return value
        raise ConfigError(f"{where}: environment variable {name} is not set (see .env.example)")

    return _VAR.sub(expand, value), used


@dataclass(frozen=True)
class ShopConfig:
    channel: str
    shop_id: str
    options: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    credential_env: Mapping[str, str] = field(default_factory=dict)

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        """A true/false option (a `${VAR}` value arrives as the text "true" or "false")."""
        value = self.options.get(name, default)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(
                f"shop {self.channel}/{self.shop_id}: option '{name}' must be true or false, not {value!r}"
            )
        return value

    def require(self, name: str) -> Any:
        if name not in self.options:
            raise ConfigError(f"shop {self.channel}/{self.shop_id}: option '{name}' is missing in the config")
        return self.options[name]

    def credential(self, name: str) -> str:
        if not self.credentials.get(name):
            raise ConfigError(
                f"shop {self.channel}/{self.shop_id}: credential '{name}' is missing"
                + (f" (set {self.credential_env[name]})" if name in self.credential_env else "")
            )
        return self.credentials[name]

    def env_var_for(self, credential: str) -> str | None:
        return self.credential_env.get(credential)


@dataclass(frozen=True)
class TrafficConfig(ShopConfig):
    """A `[[traffic]]` entry: one traffic or ad source (GA4 property, ad account, export folder)
    describing one shop of a channel."""

    source: str = ""


@dataclass(frozen=True)
class PipelineConfig:
    path: Path
    shops: tuple[ShopConfig, ...]
    pii_key: str = field(repr=False)
    sandbox: Mapping[str, Any] = field(default_factory=dict)
    traffic: tuple[TrafficConfig, ...] = ()

    def traffic_for(self, source: str, channel: str | None = None) -> list[TrafficConfig]:
        return [t for t in self.traffic if t.source == source and (channel is None or t.channel == channel)]

    def channels(self) -> list[str]:
        return sorted({s.channel for s in self.shops})

    def shops_for(self, channel: str) -> list[ShopConfig]:
        return [s for s in self.shops if s.channel == channel]


def _resolve(value: Any, where: str, env: Mapping[str, str]) -> tuple[Any, list[str]]:
    if isinstance(value, str):
        return interpolate(value, where, env)
    return value, []


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> PipelineConfig:
    from connectors.registry import CHANNELS  # the registry names the valid channels

    path = (path or config_path()).resolve()
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist (set OMNI_CONFIG)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc

    pipeline = raw.get("pipeline", {})
    pii_key, _ = _resolve(pipeline.get("pii_key", "${OMNI_PII_KEY}"), f"{path}: [pipeline] pii_key", env)
    shops: list[ShopConfig] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(raw.get("shops", [])):
        where = f"{path}: shops[{index}]"
        channel, shop_id = entry.get("channel"), entry.get("shop_id")
        if not channel or not shop_id:
            raise ConfigError(f"{where}: every shop needs 'channel' and 'shop_id'")
        if channel not in CHANNELS:
            raise ConfigError(f"{where}: unknown channel '{channel}' (known: {', '.join(sorted(CHANNELS))})")
        if (channel, shop_id) in seen:
            raise ConfigError(f"{where}: shop {channel}/{shop_id} is declared twice")
        seen.add((channel, shop_id))
        shops.append(ShopConfig(channel, shop_id, *_options_and_credentials(entry, where, env)))
    traffic = [
        _traffic_entry(entry, f"{path}: traffic[{i}]", seen, env)
        for i, entry in enumerate(raw.get("traffic", []))
    ]
    return PipelineConfig(
        path=path,
        shops=tuple(shops),
        pii_key=str(pii_key),
        sandbox=raw.get("sandbox", {}),
        traffic=tuple(traffic),
    )


def _options_and_credentials(
    entry: Mapping[str, Any], where: str, env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    options = {}
    for key, value in entry.items():
        if key in ("channel", "shop_id", "source", "credentials"):
            continue
        options[key], _ = _resolve(value, f"{where}.{key}", env)
    credentials: dict[str, str] = {}
    credential_env: dict[str, str] = {}
    for key, value in entry.get("credentials", {}).items():
        resolved, used = _resolve(value, f"{where}.credentials.{key}", env)
        credentials[key] = str(resolved)
        if used:
            credential_env[key] = used[0]
    return options, credentials, credential_env


def _traffic_entry(
    entry: Mapping[str, Any], where: str, shops: set[tuple[str, str]], env: Mapping[str, str]
) -> TrafficConfig:
    from connectors.registry import TRAFFIC_SOURCES

    source, channel, shop_id = entry.get("source"), entry.get("channel"), entry.get("shop_id")
    if not source or not channel or not shop_id:
        raise ConfigError(f"{where}: every traffic entry needs 'source', 'channel' and 'shop_id'")
    spec = TRAFFIC_SOURCES.get(source)
    if spec is None:
        raise ConfigError(
            f"{where}: unknown traffic source '{source}' (known: {', '.join(sorted(TRAFFIC_SOURCES))})"
        )
    if channel not in spec.channels:
        raise ConfigError(
            f"{where}: traffic source '{source}' does not describe {channel} shops "
            f"(it describes: {', '.join(spec.channels)})"
        )
    if (channel, shop_id) not in shops:
        raise ConfigError(f"{where}: shop {channel}/{shop_id} is not declared under [[shops]]")
    options, credentials, credential_env = _options_and_credentials(entry, where, env)
    return TrafficConfig(channel, shop_id, options, credentials, credential_env, source=source)
