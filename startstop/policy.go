package startstop

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/awsutils/awsutils/internal/iam"
)

// PolicyOptions fill in the parts of an ARN that a config file does not say.
type PolicyOptions struct {
	// Partition is aws, aws-cn or aws-us-gov; "" means aws.
	Partition string
	// AccountID narrows every ARN to one account; "" means any (*).
	AccountID string
}

// Policy is the least-privilege IAM policy for starting and stopping what
// conf lists in the caller's own account, from the registry: each type's
// start and stop actions only on the ARNs listed, and for tag selectors on
// the type's ARNs in the group's regions only with those tags (the
// service's condition keys), plus the describe calls (and a type's further
// checks), which IAM only grants on *. Without a describe permission
// awsutils still works (EC2 acts blind, as the original did) but cannot
// skip resources already in the wanted state or report transitions, so the
// policy includes them. Groups with role_arn are done by the member
// account's role (MemberPolicies): this policy may assume exactly those.
func Policy(conf *Config, opts PolicyOptions) iam.Document {
	doc := scopePolicy(conf, opts, "")
	var roles []string
	for _, k := range conf.Keys {
		for _, g := range k.Groups {
			if g.RoleARN != "" {
				roles = append(roles, g.RoleARN)
			}
		}
	}
	if len(roles) > 0 {
		doc.Allow("AssumeMemberRoles", []string{"sts:AssumeRole"}, roles, nil)
	}
	return doc
}

// Member is what a member account's role needs for the groups that name
// it: its permissions and the trust policy that lets exactly the hub role
// assume it (with the groups' external id, if any).
type Member struct {
	Policy iam.Document `json:"PermissionsPolicy"`
	Trust  TrustPolicy  `json:"TrustPolicy"`
}

// TrustPolicy is an IAM role's trust policy.
type TrustPolicy struct {
	Version   string           `json:"Version"`
	Statement []TrustStatement `json:"Statement"`
}

// TrustStatement lets one principal assume the role.
type TrustStatement struct {
	Effect    string                    `json:"Effect"`
	Principal map[string]string         `json:"Principal"`
	Action    string                    `json:"Action"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// MemberPolicies are the member roles conf's role_arn groups name, by role
// ARN, each with what it needs (in its own account) and a trust policy
// trusting exactly hubRole.
func MemberPolicies(conf *Config, opts PolicyOptions, hubRole string) map[string]Member {
	out := map[string]Member{}
	for _, k := range conf.Keys {
		for _, g := range k.Groups {
			if g.RoleARN == "" {
				continue
			}
			if _, done := out[g.RoleARN]; done {
				continue
			}
			o := opts
			o.AccountID = accountOf(g.RoleARN)
			trust := TrustStatement{Effect: "Allow", Principal: map[string]string{"AWS": hubRole}, Action: "sts:AssumeRole"}
			if g.ExternalID != "" {
				trust.Condition = map[string]map[string]any{"StringEquals": {"sts:ExternalId": g.ExternalID}}
			}
			out[g.RoleARN] = Member{Policy: scopePolicy(conf, o, g.RoleARN),
				Trust: TrustPolicy{Version: "2012-10-17", Statement: []TrustStatement{trust}}}
		}
	}
	return out
}

// IsRoleARN says whether s is an IAM role's ARN.
func IsRoleARN(s string) bool { return roleARN.MatchString(s) }

// scopePolicy is the policy for the groups reached through role ("": the
// caller's own).
func scopePolicy(conf *Config, opts PolicyOptions, role string) iam.Document {
	part := cmp.Or(opts.Partition, "aws")
	acct := cmp.Or(opts.AccountID, "*")
	arns := map[Type][]string{}
	type tagged struct {
		regions []string
		tags    map[string]string
	}
	selectors := map[Type][]tagged{}
	for _, k := range conf.Keys {
		for _, g := range k.Groups {
			kd, ok := lookup(g.Type)
			if !ok || g.RoleARN != role {
				continue // Parse refuses unknown types
			}
			region := cmp.Or(g.Region, conf.Region, "*")
			for _, id := range g.IDs {
				arns[g.Type] = append(arns[g.Type], kd.arn(part, region, acct, id))
			}
			if g.Tags != nil {
				regions := g.Regions
				if regions == nil {
					regions = []string{region}
				}
				selectors[g.Type] = append(selectors[g.Type], tagged{regions, g.Tags})
			}
		}
	}
	doc := iam.New()
	var also []grant
	for _, svc := range services {
		var describe []string
		for _, k := range registry {
			if k.Service != svc.Name || len(arns[k.Type])+len(selectors[k.Type]) == 0 {
				continue
			}
			acts := append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...)
			if len(arns[k.Type]) > 0 {
				doc.Allow("StartStopListed"+k.Sid, acts, arns[k.Type], nil)
			}
			for i, sel := range selectors[k.Type] {
				var res []string
				for _, r := range sel.regions {
					res = append(res, k.arn(part, r, acct, "*"))
				}
				sid := "StartStopTagged" + k.Sid
				if len(selectors[k.Type]) > 1 {
					sid += strconv.Itoa(i + 1)
				}
				doc.Allow(sid, acts, res, tagCondition(&k, sel.tags))
			}
			describe = append(describe, k.Describe.IAM...)
			if len(selectors[k.Type]) > 0 {
				describe = append(describe, k.SelectIAM...)
			}
			also = append(also, k.Also...)
		}
		if len(describe) > 0 {
			doc.Allow(svc.DescribeSid, describe, []string{"*"}, nil)
		}
	}
	seen := map[string]bool{}
	for _, g := range also {
		if !seen[g.Sid] {
			seen[g.Sid] = true
			doc.Allow(g.Sid, g.IAM, []string{"*"}, nil)
		}
	}
	return doc
}

// tagCondition allows an action only on resources with every one of tags:
// StringEquals on the type's tag condition key, or for "*" (any value)
// the key being present.
func tagCondition(k *kind, tags map[string]string) map[string]map[string]any {
	cond := map[string]map[string]any{}
	for _, key := range sortedKeys(tags) {
		ck := strings.ReplaceAll(k.TagCondition, "{key}", key)
		if v := tags[key]; v == anyValue {
			if cond["Null"] == nil {
				cond["Null"] = map[string]any{}
			}
			cond["Null"][ck] = "false"
		} else {
			if cond["StringEquals"] == nil {
				cond["StringEquals"] = map[string]any{}
			}
			cond["StringEquals"][ck] = v
		}
	}
	return cond
}

// arn is the ARN of resource id.
func (k *kind) arn(partition, region, account, id string) string {
	return strings.NewReplacer("{partition}", partition, "{region}", region, "{account}", account, "{id}", id).Replace(k.ARN)
}

// Permission is what a role that may start and stop any resource of the
// registered types needs: Actions on Resource, an ARN with {partition},
// {region} and {account} left to fill in, or "*".
type Permission struct {
	Sid      string
	Actions  []string
	Resource string
}

// Permissions are what the registered types need on any of their
// resources, for a deployment's role (deploy/template.yaml is tested
// against them).
func Permissions() []Permission {
	var ps []Permission
	for _, k := range registry {
		ps = append(ps, Permission{Sid: k.Sid, Actions: append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...),
			Resource: strings.ReplaceAll(k.ARN, "{id}", "*")})
		ps = append(ps, Permission{Sid: "Describe" + k.Sid, Actions: append(append([]string(nil), k.Describe.IAM...), k.SelectIAM...), Resource: "*"})
		for _, g := range k.Also {
			ps = append(ps, Permission{Sid: g.Sid, Actions: g.IAM, Resource: "*"})
		}
	}
	return ps
}
