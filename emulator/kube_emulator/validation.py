"""Name and label checks with kube-apiserver's exact messages, and Go's ``%q``.

A port of ``k8s.io/apimachinery/pkg/util/validation`` (``IsDNS1123Label``,
``IsQualifiedName``, ...): schema validation (object names, CRD names) and selector
parsing (label keys and values) word their errors with these, so they have one home.

Purely computational: standard library only, no I/O, no global state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "go_quote",
    "regex_error",
    "validate_dns1035_label",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_value",
    "validate_qualified_name",
]

_QNAME_CHAR: Final = "[A-Za-z0-9]"
_QNAME_EXT_CHAR: Final = "[-A-Za-z0-9_.]"
_QUALIFIED_NAME_FMT: Final = f"({_QNAME_CHAR}{_QNAME_EXT_CHAR}*)?{_QNAME_CHAR}"
_QUALIFIED_NAME_ERR: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_EXAMPLES: Final = ("MyName", "my.name", "123-abc")
_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"


def go_quote(value: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints for a string)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES: Final = {
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its odd double spaces between examples."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


@dataclass(frozen=True)
class _Format:
    """A length limit and a format: what most validation.Is* functions check."""

    max_length: int
    regex: str
    message: str
    examples: tuple[str, ...]

    def errors(self, value: str) -> list[str]:
        errors: list[str] = []
        if len(value) > self.max_length:
            errors.append(_max_len_error(self.max_length))
        if not re.fullmatch(self.regex, value):
            errors.append(regex_error(self.message, self.regex, *self.examples))
        return errors


_DNS1123_LABEL: Final = _Format(
    63,
    _DNS1123_LABEL_FMT,
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
    "or '-', and must start and end with an alphanumeric character",
    ("my-name", "123-abc"),
)
_DNS1123_SUBDOMAIN: Final = _Format(
    253,
    _DNS1123_SUBDOMAIN_FMT,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character",
    ("example.com",),
)
_DNS1035_LABEL: Final = _Format(
    63,
    "[a-z]([-a-z0-9]*[a-z0-9])?",
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character",
    ("my-name", "abc-123"),
)
_LABEL_VALUE: Final = _Format(
    63,
    f"({_QUALIFIED_NAME_FMT})?",
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character",
    ("MyValue", "my_value", "12345"),
)

validate_dns1123_label = _DNS1123_LABEL.errors  # validation.IsDNS1123Label
# validation.IsDNS1123Subdomain (what ``metadata.name`` of most kinds must satisfy)
validate_dns1123_subdomain = _DNS1123_SUBDOMAIN.errors
validate_dns1035_label = _DNS1035_LABEL.errors  # validation.IsDNS1035Label
validate_label_value = _LABEL_VALUE.errors  # validation.IsValidLabelValue


def validate_qualified_name(value: str) -> list[str]:
    """validation.IsQualifiedName: ``[dns-subdomain-prefix/]name``."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_ERR, _QUALIFIED_NAME_FMT, *_QUALIFIED_NAME_EXAMPLES)
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + m for m in validate_dns1123_subdomain(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len_error(63))
    if not re.fullmatch(_QUALIFIED_NAME_FMT, name):
        errors.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_ERR, _QUALIFIED_NAME_FMT, *_QUALIFIED_NAME_EXAMPLES)
        )
    return errors
