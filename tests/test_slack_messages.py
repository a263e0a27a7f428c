"""Slack messages as the team reads them: counts in correct French, names shown as text."""

from __future__ import annotations

from propale.sending import WriteBackReport, summary
from propale.slack_messages import DealLine


def test_the_summary_counts_in_correct_french_and_lists_each_deal():
    one = [DealLine("Atelier Lumen", "https://app.example/deal/1", "DEV-2026-00001")]
    two = [DealLine("A", "https://app.example/deal/2", "pas de contact"), DealLine("B", "https://app.example/deal/3", "pas de ligne")]
    message = summary(WriteBackReport(sent=one, failed=two), retrying=[])
    assert message["text"] == "Propositions Propale : 1 envoyée, 2 à corriger"
    blocks = " ".join(block["text"]["text"] for block in message["blocks"])
    assert "<https://app.example/deal/1|Atelier Lumen> : DEV-2026-00001" in blocks
    assert "pas de contact" in blocks and "pas de ligne" in blocks


def test_a_run_with_nothing_to_say_posts_nothing():
    assert summary(WriteBackReport(), retrying=[]) is None


def test_names_from_hubspot_cannot_mention_the_channel_or_forge_links():
    hostile = [DealLine("<!channel> <https://evil.example|cliquez>", "https://app.example/deal/4", "a & b")]
    message = summary(WriteBackReport(failed=hostile), retrying=[])
    blocks = " ".join(block["text"]["text"] for block in message["blocks"])
    assert "<!channel>" not in blocks and "<https://evil.example" not in blocks
    assert "&lt;!channel&gt;" in blocks and "a &amp; b" in blocks
