"""Read, override, resolve and validate the config; report every problem with its place.

The file is parsed into a node tree first so that every key path can be traced back to its
line: a user fixing a config wants `watchdog.yaml:14: clusters[0].bootstrap_servers: ...`,
not a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from kafka_watchdog.config import secrets
from kafka_watchdog.config.schema import WatchdogConfig, is_sensitive_key
from kafka_watchdog.config.web import WebConfigError, load_web_config

ENV_PREFIX = "KAFKA_WATCHDOG__"
# A config is a few hundred lines. These bounds turn a hostile or mistaken file (a
# "billion laughs" of nested aliases, megabytes of binary, ten thousand nested brackets)
# into one clear error in bounded time and memory instead of a traceback or 4 GB.
MAX_CONFIG_BYTES = 4 << 20
MAX_NODES = 200_000  # scalars, mappings and sequences, aliases counted where they expand
MAX_DEPTH = 64
# Secret keys whose value is a list: their *_file holds one item per line.
_LIST_SECRETS = {"apprise"}
# Keys that end in _file but name a file the daemon reads itself: not secret indirections.
PATH_KEYS = frozenset({"web_config_file"})
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: KeyPath
    message: str
    where: str = ""  # "file.yaml:12" or "env KAFKA_WATCHDOG__..."

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        key = format_path(self.path)
        return f"{place}{key + ': ' if key else ''}{self.message}"


class ConfigError(Exception):
    """The config is not usable; `problems` lists every reason, each with its key and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class _Source:
    data: Any
    places: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    secret_paths: set[KeyPath] = field(default_factory=set)

    def place(self, path: KeyPath) -> str:
        # The nearest recorded ancestor: a wrong value inside a list points at the list.
        for end in range(len(path), -1, -1):
            if path[:end] in self.places:
                return self.places[path[:end]]
        return ""


class _TooBig(Exception):
    pass


def _walk_nodes(
    node: yaml.Node, path: KeyPath, name: str, src: _Source, budget: list[int] | None = None
) -> None:
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(
            f"the config expands to more than {MAX_NODES} values (YAML aliases that "
            "repeat each other, a 'billion laughs'?): write it out plainly"
        )
    if len(path) > MAX_DEPTH:
        raise _TooBig(f"the config nests deeper than {MAX_DEPTH} levels")
    src.places.setdefault(path, f"{name}:{node.start_mark.line + 1}")
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                src.problems.append(
                    Problem(
                        (*path, key),
                        "key appears twice; the second would silently win",
                        f"{name}:{key_node.start_mark.line + 1}",
                    )
                )
            seen.add(key)
            src.places[(*path, key)] = f"{name}:{key_node.start_mark.line + 1}"
            _walk_nodes(value_node, (*path, key), name, src, budget)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_nodes(item, (*path, index), name, src, budget)


def _parse(text: str, name: str) -> _Source:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [Problem((), f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config file", name)]
        )
    if "\x00" in text:
        raise ConfigError([Problem((), "a binary file, not a YAML config", name)])
    try:
        # Composed once (PyYAML's composer shares aliased nodes, so this is linear in the
        # file); the walk below counts what aliases expand to before anything expands them.
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        src = _Source({})
        if node is not None:
            _walk_nodes(node, (), name, src)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem((), f"not valid YAML: {reason}", where)]) from None
    except _TooBig as exc:
        raise ConfigError([Problem((), str(exc), name)]) from None
    except RecursionError:
        raise ConfigError(
            [Problem((), f"the config nests deeper than {MAX_DEPTH} levels", name)]
        ) from None
    src.data = data if data is not None else {}
    if not isinstance(src.data, dict):
        raise ConfigError([Problem((), "the config must be a mapping (key: value)", name)])
    return src


