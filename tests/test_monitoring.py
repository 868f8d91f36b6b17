"""deploy/monitoring/: the Grafana dashboard and the Prometheus rules query only metrics and labels
the daemons serve (read by scraping a fleet daemon's /metrics against the sandbox, end to end),
the rules have the shape Prometheus and Alertmanager need, and docs/operations.md names every
metric served."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ecsfleet.aws import Clients
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.plan import Options
from ecsfleet.fleet.schema import Infra, load_infra
from ecsfleet.runner import Metrics, safe_pass
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.emulator import free_port
from fleet_worlds import NOW, World, drained_by_ecsfleet, service
from fleet_worlds import infra as plan_infra
from test_fleet_lifecycle import INFRA, deploy_active, web_service

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana-dashboard.json"
RULES = ROOT / "deploy" / "monitoring" / "prometheus-rules.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

# Words of PromQL that are not metric names (aggregations and functions are told apart by the
# "(" after them; these may stand without one).
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan"}
PROMETHEUS_LABELS = {"instance", "job"}  # added by the scrape, not by ecsfleet
LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def _strip(expr: str) -> str:
    """The expression without string literals, range/subquery durations and Grafana variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)
    return re.sub(r"\$\{?\w+\}?", "", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside label matchers and label
    lists that are not followed by "(" (a function or aggregation) and are not keywords."""
    text = LABEL_LISTS.sub(" ", _strip(expr))  # "sum by (x) (...)": the aggregation meets its "("
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?[smhdwy]?\b", " ", text)  # numbers, durations
    names = set()
    for match in IDENTIFIER.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def label_names(expr: str) -> set[str]:
    """The labels an expression names: in matchers ({name="..."}) and in by/without/on lists."""
    text = _strip(expr)
    labels = {name.strip() for _, names in LABEL_LISTS.findall(text) for name in names.split(",") if name.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return labels


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())

    def walk(panels: list[dict[str, Any]]) -> list[str]:
        found = []
        for panel in panels:
            found += [t["expr"] for t in panel.get("targets", [])]
            found += walk(panel.get("panels", []))
        return found

    return walk(dashboard["panels"])


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.fixture
def served(sb: Sandbox, clients: Clients) -> dict[str, set[str]]:
    """Sample names -> label names a fleet daemon serves on its metrics port, after one pass
    against the sandbox that applies changes: the common reconcile metrics and fleet's own."""
    infra: Infra = load_infra(INFRA)[1]
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=1, memory=256, cpu=128)  # room for far more: a scale-in drain
    port = free_port()
    metrics = Metrics("fleet", port)
    report = safe_pass(FleetController(clients, infra, Options()), dry_run=False)
    assert report.ok and [o.kind for o in report.outcomes] == ["drain"], report.summary()
    metrics.observe(report)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        # A labelled counter with no sample yet (ecsfleet_errors_total after a good pass) is still
        # served with its HELP and TYPE: its queryable names come from its type.
        suffixes = ("_total", "_created") if family.type == "counter" else ("",)
        for suffix in suffixes:
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    assert 'ecsfleet_actions_total{capability="fleet",kind="drain",outcome="ok"} 1.0' in text
    return names


def test_the_tokenizer_finds_metrics_not_functions_labels_or_keywords() -> None:
    expr = ('sum by (capability, kind) (increase(ecsfleet_actions_total{outcome="ok", kind=~"a|b"}[15m])) '
            '>= on (capability) group_left sum by (capability) (rate(ecsfleet_reconciles_total[$__rate_interval]))'
            ' and ecsfleet_unplaced_tasks > 0 unless up offset 5m')
    assert metric_names(expr) == {"ecsfleet_actions_total", "ecsfleet_reconciles_total", "ecsfleet_unplaced_tasks",
                                  "up"}
    assert label_names(expr) == {"capability", "kind", "outcome"}
    assert metric_names("max_over_time(ecsfleet_drain_timeouts[30m]) > 0") == {"ecsfleet_drain_timeouts"}
    assert metric_names("3 * (600 / clamp_min(x_total, 1e0))") == {"x_total"}


def test_every_metric_the_dashboard_queries_is_served(served: dict[str, set[str]]) -> None:
    exprs = dashboard_exprs()
    used = {name for expr in exprs for name in metric_names(expr)}
    assert len(exprs) >= 10 and "ecsfleet_drain_timeouts" in used and "ecsfleet_unplaced_tasks" in used
    assert used - served.keys() == set()
    template_queries = [v["definition"] for v in json.loads(DASHBOARD.read_text())["templating"]["list"]
                        if v["type"] == "query"]
    assert {m for q in template_queries for m in re.findall(r"label_values\((\w+)", q)} <= served.keys()


def test_every_metric_the_rules_query_is_served(served: dict[str, set[str]]) -> None:
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert {"ecsfleet_reconciles_total", "ecsfleet_actions_total", "ecsfleet_seconds_since_last_success",
            "ecsfleet_drain_timeouts", "ecsfleet_unplaced_tasks"} <= used
    assert used - served.keys() == set()


def test_every_label_queried_is_served(served: dict[str, set[str]]) -> None:
    known = set().union(*served.values()) | PROMETHEUS_LABELS
    exprs = dashboard_exprs() + [rule["expr"] for rule in rules()]
    assert {label for expr in exprs for label in label_names(expr)} - known == set()


def test_the_dashboard_is_a_grafana_dashboard_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert any(r.get("repeat") == "capability" for r in rows)  # one row per controller
    ids = []

    def check(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            ids.append(panel["id"])
            assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
                assert all(t["refId"] and t["expr"].strip() for t in panel["targets"])
            check(panel.get("panels", []))

    check(dashboard["panels"])
    assert len(ids) == len(set(ids))


def test_the_rules_have_the_shape_prometheus_needs() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"} and all(set(g) >= {"name", "rules"} for g in doc["groups"])
    alerts = rules()
    names = [r["alert"] for r in alerts]
    assert len(names) == len(set(names)) and {"EcsfleetControllerFailing", "EcsfleetDriftPersists",
                                              "EcsfleetDrainTimedOut", "EcsfleetUnplacedTasks"} <= set(names)
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
        assert rule["expr"].strip() and rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
    promtool = shutil.which("promtool")
    if promtool:  # optional: not installed by the project
        result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_operations_page_names_every_metric_served_and_every_alert(served: dict[str, set[str]]) -> None:
    page = OPERATIONS.read_text()
    families = {name for name in served if not name.endswith("_created")}
    assert {name for name in families if f"`{name}" not in page} == set()
    assert {r["alert"] for r in rules() if r["alert"] not in page} == set()


def test_a_drain_timeout_is_counted_in_the_pass_that_gives_up() -> None:
    def world(drained_at: float) -> World:
        w = World(plan_infra())
        w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
        w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(drained_at)).run("i-s1")
        return w

    given_up = world(NOW - 601).plan(Options(drain_timeout=600), services=[service(desired=1, running=1)])
    waiting = world(NOW - 599).plan(Options(drain_timeout=600), services=[service(desired=1, running=1)])
    assert given_up.gauges["drain_timeouts"] == 1 and waiting.gauges["drain_timeouts"] == 0
