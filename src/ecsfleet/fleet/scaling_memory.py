"""`scaling: placement`'s memory across processes: the load history and the last scale-out and
scale-in times, kept in an SSM parameter the cluster's next pass reads, whichever process runs it
(a restarted daemon, the next `--once` pass from cron, the next Lambda invocation).

The parameter is `/ecsfleet/<cluster>/scaling-memory`, a String of the Standard tier tagged
`ecsfleet:cluster=<cluster>` when ecsfleet creates it; ecsfleet overwrites it only while it carries
that tag. Its value is base64 of zlib of a small JSON document (FORMAT): the times, the service
names once, and the samples as rows of counts, each row's time as seconds after the row before.

Only what the anti-flap rule reads is kept: the first and the last sample of each run of equal
counts (the rule pairs the last moment of a load with the first of the next one), and the
newest. A value over the tier's 4,096 characters loses its oldest samples first; if not even the
newest fits (hundreds of services), the times alone are kept, and the pass says so once.

A fresh controller continues from the stored samples; a daemon's own memory stays the truth and
is written when it holds something new: a scale time, or counts that differ from those last
written. Each write reads the parameter again first and merges what another process wrote
since (passes overlap: a Lambda's schedule beside its queue), so neither loses the other's
scale time; SSM has no conditional write, which leaves only the moment between that read and
the write. Passes that saw the load unchanged write nothing, so the stored history says what the
load was each time it changed, and a reader takes the load as unchanged since the newest sample.

Nothing here ends a pass: a refused read or write is a warning, and the pass goes on with what
the controller remembers itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from ..aws import Clients, error_code
from .plan import LoadSample
from .templates import CLUSTER_TAG

FORMAT = 1
STANDARD_VALUE_MAX = 4096  # characters of a Standard tier parameter's value
PREFIX = "/ecsfleet"
SUFFIX = "scaling-memory"


def parameter_name(cluster: str) -> str:
    return f"{PREFIX}/{cluster}/{SUFFIX}"


@dataclass(frozen=True)
class Memory:
    """What the anti-flap rule remembers: the scale times and the load samples, oldest first."""

    last_scale_out: float | None = None
    last_scale_in: float | None = None
    samples: tuple[LoadSample, ...] = ()


@dataclass(frozen=True)
class Encoded:
    value: str
    kept: int      # samples in the value
    dropped: int   # oldest samples left out so the value fits


class _Document(pydantic.BaseModel):
    """The JSON inside the value: `o`/`i` the scale-out/scale-in times, `n` the service names, `s`
    one row per sample: [seconds after the previous row (the first: since the epoch), a count per
    name, null where the sample has no such service]."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    v: Literal[1]
    o: int | None
    i: int | None
    n: list[str]
    s: list[list[int | None]]


def compact(samples: Sequence[LoadSample]) -> list[LoadSample]:
    """The first and the last sample of each run of equal counts (so the newest too)."""
    kept = []
    for n, sample in enumerate(samples):
        first = n == 0 or samples[n - 1].desired != sample.desired
        last = n == len(samples) - 1 or samples[n + 1].desired != sample.desired
        if first or last:
            kept.append(sample)
    return kept


def _seconds(value: float | None) -> int | None:
    # Up, never down: a scale time never looks older than it is, a history never longer.
    return None if value is None else math.ceil(value)


def _value(memory: Memory, samples: Sequence[LoadSample]) -> str:
    names = sorted({name for s in samples for name in s.desired})
    rows: list[list[int | None]] = []
    before = 0
    for sample in samples:
        at = _seconds(sample.time) or 0
        rows.append([at - before, *(sample.desired.get(name) for name in names)])
        before = at
    text = json.dumps({"v": FORMAT, "o": _seconds(memory.last_scale_out), "i": _seconds(memory.last_scale_in),
                       "n": names, "s": rows}, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode("ascii")


def encode(memory: Memory, limit: int = STANDARD_VALUE_MAX) -> Encoded:
    """The parameter's value: every sample when it fits in `limit` characters, else the newest
    that fit (found by bisection: the value grows with the samples kept)."""
    samples = list(memory.samples)
    value = _value(memory, samples)
    if len(value) <= limit:
        return Encoded(value, len(samples), 0)
    low, high = 0, len(samples) - 1  # `low` newest samples fit (0 always does); `high + 1` do not
    best = _value(memory, [])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = _value(memory, samples[len(samples) - middle:])
        if len(candidate) <= limit:
            low, best = middle, candidate
        else:
            high = middle - 1
    return Encoded(best, low, len(samples) - low)


class NewerFormat(ValueError):
    """A value a newer ecsfleet wrote: left as it is."""


def decode(value: str) -> Memory:
    """The memory a value holds; ValueError saying what is wrong with it."""
    try:
        text = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=True))
        raw: Any = json.loads(text)
    except (UnicodeEncodeError, binascii.Error, zlib.error, ValueError) as error:
        raise ValueError(f"not ecsfleet's encoding ({error})") from None
    if isinstance(raw, dict) and isinstance(raw.get("v"), int) and raw["v"] > FORMAT:
        raise NewerFormat(f"format {raw['v']}, written by a newer ecsfleet (this one reads {FORMAT})")
    try:
        doc = _Document.model_validate(raw)
    except pydantic.ValidationError as error:
        raise ValueError(f"not ecsfleet's format {FORMAT} ({error.error_count()} error(s), first: "
                         f"{error.errors()[0]['msg']})") from None
    samples = []
    at = 0
    for row in doc.s:
        if len(row) != len(doc.n) + 1 or row[0] is None or any(c is not None and c < 0 for c in row[1:]):
            raise ValueError(f"not ecsfleet's format {FORMAT} (a sample of {len(row)} values for "
                             f"{len(doc.n)} service(s))")
        at += row[0]
        samples.append(LoadSample(float(at), {name: count for name, count in zip(doc.n, row[1:], strict=True)
                                              if count is not None}))
    return Memory(None if doc.o is None else float(doc.o), None if doc.i is None else float(doc.i),
                  tuple(samples))


