"""HubSpot stand-in, owners (and the users that make them) and File Manager uploads."""

from __future__ import annotations

import json

import httpx
import hubspot
import pytest
from hubspot.crm.owners import ApiException, CollectionResponsePublicOwnerForwardPaging, PublicOwner
from hubspot.files import ApiException as FilesApiException
from hubspot.files import File, SignedUrl


@pytest.fixture
def client(sandbox_config):
    return hubspot.Client.create(access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)


def _raw_owners(sandbox_config, path: str, **params) -> httpx.Response:
    return httpx.get(
        f"{sandbox_config.hubspot_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {sandbox_config.hubspot_token}"},
    )


def test_a_fresh_account_has_its_admin_as_owner_and_users_make_owners(client, sandbox_config):
    page = client.crm.owners.owners_api.get_page()
    assert isinstance(page, CollectionResponsePublicOwnerForwardPaging)
    assert all(isinstance(o, PublicOwner) and o.type == "PERSON" for o in page.results)
    user = client.settings.users.users_api.create(
        {"email": "ines.moreau@fabrique.example", "firstName": "Inès", "lastName": "Moreau"}
    )
    owner = client.crm.owners.owners_api.get_page(email="ines.moreau@fabrique.example").results[0]
    assert (owner.first_name, owner.last_name, owner.user_id) == ("Inès", "Moreau", int(user.id))
    assert owner.teams[0].primary is True
    assert client.crm.owners.owners_api.get_by_id(owner.id).email == owner.email
    assert client.crm.owners.owners_api.get_by_id(user.id, id_property="userId").id == owner.id
    # A deal can be given to this owner now, and not to an unknown one.
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "x", "hubspot_owner_id": owner.id}})
    assert deal.properties["hubspot_owner_id"] == owner.id
    # Removing the user archives the owner.
    client.settings.users.users_api.archive(user.id)
    with pytest.raises(ApiException) as excinfo:
        client.crm.owners.owners_api.get_by_id(owner.id)
    assert excinfo.value.status == 404
    assert client.crm.owners.owners_api.get_by_id(owner.id, archived=True).archived is True
    archived = client.crm.owners.owners_api.get_page(archived=True).results
    assert owner.id in {o.id for o in archived}


def test_owners_answer_with_and_without_trailing_slash_and_page(client, sandbox_config):
    for i in range(3):
        client.settings.users.users_api.create({"email": f"rep{i}@pages.example"})
    with_slash = _raw_owners(sandbox_config, "/crm/v3/owners/", limit=2)
    without = _raw_owners(sandbox_config, "/crm/v3/owners", limit=2)
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json()["results"] == without.json()["results"]
    seen, after = [], None
    while True:
        page = client.crm.owners.owners_api.get_page(limit=2, after=after)
        seen += [o.id for o in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) >= 4


def test_upload_a_file_then_fetch_its_metadata_and_bytes(client, sandbox_config, tmp_path):
    pdf = tmp_path / "DEV-2026-00042.pdf"
    content = b"%PDF-1.7\n% proposition commerciale\n" + bytes(range(256)) * 20
    pdf.write_bytes(content)
    uploaded = client.files.files_api.upload(
        file=str(pdf), folder_path="/propale/propositions", file_name="DEV-2026-00042.pdf",
        options=json.dumps({"access": "PRIVATE", "overwrite": False}),
    )  # fmt: skip
    assert isinstance(uploaded, File)
    assert (uploaded.name, uploaded.extension, uploaded.size, uploaded.access) == (
        "DEV-2026-00042",
        "pdf",
        len(content),
        "PRIVATE",
    )
    assert uploaded.path == "/propale/propositions/DEV-2026-00042.pdf"
    assert client.files.files_api.get_by_id(uploaded.id).url == uploaded.url
    served = httpx.get(uploaded.url)
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"] == "application/pdf"
    assert isinstance(client.files.files_api.get_signed_url(uploaded.id), SignedUrl)
    with pytest.raises(FilesApiException) as excinfo:
        client.files.files_api.upload(file=str(pdf), folder_path="/propale", options=json.dumps({}))
    assert excinfo.value.status == 400
    with pytest.raises(FilesApiException) as excinfo:
        client.files.files_api.get_by_id("1")
    assert excinfo.value.status == 404
