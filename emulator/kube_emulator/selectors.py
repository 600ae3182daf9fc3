"""Kubernetes label and field selectors, parsed and evaluated as kube-apiserver does.

The sandbox API server must filter ``list``/``watch`` results exactly like the real
kube-apiserver, and must reject bad selectors with the same 400 messages, so that code
tested against the sandbox behaves the same against a real cluster.  This module ports
the relevant parts of ``k8s.io/apimachinery``:

* ``pkg/labels`` (lexer, parser, ``Requirement.Matches``, key/value validation),
* ``pkg/apis/meta/v1.LabelSelectorAsSelector`` (``matchLabels``/``matchExpressions``),
* ``pkg/fields`` (``ParseSelector``, term splitting, value unescaping) plus the
  per-kind field label whitelists registered with ``AddFieldLabelConversionFunc``.

It is purely computational: standard library only, no I/O, no global state.  Every
failure raises :class:`SelectorError` whose ``str()`` is the message kube-apiserver
puts in its ``400 BadRequest`` Status.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .validation import go_quote, validate_label_value, validate_qualified_name

__all__ = [
    "FieldSelector",
    "FieldTerm",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "default_field_labels",
    "label_selector_from_dict",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """An invalid selector; ``str(e)`` is the message of kube-apiserver's 400 Status."""


# --------------------------------------------------------------------------------------
# Validation (k8s.io/apimachinery/pkg/util/validation) and field.Error formatting
# --------------------------------------------------------------------------------------

_INT64_RE: Final = re.compile(r"^[+-]?[0-9]+$")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _go_string_slice(values: Iterable[str] | None) -> str:
    """Go's ``%#v`` of a ``[]string`` (``[]string(nil)`` for a nil slice)."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _invalid(path: str, bad_value: str, detail: str) -> str:
    """field.Invalid(...).Error() where bad_value is already rendered."""
    return f"{path}: Invalid value: {bad_value}: {detail}"


def _aggregate(errors: list[str]) -> str | None:
    """utilerrors.Aggregate.Error(): one message alone, several deduplicated in [a, b]."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _validate_label_key(key: str, path: str = "key") -> str | None:
    errs = validate_qualified_name(key)
    if errs:
        return _invalid(path, go_quote(key), "; ".join(errs))
    return None


# --------------------------------------------------------------------------------------
# Label selectors
# --------------------------------------------------------------------------------------

_EXISTS: Final = "exists"
_DOES_NOT_EXIST: Final = "!"
_EQUALS: Final = "="
_DOUBLE_EQUALS: Final = "=="
_NOT_EQUALS: Final = "!="
_IN: Final = "in"
_NOT_IN: Final = "notin"
_GREATER_THAN: Final = "gt"
_LESS_THAN: Final = "lt"

_VALID_OPERATORS: Final = frozenset(
    {
        _EXISTS,
        _DOES_NOT_EXIST,
        _EQUALS,
        _DOUBLE_EQUALS,
        _NOT_EQUALS,
        _IN,
        _NOT_IN,
        _GREATER_THAN,
        _LESS_THAN,
    }
)


