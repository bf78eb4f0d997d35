"""Deprovisioning seen from MLflow's own client: the identity provider
(this script, speaking SCIM 2.0 as Okta and Entra do) provisions a person,
who works with MLflow through the gateway with an access token; the
provider deactivates them (Entra's "active": "False"), and the client's next
request is refused, MLflow's state untouched; reactivated, it works again;
deleted, it is refused, and the grants made to them are still there.

Argument: the SCIM token (the gateway's SCIM_TOKEN).
"""
import json
import os
import sys
import urllib.error
import urllib.request

from e2elib import GATEWAY, check, direct, done, eq, gateway, http, login, refused, unique

from mlflow.server import get_app_client

SCIM_TOKEN = sys.argv[1]
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim(method, path, body=None):
    """A SCIM request as the identity provider sends it: (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(GATEWAY + "/scim/v2" + path, data=data, method=method, headers={
        "Authorization": "Bearer " + SCIM_TOKEN, "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw else None)


def main():
    person = unique("leaver") + "@example.com"

    # Provisioned by the identity provider, as it does on assignment.
    status, body = scim("GET", "/Users?filter=" + urllib.request.quote(f'userName eq "{person}"'))
    eq("SCIM: not there yet", (status, body["totalResults"]), (200, 0))
    status, body = scim("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                           "userName": person, "externalId": "00u-leaver", "displayName": "Lee Ver", "active": True})
    eq("SCIM: created", status, 201)
    scim_id = body["id"]

    # The person's token (an administrator makes it here; they would make
    # it themselves in the web UI after signing in).
    status, body, _ = http("POST", "/api/2.0/mlflowauth/tokens", "admin", how="password",
                           body={"username": person, "name": "laptop"})
    eq("token for the provisioned person", status, 200)
    os.environ["MLFLOW_TRACKING_USERNAME"] = person
    os.environ["MLFLOW_TRACKING_PASSWORD"] = body["secret"]

    # They work with MLflow.
    c = gateway()
    exp_id = c.create_experiment(unique("leaver-exp"))
    run_id = c.create_run(exp_id).info.run_id
    c.log_metric(run_id, "loss", 0.5)
    eq("works before", c.get_run(run_id).data.metrics["loss"], 0.5)

    # The identity provider deactivates them: the very next request fails.
    status, _ = scim("PATCH", f"/Users/{scim_id}", {"schemas": [PATCH],
                                                    "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    eq("SCIM: deactivated", status, 200)
    with refused("deactivated: read", code="UNAUTHENTICATED"):
        c.get_run(run_id)
    with refused("deactivated: write", code="UNAUTHENTICATED"):
        c.log_metric(run_id, "loss", 9.9)
    eq("MLflow unchanged by the refused write", direct().get_run(run_id).data.metrics["loss"], 0.5)

    # Reactivated: the same token works again.
    status, _ = scim("PATCH", f"/Users/{scim_id}", {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]})
    eq("SCIM: reactivated", status, 200)
    eq("works again", c.get_run(run_id).data.metrics["loss"], 0.5)

    # Deleted: refused, hidden from SCIM, the creator's grant kept.
    status, _ = scim("DELETE", f"/Users/{scim_id}")
    eq("SCIM: deleted", status, 204)
    with refused("deleted: read", code="UNAUTHENTICATED"):
        c.get_experiment(exp_id)
    status, _ = scim("GET", f"/Users/{scim_id}")
    eq("SCIM: gone", status, 404)
    login("admin", "password")
    a = get_app_client("basic-auth", tracking_uri=GATEWAY)
    eq("the grant is kept for a return", a.get_experiment_permission(exp_id, person).permission, "MANAGE")

    # The SCIM token is no MLflow credential.
    status, _, _ = http("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}",
                        headers={"Authorization": "Bearer " + SCIM_TOKEN})
    eq("a SCIM token opens nothing of MLflow", status, 401)
    check("done", True)
    done()


if __name__ == "__main__":
    main()
