"""Slack-compatible webhook notices: `{"text": ...}` POSTed as JSON.

A failing webhook is logged and never stops the caller. The URL is a secret (it carries its
own credentials), so it never appears in logs or errors."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Notifier:
    url: str | None
    prefix: str = "ecsfleet"
    timeout: float = 5.0
    sent: list[str] = field(default_factory=list)

    def send(self, text: str) -> bool:
        """POST one notice; True when the webhook took it."""
        if not self.url:
            return False
        body = json.dumps({"text": f"{self.prefix}: {text}"}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            log.warning("webhook notice not delivered: HTTP %s", error.code)
            return False
        except (urllib.error.URLError, OSError) as error:
            # The reason of a URLError can quote the URL: only its kind is logged.
            reason = getattr(error, "reason", error)
            log.warning("webhook notice not delivered: %s", type(reason).__name__)
            return False
        self.sent.append(text)
        return True
