"""The demo account: « La Fabrique Commune », a fictional coworking space in Lyon.

Everything here is invented (names, SIRENs, VAT numbers, addresses, `.example` e-mail domains).
Two deals are deliberately defective, so a demo shows how Propale reports problems:
the primary contact of « Postes nomades stagiaires » has no e-mail address, and
« Projet à chiffrer » has no line items.
"""

from __future__ import annotations

OWNERS = [
    {"email": "camille.lefevre@lafabrique-commune.example", "firstName": "Camille", "lastName": "Lefèvre"},
    {"email": "hugo.bernard@lafabrique-commune.example", "firstName": "Hugo", "lastName": "Bernard"},
    {"email": "ines.moreau@lafabrique-commune.example", "firstName": "Inès", "lastName": "Moreau"},
]
# A rep who left: their owner record is archived, as HubSpot keeps it.
ARCHIVED_OWNER = {"email": "julien.petit@lafabrique-commune.example", "firstName": "Julien", "lastName": "Petit"}

# key: (name, sku, unit price in euros excl. VAT, billing frequency or None for one-off, description)
PRODUCTS = {
    "nomade": (
        "Poste nomade",
        "NOMADE-MOIS",
        "190",
        "monthly",
        "Accès open space, poste non attribué, du lundi au vendredi.",
    ),
    "fixe": ("Bureau fixe", "FIXE-MOIS", "320", "monthly", "Poste dédié avec caisson fermant, accès 24 h/24."),
    "prive2": ("Bureau privé 2 places", "PRIVE2-MOIS", "850", "monthly", "Bureau fermé de 12 m², 2 postes."),
    "prive4": ("Bureau privé 4 places", "PRIVE4-MOIS", "1600", "monthly", "Bureau fermé de 22 m², 4 postes."),
    "prive6": ("Bureau privé 6 places", "PRIVE6-MOIS", "2300", "monthly", "Bureau fermé de 30 m², 6 postes."),
    "salle": (
        "Salle de réunion (demi-journée)",
        "SALLE-DEMIJ",
        "180",
        None,
        "Salle de 10 personnes, écran et visioconférence, 4 heures.",
    ),
    "mes": (
        "Frais de mise en service",
        "FRAIS-MES",
        "150",
        None,
        "Badge, clés, ouverture des accès réseau et domiciliation du courrier.",
    ),
}

# key: company properties
COMPANIES = {
    "lumen": {"name": "Atelier Lumen", "domain": "atelier-lumen.example", "address": "14 rue des Tanneurs",
              "zip": "69001", "city": "Lyon", "country": "France", "phone": "+33 4 72 00 11 22",
              "siren": "812345676", "vat_number": "FR19812345676", "industry": "Design graphique"},
    "boulangerie": {"name": "Boulangerie Numérique SAS", "domain": "boulangerie-numerique.example",
                    "address": "3 place Bellecour", "zip": "69002", "city": "Lyon", "country": "France",
                    "phone": "+33 4 78 12 34 56", "siren": "845671239", "vat_number": "FR69845671239",
                    "industry": "Logiciel"},
    "vasseur": {"name": "Cabinet Vasseur Avocats", "domain": "vasseur-avocats.example",
                "address": "27 quai Saint-Antoine", "zip": "69002", "city": "Lyon", "country": "France",
                "phone": "+33 4 78 98 76 54", "siren": "793124686", "vat_number": "FR57793124686",
                "industry": "Services juridiques"},
    "ondeverte": {"name": "Onde Verte SARL", "domain": "onde-verte.example", "address": "8 allée Baco",
                  "zip": "44000", "city": "Nantes", "country": "France", "phone": "+33 2 40 11 22 33",
                  "siren": "882145709", "vat_number": "FR10882145709", "industry": "Énergies renouvelables"},
    "kairos": {"name": "Studio Kairos", "domain": "studio-kairos.example", "address": "52 cours Victor Hugo",
               "zip": "33000", "city": "Bordeaux", "country": "France", "phone": "+33 5 56 44 55 66",
               "siren": "903567816", "vat_number": "FR48903567816", "industry": "Production audiovisuelle"},
    "paprika": {"name": "Collectif Paprika", "domain": "collectif-paprika.example", "address": "19 rue Esquermoise",
                "zip": "59800", "city": "Lille", "country": "France", "phone": "+33 3 20 77 88 99",
                "siren": "852901347", "vat_number": "FR29852901347", "industry": "Événementiel"},
}  # fmt: skip

