"""What ships: the wheel built from `operator/` (and so the image) holds the runtime package
`remediator` alone: no emulator, demo, benchmark or test harness (those live in
`emulator/` and `devtools/`, installed beside it for development only)."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = ("sandbox", "emulator", "bench", "demo", "testing", "devtools")


def shipped_modules() -> list[str]:
    """The modules setuptools puts in the wheel (pyproject: packages.find where=operator)."""
    modules = []
    for package in find_packages(where=str(ROOT / "operator")):
        folder = ROOT / "operator" / package.replace(".", "/")
        modules += [f"{package}.{f.stem}" for f in sorted(folder.glob("*.py"))]
    return modules


def test_the_wheel_carries_the_runtime_package_only() -> None:
    modules = shipped_modules()
    assert "remediator.reconcile.loop" in modules
    assert {m.split(".")[0] for m in modules} == {"remediator"}
    assert [m for m in modules if any(word in m for word in NOT_SHIPPED)] == []
