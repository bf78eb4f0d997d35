package main

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/gatewaytest"
)

func TestChiRouter(t *testing.T) {
	g, d := gatewaytest.New(t, gateway.Options{})
	d.AddExperiment("2", "team-b/private")
	token := gatewaytest.User(t, g, "ada")
	srv := httptest.NewServer(router(g))
	defer srv.Close()
	basic := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:"+token))}

	code, _ := gatewaytest.Get(t, srv.URL+"/team/status")
	assert.Equal(t, 200, code, "the integrator's public route")
	code, body := gatewaytest.Get(t, srv.URL+"/me")
	assert.Equal(t, 401, code)
	assert.Equal(t, "UNAUTHENTICATED", body["error_code"])
	code, body = gatewaytest.Get(t, srv.URL+"/me", basic...)
	assert.Equal(t, 200, code)
	assert.Equal(t, "ada", body["username"], "the gateway's identity in chi's handler")
	gatewaytest.CheckMLflow(t, srv.URL, basic...)
}
