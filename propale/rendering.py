"""Proposal documents (HTML, PDF) and the proposal email, from the Jinja2 templates in the package's `templates/`.

The customer page embeds the same document: it extends `base.html` and includes
`proposal_document.html` with a `proposal` (a ProposalSnapshot) in its context.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import date, datetime
from functools import cache

from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from weasyprint import HTML
from weasyprint.document import Document
from weasyprint.urls import URLFetcher

from propale.money import LOCALE, format_amount, format_percentage
from propale.proposals import PAYMENT_METHOD_LABELS, TIMEZONE, ProposalSnapshot

# WeasyPrint logs every layout step, and fontTools every font it subsets, at INFO: a dozen lines per
# proposal that would bury the task log's own. Their warnings still show.
logging.getLogger("weasyprint").setLevel(logging.WARNING)
logging.getLogger("fontTools").setLevel(logging.WARNING)

_LINE_BREAKS_AND_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def format_long_date(day: date | datetime) -> str:
    """French long date ("27 novembre 2026"), with the "1er" French typography wants."""
    if isinstance(day, datetime):
        day = day.astimezone(TIMEZONE).date()
    text = format_date(day, "long", locale=LOCALE)
    return "1er" + text[1:] if day.day == 1 else text


def one_line(text: str) -> str:
    """Text safe for an email header: line breaks and control characters become single spaces."""
    return " ".join(_LINE_BREAKS_AND_CONTROLS.sub(" ", text).split())


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut with "…": at a word boundary when one is
    near, and never inside a character as the reader sees it (a letter and its combining accents,
    an emoji sequence, a flag)."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and _continues_character(text, cut):
        cut -= 1
    space = text.rfind(" ", 0, cut + 1)
    if space > limit * 2 // 3:
        cut = space
    return text[:cut].rstrip(" \t—–-,;:/·|") + "…"


def _continues_character(text: str, index: int) -> bool:
    """Whether `text[index]` belongs to the same visible character as `text[index - 1]`."""
    char, previous = text[index], text[index - 1]
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")  # combining accents and marks
        or char in "\u200d\ufe0e\ufe0f"  # zero-width joiner, text or emoji presentation
        or previous == "\u200d"
        or 0x1F3FB <= ord(char) <= 0x1F3FF  # skin tones
        or 0xE0020 <= ord(char) <= 0xE007F  # tag sequences (subdivision flags)
        or (_is_regional_indicator(char) and _regional_indicators_before(text, index) % 2 == 1)  # a flag's 2nd half
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _regional_indicators_before(text: str, index: int) -> int:
    count = 0
    while index - count > 0 and _is_regional_indicator(text[index - count - 1]):
        count += 1
    return count


@cache
def environment() -> Environment:
    """The Jinja2 environment for every Propale template (HTML autoescaped, undefined names fail).

    The templates are package data, read through importlib.resources, so an installed wheel has them.
    """
    env = Environment(
        loader=PackageLoader("propale", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_amount
    env.filters["percent"] = format_percentage
    env.filters["long_date"] = format_long_date
    env.filters["payment_method"] = PAYMENT_METHOD_LABELS.__getitem__
    return env


def render_proposal_html(snapshot: ProposalSnapshot) -> str:
    return environment().get_template("proposal.html").render(proposal=snapshot)


def layout_proposal(snapshot: ProposalSnapshot) -> Document:
    """The proposal laid out on A4 pages, as its PDF prints it."""
    # Only the seller's logo is ever fetched; no file:// so nothing on this machine can be embedded.
    fetcher = URLFetcher(timeout=10, allowed_protocols=("https", "http", "data"))
    return HTML(string=render_proposal_html(snapshot), url_fetcher=fetcher).render()


def render_proposal_pdf(snapshot: ProposalSnapshot) -> bytes:
    pdf: bytes = layout_proposal(snapshot).write_pdf()
    return pdf


# Inboxes show the first 60 to 90 characters of a subject; the deal's name is cut beyond this.
SUBJECT_DEAL_NAME_MAX = 90


def proposal_email_subject(snapshot: ProposalSnapshot) -> str:
    deal_name = shorten(one_line(snapshot.deal_name), SUBJECT_DEAL_NAME_MAX)
    subject = f"Votre proposition commerciale {snapshot.number} : {deal_name}"
    if snapshot.version > 1:
        subject += " (nouvelle version)"
    return one_line(subject)


def render_proposal_email(snapshot: ProposalSnapshot, url: str) -> tuple[str, str, str]:
    """(subject, HTML body, text body) of the email that sends the proposal to the customer."""
    env = environment()
    context = {"proposal": snapshot, "url": url}
    html = env.get_template("proposal_email.html").render(context)
    text = env.get_template("proposal_email.txt").render(context)
    return proposal_email_subject(snapshot), html, text