def _apply_env(src: _Source, environ: Mapping[str, str]) -> None:
    """KAFKA_WATCHDOG__SERVER__LISTEN=... overrides server.listen.

    List items are addressed by index or, for clusters, by name
    (KAFKA_WATCHDOG__CLUSTERS__PROD__BOOTSTRAP_SERVERS). Under kafka_client, `_` stands for
    `.` because shells do not allow dots in variable names. Values are read as YAML scalars.
    """
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = [p for p in var[len(ENV_PREFIX) :].split("__") if p]
        where = f"env {var}"
        node: Any = src.data
        path: KeyPath = ()
        ok = bool(parts)
        for i, raw in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = _list_index(node, raw)
                if index is None:
                    src.problems.append(Problem(path, f"no item {raw!r} to override", where))
                    ok = False
                    break
                path += (index,)
                if last:
                    node[index] = yaml.safe_load(environ[var])
                else:
                    node = node[index]
                continue
            if not isinstance(node, dict):
                src.problems.append(Problem(path, "cannot override inside a scalar", where))
                ok = False
                break
            key = raw.lower().replace("_", ".") if path[-1:] == ("kafka_client",) else raw.lower()
            path += (key,)
            if last:
                node[key] = yaml.safe_load(environ[var])
            else:
                node = node.setdefault(key, {})
        if ok:
            src.places[path] = where
            if is_sensitive_key(str(path[-1])):
                src.secret_paths.add(path)


def _list_index(items: list[Any], raw: str) -> int | None:
    if raw.isdigit():
        return int(raw) if int(raw) < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("name", "")).lower() == raw.lower():
            return index
    return None


