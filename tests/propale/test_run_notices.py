"""What reps and admins are told when no deal can be sent for a reason outside the deals: Propale's
settings incomplete, or Propale's HubSpot properties deleted. In French, naming what to do."""

from __future__ import annotations

import json

import pytest

from propale.crm import PropertySetup
from propale.notices import property_notices, settings_notice
from propale.settings import Settings, SettingsError
from support.factories import SELLER


def _error(**variables: str | None) -> SettingsError:
    values = {
        "propale_public_url": "https://propale.example.fr",
        "propale_secret_key": "s" * 40,
        "propale_seller": json.dumps(SELLER),
    }
    values.update(variables)
    with pytest.raises(SettingsError) as raised:
        Settings.load(values.get, environ={})
    return raised.value


def test_missing_seller_fields_are_named_in_french_with_who_must_act():
    seller = {key: value for key, value in SELLER.items() if key not in ("siren", "vat_number")}
    assert settings_notice(_error(propale_seller=json.dumps(seller))) == (
        "Il manque des coordonnées du vendeur dans la configuration de Propale : le SIREN et le numéro de TVA "
        "intracommunautaire. Elles figurent sur chaque proposition : l’administrateur de Propale doit les compléter ; "
        "remettez ensuite « À proposer » sur chaque transaction concernée."
    )


def test_no_seller_at_all_names_every_required_field():
    notice = settings_notice(_error(propale_seller=None))
    assert "la raison sociale, l’adresse, le SIREN, le numéro de TVA intracommunautaire et l’adresse e-mail" in notice


def test_an_invalid_seller_field_asks_for_a_correction():
    notice = settings_notice(_error(propale_seller=json.dumps({**SELLER, "siren": "12345"})))
    assert notice.startswith("Des coordonnées du vendeur sont invalides dans la configuration de Propale : le SIREN.")
    assert "doit les corriger" in notice


def test_any_other_broken_setting_is_named_by_its_variable():
    notice = settings_notice(_error(propale_public_url=None))
    assert "(réglage « propale_public_url »)" in notice and "aucune proposition ne peut être envoyée" in notice


def test_a_property_in_hubspots_recycle_bin_is_to_be_restored_with_its_values():
    [notice] = property_notices(PropertySetup(deleted=["propale_proposal_url", "propale_status"]))
    assert notice.startswith(
        "Les propriétés de transaction Propale « Lien de la proposition » (propale_proposal_url) et « Statut Propale » "
        "(propale_status) ont été supprimées dans HubSpot. Un administrateur HubSpot doit les restaurer"
    )
    assert "elles reviennent avec leurs valeurs" in notice and "aucune proposition ne part" in notice
    [notice] = property_notices(PropertySetup(deleted=["propale_proposal_url"]))
    assert notice == (
        "La propriété de transaction Propale « Lien de la proposition » (propale_proposal_url) a été supprimée dans "
        "HubSpot. Un administrateur HubSpot doit la restaurer (Paramètres › Propriétés › Transactions › Propriétés "
        "archivées) : elle revient avec ses valeurs. D’ici là, Propale ne peut pas la renseigner."
    )


def test_a_status_property_created_again_means_the_reps_flag_again():
    [notice] = property_notices(PropertySetup(created=["propale_status"]))
    assert notice == (
        "La propriété de transaction Propale « Statut Propale » (propale_status) manquait dans HubSpot et a été créée, "
        "vide. Les statuts Propale des transactions sont donc perdus : les commerciaux doivent remettre « À proposer » "
        "sur les transactions à envoyer."
    )


def test_a_first_install_or_a_healthy_account_has_nothing_to_report():
    assert property_notices(PropertySetup(group_created=True, created=["propale_status"], first_setup=True)) == []
    assert property_notices(PropertySetup()) == []


def test_status_values_added_back_are_reported():
    assert property_notices(PropertySetup(options_added=["error"])) == [
        "Des valeurs du statut Propale manquaient dans HubSpot et ont été rajoutées : « Erreur »."
    ]
