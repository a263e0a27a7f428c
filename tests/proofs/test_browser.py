"""The customer's journey in headless Chromium (Debian's `chromium`, driven by Playwright):
the email in the sandbox mailbox, the proposal page, the sandbox's Stripe Checkout, the thank-you
page; on a desktop and on a phone. Screenshots go to artifacts/screenshots/.

`make test-deps` (also run by .ci/run) installs Chromium; without it these tests are skipped.
README-sized copies (email, proposal page, PDF) go to artifacts/screenshots/docs/, or refresh the
committed ones in docs/screenshots/ with `PROPALE_DOCS_SCREENSHOTS=1 pytest tests/proofs/test_browser.py`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.site import KAIROS, LUMEN, Site

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROPALE_DOCS_SCREENSHOTS") else SCREENSHOTS / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 812}


def _luminance(css_rgb: str) -> float:
    channels = [int(c) / 255 for c in css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(page, selector: str) -> float:
    """WCAG contrast ratio between an element's text colour and its background."""
    colour, background = page.locator(selector).first.evaluate(
        "e => { const s = getComputedStyle(e); return [s.color, s.backgroundColor]; }"
    )
    lighter, darker = sorted((_luminance(colour), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run `make test-deps` (apt-get install -y chromium) as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, airflow_for):
    tmp = tmp_path_factory.mktemp("browser")
    config = config_on_free_ports(tmp / "sandbox")
    with SandboxProcess(config, reset=True, seed="demo") as sandbox:
        site = Site(sandbox, airflow_for(sandbox), tmp)
        site.start()
        site.send_with_dag(LUMEN, KAIROS)
        try:
            yield site
        finally:
            site.stop()


def _email_to(site: Site, address: str) -> dict:
    [message] = httpx.get(f"{site.sandbox.config.mailbox_url}/api/messages", params={"to": address}).json()
    return message


def _shoot(page, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _pay_by_card(page, site: Site) -> None:
    page.locator("#cardNumber").fill("4242 4242 4242 4242")
    page.locator("#cardExpiry").fill(f"12 / {str(datetime.now(UTC).year + 3)[-2:]}")
    page.locator("#cardCvc").fill("123")
    page.locator("#billingName").fill("Léa Garnier")
    page.locator("#submitButton").click()


def _journey(browser, site: Site, recipient: str, viewport: dict, prefix: str) -> None:
    context = browser.new_context(viewport=viewport, locale="fr-FR", device_scale_factor=1)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    try:
        message = _email_to(site, recipient)
        page.goto(f"{site.sandbox.config.mailbox_url}/messages/{message['id']}/html")
        _shoot(page, f"{prefix}-1-email")
        page.get_by_role("link", name="Voir ma proposition").click()
        page.wait_for_load_state()
        assert page.url.startswith(f"{site.url}/p/")
        heading = page.get_by_role("heading", level=1)
        assert "Proposition commerciale DEV-" in heading.inner_text()
        card = page.locator('button[data-method="card"]')
        assert card.is_visible()
        assert page.locator('button[data-method="sepa_debit"]').is_visible()
        assert _contrast(page, 'button[data-method="card"]') >= 4.5, "WCAG AA contrast"
        if viewport is PHONE:
            # Readable on a phone: the page does not scroll sideways (wide tables scroll in their box).
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        _shoot(page, f"{prefix}-2-proposal")

        # Keyboard users reach the payment buttons with Tab.
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.method") == "card":
                break
        else:
            raise AssertionError("the card button cannot be reached with the keyboard")
        card.click()
        page.wait_for_url(f"{site.sandbox.config.stripe_url}/c/pay/**")
        _shoot(page, f"{prefix}-3-checkout")
        _pay_by_card(page, site)
        page.wait_for_url(f"{site.url}/p/**/merci**")
        assert page.get_by_role("heading", name="Merci !").is_visible()
        assert "facture" in page.locator("main").inner_text()
        _shoot(page, f"{prefix}-4-thanks")
        assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"
    finally:
        context.close()


def test_a_customer_pays_by_card_from_the_email(browser, site):
    _journey(browser, site, "lea.garnier@atelier-lumen.example", {"width": 1280, "height": 900}, "desktop")


def test_the_same_on_a_phone(browser, site):
    _journey(browser, site, "antoine@studio-kairos.example", PHONE, "phone")


def _small_copy(source: Path, name: str, width: int = 720) -> Path:
    """A README-sized copy: scaled down, 64 colours (plenty for text on white)."""
    from PIL import Image

    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = DOCS_SCREENSHOTS / f"{name}.png"
    with Image.open(source) as image:
        height = round(image.height * width / image.width)
        image.convert("RGB").resize((width, height), Image.LANCZOS).quantize(colors=64).save(target, optimize=True)
    return target


def test_docs_screenshots(browser, site):
    """Small PNGs for the README: the email, the proposal page and the proposal's PDF."""
    _small_copy(SCREENSHOTS / "desktop-1-email.png", "email")
    _small_copy(SCREENSHOTS / "desktop-2-proposal.png", "proposal")
    message = _email_to(site, "lea.garnier@atelier-lumen.example")
    pdf = httpx.get(f"{site.sandbox.config.mailbox_url}/messages/{message['id']}/attachments/0").content
    pdf_path = SCREENSHOTS / "proposal.pdf"
    pdf_path.write_bytes(pdf)
    context = browser.new_context(viewport={"width": 900, "height": 1200})
    page = context.new_page()
    try:
        page.goto(pdf_path.as_uri())
        page.wait_for_timeout(1500)
        shot = _shoot(page, "pdf", full_page=False)
    finally:
        context.close()
    _small_copy(shot, "pdf")
    for name in ("email", "proposal", "pdf"):
        assert 0 < (DOCS_SCREENSHOTS / f"{name}.png").stat().st_size < 250_000, name
