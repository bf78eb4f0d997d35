#!/usr/bin/env python3
"""Writes werkzeug_vectors.json: password hashes made by real Werkzeug, for
the Go tests that verify them (and check Go-made ones the other way).

Run from this folder with the python3 on the machine (Werkzeug installed):
    python3 gen_werkzeug_vectors.py > werkzeug_vectors.json
"""
import json
import sys

from importlib.metadata import version

from werkzeug.security import check_password_hash, generate_password_hash

PASSWORDS = ["alice-password-0001", "pässwörd ünïcode", "", "x", "a" * 100, "colon:inside$dollar"]
METHODS = [
    "scrypt",                 # Werkzeug 3 default: scrypt:32768:8:1
    "scrypt:16384:8:1",
    "pbkdf2:sha256:600000",   # MLflow 2.3+
    "pbkdf2:sha256:260000",   # MLflow 2.2
    "pbkdf2:sha256:1000",     # mlflow-oidc-auth's access tokens
    "pbkdf2:sha512:1000",
    "pbkdf2:sha1:1000",
]

# Slow methods (what MLflow really uses) get fewer passwords: the Go tests
# also run under the race detector.
SLOW = {"scrypt", "pbkdf2:sha256:600000", "pbkdf2:sha256:260000"}

vectors = []
for method in METHODS:
    for pw in (PASSWORDS[:2] if method in SLOW else PASSWORDS):
        h = generate_password_hash(pw, method=method)
        assert check_password_hash(h, pw)
        vectors.append({"hash": h, "password": pw, "wrong": pw + "!"})

# An access token as mlflow-oidc-auth keeps it: its users.password_hash.
OIDC_AUTH_TOKEN = "Zq8xT2vLw9PnR4sK7mYd3BcE"
legacy = {"hash": generate_password_hash(OIDC_AUTH_TOKEN, method="pbkdf2:sha256:1000"), "password": OIDC_AUTH_TOKEN}

json.dump({"werkzeug": version("werkzeug"), "vectors": vectors, "oidc_auth_token": legacy}, sys.stdout, indent=1, ensure_ascii=True)
sys.stdout.write("\n")
