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


def test_rate_limit_fault_answers_429_with_retry_after(sandbox, sandbox_config):
    with sandbox.admin("slack") as admin:
        admin.set_faults(rate_limit=1, rate_window_s=30)
    assert _post(sandbox_config.slack_webhook_url, b'{"text": "un"}')[0] == 200
    response = httpx.post(sandbox_config.slack_webhook_url, json={"text": "deux"})
    assert (response.status_code, response.text) == (429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
