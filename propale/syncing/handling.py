"""Handling Stripe events: what each event of a Propale proposal asks for, as effects to deliver.

An effect is a delivery queued in the ledger's outbox (see `propale.outbox`), of one of five kinds:
an email (to the customer or the deal's rep), properties to set on the deal, a note on the deal's
timeline, a Slack message, the end of a subscription's commitment to set at Stripe.
`Handler.handle` re-reads the event's object from Stripe at Propale's pinned API version and turns
it into those effects; `propale.syncing.reading` records them with the event, and
`propale.syncing.delivering` performs them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import stripe
from markupsafe import escape

from propale.crm import STATUS, Status, hubspot_datetime
from propale.emails import build_invoice_email, build_team_email
from propale.ledger import CheckoutStatus, Ledger, NewDelivery, Proposal, ProposalStatus
from propale.money import charged_amount, format_amount
from propale.proposals import PAYMENT_METHOD_LABELS, TIMEZONE, ProposalSnapshot
from propale.receipts import Receipt, payment_method_label, render_receipt_pdf
from propale.rendering import format_long_date
from propale.sending import proposal_link
from propale.settings import Settings
from propale.slack_messages import DealLine, alert, announcement, operations_alert

log = logging.getLogger(__name__)

# Outbox kinds of the sync's deliveries.
EMAIL = "sync-email"
DEAL_UPDATE = "sync-deal-update"
DEAL_NOTE = "sync-deal-note"
SLACK = "sync-slack"
SUBSCRIPTION_TERM = "sync-subscription-term"


class BadData(Exception):
    """An event Propale cannot connect to its proposals as they are (unknown number, wrong deal…)."""

    def __init__(self, title: str, detail: str, action: str, deal_id: str | None = None):
        super().__init__(detail)
        self.title, self.detail, self.action, self.deal_id = title, detail, action, deal_id


@dataclass(frozen=True)
class _Target:
    """The proposal a Stripe object belongs to."""

    proposal: Proposal
    snapshot: ProposalSnapshot

    @property
    def deal_id(self) -> str:
        return self.proposal.deal_id

    @property
    def number(self) -> str:
        return self.proposal.number


class Effects:
    """The deliveries one event asks for, keyed by the event unless a key says what must happen once."""

    def __init__(self, event: dict[str, Any], target: _Target):
        self.event_id = event["id"]
        self.target = target
        self.items: list[NewDelivery] = []

    def _add(self, kind: str, payload: bytes, key: str | None) -> None:
        key = f"{kind}:{key}" if key else f"{kind}:{self.event_id}:{len(self.items)}"
        self.items.append(NewDelivery(key=key, kind=kind, payload=payload, proposal_id=self.target.proposal.id))

    def email(self, message: EmailMessage, key: str | None = None) -> None:
        self._add(EMAIL, message.as_bytes(), key)

    def deal_update(self, properties: dict[str, str]) -> None:
        snapshot = self.target.snapshot
        self._add(
            DEAL_UPDATE,
            to_json({"deal_id": snapshot.deal_id, "deal_name": snapshot.deal_name, "properties": properties}),
            None,
        )

    def note(self, body_html: str) -> None:
        snapshot = self.target.snapshot
        self._add(
            DEAL_NOTE,
            to_json({"deal_id": snapshot.deal_id, "deal_name": snapshot.deal_name, "body_html": body_html}),
            None,
        )

    def slack(self, message: dict[str, Any], key: str | None = None) -> None:
        self._add(SLACK, to_json(message), key)

    def subscription_term(self, subscription_id: str, cancel_at: int, deal_url: str) -> None:
        """Have Stripe end the subscription when the proposal's commitment ends (once per version)."""
        target = self.target
        self._add(
            SUBSCRIPTION_TERM,
            to_json(
                {
                    "subscription_id": subscription_id,
                    "cancel_at": cancel_at,
                    "number": target.number,
                    "version": target.proposal.version,
                    "deal_name": target.snapshot.deal_name,
                    "deal_url": deal_url,
                }
            ),
            f"{target.number}:v{target.proposal.version}",
        )


