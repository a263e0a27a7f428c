"""Hosted pages: Checkout (`/c/pay/{session}`), invoices (`/invoice/{id}`, `/invoice/{id}/pdf`) and
receipts (`/receipts/payment/{charge}`, `…/pdf`).

The Checkout page is a plain form (no JavaScript) with Stripe's field ids, so a headless browser
or an HTTP client can fill and submit it. Paying here is the same as the test helper.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.stripe import checkout, completion, i18n, pdf, test_instruments
from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError

templates = Environment(
    loader=PackageLoader("propale_dev.sandbox", "templates"), autoescape=select_autoescape(["html"])
)


def _html(template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(template).render(**context), status_code=http_status)


def _notice(lang: str, which: str, status: int = 200, link: str | None = None) -> HTMLResponse:
    heading, message = i18n.NOTICES[lang][which]
    return _html(
        "stripe_notice.html", status, lang=lang, heading=heading, message=message, link=link,
        link_text=i18n.NOTICES[lang]["return"],
    )  # fmt: skip


def _taxes(stripe: Stripe, entries: list[dict[str, Any]], currency: str, lang: str) -> list[dict[str, str]]:
    result = []
    for entry in entries:
        rate = stripe.find("tax_rate", entry["tax_rate_details"]["tax_rate"]) or {
            "display_name": "Tax",
            "percentage": 0,
        }
        pct = f"{rate['percentage']:g}".replace(".", ",") if lang == "fr" else f"{rate['percentage']:g}"
        suffix = " (incluse)" if entry["tax_behavior"] == "inclusive" and lang == "fr" else ""
        result.append(
            {"label": f"{rate['display_name']} {pct} %{suffix}", "amount": i18n.money(entry["amount"], currency, lang)}
        )
    return result


# Checkout ---------------------------------------------------------------------------------
def _checkout_context(stripe: Stripe, session: dict[str, Any], lang: str) -> dict[str, Any]:
    items = checkout.session_extras(stripe, session["id"])["data"]
    currency = session["currency"]
    totals: dict[str, dict[str, Any]] = {}
    for item in items:
        for tax in item["taxes"]:
            entry = totals.setdefault(
                tax["rate"]["id"],
                {"tax_rate_details": {"tax_rate": tax["rate"]["id"]}, "amount": 0,
                 "tax_behavior": "inclusive" if tax["rate"]["inclusive"] else "exclusive"},
            )  # fmt: skip
            entry["amount"] += tax["amount"]
    customer = stripe.find("customer", session.get("customer"))
    return {
        "lang": lang,
        "t": i18n.CHECKOUT[lang],
        "account_name": stripe.account()["name"],
        "mode": session["mode"],
        "lines": [
            {
                "name": item["description"],
                "quantity": item["quantity"],
                "amount": i18n.money(item["amount_subtotal"], currency, lang),
                "every": i18n.every(item["price"].get("recurring"), lang),
            }
            for item in items
        ],
        "subtotal": i18n.money(session["amount_subtotal"], currency, lang),
        "taxes": _taxes(stripe, list(totals.values()), currency, lang),
        "total": i18n.money(session["amount_total"], currency, lang),
        "methods": session["payment_method_types"],
        "email_fixed": (customer or {}).get("email") or session.get("customer_email"),
        "cancel_url": session.get("cancel_url"),
        "action": f"/c/pay/{session['id']}",
    }


def _parse_expiry(text: str) -> tuple[int, int] | None:
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 4:
        return int(digits[:2]), 2000 + int(digits[2:])
    if len(digits) == 6:
        return int(digits[:2]), int(digits[2:])
    return None


def _payment_from_form(form: dict[str, str], methods: list[str], lang: str) -> completion.PaymentInput | str:
    """The payment the form describes, or the reason (a MESSAGES key) it can't be tried."""
    card = test_instruments.normalise_card(form.get("cardNumber", ""))
    iban = test_instruments.normalise_iban(form.get("iban", ""))
    method = form.get("payment_method")
    # A payer who typed only an IBAN (or only a card) meant that method, whatever the radio says.
    if card and not iban and "card" in methods:
        method = "card"
    elif iban and not card and "sepa_debit" in methods:
        method = "sepa_debit"
    if method not in methods:
        method = methods[0] if len(methods) == 1 else None
    if method is None:
        return "method_missing"
    name = form.get("billingName", "").strip() or None
    email = form.get("email", "").strip() or None
    if method == "card":
        if not card:
            return "incorrect_number"
        expiry = _parse_expiry(form.get("cardExpiry", ""))
        if expiry is None or not 1 <= expiry[0] <= 12:
            return "expiry_incomplete"
        today = datetime.now(UTC)
        if (expiry[1], expiry[0]) < (today.year, today.month):
            return "expiry_past"
        if not re.fullmatch(r"\d{3,4}", form.get("cardCvc", "").strip()):
            return "cvc_incomplete"
        return completion.PaymentInput(
            "card", card_number=card, exp_month=expiry[0], exp_year=expiry[1], name=name, email=email
        )
    if not iban:
        return "iban_invalid"
    if not name:
        return "name_missing"
    return completion.PaymentInput("sepa_debit", iban=iban, name=name, email=email)


