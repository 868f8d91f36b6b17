"""`scaling: placement`'s memory across processes (fleet/scaling_memory.py): the encoding, its
bound, and in the sandbox controllers that follow one another (a restart, `--once` from cron, a
Lambda invocation) keeping the anti-flap window, a foreign or corrupt parameter, failures, and a
pass cut short between the write and the actions."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.plan import LoadSample, Observation, Options
from ecsfleet.fleet.scaling import RISE_LOOKBACK, expected_rise
from ecsfleet.fleet.scaling_memory import (
    STANDARD_VALUE_MAX,
    Memory,
    MemoryStore,
    compact,
    decode,
    encode,
    merged,
    parameter_name,
    resume,
)
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, RetryWaits, before_first, skip_retry_waits
from fleet_worlds import NOW, World, service
from rules_support import refused
from support import rolled_out
from test_fleet_consolidation import INFRA_YML
from test_fleet_scaling_plan import placement

NAME = parameter_name("shop")
TAG = [{"Key": "ecsfleet:cluster", "Value": "shop"}]

# ---- the encoding ---------------------------------------------------------------------------

names = st.text(alphabet=st.characters(min_codepoint=45, max_codepoint=122), min_size=1, max_size=255)


@st.composite
def memories(draw: st.DrawFn) -> Memory:
    services = draw(st.lists(names, min_size=0, max_size=40, unique=True))
    count = draw(st.integers(0, 300))
    steps = draw(st.lists(st.integers(0, 900), min_size=count, max_size=count))
    time, samples = draw(st.integers(1_600_000_000, 1_900_000_000)), []
    for step in steps:
        time += step
        present = draw(st.lists(st.sampled_from(services), unique=True)) if services else []
        samples.append(LoadSample(float(time), {n: draw(st.integers(0, 5000)) for n in present}))
    moment = st.none() | st.integers(1_600_000_000, 1_900_000_000).map(float)
    return Memory(draw(moment), draw(moment), tuple(samples))


@settings(max_examples=40, deadline=None)
@given(memories())
def test_any_memory_encodes_within_the_standard_tier_and_decodes_to_its_newest_samples(memory: Memory) -> None:
    encoded = encode(memory)
    assert len(encoded.value) <= STANDARD_VALUE_MAX
    assert encoded.kept + encoded.dropped == len(memory.samples)
    back = decode(encoded.value)
    assert (back.last_scale_out, back.last_scale_in) == (memory.last_scale_out, memory.last_scale_in)
    assert back.samples == memory.samples[len(memory.samples) - encoded.kept:]


def test_a_history_too_long_loses_its_oldest_samples_and_too_wide_keeps_the_times() -> None:
    long = Memory(100.0, 200.0, tuple(LoadSample(float(t), {f"service-{t % 97}": t}) for t in range(3000)))
    encoded = encode(long)
    assert 0 < encoded.kept < 3000 and len(encoded.value) <= STANDARD_VALUE_MAX
    assert decode(encoded.value).samples == long.samples[-encoded.kept:]
    wide = Memory(100.0, None, (LoadSample(5.0, {hashlib.sha256(bytes([n])).hexdigest() * 3: n
                                                  for n in range(200)}),))
    encoded = encode(wide)
    assert (encoded.kept, encoded.dropped) == (0, 1)
    assert decode(encoded.value) == Memory(100.0, None, ())


def test_scale_times_are_kept_to_the_second_rounded_up() -> None:
    back = decode(encode(Memory(100.2, 99.9, (LoadSample(10.5, {"web": 1}),))).value)
    assert (back.last_scale_out, back.last_scale_in, back.samples[0].time) == (101.0, 100.0, 11.0)


@pytest.mark.parametrize("value", ["not base64!", "aGVsbG8=", "eJyrVirLLFKyUlAyVKoFABMbA3s=",
                                   encode(Memory()).value[:-8]])
def test_a_value_that_is_not_the_encoding_is_refused_with_the_reason(value: str) -> None:
    with pytest.raises(ValueError, match="not ecsfleet's"):
        decode(value)


def test_compaction_keeps_first_and_last_of_each_run_and_the_rule_sees_the_same_rise() -> None:
    a, b = {"web": 4}, {"web": 9}
    history = [LoadSample(float(t), a) for t in range(0, 1000, 60)] + [LoadSample(1020.0, b), LoadSample(1080.0, b)]
    assert [s.time for s in compact(history)] == [0.0, 960.0, 1020.0, 1080.0]
    obs = Observation(World(placement()).build(), placement(), (service(desired=9, running=9),), now=1080.0,
                      history=tuple(history))
    compacted = Observation(obs.world, obs.infra, obs.services, now=1080.0, history=tuple(compact(history)))
    assert expected_rise(obs, 600) == expected_rise(compacted, 600) == {"web": 5}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=60),
       st.integers(60, 1800))
def test_the_anti_flap_reserve_is_the_same_from_the_compacted_history(steps: list[tuple[int, int, int]],
                                                                      window: int) -> None:
    time, history = float(NOW - 4000), []
    for step, web, api in steps:
        time += step
        history.append(LoadSample(time, {"web": web, "api": api}))
    services = (service("web", desired=history[-1].desired["web"], running=0),
                service("api", desired=history[-1].desired["api"], running=0))
    full = Observation(World(placement()).build(), placement(), services, now=time, history=tuple(history))
    short = Observation(full.world, full.infra, services, now=time, history=tuple(compact(history)))
    assert expected_rise(full, window) == expected_rise(short, window)


def test_a_write_keeps_what_another_process_wrote_since_this_one_read() -> None:
    own = Memory(None, 90.0, (LoadSample(100.0, {"web": 4}), LoadSample(160.4, {"web": 5})))
    other = Memory(50.0, 130.0, (LoadSample(100.0, {"web": 4}), LoadSample(130.0, {"web": 3}),
                                 LoadSample(161.0, {"web": 6})))
    both = merged(own, other)
    assert (both.last_scale_out, both.last_scale_in) == (50.0, 130.0)
    # In time order; at the same second (160.4 is stored as 161), this process's own sample.
    assert [(s.time, s.desired["web"]) for s in both.samples] == [(100.0, 4), (130.0, 3), (160.4, 5)]
    assert merged(own, Memory()) == Memory(None, 90.0, tuple(compact(own.samples)))
    # What a daemon's history no longer holds (older than its oldest sample) is not brought back:
    # else the parameter would grow with every write.
    pruned = merged(own, Memory(None, None, (LoadSample(40.0, {"web": 1}), *other.samples)))
    assert [s.time for s in pruned.samples] == [100.0, 130.0, 160.4]


def test_a_fresh_controller_continues_from_the_stored_samples() -> None:
    stored = Memory(50.0, None, (LoadSample(0.0, {"web": 4}), LoadSample(100.0, {"web": 2})))
    now = LoadSample(700.0, {"web": 6})
    # The load changed since the last stored sample: its counts are repeated at this pass, so the
    # rise from 2 to 6 is seen as recent as a daemon would have seen it.
    assert resume(stored, (), now) == [*stored.samples, LoadSample(700.0, {"web": 2})]
    assert resume(stored, (), LoadSample(700.0, {"web": 2})) == list(stored.samples)
    own = (LoadSample(90.0, {"web": 2}),)  # a daemon whose first read failed: its own samples stay
    assert resume(stored, own, now) == [stored.samples[0], LoadSample(90.0, {"web": 4}), *own]


# ---- in the sandbox ---------------------------------------------------------------------------

@pytest.fixture
def infra() -> Infra:
    return parse_infra("infra.yml", INFRA_YML)  # placement, no headroom, a 2-minute window


def spread_service(sb: Sandbox, clients: Clients, infra: Infra, desired: int) -> None:
    """v1 active (one on-demand and three spot t3.medium), and `web` spread over them."""
    rolled_out(sb, clients, infra)
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 512, "cpu": 256}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web", desiredCount=desired,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}],
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    sb.advance(5)


def desire(sb: Sandbox, count: int) -> None:
    sb.client("ecs").update_service(cluster="shop", service="web", desiredCount=count)
    sb.advance(5)


def fresh_pass(sb: Sandbox, clients: Clients, infra: Infra, dry_run: bool = False) -> PassReport:
    """What a `--once` pass from cron or a Lambda invocation is: a new controller, one pass."""
    report = FleetController(clients, infra, Options(max_draining=1), now=sb.now).reconcile(dry_run=dry_run)
    assert report.ok, report.summary()
    return report


def memory_calls(clients: Clients) -> Counter[str]:
    """The calls made on the memory parameter from now on, by operation (other SSM calls, such as
    the AMI drift check's, are not counted)."""
    calls: Counter[str] = Counter()

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        if NAME in (params.get("Name"), params.get("ResourceId")):
            calls[model.name] += 1

    clients("ssm").meta.events.register("provide-client-params.ssm", count)
    return calls


def stored(sb: Sandbox) -> Memory:
    return decode(sb.client("ssm").get_parameter(Name=NAME)["Parameter"]["Value"])


def test_controllers_in_sequence_keep_the_window_then_consolidate_with_the_history_they_share(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    desire(sb, 40)  # more than four t3.medium hold: a scale-out
    first = fresh_pass(sb, clients, infra)
    assert [o.kind for o in first.outcomes] == ["scale"]
    scaled_at = sb.now()
    memory = stored(sb)
    assert memory.last_scale_out == pytest.approx(scaled_at, abs=1) and len(memory.samples) == 1
    assert sb.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)["TagList"] == TAG
    sb.advance(60)
    desire(sb, 4)  # the load is gone again at once
    second = fresh_pass(sb, clients, infra)
    assert second.outcomes == ()  # within the window of the scale-out: nothing drained, not even an empty one
    assert any(n.startswith("consolidation waits: scaled out 1 min ago") for n in second.notes), second.notes
    assert any(n.startswith(f"scaling memory: continued from {NAME}: 1 load sample(s)") for n in second.notes)
    drains: list[str] = []
    for _ in range(12):
        sb.advance(60)
        drains += [o.detail for o in fresh_pass(sb, clients, infra).outcomes if o.kind == "drain"]
    # The history the passes share covers the window: instances with tasks on them are drained too.
    assert any("service task(s) fit on the other instances" in d for d in drains), drains
    assert stored(sb).last_scale_in is not None


def test_a_converged_daemon_writes_nothing_and_a_fresh_pass_reads_once(sb: Sandbox, clients: Clients,
                                                                        infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    daemon = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    for _ in range(8):
        daemon.reconcile(dry_run=False)
        sb.advance(60)
    calls = memory_calls(clients)
    report = daemon.reconcile(dry_run=False)
    assert report.outcomes == () and report.ok
    assert calls == {}
    desire(sb, 5)
    daemon.reconcile(dry_run=False)
    assert calls == {"GetParameter": 1, "PutParameter": 1}  # read again just before the write
    assert stored(sb).samples[-1].desired == {"web": 5}
    sb.advance(60)
    calls.clear()
    fresh_pass(sb, clients, infra)  # the load as stored: read once, its tag checked, nothing written
    assert calls == {"GetParameter": 1, "ListTagsForResource": 1}


def test_once_passes_from_the_command_line_continue_the_stored_history(
        sb: Sandbox, clients: Clients, infra: Infra, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--once` runs on the wall clock, which the sandbox does not move: the memory a cron pass
    # left is written here as it would have been, then each pass is a new process's.
    spread_service(sb, clients, infra, desired=4)
    infra_file = tmp_path / "infra.yml"
    infra_file.write_text(INFRA_YML)
    argv = ["fleet", "reconcile", str(infra_file), "--once", "--dry-run", "--max-draining", "1"]
    assert main(argv) == 0
    assert "consolidation: empty instances only until 2 min of load history are seen (0 so far)" in \
        capsys.readouterr().out
    ssm = sb.client("ssm")
    refused(ssm.get_parameter, "ParameterNotFound", 400, Name=NAME)  # a dry run writes nothing
    now = float(int(time.time()))  # the clock of a `--once` pass, to the second
    history = Memory(now - 60, None, (LoadSample(now - 600, {"web": 4}),))
    ssm.put_parameter(Name=NAME, Value=encode(history).value, Type="String", Tags=TAG)
    assert main(argv) == 0
    assert "consolidation waits: scaled out 1 min ago, within the 2 min window" in capsys.readouterr().out
    ssm.put_parameter(Name=NAME, Value=encode(Memory(now - 300, None, history.samples)).value, Type="String",
                      Overwrite=True)
    assert main(argv[:-3]) == 0
    out = capsys.readouterr().out
    assert "scale in: its 1 service task(s) fit on the other instances" in out, out
    after = stored(sb)
    assert after.last_scale_in is not None and after.last_scale_in >= now
    assert after.samples[0] == history.samples[0]


def test_a_foreign_parameter_is_left_alone_with_a_warning(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    ssm = sb.client("ssm")
    ssm.put_parameter(Name=NAME, Value="someone else's", Type="String", Tags=[{"Key": "team", "Value": "x"}])
    daemon = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    reports = []
    for _ in range(3):
        reports.append(daemon.reconcile(dry_run=False))
        sb.advance(60)
    assert all(r.ok for r in reports)
    assert [w for w in reports[0].warnings if "scaling memory" in w] == [
        f"scaling memory {NAME}: exists without the tag ecsfleet:cluster=shop: not ecsfleet's, left as it is; the "
        "load history lives in this controller's memory only (delete the parameter, or tag it, to let ecsfleet "
        "keep it)"]
    assert not any("scaling memory" in w for r in reports[1:] for w in r.warnings)  # said once
    assert ssm.get_parameter(Name=NAME)["Parameter"] == {**ssm.get_parameter(Name=NAME)["Parameter"],
                                                         "Value": "someone else's", "Version": 1}
    # Tagged for another cluster: not this one's either.
    ssm.delete_parameter(Name=NAME)
    ssm.put_parameter(Name=NAME, Value=encode(Memory(sb.now(), None, ())).value, Type="String",
                      Tags=[{"Key": "ecsfleet:cluster", "Value": "other"}])
    report = fresh_pass(sb, clients, infra)
    assert any("exists without the tag ecsfleet:cluster=shop" in w for w in report.warnings)
    assert not any(n.startswith("consolidation waits: scaled out") for n in report.notes)


def test_a_corrupt_parameter_of_ours_is_a_warning_and_is_replaced(sb: Sandbox, clients: Clients,
                                                                  infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    ssm = sb.client("ssm")
    ssm.put_parameter(Name=NAME, Value="garbage", Type="String", Tags=TAG)
    report = fresh_pass(sb, clients, infra)
    assert [w for w in report.warnings if "scaling memory" in w] == [
        f"scaling memory {NAME}: unreadable, not ecsfleet's encoding (Incorrect padding): replaced by what this "
        "controller sees"]
    assert stored(sb).samples[-1].desired == {"web": 4}
    newer = json.dumps({"v": 2, "what": "next"})
    ssm.put_parameter(Name=NAME, Value=base64.b64encode(zlib.compress(newer.encode())).decode(), Type="String",
                      Overwrite=True)
    desire(sb, 5)
    report = fresh_pass(sb, clients, infra)
    assert any("format 2, written by a newer ecsfleet (this one reads 1): left as it is" in w for w in report.warnings)
    assert json.loads(zlib.decompress(base64.b64decode(ssm.get_parameter(Name=NAME)["Parameter"]["Value"]))) == \
        {"v": 2, "what": "next"}


def test_reads_and_writes_that_fail_are_warnings_and_the_pass_goes_on(
        sb: Sandbox, clients: Clients, infra: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: RetryWaits = skip_retry_waits(monkeypatch)
    spread_service(sb, clients, infra, desired=4)
    daemon = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    sb.fail("ssm", "GetParameter", times=ATTEMPTS)
    report = daemon.reconcile(dry_run=False)
    assert report.ok and waits.backoffs
    assert any(w.startswith(f"scaling memory {NAME}: not read (") for w in report.warnings), report.warnings
    assert sb.count("ssm", "PutParameter") == 0  # nothing written over a history not seen
    sb.advance(60)
    sb.fail("ssm", "PutParameter", times=ATTEMPTS)
    report = daemon.reconcile(dry_run=False)  # read again; the write fails
    assert report.ok
    assert any(w.startswith(f"scaling memory {NAME}: not written (") for w in report.warnings), report.warnings
    sb.advance(60)
    daemon.reconcile(dry_run=False)  # written by the next pass
    assert stored(sb).samples[0].desired == {"web": 4}


class Killed(BaseException):
    """The process dying: nothing of the pass after this point runs (no `except Exception` catches it)."""


def test_a_pass_cut_between_the_write_and_its_actions_leaves_the_times_for_the_next(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    desire(sb, 40)

    def die() -> None:
        raise Killed

    before_first(clients, ("ec2", "ModifySpotFleetRequest"), die)
    planned_at = sb.now()
    with pytest.raises(Killed):
        FleetController(clients, infra, Options(max_draining=1), now=sb.now).reconcile(dry_run=False)
    assert stored(sb).last_scale_out == pytest.approx(planned_at, abs=1)
    sb.advance(30)
    desire(sb, 4)
    report = fresh_pass(sb, clients, infra)
    # The scale-out never happened, and the window still holds: a decision cut short is never
    # undone by the next process.
    assert report.outcomes == ()
    assert any(n.startswith("consolidation waits: scaled out") for n in report.notes), report.notes


def test_two_passes_at_once_keep_each_other_s_scale_time(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    # A Lambda's schedule and its queue run passes at once: both read the memory, one scales in
    # and writes, then the other, which only saw the load change, writes.
    spread_service(sb, clients, infra, desired=4)
    fresh_pass(sb, clients, infra)  # the parameter exists, ecsfleet's
    scaling_in, beside = MemoryStore(clients, "shop"), MemoryStore(Clients(clients.target), "shop")
    before = scaling_in.load()
    assert before is not None and beside.load() == before
    sb.advance(60)
    now = sb.now()
    scaling_in.save(Memory(None, now, (*before.samples, LoadSample(now, {"web": 3}))))
    beside.save(Memory(None, None, (*before.samples, LoadSample(now + 2, {"web": 6}))))
    memory = stored(sb)
    assert memory.last_scale_in == pytest.approx(now, abs=1)
    assert [s.desired for s in memory.samples[-2:]] == [{"web": 3}, {"web": 6}]
    assert not scaling_in.warnings and not beside.warnings


def test_a_daemon_s_merged_writes_keep_the_stored_history_to_its_own_span(sb: Sandbox, clients: Clients,
                                                                          infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    daemon = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    started = sb.now()
    for n in range(16):  # 80 minutes of a load that changes every 5: a write each pass
        desire(sb, 4 + n % 2)
        daemon.reconcile(dry_run=False)
        sb.advance(300)
    memory = stored(sb)
    assert memory.samples[0].time >= sb.now() - RISE_LOOKBACK - 600 > started
    assert [s.time for s in memory.samples] == [math.ceil(s.time) for s in compact(daemon.history)]


def test_a_parameter_deleted_under_a_daemon_is_created_again_with_its_tag(sb: Sandbox, clients: Clients,
                                                                         infra: Infra) -> None:
    spread_service(sb, clients, infra, desired=4)
    daemon = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    daemon.reconcile(dry_run=False)
    ssm = sb.client("ssm")
    ssm.delete_parameter(Name=NAME)
    desire(sb, 5)
    calls = memory_calls(clients)
    report = daemon.reconcile(dry_run=False)
    assert report.ok and not any("scaling memory" in w for w in report.warnings)
    # The overwrite created it anew (AWS takes no tags with Overwrite): tagged in a second call.
    assert calls == {"GetParameter": 1, "PutParameter": 1, "AddTagsToResource": 1}
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)["TagList"] == TAG
    sb.advance(60)
    fresh_pass(sb, clients, infra)
    assert stored(sb).samples[-1].desired == {"web": 5}


def test_each_lambda_invocation_continues_from_the_one_before(sb: Sandbox, clients: Clients, infra: Infra,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ecsfleet.fleet import handler

    spread_service(sb, clients, infra, desired=4)
    infra_file = tmp_path / "infra.yml"
    infra_file.write_text(INFRA_YML)
    monkeypatch.setenv("ECSFLEET_INFRA", str(infra_file))
    first = handler({}, None)
    assert first["ok"] and not any(n.startswith("scaling memory") for n in first["notes"])
    sb.reset_calls()
    second = handler({}, None)  # a new controller, as every invocation makes
    assert second["ok"], second
    assert any(n.startswith(f"scaling memory: continued from {NAME}: 1 load sample(s)") for n in second["notes"])
    assert sb.count("ssm", "ListTagsForResource") == 1 and sb.count("ssm", "PutParameter") == 0
