package startstop

import (
	"cmp"
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
// conf lists, from the registry: each type's start and stop actions only
// on the ARNs listed, plus the describe calls (and a type's further
// checks), which IAM only grants on *. Without a describe permission
// awsutils still works (EC2 acts blind, as the original did) but cannot
// skip resources already in the wanted state or report transitions, so the
// policy includes them.
func Policy(conf *Config, opts PolicyOptions) iam.Document {
	part := cmp.Or(opts.Partition, "aws")
	acct := cmp.Or(opts.AccountID, "*")
	arns := map[Type][]string{}
	for _, k := range conf.Keys {
		for _, g := range k.Groups {
			kd, ok := lookup(g.Type)
			if !ok {
				continue // Parse refuses unknown types
			}
			region := cmp.Or(g.Region, conf.Region, "*")
			for _, id := range g.IDs {
				arns[g.Type] = append(arns[g.Type], kd.arn(part, region, acct, id))
			}
		}
	}
	doc := iam.New()
	var also []grant
	for _, svc := range services {
		var describe []string
		for _, k := range registry {
			if k.Service != svc.Name || len(arns[k.Type]) == 0 {
				continue
			}
			doc.Allow("StartStopListed"+k.Sid, append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...), arns[k.Type], nil)
			describe = append(describe, k.Describe.IAM...)
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
		ps = append(ps, Permission{Sid: "Describe" + k.Sid, Actions: k.Describe.IAM, Resource: "*"})
		for _, g := range k.Also {
			ps = append(ps, Permission{Sid: g.Sid, Actions: g.IAM, Resource: "*"})
		}
	}
	return ps
}
