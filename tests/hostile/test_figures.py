"""The hostile-input figures as `make chaos` prints them (tests/hostile/figures.py)."""

from __future__ import annotations

from . import figures


def test_the_line_sums_every_section_and_tells_the_scope_attacks() -> None:
    data = {
        "bridge_fuzz": {"cases": 10, "server_errors": 0, "status_200": 7},
        "resource_fuzz": {"cases": 5, "server_errors": 1},
        "scope_fuzz": {"cases": 3, "scope_attacks": 3, "scope_attacks_succeeded": 0},
    }
    totals = figures.totals(data)
    assert totals == {
        "fuzz_cases": 18,
        "server_errors": 1,
        "scope_attacks": 3,
        "scope_attacks_succeeded": 0,
    }
    assert figures.line(totals) == (
        "18 fuzz cases, 1 server errors, scope and approval attacks tried: 3, succeeded: 0"
    )


def test_no_figures_read_as_zeros() -> None:
    assert figures.line(figures.totals({})) == (
        "0 fuzz cases, 0 server errors, scope and approval attacks tried: 0, succeeded: 0"
    )