def _read_secret(key: str, value: str, base: Path, environ: Mapping[str, str]) -> str:
    if key.endswith("_env"):
        if value not in environ:
            raise ValueError(f"environment variable {value!r} is not set")
        return environ[value]
    file = Path(value) if Path(value).is_absolute() else base / value
    try:
        with file.open("rb") as f:
            raw = f.read(1 << 20)
        return raw.decode("utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read secret file {str(file)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"secret file {str(file)!r} is not text (UTF-8)") from None


def _resolve_secrets(
    node: Any, path: KeyPath, src: _Source, base: Path, environ: Mapping[str, str]
) -> None:
    """`x_file: /path` becomes `x: <file content>`; `x_env: VAR` becomes `x: $VAR`."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _resolve_secrets(item, (*path, index), src, base, environ)
        return
    if not isinstance(node, dict):
        return
    for key in list(node):
        value = node[key]
        skey = str(key)
        if skey.endswith(("_file", "_env")) and isinstance(value, str) and skey not in PATH_KEYS:
            target = skey.rsplit("_", 1)[0]
            kpath = (*path, skey)
            # The indirect key goes either way: left in place it would be an "unknown key".
            del node[key]
            try:
                if target in node:
                    raise ValueError(f"both {target!r} and {skey!r} are set; keep one")
                secret = _read_secret(skey, value, base, environ)
                if target in _LIST_SECRETS:
                    # One item per line (blank lines and # comments skipped): a file or a
                    # variable gives one string where the config wants a list.
                    node[target] = [
                        line.strip()
                        for line in secret.splitlines()
                        if line.strip() and not line.lstrip().startswith("#")
                    ]
                else:
                    node[target] = secret
            except ValueError as exc:
                src.problems.append(Problem(kpath, str(exc), src.place(kpath)))
                continue
            src.places[(*path, target)] = src.place(kpath)
            src.secret_paths.add((*path, target))
        elif skey in _LIST_SECRETS and isinstance(value, list):
            src.secret_paths.add((*path, skey))
            src.secret_paths.update((*path, skey, i) for i in range(len(value)))
        elif isinstance(value, dict | list):
            _resolve_secrets(value, (*path, skey), src, base, environ)
        elif is_sensitive_key(skey):
            src.secret_paths.add((*path, skey))


def _lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    for part in path:
        if isinstance(data, list):
            if not isinstance(part, int) or part >= len(data):
                return False, None
            data = data[part]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return False, None
    return True, data


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The model class whose fields live at `path`, to suggest a key for a typo."""
    model: type[BaseModel] = WatchdogConfig
    for part in path:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        found = None
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found = arg
        if found is None:
            return None
        model = found
    return model


def _flatten(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_flatten(arg))
        return out
    return [tp]


def _problems_from(exc: ValidationError, src: _Source) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc: KeyPath = tuple(err["loc"])
        # Drop union/type tags that pydantic adds to loc but that are not keys in the file.
        path: KeyPath = ()
        for part in loc:
            found, _ = _lookup(src.data, (*path, part))
            if not found and not (err["type"] == "missing" and part == loc[-1]):
                break
            path += (part,)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            model = _model_at(path[:-1])
            message = f"unknown key {path[-1]!r}"
            if model is not None:
                close = difflib.get_close_matches(str(path[-1]), list(model.model_fields), n=1)
                if close:
                    message += f"; did you mean {close[0]!r}?"
                else:
                    message += f"; allowed here: {', '.join(model.model_fields)}"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "pattern_type" or "should be a valid regular expression" in message:
            message = f"not a valid regular expression: {_regex_error(err.get('input'))}"
        elif not _secret(path, src) and not isinstance(err.get("input"), dict | list):
            message += f" (got {err.get('input')!r})"
        problems.append(Problem(path, message, src.place(path)))
    return problems


def _secret(path: KeyPath, src: _Source) -> bool:
    """At or inside a secret (an apprise list's item, a routing key, a password)."""
    if any(path[:end] in src.secret_paths for end in range(1, len(path) + 1)):
        return True
    return any(is_sensitive_key(str(p)) or p in _LIST_SECRETS for p in path if isinstance(p, str))


def _regex_error(value: object) -> str:
    try:
        re.compile(str(value))
    except re.error as exc:
        return f"{exc} in {value!r}"
    return repr(value)


def _semantic_checks(src: _Source) -> list[Problem]:
    """Checks across items, done on the raw data so they are reported with the type errors."""
    problems = []
    seen: dict[str, int] = {}
    clusters = src.data.get("clusters")
    for index, cluster in enumerate(clusters if isinstance(clusters, list) else []):
        name = cluster.get("name") if isinstance(cluster, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            path: KeyPath = ("clusters", index, "name")
            problems.append(
                Problem(
                    path,
                    f"cluster name {name!r} is already used by "
                    f"clusters[{seen[name]}]; names must be unique",
                    src.place(path),
                )
            )
        seen.setdefault(name, index)
    return problems


def load_config_text(
    text: str,
    name: str = "<config>",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> WatchdogConfig:
    src = _parse(text, name)
    env = os.environ if environ is None else environ
    _apply_env(src, env)
    _resolve_secrets(src.data, (), src, base_dir or Path.cwd(), env)
    for path in list(src.secret_paths):
        found, value = _lookup(src.data, path)
        if found and isinstance(value, str):
            secrets.register(value)
        elif found and isinstance(value, list):
            for index, item in enumerate(value):
                src.secret_paths.add((*path, index))
                if isinstance(item, str):
                    secrets.register_url(item) if "://" in item else secrets.register(item)
    problems = list(src.problems) + _semantic_checks(src)
    config = None
    try:
        config = WatchdogConfig.model_validate(src.data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, src))
    # The web config file is checked even when the rest has problems: one run, every error.
    found, raw_web = _lookup(src.data, ("server", "web_config_file"))
    if found and isinstance(raw_web, str) and raw_web:
        web_key: KeyPath = ("server", "web_config_file")
        web_file = Path(raw_web)
        if not web_file.is_absolute():
            web_file = (base_dir or Path.cwd()) / web_file
        try:
            load_web_config(web_file)
        except WebConfigError as exc:
            problems.append(Problem(web_key, str(exc), src.place(web_key)))
        if config is not None:
            config = config.model_copy(
                update={"server": config.server.model_copy(update={"web_config_file": web_file})}
            )
    if problems or config is None:
        raise ConfigError(sorted(problems, key=_line_order))
    return config


def _line_order(problem: Problem) -> tuple[int, str]:
    line = problem.where.rpartition(":")[2]
    return (int(line) if line.isdigit() else 1 << 30, str(problem))


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> WatchdogConfig:
    file = Path(path)
    try:
        with file.open("rb") as f:  # bounded: /dev/zero or a 10 GB log is not read whole
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem((), f"config file {str(file)!r} does not exist")]) from None
    except OSError as exc:
        raise ConfigError([Problem((), f"cannot read {str(file)!r}: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(
            [Problem((), f"{str(file)!r} is not a text (UTF-8) file: a YAML config is text")]
        ) from None
    return load_config_text(text, str(file), environ, file.parent)