# key: (company key, properties)
CONTACTS = {
    "lea": ("lumen", {"firstname": "Léa", "lastname": "Garnier", "email": "lea.garnier@atelier-lumen.example",
                      "phone": "+33 6 12 34 56 78", "jobtitle": "Gérante"}),
    "thomas": ("boulangerie", {"firstname": "Thomas", "lastname": "Roux", "email": "thomas.roux@boulangerie-numerique.example",
                               "phone": "+33 6 23 45 67 89", "jobtitle": "Directeur administratif et financier"}),
    "sophie": ("vasseur", {"firstname": "Sophie", "lastname": "Vasseur", "email": "s.vasseur@vasseur-avocats.example",
                           "phone": "+33 6 34 56 78 90", "jobtitle": "Associée"}),
    "maxime": ("vasseur", {"firstname": "Maxime", "lastname": "Caron", "phone": "+33 6 45 67 89 01",
                           "jobtitle": "Assistant juridique"}),  # no e-mail: deliberate defect
    "nadia": ("ondeverte", {"firstname": "Nadia", "lastname": "Benali", "email": "nadia.benali@onde-verte.example",
                            "phone": "+33 6 56 78 90 12", "jobtitle": "Responsable des services généraux"}),
    "antoine": ("kairos", {"firstname": "Antoine", "lastname": "Dubois", "email": "antoine@studio-kairos.example",
                           "phone": "+33 6 67 89 01 23", "jobtitle": "Producteur"}),
    "manon": ("paprika", {"firstname": "Manon", "lastname": "Lambert", "email": "manon.lambert@collectif-paprika.example",
                          "phone": "+33 6 78 90 12 34", "jobtitle": "Coordinatrice"}),
}  # fmt: skip

