package testbed

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed" // the evaluator helper
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/redshift"

	"github.com/awsutils/awsutils/awsclient"
)

// MotoIAM is a moto server of its own (not the package's shared one) that
// evaluates every request against the caller's IAM policies once Enforce
// is called (moto's INITIAL_NO_AUTH_ACTION_COUNT; see docs/RELIABILITY.md),
// with an Authorizer in front of it.
//
// moto checks EC2 and RDS calls against the resource "*" only, so a policy
// scoped to instance or DB ARNs, as `awsutils policy` prints, would be
// refused for every resource. The Authorizer therefore evaluates each EC2
// and RDS request itself, once per resource ARN AWS checks for that action
// (see resourceARNs), with moto's own evaluator (authorize.py, run in the
// test virtualenv), and forwards an allowed request re-signed as an
// administrator, so that moto's "*" check passes. Every other request (S3,
// which moto checks per bucket and key itself; STS; IAM) goes to moto
// unchanged. What this does not model is listed in docs/RELIABILITY.md.
type MotoIAM struct {
	// Moto reaches the server directly with moto's dummy credentials:
	// for setting up while enforcement is off.
	*Moto
	// Endpoint is the Authorizer's base URL: what the code under test
	// talks to.
	Endpoint string

	admin *Moto // reaches moto directly as an administrator user
	authz *Authorizer
}

var motoIAMShared = shared[*Moto]{name: "moto server (IAM enforced)", tool: ".venv/bin/moto_server", start: func(bin string) (*Moto, error) {
	// "inf" leaves requests unchecked until Enforce sets the count to 0.
	return startMotoEnv(bin, "INITIAL_NO_AUTH_ACTION_COUNT=inf")
}}

