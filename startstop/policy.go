package startstop

import (
	"fmt"

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
// conf lists: Start/Stop only on those ARNs, plus the describe calls, which
// IAM only grants on *. Without ec2:DescribeInstances awsutils still works
// (it acts blind, as the original did) but cannot skip resources already in
// the wanted state or report transitions, so the policy includes it.
func Policy(conf *Config, opts PolicyOptions) iam.Document {
	part := opts.Partition
	if part == "" {
		part = "aws"
	}
	acct := opts.AccountID
	if acct == "" {
		acct = "*"
	}
	var instances, dbs, clusters []string
	for _, k := range conf.Keys {
		for _, g := range k.Groups {
			region := g.Region
			if region == "" {
				region = conf.Region
			}
			if region == "" {
				region = "*"
			}
			for _, id := range g.IDs {
				switch g.Type {
				case EC2Instance:
					instances = append(instances, fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", part, region, acct, id))
				case DBInstance:
					dbs = append(dbs, fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", part, region, acct, id))
				case DBCluster:
					clusters = append(clusters, fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", part, region, acct, id))
				}
			}
		}
	}
	doc := iam.New()
	if len(instances) > 0 {
		doc.Allow("StartStopListedInstances", []string{"ec2:StartInstances", "ec2:StopInstances"}, instances, nil)
		doc.Allow("DescribeInstances", []string{"ec2:DescribeInstances"}, []string{"*"}, nil)
	}
	if len(dbs) > 0 {
		doc.Allow("StartStopListedDBInstances", []string{"rds:StartDBInstance", "rds:StopDBInstance"}, dbs, nil)
	}
	if len(clusters) > 0 {
		doc.Allow("StartStopListedDBClusters", []string{"rds:StartDBCluster", "rds:StopDBCluster"}, clusters, nil)
	}
	if len(dbs)+len(clusters) > 0 {
		doc.Allow("DescribeDatabases", []string{"rds:DescribeDBInstances", "rds:DescribeDBClusters"}, []string{"*"}, nil)
	}
	return doc
}