# Line items: (product key, or None for a line without product; HubSpot line item properties
# overriding the product's: quantity, price, frequency, period, discounts).
# owner: index into OWNERS; close_in_days: the expected close date, counted from the seeding day.
DEALS = [
    {"name": "Atelier Lumen — 3 postes nomades", "company": "lumen", "contact": "lea", "owner": 0,
     "stage": "presentationscheduled", "close_in_days": 44,
     "items": [("nomade", {"quantity": "3"})]},
    {"name": "Boulangerie Numérique — bureau privé 4 places", "company": "boulangerie", "contact": "thomas", "owner": 1,
     "stage": "decisionmakerboughtin", "close_in_days": 30,
     "items": [("prive4", {"quantity": "1"}), ("mes", {"quantity": "4"})]},
    {"name": "Cabinet Vasseur — bureau privé 6 places, engagement annuel", "company": "vasseur", "contact": "sophie",
     "owner": 2, "stage": "contractsent", "close_in_days": 29,
     "items": [("prive6", {"quantity": "1", "price": "27600", "recurringbillingfrequency": "annually",
                           "hs_recurring_billing_period": "P12M", "hs_discount_percentage": "10"})]},
    {"name": "Onde Verte — 2 bureaux fixes au trimestre", "company": "ondeverte", "contact": "nadia", "owner": 0,
     "stage": "qualifiedtobuy", "close_in_days": 91,
     "items": [("fixe", {"quantity": "2", "price": "960", "recurringbillingfrequency": "quarterly",
                         "hs_recurring_billing_period": "P3M"})]},
    {"name": "Studio Kairos — 4 demi-journées de salle", "company": "kairos", "contact": "antoine", "owner": 1,
     "stage": "presentationscheduled", "close_in_days": 19,
     "items": [("salle", {"quantity": "4"})]},
    {"name": "Collectif Paprika — bureau privé 2 places", "company": "paprika", "contact": "manon", "owner": 2,
     "stage": "decisionmakerboughtin", "close_in_days": 39,
     "items": [("prive2", {"quantity": "1"}), ("mes", {"quantity": "2", "discount": "50"})]},
    {"name": "Atelier Lumen — bureau fixe supplémentaire", "company": "lumen", "contact": "lea", "owner": 0,
     "stage": "contractsent", "close_in_days": 24,
     "items": [("fixe", {"quantity": "1", "hs_discount_percentage": "15"})]},
    {"name": "Boulangerie Numérique — séminaire d'équipe", "company": "boulangerie", "contact": "thomas", "owner": 1,
     "stage": "appointmentscheduled", "close_in_days": 106,
     "items": [("salle", {"quantity": "2"}), (None, {"quantity": "1", "name": "Accueil café et badges visiteurs",
                                                      "price": "90", "hs_sku": "ACCUEIL-SEMINAIRE"})]},
    {"name": "Onde Verte — 5 postes nomades pour l'été", "company": "ondeverte", "contact": "nadia", "owner": 2,
     "stage": "presentationscheduled", "close_in_days": 14,
     "items": [("nomade", {"quantity": "5", "hs_discount_percentage": "20", "hs_recurring_billing_period": "P3M"})]},
    {"name": "Studio Kairos — bureau privé 2 places et mise en service", "company": "kairos", "contact": "antoine",
     "owner": 0, "stage": "qualifiedtobuy", "close_in_days": 60,
     "items": [("prive2", {"quantity": "1"}), ("mes", {"quantity": "2"})]},
    {"name": "Cabinet Vasseur — postes nomades stagiaires", "company": "vasseur", "contact": "maxime", "owner": 2,
     "stage": "decisionmakerboughtin", "close_in_days": 34,
     "items": [("nomade", {"quantity": "2"})]},
    {"name": "Collectif Paprika — projet à chiffrer", "company": "paprika", "contact": "manon", "owner": 1,
     "stage": "appointmentscheduled", "close_in_days": 122,
     "items": []},
]  # fmt: skip

# The deals that are defective on purpose (see the module docstring): `propale demo` expects
# them to end in « Erreur » with their reason, and every other deal to be sent.
DEFECTIVE_DEALS = ("Cabinet Vasseur — postes nomades stagiaires", "Collectif Paprika — projet à chiffrer")


# Generated customers (`--generated-deals N`): three offers in turn, so that a load exercises
# subscriptions, one-off invoices and both together.
GENERATED_OFFERS = [
    ("{n} postes nomades", [("nomade", {})]),
    ("{n} demi-journées de salle", [("salle", {})]),
    ("bureau privé 2 places et mise en service", [("prive2", {"quantity": "1"}), ("mes", {})]),
]


def generated_deal(i: int) -> tuple[dict[str, str], dict[str, str], dict]:
    """Customer number `i` (from 1): its company's and contact's properties, and its deal."""
    name = f"Client {i:05d}"
    quantity = str(2 + i % 3)
    title, items = GENERATED_OFFERS[i % len(GENERATED_OFFERS)]
    company = {"name": f"{name} SAS", "domain": f"client{i:05d}.example", "city": "Lyon", "country": "France"}
    contact = {"firstname": "Alex", "lastname": name, "email": f"contact@client{i:05d}.example"}
    deal = {
        "name": f"{name} — {title.format(n=quantity)}",
        "owner": i % len(OWNERS),
        "stage": "presentationscheduled",
        "close_in_days": 30,
        "items": [(product, {"quantity": quantity, **overrides}) for product, overrides in items],
    }
    return company, contact, deal
