#!/usr/bin/env python3
"""Writes mlflow-oidc-auth.sql: an mlflow-oidc-auth database (v7 layout) as
SQL that both SQLite and PostgreSQL run, for the import tests.

The tables follow the plugin's models (mlflow_oidc_auth/db/models): users,
groups, user_groups, user_identities, and per kind *_permissions,
*_group_permissions, *_regex_permissions, *_group_regex_permissions, with
prompts as registered_model rows whose prompt column is true. Access tokens
are users.password_hash, hashed by Werkzeug as the plugin does.

Run from this folder:  python3 gen_oidc_auth_sql.py > mlflow-oidc-auth.sql
"""
from werkzeug.security import generate_password_hash

TOKEN = "Zq8xT2vLw9PnR4sK7mYd3BcE"  # svc-etl's access token, 24 characters as the plugin makes them

print("-- made by gen_oidc_auth_sql.py; do not edit")
print("""CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255) UNIQUE, display_name VARCHAR(255),
  password_hash VARCHAR(255), password_expiration TIMESTAMP, is_admin BOOLEAN, is_service_account BOOLEAN,
  active BOOLEAN, managed_by VARCHAR(64));
CREATE TABLE groups (id INTEGER PRIMARY KEY, group_name VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, group_id INTEGER NOT NULL);
CREATE TABLE user_identities (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, provider VARCHAR(255), sub VARCHAR(255));""")
for kind, ident in [("experiment", "experiment_id VARCHAR(255) NOT NULL"),
                    ("registered_model", "name VARCHAR(255) NOT NULL, prompt BOOLEAN"),
                    ("scorer", "experiment_id VARCHAR(255) NOT NULL, scorer_name VARCHAR(255) NOT NULL")]:
    extra = ", prompt BOOLEAN" if kind == "registered_model" else ""
    print(f"CREATE TABLE {kind}_permissions (id INTEGER PRIMARY KEY, {ident}, user_id INTEGER NOT NULL, permission VARCHAR(255));")
    print(f"CREATE TABLE {kind}_group_permissions (id INTEGER PRIMARY KEY, {ident}, group_id INTEGER NOT NULL, permission VARCHAR(255));")
    print(f"CREATE TABLE {kind}_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255){extra}, workspace VARCHAR(63) DEFAULT '*');")
    print(f"CREATE TABLE {kind}_group_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255){extra}, workspace VARCHAR(63) DEFAULT '*');")

def q(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"

users = [
    (1, "admin@example.com", "Ada Admin", None, True, False),
    (2, "alice@example.com", "Alice", None, False, False),
    (3, "bob@example.com", "Bob", None, False, False),
    (4, "svc-etl", "ETL", generate_password_hash(TOKEN, method="pbkdf2:sha256:1000"), False, True),
]
for uid, name, display, pw, admin, svc in users:
    print(f"INSERT INTO users (id, username, display_name, password_hash, is_admin, is_service_account, active, managed_by) "
          f"VALUES ({uid}, {q(name)}, {q(display)}, {q(pw)}, {str(admin).upper()}, {str(svc).upper()}, TRUE, 'manual');")
print("INSERT INTO groups (id, group_name) VALUES (1, 'mlflow'), (2, 'ml-team'), (3, 'contractors');")
print("INSERT INTO user_groups (id, user_id, group_id) VALUES (1, 2, 1), (2, 2, 2), (3, 3, 1), (4, 3, 3), (5, 4, 2);")
print("INSERT INTO user_identities (id, user_id, provider, sub) VALUES (1, 2, 'https://idp.example.com', 'sub-alice');")
print("INSERT INTO experiment_permissions (id, experiment_id, user_id, permission) VALUES (1, '1', 2, 'MANAGE'), (2, '2', 3, 'READ');")
print("INSERT INTO experiment_group_permissions (id, experiment_id, group_id, permission) VALUES (1, '2', 2, 'EDIT'), (2, '2', 3, 'NO_PERMISSIONS');")
print("INSERT INTO experiment_regex_permissions (id, regex, priority, user_id, permission) VALUES (1, '^alice/', 1, 2, 'MANAGE');")
print("INSERT INTO experiment_group_regex_permissions (id, regex, priority, group_id, permission) VALUES (1, '^team-a/\\d+', 10, 2, 'EDIT');")
print("INSERT INTO registered_model_permissions (id, name, user_id, permission, prompt) VALUES (1, 'churn-model', 2, 'EDIT', FALSE), (2, 'summarise', 3, 'READ', TRUE);")
print("INSERT INTO registered_model_group_permissions (id, name, group_id, permission, prompt) VALUES (1, 'churn-model', 1, 'READ', FALSE);")
print("INSERT INTO registered_model_group_regex_permissions (id, regex, priority, group_id, permission, prompt) VALUES (1, '^prompts/', 5, 2, 'USE', TRUE);")
print("INSERT INTO scorer_permissions (id, experiment_id, scorer_name, user_id, permission) VALUES (1, '1', 'relevance', 2, 'EDIT');")
print("INSERT INTO scorer_group_regex_permissions (id, regex, priority, group_id, permission, workspace) VALUES (1, '^safety', 1, 2, 'READ', 'team-ws');")
