"""Settings, resolved the dlt way (environment, .dlt/secrets.toml, .dlt/config.toml) and validated.

Every setting a provider reads is declared once (`Setting`): its key below `[sources.<provider>]`, how
its value is parsed, its default, whether it is secret, and an example. `resolve()` reads them all
before anything loads and reports every bad or missing one in one `ConfigError`, one line each,
named by its environment variable with the expected format and an example. Lists are accepted as
JSON or comma-separated. Settings marked `shared` may also be set once for every provider under
`[sources]` (`SOURCES__TIMEOUT_S`), the provider's own value winning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dlt

REQUIRED = object()


class ConfigError(Exception):
    """A configuration problem the user can fix; its message names the setting and how."""


@dataclass(frozen=True)
class Kind:
    """How a raw value (a TOML value or an environment string) becomes the setting's value."""

    describe: str  # the expected format, as a user reads it
    parse: Callable[[Any], Any]


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: Any = None
    secret: bool = False
    shared: bool = False  # also read from [sources] (SOURCES__<NAME>) for every provider
    help: str = ""
    example: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def env_var(self, provider: str) -> str:
        return f"SOURCES__{provider.upper()}__{self.name.upper()}"


def resolve(provider: str, settings: Sequence[Setting], overrides: Mapping[str, Any] | None = None) -> dict:
    """Every setting's value; raises ConfigError naming each bad or missing one."""
    values, problems = {}, []
    for setting in settings:
        raw = (overrides or {}).get(setting.name)
        if raw is None:
            raw = _lookup(provider, setting)
        if _is_empty(raw):
            if setting.required:
                problems.append(f"{setting.env_var(provider)} is not set: {setting.help}{_example(setting)}")
            values[setting.name] = None if setting.required else setting.default
            continue
        try:
            values[setting.name] = setting.kind.parse(raw)
        except (TypeError, ValueError) as exc:
            shown = "(hidden)" if setting.secret else repr(raw)[:80]
            problems.append(
                f"{setting.env_var(provider)} = {shown}: {exc}; expected {setting.kind.describe}"
                f"{_example(setting)}"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return values


def is_set(provider: str, setting: Setting) -> bool:
    return not _is_empty(_lookup(provider, setting))


def _lookup(provider: str, setting: Setting) -> Any:
    read = dlt.secrets.get if setting.secret else dlt.config.get
    value = read(f"sources.{provider}.{setting.name}")
    if _is_empty(value) and setting.shared:
        value = read(f"sources.{setting.name}")
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _example(setting: Setting) -> str:
    return f" (e.g. {setting.example})" if setting.example else ""


# -- kinds ----------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list | dict):
        raise ValueError("a list or table is not text")
    return str(value).strip()


def _url(value: Any) -> str:
    url = _text(value).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return url


def _integer(low: int | None = None, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("not a whole number")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError("not a whole number") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"out of range {low}..{high if high is not None else '∞'}")
        return number

    return parse


def _number(low: float = 0.0) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("not a number")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError("not a number") from None
        if number < low:
            raise ValueError(f"must be at least {low:g}")
        return number

    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("not true or false")


def _items(value: Any) -> list[Any]:
    """A JSON list, a TOML list, or comma-separated text."""
    if isinstance(value, list | tuple):
        return list(value)
    text = _text(value)
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON list ({exc.msg})") from None
        if not isinstance(parsed, list):
            raise ValueError("not a list")
        return parsed
    return [part.strip() for part in text.split(",") if part.strip()]


def _text_list(value: Any) -> list[str]:
    items = [_text(item) for item in _items(value)]
    if not all(items):
        raise ValueError("an empty item")
    return list(dict.fromkeys(items))


def _integer_list(value: Any) -> list[int]:
    parse = _integer()
    try:
        return list(dict.fromkeys(parse(item) for item in _items(value)))
    except ValueError:
        raise ValueError("not a list of integers") from None


def _choice(*options: str) -> Kind:
    def parse(value: Any) -> str:
        text = _text(value)
        if text not in options:
            raise ValueError(f"not one of {', '.join(options)}")
        return text

    return Kind(" or ".join(repr(o) for o in options), parse)


TEXT = Kind("text", _text)
URL = Kind("an http(s) URL", _url)
BOOL = Kind("true or false", _boolean)
TEXT_LIST = Kind('a JSON list or comma-separated values, e.g. ["a","b"] or a,b', _text_list)
INT_LIST = Kind("a JSON list or comma-separated integers, e.g. [1,2] or 1,2", _integer_list)
POSITIVE = Kind("a whole number of at least 1", _integer(1))
COUNT = Kind("a whole number (0 = off)", _integer(0))
SECONDS = Kind("a number of seconds", _number(0.0))
HOURS = Kind("a number of hours", _number(0.0))
choice = _choice


def page_size(maximum: int) -> Kind:
    return Kind(f"a whole number from 1 to {maximum}", _integer(1, maximum))


# Settings every provider has: HTTP behaviour, pacing and budgets, and the incremental windows' cadence.
HTTP_SETTINGS: tuple[Setting, ...] = (
    Setting("timeout_s", SECONDS, 30.0, shared=True, help="seconds before a request times out", example="60"),
    Setting(
        "max_attempts",
        POSITIVE,
        6,
        shared=True,
        help="tries per request, the first included (a host never reached yet: at most 2)",
        example="4",
    ),
    Setting("backoff_base_s", SECONDS, 0.5, shared=True, help="first retry delay", example="1"),
    Setting("backoff_max_s", SECONDS, 60.0, shared=True, help="longest retry delay", example="30"),
    Setting("max_concurrency", POSITIVE, 8, shared=True, help="requests in flight at once", example="4"),
    Setting(
        "requests_per_hour",
        COUNT,
        0,
        shared=True,
        help="client-side pacing; 0 = by the provider's headers",
        example="900",
    ),
    Setting(
        "request_budget", COUNT, 0, shared=True, help="most requests per run; 0 = no limit", example="500"
    ),
    Setting(
        "max_wait_s",
        SECONDS,
        300.0,
        shared=True,
        help="longest rate-limit wait; a longer one ends the provider's run as partial",
        example="3600",
    ),
    Setting("verify", BOOL, True, shared=True, help="verify HTTPS certificates", example="false"),
)
SYNC_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "chunk_size",
        POSITIVE,
        250,
        shared=True,
        help="runs whose details are committed together",
        example="100",
    ),
    Setting(
        "full_scan_hours",
        HOURS,
        24.0,
        shared=True,
        help="how often every run list is read to its end (finds deletes)",
        example="168",
    ),
    Setting(
        "unfinished_horizon_hours",
        HOURS,
        168.0,
        shared=True,
        help="after this long unfinished runs are re-read only every recheck_hours",
        example="72",
    ),
    Setting(
        "recheck_hours",
        HOURS,
        24.0,
        shared=True,
        help="re-read cadence of runs past the horizon",
        example="12",
    ),
)
