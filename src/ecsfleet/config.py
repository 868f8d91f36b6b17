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
    return path.read_bytes(), tag


def describe_validation_error(source: str, error: pydantic.ValidationError) -> str:
    """Every problem, one per line: where (field path) and what was expected."""
    lines = [f"{source}: {error.error_count()} problem(s)"]
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(document)"
        got = problem.get("input")
        shown = json.dumps(got)[:60] if not isinstance(got, dict | list) else type(got).__name__
        lines.append(f"  {where}: {problem['msg']} (got {shown})")
    return "\n".join(lines)


def parse_json_document(source: str, raw: bytes, model: type[T] | Any) -> T:
    """JSON bytes -> a validated model, or a ConfigError that says what is wrong and where."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{source}: not valid JSON ({error})") from error
    except RecursionError as error:  # json gives up on deep nesting with this, not a ValueError
        raise ConfigError(f"{source}: not valid JSON (nested too deeply)") from error
    adapter = pydantic.TypeAdapter(model)
    try:
        result: T = adapter.validate_python(data)
    except pydantic.ValidationError as error:
        raise ConfigError(describe_validation_error(source, error)) from error
    return result


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