// StartMotoIAM returns the package's IAM-enforcing moto server, reset to
// empty with enforcement off, an administrator user created and its
// Authorizer running. Tests using it must not run in parallel with each
// other.
func StartMotoIAM(t testing.TB) *MotoIAM {
	t.Helper()
	m := motoIAMShared.get(t)
	if err := m.setAuth("inf"); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	mi := &MotoIAM{Moto: m}
	mi.admin = mi.newUser(t, "testbed-admin", map[string]string{"all": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`})
	a, err := startAuthorizer(t, m.Endpoint, mi.admin)
	if err != nil {
		t.Fatal(err)
	}
	mi.authz = a
	mi.Endpoint = a.url
	t.Cleanup(func() {
		a.close()
		_ = m.setAuth("inf")
	})
	return mi
}

// Enforce turns IAM evaluation on for every later request until t ends.
func (m *MotoIAM) Enforce(t testing.TB) {
	t.Helper()
	if err := m.setAuth("0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.setAuth("inf") })
}

// Relax turns IAM evaluation off again (for setting up between runs).
func (m *MotoIAM) Relax(t testing.TB) {
	t.Helper()
	if err := m.setAuth("inf"); err != nil {
		t.Fatal(err)
	}
}

// setAuth sets moto's INITIAL_NO_AUTH_ACTION_COUNT and restarts its count.
func (m *Moto) setAuth(count string) error { return m.motoAPI("reset-auth", count) }

// User creates an IAM user whose only permissions are policies (name ->
// policy document JSON), with enforcement off, and returns a Moto that
// reaches the Authorizer with the user's access key (Env, Options,
// Config).
func (m *MotoIAM) User(t testing.TB, name string, policies map[string]string) *Moto {
	t.Helper()
	u := m.newUser(t, name, policies)
	u.Endpoint = m.Endpoint
	return u
}

func (m *MotoIAM) newUser(t testing.TB, name string, policies map[string]string) *Moto {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(m.Moto.Config(t))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("testbed: create user %s: %v", name, err)
	}
	for pn, doc := range policies {
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatalf("testbed: user %s policy %s: %v", name, pn, err)
		}
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("testbed: access key of %s: %v", name, err)
	}
	u := *m.Moto
	u.key, u.secret = aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)
	return &u
}

// Authorizer is the proxy MotoIAM puts in front of moto.
type Authorizer struct {
	url   string
	srv   *http.Server
	moto  *url.URL
	admin *Moto
	iam   *iam.Client
	cfg   aws.Config // the administrator's, for reading resources
	eval  *evaluator
	log   func(format string, args ...any)
}

//go:embed authorize.py
var authorizePy []byte

// evaluator is authorize.py running in the test virtualenv.
type evaluator struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startEvaluator(t testing.TB) (*evaluator, error) {
	py, err := ToolPath(".venv/bin/python")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(t.TempDir(), "authorize.py")
	if err := os.WriteFile(script, authorizePy, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(py, script)
	cmd.Env = baseEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testbed: start %s: %w", script, err)
	}
	return &evaluator{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// Decision is what moto's evaluator says of one action on one resource.
type Decision string

// The evaluator's answers: an allow matched; an explicit deny matched (in
// moto, also an allow whose condition failed); nothing matched.
const (
	Permitted Decision = "PERMITTED"
	Denied    Decision = "DENIED"
	Neutral   Decision = "NEUTRAL"
)

// decide evaluates action on resource; context holds the request's
// condition keys (the resource's tags as aws:ResourceTag/K and the
// service's own tag keys).
func (e *evaluator) decide(policies []string, action, resource string, context map[string]string) (Decision, error) {
	req, err := json.Marshal(map[string]any{"policies": policies, "action": action, "resource": resource, "context": context})
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.in.Write(append(req, '\n')); err != nil {
		return "", fmt.Errorf("testbed: authorize.py: %w", err)
	}
	line, err := e.out.ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("testbed: authorize.py: %w", err)
	}
	var resp struct{ Result, Error string }
	if err := json.Unmarshal(line, &resp); err != nil {
		return "", fmt.Errorf("testbed: authorize.py answered %q: %w", line, err)
	}
	if resp.Error != "" {
		return "", fmt.Errorf("testbed: authorize.py: %s", resp.Error)
	}
	return Decision(resp.Result), nil
}

func (e *evaluator) close() {
	e.in.Close()
	_ = e.cmd.Wait()
}

func startAuthorizer(t testing.TB, motoEndpoint string, admin *Moto) (*Authorizer, error) {
	ev, err := startEvaluator(t)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(motoEndpoint)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg, err := awsclient.Load(context.Background(), admin.Options())
	if err != nil {
		return nil, err
	}
	a := &Authorizer{url: "http://" + l.Addr().String(), moto: target, admin: admin, iam: iam.NewFromConfig(cfg), cfg: cfg, eval: ev, log: t.Logf}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: time.Minute}
	go func() { _ = a.srv.Serve(l) }()
	return a, nil
}

func (a *Authorizer) close() {
	_ = a.srv.Close()
	a.eval.close()
}

// modelled are the services whose requests the Authorizer evaluates per
// resource ARN itself.
var modelled = map[string]bool{"ec2": true, "rds": true, "sts": true, "autoscaling": true, "ecs": true, "redshift": true}

// ServeHTTP authorizes the modelled services' requests per resource and
// forwards everything else.
func (a *Authorizer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	auth := r.Header.Get("Authorization")
	region, service := scope(auth)
	if modelled[service] {
		op, form := operation(r, body)
		action := service + ":" + op
		ctx := r.Context()
		arns, known := resourceARNs(service, op, form, region, a.admin.Account, func(name string) string { return a.groupID(ctx, region, name) })
		switch {
		case service == "sts" && !known:
			// moto evaluates STS itself (GetCallerIdentity, AssumeRole).
		case !known:
			a.refuse(w, r, service, action, "*", "", "the test bed's Authorizer has no resource model for "+action+"; add it to resourceARNs")
			return
		case a.isAdmin(auth):
		default:
			user, policies, err := a.policiesOf(ctx, accessKey(auth))
			if err != nil {
				a.refuse(w, r, service, action, "*", "", err.Error())
				return
			}
			for _, arn := range arns {
				cond, err := a.conditionKeys(ctx, service, region, arn)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				d, err := a.eval.decide(policies, action, arn, cond)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				if d != Permitted {
					a.log("authorizer: %s refused %s on %s (%s)", user, action, arn, d)
					a.refuse(w, r, service, action, arn, user, "User: "+user+" is not authorized to perform: "+action+" on resource: "+arn)
					return
				}
			}
			if service == "sts" && op == "DecodeAuthorizationMessage" {
				a.decode(w, r, form)
				return
			}
			if err := a.resign(r, body, region, service); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	proxy := httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(a.moto)
		pr.Out.Host = pr.In.Host // signed over; moto checks signatures
	}}
	proxy.ServeHTTP(w, r)
}

// operation is a request's operation and parameters: a query API's Action
// and form (EC2, RDS, STS, Auto Scaling, Redshift), or a JSON API's
// X-Amz-Target operation and the body's top-level string members (ECS,
// JSON 1.1).
func operation(r *http.Request, body []byte) (string, url.Values) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		form := url.Values{}
		var members map[string]any
		_ = json.Unmarshal(body, &members)
		for k, v := range members {
			if s, ok := v.(string); ok {
				form.Set(k, s)
			}
		}
		_, op, _ := strings.Cut(target, ".")
		return op, form
	}
	form, _ := url.ParseQuery(string(body))
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	return form.Get("Action"), form
}

// resourceARNs are the resources AWS evaluates a request against, from the
// Service Authorization Reference: the instances, DB instances or clusters,
// Auto Scaling groups, ECS services or Redshift clusters it names, or "*"
// for calls that cannot be limited to resources. An action not listed here
// is refused, so that a new call shows up in the tests instead of passing
// unchecked. groupID gives an Auto Scaling group's id: AWS's group ARN has
// it (autoScalingGroup:UUID:autoScalingGroupName/NAME), which is why a
// policy names a group as autoScalingGroup:*:autoScalingGroupName/NAME.
func resourceARNs(service, op string, form url.Values, region, account string, groupID func(name string) string) ([]string, bool) {
	prefix := "arn:aws:" + service + ":" + region + ":" + account + ":"
	switch service + ":" + op {
	case "ec2:DescribeInstances", "ec2:DescribeInstanceStatus":
		return []string{"*"}, true
	case "ec2:StartInstances", "ec2:StopInstances":
		var arns []string
		for _, id := range ResourceIDs(form) {
			arns = append(arns, prefix+"instance/"+id)
		}
		return arns, true
	case "rds:DescribeDBInstances":
		if id := form.Get("DBInstanceIdentifier"); id != "" {
			return []string{prefix + "db:" + id}, true
		}
		return []string{"*"}, true
	case "rds:DescribeDBClusters":
		if id := form.Get("DBClusterIdentifier"); id != "" {
			return []string{prefix + "cluster:" + id}, true
		}
		return []string{"*"}, true
	case "rds:StartDBInstance", "rds:StopDBInstance":
		return []string{prefix + "db:" + form.Get("DBInstanceIdentifier")}, true
	case "rds:StartDBCluster", "rds:StopDBCluster":
		return []string{prefix + "cluster:" + form.Get("DBClusterIdentifier")}, true
	case "rds:ListTagsForResource":
		return []string{form.Get("ResourceName")}, true
	case "sts:DecodeAuthorizationMessage":
		return []string{"*"}, true
	case "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances":
		return []string{"*"}, true
	case "autoscaling:UpdateAutoScalingGroup":
		name := form.Get("AutoScalingGroupName")
		return []string{prefix + "autoScalingGroup:" + groupID(name) + ":autoScalingGroupName/" + name}, true
	case "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags":
		var arns []string
		for i := 1; form.Has(fmt.Sprintf("Tags.member.%d.ResourceId", i)); i++ {
			name := form.Get(fmt.Sprintf("Tags.member.%d.ResourceId", i))
			arn := prefix + "autoScalingGroup:" + groupID(name) + ":autoScalingGroupName/" + name
			if !slices.Contains(arns, arn) {
				arns = append(arns, arn)
			}
		}
		return arns, true
	case "ecs:DescribeServices", "ecs:ListClusters", "ecs:ListServices":
		return []string{"*"}, true
	case "ecs:UpdateService":
		svc := form.Get("service")
		if strings.HasPrefix(svc, "arn:") {
			return []string{svc}, true
		}
		cluster := cmp.Or(form.Get("cluster"), "default")
		if i := strings.LastIndex(cluster, ":cluster/"); i >= 0 {
			cluster = cluster[i+len(":cluster/"):]
		}
		return []string{prefix + "service/" + cluster + "/" + svc}, true
	case "ecs:TagResource", "ecs:UntagResource":
		return []string{form.Get("resourceArn")}, true
	case "redshift:DescribeClusters":
		return []string{"*"}, true
	case "redshift:PauseCluster", "redshift:ResumeCluster":
		return []string{prefix + "cluster:" + form.Get("ClusterIdentifier")}, true
	}
	return nil, false
}

// noGroup stands in for the id of a group that does not exist: AWS
// answers such a call with a validation error, which moto gives once the
// call is forwarded, provided the policy allows the name at all.
const noGroup = "00000000-0000-0000-0000-000000000000"

// groupID reads an Auto Scaling group's id (the UUID in its ARN) from moto
// as the administrator.
func (a *Authorizer) groupID(ctx context.Context, region, name string) string {
	out, err := awsclient.AutoScaling(awsclient.WithRegion(a.cfg, region)).
		DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		return noGroup
	}
	// arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME
	parts := strings.SplitN(aws.ToString(out.AutoScalingGroups[0].AutoScalingGroupARN), ":", 8)
	if len(parts) != 8 {
		return noGroup
	}
	return parts[6]
}

// conditionKeys are the condition keys AWS sets for a request on arn that
// the shipped policies test: the resource's tags, read from moto as the
// administrator, as aws:ResourceTag/K and the service's own key
// (autoscaling:ResourceTag/K, ec2:ResourceTag/K, rds:db-tag/K,
// rds:cluster-tag/K).
func (a *Authorizer) conditionKeys(ctx context.Context, service, region, arn string) (map[string]string, error) {
	if arn == "*" {
		return nil, nil
	}
	tags := map[string]string{}
	own := map[string]string{"autoscaling": "autoscaling:ResourceTag/", "ec2": "ec2:ResourceTag/"}[service]
	switch service {
	case "ec2":
		out, err := awsclient.EC2(awsclient.WithRegion(a.cfg, region)).
			DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{arn[strings.LastIndex(arn, "/")+1:]}})
		if err != nil {
			return nil, nil // no such instance: nothing to condition on
		}
		for _, res := range out.Reservations {
			for _, i := range res.Instances {
				for _, t := range i.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
		}
	case "rds":
		c := awsclient.RDS(awsclient.WithRegion(a.cfg, region))
		id := arn[strings.LastIndex(arn, ":")+1:]
		var list []rdstypes.Tag
		switch {
		case strings.Contains(arn, ":db:"):
			own = "rds:db-tag/"
			out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
			if err == nil && len(out.DBInstances) == 1 {
				list = out.DBInstances[0].TagList
			}
		case strings.Contains(arn, ":cluster:"):
			own = "rds:cluster-tag/"
			out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
			if err == nil && len(out.DBClusters) == 1 {
				list = out.DBClusters[0].TagList
			}
		}
		for _, t := range list {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case "autoscaling":
		name := arn[strings.LastIndex(arn, "/")+1:]
		out, err := awsclient.AutoScaling(awsclient.WithRegion(a.cfg, region)).
			DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil {
			return nil, fmt.Errorf("testbed: tags of %s: %w", arn, err)
		}
		for _, g := range out.AutoScalingGroups {
			for _, t := range g.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	case "ecs":
		out, err := awsclient.ECS(awsclient.WithRegion(a.cfg, region)).
			ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil {
			return nil, nil // no such service: nothing to condition on
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case "redshift":
		id := arn[strings.LastIndex(arn, ":")+1:]
		out, err := awsclient.Redshift(awsclient.WithRegion(a.cfg, region)).
			DescribeClusters(ctx, &redshift.DescribeClustersInput{ClusterIdentifier: aws.String(id)})
		if err != nil {
			return nil, nil // no such cluster
		}
		for _, c := range out.Clusters {
			for _, t := range c.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	default:
		return nil, nil
	}
	keys := map[string]string{}
	for k, v := range tags {
		keys["aws:ResourceTag/"+k] = v
		if own != "" {
			keys[own+k] = v
		}
	}
	return keys, nil
}

func accessKey(auth string) string {
	_, cred, _ := strings.Cut(auth, "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	return key
}

func (a *Authorizer) isAdmin(auth string) bool {
	key, _ := a.admin.credentials()
	return accessKey(auth) == key
}

// policiesOf reads the inline and attached policies of the user an access
// key belongs to, from moto's IAM.
func (a *Authorizer) policiesOf(ctx context.Context, key string) (string, []string, error) {
	users, err := a.iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		return "", nil, err
	}
	for _, u := range users.Users {
		keys, err := a.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
		if err != nil {
			return "", nil, err
		}
		for _, k := range keys.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) != key {
				continue
			}
			var docs []string
			names, err := a.iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: u.UserName})
			if err != nil {
				return "", nil, err
			}
			for _, n := range names.PolicyNames {
				p, err := a.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: u.UserName, PolicyName: aws.String(n)})
				if err != nil {
					return "", nil, err
				}
				doc, err := url.QueryUnescape(aws.ToString(p.PolicyDocument))
				if err != nil {
					return "", nil, err
				}
				docs = append(docs, doc)
			}
			attached, err := a.iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: u.UserName})
			if err != nil {
				return "", nil, err
			}
			for _, ap := range attached.AttachedPolicies {
				pol, err := a.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: ap.PolicyArn})
				if err != nil {
					return "", nil, err
				}
				v, err := a.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: ap.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
				if err != nil {
					return "", nil, err
				}
				doc, err := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document))
				if err != nil {
					return "", nil, err
				}
				docs = append(docs, doc)
			}
			return aws.ToString(u.Arn), docs, nil
		}
	}
	return "", nil, errors.New("the security token included in the request is invalid: no user has access key " + key)
}

// resign signs r again as the administrator, so that moto's own check
// (against "*") passes for a request the Authorizer allowed.
func (a *Authorizer) resign(r *http.Request, body []byte, region, service string) error {
	key, secret := a.admin.credentials()
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		r.Header.Del(h)
	}
	sum := sha256.Sum256(body)
	// The signer signs r.URL's host; the forwarded request keeps r.Host.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	out := r.Clone(r.Context())
	out.URL = &u
	err := v4.NewSigner().SignHTTP(r.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		out, hex.EncodeToString(sum[:]), service, region, time.Now())
	if err != nil {
		return err
	}
	r.Header = out.Header
	return nil
}

// refuse answers as the service does when IAM refuses a call: EC2 with
// UnauthorizedOperation and an encoded message, the others AccessDenied.
func (a *Authorizer) refuse(w http.ResponseWriter, r *http.Request, service, action, resource, user, msg string) {
	const requestID = "testbed-authorizer"
	if service == "ec2" {
		doc, _ := json.Marshal(authorization{Context: authzScope{Principal: authzPrincipal{Arn: user}, Action: action, Resource: resource}})
		// EC2 names nothing in plain text; a refusal of the test bed's own
		// (no user: no model, unknown key) says why, for whoever reads the
		// failing test.
		testbedReason := ""
		if user == "" {
			testbedReason = msg + ". "
		}
		writeXML(w, r, http.StatusForbidden, "text/xml;charset=UTF-8", requestID,
			`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>`+
				escape("You are not authorized to perform this operation. "+testbedReason+"Encoded authorization failure message: "+
					base64.RawURLEncoding.EncodeToString(doc))+`</Message></Error></Errors><RequestID>`+requestID+`</RequestID></Response>`)
		return
	}
	status := http.StatusForbidden
	if r.Header.Get("X-Amz-Target") != "" {
		status = http.StatusBadRequest // ECS's AccessDeniedException
	}
	queryError(w, r, service, status, "AccessDenied", msg, requestID)
}

// decode answers an allowed STS DecodeAuthorizationMessage for a message
// refuse encoded.
func (a *Authorizer) decode(w http.ResponseWriter, r *http.Request, form url.Values) {
	doc, err := base64.RawURLEncoding.DecodeString(form.Get("EncodedMessage"))
	if err != nil {
		queryError(w, r, "sts", http.StatusBadRequest, "InvalidAuthorizationMessageException", "The error message is invalid.", "testbed-authorizer")
		return
	}
	writeXML(w, r, http.StatusOK, "text/xml", "testbed-authorizer",
		`<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><DecodeAuthorizationMessageResult><DecodedMessage>`+
			escape(string(doc))+`</DecodedMessage></DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>testbed-authorizer</RequestId></ResponseMetadata></DecodeAuthorizationMessageResponse>`)
}
