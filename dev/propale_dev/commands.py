"""The dev commands `propale sandbox`, `propale demo` and `propale run`.

`propale`'s command line finds them through the `propale.commands` entry point group, so they exist
wherever this package is installed (a laptop, CI) and nowhere else (the production image).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
from pathlib import Path

from propale_dev.sandbox.config import SandboxConfig


def _fault_setting(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write SERVICE.SETTING=NUMBER, e.g. hubspot.latency_ms=100"
        ) from None


def add_sandbox_command(commands: argparse._SubParsersAction) -> None:
    defaults = SandboxConfig()
    parser = commands.add_parser(
        "sandbox",
        help="run the HubSpot, Stripe, SMTP and Slack stand-ins on loopback",
        description=(
            "Run stateful stand-ins for HubSpot's CRM API, Stripe's API, a mailbox (SMTP) and a "
            "Slack incoming-webhook receiver, each with a page to look at what arrived."
        ),
    )
    _add_sandbox_options(parser)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.data_dir,
        help="where state is kept across restarts (default: %(default)s)",
    )
    parser.add_argument("--reset", action="store_true", help="start with empty state")
    parser.add_argument("--seed", choices=["demo"], help="load a data set (demo: a coworking company)")
    parser.add_argument(
        "--generated-deals",
        type=int,
        default=0,
        metavar="N",
        help="with --seed demo: N more customers, each with a deal, for load tests and benchmarks",
    )
    parser.set_defaults(handler=_run_sandbox)


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """The sandbox's addresses, credentials and faults: the same options wherever it is started."""
    defaults = SandboxConfig()
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    for service, port in [
        ("hubspot", defaults.hubspot_port),
        ("stripe", defaults.stripe_port),
        ("mailbox", defaults.mailbox_port),
        ("smtp", defaults.smtp_port),
        ("slack", defaults.slack_port),
    ]:
        parser.add_argument(f"--{service}-port", type=int, default=port, metavar="PORT")
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault_setting,
        default=[],
        metavar="SERVICE.SETTING=N",
        help=(
            "inject a fault from the start, e.g. hubspot.latency_ms=100, stripe.error_rate=0.1, "
            "hubspot.rate_limit=100, hubspot.search_lag_s=5, mailbox.smtp_error_rate=1 (repeatable; "
            "GET /_sandbox/faults on a stand-in lists its settings)"
        ),
    )
    parser.add_argument("--hubspot-token", default=defaults.hubspot_token)
    parser.add_argument("--stripe-secret-key", default=defaults.stripe_secret_key)
    parser.add_argument(
        "--hubspot-token-without-scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="leave this scope out of the HubSpot private app's token, to see `propale setup` report it (repeatable)",
    )
    parser.add_argument(
        "--stripe-api-version",
        default=defaults.stripe_api_version,
        metavar="VERSION",
        help="the Stripe account's default API version, in which events are rendered (default: %(default)s)",
    )


def _sandbox_config(args: argparse.Namespace, data_dir: Path) -> SandboxConfig:
    return SandboxConfig(
        host=args.host,
        hubspot_port=args.hubspot_port,
        stripe_port=args.stripe_port,
        mailbox_port=args.mailbox_port,
        smtp_port=args.smtp_port,
        slack_port=args.slack_port,
        data_dir=data_dir,
        hubspot_token=args.hubspot_token,
        stripe_secret_key=args.stripe_secret_key,
        stripe_api_version=args.stripe_api_version,
        hubspot_token_missing_scopes=tuple(args.hubspot_token_without_scope),
    )


def _run_sandbox(args: argparse.Namespace) -> int:
    # aiosmtpd logs every envelope at INFO: addresses are personal data, keep them out of logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    from propale_dev.sandbox.server import SEEDS, serve_forever
    from propale_dev.sandbox.store import Store

    config = _sandbox_config(args, args.data_dir)
    if args.reset and config.data_dir.exists():
        shutil.rmtree(config.data_dir)
    store = Store(config.db_path)
    if args.generated_deals and not args.seed:
        print("--generated-deals needs --seed demo: generated deals use the demo's products and reps", file=sys.stderr)
        return 2
    if args.seed:
        SEEDS[args.seed](store, args.generated_deals)

    def announce() -> None:
        print(
            "Propale sandbox ready\n"
            f"  HubSpot API   {config.hubspot_url}   token {config.hubspot_token}\n"
            f"  Stripe API    {config.stripe_url}   secret key {config.stripe_secret_key}\n"
            f"  Mailbox       {config.mailbox_url}   SMTP {config.host}:{config.smtp_port}\n"
            f"  Slack         {config.slack_url}   webhook {config.slack_webhook_url}\n"
            f"  State         {config.data_dir}\n"
            "Ctrl-C stops it.",
            flush=True,
        )

    try:
        asyncio.run(serve_forever(store, config, dict(args.fault), on_ready=announce))
    except ValueError as exc:
        print(f"propale sandbox: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


def add_demo_command(commands: argparse._SubParsersAction) -> None:
    from propale_dev.local import DEFAULT_PORT

    parser = commands.add_parser(
        "demo",
        help="run the whole loop headlessly for the demo company's deals and print a report",
        description=(
            "Start the sandbox with the demo company (fresh state in $PROPALE_HOME), flag every deal, "
            "send the proposals with Airflow, let each customer accept and pay over HTTP, sync Stripe, "
            "renew a subscription a month later with a Stripe test clock, then report per deal. "
            "Exits non-zero if a step failed; the two deliberately defective deals ending in "
            "« Erreur » is expected."
        ),
    )
    _add_sandbox_options(parser)
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port of the customer page, served at http://HOST:PORT/propale as `propale run` serves it (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the report, keep the sandbox and the customer page up until Ctrl-C",
    )
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from propale_dev import demo
    from propale_dev.local import Workspace

    workspace = Workspace.default()
    options = demo.DemoOptions(
        sandbox=_sandbox_config(args, workspace.sandbox_dir),
        workspace=workspace,
        port=args.port,
        faults=dict(args.fault),
        keep_running=args.keep_running,
    )
    return demo.run(options)


def add_run_command(commands: argparse._SubParsersAction) -> None:
    from propale_dev.local import DEFAULT_PORT

    parser = commands.add_parser(
        "run",
        help="run Airflow locally (scheduler, DAG processor, triggerer, API server) against the sandbox",
        description=(
            "Start the sandbox (state kept in $PROPALE_HOME; the demo company is loaded the first time) "
            "and Airflow on SQLite with the LocalExecutor and no login prompt, the DAGs unpaused and "
            "the customer page served under /propale by the API server. Ctrl-C stops everything."
        ),
    )
    _add_sandbox_options(parser)
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port of Airflow's API server: UI, REST API, customer page under /propale (default: %(default)s)",
    )
    parser.set_defaults(handler=_run_local)


def _run_local(args: argparse.Namespace) -> int:
    from propale_dev import local_run
    from propale_dev.local import Workspace

    workspace = Workspace.default()
    options = local_run.RunOptions(
        sandbox=_sandbox_config(args, workspace.sandbox_dir),
        workspace=workspace,
        port=args.port,
        faults=dict(args.fault),
    )
    return local_run.run(options)