class Handler:
    def __init__(
        self,
        client: stripe.StripeClient,
        ledger: Ledger,
        settings: Settings,
        deal_url: Callable[[str], str],
        from_address: str | None,
        download: Callable[[str], bytes],
    ):
        self.client = client
        self.ledger = ledger
        self.settings = settings
        self.deal_url = deal_url
        self.from_address = from_address
        self.download = download

    def handle(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        """The event's effects; None when it has none for Propale (not Propale's, or moot by now)."""
        handler = {
            "checkout.session.completed": self._checkout_completed,
            "checkout.session.async_payment_succeeded": self._async_payment_succeeded,
            "checkout.session.async_payment_failed": self._async_payment_failed,
            "checkout.session.expired": self._checkout_expired,
            "invoice.paid": self._invoice_paid,
            "invoice.payment_failed": self._invoice_payment_failed,
            "customer.subscription.deleted": self._subscription_deleted,
        }.get(event["type"])
        if handler is None:
            return None
        # Metadata is set once, when Propale creates the session: the event's copy tells whether the
        # object is Propale's without a call to Stripe (an account may have much else going on).
        # That copy is in the account's API version, which may be older than Propale's (see
        # `reading._warn_of_other_api_versions`): only its id and metadata are read here, in either shape,
        # and every handler decides from the object re-read at Propale's pinned version.
        if not self._event_metadata(event).get("proposal_number"):
            log.info("Stripe event %s (%s): no Propale metadata, ignored", event["id"], event["type"])
            return None
        return handler(event)

    def bad_data_alert(self, event: dict[str, Any], problem: BadData) -> NewDelivery:
        if problem.deal_id:
            message = alert(
                problem.title,
                DealLine(f"Transaction {problem.deal_id}", self.deal_url(problem.deal_id), problem.detail),
                problem.action,
            )
        else:
            message = operations_alert(problem.title, problem.detail, problem.action)
        return NewDelivery(key=f"{SLACK}:{event['id']}:bad-data", kind=SLACK, payload=to_json(message))

    # --- finding the proposal -------------------------------------------------------------------

    def _target(self, event: dict[str, Any], metadata: dict[str, Any] | None, what: str) -> _Target | None:
        metadata = metadata or {}
        number = metadata.get("proposal_number")
        if not number:
            log.info("Stripe event %s (%s): %s without Propale metadata, ignored", event["id"], event["type"], what)
            return None
        deal_id = metadata.get("hubspot_deal_id") or None
        proposal = self.ledger.proposal_by_number(number)
        if proposal is None or proposal.snapshot is None:
            raise BadData(
                "Paiement Stripe d'une proposition inconnue",
                f"L'événement Stripe {event['id']} ({event['type']}) concerne la proposition {number}, "
                "que Propale ne connaît pas.",
                "Vérifiez dans Stripe à quelle transaction ce paiement se rattache et reportez-le à la main dans HubSpot.",
                deal_id,
            )
        if (deal_id and deal_id != proposal.deal_id) or str(
            metadata.get("proposal_version") or proposal.version
        ) != str(proposal.version):
            raise BadData(
                "Paiement Stripe incohérent avec sa proposition",
                f"L'événement Stripe {event['id']} ({event['type']}) annonce la proposition {number} "
                f"v{metadata.get('proposal_version')} de la transaction {deal_id}, mais Propale l'a émise en "
                f"v{proposal.version} pour la transaction {proposal.deal_id}.",
                "Vérifiez les métadonnées de l'objet dans Stripe, puis reportez le paiement à la main dans HubSpot.",
                proposal.deal_id,
            )
        return _Target(proposal, proposal.snapshot)

    def _checkout_target(self, event: dict[str, Any], session: dict[str, Any]) -> _Target | None:
        """The proposal a Checkout Session was opened for, provided Propale opened it.

        The customer page records every session it opens before sending the customer to it: one
        the ledger does not know (its metadata copied onto a session made by hand, say) is not a
        payment of the proposal, whatever it says."""
        target = self._target(event, session.get("metadata"), "Checkout Session")
        if target is not None:
            self._require_recorded(event, target, session["id"])
        return target

    def _require_recorded(self, event: dict[str, Any], target: _Target, session_id: str) -> None:
        recorded = {s.stripe_session_id for s in self.ledger.checkout_sessions(target.proposal.id)}
        if session_id not in recorded:
            raise BadData(
                "Paiement Stripe hors de Propale",
                f"L’événement Stripe {event['id']} ({event['type']}) concerne la session de paiement {session_id}, "
                f"qui se réclame de la proposition {target.number} mais n’a pas été ouverte par Propale : il n’est "
                "pas enregistré comme un paiement de la proposition.",
                "Vérifiez dans Stripe qui a créé cette session et à quoi correspond ce paiement, "
                "puis reportez-le à la main dans HubSpot s’il est légitime.",
                target.deal_id,
            )

    def _session(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Checkout Session as it is now: an event carries it as it was then."""
        return self.client.v1.checkout.sessions.retrieve(event["data"]["object"]["id"]).to_dict()

    def _invoice(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.client.v1.invoices.retrieve(event["data"]["object"]["id"], {"expand": ["payments"]}).to_dict()

    def _event_metadata(self, event: dict[str, Any]) -> dict[str, Any]:
        """Propale's metadata on the event's copy of its object, whatever the copy's API version."""
        obj = event["data"]["object"]
        if obj.get("object") != "invoice":
            return obj.get("metadata") or {}
        if "parent" in obj or "subscription_details" in obj:
            return self._invoice_metadata(obj)
        # An invoice in a shape neither of today nor of before basil: never guess "not Propale's",
        # ask Stripe for the invoice at Propale's version.
        return self._invoice_metadata(self.client.v1.invoices.retrieve(obj["id"]).to_dict())

    @staticmethod
    def _invoice_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
        """Propale's metadata: a subscription's invoices carry the subscription's, Checkout's one-off
        invoices their own. The subscription's is under `parent.subscription_details` since
        2025-03-31.basil, and was under a top-level `subscription_details` before, as events of an
        account on an older API version still render it
        (https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects)."""
        details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
        return details.get("metadata") or invoice.get("metadata") or {}

    # --- Checkout ---------------------------------------------------------------------------------

    def _checkout_completed(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        session = self._session(event)
        target = self._checkout_target(event, session)
        if target is None:
            return None
        if session["status"] != "complete":
            log.warning(
                "Stripe event %s: session %s is %s, not complete", event["id"], session["id"], session["status"]
            )
            return None
        payment_of_record = self.ledger.record_payment(session["id"])
        if payment_of_record != session["id"]:
            # Paid twice (a session opened before a crash, say): the first payment stays the deal's.
            return self._second_payment(event, target, session, payment_of_record)
        snapshot, fx = target.snapshot, Effects(event, target)
        acceptance = self.ledger.acceptance(target.proposal.id)
        method = _session_method(session)
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        amount = format_amount(session.get("amount_total") or 0, session.get("currency") or snapshot.currency)
        accepted_at = acceptance.accepted_at if acceptance else _event_time(event)

        properties = {
            STATUS: Status.ACCEPTED,
            "propale_accepted_at": hubspot_datetime(accepted_at),
            "propale_payment_method": method,
            "stripe_customer_id": session.get("customer") or "",
            "propale_error": "",
        }
        if session.get("subscription"):
            properties["stripe_subscription_id"] = session["subscription"]
        if session.get("invoice"):
            properties["stripe_invoice_id"] = session["invoice"]
        fx.deal_update(properties)

        customer = snapshot.customer.display_name
        method_label = PAYMENT_METHOD_LABELS.get(method, method)
        if paid:
            payment = f"Le premier paiement, de {amount} TTC, a été reçu par {method_label}."
        else:
            payment = (
                f"Le prélèvement SEPA de {amount} TTC est en cours : la banque du client le confirme en quelques "
                "jours ouvrés. Vous serez prévenu s'il est rejeté."
            )
            fx.note(
                f"<p><strong>Proposition {_html(target.number)} acceptée</strong> : prélèvement SEPA de {_html(amount)} TTC "
                "en cours.</p><p>Propale ajoutera une note quand la banque aura confirmé le prélèvement.</p>"
            )
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"{customer} a accepté la proposition {target.number} : {headline(snapshot)}",
                title="Proposition acceptée",
                paragraphs=[
                    f"{customer} a accepté la proposition {target.number} (« {snapshot.deal_name} ») "
                    f"le {format_long_date(accepted_at)} et a choisi de payer par {method_label}.",
                    payment,
                ],
                facts=[
                    ("Offre", snapshot.summary[0]),
                    ("Paiement", snapshot.summary[1]),
                    ("Contact", snapshot.customer.contact_name),
                ],
            )
        )
        fx.slack(
            announcement(
                "Proposition acceptée",
                self._deal_line(target, f"{customer} · {target.number} · {headline(snapshot)}"),
                [f"Paiement par {method_label}" + ("" if paid else " (prélèvement en cours)"), snapshot.summary[1]],
            )
        )
        self._check_amount(event, target, session, fx)
        if session.get("subscription") and snapshot.term is not None:
            subscription = self.client.v1.subscriptions.retrieve(session["subscription"])
            # The commitment runs from the subscription's first period, whose start Stripe returns
            # as the billing cycle anchor (https://docs.stripe.com/api/subscriptions/object#subscription_object-billing_cycle_anchor).
            start = datetime.fromtimestamp(subscription.billing_cycle_anchor, UTC)
            fx.subscription_term(
                subscription.id, int(snapshot.term.end(start).timestamp()), self.deal_url(target.deal_id)
            )
        return fx.items

    def _second_payment(
        self, event: dict[str, Any], target: _Target, session: dict[str, Any], first_id: str | None
    ) -> list[NewDelivery]:
        """A second Checkout Session of the proposal was paid: nothing is written to the deal (its ids
        are the first payment's); the rep and the team are told about both, and how to refund one."""
        assert first_id is not None  # `_checkout_target` found this session in the ledger
        first = self.client.v1.checkout.sessions.retrieve(first_id).to_dict()
        fx, customer = Effects(event, target), target.snapshot.customer.display_name
        # (label, what it is, its page in Stripe's Dashboard) for each payment, the first one first.
        payments = [(label, *_payment_line(label, paid)) for label, paid in (("Premier", first), ("Second", session))]
        detail = (
            f"{customer} a payé deux fois la proposition {target.number}. Seul le premier paiement est reporté "
            "sur la transaction dans HubSpot."
        )
        action = (
            "Remboursez le second paiement depuis sa page dans le tableau de bord Stripe (bouton « Rembourser ») ; "
            "s’il s’agit d’un abonnement, annulez aussi cet abonnement en double pour qu’il ne soit plus facturé. "
            "Prévenez ensuite le client."
        )
        once = f"second-payment:{session['id']}"
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"Proposition {target.number} payée deux fois par {customer} : un paiement à rembourser",
                title="Proposition payée deux fois",
                paragraphs=[detail, *(text for _, text, _ in payments), action],
                links=[
                    *((f"{label} paiement dans Stripe", url) for label, _, url in payments),
                    ("Voir la transaction dans HubSpot", self.deal_url(target.deal_id)),
                ],
            ),
            key=once,
        )
        fx.slack(
            alert(
                "Proposition payée deux fois",
                self._deal_line(target, " ".join([detail, *(f"{text} {url}" for _, text, url in payments)])),
                action,
            ),
            key=once,
        )
        log.warning("Proposal %s paid twice: %s, then %s", target.number, first_id, session["id"])
        return fx.items

    def _check_amount(self, event: dict[str, Any], target: _Target, session: dict[str, Any], fx: Effects) -> None:
        """The customer paid what the proposal says: the session's total against the snapshot's first
        payment. A difference is told to the rep and the team; the payment is recorded all the same."""
        snapshot = target.snapshot
        charged, currency = session.get("amount_total"), (session.get("currency") or "").lower()
        # In ISK and UGX the session's total may keep a fraction that its invoice then rounds to whole
        # units (https://docs.stripe.com/currencies#special-cases): the rounded amount is what is paid.
        if (
            charged is not None
            and currency == snapshot.currency.lower()
            and charged_amount(charged, currency) == snapshot.first_payment
        ):
            return
        expected = format_amount(snapshot.first_payment, snapshot.currency)
        actual = format_amount(charged or 0, currency or snapshot.currency)
        log.warning(
            "Stripe event %s: session %s charged %s %s, proposal %s says %s %s",
            event["id"],
            session["id"],
            charged,
            currency,
            target.number,
            snapshot.first_payment,
            snapshot.currency,
        )
        problem = (
            f"Le paiement de la proposition {target.number} est de {actual} TTC, alors que la proposition "
            f"annonce un premier paiement de {expected} TTC."
        )
        action = (
            "Vérifiez le paiement et la facture dans Stripe, puis régularisez avec le client "
            "(remboursement partiel ou facture complémentaire)."
        )
        once = f"amount-mismatch:{session['id']}"
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"Montant payé différent de la proposition {target.number} : {actual} au lieu de {expected}",
                title="Montant payé différent de la proposition",
                paragraphs=[problem, action],
            ),
            key=once,
        )
        fx.slack(alert("Montant payé différent de la proposition", self._deal_line(target, problem), action), key=once)

    def _async_payment_succeeded(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        session = self._session(event)
        target = self._checkout_target(event, session)
        if target is None:
            return None
        fx = Effects(event, target)
        amount = format_amount(session.get("amount_total") or 0, session.get("currency") or target.snapshot.currency)
        properties = {"propale_error": ""}
        if session.get("invoice"):
            # A one-off SEPA payment gets its invoice only once the debit has cleared.
            properties["stripe_invoice_id"] = session["invoice"]
        fx.deal_update(properties)
        fx.note(
            f"<p><strong>Prélèvement SEPA réussi</strong> : {_html(amount)} TTC reçus pour la proposition "
            f"{_html(target.number)}.</p>"
        )
        return fx.items

    def _async_payment_failed(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        session = self._session(event)
        target = self._checkout_target(event, session)
        if target is None:
            return None
        snapshot, fx = target.snapshot, Effects(event, target)
        customer = snapshot.customer.display_name
        amount = format_amount(session.get("amount_total") or 0, session.get("currency") or snapshot.currency)
        problem = (
            f"Le prélèvement SEPA de {amount} TTC pour la proposition {target.number} a été rejeté par la banque "
            "du client."
        )
        action = "Contactez le client pour convenir d'un autre moyen de paiement."
        links = [("Voir la transaction dans HubSpot", self.deal_url(target.deal_id))]
        if session.get("invoice"):
            # A subscription's first invoice stays open: the customer can still pay it on Stripe's page.
            invoice = self.client.v1.invoices.retrieve(session["invoice"]).to_dict()
            if invoice.get("status") == "open" and invoice.get("hosted_invoice_url"):
                action += " Il peut aussi régler la facture en ligne : le lien est dans l'e-mail envoyé au commercial."
                links.insert(
                    0, ("Page de paiement de la facture, à transmettre au client", invoice["hosted_invoice_url"])
                )
        fx.deal_update({"propale_error": f"{problem} {action}"})
        fx.note(f"<p><strong>Prélèvement SEPA rejeté</strong> : {_html(problem)}</p><p>{_html(action)}</p>")
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"Prélèvement rejeté : {customer}, proposition {target.number}",
                title="Prélèvement SEPA rejeté",
                paragraphs=[
                    f"{customer} avait accepté la proposition {target.number} (« {snapshot.deal_name} »).",
                    problem,
                    action,
                ],
                links=links,
            )
        )
        fx.slack(alert("Prélèvement SEPA rejeté", self._deal_line(target, f"{customer} · {problem}"), action))
        return fx.items

    def _checkout_expired(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        session = self._session(event)
        target = self._target(event, session.get("metadata"), "Checkout Session")
        if target is None:
            return None
        if session["status"] != "expired":
            return None
        self.ledger.set_checkout_session_status(session["id"], CheckoutStatus.EXPIRED)
        acceptance = self.ledger.acceptance(target.proposal.id)
        if acceptance is None:
            log.info("Stripe event %s: %s was never accepted, nothing to tell", event["id"], target.number)
            return None
        if target.proposal.status != ProposalStatus.ACCEPTED:
            # Re-proposed, or its payment window closed: Propale expired the session, and the rep knows.
            log.info("Stripe event %s: %s is %s, nothing to tell", event["id"], target.number, target.proposal.status)
            return None
        if self._paid_or_payable_elsewhere(session, target.number):
            # The customer switched payment method (the page expires the other session) or paid.
            log.info("Stripe event %s: another session of %s is open or paid", event["id"], target.number)
            return None
        snapshot, fx = target.snapshot, Effects(event, target)
        customer = snapshot.customer.display_name
        url = proposal_link(self.ledger, self.settings, target.proposal)
        detail = (
            f"{customer} a accepté la proposition {target.number} le {format_long_date(acceptance.accepted_at)} "
            "mais n'a pas terminé le paiement : la page de paiement Stripe a expiré."
        )
        action = f"Renvoyez-lui le lien de sa proposition, il y retrouvera le choix du moyen de paiement : {url}"
        # Once per proposal version: a customer who opens and abandons several payment pages is one story.
        once = f"checkout-expired:{target.number}:v{target.proposal.version}"
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"{customer} a accepté la proposition {target.number} sans la payer",
                title="Proposition acceptée mais pas payée",
                paragraphs=[
                    detail,
                    "Renvoyez-lui le lien de sa proposition : il y retrouvera le choix du moyen de paiement.",
                ],
                facts=[("Offre", snapshot.summary[0]), ("Contact", snapshot.customer.contact_name)],
                links=[
                    ("Lien de la proposition, à renvoyer au client", url),
                    ("Voir la transaction dans HubSpot", self.deal_url(target.deal_id)),
                ],
            ),
            key=once,
        )
        fx.slack(alert("Proposition acceptée mais pas payée", self._deal_line(target, detail), action), key=once)
        return fx.items

    def _paid_or_payable_elsewhere(self, session: dict[str, Any], number: str) -> bool:
        if not session.get("customer"):
            return False
        listing = self.client.v1.checkout.sessions.list({"customer": session["customer"], "limit": 100})
        return any(
            other.id != session["id"]
            and (other.metadata.to_dict() if other.metadata else {}).get("proposal_number") == number
            and other.status in ("open", "complete")
            for other in listing.auto_paging_iter()
        )

    # --- invoices ---------------------------------------------------------------------------------

    def _invoice_paid(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        invoice = self._invoice(event)
        target = self._target(event, self._invoice_metadata(invoice), "invoice")
        if target is None:
            return None
        if invoice["status"] != "paid":
            log.warning("Stripe event %s: invoice %s is %s, not paid", event["id"], invoice["id"], invoice["status"])
            return None
        session_id = self._invoice_session(invoice)
        if session_id is None:
            raise BadData(
                "Facture Stripe hors de Propale",
                f"La facture Stripe {invoice.get('number') or invoice['id']} se réclame de la proposition "
                f"{target.number} mais ne vient d’aucune session de paiement Stripe : elle n’a pas été "
                "envoyée au client.",
                "Vérifiez dans Stripe qui a créé cette facture, puis envoyez-la au client à la main si elle est légitime.",
                target.deal_id,
            )
        self._require_recorded(event, target, session_id)
        snapshot, fx = target.snapshot, Effects(event, target)
        currency = invoice["currency"]
        paid_at = datetime.fromtimestamp(
            (invoice.get("status_transitions") or {}).get("paid_at") or event["created"], UTC
        )
        method = payment_method_label(self._payment_details(invoice))
        number = invoice.get("number") or invoice["id"]
        renewal = invoice.get("billing_reason") == "subscription_cycle"
        period = _subscription_period(invoice)
        receipt = Receipt(
            seller=snapshot.seller,
            customer_name=snapshot.customer.display_name,
            customer_address=snapshot.customer.address_lines,
            invoice_number=number,
            proposal_number=target.number,
            paid_at=paid_at,
            method=method,
            currency=currency,
            net=invoice.get("total_excluding_tax") or 0,
            vat=sum(tax.get("amount") or 0 for tax in invoice.get("total_taxes") or []),
            amount_paid=invoice.get("amount_paid") or 0,
            period=period,
        )
        attachments = [
            (f"Facture-{number}.pdf", self.download(invoice["invoice_pdf"])),
            (f"Recu-{number}.pdf", render_receipt_pdf(receipt)),
        ]
        fx.email(
            build_invoice_email(
                snapshot,
                invoice_number=number,
                amount_paid=receipt.amount_paid,
                currency=currency,
                paid_at=paid_at,
                method=method,
                renewal=renewal,
                period=period,
                attachments=attachments,
                sent_at=_event_time(event),
                idempotency_key=f"invoice-paid:{invoice['id']}",
                from_address=self.from_address,
            ),
            key=f"invoice-paid:{invoice['id']}",  # one email per invoice, whichever event says it is paid
        )
        amount = format_amount(receipt.amount_paid, currency)
        fx.note(
            f"<p><strong>Facture {_html(number)} payée</strong> : {_html(amount)} TTC le {_html(format_long_date(paid_at))} "
            f"par {_html(method)}{' (renouvellement)' if renewal else ''}.</p>"
            "<p>La facture et le reçu ont été envoyés au client par e-mail.</p>"
        )
        properties = {"propale_error": ""}
        # The deal keeps the invoice of its payment of record, not that of a second payment.
        first_payment = self.ledger.payment_of_record(target.proposal.id) in (None, session_id)
        if first_payment and not (invoice.get("parent") or {}).get("subscription_details"):
            properties["stripe_invoice_id"] = invoice["id"]
        fx.deal_update(properties)
        return fx.items

    def _invoice_session(self, invoice: dict[str, Any]) -> str | None:
        """The Checkout Session an invoice comes from: the one that started its subscription, or the
        one whose payment it records (https://docs.stripe.com/api/checkout/sessions/list)."""
        subscription = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        if subscription:
            params: stripe.params.checkout.SessionListParams = {"subscription": subscription, "limit": 1}
        else:
            intents = [
                (p.get("payment") or {}).get("payment_intent")
                for p in ((invoice.get("payments") or {}).get("data")) or []
            ]
            intent = next((i for i in intents if i), None)
            if intent is None:
                return None
            params = {"payment_intent": intent, "limit": 1}
        sessions = self.client.v1.checkout.sessions.list(params).data
        return sessions[0].id if sessions else None

    def _payment_details(self, invoice: dict[str, Any]) -> dict[str, Any] | None:
        """`payment_method_details` of the charge that paid the invoice (None: paid without a charge)."""
        payments = ((invoice.get("payments") or {}).get("data")) or []
        paid = [p for p in payments if p.get("status") == "paid" and (p.get("payment") or {}).get("payment_intent")]
        if not paid:
            return None
        intent = self.client.v1.payment_intents.retrieve(
            paid[0]["payment"]["payment_intent"], {"expand": ["latest_charge"]}
        )
        charge = intent.latest_charge  # expanded: a Charge, not its id
        return charge.to_dict().get("payment_method_details") if isinstance(charge, stripe.Charge) else None

    def _invoice_payment_failed(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        invoice = self._invoice(event)
        target = self._target(event, self._invoice_metadata(invoice), "invoice")
        if target is None:
            return None
        if invoice.get("billing_reason") == "subscription_create":
            # The first invoice is paid in Checkout, whose own events tell that story (async_payment_failed).
            return None
        if invoice["status"] != "open":
            log.info(
                "Stripe event %s: invoice %s is %s by now, nothing to tell",
                event["id"],
                invoice["id"],
                invoice["status"],
            )
            return None
        snapshot, fx = target.snapshot, Effects(event, target)
        customer = snapshot.customer.display_name
        amount = format_amount(invoice.get("amount_remaining") or 0, invoice["currency"])
        number = invoice.get("number") or invoice["id"]
        problem = f"Le paiement de la facture {number} ({amount} TTC) de {customer} a échoué."
        reason = self._failure_reason(invoice)
        paragraphs = [problem] + ([f"Motif indiqué par Stripe : {reason}"] if reason else [])
        if invoice.get("next_payment_attempt"):
            retry = datetime.fromtimestamp(invoice["next_payment_attempt"], UTC)
            paragraphs.append(f"Stripe fera une nouvelle tentative le {format_long_date(retry)}.")
        action = "Contactez le client pour qu'il mette à jour son moyen de paiement ou règle la facture en ligne."
        links = [("Voir la transaction dans HubSpot", self.deal_url(target.deal_id))]
        if invoice.get("hosted_invoice_url"):
            links.insert(0, ("Page de paiement de la facture, à transmettre au client", invoice["hosted_invoice_url"]))
        fx.deal_update({"propale_error": f"{problem} {action}"})
        fx.email(
            self._team_email(
                target,
                event,
                subject=f"Paiement échoué : facture {number} de {customer}",
                title="Paiement échoué",
                paragraphs=[*paragraphs, action],
                links=links,
            )
        )
        fx.slack(alert("Paiement échoué", self._deal_line(target, " ".join(paragraphs)), action))
        return fx.items

    def _failure_reason(self, invoice: dict[str, Any]) -> str | None:
        payments = ((invoice.get("payments") or {}).get("data")) or []
        for payment in payments:  # newest first
            intent_id = (payment.get("payment") or {}).get("payment_intent")
            if intent_id:
                error = self.client.v1.payment_intents.retrieve(intent_id).last_payment_error
                return error.message if error else None
        return None

    # --- subscriptions ----------------------------------------------------------------------------

    def _subscription_deleted(self, event: dict[str, Any]) -> list[NewDelivery] | None:
        """A subscription that reached the end of its commitment (the `cancel_at` Propale set)."""
        subscription = self.client.v1.subscriptions.retrieve(event["data"]["object"]["id"]).to_dict()
        target = self._target(event, subscription.get("metadata"), "subscription")
        if target is None:
            return None
        term = target.snapshot.term
        cancel_at, ended_at = subscription.get("cancel_at"), subscription.get("ended_at")
        if term is None or not cancel_at or not ended_at or ended_at < cancel_at:
            log.info(
                "Stripe event %s: subscription %s of %s ended before any term, nothing to tell",
                event["id"],
                subscription["id"],
                target.number,
            )
            return None
        fx = Effects(event, target)
        customer = target.snapshot.customer.display_name
        ended = datetime.fromtimestamp(ended_at, UTC)
        detail = (
            f"L’abonnement de {customer} (proposition {target.number}) est arrivé au terme de son engagement "
            f"de {term.label} le {format_long_date(ended)} : Stripe ne le facture plus."
        )
        fx.note(f"<p><strong>Fin d’engagement</strong> : {_html(detail)}</p>")
        fx.slack(
            alert(
                "Abonnement arrivé au terme de son engagement",
                self._deal_line(target, detail),
                "Contactez le client si vous souhaitez lui proposer un nouvel engagement.",
            ),
            key=f"term-ended:{subscription['id']}",
        )
        return fx.items

    # --- messages ---------------------------------------------------------------------------------

    def _deal_line(self, target: _Target, detail: str) -> DealLine:
        return DealLine(target.snapshot.deal_name, self.deal_url(target.deal_id), detail)

    def _team_email(
        self,
        target: _Target,
        event: dict[str, Any],
        *,
        subject: str,
        title: str,
        paragraphs: Sequence[str],
        facts: Sequence[tuple[str, str]] = (),
        links: Sequence[tuple[str, str]] | None = None,
    ) -> EmailMessage:
        snapshot = target.snapshot
        rep, seller = snapshot.rep, snapshot.seller
        to = (rep.name, rep.email) if rep and rep.email else (seller.name, seller.email)
        return build_team_email(
            to=to,
            subject=subject,
            title=title,
            paragraphs=paragraphs,
            facts=facts,
            links=links if links is not None else [("Voir la transaction dans HubSpot", self.deal_url(target.deal_id))],
            seller=seller,
            sent_at=_event_time(event),
            idempotency_key=f"{event['id']}:{title}",
            from_address=self.from_address,
        )


def headline(snapshot: ProposalSnapshot) -> str:
    """The offer in a few words, amounts before VAT: "2 400,00 € HT / mois"."""
    parts = []
    if snapshot.recurring and snapshot.recurring.interval:
        parts.append(
            f"{format_amount(snapshot.recurring.net, snapshot.currency)} HT {snapshot.recurring.interval.label}"
        )
    if snapshot.one_off:
        parts.append(
            f"{format_amount(snapshot.one_off.net, snapshot.currency)} HT" + (" de frais ponctuels" if parts else "")
        )
    return " + ".join(parts)


def _payment_line(label: str, session: dict[str, Any]) -> tuple[str, str]:
    """One payment of a proposal paid twice: what it is, and its page in Stripe's Dashboard, where
    it can be refunded (https://docs.stripe.com/refunds#issuing)."""
    amount = format_amount(session.get("amount_total") or 0, session.get("currency") or "eur")
    dashboard = "https://dashboard.stripe.com/" + ("" if session.get("livemode") else "test/")
    if session.get("subscription"):
        url = f"{dashboard}subscriptions/{session['subscription']}"
    elif session.get("payment_intent"):
        url = f"{dashboard}payments/{session['payment_intent']}"
    else:
        url = f"{dashboard}customers/{session.get('customer') or ''}"
    method = PAYMENT_METHOD_LABELS.get(_session_method(session), _session_method(session))
    return f"{label} paiement : {amount} TTC par {method}, session Stripe {session['id']}.", url


def _session_method(session: dict[str, Any]) -> str:
    """Propale opens each session for one payment method."""
    types = session.get("payment_method_types") or ["card"]
    return str(types[0])


def _subscription_period(invoice: dict[str, Any]) -> tuple[date, date] | None:
    """The period a subscription invoice bills, from its subscription lines (the invoice's own
    `period_start`/`period_end` describe the period before, as Stripe defines them)."""
    periods = [
        line["period"]
        for line in (invoice.get("lines") or {}).get("data") or []
        if (line.get("parent") or {}).get("type") == "subscription_item_details" and line.get("period")
    ]
    if not periods:
        return None
    start = min(p["start"] for p in periods)
    end = max(p["end"] for p in periods)
    # Stripe's period end is the next period's first instant: the last day billed is the day before.
    return (
        datetime.fromtimestamp(start, TIMEZONE).date(),
        (datetime.fromtimestamp(end, TIMEZONE) - timedelta(seconds=1)).date(),
    )


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(event["created"], UTC)


def _html(text: str) -> str:
    return str(escape(text))


def to_json(value: Any) -> bytes:
    """A payload as the outbox stores it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


def queue_slack(ledger: Ledger, key: str, message: dict[str, Any]) -> None:
    """A Slack message for the team, queued once under `key` (outside any event's effects)."""
    ledger.ensure_delivery(f"{SLACK}:{key}", kind=SLACK, payload=to_json(message))
