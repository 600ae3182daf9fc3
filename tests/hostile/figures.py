"""Figures of the hostile-input tests, for the `make chaos` line.

Each test adds its counts with `add("bridge_fuzz", cases=..., server_errors=...)`; they are
merged into one JSON file (`REMEDIATOR_FIGURES`, default `build/figures/hostile.json`), which
`make chaos` reads to print ``Z fuzz cases, 0 server errors``. Counts accumulate over one
pytest session: the file is reset the first time a session writes to it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PATH = Path(os.environ.get("REMEDIATOR_FIGURES", ROOT / "build" / "figures" / "hostile.json"))
_lock = threading.Lock()
_reset = False


def read(path: Path = PATH) -> dict[str, dict[str, Any]]:
    try:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def add(section: str, **counts: int) -> None:
    """Add `counts` to `section` (numbers are summed over the session)."""
    global _reset
    with _lock:
        data = {} if not _reset else read()
        _reset = True
        entry = data.setdefault(section, {})
        for key, value in counts.items():
            entry[key] = int(entry.get(key, 0)) + int(value)
        PATH.parent.mkdir(parents=True, exist_ok=True)
        tmp = PATH.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(PATH)


def totals(data: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
    """Fuzz cases and server errors over every section: `Z` and the `0` of the chaos line."""
    data = read() if data is None else data
    return {
        "fuzz_cases": sum(int(s.get("cases", 0)) for s in data.values()),
        "server_errors": sum(int(s.get("server_errors", 0)) for s in data.values()),
    }


if __name__ == "__main__":  # `python -m tests.hostile.figures`: the fragment of the line
    t = totals()
    print(f"{t['fuzz_cases']} fuzz cases, {t['server_errors']} server errors")
