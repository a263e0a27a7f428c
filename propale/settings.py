"""Propale's settings, read from the Airflow Variables named in docs/contract.md.

`Settings.load` takes a getter instead of importing Airflow, so the DAGs pass
`lambda name: Variable.get(name, default=None)` and tests pass a dict's `.get`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from propale.money import is_known_currency

PAYMENT_METHODS = ("card", "sepa_debit")
DEFAULT_PAYMENT_METHODS = ("card", "sepa_debit")
DEFAULT_VALIDITY_DAYS = 30
DEFAULT_PAYMENT_WINDOW_DAYS = 14
DEFAULT_CURRENCY = "eur"
# Only ever used when the customer links point at this machine: nobody outside can open them, so a
# well-known key protects nothing that needs protecting, and the sandbox works with no setup.
SANDBOX_SECRET_KEY = "propale-sandbox-secret-key-not-for-production-use"
SANDBOX_FORM_KEY = "propale-sandbox-form-key-not-for-production-use"
MIN_SECRET_KEY_LENGTH = 32
SELLER_REQUIRED_FIELDS = ("name", "address", "siren", "vat_number", "email")
SELLER_OPTIONAL_FIELDS = ("phone", "logo_url", "legal_mentions", "late_payment_penalties", "vat_exemption_mention")


class SettingsError(ValueError):
    """A Propale setting is missing or malformed; the message names the variable.

    `variable` is the Airflow Variable at fault; for a JSON setting, `missing` and `invalid` name
    its fields at fault, so that what the sales team is told can name them in their words.
    """

    def __init__(self, message: str, variable: str, *, missing: tuple[str, ...] = (), invalid: tuple[str, ...] = ()):
        super().__init__(message)
        self.variable, self.missing, self.invalid = variable, missing, invalid


@dataclass(frozen=True)
class Seller:
    """The company issuing proposals, as printed on every document."""

    name: str
    address_lines: tuple[str, ...]
    siren: str
    vat_number: str
    email: str
    phone: str | None = None
    logo_url: str | None = None
    legal_mentions: str | None = None
    # The invoice mentions French law requires that Propale cannot infer (article L441-9 of the Code
    # de commerce, article 242 nonies A of annex II to the CGI): the late-payment penalty rate agreed
    # with customers, and the legal ground of a 0 % VAT line ("Autoliquidation", "TVA non
    # applicable, art. 293 B du CGI"…). See `propale.invoice_mentions` for how they are printed.
    late_payment_penalties: str | None = None
    vat_exemption_mention: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["address_lines"] = list(self.address_lines)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Seller:
        return cls(**{**data, "address_lines": tuple(data["address_lines"])})


@dataclass(frozen=True)
class Settings:
    public_url: str
    db_url: str
    # propale_secret_key, the DAGs' key for customer links; None in the customer page (`load_for_page`).
    secret_key: str | None
    seller: Seller
    validity_days: int = DEFAULT_VALIDITY_DAYS
    # How long an accepted proposal may stay unpaid before its Checkout Sessions are closed.
    payment_window_days: int = DEFAULT_PAYMENT_WINDOW_DAYS
    payment_methods: tuple[str, ...] = DEFAULT_PAYMENT_METHODS
    currency: str = DEFAULT_CURRENCY
    # propale_form_key, the customer page's key for its forms (CSRF); None in the DAGs (`load`).
    form_key: str | None = None

    @property
    def link_key(self) -> str:
        """The key that seals customer links (and derived those issued before links were random)."""
        if self.secret_key is None:
            raise SettingsError(
                "propale_secret_key is only read by the DAGs, not by the customer page.", "propale_secret_key"
            )
        return self.secret_key

    @property
    def csrf_key(self) -> str:
        """The key that signs the customer page's accept forms: never the link key, so that the page,
        which faces the internet, cannot make or read links."""
        if self.form_key is None:
            raise SettingsError(
                "propale_form_key is only read by the customer page, not by the DAGs.", "propale_form_key"
            )
        return self.form_key

    @property
    def is_sandbox(self) -> bool:
        """True when customer links point at this machine (the sandbox or a developer's laptop)."""
        return _is_loopback(urlsplit(self.public_url).hostname or "")

    def proposal_url(self, token: str) -> str:
        return f"{self.public_url}/p/{token}"

    @classmethod
    def load(
        cls,
        get: Callable[[str], str | None],
        environ: Mapping[str, str] = os.environ,
    ) -> Settings:
        """The DAGs' settings: with the link key (propale_secret_key), without the form key."""
        return cls._load(get, environ, for_page=False)

    @classmethod
    def load_for_page(
        cls,
        get: Callable[[str], str | None],
        environ: Mapping[str, str] = os.environ,
    ) -> Settings:
        """The customer page's settings: with its form key (propale_form_key), without the link key,
        which it never needs (it finds a proposal by its link's hash)."""
        return cls._load(get, environ, for_page=True)

    @classmethod
    def _load(cls, get: Callable[[str], str | None], environ: Mapping[str, str], *, for_page: bool) -> Settings:
        public_url = _public_url(get)
        sandbox = _is_loopback(urlsplit(public_url).hostname or "")
        return cls(
            public_url=public_url,
            db_url=_text(get, "propale_db_url") or default_db_url(environ),
            secret_key=None if for_page else _secret_key(get, sandbox=sandbox),
            form_key=_form_key(get, sandbox=sandbox) if for_page else None,
            seller=_seller(get),
            validity_days=_validity_days(get),
            payment_window_days=_payment_window_days(get),
            payment_methods=_payment_methods(get),
            currency=_currency(get),
        )


def default_db_url(environ: Mapping[str, str] = os.environ) -> str:
    airflow_home = Path(environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()
    return f"sqlite:///{airflow_home / 'propale.db'}"


def _text(get: Callable[[str], str | None], name: str) -> str | None:
    """The variable's value with surrounding blanks removed; None when unset or blank."""
    value = get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be text, got {type(value).__name__}.", name)
    return value.strip() or None


def _required(get: Callable[[str], str | None], name: str, what: str) -> str:
    value = _text(get, name)
    if value is None:
        raise SettingsError(f"{name} is not set: set the Airflow Variable to {what}.", name)
    return value


def _json(get: Callable[[str], str | None], name: str) -> Any:
    value = _text(get, name)
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{name} is not valid JSON ({error.msg} at character {error.pos}).", name) from None


def _public_url(get: Callable[[str], str | None]) -> str:
    name = "propale_public_url"
    url = _required(get, name, "the public base URL of the customer page, e.g. https://propale.example.fr")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{name} must be an absolute http(s) URL such as https://propale.example.fr, got {url!r}.", name
        )
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must not have a query string or fragment, got {url!r}.", name)
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret_key(get: Callable[[str], str | None], *, sandbox: bool) -> str:
    name = "propale_secret_key"
    key = _text(get, name)
    if key is None:
        if sandbox:
            return SANDBOX_SECRET_KEY
        raise SettingsError(
            f"{name} is not set: it is required when propale_public_url is not on this machine. "
            f"Set it to a long random value, e.g. the output of "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
            name,
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"{name} is too short: use at least {MIN_SECRET_KEY_LENGTH} random characters.", name)
    return key


def _form_key(get: Callable[[str], str | None], *, sandbox: bool) -> str:
    name = "propale_form_key"
    key = _text(get, name)
    if key is None:
        if sandbox:
            return SANDBOX_FORM_KEY
        raise SettingsError(
            f"{name} is not set: the customer page needs it when propale_public_url is not on this machine. "
            f"Set it to a long random value, other than propale_secret_key, e.g. the output of "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
            name,
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"{name} is too short: use at least {MIN_SECRET_KEY_LENGTH} random characters.", name)
    return key


def _seller(get: Callable[[str], str | None]) -> Seller:
    name = "propale_seller"
    data = _json(get, name)
    if data is None:
        raise SettingsError(
            f"{name} is not set: set it to a JSON object with {', '.join(SELLER_REQUIRED_FIELDS)} "
            f"(and optionally {', '.join(SELLER_OPTIONAL_FIELDS)}).",
            name,
            missing=SELLER_REQUIRED_FIELDS,
        )
    if not isinstance(data, dict):
        raise SettingsError(f"{name} must be a JSON object, got a JSON {type(data).__name__}.", name)
    unknown = sorted(set(data) - set(SELLER_REQUIRED_FIELDS) - set(SELLER_OPTIONAL_FIELDS))
    if unknown:
        raise SettingsError(f"{name} has unknown field(s): {', '.join(unknown)}.", name)
    missing = [field for field in SELLER_REQUIRED_FIELDS if not _is_filled(data.get(field))]
    if missing:
        raise SettingsError(f"{name} is missing required field(s): {', '.join(missing)}.", name, missing=tuple(missing))
    for field in ("name", "siren", "vat_number", "email", *SELLER_OPTIONAL_FIELDS):
        if data.get(field) is not None and not isinstance(data[field], str):
            raise SettingsError(f"{name}.{field} must be a JSON string.", name, invalid=(field,))

    address = data["address"]
    if isinstance(address, str):
        address_lines = tuple(line.strip() for line in address.splitlines() if line.strip())
    elif isinstance(address, list) and all(isinstance(line, str) for line in address):
        address_lines = tuple(line.strip() for line in address if line.strip())
    else:
        raise SettingsError(
            f"{name}.address must be a string (lines separated by newlines) or a list of strings.",
            name,
            invalid=("address",),
        )

    siren = re.sub(r"\s", "", data["siren"])
    if not re.fullmatch(r"\d{9}", siren):
        raise SettingsError(
            f"{name}.siren must be the 9 digits of a SIREN number, got {data['siren']!r}.", name, invalid=("siren",)
        )

    try:
        email = validate_email(data["email"].strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise SettingsError(f"{name}.email is not a valid email address: {error}", name, invalid=("email",)) from None

    logo_url = (data.get("logo_url") or "").strip() or None
    if logo_url and urlsplit(logo_url).scheme not in ("https", "http", "data"):
        raise SettingsError(
            f"{name}.logo_url must be an http(s) or data: URL, got {logo_url!r}.", name, invalid=("logo_url",)
        )

    return Seller(
        name=data["name"].strip(),
        address_lines=address_lines,
        siren=siren,
        vat_number=re.sub(r"\s", "", data["vat_number"]).upper(),
        email=email,
        phone=(data.get("phone") or "").strip() or None,
        logo_url=logo_url,
        legal_mentions=(data.get("legal_mentions") or "").strip() or None,
        late_payment_penalties=(data.get("late_payment_penalties") or "").strip() or None,
        vat_exemption_mention=(data.get("vat_exemption_mention") or "").strip() or None,
    )


def _is_filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return any(isinstance(line, str) and line.strip() for line in value)
    return value is not None


def _validity_days(get: Callable[[str], str | None]) -> int:
    name = "propale_validity_days"
    value = _text(get, name)
    if value is None:
        return DEFAULT_VALIDITY_DAYS
    if not re.fullmatch(r"\d+", value) or not 1 <= int(value) <= 365:
        raise SettingsError(f"{name} must be a whole number of days between 1 and 365, got {value!r}.", name)
    return int(value)


def _payment_window_days(get: Callable[[str], str | None]) -> int:
    name = "propale_payment_window_days"
    value = _text(get, name)
    if value is None:
        return DEFAULT_PAYMENT_WINDOW_DAYS
    if not re.fullmatch(r"\d+", value) or not 1 <= int(value) <= 365:
        raise SettingsError(f"{name} must be a whole number of days between 1 and 365, got {value!r}.", name)
    return int(value)


def _payment_methods(get: Callable[[str], str | None]) -> tuple[str, ...]:
    name = "propale_payment_methods"
    methods = _json(get, name)
    if methods is None:
        return DEFAULT_PAYMENT_METHODS
    allowed = " and ".join(f'"{method}"' for method in PAYMENT_METHODS)
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise SettingsError(f'{name} must be a non-empty JSON list of {allowed}, e.g. ["card", "sepa_debit"].', name)
    unknown = [method for method in methods if method not in PAYMENT_METHODS]
    if unknown:
        raise SettingsError(
            f"{name} contains unsupported method(s) {', '.join(unknown)}: only {allowed} are supported.", name
        )
    if len(set(methods)) != len(methods):
        raise SettingsError(f"{name} lists a method more than once.", name)
    return tuple(methods)


def _currency(get: Callable[[str], str | None]) -> str:
    name = "propale_currency"
    value = _text(get, name)
    if value is None:
        return DEFAULT_CURRENCY
    if not is_known_currency(value):
        raise SettingsError(f"{name} must be an ISO 4217 currency code such as eur, got {value!r}.", name)
    return value.lower()
