"""HubSpot CRM API stand-in: what `propale sandbox` serves on its HubSpot address.

The official `hubspot-api-client` talks to it unmodified (pass `host=`): CRM objects, search,
associations v4, properties, owners and files, with HubSpot's paths, status codes and bodies.
"""

from propale_dev.sandbox.hubspot.app import create_service
from propale_dev.sandbox.hubspot.seed import seed_demo

__all__ = ["create_service", "seed_demo"]
