"""A customer played over HTTP, as a person would go: the proposal email in the sandbox mailbox,
the link in it, the customer page's button for a way to pay, then the Stripe stand-in's hosted
Checkout page with a test card or IBAN.

Used by `propale demo`, the chaos test and the benchmarks, so that all of them exercise the doors
customers use rather than the ledger behind them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

# Stripe's documented test instruments that succeed.
TEST_CARD = {"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34", "cardCvc": "123"}
TEST_IBAN = "FR1420041010050500013M02606"


class JourneyError(Exception):
    """A page did not answer as a customer expects; the message says which and how."""


# The status of the customer page's "try again in a few minutes" pages (Stripe unreachable).
TRY_AGAIN = 503


class Customer:
    """One browser (cookies, redirects by hand) walking through the customer's pages.

    A patient customer (`tries_after_error` > 0) who meets a page asking to try again later
    (Stripe failing even after Propale's retries) waits `patience_s` and does the same thing again;
    `error_pages` counts the pages met. By default the first such page ends the journey."""

    def __init__(
        self,
        mailbox_url: str,
        public_url: str,
        user_agent: str = "propale-sandbox-customer",
        tries_after_error: int = 0,
        patience_s: float = 5,
    ):
        self.mailbox_url = mailbox_url
        self.public_url = public_url
        self.browser = httpx.Client(timeout=30, follow_redirects=False, headers={"User-Agent": user_agent})
        self.tries_after_error = tries_after_error
        self.patience_s = patience_s
        self.error_pages = 0

    def __enter__(self) -> Customer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.browser.close()

    def proposal_link(self, address: str, number: str) -> str:
        """The customer page's address in the newest email to `address` about proposal `number`."""
        messages = httpx.get(f"{self.mailbox_url}/api/messages", params={"to": address}).json()
        message = next((m for m in messages if number and number in m["subject"]), None)
        if message is None:
            raise JourneyError(f"no email about {number or 'the proposal'} reached {address}")
        text = httpx.get(f"{self.mailbox_url}/api/messages/{message['id']}").json()["text"]
        found = re.search(re.escape(self.public_url) + r"/p/[^\s<>\"')]+", text)
        if found is None:
            raise JourneyError(f"the email about {number} has no link to the customer page")
        return found.group(0)

    def accept(self, link: str, method: str) -> str:
        """Click the button of `method` on the proposal page; the Checkout page's address."""
        page = _expect(self.browser.get(link), 200, "the proposal page")
        form = next((f for f in _forms(page.text) if method in f.methods), None)
        if form is None:
            raise JourneyError(f"the proposal page has no « {method} » button")
        clicked = self._patiently(
            lambda: self.browser.post(urljoin(link, form.action), data=form.fields, headers={"Origin": _origin(link)}),
            303,
            "accepting the proposal",
        )
        return clicked.headers["location"]

    def pay(self, checkout_url: str, method: str, name: str) -> str:
        """Fill in the hosted Checkout page with a test instrument; the Checkout Session's id."""
        checkout = _expect(self.browser.get(checkout_url), 200, "the Checkout page")
        [pay_form] = _forms(checkout.text)
        fields = {**pay_form.fields, "payment_method": method, "billingName": name}
        fields.update(TEST_CARD if method == "card" else {"iban": TEST_IBAN})
        paid = _expect(self.browser.post(urljoin(checkout_url, pay_form.action), data=fields), 303, "paying")
        self._patiently(lambda: self.browser.get(paid.headers["location"]), 200, "the thank-you page")
        return checkout_url.rstrip("/").rsplit("/", 1)[1]

    def _patiently(self, visit: Callable[[], httpx.Response], status: int, what: str) -> httpx.Response:
        response = visit()
        for _ in range(self.tries_after_error):
            if response.status_code != TRY_AGAIN:
                break
            self.error_pages += 1
            time.sleep(self.patience_s)
            response = visit()
        return _expect(response, status, what)

    def accept_and_pay(self, address: str, number: str, method: str, name: str) -> str:
        """From the email to the thank-you page; the Checkout Session's id."""
        try:
            return self.pay(self.accept(self.proposal_link(address, number), method), method, name)
        except JourneyError as error:
            raise JourneyError(f"proposal {number}: {error}") from None


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)  # the `data-method` of its buttons


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._open: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = _Form(a.get("action", ""))
            self.forms.append(self._open)
        elif self._open is not None:
            if tag == "input" and a.get("name") and a.get("type") not in ("radio", "checkbox"):
                self._open.fields[a["name"]] = a.get("value", "")
            elif tag == "button" and a.get("data-method"):
                self._open.methods.append(a["data-method"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise JourneyError(f"{what}: HTTP {response.status_code} instead of {status} ({response.request.url})")
    return response
