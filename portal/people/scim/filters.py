"""SCIM filters (RFC 7644 §3.4.2.2): parsed by scim2-filter-parser, then
turned into a Django ``Q`` over the attributes a resource type maps (a list
request) or evaluated on one value of a multi-valued attribute (a PATCH
path such as ``members[value eq "7"]``). An attribute we don't map is an
``invalidFilter`` error, never silently ignored: a filter that matched
everyone would be a dangerous answer to "does bjensen exist?"."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError

from portal.people.scim.errors import invalid_filter

_TEXT_LOOKUPS = {"eq": "iexact", "co": "icontains", "sw": "istartswith", "ew": "iendswith",
                 "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


@dataclass(frozen=True)
class Field:
    """Where a SCIM attribute lives: an ORM lookup path and its kind
    ("text", "int" — a primary key as SCIM's string id — or "bool")."""

    lookup: str
    kind: str = "text"


def parse(text: str):
    """The filter's syntax tree; 400 invalidFilter when it does not parse."""
    if not isinstance(text, str) or not text.strip():
        raise invalid_filter(gettext("The filter is empty."))
    try:
        return SCIMParser().parse(SCIMLexer().tokenize(text))
    except (SCIMParserError, ValueError, IndexError, TypeError):
        raise invalid_filter(gettext("The filter %(filter)r is not a SCIM filter.") % {"filter": text}) from None


def to_q(tree, fields: dict[tuple[str, str | None], Field], core_uri: str) -> Q:
    """``tree`` as a Q over the fields mapped by (attribute, sub-attribute),
    names compared case-insensitively as RFC 7643 says."""
    return _Q(fields, core_uri.lower()).visit(tree)


class _Q:
    def __init__(self, fields, core_uri):
        self.fields = {(a.lower(), s.lower() if s else None): f for (a, s), f in fields.items()}
        self.core_uri = core_uri

    def visit(self, node, namespace=None) -> Q:
        if isinstance(node, ast.Filter):
            inner = self.visit(node.expr, node.namespace.attr_name if node.namespace else namespace)
            return ~inner if node.negated else inner
        if isinstance(node, ast.LogExpr):
            left, right = self.visit(node.expr1, namespace), self.visit(node.expr2, namespace)
            return left & right if node.op.lower() == "and" else left | right
        if isinstance(node, ast.AttrExpr):
            return self.comparison(node, namespace)
        raise invalid_filter(gettext("This filter is not supported."))

    def field(self, path, namespace) -> Field:
        if path.uri and path.uri.lower() != self.core_uri:
            raise invalid_filter(gettext("The attribute %(name)r cannot be filtered on.") % {"name": path.uri})
        name = path.attr_name.lower()
        sub = path.sub_attr.value.lower() if path.sub_attr else None
        key = (namespace.lower(), name) if namespace else (name, sub)
        field = self.fields.get(key) or (self.fields.get((key[0], None)) if key[1] == "value" else None)
        if field is None:
            label = ".".join(part for part in key if part)
            raise invalid_filter(gettext("The attribute %(name)r cannot be filtered on.") % {"name": label})
        return field

    def comparison(self, node, namespace) -> Q:
        field = self.field(node.attr_path, namespace)
        op = node.value.lower()
        if op == "pr":
            return ~Q(**{f"{field.lookup}__isnull": True}) & ~Q(**{field.lookup: ""}) if field.kind == "text" \
                else ~Q(**{f"{field.lookup}__isnull": True})
        value = node.comp_value.value if node.comp_value else None
        if field.kind == "int":
            return self.id_comparison(field, op, value)
        if field.kind == "bool":
            if op not in ("eq", "ne") or value not in ("true", "false"):
                raise invalid_filter(gettext("A true/false attribute is compared with eq or ne and true or false."))
            q = Q(**{field.lookup: value == "true"})
            return ~q if op == "ne" else q
        if op == "ne":
            return ~Q(**{f"{field.lookup}__iexact": value})
        if op not in _TEXT_LOOKUPS or not isinstance(value, str):
            raise invalid_filter(gettext("The operator %(op)r is not supported here.") % {"op": node.value})
        return Q(**{f"{field.lookup}__{_TEXT_LOOKUPS[op]}": value})

    @staticmethod
    def id_comparison(field, op, value) -> Q:
        if op not in ("eq", "ne"):
            raise invalid_filter(gettext("An id is compared with eq or ne."))
        q = Q(**{field.lookup: int(value)}) if isinstance(value, str) and value.isdigit() else Q(pk__in=[])
        return ~q if op == "ne" else q


def matches(tree, item) -> bool:
    """Whether one value of a multi-valued attribute (a dict such as
    ``{"value": "7", "type": "work"}``) satisfies a value filter."""
    if isinstance(tree, ast.Filter):
        result = matches(tree.expr, item)
        return not result if tree.negated else result
    if isinstance(tree, ast.LogExpr):
        if tree.op.lower() == "and":
            return matches(tree.expr1, item) and matches(tree.expr2, item)
        return matches(tree.expr1, item) or matches(tree.expr2, item)
    if isinstance(tree, ast.AttrExpr):
        return _compare(tree, item)
    raise invalid_filter(gettext("This filter is not supported."))


def _compare(node, item) -> bool:
    if not isinstance(item, dict):
        return False
    have = {str(k).lower(): v for k, v in item.items()}.get(node.attr_path.attr_name.lower())
    op = node.value.lower()
    if op == "pr":
        return have not in (None, "", [])
    want = node.comp_value.value if node.comp_value else None
    have = "true" if have is True else "false" if have is False else ("" if have is None else str(have))
    have, want = have.lower(), str(want).lower()
    compare = {"eq": have == want, "ne": have != want, "co": want in have, "sw": have.startswith(want),
               "ew": have.endswith(want), "gt": have > want, "ge": have >= want, "lt": have < want,
               "le": have <= want}
    if op not in compare:
        raise invalid_filter(gettext("The operator %(op)r is not supported here.") % {"op": node.value})
    return compare[op]