def resume(stored: Memory, history: Sequence[LoadSample], first: LoadSample) -> list[LoadSample]:
    """The history a controller continues from: the stored samples older than any it took itself,
    then its own. When the load differs from the newest stored sample, that sample's counts are
    repeated at the controller's first sample: the passes in between wrote nothing, so they saw it
    unchanged, and the rise to today's load is then as recent as a daemon would have seen it."""
    own = list(history) or [first]
    older = [s for s in stored.samples if s.time < own[0].time]
    if older and older[-1].desired != own[0].desired:
        older.append(LoadSample(own[0].time, older[-1].desired))
    return older + list(history)


def latest(time: float | None, other: float | None) -> float | None:
    """The later of two times, either of which may be unknown."""
    return other if time is None else time if other is None else max(time, other)


def merged(own: Memory, stored: Memory) -> Memory:
    """What a write leaves when another process wrote since this one read: the later of each
    scale time, and both processes' samples of the same cluster in time order (this one's where
    both have one at the same second), none older than this one's oldest (its history is already
    bounded to what the rule reads; the stored samples older than that, kept, would make the
    parameter grow with every write). Without it, a pass that only saw the load change would
    write back an older scale time over the one a pass beside it had just written."""
    since = math.ceil(own.samples[0].time) if own.samples else -math.inf
    by_second = {at: s for s in stored.samples if (at := math.ceil(s.time)) >= since} | {
        math.ceil(s.time): s for s in own.samples}
    samples = compact([by_second[at] for at in sorted(by_second)])
    return Memory(latest(own.last_scale_out, stored.last_scale_out), latest(own.last_scale_in, stored.last_scale_in),
                  tuple(samples))


Key = tuple[float | None, float | None, Mapping[str, int] | None]


def key(memory: Memory) -> Key:
    """What makes a memory worth writing again: the scale times and the newest counts."""
    return (_seconds(memory.last_scale_out), _seconds(memory.last_scale_in),
            dict(memory.samples[-1].desired) if memory.samples else None)


Owner = Literal["unknown", "absent", "ours", "foreign", "newer"]


