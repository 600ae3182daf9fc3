"""Server-side ``meta.k8s.io/v1`` Table output, as kube-apiserver renders it.

``kubectl get`` does not format rows itself: it asks the server for
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells
it gets back.  For the sandbox to look like a real cluster in ``kubectl``
output, it must produce the same columns and cells as kube-apiserver's
built-in printers and apiextensions-apiserver's CRD table convertor
(``additionalPrinterColumns`` evaluated with the k8s JSONPath subset).

It is purely computational: no I/O, no clock reads (callers pass ``now``),
standard library only; inputs are never mutated.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "build_table",
    "builtin_columns_and_cells",
    "crd_columns",
    "crd_row_cells",
    "evaluate_jsonpath",
    "human_duration",
]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_TIMESTAMP_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_DEFAULT_CRD_COLUMNS: tuple[Mapping[str, Any], ...] = (
    {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": CREATION_TIMESTAMP_DESCRIPTION,
    },
)

# --------------------------------------------------------------------------- JSONPath


class JSONPathError(ValueError):
    """The expression is outside the supported k8s JSONPath subset."""


_Step = tuple[str, Any]
_FILTER = re.compile(
    r"^\s*(?P<left>@[^=!<>\s]*)\s*(?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<right>.+?))?\s*$"
)


def _parse(path: str) -> list[_Step]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith(("$", "@")):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            steps.append(("recurse", None))
            i += 1
            continue
        if ch == ".":
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append(("wildcard", None))
                i += 1
                continue
            name = []
            while i < len(text) and text[i] not in ".[":
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                name.append(text[i])
                i += 1
            if name:
                steps.append(("field", "".join(name)))
            continue
        if ch == "[":
            end = _closing_bracket(text, i)
            steps.append(_bracket(text[i + 1 : end].strip()))
            i = end + 1
            continue
        if ch.isspace():
            i += 1
            continue
        # a bare leading name, e.g. "spec.x"
        name = []
        while i < len(text) and text[i] not in ".[":
            name.append(text[i])
            i += 1
        steps.append(("field", "".join(name)))
    return steps


def _closing_bracket(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"unterminated array in {text!r}")


def _bracket(inner: str) -> _Step:
    if inner == "*":
        return ("wildcard", None)
    if inner.startswith("?"):
        expr = inner[1:].strip()
        if expr.startswith("(") and expr.endswith(")"):
            expr = expr[1:-1]
        match = _FILTER.match(expr)
        if not match:
            raise JSONPathError(f"unsupported filter {inner!r}")
        left = _parse(match["left"])
        right = match["right"]
        rhs: Any = _parse(right) if right is not None and right.startswith("@") else None
        literal = None if right is None or rhs is not None else _literal(right)
        return ("filter", (left, match["op"], rhs, literal))
    if inner[:1] in "'\"":
        names = [part.strip()[1:-1] for part in _split_union(inner)]
        return ("fields", names)
    if ":" in inner:
        parts = [p.strip() for p in inner.split(":")]
        bounds = [int(p) if p else None for p in parts[:3]]
        while len(bounds) < 3:
            bounds.append(None)
        return ("slice", tuple(bounds))
    try:
        return ("indexes", [int(p) for p in inner.split(",")])
    except ValueError as exc:
        raise JSONPathError(f"unsupported subscript [{inner}]") from exc


def _split_union(inner: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in inner:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise JSONPathError(f"unsupported literal {text!r}") from exc


def _compare(left: Any, op: str | None, right: Any) -> bool:
    if op is None:
        return True
    if op in ("==", "!="):
        equal = _same(left, right)
        return equal if op == "==" else not equal
    numbers = (int, float)
    comparable = (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _descendants(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, Mapping):
        for key in sorted(value):
            found.extend(_descendants(value[key]))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(_descendants(item))
    return found


def _apply(values: list[Any], step: _Step) -> list[Any]:
    kind, arg = step
    out: list[Any] = []
    for value in values:
        if kind == "field":
            if isinstance(value, Mapping) and arg in value:
                out.append(value[arg])
        elif kind == "fields":
            if isinstance(value, Mapping):
                out.extend(value[name] for name in arg if name in value)
        elif kind == "wildcard":
            if isinstance(value, Mapping):
                out.extend(value[key] for key in sorted(value))
            elif isinstance(value, list | tuple):
                out.extend(value)
        elif kind == "recurse":
            out.extend(_descendants(value))
        elif kind == "indexes":
            if isinstance(value, list | tuple):
                for index in arg:
                    if -len(value) <= index < len(value):
                        out.append(value[index])
        elif kind == "slice":
            if isinstance(value, list | tuple):
                start, stop, stride = arg
                out.extend(value[slice(start, stop, stride)])
        elif kind == "filter" and isinstance(value, list | tuple):
            left_steps, op, right_steps, literal = arg
            for item in value:
                lefts = _run([item], left_steps)
                if not lefts:
                    continue
                if right_steps is not None:
                    rights = _run([item], right_steps)
                    if not rights:
                        continue
                    target = rights[0]
                else:
                    target = literal
                if _compare(lefts[0], op, target):
                    out.append(item)
    return out


def _run(values: list[Any], steps: Sequence[_Step]) -> list[Any]:
    for step in steps:
        values = _apply(values, step)
        if not values:
            break
    return values


def evaluate_jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate a k8s JSONPath (printer-column subset) with missing keys allowed.

    Supports ``.field``, ``['field']``, ``\\.`` escapes in names, ``[n]``,
    ``[a:b]``, ``[*]``, ``.*``, ``..field`` and ``[?(@.x==\"y\")]`` filters
    (``== != < <= > >=``, or a bare ``@.x`` for existence).  Returns the matched
    values in order; an empty list when nothing matches.  Raises
    :class:`JSONPathError` for syntax outside the subset.
    """
    return _run([obj], _parse(path))


