# ecsfleet's controllers as a container: per-host agents (lb-sync in statika's mode, dns-sync with
# the Docker source) and cluster-wide controllers alike. See "Running the controllers" in README.md.
#
#   docker build -t ecsfleet .
#   docker run --rm ecsfleet --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package build reads (.dockerignore keeps the rest of the checkout out of the
# context); the sources are removed once installed.
COPY pyproject.toml README.md /tmp/ecsfleet/
COPY src /tmp/ecsfleet/src
# The docker extra: dns-sync --source docker reads the host's engine through its socket.
RUN pip install "/tmp/ecsfleet[docker]" && rm -rf /tmp/ecsfleet

# An unprivileged user: the controllers need AWS credentials, not root. dns-sync --source docker
# reads the Docker socket through the socket's group (`docker run --group-add <gid>`).
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ecsfleet
USER 10001:10001
WORKDIR /tmp

ENTRYPOINT ["ecsfleet"]
CMD ["--help"]
