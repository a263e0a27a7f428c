"""What the people who run Propale are told when no deal is at fault: Propale's own settings are
incomplete, or Propale's deal properties were deleted in HubSpot.

In French, for the sales team's Slack channel and the deals' `propale_error`, each naming who
must act and how; the task logs say the same in English where it happens.
"""

from __future__ import annotations

from collections.abc import Sequence

from propale.crm import DEAL_PROPERTIES, STATUS, PropertySetup, Status
from propale.settings import SettingsError

# How the sales team calls the seller's fields (`propale_seller`), in French.
SELLER_FIELD_NAMES = {
    "name": "la raison sociale",
    "address": "l’adresse",
    "siren": "le SIREN",
    "vat_number": "le numéro de TVA intracommunautaire",
    "email": "l’adresse e-mail",
    "phone": "le téléphone",
    "logo_url": "l’adresse du logo",
    "legal_mentions": "les mentions légales",
    "late_payment_penalties": "le taux des pénalités de retard",
    "vat_exemption_mention": "la mention d’exonération de TVA",
}
_THEN_FLAG_AGAIN = "remettez ensuite « À proposer » sur chaque transaction concernée."


def settings_notice(error: SettingsError) -> str:
    """Why no proposal can be sent while Propale's settings are broken, for the reps and their admin."""
    if error.variable == "propale_seller" and (error.missing or error.invalid):
        if error.missing:
            fields = _french_list([SELLER_FIELD_NAMES[name] for name in error.missing])
            return (
                f"Il manque des coordonnées du vendeur dans la configuration de Propale : {fields}. Elles figurent "
                f"sur chaque proposition : l’administrateur de Propale doit les compléter ; {_THEN_FLAG_AGAIN}"
            )
        fields = _french_list([SELLER_FIELD_NAMES[name] for name in error.invalid])
        return (
            f"Des coordonnées du vendeur sont invalides dans la configuration de Propale : {fields}. "
            f"L’administrateur de Propale doit les corriger ; {_THEN_FLAG_AGAIN}"
        )
    return (
        f"La configuration de Propale est incomplète ou invalide (réglage « {error.variable} ») : aucune proposition "
        f"ne peut être envoyée. L’administrateur de Propale doit la corriger ; {_THEN_FLAG_AGAIN}"
    )


def property_notices(setup: PropertySetup) -> list[str]:
    """What a HubSpot admin must know about Propale's deal properties after `ensure_deal_properties`."""
    notices = []
    if setup.deleted:
        one = len(setup.deleted) == 1
        notice = (
            f"{_properties_phrase(setup.deleted)} {'a été supprimée' if one else 'ont été supprimées'} dans HubSpot. "
            f"Un administrateur HubSpot doit {'la' if one else 'les'} restaurer (Paramètres › Propriétés › "
            f"Transactions › Propriétés archivées) : {'elle revient avec ses' if one else 'elles reviennent avec leurs'} "
            f"valeurs. D’ici là, Propale ne peut pas {'la' if one else 'les'} renseigner."
        )
        if STATUS in setup.deleted:
            notice += (
                " Sans le statut Propale, aucune transaction à proposer ne peut être trouvée : aucune proposition "
                "ne part tant qu’il n’est pas restauré."
            )
        notices.append(notice)
    if setup.repaired:
        one = len(setup.repaired) == 1
        notice = (
            f"{_properties_phrase(setup.repaired)} {'manquait' if one else 'manquaient'} dans HubSpot et "
            f"{'a été créée, vide' if one else 'ont été créées, vides'}."
        )
        if STATUS in setup.repaired:
            notice += (
                " Les statuts Propale des transactions sont donc perdus : les commerciaux doivent remettre "
                "« À proposer » sur les transactions à envoyer."
            )
        notices.append(notice)
    if setup.options_added and not setup.first_setup:
        values = _french_list([f"« {Status(value).label} »" for value in setup.options_added])
        notices.append(f"Des valeurs du statut Propale manquaient dans HubSpot et ont été rajoutées : {values}.")
    return notices


def _properties_phrase(names: Sequence[str]) -> str:
    """« La propriété de transaction « X » (x) » or « Les propriétés de transaction … », of Propale."""
    labels = {spec.name: f"« {spec.label} » ({spec.name})" for spec in DEAL_PROPERTIES}
    listed = _french_list([labels[name] for name in names])
    return (
        f"La propriété de transaction Propale {listed}"
        if len(names) == 1
        else f"Les propriétés de transaction Propale {listed}"
    )


def _french_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]