# --------------------------------------------------------------------------- durations


def _units(big: int, big_unit: str, small: int, small_unit: str) -> str:
    """`5m`, or `5m30s` where the smaller unit is not zero."""
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    whole = int(seconds)  # Go truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return _units(minutes, "m", whole % 60, "s")
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return _units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _units(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _units(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _parse_time(value: Any) -> datetime | None:
    """RFC 3339 (with optional fraction) to an aware datetime; None when unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _since(value: Any, now: datetime) -> str:
    """printers' translateTimestampSince: ``<unknown>`` for a zero/absent time."""
    parsed = _parse_time(value)
    if parsed is None:
        return "<unknown>"
    return human_duration((_aware(now) - parsed).total_seconds())


# --------------------------------------------------------------------------- CRD columns


def _column(
    name: str, type_: str, description: str, *, format_: str = "", priority: int = 0
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


def _name_column(priority: int = 0) -> dict[str, Any]:
    return _column("Name", "string", NAME_DESCRIPTION, format_="name", priority=priority)


def _age_column() -> dict[str, Any]:
    return _column("Age", "string", CREATION_TIMESTAMP_DESCRIPTION)


def _effective(printer_columns: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    return printer_columns if printer_columns else _DEFAULT_CRD_COLUMNS


def crd_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """columnDefinitions of a custom resource's Table (apiextensions tableconvertor)."""
    columns = [_name_column()]
    for column in _effective(printer_columns):
        json_path = str(column.get("jsonPath", ""))
        description = column.get("description") or (
            f"Custom resource definition column (in JSONPath format): {json_path}"
        )
        columns.append(
            _column(
                str(column.get("name", "")),
                str(column.get("type", "")),
                str(description),
                format_=str(column.get("format", "") or ""),
                priority=int(column.get("priority", 0) or 0),
            )
        )
    return columns


def _go_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _print_result(value: Any) -> str:
    """How k8s jsonpath prints one result (text for scalars, JSON for the rest)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return _go_json(value)


def _cell(type_: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue (and the string branch before it)."""
    if value is None:
        return None
    if type_ == "string":
        return _print_result(value)
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if type_ == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        return None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        if value in ("", "null"):
            return "<unknown>"
        parsed = _parse_time(value)
        if parsed is None:
            return "<invalid>"
        return human_duration((_aware(now) - parsed).total_seconds())
    return None


def crd_row_cells(
    obj: Mapping[str, Any], printer_columns: Sequence[Mapping[str, Any]], now: datetime
) -> list[Any]:
    """One row's cells for a custom resource, matching :func:`crd_columns`.

    As in apiextensions-apiserver only the first JSONPath result is shown; a
    missing value is ``None`` (kubectl prints ``<none>``).
    """
    metadata = obj.get("metadata") or {}
    cells: list[Any] = [metadata.get("name", "")]
    for column in _effective(printer_columns):
        try:
            results = evaluate_jsonpath(obj, str(column.get("jsonPath", "")))
        except JSONPathError:
            results = []
        if not results:
            cells.append(None)
            continue
        cells.append(_cell(str(column.get("type", "")), results[0], now))
    return cells


# --------------------------------------------------------------------------- built-in kinds


def _get(obj: Any, *keys: str | int) -> Any:
    current = obj
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, list | tuple) or not -len(current) <= key < len(current):
                return None
            current = current[key]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(key)
    return current


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _or_none(value: Any) -> str:
    return value if isinstance(value, str) and value else "<none>"


def _selector(selector: Any) -> str:
    """metav1.LabelSelectorAsSelector(...).String()."""
    if not isinstance(selector, Mapping):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expression in selector.get("matchExpressions") or []:
        key = str(expression.get("key", ""))
        operator = expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        if operator == "In":
            requirements.append((key, f"{key} in ({values})"))
        elif operator == "NotIn":
            requirements.append((key, f"{key} notin ({values})"))
        elif operator == "Exists":
            requirements.append((key, key))
        elif operator == "DoesNotExist":
            requirements.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(requirements, key=lambda item: item[0]))


def _containers_cells(obj: Mapping[str, Any]) -> list[Any]:
    containers = _list(_get(obj, "spec", "template", "spec", "containers"))
    names = ",".join(str(c.get("name", "")) for c in containers if isinstance(c, Mapping))
    images = ",".join(str(c.get("image", "")) for c in containers if isinstance(c, Mapping))
    return [names, images, _selector(_get(obj, "spec", "selector"))]


# a kind's printed columns and one object's cells
_Printed = tuple[list[dict[str, Any]], list[Any]]

_DEPLOYMENT_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
    "will be the ones affected by this deployment."
)
_REPLICASET_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the "
    "selector is empty, it is defaulted to the labels present on the pod template. Label "
    "keys and values that must match in order to be controlled by this replica set. More "
    "info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
    "#label-selectors"
)


