"""Configuration documents: where they come from (a file, s3://, https://), how they are
validated (pydantic), and how a daemon keeps the last good one when a new one is broken."""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import botocore.exceptions
import pydantic

from .aws import Clients, error_code
from .errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConfigError(UserError):
    """A configuration document that cannot be used: names the document, the field and what was expected."""


# Every configuration document ecsfleet reads is a few kilobytes; these bounds turn a wrong file
# (/dev/zero, a log, a generated monster) into an error in milliseconds instead of an OOM kill.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_DOCUMENT_DEPTH = 32


def fetch(url: str, clients: Clients | None = None, etag: str | None = None) -> tuple[bytes | None, str | None]:
    """The bytes at `url` and a version tag; (None, etag) when unchanged since `etag`."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "s3":
        if clients is None:
            raise ConfigError(f"{url}: reading s3:// needs AWS access")
        params: dict[str, Any] = {"Bucket": parsed.netloc, "Key": parsed.path.lstrip("/")}
        if etag:
            params["IfNoneMatch"] = etag
        try:
            response = clients("s3").get_object(**params)
        except Exception as error:
            code = error_code(error)
            if code in ("304", "NotModified"):
                return None, etag
            if code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "404", "403"):
                raise ConfigError(f"{url}: cannot read it ({code})") from error
            raise
        return response["Body"].read(), response.get("ETag")
    if parsed.scheme in ("http", "https"):
        request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read(), response.headers.get("ETag")
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return None, etag
            raise ConfigError(f"{url}: HTTP {error.code} {error.reason}") from error
        except urllib.error.URLError as error:
            raise ConfigError(f"{url}: cannot fetch it ({error.reason})") from error
    path = Path(parsed.path if parsed.scheme == "file" else url)
    try:
        stat = path.stat()
    except OSError as error:
        raise ConfigError(f"{url}: {error.strerror}") from error
    tag = f"{stat.st_mtime_ns}:{stat.st_size}"
    if etag == tag:
        return None, etag
    try:
        with path.open("rb") as stream:  # bounded: /dev/zero or a FIFO never ends
            return stream.read(MAX_DOCUMENT_BYTES + 1), tag
    except OSError as error:
        raise ConfigError(f"{url}: cannot read it ({error.strerror or error})") from error


def describe_validation_error(source: str, error: pydantic.ValidationError) -> str:
    """Every problem, one per line: where (field path) and what was expected."""
    lines = [f"{source}: {error.error_count()} problem(s)"]
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(document)"
        got = problem.get("input")
        shown = json.dumps(got)[:60] if not isinstance(got, dict | list) else type(got).__name__
        lines.append(f"  {where}: {problem['msg']} (got {shown})")
    return "\n".join(lines)


def parse_json_document(source: str, raw: bytes, model: type[T] | Any, fold_case: bool = False) -> T:
    """JSON bytes -> a validated model, or a ConfigError that says what is wrong and where.

    Refused before validation: more than MAX_DOCUMENT_BYTES, binary data, nesting deeper than
    MAX_DOCUMENT_DEPTH, and a key given twice in one object (with its line numbers: a doubled key
    silently keeps the last value). `fold_case`: keys that differ only in case are the same key,
    as Go's encoding/json matches them (statika's files)."""
    data = load_json(source, raw, fold_case)
    adapter = pydantic.TypeAdapter(model)
    try:
        result: T = adapter.validate_python(data)
    except pydantic.ValidationError as error:
        raise ConfigError(describe_validation_error(source, error)) from error
    return result


class _DuplicateKey(Exception):
    pass


def load_json(source: str, raw: bytes, fold_case: bool = False) -> Any:
    """The JSON value of `raw`, within the bounds parse_json_document documents."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB: not a configuration "
                          f"document (is it the right file?)")
    text = _text(source, raw)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen = {(k.casefold() if fold_case else k) for k, _ in items}
        if len(seen) != len(items):
            raise _DuplicateKey
        return dict(items)

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except _DuplicateKey:
        raise ConfigError(_duplicates(source, text, fold_case)) from None
    except ValueError as error:
        raise ConfigError(f"{source}: not valid JSON ({error})") from error
    except RecursionError as error:  # json gives up on deep nesting with this, not a ValueError
        raise ConfigError(f"{source}: nested deeper than {MAX_DOCUMENT_DEPTH} levels") from error
    if _depth(data) > MAX_DOCUMENT_DEPTH:
        raise ConfigError(f"{source}: nested deeper than {MAX_DOCUMENT_DEPTH} levels")
    return data


