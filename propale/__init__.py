"""Propale: quote-to-cash from HubSpot to Stripe, run as Apache Airflow 3 DAGs."""

__version__ = "0.1.0"
