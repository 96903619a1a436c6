package audit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/authz"
)

// TestIdentityOfServicePrincipal: a service principal's request is
// recorded as CloudTrail records a service acting on its own behalf.
func TestIdentityOfServicePrincipal(t *testing.T) {
	id := IdentityOf(authz.ServiceCaller("logging.s3.amazonaws.com", time.Now()))
	if id.Type != "AWSService" || id.InvokedBy != "logging.s3.amazonaws.com" || id.ARN != "" || id.AccountID != "" {
		t.Fatalf("IdentityOf = %+v", id)
	}
	var got map[string]any
	if err := json.Unmarshal(appendIdentity(nil, &id), &got); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "AWSService" || got["invokedBy"] != "logging.s3.amazonaws.com" || len(got) != 2 {
		t.Errorf("encoded identity = %v", got)
	}
}
