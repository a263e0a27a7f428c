"""Slack messages (Block Kit payloads for incoming webhooks), in French for the sales team.

Everything that comes from HubSpot or a customer is escaped: Slack reads `<…>` as links and
mentions, so a deal named `<!channel>` must show as text, not page the whole channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def escape(text: str) -> str:
    """Slack's mrkdwn escaping (its documented three characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, text: str) -> str:
    return f"<{escape(url)}|{escape(text)}>"


@dataclass(frozen=True)
class DealLine:
    """One deal in a summary: its name and link, and what happened to it."""

    name: str
    url: str
    detail: str


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


# Slack caps a message at 50 blocks; long lists are cut with a count of what was left out.
MAX_LISTED = 40


def _deal_list(lines: Sequence[DealLine]) -> list[str]:
    rows = [f"• {link(line.url, line.name)} : {escape(line.detail)}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        rows.append(f"… et {len(lines) - MAX_LISTED} autres")
    return rows


@dataclass(frozen=True)
class SummarySection:
    heading: str
    lines: Sequence[DealLine]
    # How the header counts this section's deals, e.g. ("envoyée", "envoyées").
    singular: str
    plural: str

    def count(self) -> str:
        return f"{len(self.lines)} {self.singular if len(self.lines) == 1 else self.plural}"


def run_summary(title: str, sections: Sequence[SummarySection]) -> dict[str, Any]:
    """One message per run: a header with the counts, then each non-empty section's deals, linked."""
    text = f"{title} : " + ", ".join(section.count() for section in sections if section.lines)
    blocks: list[dict[str, Any]] = [_header(text)]
    for section in sections:
        if section.lines:
            blocks.append(_section(f"*{escape(section.heading)}*\n" + "\n".join(_deal_list(section.lines))))
    return {"text": escape(text), "blocks": blocks}


def alert(title: str, deal: DealLine, action: str) -> dict[str, Any]:
    """A problem on one deal, with what to do about it."""
    text = f"⚠️ {title} : {deal.name}"
    return {
        "text": escape(text),
        "blocks": [
            _section(f"⚠️ *{escape(title)}* : {link(deal.url, deal.name)}\n{escape(deal.detail)}"),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(action)}]},
        ],
    }


def announcement(title: str, deal: DealLine, facts: Sequence[str]) -> dict[str, Any]:
    """Good news on one deal for the whole team (a proposal accepted), with a few facts."""
    text = f"{title} : {deal.name}"
    blocks: list[dict[str, Any]] = [_section(f"🎉 *{escape(title)}* : {link(deal.url, deal.name)}\n{escape(deal.detail)}")]
    if facts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(fact)} for fact in facts[:10]]})
    return {"text": escape(text), "blocks": blocks}


def operations_alert(title: str, detail: str, action: str) -> dict[str, Any]:
    """A problem that concerns Propale itself rather than one deal (e.g. Stripe events lost)."""
    return {
        "text": escape(f"⚠️ {title}"),
        "blocks": [
            _section(f"⚠️ *{escape(title)}*\n{escape(detail)}"),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(action)}]},
        ],
    }
