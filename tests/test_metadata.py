"""Instance metadata: IMDSv2, and IMDSv1 where the token call is refused (logged once), against an
HTTP double of the metadata service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecsfleet import metadata
from ecsfleet.errors import UserError

VALUES = {"instance-id": "i-0abc", "local-ipv4": "10.0.0.7"}


class Imds(ThreadingHTTPServer):
    token_status = 200  # 403/404/405: the token call refused (IMDSv1 only)
    requests: list[tuple[str, str, bool]]


class Handler(BaseHTTPRequestHandler):
    server: Imds

    def _answer(self, status: int, body: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_PUT(self) -> None:
        self.server.requests.append(("PUT", self.path, False))
        self._answer(self.server.token_status, "TOKEN" if self.server.token_status == 200 else "")

    def do_GET(self) -> None:
        tokened = self.headers.get("x-aws-ec2-metadata-token") == "TOKEN"
        self.server.requests.append(("GET", self.path, tokened))
        if self.server.token_status == 200 and not tokened:
            return self._answer(401)
        value = VALUES.get(self.path.removeprefix("/latest/meta-data/"))
        self._answer(200, value) if value else self._answer(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def imds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Imds]:
    server = Imds(("127.0.0.1", 0), Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("AWS_EC2_METADATA_V1_DISABLED", raising=False)
    monkeypatch.setattr(metadata, "_fell_back", threading.Event())
    yield server
    server.shutdown()


def test_imdsv2_with_a_token(imds: Imds, caplog: pytest.LogCaptureFixture) -> None:
    assert metadata.instance_id() == "i-0abc"
    assert imds.requests == [("PUT", "/latest/api/token", False), ("GET", "/latest/meta-data/instance-id", True)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("refusal", [403, 404, 405])
def test_imdsv1_when_the_token_call_is_refused_logged_once(imds: Imds, refusal: int,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    imds.token_status = refusal
    assert metadata.fetch("instance-id") == "i-0abc"
    assert metadata.fetch("local-ipv4") == "10.0.0.7"
    assert [r for r in imds.requests if r[0] == "GET"] == [("GET", "/latest/meta-data/instance-id", False),
                                                           ("GET", "/latest/meta-data/local-ipv4", False)]
    assert len([r for r in caplog.records if "IMDSv1" in r.getMessage()]) == 1


def test_imdsv1_disabled_is_a_clear_error(imds: Imds, monkeypatch: pytest.MonkeyPatch) -> None:
    imds.token_status = 403
    monkeypatch.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")
    with pytest.raises(UserError, match="pass the value explicitly"):
        metadata.fetch("instance-id")


def test_a_value_the_host_has_not(imds: Imds) -> None:
    assert metadata.fetch("public-ipv4", optional=True) is None
    with pytest.raises(UserError, match="has no public-ipv4"):
        metadata.fetch("public-ipv4")


def test_no_metadata_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(UserError, match=r"cannot read instance-id .* not on EC2"):
        metadata.instance_id()
