package s3upload

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// putSigner signs a direct PUT with Signature Version 4 as the SDK's
// v4.Signer does for it (DisableURIPathEscaping, a header signature, the
// payload hash given): the same canonical request, signed headers and
// Authorization header byte for byte, which TestPutSignerMatchesSDK checks
// against the SDK's own signer. It exists for speed only: the SDK's
// general header handling (maps of header slices, lower-casing into new
// strings, a derived key looked up per call) took 13 % of the CPU of a
// small-file run, more than the request's own write (docs/NOTES.md).
type putSigner struct {
	name, region string

	mu  sync.Mutex
	day string // the signing key's date, access key and secret
	id  string
	sec string
	key []byte
}

const (
	amzDateFormat = "20060102T150405Z"
	amzDayFormat  = "20060102"
)

// signedHeader is one header of the canonical request: its name in lower
// case and its value as signed.
type signedHeader struct{ name, value string }

// unsignedHeaders are what the SDK's signer leaves out (its
// IgnoredHeaders).
var unsignedHeaders = map[string]bool{
	"Authorization": true, "User-Agent": true, "X-Amzn-Trace-Id": true, "Expect": true, "Transfer-Encoding": true,
}

// sign sets X-Amz-Date, X-Amz-Security-Token (for session credentials) and
// Authorization on r, whose X-Amz-Content-Sha256 header is payloadHash.
func (s *putSigner) sign(r *http.Request, creds aws.Credentials, payloadHash string, now time.Time) {
	now = now.UTC()
	date := now.Format(amzDateFormat)
	r.Header["X-Amz-Date"] = []string{date}
	if creds.SessionToken != "" {
		r.Header["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	host := signingHost(r)

	hs := make([]signedHeader, 0, len(r.Header)+2)
	hs = append(hs, signedHeader{"host", stripExcessSpaces(host)})
	if r.ContentLength > 0 {
		hs = append(hs, signedHeader{"content-length", strconv.FormatInt(r.ContentLength, 10)})
	}
	for k, vs := range r.Header {
		if unsignedHeaders[k] || strings.EqualFold(k, "Content-Length") {
			continue
		}
		v := ""
		if len(vs) == 1 {
			v = strings.TrimSpace(stripExcessSpaces(vs[0]))
		} else {
			for i, x := range vs {
				if i > 0 {
					v += ","
				}
				v += strings.TrimSpace(stripExcessSpaces(x))
			}
		}
		hs = append(hs, signedHeader{lower(k), v})
	}
	slices.SortFunc(hs, func(a, b signedHeader) int { return strings.Compare(a.name, b.name) })

	var names, canon strings.Builder
	names.Grow(len(hs) * 24)
	canon.Grow(len(r.URL.EscapedPath()) + len(hs)*48 + 128)
	canon.WriteString(r.Method)
	canon.WriteByte('\n')
	canon.WriteString(uriPath(r))
	canon.WriteString("\n") // the canonical query: a PUT has none
	canon.WriteByte('\n')
	for i, h := range hs {
		if i > 0 {
			names.WriteByte(';')
		}
		names.WriteString(h.name)
		canon.WriteString(h.name)
		canon.WriteByte(':')
		canon.WriteString(h.value)
		canon.WriteByte('\n')
	}
	canon.WriteByte('\n')
	canon.WriteString(names.String())
	canon.WriteByte('\n')
	canon.WriteString(payloadHash)

	day := date[:8]
	scope := day + "/" + s.region + "/" + s.name + "/aws4_request"
	sum := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, s.signingKey(creds, day))
	mac.Write([]byte(toSign))
	r.Header["Authorization"] = []string{"AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/" + scope +
		", SignedHeaders=" + names.String() + ", Signature=" + hex.EncodeToString(mac.Sum(nil))}
}

// signingKey is the day's key derived from the secret, cached until the
// day or the credentials change.
func (s *putSigner) signingKey(creds aws.Credentials, day string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil && s.day == day && s.id == creds.AccessKeyID && s.sec == creds.SecretAccessKey {
		return s.key
	}
	k := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), day)
	for _, part := range []string{s.region, s.name, "aws4_request"} {
		k = hmacSHA256(k, part)
	}
	s.day, s.id, s.sec, s.key = day, creds.AccessKeyID, creds.SecretAccessKey, k
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingHost is the host as signed and sent: without the scheme's default
// port, which the SDK's signer strips the same way (an IPv6 literal then
// loses its brackets there too).
func signingHost(r *http.Request) string {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(port == "80" && r.URL.Scheme == "http" || port == "443" && r.URL.Scheme == "https") {
		host = h
		r.Host = h
	}
	return host
}

// uriPath is the request's path as sent, escaped once (S3 signs it so);
// the direct path builds its URLs with a path, never an opaque part.
func uriPath(r *http.Request) string {
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// stripExcessSpaces trims spaces at both ends of s and folds runs of
// spaces inside it into one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lowerNames are the lower-case forms of the headers a direct PUT sends.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	names := []string{"Content-Type", "X-Amz-Checksum-Crc32", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Content-Sha256", "X-Amz-Date", "X-Amz-Security-Token",
		"X-Amz-Storage-Class", "X-Amz-Server-Side-Encryption", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"}
	for _, n := range metaHeaders {
		names = append(names, n)
	}
	for _, n := range names {
		m[n] = strings.ToLower(n)
	}
	return m
}()

// lower is strings.ToLower for a header name, which is ASCII.
func lower(s string) string {
	if l, ok := lowerNames[s]; ok {
		return l
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
