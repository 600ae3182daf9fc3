"""The operator's Kopf handlers as the default registry, for tests that run it in-process
beside tests that run `kopf run` (which replaces Kopf's process-wide default registry with
its own, as KopfRunner in tests/emulator/test_kopf.py does).

A test module imports `remediator_registry` (an autouse fixture) to have it."""

from __future__ import annotations

from collections.abc import Iterator

import kopf
import pytest

import remediator.main  # registers the operator's handlers (into Kopf's default registry)

# captured at the first import, before any test runs; OperatorThread runs the default one
HANDLERS = kopf.get_default_registry()
assert remediator.main.handlers


@pytest.fixture(autouse=True)
def remediator_registry() -> Iterator[None]:
    previous = kopf.get_default_registry()
    kopf.set_default_registry(HANDLERS)
    yield
    kopf.set_default_registry(previous)
