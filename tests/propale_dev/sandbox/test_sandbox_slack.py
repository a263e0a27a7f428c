"""The sandbox Slack incoming-webhook receiver, driven with the standard library's HTTP client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import httpx
import pytest


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_post_with_blocks_is_kept_and_shown(sandbox_config):
    payload = {
        "text": "2 propositions envoyées",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Propale : 2 propositions envoyées"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Bureau fixe — Atelier Lumière* <b>"}},
        ],
    }
    assert _post(sandbox_config.slack_webhook_url, json.dumps(payload).encode()) == (200, "ok")
    newest = httpx.get(f"{sandbox_config.slack_url}/api/messages").json()[0]
    assert newest["text"] == "2 propositions envoyées"
    assert newest["block_texts"] == ["Propale : 2 propositions envoyées", "*Bureau fixe — Atelier Lumière* <b>"]
    page = httpx.get(sandbox_config.slack_url).text
    assert "Atelier Lumière* &lt;b&gt;" in page


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"not json", "invalid_payload"), (b"{}", "no_text"), (b'{"blocks": "x"}', "invalid_blocks")],
)
def test_bad_posts_get_slacks_plain_text_errors(sandbox_config, body, error):
    assert _post(sandbox_config.slack_webhook_url, body) == (400, error)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    "blocks",
    [
        [_section("x" * 3001)],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [_section("x")] * 51,
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
    ],
    ids=["section-over-3000", "header-over-150", "over-50-blocks", "context-over-10-elements"],
)
def test_blocks_over_slacks_limits_refuse_the_whole_post(sandbox_config, blocks):
    before = len(httpx.get(f"{sandbox_config.slack_url}/api/messages").json())
    body = json.dumps({"text": "trop long", "blocks": blocks}).encode()
    assert _post(sandbox_config.slack_webhook_url, body) == (400, "invalid_blocks")
    assert len(httpx.get(f"{sandbox_config.slack_url}/api/messages").json()) == before


def test_blocks_at_slacks_limits_are_accepted(sandbox_config):
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}] + [_section("y" * 3000)] * 49
    assert _post(sandbox_config.slack_webhook_url, json.dumps({"text": "juste", "blocks": blocks}).encode()) == (
        200,
        "ok",
    )


def test_rate_limit_fault_answers_429_with_retry_after(sandbox, sandbox_config):
    with sandbox.admin("slack") as admin:
        admin.set_faults(rate_limit=1, rate_window_s=30)
    assert _post(sandbox_config.slack_webhook_url, b'{"text": "un"}')[0] == 200
    response = httpx.post(sandbox_config.slack_webhook_url, json={"text": "deux"})
    assert (response.status_code, response.text) == (429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