def _wide_workload_columns(selector_description: str) -> list[dict[str, Any]]:
    wide = (
        ("Containers", "Names of each container in the template."),
        ("Images", "Images referenced by each container in the template."),
        ("Selector", selector_description),
    )
    return [_column(name, "string", desc, priority=1) for name, desc in wide]


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    parsed = _parse_time(candidate)
    if parsed is None:
        return current
    return parsed if current is None or parsed > current else current


def _pod(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [
        _name_column(),
        _column(
            "Ready", "string", "The aggregate readiness state of this pod for accepting traffic."
        ),
        _column("Status", "string", "The aggregate status of the containers in this pod."),
        _column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been "
            "restarted and when the last container in this pod has restarted.",
        ),
        _age_column(),
        _column(
            "IP",
            "string",
            "podIP address allocated to the pod. Routable at least within "
            "the cluster. Empty if not yet allocated.",
            priority=1,
        ),
        _column(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
            "candidate for scheduling by the scheduler defined in schedulerName. Once this "
            "field is set, the kubelet for this node becomes responsible for the lifecycle of "
            "this pod. This field should not be used to express a desire for the pod to be "
            "scheduled on a specific node. "
            "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
            priority=1,
        ),
        _column(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node, but "
            "it cannot be scheduled right away as preemption victims receive their graceful "
            "termination periods. This field does not guarantee that the pod will be "
            "scheduled on this node. Scheduler may decide to place the pod elsewhere if other "
            "nodes become available sooner. Scheduler may also decide to give the resources "
            "on this node to a higher priority pod that is created after preemption. As a "
            "result, this field may be different than PodSpec.nodeName when the pod is "
            "scheduled.",
            priority=1,
        ),
        _column(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness. A pod is "
            "ready when all its containers are ready AND all conditions specified in the "
            'readiness gates have status equal to "True" More info: '
            "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            priority=1,
        ),
    ]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    init_specs = {
        c.get("name"): c for c in _list(spec.get("initContainers")) if isinstance(c, Mapping)
    }
    sidecars = sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    total = len(_list(spec.get("containers"))) + sidecars
    restarts = 0
    ready = 0
    last_restart: datetime | None = None
    reason = str(status.get("phase") or "")
    if status.get("reason"):
        reason = str(status["reason"])
    for condition in _list(status.get("conditions")):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    init_statuses = _list(status.get("initContainerStatuses"))
    for index, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        last_restart = _later(
            last_restart, _get(container, "lastState", "terminated", "finishedAt")
        )
        if (init_specs.get(container.get("name")) or {}).get("restartPolicy") == "Always":
            if container.get("started") and container.get("ready"):
                ready += 1
            continue
        terminated = _get(container, "state", "terminated")
        waiting = _get(container, "state", "waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if isinstance(terminated, Mapping):
            if not terminated.get("reason"):
                if _int(terminated.get("signal")):
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = f"Init:{terminated['reason']}"
        elif (
            isinstance(waiting, Mapping)
            and waiting.get("reason")
            and waiting.get("reason") != "PodInitializing"
        ):
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(_list(spec.get('initContainers')))}"
        initializing = True
        break

    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in _list(status.get("conditions"))
    )
    if not initializing or initialized:
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(container.get("restartCount"))
            last_restart = _later(
                last_restart, _get(container, "lastState", "terminated", "finishedAt")
            )
            waiting = _get(container, "state", "waiting")
            terminated = _get(container, "state", "terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, Mapping):
                if _int(terminated.get("signal")):
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif container.get("ready") and isinstance(
                _get(container, "state", "running"), Mapping
            ):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in _list(status.get("conditions"))
            )
            reason = "Running" if pod_ready else "NotReady"

    if metadata.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif metadata.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        ago = human_duration((_aware(now) - last_restart).total_seconds())
        restarts_text = f"{restarts} ({ago} ago)"

    pod_ips = _list(status.get("podIPs"))
    pod_ip = _or_none(pod_ips[0].get("ip") if pod_ips else status.get("podIP"))
    gates = _list(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in _list(status.get("conditions"))}
        true_count = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    cells = [
        metadata.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _since(metadata.get("creationTimestamp"), now),
        pod_ip,
        _or_none(spec.get("nodeName")),
        _or_none(status.get("nominatedNodeName")),
        gates_text,
    ]
    return columns, cells


