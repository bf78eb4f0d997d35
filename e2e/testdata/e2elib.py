"""What every end-to-end script shares: who it is, where the gateway and
MLflow are, and checks that fail loudly.

E2E_CONFIG (JSON, from the Go test): {"direct": MLflow's own URL, "admin": {...},
"users": {"alice": {"name", "password", "token"}, ...}}. MLFLOW_TRACKING_URI is
the gateway. E2E_WORK is a scratch directory.
"""
import base64
import contextlib
import json
import os
import re
import urllib.error
import urllib.request
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CFG = json.loads(os.environ["E2E_CONFIG"])
GATEWAY = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
DIRECT = CFG["direct"].rstrip("/")
WORK = os.environ["E2E_WORK"]
MAJOR = int(mlflow.__version__.split(".")[0])
CHECKS = []


def user(name):
    return CFG["admin"] if name == "admin" else CFG["users"][name]


def login(name, how="token"):
    """Every later request of MLflow's client carries name's credentials:
    how is "token" (an access token as the password) or "password"."""
    u = user(name)
    os.environ["MLFLOW_TRACKING_USERNAME"] = u["name"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = u[how]


def gateway():
    return MlflowClient(tracking_uri=GATEWAY)


def direct():
    """MLflow itself, past the gateway: where state is read back."""
    return MlflowClient(tracking_uri=DIRECT)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    CHECKS.append(name)
    print(f"ok {name}", flush=True)


def eq(name, got, want):
    check(name, got == want, f"got {got!r}, want {want!r}")


@contextlib.contextmanager
def refused(name, code="PERMISSION_DENIED"):
    """The block must fail as the gateway refuses: MLflow's client raises
    with the JSON error's code, and a refusal's message begins
    "Permission denied." as MLflow's own auth tests expect."""
    try:
        yield
    except MlflowException as e:
        msg = str(e)
        check(name, getattr(e, "error_code", None) == code, f"error_code {getattr(e, 'error_code', None)!r}: {msg}")
        if code == "PERMISSION_DENIED":
            check(name + " (message)", re.search(r"Permission denied\.", msg) is not None, msg)
        return
    raise AssertionError(f"{name}: the request was not refused")


def http(method, path, name=None, how="token", body=None, headers=None, base=None):
    """A raw request: (status, parsed JSON or text, headers). name None sends
    no credentials."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
    if name is not None:
        u = user(name)
        tok = base64.b64encode(f"{u['name']}:{u[how]}".encode()).decode()
        hdrs["Authorization"] = "Basic " + tok
    req = urllib.request.Request((base or GATEWAY) + path, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw, rh = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, rh = e.code, e.read(), e.headers
    try:
        return status, json.loads(raw), rh
    except ValueError:
        return status, raw.decode(errors="replace"), rh


def done():
    print(f"{len(CHECKS)} checks passed with MLflow {mlflow.__version__}", flush=True)
