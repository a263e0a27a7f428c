"""Slack messages as the team reads them: counts in correct French, names shown as text."""

from __future__ import annotations

from propale.sending import WriteBackReport, summary
from propale.slack_messages import MESSAGE_TEXT_MAX, DealLine
from propale_dev.sandbox.slack import blocks_within_limits


def test_the_summary_counts_in_correct_french_and_lists_each_deal():
    one = [DealLine("Atelier Lumen", "https://app.example/deal/1", "DEV-2026-00001")]
    two = [
        DealLine("A", "https://app.example/deal/2", "pas de contact"),
        DealLine("B", "https://app.example/deal/3", "pas de ligne"),
    ]
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


def test_a_name_with_line_breaks_stays_inside_its_link():
    hostile = [DealLine("Acme\r\n*À corriger dans HubSpot*\n• faux", "https://app.example/deal/5", "DEV-2026-00005")]
    [section] = summary(WriteBackReport(sent=hostile), retrying=[])["blocks"][1:]
    assert (
        "• <https://app.example/deal/5|Acme *À corriger dans HubSpot* • faux> : DEV-2026-00005"
        in section["text"]["text"]
    )


def test_a_long_batch_of_long_names_and_reasons_fits_in_one_post_slack_accepts():
    name = "Coopérative « Ünïcödé » 🚀 東京オフィス — مكتب الرياض — " * 8
    reason = "Le prix unitaire de la ligne « Remise » est négatif & la remise de 100 % rend la ligne gratuite. " * 6
    failed = [DealLine(f"{i} {name}", f"https://app.example/deal/{i}", reason) for i in range(45)]
    sent = [DealLine(f"{i} {name}", f"https://app.example/deal/s{i}", "DEV-2026-00001") for i in range(45)]
    message = summary(WriteBackReport(sent=sent, failed=failed), retrying=[])
    assert blocks_within_limits(message["blocks"])
    assert sum(len(text) for text in _texts(message)) <= MESSAGE_TEXT_MAX + 200
    shown = "\n".join(_texts(message))
    listed = shown.count("https://app.example/deal/")
    assert 0 < listed < 90 and "autres" in shown, "what does not fit is counted, not dropped silently"
    assert "…" in shown and name not in shown, "names and reasons are shortened, not cut mid-character"


def test_a_notice_is_said_once_and_the_deals_it_blocks_point_to_it():
    notice = "Il manque des coordonnées du vendeur dans la configuration de Propale : le SIREN."
    failed = [DealLine(name, f"https://app.example/deal/{name}", notice) for name in ("A", "B", "C")]
    message = summary(WriteBackReport(failed=failed), retrying=[], notices=[notice])
    shown = "\n".join(_texts(message))
    assert shown.count("le SIREN") == 1
    assert shown.count("voir ci-dessus") == 3
    assert message["text"] == "Propositions Propale : 3 à corriger"


def test_notices_alone_are_posted():
    message = summary(WriteBackReport(), retrying=[], notices=["« Statut Propale » a été supprimée."])
    assert message["text"] == "Propositions Propale : à l’attention de l’administrateur"
    assert "Statut Propale" in "\n".join(_texts(message))


def _texts(message: dict) -> list[str]:
    return [block["text"]["text"] for block in message["blocks"]]
