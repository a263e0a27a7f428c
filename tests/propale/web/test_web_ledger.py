"""The ledger query the customer page added: every Checkout Session of a proposal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from propale.ledger import CheckoutStatus, Ledger

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_checkout_sessions_lists_every_session_of_a_proposal_oldest_first(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        proposal = ledger.issue_proposal(
            "42", request_key="r1", source_fingerprint="f", issued_at=NOW, validity_days=30
        )
        other = ledger.issue_proposal("43", request_key="r1", source_fingerprint="f", issued_at=NOW, validity_days=30)
        assert ledger.checkout_sessions(proposal.id) == []
        later = NOW + timedelta(hours=24)
        for session_id, method in (("cs_1", "card"), ("cs_2", "card"), ("cs_3", "sepa_debit")):
            ledger.record_checkout_session(
                proposal.id,
                method=method,
                stripe_session_id=session_id,
                url=f"https://x/{session_id}",
                expires_at=later,
            )
        ledger.record_checkout_session(
            other.id, method="card", stripe_session_id="cs_other", url="https://x/o", expires_at=later
        )
        ledger.set_checkout_session_status("cs_3", CheckoutStatus.COMPLETE)

        sessions = ledger.checkout_sessions(proposal.id)
        assert [(s.stripe_session_id, s.method, s.status) for s in sessions] == [
            ("cs_1", "card", CheckoutStatus.EXPIRED),  # replaced by cs_2
            ("cs_2", "card", CheckoutStatus.OPEN),
            ("cs_3", "sepa_debit", CheckoutStatus.COMPLETE),
        ]
