"""The `propale` command.

Production has `propale setup` and `propale db upgrade`; packages add commands through the
`propale.commands` entry point group (a callable that takes the subparsers): `propale-dev` adds
`sandbox`, `demo` and `run`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

COMMANDS_GROUP = "propale.commands"


def _ledger_url() -> str:
    """The ledger's URL as tasks find it (propale.runtime): the `propale_db_url` Variable, or the
    SQLite file under AIRFLOW_HOME. Read alone, so the ledger can be migrated before the other
    settings are filled in."""
    from airflow.sdk import Variable

    from propale.settings import default_db_url

    configured = (Variable.get("propale_db_url", default=None) or "").strip()
    return configured or default_db_url()


def _upgrade_ledger(url: str) -> None:
    from sqlalchemy.engine import make_url

    from propale.ledger.engine import create_ledger_engine
    from propale.ledger.schema import head_revision, upgrade_schema

    engine = create_ledger_engine(url)
    try:
        changed = upgrade_schema(engine)
    finally:
        engine.dispose()
    where = make_url(url).render_as_string(hide_password=True)
    state = "upgraded to" if changed else "already at"
    print(f"Propale ledger ({where}): {state} revision {head_revision()}")


def _run_db_upgrade(args: argparse.Namespace) -> int:
    _upgrade_ledger(args.url or _ledger_url())
    return 0


def _run_db_revision(args: argparse.Namespace) -> int:
    from propale.ledger.schema import draft_revision

    print(f"Drafted {draft_revision(args.message)}: read it and adjust it before committing it.")
    return 0


def _run_setup(args: argparse.Namespace) -> int:
    from propale import account_checks
    from propale.account_checks import Finding, Level
    from propale.hooks import HubSpotHook, StripeHook
    from propale.runtime import load_settings
    from propale.settings import DEFAULT_PAYMENT_METHODS, SettingsError

    # The library logs each request's URL at INFO: noise among the findings an admin reads.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # The ledger first: setup leaves a working Propale, and a failure here says so before any account.
    _upgrade_ledger(_ledger_url())
    findings: list[Finding] = []
    try:
        settings = load_settings()
    except SettingsError as error:
        payment_methods: tuple[str, ...] = DEFAULT_PAYMENT_METHODS
        if error.variable == "propale_seller":
            findings.append(account_checks.seller_settings_error(error))
        else:
            findings.append(
                Finding(
                    Level.WARNING, "Propale settings", f"{error} Meanwhile the default payment methods are checked."
                )
            )
    else:
        payment_methods = settings.payment_methods
        findings += account_checks.check_seller_mentions(settings.seller)
    # One retry for Stripe: an admin waits at the prompt, and an unreachable API is itself a finding.
    findings += account_checks.check_accounts(
        lambda: HubSpotHook(args.hubspot_conn_id).get_conn(),
        lambda: StripeHook(args.stripe_conn_id, max_network_retries=1).get_conn(),
        payment_methods,
    )
    for finding in findings:
        print(finding.line())
    if not account_checks.hubspot_usable(findings):
        print("HubSpot deal properties: not checked until the HubSpot problem above is fixed")
        return 1
    setup = HubSpotHook(args.hubspot_conn_id).get_conn().ensure_deal_properties()
    changes = setup.changes
    print("HubSpot deal properties: " + (", ".join(changes) + " created" if changes else "already up to date"))
    if setup.deleted:
        print(
            "In HubSpot's recycle bin, to be restored by a HubSpot admin (Settings > Properties > Deals > "
            "Archived properties): " + ", ".join(setup.deleted),
            file=sys.stderr,
        )
        return 1
    return 1 if account_checks.has_errors(findings) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="propale", description="Propale: quote-to-cash from HubSpot to Stripe, run as Airflow DAGs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in entry_points(group=COMMANDS_GROUP):
        command.load()(commands)
    setup = commands.add_parser(
        "setup",
        help="check the HubSpot and Stripe accounts, then create Propale's deal properties in HubSpot (idempotent)",
        description=(
            "Checks the seller's invoice mentions (propale_seller), the HubSpot private app's scopes, the Stripe "
            "account's default API version and that the payment methods Propale offers are on for Checkout, "
            "saying what to fix; then creates "
            "Propale's property group and deal properties in HubSpot. Exits 1 when something would "
            "break Propale. Uses the Airflow connections hubspot_default and stripe_default."
        ),
    )
    setup.add_argument("--hubspot-conn-id", default="hubspot_default")
    setup.add_argument("--stripe-conn-id", default="stripe_default")
    setup.set_defaults(handler=_run_setup)
    database = commands.add_parser("db", help="Propale's ledger database")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser(
        "upgrade",
        help="bring the ledger to the latest migration (idempotent); run before Propale's components start",
        description=(
            "Runs the ledger's Alembic migrations up to the latest (version table propale_alembic_version). "
            "A ledger made before migrations existed is recognised and taken over. The ledger is the "
            "propale_db_url Airflow Variable, or propale.db under AIRFLOW_HOME."
        ),
    )
    upgrade.add_argument("--url", help="the ledger's SQLAlchemy URL, instead of the propale_db_url Variable")
    upgrade.set_defaults(handler=_run_db_upgrade)
    revision = database_commands.add_parser(
        "revision",
        help="(development) draft a migration from the changes made to propale/ledger/tables.py",
    )
    revision.add_argument("-m", "--message", required=True, help="what it does, e.g. 'add proposals.currency'")
    revision.set_defaults(handler=_run_db_revision)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
