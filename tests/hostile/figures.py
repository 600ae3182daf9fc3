"""Figures of the hostile-input tests, for the `make chaos` line.

Each test adds its counts with `add("bridge_fuzz", cases=..., server_errors=...)`; they are
merged into one JSON file (`REMEDIATOR_FIGURES`, default `build/figures/hostile.json`), which
`make chaos` reads to print ``Z fuzz cases, 0 server errors, scope and approval attacks tried:
N, succeeded: 0``. A section may count attack sequences as `scope_attacks` and those that
got the operator to do what it should not as `scope_attacks_succeeded` (tests/hostile/
test_scope_fuzz.py). Counts accumulate over one pytest session: the file is reset the first
time a session writes to it.
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
    """Fuzz cases and server errors over every section (`Z` and the `0` of the chaos line),
    and the scope and approval attacks tried and succeeded."""
    data = read() if data is None else data

    def total(key: str) -> int:
        return sum(int(s.get(key, 0)) for s in data.values())

    return {
        "fuzz_cases": total("cases"),
        "server_errors": total("server_errors"),
        "scope_attacks": total("scope_attacks"),
        "scope_attacks_succeeded": total("scope_attacks_succeeded"),
    }


def line(t: dict[str, int]) -> str:
    """The hostile-input fragment of the chaos line."""
    return (
        f"{t['fuzz_cases']} fuzz cases, {t['server_errors']} server errors, scope and approval"
        f" attacks tried: {t['scope_attacks']}, succeeded: {t['scope_attacks_succeeded']}"
    )


if __name__ == "__main__":  # `python -m tests.hostile.figures`: the fragment of the line
    print(line(totals()))
