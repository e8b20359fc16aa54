package testbed

import (
	"net/http/httptest"
	"testing"
)

// The names moto's interpreter and the SDKs put in an Invoke path.
func TestInvokePath(t *testing.T) {
	tests := []struct {
		method, path string
		name         string
		ok           bool
	}{
		{"POST", "/2015-03-31/functions/s3upload/invocations", "s3upload", true},
		{"POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3As3upload/invocations", "s3upload", true},
		{"POST", "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:s3upload:prod/invocations", "s3upload", true},
		{"POST", "/2015-03-31/functions/s3upload%3A%24LATEST/invocations", "s3upload", true},
		{"GET", "/2015-03-31/functions/s3upload/invocations", "", false},
		{"POST", "/2015-03-31/functions/s3upload", "", false},
		{"POST", "/2015-03-31/functions/a%2Fb/invocations", "", false},
		{"POST", "/bucket/2015-03-31/functions/x/invocations", "", false},
	}
	for _, tt := range tests {
		name, ok := invokePath(httptest.NewRequest(tt.method, tt.path, nil))
		if name != tt.name || ok != tt.ok {
			t.Errorf("%s %s = %q, %v; want %q, %v", tt.method, tt.path, name, ok, tt.name, tt.ok)
		}
	}
}