def _name_age_row(
    obj: Mapping[str, Any],
    now: datetime,
    columns: Sequence[dict[str, Any]],
    cells: Sequence[Any],
    *,
    workload_selector: str = "",
) -> _Printed:
    """Name, the kind's own columns and cells, Age: how most kinds print; a workload
    (Deployment, ReplicaSet: its selector's description) adds its wide containers, images
    and selector."""
    wide_columns = _wide_workload_columns(workload_selector) if workload_selector else []
    wide_cells = _containers_cells(obj) if workload_selector else []
    return (
        [_name_column(), *columns, _age_column(), *wide_columns],
        [
            _get(obj, "metadata", "name") or "",
            *cells,
            _since(_get(obj, "metadata", "creationTimestamp"), now),
            *wide_cells,
        ],
    )


def _deployment(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [
        _column("Ready", "string", "Number of the pod with ready state"),
        _column(
            "Up-to-date",
            "string",
            "Total number of non-terminating pods targeted by this "
            "deployment that have the desired template spec.",
        ),
        _column(
            "Available",
            "string",
            "Total number of available non-terminating pods (ready for at least "
            "minReadySeconds) targeted by this deployment.",
        ),
    ]
    status = obj.get("status") or {}
    desired = _int(_get(obj, "spec", "replicas"), 1)
    cells = [
        f"{_int(status.get('readyReplicas'))}/{desired}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
    ]
    return _name_age_row(obj, now, columns, cells, workload_selector=_DEPLOYMENT_SELECTOR)


_REPLICASET_INFO = "More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"
_REPLICASET_COLUMNS = (
    (
        "Desired",
        "Replicas is the number of desired pods. This is a pointer to distinguish between "
        f"explicit zero and unspecified. Defaults to 1. {_REPLICASET_INFO}",
    ),
    (
        "Current",
        "Replicas is the most recently observed number of non-terminating pods. "
        + _REPLICASET_INFO,
    ),
    (
        "Ready",
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    ),
)


def _replicaset(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [_column(name, "integer", description) for name, description in _REPLICASET_COLUMNS]
    status = obj.get("status") or {}
    cells = [
        _int(_get(obj, "spec", "replicas"), 1),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
    ]
    return _name_age_row(obj, now, columns, cells, workload_selector=_REPLICASET_SELECTOR)


def _configmap(obj: Mapping[str, Any], now: datetime) -> _Printed:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    column = _column(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric "
        "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
        "BinaryData field. The keys stored in Data must not overlap with the keys in the "
        "BinaryData field, this is enforced during validation process.",
    )
    return _name_age_row(obj, now, [column], [count])


def _secret(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [
        _column(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data. More info: "
            "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
        ),
        _column(
            "Data",
            "string",
            "Data contains the secret data. Each key must consist of alphanumeric characters, "
            "'-', '_' or '.'. The serialized form of the secret data is a base64 encoded "
            "string, representing the arbitrary (possibly non-string) data value here. "
            "Described in https://tools.ietf.org/html/rfc4648#section-4",
        ),
    ]
    count = len(obj.get("data") or {}) + len(obj.get("stringData") or {})
    return _name_age_row(obj, now, columns, [str(obj.get("type") or ""), count])


def _namespace(obj: Mapping[str, Any], now: datetime) -> _Printed:
    column = _column("Status", "string", "The status of the namespace")
    return _name_age_row(obj, now, [column], [str(_get(obj, "status", "phase") or "")])


def _event(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [
        _column(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        _column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        _column(
            "Reason",
            "string",
            "This should be a short, machine understandable string "
            "that gives the reason for the transition into the object's current status.",
        ),
        _column("Object", "string", "The object that this event is about."),
        _column(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an "
            "entire object, this string should contain a valid JSON/Go field access "
            "statement, such as desiredState.manifest.containers[2]. For example, if the "
            "object reference is to a container within a pod, this would take on a value like: "
            '"spec.containers{name}" (where "name" refers to the name of the container that '
            'triggered the event) or if no container name is specified "spec.containers[2]" '
            "(container with index 2 in this pod). This syntax is chosen only to have some "
            "well-defined way of referencing a part of an object.",
            priority=1,
        ),
        _column(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            priority=1,
        ),
        _column(
            "Message", "string", "A human-readable description of the status of this operation."
        ),
        _column(
            "First Seen",
            "string",
            "The time at which the event was first recorded. "
            "(Time of server receipt is in TypeMeta.)",
            priority=1,
        ),
        _column("Count", "string", "The number of times this event has occurred.", priority=1),
        _name_column(priority=1),
    ]
    first = _since(obj.get("firstTimestamp"), now)
    if _parse_time(obj.get("firstTimestamp")) is None:
        first = _since(obj.get("eventTime"), now)
    last = _since(obj.get("lastTimestamp"), now)
    if _parse_time(obj.get("lastTimestamp")) is None:
        last = first
    count = _int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    source_text = f"{component}, {instance}" if instance else str(component)
    cells = [
        last,
        str(obj.get("type") or ""),
        str(obj.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        source_text,
        str(obj.get("message") or "").strip(),
        first,
        count,
        _get(obj, "metadata", "name") or "",
    ]
    return columns, cells


def _crd(obj: Mapping[str, Any], now: datetime) -> _Printed:
    columns = [_name_column(), _column("Created At", "date", CREATION_TIMESTAMP_DESCRIPTION)]
    created = _parse_time(_get(obj, "metadata", "creationTimestamp"))
    text = (
        created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if created is not None
        else "0001-01-01T00:00:00Z"
    )
    return columns, [_get(obj, "metadata", "name") or "", text]


def _lease(obj: Mapping[str, Any], now: datetime) -> _Printed:
    column = _column(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease. If "
        "Coordinated Leader Election is used, the holder identity must be equal to the "
        "elected LeaseCandidate.metadata.name field.",
    )
    return _name_age_row(obj, now, [column], [str(_get(obj, "spec", "holderIdentity") or "")])


def _generic(obj: Mapping[str, Any], now: datetime) -> _Printed:
    return _name_age_row(obj, now, [], [])


_PRINTERS: dict[str, Callable[[Mapping[str, Any], datetime], _Printed]] = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "ConfigMap": _configmap,
    "Secret": _secret,
    "Event": _event,
    "Namespace": _namespace,
    "CustomResourceDefinition": _crd,
    "Lease": _lease,
}


def builtin_columns_and_cells(kind: str, obj: Mapping[str, Any], now: datetime) -> _Printed:
    """Columns and one row's cells for a built-in kind, as kube-apiserver prints it.

    The server always renders the wide form (priority-1 columns included);
    kubectl hides those unless ``-o wide``.  Unknown kinds get Name + Age.
    """
    return _PRINTERS.get(kind, _generic)(obj, now)


# --------------------------------------------------------------------------- Table


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return copy.deepcopy(dict(obj))
    if include_object == "Metadata":
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": copy.deepcopy(dict(obj.get("metadata") or {})),
        }
    raise ValueError(f"unsupported includeObject policy {include_object!r}")


def build_table(
    rows: Sequence[tuple[list[Any], Mapping[str, Any]]],
    columns: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    resource_version: str,
    continue_token: str | None = None,
) -> dict[str, Any]:
    """Assemble a ``meta.k8s.io/v1`` Table from ``(cells, object)`` pairs.

    ``include_object`` is the ``includeObject`` query parameter: ``None``,
    ``Metadata`` (the default; a PartialObjectMetadata) or ``Object``.
    """
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": copy.deepcopy(columns),
        "rows": [
            {"cells": list(cells), "object": _row_object(obj, include_object)}
            for cells, obj in rows
        ],
    }
