"""Owners (`/crm/v3/owners`) and the users behind them (`/settings/v3/users`).

HubSpot has no API to create an owner: adding a user to the account makes one. The stand-in does
the same, so tests and scripts can add sales reps the way an admin would.
"""

from __future__ import annotations

from typing import Any

from propale_dev.sandbox.hubspot.errors import HubSpotError, not_found, validation_error
from propale_dev.sandbox.hubspot.values import now_iso
from propale_dev.sandbox.store import Store

OWNER_KIND = "hubspot.owners"
FIRST_OWNER_ID = 71_000_001
FIRST_USER_ID = 5_100_001
DEFAULT_TEAM = {"id": "3001", "name": "Équipe commerciale", "primary": True}
ACCOUNT_ADMIN = {"email": "admin@propale.example", "firstName": "Alex", "lastName": "Martin"}


class OwnerDirectory:
    def __init__(self, store: Store):
        self._store = store
        if not store.all(OWNER_KIND):
            self.add(**ACCOUNT_ADMIN, super_admin=True)

    def add(
        self, email: str, firstName: str = "", lastName: str = "", *, super_admin: bool = False, archived: bool = False
    ) -> dict[str, Any]:
        with self._store.transaction():
            if any(o["email"].lower() == email.lower() for o in self._store.all(OWNER_KIND)):
                raise HubSpotError(409, f"A user with email {email} already exists.", "CONFLICT")
            owner_id = self._store.next_value("hubspot.owner_id", start=FIRST_OWNER_ID)
            user_id = self._store.next_value("hubspot.user_id", start=FIRST_USER_ID)
            stamp = now_iso()
            owner = {
                "id": str(owner_id),
                "email": email,
                "type": "PERSON",
                "firstName": firstName,
                "lastName": lastName,
                "userId": user_id,
                "userIdIncludingInactive": user_id,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": archived,
                "teams": [dict(DEFAULT_TEAM)],
                "_superAdmin": super_admin,
            }
            self._store.put(OWNER_KIND, owner["id"], owner)
            return owner

    def active_ids(self) -> set[str]:
        return {o["id"] for o in self._store.all(OWNER_KIND) if not o["archived"]}

    def page(self, *, email: str | None, archived: bool, after: str | None, limit: int) -> dict[str, Any]:
        owners = [o for o in self._store.all(OWNER_KIND) if o["archived"] == archived]
        if email:
            owners = [o for o in owners if o["email"].lower() == email.lower()]
        start = int(after) if after and after.isdigit() else 0
        chunk = owners[start : start + limit]
        body: dict[str, Any] = {"results": [public_owner(o) for o in chunk]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
        return body

    def get(self, owner_id: str, *, id_property: str, archived: bool) -> dict[str, Any]:
        if id_property not in {"id", "userId"}:
            raise validation_error(f"idProperty must be id or userId, not {id_property}")
        for owner in self._store.all(OWNER_KIND):
            key = owner["id"] if id_property == "id" else str(owner["userId"])
            if key == owner_id and owner["archived"] == archived:
                return public_owner(owner)
        raise not_found(f"Owner {owner_id} not found")

    # ---- users -------------------------------------------------------------------------------

    def provision_user(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("email"):
            raise validation_error("email is required")
        owner = self.add(body["email"], body.get("firstName", ""), body.get("lastName", ""))
        return public_user(owner)

    def user(self, user_id: str) -> dict[str, Any]:
        return public_user(self._by_user_id(user_id))

    def remove_user(self, user_id: str) -> None:
        with self._store.transaction():
            owner = self._by_user_id(user_id)
            owner["archived"] = True
            owner["updatedAt"] = now_iso()
            owner["userId"] = None
            self._store.put(OWNER_KIND, owner["id"], owner)

    def _by_user_id(self, user_id: str) -> dict[str, Any]:
        for owner in self._store.all(OWNER_KIND):
            if str(owner["userId"]) == str(user_id) and not owner["archived"]:
                return owner
        raise not_found(f"User {user_id} not found")


def public_owner(owner: dict[str, Any]) -> dict[str, Any]:
    public = {k: v for k, v in owner.items() if not k.startswith("_")}
    if public["userId"] is None:
        del public["userId"]
    return public


def public_user(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(owner["userIdIncludingInactive"]),
        "email": owner["email"],
        "roleIds": [],
        "primaryTeamId": DEFAULT_TEAM["id"],
        "secondaryTeamIds": [],
        "superAdmin": bool(owner.get("_superAdmin")),
        "sendWelcomeEmail": False,
    }
