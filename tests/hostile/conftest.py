"""The flow tests' harness (a sandbox with the CRDs, the real operator in a thread), shared."""

from __future__ import annotations

from flows.conftest import cluster, operator, start_operator  # noqa: F401  (fixtures)
