package startstop

import (
	"context"
	"encoding/json"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/awsutils/awsutils/awsclient"
)

// encodedMessage finds the encoded authorization failure message EC2 puts
// in an UnauthorizedOperation: the only part that says which action on
// which resource was refused, and why.
var encodedMessage = regexp.MustCompile(`Encoded authorization failure message: ([A-Za-z0-9_-]+)`)

// deniedMessage is the result message for an instance whose call was
// refused for lack of permission: what the decoded authorization message
// says when the role may decode it (sts:DecodeAuthorizationMessage), else
// AWS's own message.
func (r *runner) deniedMessage(ctx context.Context, region, op string, err error) string {
	raw := failure(err, op)
	m := encodedMessage.FindStringSubmatch(awsclient.Message(err))
	if m == nil {
		return raw
	}
	why, ok := r.decodeAuthorization(ctx, region, m[1])
	if !ok {
		return raw
	}
	return op + ": " + awsclient.Code(err) + ": " + why
}

// authorization is the part of a decoded authorization message the report
// uses. The rest (the request's conditions: tags, source address, user id)
// stays out of reports and logs.
type authorization struct {
	ExplicitDeny bool `json:"explicitDeny"`
	Context      struct {
		Principal struct {
			Arn string `json:"arn"`
		} `json:"principal"`
		Action   string `json:"action"`
		Resource string `json:"resource"`
	} `json:"context"`
}

// decodeAuthorization asks STS what an encoded authorization failure
// message says, in one line. Once STS refuses (the role lacks
// sts:DecodeAuthorizationMessage, as it usually does), the run stops asking
// and says so in a note.
func (r *runner) decodeAuthorization(ctx context.Context, region, encoded string) (string, bool) {
	if r.decodeRefused.Load() {
		return "", false
	}
	doc, err := r.decode(ctx, region, encoded)
	if err != nil {
		if awsclient.Classify(err) == awsclient.KindAccessDenied {
			r.decodeRefused.Store(true)
			r.note("sts:DecodeAuthorizationMessage is not allowed, so EC2 refusals show the encoded message AWS sent " +
				"(`aws sts decode-authorization-message --encoded-message MESSAGE` tells why)")
		}
		return "", false
	}
	var a authorization
	if json.Unmarshal([]byte(doc), &a) != nil || a.Context.Action == "" {
		return "", false
	}
	who := "not authorized"
	if a.Context.Principal.Arn != "" {
		who = a.Context.Principal.Arn + " is not authorized"
	}
	on := ""
	if a.Context.Resource != "" && a.Context.Resource != "*" {
		on = " on " + a.Context.Resource
	}
	why := "no policy allows it"
	if a.ExplicitDeny {
		why = "a policy denies it explicitly"
	}
	return who + " to perform " + a.Context.Action + on + ": " + why + " (decoded authorization message)", true
}

// stsDecode is decode in production: STS DecodeAuthorizationMessage.
func (r *runner) stsDecode(ctx context.Context, region, encoded string) (string, error) {
	out, err := awsclient.STS(awsclient.WithRegion(r.cfg, region)).DecodeAuthorizationMessage(ctx,
		&sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encoded)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.DecodedMessage), nil
}
