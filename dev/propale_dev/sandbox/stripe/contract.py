"""Request parameters checked against the installed `stripe` library's own params types.

Each API route names the `TypedDict` that the official Python library declares for that call
(`stripe.params.checkout.SessionCreateParams`, `stripe.params.CustomerListParams`…). Those types
are generated from Stripe's OpenAPI spec for the API version the library pins, so reading them at
run time makes the stand-in accept exactly what the pinned client may send: bumping `stripe` in the
lock moves the contract with it, and no list of parameter names is copied here.

What is checked, as Stripe answers it:
- every name, nested ones included: an unknown one is `parameter_unknown`, "Received unknown
  parameter: line_items[0][price_data][foo]" (Stripe's bracket notation, also in `param`);
- the shape: a hash where a hash is declared, an array where an array is declared;
- enums (`Literal[...]`): a value outside them is "Invalid mode: must be one of payment, setup, or
  subscription". The library types them `Literal[...] | str` so that older clients keep working
  when Stripe adds a value; the API itself accepts only the listed ones, and a number where the
  union also declares `int` (`cancel_at`: a timestamp or `min_period_end`);
- empty strings: Stripe reads `name=` as "unset name", allowed only where the spec says the param
  is emptyable (`Literal[""]` in the union), refused elsewhere with `parameter_invalid_empty`.
Value formats (integers, booleans, lengths, ids) stay with the handlers, which name the same param.
"""

from __future__ import annotations

import functools
import re
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Union

from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

from propale_dev.sandbox.stripe.errors import StripeError

# The params types inherit the client's per-request options (api_key, idempotency_key,
# stripe_version…); the library sends those as headers, never as request parameters.
CLIENT_OPTIONS = frozenset(RequestOptions.__annotations__)

_SCALARS = {str: "string", int: "integer", bool: "boolean", float: "number", Decimal: "decimal"}


@dataclass
class Param:
    """What one parameter may be; a union in the library's types merges into one `Param`."""

    typed_dict: type | None = None  # a hash with the names this TypedDict declares
    any_keys: bool = False  # a hash of free keys (metadata)
    item: Param | None = None  # an array of these
    scalar: str | None = None  # "string", "integer"… (the first declared, for messages)
    enum: tuple[str, ...] | None = None  # the values a `Literal` allows
    emptyable: bool = False  # `Literal[""]` in the union: `name=` unsets the param
    integer: bool = False  # `int` in the union: a number is accepted next to the enum (`cancel_at`)
    anything: bool = False  # `Any`: nothing to check


def schema(params_class: type) -> dict[str, Param]:
    """The parameters a `stripe.params` class declares, client options left out (cached per class)."""
    return _fields(params_class)


def validate(params: dict[str, Any], params_class: type) -> None:
    """Raises Stripe's error for the first parameter the pinned library does not define."""
    _check_object(params, params_class, "")


def validate_names(params: dict[str, Any], allowed: frozenset[str]) -> None:
    """Top-level names only, for the sandbox's own endpoints (which no params class describes)."""
    for name in params:
        if name not in allowed:
            raise _unknown(name)


# resolving the library's types ------------------------------------------------------------
@functools.cache
def _fields(typed_dict: type) -> dict[str, Param]:
    """Resolved on first use: some params classes nest hundreds of TypedDicts."""
    module = sys.modules[typed_dict.__module__]
    own = {k: v for k, v in typed_dict.__annotations__.items() if k not in CLIENT_OPTIONS}
    # Resolved on a stand-in holding only the request params: the forward references live in the
    # params module, while the inherited client options refer to names imported only for typing.
    holder = types.SimpleNamespace(__annotations__=own)
    hints = typing.get_type_hints(holder, globalns=vars(module))  # strips NotRequired/Required
    return {name: _param(hint) for name, hint in hints.items()}


def _param(hint: Any) -> Param:
    param = Param()
    enum: list[str] = []
    _merge(param, hint, enum)
    if enum:
        param.enum = tuple(dict.fromkeys(enum))
        param.scalar = param.scalar or "string"
    return param


def _merge(param: Param, hint: Any, enum: list[str]) -> None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        for alternative in args:
            _merge(param, alternative, enum)
    elif origin is Literal:
        for value in args:
            if value == "":
                param.emptyable = True
            else:
                enum.append(str(value).lower() if isinstance(value, bool) else str(value))
    elif hint is typing.Any or hint is object:
        param.anything = True
    elif is_typeddict(hint):
        param.typed_dict = hint
    elif origin is list or hint is list:
        param.item = _param(args[0]) if args else Param(anything=True)
    elif origin is dict or hint is dict or _is_untyped_object(hint):
        param.any_keys = True
    elif hint in _SCALARS:
        # `str` next to a `Literal` is the library's tolerance for future values, not the API's.
        param.scalar = param.scalar or _SCALARS[hint]
        param.integer = param.integer or hint is int
    elif hint is not type(None):
        raise TypeError(f"contract: unsupported type in stripe params: {hint!r}")


def _is_untyped_object(hint: Any) -> bool:
    cls = typing.get_origin(hint) or hint
    return isinstance(cls, type) and issubclass(cls, UntypedStripeObject)


# checking a request -----------------------------------------------------------------------
def _name(path: str, key: str) -> str:
    return f"{path}[{key}]" if path else key


def _unknown(name: str) -> StripeError:
    return StripeError(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def _check_object(values: dict[str, Any], typed_dict: type, path: str) -> None:
    fields = _fields(typed_dict)
    for key in values:
        if key not in fields:
            raise _unknown(_name(path, key))
    for key, value in values.items():
        _check(value, fields[key], _name(path, key))


def _check(value: Any, param: Param, name: str) -> None:
    if param.anything:
        return
    if value == "":
        if param.emptyable or param.any_keys:
            return
        # https://github.com/mage2pro/stripe/issues/67 quotes Stripe's answer word for word.
        raise StripeError(
            f"You passed an empty string for '{name}'. We assume empty values are an attempt to unset a "
            f"parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or "
            "supply a non-empty value.",
            param=name,
            code="parameter_invalid_empty",
        )
    if isinstance(value, dict):
        if param.typed_dict is not None:
            _check_object(value, param.typed_dict, name)
        elif not param.any_keys:
            raise _wrong_shape(param, name)
    elif isinstance(value, list):
        if param.item is not None:
            for index, item in enumerate(value):
                _check(item, param.item, f"{name}[{index}]")
        elif not param.any_keys:  # metadata[0]=… decodes as a list
            raise _wrong_shape(param, name)
    elif param.scalar is None:
        raise _wrong_shape(param, name)
    elif param.enum is not None and value not in param.enum and not (param.integer and _is_integer(value)):
        raise StripeError(f"Invalid {name}: must be one of {_one_of(param.enum)}", param=name)


def _is_integer(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"-?\d+", value))


def _wrong_shape(param: Param, name: str) -> StripeError:
    if param.item is not None:
        expected = "array"
    elif param.typed_dict is not None or param.any_keys:
        expected = "hash"
    else:
        expected = param.scalar or "string"
    return StripeError(f"Invalid {expected}", param=name)


def _one_of(values: tuple[str, ...]) -> str:
    """Stripe's enumeration, e.g. "payment, setup, or subscription" (as stripe-ruby-mock quotes it:
    github.com/stripe-ruby-mock/stripe-ruby-mock lib/stripe_mock/request_handlers/checkout_session.rb)."""
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return f"{values[0]} or {values[1]}"
    return ", ".join(values[:-1]) + f", or {values[-1]}"
