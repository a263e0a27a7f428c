"""The proposal email as an EmailMessage: headers, parts, attachment, deterministic Message-ID."""

from __future__ import annotations

import email
from email import policy

from propale.emails import build_proposal_email, message_id
from support.factories import PersonInput, sample_deal, sample_snapshot

URL = "https://propale.bureauxducanal.fr/p/tok_123"
PDF = b"%PDF-1.7 fake proposal"
KEY = "proposal-email:DEV-2026-00042:v1"


def build(snapshot=None, **options):
    return build_proposal_email(
        snapshot or sample_snapshot(),
        url=URL,
        pdf=PDF,
        idempotency_key=KEY,
        **{"from_address": "propositions@bureauxducanal.fr", **options},
    )


def test_headers_name_sender_customer_and_rep():
    message = build()
    assert message["From"] == "Paul Durand – Les Bureaux du Canal <propositions@bureauxducanal.fr>"
    assert message["To"] == "Jeanne Martin <jeanne.martin@acme.fr>"
    assert message["Reply-To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    assert message["Subject"] == "Votre proposition commerciale DEV-2026-00042 : Acme – bureau privé"
    assert message["Date"] == "Mon, 02 Mar 2026 09:30:00 +0000"
    assert message["Message-ID"] == message_id(KEY, "bureauxducanal.fr")


def test_text_html_and_the_pdf_named_after_the_number():
    message = build()
    assert message.get_content_type() == "multipart/mixed"
    body_text = message.get_body(preferencelist=("plain",)).get_content()
    body_html = message.get_body(preferencelist=("html",)).get_content()
    assert URL in body_text and "Voir ma proposition" in body_text
    assert f'href="{URL}"' in body_html
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "DEV-2026-00042.pdf"
    assert attachment.get_content() == PDF


def test_message_id_is_deterministic_per_idempotency_key():
    assert build()["Message-ID"] == build()["Message-ID"]
    assert message_id(KEY, "x.fr") != message_id("proposal-email:DEV-2026-00042:v2", "x.fr")
    assert message_id(KEY, "x.fr").startswith("<propale.") and message_id(KEY, "x.fr").endswith("@x.fr>")


def test_stored_bytes_send_the_same_message():
    message = build()
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == message["Message-ID"]
    assert parsed["Subject"] == message["Subject"]
    assert next(parsed.iter_attachments()).get_content() == PDF


def test_without_a_rep_replies_go_to_the_seller():
    message = build(sample_snapshot(sample_deal(owner=None)))
    assert message["Reply-To"] == "Les Bureaux du Canal <contact@bureauxducanal.fr>"
    assert message["From"] == "Les Bureaux du Canal <propositions@bureauxducanal.fr>"


def test_without_a_sender_the_smtp_connection_sets_from():
    message = build(from_address=None)
    assert message["From"] is None
    assert message["Message-ID"] == message_id(KEY, "bureauxducanal.fr")  # the seller's domain


def test_names_cannot_inject_headers():
    deal = sample_deal(
        name="Acme\r\nBcc: everyone@example.com",
        contact=PersonInput("501", "jeanne.martin@acme.fr", "Jeanne\r\nBcc: spy@example.com", "Martin"),
        owner=PersonInput("77", "paul.durand@bureauxducanal.fr", "Paul\nX-Evil: 1", "Durand"),
    )
    raw = build(sample_snapshot(deal)).as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"] == "Votre proposition commerciale DEV-2026-00042 : Acme Bcc: everyone@example.com"
    assert parsed["To"].addresses[0].addr_spec == "jeanne.martin@acme.fr"
    assert parsed["To"].addresses[0].display_name == "Jeanne Bcc: spy@example.com Martin"