def _parse_int64(text: str) -> int | None:
    if not _INT64_RE.match(text):
        return None
    value = int(text)
    if value < _INT64_MIN or value > _INT64_MAX:
        return None
    return value


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term of a label selector (labels.Requirement).

    ``operator`` is one of ``exists``, ``!`` (does not exist), ``=``, ``==``, ``!=``,
    ``in``, ``notin``, ``gt``, ``lt`` -- the selection.Operator strings.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        has = self.key in labels
        if op in (_IN, _EQUALS, _DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if op in (_NOT_IN, _NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if op == _EXISTS:
            return has
        if op == _DOES_NOT_EXIST:
            return not has
        if op in (_GREATER_THAN, _LESS_THAN):
            if not has or len(self.values) != 1:
                return False
            actual = _parse_int64(labels[self.key])
            wanted = _parse_int64(self.values[0])
            if actual is None or wanted is None:
                return False
            return actual > wanted if op == _GREATER_THAN else actual < wanted
        return False

    def __str__(self) -> str:
        if self.operator == _DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator == _EXISTS:
            return self.key
        if self.operator in (_IN, _NOT_IN):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        symbol = {_GREATER_THAN: ">", _LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{self.values[0] if self.values else ''}"


def _new_requirement(key: str, operator: str, values: list[str] | None) -> Requirement:
    """labels.NewRequirement: validates and builds (values None = a Go nil slice)."""
    errs: list[str] = []
    key_err = _validate_label_key(key)
    if key_err is not None:
        errs.append(key_err)
    vals = values or []
    if operator in (_IN, _NOT_IN):
        if not vals:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(values),
                    "for 'in', 'notin' operators, values set can't be empty",
                )
            )
    elif operator in (_EQUALS, _DOUBLE_EQUALS, _NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(values),
                    "exact-match compatibility requires one single value",
                )
            )
    elif operator in (_EXISTS, _DOES_NOT_EXIST):
        if vals:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(values),
                    "values set must be empty for exists and does not exist",
                )
            )
    elif operator in (_GREATER_THAN, _LESS_THAN):
        if len(vals) != 1:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(values),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                )
            )
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(
                    _invalid(
                        f"values[{i}]",
                        go_quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    else:
        supported = ", ".join(
            go_quote(o) for o in ("!", "!=", "=", "==", "exists", "gt", "in", "lt", "notin")
        )
        errs.append(
            f"operator: Unsupported value: {go_quote(operator)}: supported values: {supported}"
        )
    for i, v in enumerate(vals):
        value_errs = validate_label_value(v)
        if value_errs:
            errs.append(_invalid(f"values[{i}][{key}]", go_quote(v), "; ".join(value_errs)))
    message = _aggregate(errs)
    if message is not None:
        raise SelectorError(message)
    return Requirement(key, operator, tuple(vals))


@dataclass(frozen=True)
class LabelSelector:
    """An immutable label selector: the AND of its requirements.

    ``nothing`` is true only for the selector built from a ``None`` metav1.LabelSelector,
    which matches no object at all (labels.Nothing()).
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector matches every object (labels.Everything())."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        actual: Mapping[str, str] = labels if labels is not None else {}
        return all(r.matches(actual) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_EVERYTHING: Final = LabelSelector()
_NOTHING: Final = LabelSelector(nothing=True)

# Lexer tokens (labels.Token).
_T_ERROR: Final = "error"
_T_EOS: Final = "end-of-string"
_T_CLOSE: Final = ")"
_T_COMMA: Final = ","
_T_NOT: Final = "!"
_T_DEQ: Final = "=="
_T_EQ: Final = "="
_T_GT: Final = ">"
_T_ID: Final = "identifier"
_T_IN: Final = "in"
_T_LT: Final = "<"
_T_NEQ: Final = "!="
_T_NOTIN: Final = "notin"
_T_OPEN: Final = "("

_STRING_TO_TOKEN: Final[Mapping[str, str]] = {
    ")": _T_CLOSE,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DEQ,
    "=": _T_EQ,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NEQ,
    "notin": _T_NOTIN,
    "(": _T_OPEN,
}
_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    """labels.Lexer, run to the end: a list of (token, literal) ending with EOS."""
    items: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_T_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            buffer = ""
            last: tuple[str, str] | None = None
            while pos < n and text[pos] in _SPECIAL:
                candidate = buffer + text[pos]
                if candidate in _STRING_TO_TOKEN:
                    buffer = candidate
                    last = (_STRING_TO_TOKEN[candidate], candidate)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buffer = candidate
                    pos += 1
            if last is None:
                items.append((_T_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_STRING_TO_TOKEN.get(word, _T_ID), word))


class _Parser:
    """labels.Parser: recursive descent over the scanned tokens."""

    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._pos = 0

    def _lookahead(self, values_context: bool) -> tuple[str, str]:
        tok, lit = self._items[min(self._pos, len(self._items) - 1)]
        if values_context and tok in (_T_IN, _T_NOTIN):
            tok = _T_ID
        return tok, lit

    def _consume(self, values_context: bool) -> tuple[str, str]:
        item = self._lookahead(values_context)
        self._pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self._lookahead(True)
            if tok in (_T_ID, _T_NOT):
                try:
                    requirements.append(self._parse_requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self._consume(True)
                if t == _T_EOS:
                    return requirements
                if t == _T_COMMA:
                    t2, lit3 = self._lookahead(True)
                    if t2 not in (_T_ID, _T_NOT):
                        raise SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _T_EOS:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _parse_requirement(self) -> Requirement:
        key, operator = self._parse_key_and_infer_operator()
        if operator in (_EXISTS, _DOES_NOT_EXIST):
            return _new_requirement(key, operator, [])
        operator = self._parse_operator()
        values = self._parse_values() if operator in (_IN, _NOT_IN) else self._parse_exact_value()
        return _new_requirement(key, operator, sorted(values))

    def _parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, literal = self._consume(True)
        if tok == _T_NOT:
            operator = _DOES_NOT_EXIST
            tok, literal = self._consume(True)
        if tok != _T_ID:
            raise SelectorError(f"found '{literal}', expected: identifier")
        # kube-apiserver 1.34's parser validates the key with a nil field path
        key_err = _validate_label_key(literal, "<nil>")
        if key_err is not None:
            raise SelectorError(key_err)
        t, _ = self._lookahead(True)
        if t in (_T_EOS, _T_COMMA) and operator != _DOES_NOT_EXIST:
            operator = _EXISTS
        return literal, operator

    def _parse_operator(self) -> str:
        tok, lit = self._consume(False)
        operators = {
            _T_IN: _IN,
            _T_EQ: _EQUALS,
            _T_DEQ: _DOUBLE_EQUALS,
            _T_GT: _GREATER_THAN,
            _T_LT: _LESS_THAN,
            _T_NOTIN: _NOT_IN,
            _T_NEQ: _NOT_EQUALS,
        }
        if tok not in operators:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        return operators[tok]

    def _parse_values(self) -> set[str]:
        tok, lit = self._consume(True)
        if tok != _T_OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._lookahead(True)
        if tok in (_T_ID, _T_COMMA):
            values = self._parse_identifiers_list()
            tok2, _ = self._consume(True)
            if tok2 != _T_CLOSE:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _T_CLOSE:
            self._consume(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._consume(True)
            if tok == _T_ID:
                values.add(lit)
                tok2, lit2 = self._lookahead(True)
                if tok2 == _T_COMMA:
                    continue
                if tok2 == _T_CLOSE:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _T_COMMA:
                if not values:
                    values.add("")  # "(,"
                tok2, _ = self._lookahead(True)
                if tok2 == _T_CLOSE:
                    values.add("")  # ",)"
                    return values
                if tok2 == _T_COMMA:
                    self._consume(True)
                    values.add("")  # ",,"
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _parse_exact_value(self) -> set[str]:
        tok, _ = self._lookahead(True)
        if tok in (_T_EOS, _T_COMMA):
            return {""}
        tok, lit = self._consume(True)
        if tok == _T_ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def _sorted_requirements(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(requirements, key=lambda r: r.key))


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parses the ``labelSelector`` query parameter syntax (labels.Parse).

    ``a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j,k>1,l<2``; whitespace between tokens is
    ignored; an empty or ``None`` selector matches everything.
    """
    if not text:
        return _EVERYTHING
    requirements = _Parser(text).parse()
    if not requirements:
        return _EVERYTHING
    return LabelSelector(_sorted_requirements(requirements))


_EXPRESSION_OPERATORS: Final[Mapping[str, str]] = {
    "In": _IN,
    "NotIn": _NOT_IN,
    "Exists": _EXISTS,
    "DoesNotExist": _DOES_NOT_EXIST,
}


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise SelectorError(f"{what} must be a string, got {type(value).__name__}")
    return value


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector for a ``{matchLabels, matchExpressions}`` dict.

    ``None`` matches nothing; a selector with no labels and no expressions matches
    everything.
    """
    if selector is None:
        return _NOTHING
    if not isinstance(selector, Mapping):
        raise SelectorError(f"label selector must be an object, got {type(selector).__name__}")
    match_labels = selector.get("matchLabels") or {}
    match_expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be an object")
    if not isinstance(match_expressions, list):
        raise SelectorError("matchExpressions must be a list")
    if not match_labels and not match_expressions:
        return _EVERYTHING
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        requirements.append(
            _new_requirement(
                _require_str(key, "matchLabels key"),
                _EQUALS,
                [_require_str(value, f"matchLabels[{key}]")],
            )
        )
    for expression in match_expressions:
        if not isinstance(expression, Mapping):
            raise SelectorError("matchExpressions entries must be objects")
        operator = expression.get("operator", "")
        if operator not in _EXPRESSION_OPERATORS:
            rendered = go_quote(operator) if isinstance(operator, str) else go_quote(str(operator))
            raise SelectorError(f"{rendered} is not a valid label selector operator")
        raw_values = expression.get("values")
        if raw_values is not None and not isinstance(raw_values, list):
            raise SelectorError("matchExpressions values must be a list")
        values = (
            [_require_str(v, "matchExpressions value") for v in raw_values] if raw_values else None
        )
        requirements.append(
            _new_requirement(
                _require_str(expression.get("key", ""), "matchExpressions key"),
                _EXPRESSION_OPERATORS[operator],
                values,
            )
        )
    return LabelSelector(_sorted_requirements(requirements))


# --------------------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------------------

# Field labels whose value lives somewhere else in the object than their dotted name says.
_FIELD_PATH_ALIASES: Final[Mapping[str, str]] = {"source": "source.component"}

_COMMON_FIELD_LABELS: Final = frozenset({"metadata.name", "metadata.namespace"})
_KIND_FIELD_LABELS: Final[Mapping[str, frozenset[str]]] = {
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Secret": frozenset({"type"}),
    "Namespace": frozenset({"status.phase"}),
    "ReplicaSet": frozenset({"status.replicas"}),
    "ReplicationController": frozenset({"status.replicas"}),
}


def default_field_labels(kind: str) -> frozenset[str]:
    """The field labels kube-apiserver accepts in a field selector for ``kind``."""
    return _COMMON_FIELD_LABELS | _KIND_FIELD_LABELS.get(kind, frozenset())


@dataclass(frozen=True)
class FieldTerm:
    """One ``field=value`` / ``field!=value`` term (fields.hasTerm / notHasTerm)."""

    field: str
    value: str
    negated: bool = False

    def matches(self, obj: Mapping[str, Any]) -> bool:
        actual = _field_value(obj, _FIELD_PATH_ALIASES.get(self.field, self.field))
        return (actual != self.value) if self.negated else (actual == self.value)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negated else '='}{escaped}"


@dataclass(frozen=True)
class FieldSelector:
    """An immutable field selector: the AND of its terms (empty matches everything)."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(term.matches(obj) for term in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted path, as the registries' GetAttrs would report it."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ""
        current = current[part]
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def _split_terms(text: str) -> list[str]:
    """fields.splitTerms: split on commas not escaped by a backslash."""
    terms: list[str] = []
    start, in_slash = 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """fields.splitTerm: the first operator found scanning left to right (!= before ==)."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape_value(value: str) -> str:
    """fields.UnescapeValue."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch in "\\,=":
                out.append(ch)
            else:
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            in_slash = False
            continue
        if ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go formats the rune with %v, i.e. as its code point number.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str | None, supported: Collection[str]) -> FieldSelector:
    """Parses the ``fieldSelector`` query parameter (fields.ParseSelector + Transform).

    Operators ``=``, ``==`` and ``!=``; values may escape ``\\``, ``,`` and ``=`` with a
    backslash; no whitespace trimming (as in kube).  A field outside ``supported``
    raises ``field label not supported: <field>``.  Missing fields evaluate to ``""``.
    """
    if not text:
        return FieldSelector()
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldTerm(lhs, _unescape_value(rhs), negated=op == "!="))
    for term in terms:
        if term.field not in supported:
            if set(supported) == {"metadata.name", "metadata.namespace"}:
                # a kind without field label conversions of its own: the default one's words
                raise SelectorError(
                    f'"{term.field}" is not a known field selector: only "metadata.name", '
                    '"metadata.namespace"'
                )
            raise SelectorError(f"field label not supported: {term.field}")
    return FieldSelector(tuple(terms))
