"""Check a Stripe JSON object against the pinned `stripe` library's resource classes (no tests here).

The generated classes (`stripe.Customer`, `stripe.checkout.Session`, …) declare every field as a
class annotation: nested `StripeObject` subclasses, `Literal[...]` enums, `Optional[...]` when
the field may be null or absent, `ExpandableField[X]` for an id that `expand[]` turns into the
object. `mismatches(cls, obj)` lists, as readable lines, where `obj` departs from that
declaration, so that a bump of `stripe` in the lock moves the stand-in's response contract with it.

Presence rule, since the classes cannot tell "nullable" from "omitted":
- a top-level resource (a class with `OBJECT_NAME`) carries every declared field, null allowed
  when `Optional`, as the real API does, except the `Optional` fields that the API omits:
  its includable fields (`INCLUDABLE`: absent unless named in `expand[]`), Connect's own fields
  (`CONNECT_ONLY`), `deleted` (only on a deleted object) and the per-type hashes of the types
  it is not (a `card` payment method has no `sepa_debit` hash);
- a nested object must carry its non-`Optional` fields; its `Optional` ones may be absent (Stripe
  omits, e.g., the `payment_method_details` hashes of the payment methods not used).
A field the class doesn't declare is reported too: Stripe doesn't invent fields. The one
exception is `total_count` on a list embedded in an object, which the library's own description
of `invoice.lines` documents ("a lines property containing the total count of line items").

Only the tests use it: nothing in the sandbox checks its own answers at run time.
"""

from __future__ import annotations

import ast
import decimal
import functools
import importlib
import inspect
import re
import sys
import types
import typing
from typing import Any, ForwardRef, Literal, Union

from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._search_result_object import SearchResultObject
from stripe._stripe_object import StripeObject, UntypedStripeObject

# Fields that the API reference marks "This field is not included by default. To include it in
# the response, expand the <field> field." (e.g. https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-line_items,
# https://docs.stripe.com/api/invoices/object#invoice_object-payments,
# https://docs.stripe.com/api/customers/object#customer_object-sources,
# https://docs.stripe.com/api/charges/object#charge_object-refunds).
INCLUDABLE: dict[str, frozenset[str]] = {
    "checkout.session": frozenset({"line_items"}),
    "invoice": frozenset({"payments"}),
    "customer": frozenset({"cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids"}),
    "charge": frozenset({"refunds"}),
    # https://docs.stripe.com/api/prices/object#price_object-tiers, …#price_object-currency_options
    "price": frozenset({"currency_options", "tiers"}),
    "plan": frozenset({"tiers"}),
}
# Fields only Connect sets: an event of the platform's own account has no `account` nor
# `context` (https://docs.stripe.com/api/events/object#event_object-account).
CONNECT_ONLY: dict[str, frozenset[str]] = {"event": frozenset({"account", "context"})}


def class_for(object_name: str) -> type[StripeObject]:
    """The resource class the library deserialises `{"object": object_name}` into."""
    module_name, class_name = OBJECT_CLASSES[object_name]
    return getattr(importlib.import_module(module_name), class_name)


def mismatches(cls: type[StripeObject], obj: Any, path: str = "") -> list[str]:
    """Every departure of `obj` from what `cls` declares, one readable line each (none: it matches)."""
    path = path or getattr(cls, "OBJECT_NAME", cls.__name__)
    if issubclass(cls, (ListObject, SearchResultObject)):
        return _check_list(cls, Any, obj, path, cls, embedded=False)
    return _check_object(cls, obj, path)


# -- declared fields --------------------------------------------------------------------------
@functools.cache
def _type_checking_names(module_name: str) -> dict[str, Any]:
    """Names a module imports under `if TYPE_CHECKING:` (its forward references point at them)."""
    module = sys.modules[module_name]
    tree = ast.parse(inspect.getsource(module))
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module and statement.module.startswith("stripe"):
                    imported = importlib.import_module(statement.module)
                    for alias in statement.names:
                        value = getattr(imported, alias.name, None)
                        if value is not None:
                            names[alias.asname or alias.name] = value
    return names


@functools.cache
def declared_fields(cls: type) -> dict[str, Any]:
    """JSON field name → resolved annotation, the library's private attributes left out."""
    namespace = {**vars(sys.modules[cls.__module__]), **_type_checking_names(cls.__module__)}
    hints = typing.get_type_hints(cls, globalns=namespace, localns=dict(vars(cls)))
    remapped = getattr(cls, "_field_remappings", {}) or {}
    fields: dict[str, Any] = {}
    for name, annotation in hints.items():
        if name.startswith("_") or typing.get_origin(annotation) is typing.ClassVar:
            continue
        fields[remapped.get(name, name)] = annotation
    return fields


