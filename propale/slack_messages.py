"""Slack messages (Block Kit payloads for incoming webhooks), in French for the sales team.

Everything that comes from HubSpot or a customer is escaped: Slack reads `<…>` as links and
mentions, so a deal named `<!channel>` must show as text, not page the whole channel. A link's
label is kept on one line, so that a name with line breaks cannot spill out of its link into
lines of its own in the team's channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from propale.rendering import one_line, shorten

# Slack refuses a whole message over its limits (`invalid_blocks`, `msg_blocks_too_long`): at most
# 50 blocks, 3,000 characters of text per section, 10 elements per context block, 40,000 characters
# of text (https://docs.slack.dev/reference/block-kit/blocks/section-block,
# https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks). Every message here
# stays well inside them whatever HubSpot or a customer typed: long lists are cut with a count of
# what was left out, and every name and reason is shortened (HubSpot and Stripe have them whole).
MAX_LISTED = 40
SECTION_TEXT_MAX = 3000
MESSAGE_TEXT_MAX = 12_000
NAME_MAX = 120
DETAIL_MAX = 400
MAX_FACTS = 10


def escape(text: str) -> str:
    """Slack's mrkdwn escaping (its documented three characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, limit: int) -> str:
    """`text` escaped, shortened first as much as needed for its escaped form to fit in `limit`
    characters (escaping lengthens it, and cutting after escaping could split an entity)."""
    escaped = escape(text)
    while len(escaped) > limit:
        text = shorten(text, max(1, len(text) - (len(escaped) - limit)))
        escaped = escape(text)
    return escaped


def name(text: str) -> str:
    """A name from HubSpot or a customer as a message shows it: on one line, shortened."""
    return shorten(one_line(text), NAME_MAX)


def link(url: str, text: str) -> str:
    return f"<{escape(url)}|{escape(name(text))}>"


@dataclass(frozen=True)
class DealLine:
    """One deal in a summary: its name and link, and what happened to it."""

    name: str
    url: str
    detail: str


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _titled_section(heading: str, detail: str) -> dict[str, Any]:
    """A section whose first line is `heading` (mrkdwn, already escaped) and whose rest is
    `detail`, shortened so that the section stays within Slack's limit."""
    return _section(f"{heading}\n{escape_within(detail, SECTION_TEXT_MAX - len(heading) - 1)}")


def _context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": escape_within(text, DETAIL_MAX)} for text in texts[:MAX_FACTS]],
    }


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _row(line: DealLine) -> str:
    return f"• {link(line.url, line.name)} : {escape(shorten(line.detail, DETAIL_MAX))}"


def _list_sections(heading: str, lines: Sequence[DealLine], budget: int) -> tuple[list[dict[str, Any]], int]:
    """A heading and its deals in as many sections as Slack's section limit needs, within `budget`
    characters; returns the blocks and the budget left."""
    blocks: list[dict[str, Any]] = []
    rows = [f"*{escape(heading)}*"]
    listed = 0
    for line in lines[:MAX_LISTED]:
        row = _row(line)
        if len(row) > budget:
            break
        if len("\n".join(rows)) + len(row) + 1 > SECTION_TEXT_MAX - 40:  # room for "… et N autres"
            blocks.append(_section("\n".join(rows)))
            rows = []
        rows.append(row)
        budget -= len(row)
        listed += 1
    if listed < len(lines):
        rows.append(f"… et {len(lines) - listed} autres")
    blocks.append(_section("\n".join(rows)))
    return blocks, budget


@dataclass(frozen=True)
class SummarySection:
    heading: str
    lines: Sequence[DealLine]
    # How the header counts this section's deals, e.g. ("envoyée", "envoyées").
    singular: str
    plural: str

    def count(self) -> str:
        return f"{len(self.lines)} {self.singular if len(self.lines) == 1 else self.plural}"


def run_summary(title: str, sections: Sequence[SummarySection], notices: Sequence[str] = ()) -> dict[str, Any]:
    """One message per run: a header with the counts, the notices (each said once, for whoever
    administers Propale), then each non-empty section's deals, linked."""
    counts = ", ".join(section.count() for section in sections if section.lines)
    text = f"{title} : {counts or 'à l’attention de l’administrateur'}"
    blocks: list[dict[str, Any]] = [_header(text)]
    budget = MESSAGE_TEXT_MAX
    for notice in notices:
        body = f"⚠️ {escape(shorten(notice, DETAIL_MAX * 3))}"
        blocks.append(_section(body))
        budget -= len(body)
    for section in sections:
        if section.lines:
            listed, budget = _list_sections(section.heading, section.lines, budget)
            blocks += listed
    return {"text": escape(text), "blocks": blocks}


def alert(title: str, deal: DealLine, action: str) -> dict[str, Any]:
    """A problem on one deal, with what to do about it."""
    return {
        "text": escape(f"⚠️ {title} : {name(deal.name)}"),
        "blocks": [
            _titled_section(f"⚠️ *{escape(title)}* : {link(deal.url, deal.name)}", deal.detail),
            _context(action),
        ],
    }


def announcement(title: str, deal: DealLine, facts: Sequence[str]) -> dict[str, Any]:
    """Good news on one deal for the whole team (a proposal accepted), with a few facts."""
    blocks: list[dict[str, Any]] = [_titled_section(f"🎉 *{escape(title)}* : {link(deal.url, deal.name)}", deal.detail)]
    if facts:
        blocks.append(_context(*facts))
    return {"text": escape(f"{title} : {name(deal.name)}"), "blocks": blocks}


def operations_alert(title: str, detail: str, action: str) -> dict[str, Any]:
    """A problem that concerns Propale itself rather than one deal (e.g. Stripe events lost)."""
    return {
        "text": escape(f"⚠️ {title}"),
        "blocks": [_titled_section(f"⚠️ *{escape(title)}*", detail), _context(action)],
    }
