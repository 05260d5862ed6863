"""A loopback receiver for the webhook action: records every POST and answers 200 (or a failure)."""

from __future__ import annotations

import json
from typing import Any

from demo.standins import LoopbackServer, Response


class WebhookReceiver(LoopbackServer):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.received: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        try:
            parsed = json.loads(body)
        except ValueError:
            return 400, {}, {"error": "not JSON"}
        with self.changed:
            self.received.append({"method": method, "path": path, "headers": headers, "body": parsed})
            self.changed.notify_all()
        return 200, {}, {"ok": True}