def _type_hashes(cls: type, obj: dict[str, Any]) -> set[str]:
    """Fields named after the *other* values of the object's `type` enum (e.g. `sepa_debit` on a card)."""
    annotation = declared_fields(cls).get("type")
    return _literal_values(annotation) - {obj.get("type")} if annotation is not None else set()


def _literal_values(annotation: Any) -> set[Any]:
    """The values of every `Literal[...]` in `annotation` (`Optional[Union[Literal['a'], str]]` → {'a'})."""
    if typing.get_origin(annotation) is Literal:
        return set(typing.get_args(annotation))
    return {value for arg in typing.get_args(annotation) for value in _literal_values(arg)}


def _omitted_by_the_api(cls: type, name: str, annotation: Any, obj: dict[str, Any]) -> bool:
    """A top-level resource's field that real Stripe leaves out of the JSON (see the module docstring)."""
    if not _is_optional(annotation):
        return False
    if name in INCLUDABLE.get(cls.OBJECT_NAME, frozenset()) | CONNECT_ONLY.get(cls.OBJECT_NAME, frozenset()):
        return True
    return name == "deleted" or name in _type_hashes(cls, obj)


def _is_optional(annotation: Any) -> bool:
    return _is_union(annotation) and type(None) in typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _resolve(annotation: Any, cls: type) -> Any:
    """A `ForwardRef` left inside a generic (e.g. `ListObject["LineItem"]`) → the class it names."""
    if isinstance(annotation, ForwardRef):
        namespace = {**vars(sys.modules[cls.__module__]), **_type_checking_names(cls.__module__)}
        return eval(annotation.__forward_arg__, namespace, dict(vars(cls)))
    if isinstance(annotation, str):
        return _resolve(ForwardRef(annotation), cls)
    return annotation


