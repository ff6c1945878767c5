"""PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM dict: the caller
turns the model into a dict of the attributes it maps, we apply the
operations, the caller reads the result back and hands the differences to
one service.

Lenient where the big identity providers deviate from the RFC: ``op`` in
any case ("Replace", Entra), ``remove`` of ``members`` with a value list
(Entra), dotted attribute names as keys of a path-less value (Entra), an
``add`` or ``replace`` through a value filter that matches nothing creates
the value (Entra's ``emails[type eq "work"].value``). Attributes the
resource does not map (an enterprise extension's ``manager``) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext
from scim2_filter_parser import ast

from portal.people.scim import filters
from portal.people.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPS = ("add", "replace", "remove")
_PATH = re.compile(r"^(?:(?P<uri>urn:[^\[\]]+):)?(?P<attr>[A-Za-z$][\w$-]*)"
                   r"(?:\[(?P<filter>[^\[\]]+)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$")


@dataclass(frozen=True)
class Shape:
    """The attributes a resource maps, by lower-case name → canonical name,
    and which of them are multi-valued (lists of dicts with a ``value``)."""

    core_uri: str
    names: dict[str, str]
    multi: frozenset[str]

    def canonical(self, name: str) -> str | None:
        return self.names.get(name.lower())


@dataclass(frozen=True)
class Path:
    attr: str | None  # None: an attribute this resource does not map
    value_filter: object = None
    sub: str | None = None


def operations(body) -> list[dict]:
    """The request's operations, each with its ``op`` in lower case."""
    if not isinstance(body, dict) or PATCH_SCHEMA not in (body.get("schemas") or []):
        raise invalid_syntax(gettext("A PATCH request is a PatchOp message (schemas: [%(schema)s]).")
                             % {"schema": PATCH_SCHEMA})
    ops = body.get("Operations", body.get("operations"))
    if not isinstance(ops, list) or not ops:
        raise invalid_syntax(gettext("A PATCH request lists its Operations."))
    cleaned = []
    for op in ops:
        name = op.get("op") if isinstance(op, dict) else None
        if not isinstance(name, str) or name.lower() not in OPS:
            raise invalid_syntax(gettext("Each operation's op is add, replace or remove."))
        cleaned.append({**op, "op": name.lower()})
    return cleaned


def parse_path(text, shape: Shape) -> Path:
    if not isinstance(text, str) or not (match := _PATH.match(text.strip())):
        raise invalid_path(gettext("The path %(path)r is not a SCIM attribute path.") % {"path": text})
    uri = match["uri"]
    if uri and uri.lower() != shape.core_uri.lower():
        return Path(None)  # an extension's attribute
    value_filter = filters.parse(match["filter"]) if match["filter"] else None
    attr = shape.canonical(match["attr"])
    return Path(attr, value_filter, match["sub"])


def apply(resource: dict, ops: list[dict], shape: Shape) -> dict:
    """``resource`` with the operations applied (a copy; the input is left alone)."""
    result = _copy(resource)
    for op in ops:
        if "path" in op and op["path"] not in (None, ""):
            _apply_at(result, op["op"], parse_path(op["path"], shape), op.get("value"), shape)
        elif op["op"] == "remove":
            raise ScimError(400, gettext("A remove operation names its path."), "noTarget")
        elif isinstance(op.get("value"), dict):
            _apply_value(result, op["op"], op["value"], shape)
        else:
            raise invalid_value(gettext("An operation without a path carries an object of attributes."))
    return result


def _apply_value(result, op, value: dict, shape: Shape) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        if key.lower() == shape.core_uri.lower() and isinstance(item, dict):
            _apply_value(result, op, item, shape)
        elif not key.startswith("urn:"):
            _apply_at(result, op, parse_path(key, shape), item, shape)


def _apply_at(result: dict, op: str, path: Path, value, shape: Shape) -> None:
    if path.attr is None:
        return
    if path.attr in shape.multi:
        result[path.attr] = _multi(list(result.get(path.attr) or []), op, path, value)
    elif path.sub:
        current = result.get(path.attr) if isinstance(result.get(path.attr), dict) else {}
        _set(current, op, path.sub, value)
        result[path.attr] = current
    elif op == "remove":
        result[path.attr] = None
    elif isinstance(value, dict) and isinstance(result.get(path.attr), dict) and op == "add":
        result[path.attr] = {**result[path.attr], **value}
    else:
        result[path.attr] = value


def _set(target: dict, op: str, key: str, value) -> None:
    key = next((k for k in target if k.lower() == key.lower()), key)
    if op == "remove":
        target.pop(key, None)
    else:
        target[key] = value


def _multi(items: list, op: str, path: Path, value) -> list:
    if path.value_filter is None and path.sub is None:
        return _whole_list(items, op, value)
    chosen = [i for i, item in enumerate(items) if path.value_filter is None
              or filters.matches(path.value_filter, item)]
    if path.sub is None:  # members[value eq "7"]
        if op == "remove":
            return [item for i, item in enumerate(items) if i not in chosen]
        if not isinstance(value, dict):
            raise invalid_value(gettext("A filtered path's value is an object."))
        return [{**item, **value} if i in chosen else item for i, item in enumerate(items)]
    if not chosen and op != "remove":  # emails[type eq "work"].value on a user without one
        items.append(_from_filter(path.value_filter))
        chosen = [len(items) - 1]
    if op == "remove" and path.sub.lower() == "value":  # a value without its value is no value
        return [item for i, item in enumerate(items) if i not in chosen]
    for i in chosen:
        items[i] = dict(items[i])
        _set(items[i], op, path.sub, value)
    return items


def _whole_list(items: list, op: str, value) -> list:
    values = value if isinstance(value, list) else [] if value is None else [value]
    if any(not isinstance(v, dict) for v in values):
        raise invalid_value(gettext("The values of a multi-valued attribute are objects."))
    if op == "replace":
        return values
    if op == "add":
        known = {str(item.get("value")) for item in items}
        return items + [v for v in values if str(v.get("value")) not in known]
    if not values:
        return []
    gone = {str(v.get("value")) for v in values}
    return [item for item in items if str(item.get("value")) not in gone]


def _from_filter(tree) -> dict:
    """The value a filter of ``eq`` comparisons describes: ``type eq "work"`` → {"type": "work"}."""
    found = {}
    for _, node in ast.flatten(tree):
        if isinstance(node, ast.AttrExpr) and node.value.lower() == "eq" and node.comp_value is not None:
            found[node.attr_path.attr_name] = node.comp_value.value
    return found


def _copy(resource: dict) -> dict:
    return {k: ([dict(i) if isinstance(i, dict) else i for i in v] if isinstance(v, list)
                else dict(v) if isinstance(v, dict) else v) for k, v in resource.items()}


def get(mapping, key: str, default=None):
    """``mapping[key]`` with SCIM's case-insensitive attribute names."""
    if not isinstance(mapping, dict):
        return default
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == key.lower()), default)