def _error_text(error: StripeError, lang: str) -> str:
    messages = i18n.MESSAGES[lang]
    reason = getattr(error, "reason", None) or error.extra.get("decline_code") or error.code or ""
    return messages.get(reason) or messages.get(error.code or "") or error.message


def routes(stripe: Stripe) -> list[Route]:
    async def checkout_page(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
        with stripe.lock:
            session = stripe.find("checkout.session", session_id)
            if session is None:
                return _notice("fr", "missing", 404)
            session = checkout.fresh(stripe, session_id)
            lang = i18n.language(session.get("locale"))
            if session["status"] != "open":
                return _notice(
                    lang,
                    "expired" if session["status"] == "expired" else "complete",
                    410 if session["status"] == "expired" else 200,
                )
            error = None
            chosen = form.get("payment_method") or session["payment_method_types"][0]
            if request.method == "POST":
                payment = _payment_from_form(form, session["payment_method_types"], lang)
                if isinstance(payment, str):
                    error = i18n.MESSAGES[lang][payment]
                else:
                    chosen = payment.method
                    try:
                        session = completion.complete(stripe, session_id, payment)
                    except StripeError as exc:
                        error = _error_text(exc, lang)
                    else:
                        if session.get("success_url"):
                            url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
                            return RedirectResponse(url, status_code=303)
                        return _notice(lang, "thanks")
            context = _checkout_context(stripe, session, lang)
        form.pop("cardCvc", None)  # never echo a security code back
        defaults = {"email": "", "cardNumber": "", "cardExpiry": "", "cardCvc": "", "iban": "", "billingName": ""}
        return _html(
            "stripe_checkout.html",
            402 if error else 200,
            form={**defaults, **form},
            error=error,
            chosen=chosen,
            **context,
        )

    async def pdf_response(template: str, context: dict[str, Any], filename: str) -> Response:
        """A page's template printed to PDF (off the event loop: WeasyPrint takes a while)."""
        data = await run_in_threadpool(pdf.render, templates.get_template(template).render(**context))
        return Response(
            data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    async def invoice_page(request: Request) -> Response:
        with stripe.lock:
            context = _invoice_context(stripe, request.path_params["invoice_id"], pdf=False)
        if context is None:
            return _notice("fr", "missing", 404)
        return _html("stripe_invoice.html", **context)

    async def invoice_pdf(request: Request) -> Response:
        with stripe.lock:
            context = _invoice_context(stripe, request.path_params["invoice_id"], pdf=True)
        if context is None:
            return _notice("fr", "missing", 404)
        filename = f"Facture-{context['invoice']['number'] or context['invoice']['id']}.pdf"
        return await pdf_response("stripe_invoice.html", context, filename)

    async def receipt_page(request: Request) -> Response:
        with stripe.lock:
            context = _receipt_context(stripe, request.path_params["charge_id"], pdf=False)
        if context is None:
            return _notice("fr", "missing", 404)
        return _html("stripe_receipt.html", **context)

    async def receipt_pdf(request: Request) -> Response:
        with stripe.lock:
            context = _receipt_context(stripe, request.path_params["charge_id"], pdf=True)
        if context is None:
            return _notice("fr", "missing", 404)
        return await pdf_response("stripe_receipt.html", context, f"Recu-{context['receipt_number']}.pdf")

    return [
        Route("/c/pay/{session_id}", checkout_page, methods=["GET", "POST"]),
        Route("/invoice/{invoice_id}", invoice_page),
        Route("/invoice/{invoice_id}/pdf", invoice_pdf),
        Route("/receipts/payment/{charge_id}", receipt_page),
        Route("/receipts/payment/{charge_id}/pdf", receipt_pdf),
    ]


# invoices and receipts ---------------------------------------------------------------------
# How a French invoice names the customer's tax IDs (Stripe prints them in the invoice's header).
TAX_ID_LABELS = {"eu_vat": "N° TVA", "fr_siren": "SIREN"}
STATUS_FR = {
    "draft": "Brouillon",
    "open": "À payer",
    "paid": "Payée",
    "uncollectible": "Irrécouvrable",
    "void": "Annulée",
}


def _invoice_context(stripe: Stripe, invoice_id: str, *, pdf: bool) -> dict[str, Any] | None:
    invoice = stripe.find("invoice", invoice_id)
    if invoice is None or invoice.get("deleted"):
        return None
    lang, currency = "fr", invoice["currency"]
    lines = _invoice_lines(stripe, invoice)
    address = invoice.get("customer_address") or {}
    charges = [
        stripe.find(
            "charge", (stripe.find("payment_intent", p["payment"]["payment_intent"]) or {}).get("latest_charge")
        )
        for p in stripe.all("invoice_payment")
        if p["invoice"] == invoice_id and p["status"] == "paid"
    ]
    town = " ".join(v for v in (address.get("postal_code"), address.get("city")) if v)
    country = address.get("country")
    return {
        "lang": lang,
        "pdf": pdf,
        "invoice": invoice,
        "account_name": invoice["account_name"],
        "issued": i18n.date(invoice["status_transitions"]["finalized_at"] or invoice["created"]),
        "due": i18n.date(invoice.get("due_date")),
        "status": STATUS_FR.get(invoice["status"], invoice["status"]),
        "paid_on": i18n.date(invoice["status_transitions"]["paid_at"]),
        "address_lines": [
            v for v in (address.get("line1"), address.get("line2"), town, country and i18n.country(country)) if v
        ],
        "tax_ids": [
            f"{TAX_ID_LABELS.get(t['type'], t['type'])}\u00a0: {t['value']}" for t in invoice["customer_tax_ids"] or []
        ],
        "custom_fields": [f"{f['name']}\u00a0: {f['value']}" for f in invoice["custom_fields"] or []],
        "lines": lines,
        "subtotal": i18n.money(invoice["subtotal"], currency),
        "taxes": _taxes(stripe, invoice["total_taxes"] or [], currency, lang),
        "total": i18n.money(invoice["total"], currency),
        "paid": i18n.money(invoice["amount_paid"], currency),
        "remaining": i18n.money(invoice["amount_remaining"], currency),
        "receipts": [c["receipt_url"] for c in charges if c],
    }


def _invoice_lines(stripe: Stripe, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines as a French reader expects them: product name, service period, unit price, VAT rate."""
    currency = invoice["currency"]
    lines = []
    for line in invoice["lines"]["data"]:
        product = stripe.find("product", line["pricing"]["price_details"]["product"]) if line.get("pricing") else None
        recurring = line["parent"]["type"] == "subscription_item_details"
        pct = ", ".join(
            f"{(stripe.find('tax_rate', t['tax_rate_details']['tax_rate']) or {}).get('percentage', 0):g} %".replace(
                ".", ","
            )
            for t in line["taxes"]
        )
        lines.append(
            {
                # Stripe's own description of a subscription line is English ("1 × … (at €…/ month)").
                "name": product["name"] if product and recurring else line["description"],
                "period": f"du {i18n.date(line['period']['start'])} au {i18n.date(line['period']['end'])}"
                if recurring
                else "",
                "quantity": line["quantity"],
                "unit": i18n.money(int(line["pricing"]["unit_amount_decimal"]), currency)
                if line.get("pricing")
                else "",
                "tax": pct,
                "amount": i18n.money(line["amount"], currency),
            }
        )
    return lines


def _receipt_context(stripe: Stripe, charge_id: str, *, pdf: bool) -> dict[str, Any] | None:
    charge = stripe.find("charge", charge_id)
    if charge is None:
        return None
    details = charge["payment_method_details"]
    if details["type"] == "card":
        method = f"{details['card']['brand'].replace('_', ' ').title()} •••• {details['card']['last4']}"
    else:
        method = f"Prélèvement SEPA •••• {details['sepa_debit']['last4']}"
    record = next(
        (p for p in stripe.all("invoice_payment") if p["payment"]["payment_intent"] == charge["payment_intent"]), None
    )
    invoice = stripe.find("invoice", record["invoice"]) if record else None
    currency = charge["currency"]
    lines = _invoice_lines(stripe, invoice) if invoice else []
    status = {"succeeded": "Payé", "pending": "En cours de traitement", "failed": "Échoué"}[charge["status"]]
    return {
        "lang": "fr",
        "pdf": pdf,
        "account_name": stripe.account()["name"],
        "receipt_number": charge.get("receipt_number") or charge["id"][-8:].upper(),
        "amount": i18n.money(charge["amount"], currency),
        "date": i18n.date(charge["created"]),
        "method": method,
        "invoice_number": invoice["number"] if invoice else None,
        "status": status,
        "lines": lines,
        "taxes": _taxes(stripe, invoice["total_taxes"] or [], currency, "fr") if invoice else [],
        "pdf_url": f"{stripe.base_url}/receipts/payment/{charge['id']}/pdf",
    }
