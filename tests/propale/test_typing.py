"""Stripe calls are typed against the `stripe` package's own parameter TypedDicts (`stripe.params`),
so `make lint` (mypy) refuses a parameter the pinned client's API version removed or never had.

The proof: the Checkout Session call that broke at API version 2026-09-30.endive, written both ways
Propale writes Stripe calls (a literal, and a dict annotated with the service's CreateParams as in
propale/billing.py). mypy reports `payment_method_types` and accepts `allowed_payment_method_types`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

# Long: mypy reads the whole `stripe` package first, about 20 to 30 s on an empty cache (1.5 s once
# `make lint` has filled it). `make lint` itself is the guard of Propale's own calls.
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]

CHECKOUT_CALL = """\
import stripe
from stripe.params.checkout import SessionCreateParams

client = stripe.StripeClient("sk_test_typing")
client.v1.checkout.sessions.create(
    {{"mode": "payment", "{key}": ["card"], "success_url": "https://example.test/merci"}}
)
params: SessionCreateParams = {{"mode": "payment", "{key}": ["card"], "success_url": "https://example.test/merci"}}
client.v1.checkout.sessions.create(params)
"""


def _mypy(tmp_path: Path, payment_methods_key: str) -> tuple[str, int]:
    snippet = tmp_path / f"checkout_call_{payment_methods_key}.py"
    snippet.write_text(CHECKOUT_CALL.format(key=payment_methods_key))
    # The project's configuration (strict) and cache: `stripe` is then read from the cache that
    # `make lint` fills, a second or two instead of about 20 the first time. The snippet replaces
    # the configured `files`; the cache directory is given whole as the configured one is relative.
    config, cache = ROOT / "pyproject.toml", ROOT / ".venv" / ".mypy_cache"
    stdout, stderr, status = api.run(["--config-file", str(config), "--cache-dir", str(cache), str(snippet)])
    assert not stderr, stderr
    return stdout, status


def test_mypy_refuses_a_parameter_stripe_removed(tmp_path: Path) -> None:
    report, status = _mypy(tmp_path, "payment_method_types")
    assert status == 1, report
    errors = [line.split(": error: ")[1] for line in report.splitlines() if ": error: " in line]
    # The literal: no TypedDict matches it (mypy names the argument, not the key).
    assert errors[0].startswith('Argument 1 to "create" of "SessionService" has incompatible type'), report
    # The annotated dict, as propale/billing.py writes it: the key is named.
    assert errors[1].startswith('Extra key "payment_method_types" for TypedDict "SessionCreateParams"'), report
    assert len(errors) == 2, report


def test_mypy_accepts_the_parameter_that_replaced_it(tmp_path: Path) -> None:
    report, status = _mypy(tmp_path, "allowed_payment_method_types")
    assert status == 0, report
    assert report.startswith("Success"), report
