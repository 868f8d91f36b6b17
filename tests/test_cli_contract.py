"""The command line's contract: every command answers --help (exit 0), no arguments and an
unknown option (exit 2) without a traceback; every numeric option refuses what makes no sense at
parse time; the error table of docs/troubleshooting.md is true; a silent endpoint fails within two read timeouts."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command

import ecsfleet.aws
from ecsfleet.cli import app, main
from ecsfleet.sandbox import Sandbox

TROUBLESHOOTING = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that name it."""
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(get_command(app), ())
    return found


COMMANDS = command_paths()


def one_error_line(err: str) -> str:
    """The one `error:` line of stderr (click's messages may wrap below it)."""
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "lb-sync", "dns-sync", "status", "iam-policy", "fleet reconcile", "sandbox up",
            "agents update", "bootstrap render"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "ecsfleet")
def test_help_no_arguments_and_an_unknown_option(path: tuple[str, ...], capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # no AWS anywhere: a command that needs no arguments must fail on the missing region, not hang
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "SERVICES_URL",
                "CONFIGURATION_URL", "VALUES_FILE", "ECSFLEET_CLUSTER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.chdir("/")  # no ./infra.yml

    code, out, err = run([*path, "--help"], capsys)
    assert code == 0 and "Usage" in out and "Traceback" not in out + err

    code, out, err = run([*path, "--no-such-option"], capsys)
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith("error: No such option: --no-such-option")

    if path in (("sandbox", "up"), ("sandbox", "ready")):
        return  # with no arguments these serve / wait: their behaviour, not an error
    code, out, err = run(list(path), capsys)
    assert "Traceback" not in out + err
    assert code in (0, 1, 2)
    if code != 0:
        assert one_error_line(err), err


NUMERIC = [
    (["fleet", "reconcile", "--interval"], ("0", "-1", "inf", "nan", "1e9")),
    (["lb-sync", "--interval"], ("0", "0.5", "inf", "nan", "-inf")),
    (["dns-sync", "--interval"], ("0", "inf", "nan")),
    (["lb-sync", "--metrics-port"], ("-1", "0", "65536", "nan")),
    (["fleet", "rollout", "--smoke-timeout"], ("-1", "nan", "inf")),
    (["fleet", "rollout", "--drain-timeout"], ("-5", "nan")),
    (["fleet", "reconcile", "--max-draining"], ("-3", "0", "1e3")),
    (["status", "-c", "x", "--min-drain"], ("-5", "nan", "inf")),
    (["agents", "update", "--max-in-flight"], ("0", "-1", "100000")),
    (["sandbox", "up", "--port"], ("70000", "-1")),
    (["sandbox", "up", "--speed"], ("-1", "0", "nan", "inf")),
    (["sandbox", "advance"], ("nan", "1e12", "-1", "inf")),
]


@pytest.mark.parametrize(("words", "values"), NUMERIC, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_numeric_options_refuse_nonsense_at_parse_time(words: list[str], values: tuple[str, ...],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for value in values:
        code, out, err = run([*words, value], capsys)
        assert code == 2, (words, value, out, err)
        assert "Traceback" not in out + err
        one_error_line(err)  # "Invalid value for ...", or "No such option: -1" for a negative argument


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--interval", "--metrics-port"]),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.integers(-10**12, 10**12).map(str), st.text(max_size=12)))
def test_any_value_of_a_daemon_option_parses_or_is_a_usage_error(option: str, value: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """lb-sync with --once and --interval together is a user error after parsing: a value that
    parses reaches it (exit 2, its own message); one that does not is a usage error (exit 2)."""
    code, out, err = run(["--region", "us-east-1", "lb-sync", "--services", "/nonexistent", "--once",
                          "--cluster", "c", "--instance-id", "i-1", option, value], capsys)
    assert "Traceback" not in out + err
    assert code == 2
    one_error_line(err)


def documented_error_table() -> dict[str, tuple[str, int]]:
    text = TROUBLESHOOTING.read_text()
    start = text.index("## Errors every command shares")
    section = text[start:text.index("\n## ", start + 1)]
    rows = {}
    for line in section.splitlines():
        match = re.fullmatch(r"\| (.+?) \| `(error: .+?)` \| (\d) \|", line.strip())
        if match:
            rows[match.group(1)] = (match.group(2).removesuffix(" ..."), int(match.group(3)))
    return rows


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def situations(sb: Sandbox, silent: str) -> dict[str, tuple[list[str], dict[str, str | None]]]:
    """How to cause each row of the troubleshooting page's table, for every command that talks to AWS."""
    sandbox = {"AWS_ENDPOINT_URL": sb.endpoint_url, "AWS_REGION": sb.region}
    return {
        "cluster does not exist": (["status", "-c", "nosuch"], sandbox),
        "endpoint unreachable": (["status", "-c", "x"], {**sandbox, "AWS_ENDPOINT_URL": closed_port()}),
        "endpoint silent": (["status", "-c", "x"], {**sandbox, "AWS_ENDPOINT_URL": silent}),
        "no credentials": (["status", "-c", "x"], {**sandbox, "AWS_ACCESS_KEY_ID": None,
                                                    "AWS_SECRET_ACCESS_KEY": None}),
        "no region": (["status", "-c", "x"], {**sandbox, "AWS_REGION": None, "AWS_DEFAULT_REGION": None}),
        "bad endpoint or region": (["status", "-c", "x"], {**sandbox, "AWS_ENDPOINT_URL": "notaurl"}),
        "a file that cannot be read": (["lb-sync", "--services", "/", "--cluster", "x", "--once",
                                        "--instance-id", "i-1"], sandbox),
        "other AWS error": (["status", "-c", "x"], sandbox),  # with ECS failing: see below
    }


CLUSTER_COMMANDS = [
    ["status", "-c", "nosuch"],
    ["lb-sync", "--cluster", "nosuch", "--services", "SERVICES", "--all-instances", "--once"],
    ["lb-sync", "--cluster", "nosuch", "--services", "SERVICES", "--all-instances", "--interval", "1"],
    ["dns-sync", "--cluster", "nosuch", "--once"],
    ["dns-sync", "--cluster", "nosuch", "--interval", "1"],
    ["agents", "status", "-c", "nosuch"],
    ["agents", "update", "-c", "nosuch"],
]


def test_the_documented_error_table_is_true(sb: Sandbox, silent_endpoint: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    table = documented_error_table()
    causes = situations(sb, silent_endpoint)
    assert set(table) == set(causes), "every row of the documented table is walked, and only those"
    monkeypatch.setattr(ecsfleet.aws, "READ_TIMEOUT", 2.0)  # the sandbox's first calls take a moment
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setattr(ecsfleet.aws, "DEFAULT_MAX_ATTEMPTS", 2)
    for situation, (argv, env) in causes.items():
        if situation == "other AWS error":
            for operation in ("DescribeClusters", "ListContainerInstances", "ListTasks"):
                sb.fail("ecs", operation, times=10)
        with monkeypatch.context() as m:
            for key, value in env.items():
                if value is None:
                    m.delenv(key, raising=False)
                else:
                    m.setenv(key, value)
            code, out, err = run(argv, capsys)
        message, expected = table[situation]
        prefix = re.split(r"NAME|URL|REGION|PATH|CODE|FILE", message)[0]
        assert "Traceback" not in out + err, situation
        assert err.count("error: ") == 1, (situation, code, out, err)
        assert one_error_line(err).startswith(prefix), (situation, err)
        assert code == expected, (situation, code, err)


def test_a_missing_cluster_is_the_same_error_for_every_command_once_or_daemon(
        sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = tmp_path / "services.json"
    services.write_text("[]")
    for argv in CLUSTER_COMMANDS:
        code, out, err = run([a.replace("SERVICES", str(services)) for a in argv], capsys)
        assert code == 2, (argv, out, err)
        assert err.strip().splitlines()[-1] == f"error: cluster 'nosuch' not found in {sb.region}", (argv, err)
        assert "Traceback" not in out + err


def test_a_silent_endpoint_fails_after_two_read_timeouts_with_the_unreachable_hint(
        silent_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ecsfleet.aws, "READ_TIMEOUT", 0.3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    sent: list[str] = []
    real = ecsfleet.aws.Clients.__call__

    def counting(self: ecsfleet.aws.Clients, service: str) -> object:
        client = real(self, service)
        client.meta.events.register("before-send", lambda **kw: sent.append(service))
        return client

    monkeypatch.setattr(ecsfleet.aws.Clients, "__call__", counting)
    code, _, err = run(["--region", "us-east-1", "--endpoint-url", silent_endpoint, "status", "-c", "x"], capsys)
    assert code == 2
    assert f"error: no answer from {silent_endpoint}" in err
    assert "ecsfleet sandbox up" in err
    assert len(sent) == ecsfleet.aws.TIMEOUT_ATTEMPTS  # not the 5 attempts of the retry budget


def test_the_pass_deadline_stops_new_calls(sb: Sandbox) -> None:
    from ecsfleet.aws import AwsTarget, Clients, DeadlineReached, deadline

    clients = Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
    before = sb.count("ecs", "ListClusters")
    with deadline(0.0, "test deadline"), pytest.raises(DeadlineReached, match="test deadline"):
        clients("ecs").list_clusters()
    assert sb.count("ecs", "ListClusters") == before  # never sent
    clients("ecs").list_clusters()  # the deadline ends with its block
    assert sb.count("ecs", "ListClusters") == before + 1


def test_a_lambda_pass_starts_no_change_once_its_time_is_short(sb: Sandbox) -> None:
    from ecsfleet.runner import PassReport, lambda_pass

    calls: list[str] = []

    class Reconciler:
        capability = "test"

        def reconcile(self, dry_run: bool) -> PassReport:
            from ecsfleet.aws import AwsTarget, Clients

            Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))("ecs").list_clusters()
            calls.append("listed")
            return PassReport("test", dry_run)

    class Context:
        def __init__(self, ms: int) -> None:
            self.ms = ms

        def get_remaining_time_in_millis(self) -> int:
            return self.ms

    assert lambda_pass(Reconciler(), Context(60_000)).ok and calls == ["listed"]
    report = lambda_pass(Reconciler(), Context(2_000))  # under the margin: nothing starts
    assert not report.ok and calls == ["listed"]
    assert "no further AWS call started" in report.errors[0]


def test_a_port_in_use_for_metrics_is_one_error_line(sb: Sandbox, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    services = tmp_path / "services.json"
    services.write_text("[]")
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out, err = run(["lb-sync", "--cluster", "x", "--services", str(services), "--all-instances",
                              "--interval", "5", "--metrics-port", str(port)], capsys)
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith(f"error: --metrics-port {port}: cannot serve metrics there")


def test_bad_iam_policy_scopes_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, expected in ((["--cluster", "*"], "error: --cluster '*'"),
                           (["--cluster", "prod*"], "error: --cluster 'prod*'"),
                           (["--partition", "mars"], "error: Invalid value for '--partition'"),
                           (["--account", "12"], "error: --account '12'")):
        code, _, err = run(["iam-policy", "lb-sync", *argv], capsys)
        assert code == 2 and err.strip().splitlines()[-1].startswith(expected), (argv, err)


def test_a_file_where_a_folder_is_needed_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(["bootstrap", "render", "--out", str(blocker / "template.json")], capsys)
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith("error: ")
