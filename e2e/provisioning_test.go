package e2e

import "testing"

// TestDeprovisioningFromTheClient: the identity provider deactivates and
// deletes a person through SCIM, and MLflow's own client is refused on its
// next request; reactivated, the same token works again.
func TestDeprovisioningFromTheClient(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		s.python(t, "provisioning.py", nil, scimToken)
	})
}
