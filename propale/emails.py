"""Propale's emails as complete `EmailMessage`s, ready for the SMTP connection to send as-is.

The proposal to the customer, the paid invoice with its receipt to the customer, and the team's
notifications (acceptance, failed payment…) to the deal's rep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from propale.proposals import ProposalSnapshot
from propale.rendering import environment, one_line, render_proposal_email
from propale.settings import Seller

# Headers stay on one line (RFC 5322 allows 998 characters): folded ones come back from a parse of
# the stored bytes with a leading space, and the stored bytes are what gets sent on a retry.
_POLICY = policy.SMTP.clone(max_line_length=998)


def parse_stored(payload: bytes) -> EmailMessage:
    """An email stored as bytes, ready to send again unchanged.

    Parsed with the policy it was built with: under a 78-character policy, smtplib would fold the
    already-encoded headers again, and Python's folder splits encoded words (« Boulangerie
    Numérique— =?utf-8?q?s=C3=A9minair e?= » in the customer's inbox).
    """
    return message_from_bytes(payload, policy=_POLICY)


def message_id(idempotency_key: str, domain: str) -> str:
    """A Message-ID that is the same every time the same delivery is built, so duplicates are detectable."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<propale.{digest}@{domain}>"


def _address(display_name: str, addr_spec: str) -> Address:
    return Address(display_name=one_line(display_name), addr_spec=addr_spec.strip())


def build_proposal_email(
    snapshot: ProposalSnapshot,
    *,
    url: str,
    pdf: bytes,
    idempotency_key: str,
    from_address: str | None = None,
) -> EmailMessage:
    """The email sending `snapshot` to its customer, replies going to the rep.

    `from_address` is the SMTP connection's sender; left out, From is set by whoever sends the
    message (Propale's SMTP hook uses the connection's `from_email`).
    """
    subject, html, text = render_proposal_email(snapshot, url)
    seller, rep, customer = snapshot.seller, snapshot.rep, snapshot.customer

    message = EmailMessage(policy=_POLICY)
    if from_address:
        sender_name = f"{rep.name} – {seller.name}" if rep and rep.name else seller.name
        message["From"] = _address(sender_name, from_address)
    message["To"] = _address(customer.contact_name, customer.email)
    if rep and rep.email:
        message["Reply-To"] = _address(rep.name, rep.email)
    else:
        message["Reply-To"] = _address(seller.name, seller.email)
    message["Subject"] = subject
    message["Date"] = format_datetime(snapshot.issued_at)
    domain = (from_address or seller.email).rpartition("@")[2].strip()
    message["Message-ID"] = message_id(idempotency_key, domain)

    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{snapshot.number}.pdf")
    return message


def _message(*, subject: str, sent_at: datetime, idempotency_key: str, domain: str) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(idempotency_key, domain.strip())
    return message


def build_invoice_email(
    snapshot: ProposalSnapshot,
    *,
    invoice_number: str,
    amount_paid: int,
    currency: str,
    paid_at: datetime,
    method: str,
    renewal: bool,
    period: tuple[date, date] | None,
    attachments: Sequence[tuple[str, bytes]],
    sent_at: datetime,
    idempotency_key: str,
    from_address: str | None = None,
) -> EmailMessage:
    """The paid invoice and its receipt (`attachments`: file name and PDF) to the proposal's customer."""
    seller, rep, customer = snapshot.seller, snapshot.rep, snapshot.customer
    context = {
        "proposal": snapshot,
        "invoice_number": invoice_number,
        "amount_paid": amount_paid,
        "currency": currency,
        "paid_at": paid_at,
        "method": method,
        "renewal": renewal,
        "period": period,
    }
    env = environment()
    message = _message(
        subject=f"Votre facture {invoice_number} – {seller.name}",
        sent_at=sent_at,
        idempotency_key=idempotency_key,
        domain=(from_address or seller.email).rpartition("@")[2],
    )
    if from_address:
        sender_name = f"{rep.name} – {seller.name}" if rep and rep.name else seller.name
        message["From"] = _address(sender_name, from_address)
    message["To"] = _address(customer.contact_name, customer.email)
    message["Reply-To"] = _address(rep.name, rep.email) if rep and rep.email else _address(seller.name, seller.email)
    message.set_content(env.get_template("invoice_email.txt").render(context))
    message.add_alternative(env.get_template("invoice_email.html").render(context), subtype="html")
    for filename, pdf in attachments:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def build_team_email(
    *,
    to: tuple[str, str],
    subject: str,
    title: str,
    paragraphs: Sequence[str],
    facts: Sequence[tuple[str, str]] = (),
    links: Sequence[tuple[str, str]] = (),
    seller: Seller,
    sent_at: datetime,
    idempotency_key: str,
    from_address: str | None = None,
) -> EmailMessage:
    """A notification to the sales team (`to`: display name and address), e.g. the deal's rep."""
    context = {"title": title, "paragraphs": paragraphs, "facts": facts, "links": links, "seller": seller}
    env = environment()
    message = _message(
        subject=subject,
        sent_at=sent_at,
        idempotency_key=idempotency_key,
        domain=(from_address or seller.email).rpartition("@")[2],
    )
    if from_address:
        message["From"] = _address(f"Propale – {seller.name}", from_address)
    message["To"] = _address(*to)
    message.set_content(env.get_template("team_email.txt").render(context))
    message.add_alternative(env.get_template("team_email.html").render(context), subtype="html")
    return message
