"""The sandbox mailbox, driven with the standard library's SMTP client."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx
import pytest

PDF = b"%PDF-1.7\n% fake but binary \xe2\x82\xac\n%%EOF\n"


def _send(config, message: EmailMessage, login: bool = False) -> None:
    with smtplib.SMTP(config.host, config.smtp_port, timeout=10) as smtp:
        if login:
            smtp.login("propale", "secret")
        smtp.send_message(message)


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Coworking Demo <factures@example.fr>"
    message["To"] = to
    message["Reply-To"] = "camille@example.fr"
    message["Subject"] = subject
    message.set_content("Bonjour,\nvoici votre proposition.")
    message.add_alternative("<p>Bonjour, <b>voici</b> votre proposition.</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="DEV-2026-00001.pdf")
    return message


def test_a_sent_message_is_kept_with_its_parts_and_attachment(sandbox_config):
    _send(sandbox_config, _message("lea@client.fr", "Votre proposition DEV-2026-00001 — Société Été"))
    api = httpx.Client(base_url=sandbox_config.mailbox_url)
    [summary] = api.get("/api/messages", params={"to": "lea@client.fr"}).json()
    assert summary["subject"] == "Votre proposition DEV-2026-00001 — Société Été"
    assert summary["reply_to"] == "camille@example.fr"
    assert summary["attachments"][0]["filename"] == "DEV-2026-00001.pdf"

    detail = api.get(f"/api/messages/{summary['id']}").json()
    assert "voici votre proposition" in detail["text"]
    assert "<b>voici</b>" in detail["html"]
    assert api.get(f"/messages/{summary['id']}/attachments/0").content == PDF

    page = api.get(f"/messages/{summary['id']}").text
    assert "Société Été" in page and "DEV-2026-00001.pdf" in page
    assert "lea@client.fr" in api.get("/").text


def test_smtp_login_is_accepted_so_a_configured_connection_works(sandbox_config):
    _send(sandbox_config, _message("login@client.fr", "Avec identifiants"), login=True)
    assert httpx.get(f"{sandbox_config.mailbox_url}/api/messages", params={"to": "login@client.fr"}).json()


def test_html_of_a_message_cannot_run_script_in_the_mailbox_page(sandbox_config):
    _send(sandbox_config, _message("xss@client.fr", "<script>alert(1)</script>"))
    api = httpx.Client(base_url=sandbox_config.mailbox_url)
    [summary] = api.get("/api/messages", params={"to": "xss@client.fr"}).json()
    assert "<script>alert(1)</script>" not in api.get(f"/messages/{summary['id']}").text
    assert "sandbox" in api.get(f"/messages/{summary['id']}/html").headers["content-security-policy"]


def test_injected_smtp_failures_are_temporary_errors_the_sender_sees(sandbox, sandbox_config):
    with sandbox.admin("mailbox") as admin:
        admin.set_faults(smtp_error_rate=1)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(sandbox_config, _message("fault@client.fr", "Refusé"))
    assert refused.value.smtp_code == 451
    assert not httpx.get(f"{sandbox_config.mailbox_url}/api/messages", params={"to": "fault@client.fr"}).json()


def test_messages_survive_a_restart_and_reset_empties_them(start_sandbox):
    process = start_sandbox(reset=True)
    _send(process.config, _message("kept@client.fr", "Gardé"))
    process.restart()
    url = f"{process.config.mailbox_url}/api/messages"
    assert [m["subject"] for m in httpx.get(url).json()] == ["Gardé"]
    assert httpx.delete(url).status_code == 204
    assert httpx.get(url).json() == []