def _text(source: str, raw: bytes) -> str:
    """`raw` as text: UTF-8 (a byte-order mark allowed), and no NUL byte (binary data)."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ConfigError(f"{source}: binary data (a NUL byte at offset {nul}), not a text document: "
                          f"is it the right file?")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{source}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}): "
                          f"is it the right file?") from error


def _depth(data: Any) -> int:
    """How deeply `data` nests lists and objects, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _duplicates(source: str, text: str, fold_case: bool) -> str:
    """Where the duplicate keys are, found by a second, slower read that keeps each key's position
    (json's C scanner does not give one; this runs only for a document already refused)."""
    decoder = json.JSONDecoder()
    problems: list[str] = []

    def line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def walk(pos: int) -> int:
        """Read the value at `pos` (no whitespace before it); its end."""
        if text[pos] == "{":
            first: dict[str, tuple[int, str]] = {}
            pos = _skip(text, pos + 1)
            while text[pos] != "}":
                key, end = decoder.raw_decode(text, pos)
                name = key.casefold() if fold_case else key
                if name in first:
                    at, was = first[name]
                    same = f" as {was!r}: keys are matched whatever their case" if was != key else ""
                    problems.append(f"  line {line(pos)}: key {key!r} given again (first at line {at}{same})")
                else:
                    first[name] = (line(pos), key)
                pos = _skip(text, _skip(text, end) + 1)  # past the colon
                pos = _skip(text, walk(pos))
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
            return pos + 1
        if text[pos] == "[":
            pos = _skip(text, pos + 1)
            while text[pos] != "]":
                pos = _skip(text, walk(pos))
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
            return pos + 1
        _, end = decoder.raw_decode(text, pos)
        return int(end)

    walk(_skip(text, 0))
    return "\n".join([f"{source}: {len(problems)} duplicate key(s): keep one of each", *problems])


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


@dataclass
class Reloading(Generic[T]):
    """A document a daemon re-reads now and then (conditionally: an unchanged document costs a
    304 or a stat), keeping the last good version when a new one is broken."""

    url: str
    parse: Callable[[str, bytes], T]
    clients: Clients | None = None
    every: float = 60.0
    _value: T | None = None
    _etag: str | None = None
    _checked: float = float("-inf")
    last_error: str | None = None

    def get(self, force: bool = False) -> T:
        now = time.monotonic()
        if self._value is None or force or now - self._checked >= self.every:
            self._checked = now
            try:
                raw, etag = fetch(self.url, self.clients, self._etag if self._value is not None else None)
                if raw is not None:
                    self._value = self.parse(self.url, raw)
                    self._etag = etag
                    if self.last_error:
                        log.info("config %s is valid again", self.url)
                self.last_error = None
            except (ConfigError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as error:
                # A broken new version, or a read that failed (S3 throttled past the retries): a
                # daemon goes on with the last good version and says why.
                if self._value is None:
                    raise
                problem = str(error) if isinstance(error, ConfigError) else \
                    f"{self.url}: cannot read it ({error_code(error) or type(error).__name__}: {error})"
                if problem != self.last_error:
                    log.error("keeping the last good version of %s: %s", self.url, problem)
                self.last_error = problem
        assert self._value is not None
        return self._value


def env_first(*names: str) -> str | None:
    """The first of several environment variables that is set (ecsfleet's names, then a seed's)."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None
