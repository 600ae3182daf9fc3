"""Pod states the kubelet would report, for the demo and the tests to put on fake pods (the
emulator's and kwok's pods run nothing, so nothing else would)."""

from __future__ import annotations

import time
from typing import Any


def oom_killed(container: str, image: str, restarts: int = 3) -> dict[str, Any]:
    """A container's status after `restarts` restarts, the last one killed for its memory:
    the `status` body to patch onto the pod (its `containerStatuses` replaced)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    terminated = {"reason": "OOMKilled", "exitCode": 137, "startedAt": now, "finishedAt": now}
    status = {
        "name": container,
        "image": image,
        "imageID": "",
        "ready": True,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": now}},
        "lastState": {"terminated": terminated},
    }
    return {"status": {"containerStatuses": [status]}}
