"""A real Docker engine for tests (started by scripts/dockerd.sh in CI): fixtures and helpers.

Tests that need it skip when no engine answers, except under CI, where they fail instead."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IMAGE = "ecsfleet-test/busybox:latest"
BUSYBOX = Path("/usr/bin/busybox") if Path("/usr/bin/busybox").exists() else Path("/bin/busybox")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"Docker tests must run in CI: {reason} (does .ci/run start scripts/dockerd.sh?)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    base_url = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.DockerClient(base_url=base_url, timeout=30)
        client.ping()
    except Exception as error:
        _unavailable(f"no Docker engine at {base_url}: {error}")
    yield client
    client.close()


def _rootfs() -> bytes:
    """A root file system with a static busybox: no registry is reachable, so import one."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in ("sh", "httpd", "sleep", "true"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def ensure_image(client: Any) -> str:
    """The busybox test image, imported into the engine when it is not there yet."""
    try:
        client.images.get(IMAGE)
    except Exception:
        repository, tag = IMAGE.split(":")
        client.api.import_image_from_data(_rootfs(), repository=repository, tag=tag)
    return IMAGE


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> str:
    if not BUSYBOX.exists():
        _unavailable("busybox-static is not installed (apt-get install busybox-static)")
    return ensure_image(docker_client)


def run_httpd(client: Any, image: str, env: dict[str, str], ports: dict[str, int | None],
              name: str | None = None, init: bool = True) -> Any:
    """A long-running container publishing `ports` ({"8080/tcp": None} for a dynamic host port).
    `init=True`: busybox as PID 1 ignores SIGTERM, and a stop would wait its whole timeout
    (`init=False` gives that: a container that keeps serving after SIGTERM, as a draining app)."""
    return client.containers.run(
        image, ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"], detach=True, init=init,
        environment=env, ports=ports, name=name, labels={"ecsfleet-test": "1"},
    )


@pytest.fixture
def containers(docker_client: Any) -> Iterator[list[Any]]:
    """Containers a test starts; removed afterwards whatever happens."""
    started: list[Any] = []
    yield started
    for container in started:
        with contextlib.suppress(Exception):
            container.remove(force=True)
