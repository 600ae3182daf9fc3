"""Pydantic validation errors as Kubernetes-style messages that name the field.

`spec.steps[0].to: Input should be greater than or equal to 0` tells a policy author what to
fix; pydantic's own rendering does not. Purely computational.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


def field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "tagged-union")):
            continue
        else:
            path += f".{part}" if path else part
    return path


def field_errors(error: ValidationError) -> list[tuple[str, str]]:
    """(field, message) for each problem, fields in the API's camelCase spelling."""
    found = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        found.append((field_path(item["loc"]), message))
    return found


def describe_errors(error: ValidationError) -> str:
    return "; ".join(
        f"{path}: {message}" if path else message for path, message in field_errors(error)
    )
