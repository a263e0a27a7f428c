"""A message that can never go out does not block the others: refusals for good are dropped, told
once, and the queue goes on; every message, whatever a customer typed, fits in what Slack accepts."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import httpx
import pytest
from slack_sdk.webhook import WebhookClient

from propale.ledger import DeliveryStatus, Ledger
from propale.sending import WriteBackReport, summary
from propale.slack_messages import DealLine, alert, announcement, operations_alert
from propale.syncing import EMAIL, SLACK, post_to_slack, send_emails
from propale.syncing.delivering import webhook_poster
from propale.syncing.handling import queue_slack
from propale_dev.sandbox.config import SandboxConfig

COMPANY = "Boulangerie Numérique & Fils " * 125  # 3,500 characters, as a customer may type it
REFUSED_ADDRESS = "personne@acme.invalid"


def queue_email(ledger: Ledger, name: str, to: str) -> str:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"Votre facture — {name}"
    message.set_content("Bonjour")
    key = f"{EMAIL}:{name}"
    ledger.ensure_delivery(key, kind=EMAIL, payload=message.as_bytes())
    return key


class MailServer:
    """Records what it takes; answers an SMTP reply code for the recipients it refuses."""

    def __init__(self, refusals: dict[str, int]):
        self.refusals = refusals
        self.sent: list[str] = []

    def __call__(self, message: EmailMessage) -> None:
        to = str(message["To"])
        if to in self.refusals:
            raise smtplib.SMTPRecipientsRefused({to: (self.refusals[to], f"5.1.1 <{to}>: no such user".encode())})
        self.sent.append(to)


def slack_posts(config: SandboxConfig) -> list[str]:
    return [" ".join(post["block_texts"]) for post in httpx.get(f"{config.slack_url}/api/messages").json()]


@pytest.fixture
def slack(sandbox_config: SandboxConfig) -> WebhookClient:
    httpx.delete(f"{sandbox_config.slack_url}/api/messages")
    return WebhookClient(sandbox_config.slack_webhook_url)


def test_a_permanently_refused_email_is_dropped_and_told_once_and_the_next_one_goes(ledger, caplog):
    refused = queue_email(ledger, "refusée", REFUSED_ADDRESS)
    queue_email(ledger, "bonne", "jeanne.martin@acme.fr")
    server = MailServer({REFUSED_ADDRESS: 550})

    with caplog.at_level(logging.WARNING):
        assert send_emails(ledger, server) == {"sent": 1, "unconfirmed": 0, "refused": 1}
        assert send_emails(ledger, server) == {"sent": 0, "unconfirmed": 0, "refused": 0}, "never again"
    assert server.sent == ["jeanne.martin@acme.fr"]
    dropped = ledger.delivery(refused)
    assert dropped is not None and dropped.status == DeliveryStatus.CANCELLED
    assert dropped.last_error == "recipient refused (SMTP 550)"
    told = [record.getMessage() for record in caplog.records if refused in record.getMessage()]
    assert len(told) == 1 and REFUSED_ADDRESS not in told[0]

    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    [message] = [str(m) for m in posted if "E-mail refusé" in str(m)]
    assert "Votre facture — refusée" in message and REFUSED_ADDRESS not in message


def test_a_temporary_refusal_keeps_the_email_for_the_retry(ledger):
    key = queue_email(ledger, "plus tard", "jeanne.martin@acme.fr")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_emails(ledger, MailServer({"jeanne.martin@acme.fr": 450}))
    assert ledger.delivery(key).is_pending  # type: ignore[union-attr]
    retry = MailServer({})
    assert send_emails(ledger, retry)["sent"] == 1 and retry.sent == ["jeanne.martin@acme.fr"]


def test_a_slack_message_slack_refuses_is_dropped_told_once_and_the_payment_alert_still_goes(
    ledger, slack, sandbox_config
):
    # Over Slack's 50 blocks: the stand-in answers 400 invalid_blocks, as Slack does.
    oversized = {"text": "Récapitulatif trop long", "blocks": [{"type": "divider"}] * 51}
    queue_slack(ledger, "oversized", oversized)
    queue_slack(
        ledger,
        "payment-failed",
        alert("Paiement échoué", DealLine(COMPANY, "https://app.example/deal/1", "Carte refusée."), "Appelez."),
    )

    assert post_to_slack(ledger, webhook_poster(slack)) == 2
    assert post_to_slack(ledger, webhook_poster(slack)) == 0, "the refused message is not posted again"
    posts = slack_posts(sandbox_config)
    assert len(posts) == 2
    assert any("Paiement échoué" in post and "Boulangerie Numérique" in post for post in posts)
    [told] = [post for post in posts if "Message Slack refusé" in post]
    assert "Récapitulatif trop long" in told and "invalid_blocks" in told
    assert ledger.delivery(f"{SLACK}:oversized").status == DeliveryStatus.CANCELLED  # type: ignore[union-attr]


def test_a_revoked_webhook_keeps_the_messages_for_when_it_is_fixed(ledger, sandbox_config):
    queue_slack(ledger, "kept", operations_alert("Titre", "Détail", "Action"))
    revoked = WebhookClient(f"{sandbox_config.slack_url}/services/T0/B0")  # Slack answers 404: no such webhook
    with pytest.raises(Exception, match="Slack 404"):
        post_to_slack(ledger, webhook_poster(revoked))
    assert ledger.delivery(f"{SLACK}:kept").is_pending  # type: ignore[union-attr]


def test_a_3500_character_company_name_fits_every_message_of_both_pipelines(slack, sandbox_config):
    line = DealLine(COMPANY, "https://app.example/deal/1", f"{COMPANY} · Carte refusée.")
    messages = [
        # The send DAG's run summary.
        summary(WriteBackReport(sent=[line] * 3, failed=[line] * 3, retrying=[line], skipped=[line]), [line]),
        # The sync DAG's messages.
        alert("Paiement échoué", line, f"Appelez {COMPANY}."),
        announcement("Proposition acceptée", line, [f"Client : {COMPANY}"] * 12),
        operations_alert("E-mail refusé", f"L’e-mail « Votre facture — {COMPANY} » a été refusé.", "Vérifiez."),
    ]
    for message in messages:
        assert message is not None
        response = slack.send_dict(message)
        assert (response.status_code, response.body) == (200, "ok")
        assert len(message["text"]) < 40_000
    assert all("Boulangerie Numérique" in post and COMPANY not in post for post in slack_posts(sandbox_config))
