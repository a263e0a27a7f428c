"""Proposal documents (HTML, PDF) and the proposal email, from Jinja2 templates in include/templates/.

The customer page embeds the same document: it extends `base.html` and includes
`proposal_document.html` with a `proposal` (a ProposalSnapshot) in its context.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from propale.money import LOCALE, format_amount, format_percentage
from propale.proposals import PAYMENT_METHOD_LABELS, TIMEZONE, ProposalSnapshot

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "include" / "templates"
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


@lru_cache(maxsize=None)
def environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    """The Jinja2 environment for every Propale template (HTML autoescaped, undefined names fail)."""
    env = Environment(
        loader=FileSystemLoader(templates_dir),
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


def render_proposal_pdf(snapshot: ProposalSnapshot) -> bytes:
    # Only the seller's logo is ever fetched; no file:// so nothing on this machine can be embedded.
    fetcher = URLFetcher(timeout=10, allowed_protocols=("https", "http", "data"))
    document = HTML(string=render_proposal_html(snapshot), base_url=str(TEMPLATES_DIR), url_fetcher=fetcher)
    return document.write_pdf()


def proposal_email_subject(snapshot: ProposalSnapshot) -> str:
    subject = f"Votre proposition commerciale {snapshot.number} : {snapshot.deal_name}"
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
