package testbed

import (
	"strings"
	"testing"
)

// WantErr checks err against want, a part of the message it must have, or
// "" for no error, and reports whether there is a result to check: only
// when no error was wanted (and none came). A table test that lists good
// and bad input in one table calls it first:
//
//	got, err := Parse(tt.in)
//	if !testbed.WantErr(t, err, tt.wantErr) {
//		return
//	}
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	return false
}
