package testbed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Account and Principal are the account id and caller a FaultProxy names
// in the access-denied messages it sends; the account is moto's default.
const (
	Account   = "123456789012"
	Principal = "arn:aws:sts::" + Account + ":assumed-role/awsutils-test/testbed"
)

// A Denial refuses requests as IAM does when no policy allows them (or one
// denies them), in the service's own error shape, instead of forwarding
// them:
//
//   - EC2: HTTP 403 UnauthorizedOperation, "You are not authorized to
//     perform this operation. Encoded authorization failure message: ...",
//     where only the encoded message says which action and resource were
//     refused. A client can have it decoded with STS
//     DecodeAuthorizationMessage, which the proxy answers for the messages
//     it encoded.
//   - RDS, STS and other query services: HTTP 403 AccessDenied, "User: ...
//     is not authorized to perform: rds:StopDBInstance on resource:
//     arn:aws:rds:...:db:ID because no identity-based policy allows the
//     rds:StopDBInstance action".
//   - S3: HTTP 403 AccessDenied, "Access Denied".
//
// The zero Denial refuses every request.
type Denial struct {
	// Ops limits the denial to these operations (as Operation names them);
	// empty means every operation.
	Ops []string
	// IDs limits the denial to requests that name one of these resources
	// in a query-API parameter (see ResourceIDs), as a policy scoped to
	// resource ARNs refuses a call that names any resource it does not
	// allow. Empty means any request of Ops. A request that names no
	// resource at all (DescribeInstances by filter) is not refused by IDs,
	// as IAM grants such calls only on "*".
	IDs []string
	// Match, if set, further limits the denial; it must not read the body.
	Match func(*http.Request) bool
	// Explicit says a policy denies the call explicitly, instead of no
	// policy allowing it.
	Explicit bool
	// PlainEC2 also names the principal, action and resource of an EC2
	// refusal in plain text, as other services do; EC2 itself keeps them in
	// the encoded message only.
	PlainEC2 bool
}

type denial struct{ Denial }

// Deny adds d to the proxy's denials and returns a func that lifts it.
func (p *FaultProxy) Deny(d Denial) (lift func()) {
	dn := &denial{d}
	p.mu.Lock()
	p.denials = append(slices.Clip(p.denials), dn)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if i := slices.Index(p.denials, dn); i >= 0 {
			p.denials = slices.Delete(slices.Clone(p.denials), i, i+1)
		}
	}
}

// ResourceIDs are the resources a query-API request names, in request
// order: InstanceId.N (EC2), DBInstanceIdentifier and DBClusterIdentifier
// (RDS), RoleArn (STS AssumeRole).
func ResourceIDs(form url.Values) []string {
	type param struct {
		n  int
		id string
	}
	var ps []param
	for k, vs := range form {
		if len(vs) == 0 {
			continue
		}
		switch {
		case strings.HasPrefix(k, "InstanceId."):
			n, err := strconv.Atoi(strings.TrimPrefix(k, "InstanceId."))
			if err == nil {
				ps = append(ps, param{n, vs[0]})
			}
		case k == "DBInstanceIdentifier", k == "DBClusterIdentifier", k == "RoleArn":
			ps = append(ps, param{0, vs[0]})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].n < ps[j].n })
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.id
	}
	return ids
}

// refused says whether d refuses r, and which of the resources r names it
// refuses ("" when r names none).
func (d *denial) refused(r *http.Request, op string, form url.Values) (bool, string) {
	if len(d.Ops) > 0 && !slices.Contains(d.Ops, op) {
		return false, ""
	}
	if d.Match != nil && !d.Match(r) {
		return false, ""
	}
	ids := ResourceIDs(form)
	if len(d.IDs) == 0 {
		if len(ids) > 0 {
			return true, ids[0]
		}
		return true, ""
	}
	for _, id := range ids {
		if slices.Contains(d.IDs, id) {
			return true, id
		}
	}
	return false, ""
}

// authorization is the decoded form of an authorization failure message,
// in the shape STS DecodeAuthorizationMessage returns.
type authorization struct {
	Allowed           bool       `json:"allowed"`
	ExplicitDeny      bool       `json:"explicitDeny"`
	MatchedStatements items      `json:"matchedStatements"`
	Failures          items      `json:"failures"`
	Context           authzScope `json:"context"`
}

type items struct {
	Items []json.RawMessage `json:"items"`
}

type authzScope struct {
	Principal  authzPrincipal `json:"principal"`
	Action     string         `json:"action"`
	Resource   string         `json:"resource"`
	Conditions items          `json:"conditions"`
}

type authzPrincipal struct {
	ID  string `json:"id"`
	Arn string `json:"arn"`
}

// resourceARN is the ARN IAM evaluates for id in a call of service/op.
func resourceARN(service, region, id string, form url.Values) string {
	if id == "" {
		return "*"
	}
	switch service {
	case "ec2":
		return "arn:aws:ec2:" + region + ":" + Account + ":instance/" + id
	case "rds":
		if form.Get("DBClusterIdentifier") == id {
			return "arn:aws:rds:" + region + ":" + Account + ":cluster:" + id
		}
		return "arn:aws:rds:" + region + ":" + Account + ":db:" + id
	case "sts":
		return id // a role ARN
	}
	return "*"
}

