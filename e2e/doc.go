// Package e2e tests the gateway end to end against real MLflow: real
// MLflow tracking servers (2.x and 3.x) behind the gateway, driven by
// MLflow's own Python client through scripts in testdata/.
//
// The MLflow installs are named by MLFLOWAUTH_TEST_MLFLOW2 and
// MLFLOWAUTH_TEST_MLFLOW3 (venvs whose bin/mlflow and bin/python are
// MLflow); see internal/realmlflow. Each server starts once for the
// package, and the two versions' tests run side by side:
//
//	MLFLOWAUTH_TEST_MLFLOW2=/opt/mlflow-2.17.2 MLFLOWAUTH_TEST_MLFLOW3=/opt/mlflow-3.5.1 go test ./e2e
package e2e
