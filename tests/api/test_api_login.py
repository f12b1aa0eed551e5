"""Sync on login, through the authorizer: first login, outage, deleted users, races, cost of a fresh user."""

from __future__ import annotations

from typing import Any

from clerk_sync.models import Envelope
from clerk_sync.wiring import dynamodb_meter
from tests.api.conftest import Api


def test_first_login_of_unknown_user_creates_them_with_orgs_before_the_route(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Grace", email="grace@example.com")["id"]
    orgs = {clerk.create_organization(name, created_by=user_id)["id"] for name in ("Navy", "Univac")}
    reply = api.call("GET", "/api/sync/status", token=api.token(user_id))
    assert reply.status == 200
    assert reply.body["user"]["first_name"] == "Grace"
    assert reply.body["user"]["sync_source"] == "login"
    assert {m["org_id"] for m in reply.body["memberships"]} == orgs
    assert reply.body["stale"] is False


def test_fresh_user_costs_one_read_and_no_clerk_call(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    token = api.token(user_id)
    api.call("GET", "/api/sync/status", token=token)
    api.clerk.reset_stats()
    dynamodb_meter().reset()
    from clerk_sync.handlers import authorizer

    event = {"type": "REQUEST", "headers": {"authorization": f"Bearer {token}"}, "cookies": []}
    answer = authorizer.handler(event, _context())
    assert answer["isAuthorized"] is True
    assert answer["context"]["loginSource"] == "store"
    assert dict(dynamodb_meter().calls) == {"GetItem": 1}
    assert api.clerk.request_count() == 0


def test_login_during_outage_gives_provisional_user_healed_by_a_later_webhook(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Linus", email="linus@example.com")["id"]
    clerk.set_knobs(outage=True)
    reply = api.call("GET", "/api/sync/status", token=api.token(user_id))
    assert reply.status == 200
    assert reply.body["provisional"] is True
    assert reply.body["user"]["version"] == 0
    clerk.set_knobs(outage=False)
    event = clerk.events[0]
    api.service.apply_event(Envelope.model_validate(event["payload"]), event["msg_id"])
    healed = api.call("GET", "/api/sync/status", token=api.token(user_id))
    assert healed.body["provisional"] is False
    assert healed.body["user"]["first_name"] == "Linus"


def test_login_during_outage_gives_provisional_user_healed_by_a_manual_sync(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Linus")["id"]
    clerk.set_knobs(outage=True)
    token = api.token(user_id)
    assert api.call("POST", "/api/sync/user", token=token).status == 503  # the login was provisional, the sync fails
    clerk.set_knobs(outage=False)
    reply = api.call("POST", "/api/sync/user", token=token)
    assert reply.status == 200
    user = api.store.get_user(user_id)
    assert user is not None
    assert user["provisional"] is False


def test_deleted_user_is_denied_with_403(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Gone")["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200
    clerk.delete_user(user_id)
    deleted = clerk.events[-1]
    api.service.apply_event(Envelope.model_validate(deleted["payload"]), deleted["msg_id"])
    reply = api.call("GET", "/api/sync/status", token=token)
    assert reply.status == 403
    assert reply.body == {"message": "Forbidden"}  # API Gateway's own answer to isAuthorized false


def test_login_racing_user_created_webhook_leaves_one_correct_record(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Race", email="race@example.com")["id"]
    created = clerk.events[0]
    client = api.service.clerk
    real_get_user = client.get_user

    def get_user_while_webhook_lands(user: str, **kwargs: Any) -> Any:
        fetched = real_get_user(user, **kwargs)
        api.service.apply_event(Envelope.model_validate(created["payload"]), created["msg_id"])
        return fetched

    client.get_user = get_user_while_webhook_lands  # type: ignore[method-assign]
    try:
        reply = api.call("GET", "/api/sync/status", token=api.token(user_id))
    finally:
        del client.get_user
    assert reply.status == 200
    profiles = [i for i in api.items() if i["PK"] == f"USER#{user_id}" and i["SK"] == "PROFILE"]
    assert len(profiles) == 1
    assert profiles[0]["first_name"] == "Race"
    assert profiles[0]["sync_source"] == "login"  # the login's write of the same version refreshed it


def test_active_org_missing_is_synced_at_login(api: Api) -> None:
    clerk = api.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    user_id = clerk.create_user(first_name="Member")["id"]
    api.call("GET", "/api/sync/status", token=api.token(user_id))  # on record, with no organizations yet
    org_id = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org_id, user_id, "org:member")
    clerk.reset_stats()
    reply = api.call("GET", "/api/sync/status", token=api.token(user_id, org_id))
    assert [m["org_id"] for m in reply.body["memberships"]] == [org_id]
    assert reply.body["memberships"][0]["organization"]["name"] == "Acme"
    assert clerk.request_count() == 1  # one membership lookup, organization embedded


def _context() -> Any:
    from clerk_sync_local.lambda_events import LocalLambdaContext

    return LocalLambdaContext()