@dataclass
class MemoryStore:
    """The cluster's memory parameter: read once, written when the memory holds something new.
    `warnings` collects what the pass should report (each kind once per store)."""

    clients: Clients
    cluster: str
    owner: Owner = "unknown"
    written: Key | None = None  # the key of what the parameter holds, as far as this store knows
    warnings: list[str] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return parameter_name(self.cluster)

    @property
    def loaded(self) -> bool:
        return self.owner != "unknown"

    def _warn(self, kind: str, text: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self.warnings.append(f"scaling memory {self.name}: {text}")

    def _newer(self, error: NewerFormat) -> None:
        self.owner = "newer"
        self._warn("newer", f"{error}: left as it is; the load history lives in this controller's memory only")

    def _tagged_ours(self) -> bool | None:
        """True: the tag names this cluster; False: it does not; None: no such parameter."""
        try:
            tags = self.clients("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=self.name)
        except Exception as error:
            if error_code(error) == "InvalidResourceId":
                return None
            raise
        return any(t.get("Key") == CLUSTER_TAG and t.get("Value") == self.cluster for t in tags.get("TagList", []))

    def load(self) -> Memory | None:
        """The stored memory, or None (none stored, not ecsfleet's, unreadable: the store says why).
        A failed read leaves the store unloaded: the next pass reads again, and nothing is written
        meanwhile (it would replace a history this controller has not seen)."""
        try:
            try:
                value = self.clients("ssm").get_parameter(Name=self.name)["Parameter"]["Value"]
            except Exception as error:
                if error_code(error) != "ParameterNotFound":
                    raise
                self.owner = "absent"
                return None
            ours = self._tagged_ours()
        except Exception as error:
            self._warn("read", f"not read ({error_code(error) or error}): this pass goes on with what the "
                               "controller saw itself, and the next one reads it again")
            return None
        if ours is None:
            self.owner = "absent"
            return None
        if not ours:
            self.owner = "foreign"
            self._warn("foreign", f"exists without the tag {CLUSTER_TAG}={self.cluster}: not ecsfleet's, left as "
                                  "it is; the load history lives in this controller's memory only (delete the "
                                  "parameter, or tag it, to let ecsfleet keep it)")
            return None
        self.owner = "ours"
        try:
            memory = decode(value)
        except NewerFormat as error:
            self._newer(error)
            return None
        except ValueError as error:
            self._warn("corrupt", f"unreadable, {error}: replaced by what this controller sees")
            return None
        self.written = key(memory)
        return memory

    def save(self, memory: Memory) -> None:
        """When the memory holds something new and the parameter is ecsfleet's (or absent): what
        is stored now, read again (another process may have written since: a Lambda's passes
        overlap), merged with it, in one PutParameter; never raises."""
        if self.owner in ("unknown", "foreign", "newer") or key(memory) == self.written:
            return
        if self.owner == "ours":
            with_stored = self._with_stored(memory)
            if with_stored is None:
                return
            memory = with_stored
        encoded = encode(memory)
        if encoded.dropped:
            self._warn("size", f"{encoded.dropped} oldest of {encoded.dropped + encoded.kept} load sample(s) left out "
                               f"to fit the Standard tier's {STANDARD_VALUE_MAX} characters"
                               + ("; not even the newest fits: only the scale times are kept" if not encoded.kept
                                  else ""))
        args: dict[str, Any] = {"Name": self.name, "Value": encoded.value, "Type": "String", "Tier": "Standard"}
        if self.owner == "absent":
            args |= {"Description": f"ecsfleet: cluster {self.cluster}'s load history for scaling: placement",
                     "Tags": [{"Key": CLUSTER_TAG, "Value": self.cluster}]}
        else:
            args["Overwrite"] = True
        try:
            answer = self.clients("ssm").put_parameter(**args)
        except Exception as error:
            if error_code(error) == "ParameterAlreadyExists":
                self.owner = "unknown"  # created meanwhile, by someone: whose it is, the next pass reads
                self._warn("raced", "created by someone else since this controller looked: read again next pass")
            else:
                self._warn("write", f"not written ({error_code(error) or error}): written by a later pass")
            return
        self.written = key(memory)
        if self.owner == "ours" and answer.get("Version") == 1:
            self._tag_again()
        self.owner = "ours"

    def _with_stored(self, memory: Memory) -> Memory | None:
        """`memory` merged with the stored one, read again just before the write; None when a
        newer ecsfleet wrote it since (left as it is). A read that fails, or finds no parameter or
        an unreadable one, leaves `memory` as it is: written, it loses nothing this process saw."""
        try:
            value = self.clients("ssm").get_parameter(Name=self.name)["Parameter"]["Value"]
        except Exception as error:
            if error_code(error) != "ParameterNotFound":
                self._warn("reread", f"not read again before the write ({error_code(error) or error}): a scale "
                                     "time another pass wrote meanwhile may be overwritten")
            return memory
        try:
            return merged(memory, decode(value))
        except NewerFormat as error:
            self._newer(error)
            return None
        except ValueError:
            return memory  # unreadable: replaced, as at the first read

    def _tag_again(self) -> None:
        """The parameter was deleted since it was read, and the overwrite created it anew, without
        a tag (AWS takes no tags with Overwrite): tag it, or the next controller takes it for
        someone else's."""
        try:
            self.clients("ssm").add_tags_to_resource(ResourceType="Parameter", ResourceId=self.name,
                                                     Tags=[{"Key": CLUSTER_TAG, "Value": self.cluster}])
        except Exception as error:
            self._warn("untagged", "created again without its tag, which could not be added "
                                   f"({error_code(error) or error}): tag it ({CLUSTER_TAG}={self.cluster}) or "
                                   "delete it, or the next controller leaves it alone")

    def take_warnings(self) -> list[str]:
        warnings, self.warnings = self.warnings, []
        return warnings


__all__ = ["Memory", "MemoryStore", "compact", "decode", "encode", "parameter_name", "resume"]
