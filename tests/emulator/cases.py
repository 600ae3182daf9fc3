"""Case tables kept as data: `cases/<module>.yaml` holds, per table, a list of cases, each
with an `id` and its fields (kube-apiserver's answers, as the real server gives them).

A case whose expectation is a small change to a base document says so with `drop` (dotted
paths, a list's items by index), `insert` (a list's path and index: the new item) and `set`
(dotted path: new value), applied by `edited` in that order."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES_DIR = Path(__file__).parent / "cases"


@cache
def _tables(module: str) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = yaml.safe_load(
        (CASES_DIR / f"{module}.yaml").read_text()
    )
    return tables


def cases(module: str, table: str, *fields: str, base: Any = None) -> list[Any]:
    """The cases of `table` in `cases/<module>.yaml` as pytest params of `fields`; with a
    `base`, the field `expected` is `edited(base, case)`."""

    def value(case: dict[str, Any], name: str) -> Any:
        if name == "expected" and base is not None:
            return edited(base, case)
        return case.get(name)

    return [
        pytest.param(*(value(case, name) for name in fields), id=case["id"])
        for case in _tables(module)[table]
    ]


def edited(base: Any, case: dict[str, Any]) -> Any:
    """`base` as a case expects it: its `expected` as given, or `base` with the case's `drop`
    paths removed, its `insert` items inserted and its `set` paths given their values."""
    if "expected" in case:
        return case["expected"]
    result = copy.deepcopy(base)
    for path in case.get("drop") or ():
        *parents, last = _steps(path)
        del _walk(result, parents)[last]
    for path, value in (case.get("insert") or {}).items():
        *parents, last = _steps(path)
        _walk(result, parents).insert(last, value)
    for path, value in (case.get("set") or {}).items():
        *parents, last = _steps(path)
        _walk(result, parents)[last] = value
    return result


def _steps(path: str) -> list[Any]:
    return [int(step) if step.isdigit() else step for step in path.split(".")]


def _walk(doc: Any, steps: list[Any]) -> Any:
    for step in steps:
        doc = doc[step]
    return doc