// plainDenial is the plain-text message most services send.
func plainDenial(action, resource string, explicit bool) string {
	on := ""
	if resource != "*" {
		on = " on resource: " + resource
	}
	why := "because no identity-based policy allows the " + action + " action"
	if explicit {
		why = "with an explicit deny in an identity-based policy"
	}
	return "User: " + Principal + " is not authorized to perform: " + action + on + " " + why
}

// answerDenied answers r with the first denial that refuses it, reporting
// whether one did.
func (p *FaultProxy) answerDenied(w http.ResponseWriter, r *http.Request, denials []*denial, service, op string, form url.Values) bool {
	for _, d := range denials {
		ok, id := d.refused(r, op, form)
		if !ok {
			continue
		}
		region, _ := scope(r.Header.Get("Authorization"))
		action := service + ":" + op
		resource := resourceARN(service, region, id, form)
		p.mu.Lock()
		p.stats.Denied++
		n := p.stats.Denied
		p.mu.Unlock()
		p.log("faultproxy: denied %s on %s", action, resource)
		requestID := fmt.Sprintf("faultproxy-denied-%d", n)
		drain(r)
		switch service {
		case "ec2":
			a := authorization{ExplicitDeny: d.Explicit, Context: authzScope{
				Principal: authzPrincipal{ID: "AROAAWSUTILSTESTBED:testbed", Arn: Principal},
				Action:    action, Resource: resource,
			}}
			doc, _ := json.Marshal(a)
			msg := "You are not authorized to perform this operation. "
			if d.PlainEC2 {
				msg += plainDenial(action, resource, d.Explicit) + ". "
			}
			msg += "Encoded authorization failure message: " + base64.RawURLEncoding.EncodeToString(doc)
			writeXML(w, r, http.StatusForbidden, "text/xml;charset=UTF-8", requestID,
				`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>`+
					escape(msg)+`</Message></Error></Errors><RequestID>`+requestID+`</RequestID></Response>`)
		case "s3":
			writeXML(w, r, http.StatusForbidden, "application/xml", requestID,
				`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>`+
					requestID+`</RequestId><HostId>`+requestID+`</HostId></Error>`)
		default:
			queryError(w, r, service, http.StatusForbidden, "AccessDenied", plainDenial(action, resource, d.Explicit), requestID)
		}
		return true
	}
	return false
}

// answerDecode answers STS DecodeAuthorizationMessage for a message the
// proxy encoded, as STS does; any other message is refused as STS refuses
// one it did not issue. It reports whether it answered.
func (p *FaultProxy) answerDecode(w http.ResponseWriter, r *http.Request, service, op string, form url.Values) bool {
	if service != "sts" || op != "DecodeAuthorizationMessage" {
		return false
	}
	const requestID = "faultproxy-decode"
	doc, err := base64.RawURLEncoding.DecodeString(form.Get("EncodedMessage"))
	var a authorization
	if err != nil || json.Unmarshal(doc, &a) != nil || a.Context.Action == "" {
		queryError(w, r, service, http.StatusBadRequest, "InvalidAuthorizationMessageException",
			"The error message is invalid or was not issued by this account.", requestID)
		return true
	}
	writeXML(w, r, http.StatusOK, "text/xml", requestID,
		`<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><DecodeAuthorizationMessageResult><DecodedMessage>`+
			escape(string(doc))+`</DecodedMessage></DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>`+
			requestID+`</RequestId></ResponseMetadata></DecodeAuthorizationMessageResponse>`)
	return true
}

// queryError writes an AWS query API (RDS, STS, ...) error.
func queryError(w http.ResponseWriter, r *http.Request, service string, status int, code, msg, requestID string) {
	ns := map[string]string{
		"rds":         "http://rds.amazonaws.com/doc/2014-10-31/",
		"sts":         "https://sts.amazonaws.com/doc/2011-06-15/",
		"autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
		"redshift":    "http://redshift.amazonaws.com/doc/2012-12-01/",
	}[service]
	if r.Header.Get("X-Amz-Target") != "" {
		// A JSON-protocol API (ECS) answers in JSON; AccessDenied is
		// AccessDeniedException there.
		if code == "AccessDenied" {
			code = "AccessDeniedException"
		}
		body, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
		writeXML(w, r, status, "application/x-amz-json-1.1", requestID, string(body))
		return
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, r, status, "text/xml", requestID,
		`<ErrorResponse xmlns="`+ns+`"><Error><Type>`+typ+`</Type><Code>`+code+`</Code><Message>`+escape(msg)+
			`</Message></Error><RequestId>`+requestID+`</RequestId></ErrorResponse>`)
}

func writeXML(w http.ResponseWriter, r *http.Request, status int, contentType, requestID, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// drain takes the rest of r's body, so the client reads the answer instead
// of a reset on writing its body.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
}

func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// scope is the region and service of a SigV4 Authorization header's
// credential scope (AKID/20240101/us-east-1/ec2/aws4_request).
func scope(auth string) (region, service string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return "", ""
	}
	return parts[2], parts[3]
}