# -- checking ---------------------------------------------------------------------------------
def _check_object(cls: type, obj: Any, path: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{path}: expected a {cls.__name__} object, got {_show(obj)}"]
    if cls is UntypedStripeObject:
        return []
    fields = declared_fields(cls)
    top_level = isinstance(getattr(cls, "OBJECT_NAME", None), str)
    problems: list[str] = []
    if top_level and obj.get("object") != cls.OBJECT_NAME:
        problems.append(f"{path}.object: expected {cls.OBJECT_NAME!r}, got {_show(obj.get('object'))}")
    for name, annotation in fields.items():
        where = f"{path}.{name}"
        if name not in obj:
            may_be_absent = _omitted_by_the_api(cls, name, annotation, obj) if top_level else _is_optional(annotation)
            if not may_be_absent:
                problems.append(f"{where}: missing (declared {_name(annotation)})")
            continue
        problems += _check_value(annotation, obj[name], where, cls)
    for name in obj:
        if name not in fields and not (name == "object" and top_level):
            problems.append(f"{path}.{name}: not a field of {cls.__qualname__} (value {_show(obj[name])})")
    return problems


def _check_value(annotation: Any, value: Any, path: str, owner: type) -> list[str]:
    annotation = _resolve(annotation, owner)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return []
    if value is None and not _is_optional(annotation):
        return [f"{path}: null, but not Optional"]
    if _is_union(annotation):
        if value is None:
            return []
        return _check_union([_resolve(a, owner) for a in args if a is not type(None)], value, path, owner)
    if origin is Literal:
        return [] if value in args else [f"{path}: {_show(value)} is not one of {list(args)}"]
    if annotation is bool:
        return [] if isinstance(value, bool) else [_wrong(path, "bool", value)]
    if annotation is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [_wrong(path, "int", value)]
    if annotation is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [_wrong(path, "float", value)]
    if annotation is str:
        return [] if isinstance(value, str) else [_wrong(path, "str", value)]
    if annotation is decimal.Decimal:
        # Stripe sends `*_decimal` fields as strings of digits ("3000.5").
        return [] if isinstance(value, str) and _is_decimal(value) else [_wrong(path, "decimal string", value)]
    if origin in (list, list):
        if not isinstance(value, list):
            return [_wrong(path, "list", value)]
        return [p for i, item in enumerate(value) for p in _check_value(args[0], item, f"{path}[{i}]", owner)]
    if origin in (dict, dict):
        if not isinstance(value, dict):
            return [_wrong(path, "dict", value)]
        return [p for key, item in value.items() for p in _check_value(args[1], item, f"{path}[{key!r}]", owner)]
    cls = origin or annotation
    if inspect.isclass(cls) and issubclass(cls, UntypedStripeObject):
        if not isinstance(value, dict):
            return [_wrong(path, "dict", value)]
        item_type = args[0] if args else Any
        return [p for key, item in value.items() for p in _check_value(item_type, item, f"{path}[{key!r}]", owner)]
    if inspect.isclass(cls) and issubclass(cls, (ListObject, SearchResultObject)):
        return _check_list(cls, args[0] if args else Any, value, path, owner, embedded=True)
    if inspect.isclass(cls) and issubclass(cls, StripeObject):
        return _check_object(cls, value, path)
    raise TypeError(f"{path}: no rule for the annotation {annotation!r}")


def _check_list(cls: type, item_type: Any, value: Any, path: str, owner: type, *, embedded: bool) -> list[str]:
    """A list object; `embedded` when it is a field of an object (`invoice.lines`), not an endpoint's answer."""
    if not isinstance(value, dict):
        return [_wrong(path, "list object", value)]
    expected_object = cls.OBJECT_NAME
    problems = (
        []
        if value.get("object") == expected_object
        else [f"{path}.object: expected {expected_object!r}, got {_show(value.get('object'))}"]
    )
    fields = declared_fields(cls)
    for name, annotation in fields.items():
        if name not in value:
            problems.append(f"{path}.{name}: missing (declared {_name(annotation)})")
        elif name != "data":
            problems += _check_value(annotation, value[name], f"{path}.{name}", cls)
    if not isinstance(value.get("data", []), list):
        return [*problems, _wrong(f"{path}.data", "list", value["data"])]
    for i, item in enumerate(value.get("data", [])):
        if (
            (item_type is Any or isinstance(item_type, typing.TypeVar))
            and isinstance(item, dict)
            and item.get("object") in OBJECT_CLASSES
        ):
            problems += _check_object(class_for(item["object"]), item, f"{path}.data[{i}]")
        else:
            problems += _check_value(item_type, item, f"{path}.data[{i}]", owner)
    allowed = set(fields) | {"object"} | ({"total_count"} if embedded else set())
    problems += [f"{path}.{name}: not a field of a {expected_object}" for name in value if name not in allowed]
    if embedded and "total_count" in value and not isinstance(value["total_count"], int):
        problems.append(_wrong(f"{path}.total_count", "int", value["total_count"]))
    return problems


def _check_union(alternatives: list[Any], value: Any, path: str, owner: type) -> list[str]:
    # `Union[Literal[...], str]` is the library's open enum: the API declares exactly the literals.
    literals = [a for a in alternatives if typing.get_origin(a) is Literal]
    if literals and str in alternatives:
        allowed = [v for a in literals for v in typing.get_args(a)]
        return [] if value in allowed else [f"{path}: {_show(value)} is not one of {allowed}"]
    # A dict picks the class named by its `object` (expandable fields, polymorphic resources).
    if isinstance(value, dict):
        by_object = [a for a in alternatives if _object_name(a) == value.get("object")]
        if by_object:
            alternatives = by_object
    best: list[str] | None = None
    for alternative in alternatives:
        found = _check_value(alternative, value, path, owner)
        if not found:
            return []
        if best is None or len(found) < len(best):
            best = found
    return best or [f"{path}: {_show(value)} matches none of {[_name(a) for a in alternatives]}"]


def _object_name(annotation: Any) -> str | None:
    cls = typing.get_origin(annotation) or annotation
    return getattr(cls, "OBJECT_NAME", None) if inspect.isclass(cls) else None


def _is_decimal(text: str) -> bool:
    try:
        decimal.Decimal(text)
    except decimal.InvalidOperation:
        return False
    return True


def _wrong(path: str, expected: str, value: Any) -> str:
    return f"{path}: expected {expected}, got {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _name(annotation: Any) -> str:
    """`Optional[Union[Literal['a', 'b'], str]]` rather than `typing.Optional`, classes by short name."""
    if inspect.isclass(annotation):
        return annotation.__qualname__
    return re.sub(r"\b(?:typing|typing_extensions|stripe(?:\.\w+)*)\.", "", str(annotation))
