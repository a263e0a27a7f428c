"""The proposal email as a complete `EmailMessage`, ready for the SMTP connection to send as-is."""

from __future__ import annotations

import hashlib
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from propale.proposals import ProposalSnapshot
from propale.rendering import one_line, render_proposal_email


# Headers stay on one line (RFC 5322 allows 998 characters): folded ones come back from a parse of
# the stored bytes with a leading space, and the stored bytes are what gets sent on a retry.
_POLICY = policy.SMTP.clone(max_line_length=998)


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
