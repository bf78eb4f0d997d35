"""MLflow's AuthServiceClient (get_app_client("basic-auth")) through the
gateway: every method as an administrator, and as a non-administrator the
refusals; then MLflow 3's sign-up form as an admin script would use it.

Users (from the Go test): member (no admin).
"""
import base64
import re

import requests
from requests.auth import HTTPBasicAuth

from e2elib import GATEWAY, check, done, eq, gateway, http, login, refused, unique, user

from mlflow.server import get_app_client


def main():
    member = user("member")["name"]
    new = unique("made")
    password = "first-password-123"

    login("admin", "password")
    a = get_app_client("basic-auth", tracking_uri=GATEWAY)
    u = a.create_user(new, password)
    eq("create_user", (u.username, u.is_admin), (new, False))
    check("create_user gives an id", isinstance(u.id, int) and u.id > 0, u.id)
    eq("get_user", a.get_user(new).username, new)
    with refused("create_user again", code="RESOURCE_ALREADY_EXISTS"):
        a.create_user(new, password)
    with refused("create_user with a short password", code="INVALID_PARAMETER_VALUE"):
        a.create_user(unique("short"), "short")
    with refused("get_user of nobody", code="RESOURCE_DOES_NOT_EXIST"):
        a.get_user(unique("nobody"))

    status, _, _ = http("GET", "/api/2.0/mlflow/users/current", None, headers={"Authorization": basic(new, password)})
    eq("the new user signs in", status, 200)
    a.update_user_password(new, "second-password-123")
    status, _, _ = http("GET", "/api/2.0/mlflow/users/current", None,
                        headers={"Authorization": basic(new, "second-password-123")})
    eq("update_user_password: the new password works", status, 200)
    status, _, _ = http("GET", "/api/2.0/mlflow/users/current", None,
                        headers={"Authorization": basic(new, password)})
    eq("update_user_password: the old one does not", status, 401)
    a.update_user_admin(new, True)
    eq("update_user_admin true", a.get_user(new).is_admin, True)
    a.update_user_admin(new, False)
    eq("update_user_admin false", a.get_user(new).is_admin, False)

    # grants on an experiment and a model, any id or name (MLflow's own
    # auth allows grants ahead of the object)
    exp_id = gateway().create_experiment(unique("authclient"))
    model = unique("authclient-model")
    gateway().create_registered_model(model)
    p = a.create_experiment_permission(exp_id, new, "READ")
    eq("create_experiment_permission", (p.experiment_id, p.permission), (exp_id, "READ"))
    eq("get_experiment_permission", a.get_experiment_permission(exp_id, new).permission, "READ")
    a.update_experiment_permission(exp_id, new, "EDIT")
    eq("update_experiment_permission", a.get_experiment_permission(exp_id, new).permission, "EDIT")
    with refused("create_experiment_permission twice", code="RESOURCE_ALREADY_EXISTS"):
        a.create_experiment_permission(exp_id, new, "READ")
    with refused("an invalid permission", code="INVALID_PARAMETER_VALUE"):
        a.update_experiment_permission(exp_id, new, "OWNER")
    a.delete_experiment_permission(exp_id, new)
    with refused("get_experiment_permission after delete", code="RESOURCE_DOES_NOT_EXIST"):
        a.get_experiment_permission(exp_id, new)
    p = a.create_registered_model_permission(model, new, "READ")
    eq("create_registered_model_permission", (p.name, p.permission), (model, "READ"))
    eq("get_registered_model_permission", a.get_registered_model_permission(model, new).permission, "READ")
    a.update_registered_model_permission(model, new, "MANAGE")
    eq("update_registered_model_permission", a.get_registered_model_permission(model, new).permission, "MANAGE")
    a.delete_registered_model_permission(model, new)
    with refused("get_registered_model_permission after delete", code="RESOURCE_DOES_NOT_EXIST"):
        a.get_registered_model_permission(model, new)

    # a non-administrator: refusals, checked before existence
    login("member")
    m = get_app_client("basic-auth", tracking_uri=GATEWAY)
    with refused("member: create_user"):
        m.create_user(unique("x"), password)
    with refused("member: get_user of another"):
        m.get_user(new)
    with refused("member: get_user of nobody"):
        m.get_user(unique("nobody"))
    with refused("member: update_user_password of another"):
        m.update_user_password(new, "hijacked-password-1")
    with refused("member: update_user_admin of themselves"):
        m.update_user_admin(member, True)
    with refused("member: delete_user"):
        m.delete_user(new)
    with refused("member: create_experiment_permission"):
        m.create_experiment_permission(exp_id, member, "MANAGE")
    with refused("member: get_experiment_permission"):
        m.get_experiment_permission(exp_id, new)
    with refused("member: update_experiment_permission"):
        m.update_experiment_permission(exp_id, member, "MANAGE")
    with refused("member: delete_experiment_permission"):
        m.delete_experiment_permission(exp_id, new)
    with refused("member: create_registered_model_permission"):
        m.create_registered_model_permission(model, member, "MANAGE")
    with refused("member: get_registered_model_permission"):
        m.get_registered_model_permission(model, new)
    with refused("member: update_registered_model_permission"):
        m.update_registered_model_permission(model, member, "MANAGE")
    with refused("member: delete_registered_model_permission"):
        m.delete_registered_model_permission(model, new)
    eq("member: own account readable", m.get_user(member).username, member)
    login("admin", "password")
    eq("the refusals changed nothing", (a.get_user(new).is_admin, a.get_user(member).is_admin), (False, False))

    # delete_user last: the user is gone
    a.delete_user(new)
    with refused("get_user after delete_user", code="RESOURCE_DOES_NOT_EXIST"):
        a.get_user(new)

    # MLflow 3's sign-up form, as an admin script drives it
    s = requests.Session()
    s.auth = HTTPBasicAuth(user("admin")["name"], user("admin")["password"])
    r = s.get(GATEWAY + "/signup")
    eq("signup page", r.status_code, 200)
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    signed = unique("signed")
    r = s.post(GATEWAY + "/api/2.0/mlflow/users/create-ui", data={"username": signed, "password": password})
    check("create-ui without the CSRF token", r.status_code == 400 and "The CSRF token is missing" in r.text, r.text[:300])
    r = s.post(GATEWAY + "/api/2.0/mlflow/users/create-ui", data={"csrf_token": token, "username": signed, "password": password})
    check("create-ui signs up", r.status_code == 200 and f"Successfully signed up user: {signed}" in r.text, r.text[:300])
    eq("the signed-up user exists", a.get_user(signed).username, signed)
    r = requests.get(GATEWAY + "/signup", auth=HTTPBasicAuth(member, user("member")["token"]))
    eq("signup page for a non-admin", r.status_code, 403)
    r = requests.post(GATEWAY + "/api/2.0/mlflow/users/create-ui", data={"csrf_token": token, "username": unique("m"), "password": password},
                      auth=HTTPBasicAuth(member, user("member")["token"]))
    eq("create-ui for a non-admin", r.status_code, 403)
    done()


def basic(name, password):
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


main()
