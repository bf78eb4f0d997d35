-- made by gen_oidc_auth_sql.py; do not edit
CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255) UNIQUE, display_name VARCHAR(255),
  password_hash VARCHAR(255), password_expiration TIMESTAMP, is_admin BOOLEAN, is_service_account BOOLEAN,
  active BOOLEAN, managed_by VARCHAR(64));
CREATE TABLE groups (id INTEGER PRIMARY KEY, group_name VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, group_id INTEGER NOT NULL);
CREATE TABLE user_identities (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, provider VARCHAR(255), sub VARCHAR(255));
CREATE TABLE experiment_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE experiment_group_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE experiment_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255), workspace VARCHAR(63) DEFAULT '*');
CREATE TABLE experiment_group_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255), workspace VARCHAR(63) DEFAULT '*');
CREATE TABLE registered_model_permissions (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, prompt BOOLEAN, user_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE registered_model_group_permissions (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, prompt BOOLEAN, group_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE registered_model_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255), prompt BOOLEAN, workspace VARCHAR(63) DEFAULT '*');
CREATE TABLE registered_model_group_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255), prompt BOOLEAN, workspace VARCHAR(63) DEFAULT '*');
CREATE TABLE scorer_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL, scorer_name VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE scorer_group_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL, scorer_name VARCHAR(255) NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255));
CREATE TABLE scorer_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(255), workspace VARCHAR(63) DEFAULT '*');
CREATE TABLE scorer_group_regex_permissions (id INTEGER PRIMARY KEY, regex VARCHAR(255) NOT NULL, priority INTEGER NOT NULL, group_id INTEGER NOT NULL, permission VARCHAR(255), workspace VARCHAR(63) DEFAULT '*');
INSERT INTO users (id, username, display_name, password_hash, is_admin, is_service_account, active, managed_by) VALUES (1, 'admin@example.com', 'Ada Admin', NULL, TRUE, FALSE, TRUE, 'manual');
INSERT INTO users (id, username, display_name, password_hash, is_admin, is_service_account, active, managed_by) VALUES (2, 'alice@example.com', 'Alice', NULL, FALSE, FALSE, TRUE, 'manual');
INSERT INTO users (id, username, display_name, password_hash, is_admin, is_service_account, active, managed_by) VALUES (3, 'bob@example.com', 'Bob', NULL, FALSE, FALSE, TRUE, 'manual');
INSERT INTO users (id, username, display_name, password_hash, is_admin, is_service_account, active, managed_by) VALUES (4, 'svc-etl', 'ETL', 'pbkdf2:sha256:1000$YyiPo8WrNn4WaAcT$2378efdccec2830410dafbb2bdc08d9de311d61891d493cc29319de6120e5ab6', FALSE, TRUE, TRUE, 'manual');
INSERT INTO groups (id, group_name) VALUES (1, 'mlflow'), (2, 'ml-team'), (3, 'contractors');
INSERT INTO user_groups (id, user_id, group_id) VALUES (1, 2, 1), (2, 2, 2), (3, 3, 1), (4, 3, 3), (5, 4, 2);
INSERT INTO user_identities (id, user_id, provider, sub) VALUES (1, 2, 'https://idp.example.com', 'sub-alice');
INSERT INTO experiment_permissions (id, experiment_id, user_id, permission) VALUES (1, '1', 2, 'MANAGE'), (2, '2', 3, 'READ');
INSERT INTO experiment_group_permissions (id, experiment_id, group_id, permission) VALUES (1, '2', 2, 'EDIT'), (2, '2', 3, 'NO_PERMISSIONS');
INSERT INTO experiment_regex_permissions (id, regex, priority, user_id, permission) VALUES (1, '^alice/', 1, 2, 'MANAGE');
INSERT INTO experiment_group_regex_permissions (id, regex, priority, group_id, permission) VALUES (1, '^team-a/\d+', 10, 2, 'EDIT');
INSERT INTO registered_model_permissions (id, name, user_id, permission, prompt) VALUES (1, 'churn-model', 2, 'EDIT', FALSE), (2, 'summarise', 3, 'READ', TRUE);
INSERT INTO registered_model_group_permissions (id, name, group_id, permission, prompt) VALUES (1, 'churn-model', 1, 'READ', FALSE);
INSERT INTO registered_model_group_regex_permissions (id, regex, priority, group_id, permission, prompt) VALUES (1, '^prompts/', 5, 2, 'USE', TRUE);
INSERT INTO scorer_permissions (id, experiment_id, scorer_name, user_id, permission) VALUES (1, '1', 'relevance', 2, 'EDIT');
INSERT INTO scorer_group_regex_permissions (id, regex, priority, group_id, permission, workspace) VALUES (1, '^safety', 1, 2, 'READ', 'team-ws');
