package s3upload

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestPutSignerMatchesSDK: the direct path's signer gives every request
// the SDK's v4 signer would sign, with the options the S3 client uses, the
// same Authorization, date, token and host, byte for byte.
func TestPutSignerMatchesSDK(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	session := creds
	session.SessionToken = "FQoGZXIvYXdzE//token+with/odd=chars"
	at := time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		url     string // the key's part escaped as the direct path sends it
		size    int64
		headers map[string]string
		creds   aws.Credentials
		when    time.Time
	}{
		{name: "plain", url: "http://127.0.0.1:9000/bucket/a/b.txt", size: 4096,
			headers: map[string]string{"Content-Type": "application/octet-stream", "X-Amz-Checksum-Crc32": "AAAAAA=="}},
		{name: "metadata and class", url: "https://bucket.s3.us-west-2.amazonaws.com/p/f%20%2B%25.dat", size: 1,
			headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Mtime": "1764633599.123456789",
				"X-Amz-Meta-File-Mtime": "1764633599123456789ns", "X-Amz-Meta-Mode": "100644", "X-Amz-Meta-Uid": "0",
				"X-Amz-Storage-Class": "STANDARD_IA", "X-Amz-Server-Side-Encryption": "aws:kms",
				"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:us-west-2:111122223333:key/x"}},
		{name: "session token, empty body", url: "https://bucket.s3.amazonaws.com/empty", size: 0, creds: session,
			headers: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "spaces folded, unsigned headers left out", url: "http://localhost:4566/b/k", size: 10,
			headers: map[string]string{"Content-Type": "  text/plain;   charset=utf-8 ", "Expect": "100-continue",
				"User-Agent": "aws-sdk-go-v2/x awsutils-direct-put", "X-Amzn-Trace-Id": "Root=1"}},
		{name: "default port stripped", url: "https://s3.example.com:443/b/%E3%81%82/%00x", size: 3,
			headers: map[string]string{"Content-Type": "application/octet-stream"}, when: at.Add(time.Second)},
		{name: "default http port stripped", url: "http://s3.example.com:80/b/k", size: 3,
			headers: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "root path", url: "http://s3.example.com", size: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.creds
			if c.AccessKeyID == "" {
				c = creds
			}
			when := tc.when
			if when.IsZero() {
				when = at
			}
			build := func() *http.Request {
				r, err := http.NewRequest(http.MethodPut, tc.url, http.NoBody)
				if err != nil {
					t.Fatal(err)
				}
				r.ContentLength = tc.size
				for k, v := range tc.headers {
					r.Header[k] = []string{v}
				}
				r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
				return r
			}
			want := build()
			sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err := sdk.SignHTTP(context.Background(), c, want, unsignedPayload, "s3", "us-west-2", when); err != nil {
				t.Fatal(err)
			}
			got := build()
			s := &putSigner{name: "s3", region: "us-west-2"}
			s.sign(got, c, unsignedPayload, when)
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if g, w := got.Header.Values(h), want.Header.Values(h); strings.Join(g, "|") != strings.Join(w, "|") {
					t.Errorf("%s:\n got %q\nwant %q", h, g, w)
				}
			}
			if got.Host != want.Host {
				t.Errorf("Host %q, want %q", got.Host, want.Host)
			}
			// The cached key serves the same day and is rebuilt for
			// another secret.
			again := build()
			s.sign(again, c, unsignedPayload, when)
			if again.Header.Get("Authorization") != want.Header.Get("Authorization") {
				t.Error("the cached key signs differently")
			}
			other := c
			other.SecretAccessKey += "x"
			again = build()
			s.sign(again, other, unsignedPayload, when)
			if again.Header.Get("Authorization") == want.Header.Get("Authorization") {
				t.Error("another secret signed the same: the cached key was not rebuilt")
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	meta := map[string]string{"mtime": "1764633599.123456789", "mode": "100644", "uid": "1000", "gid": "1000",
		"file-mtime": "1764633599123456789ns", "file-permissions": "0100644", "file-owner": "1000", "file-group": "1000"}
	build := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/d01/f00001.dat", http.NoBody)
		r.ContentLength = 4096
		r.Header = putHeaders(nil, "AAAAAA==", meta, "", "", nil)
		r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		return r
	}
	b.Run("sdk", func(b *testing.B) {
		s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		for b.Loop() {
			_ = s.SignHTTP(context.Background(), creds, build(), unsignedPayload, "s3", "us-east-1", time.Now())
		}
	})
	b.Run("direct", func(b *testing.B) {
		s := &putSigner{name: "s3", region: "us-east-1"}
		for b.Loop() {
			s.sign(build(), creds, unsignedPayload, time.Now())
		}
	})
}

func BenchmarkSignBuildOnly(b *testing.B) {
	meta := map[string]string{"mtime": "1764633599.123456789", "mode": "100644", "uid": "1000", "gid": "1000",
		"file-mtime": "1764633599123456789ns", "file-permissions": "0100644", "file-owner": "1000", "file-group": "1000"}
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/d01/f00001.dat", http.NoBody)
		r.ContentLength = 4096
		r.Header = putHeaders(nil, "AAAAAA==", meta, "", "", nil)
		r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	}
}
