package startstop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
)

// RedshiftCluster is a provisioned Redshift cluster, by identifier.
const RedshiftCluster Type = "redshift.cluster"

var redshiftKind = kind{
	Type:     RedshiftCluster,
	Noun:     "Redshift cluster",
	Sid:      "RedshiftClusters",
	IDs:      "the cluster identifier: a letter, then up to 62 letters, digits or hyphens",
	CheckID:  anyID,
	ARN:      "arn:{partition}:redshift:{region}:{account}:cluster:{id}",
	Service:  "redshift",
	Start:    call{"ResumeCluster", []string{"redshift:ResumeCluster"}},
	Stop:     call{"PauseCluster", []string{"redshift:PauseCluster"}},
	Describe: call{"DescribeClusters", []string{"redshift:DescribeClusters"}},
	Target:   map[Action]string{Start: "available", Stop: "paused"},
	// One cluster a call: DescribeClusters takes one identifier or none
	// (every cluster of the account, which may be many more).
	Chunk: 1,
	Doc: doc{
		Start: "`ResumeCluster`",
		Stop:  "`PauseCluster` (compute billing stops; storage is kept)",
	},
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return &redshiftWorker{r: r, k: k, c: awsclient.Redshift(cfg)}
	},
}

// redshiftAPI is the part of the Redshift client the worker uses.
type redshiftAPI interface {
	DescribeClusters(context.Context, *redshift.DescribeClustersInput, ...func(*redshift.Options)) (*redshift.DescribeClustersOutput, error)
	PauseCluster(context.Context, *redshift.PauseClusterInput, ...func(*redshift.Options)) (*redshift.PauseClusterOutput, error)
	ResumeCluster(context.Context, *redshift.ResumeClusterInput, ...func(*redshift.Options)) (*redshift.ResumeClusterOutput, error)
}

// redshiftWorker pauses and resumes Redshift clusters.
type redshiftWorker struct {
	r *runner
	k *kind
	c redshiftAPI
}

func (w *redshiftWorker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	states := map[string]resState{}
	for _, id := range ids {
		var out *redshift.DescribeClustersOutput
		err := w.r.call(ctx, w.k.Service, func() (err error) {
			out, err = w.c.DescribeClusters(ctx, &redshift.DescribeClustersInput{ClusterIdentifier: aws.String(id)})
			return err
		})
		if awsclient.Classify(err) == awsclient.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, c := range out.Clusters {
			// Redshift stores identifiers lower case and takes any case.
			if strings.EqualFold(aws.ToString(c.ClusterIdentifier), id) {
				states[id] = resState{Name: aws.ToString(c.ClusterStatus)}
			}
		}
	}
	return states, nil
}

// decide goes by the described state: Redshift refuses to pause a paused
// cluster (moto does not), and a cluster pausing or resuming is on its way.
func (w *redshiftWorker) decide(a Action, st resState) (bool, Outcome, string) {
	return decideRedshift(a, st.Name)
}

func decideRedshift(a Action, st string) (bool, Outcome, string) {
	switch {
	case a == Stop && st == "available", a == Start && st == "paused":
		return true, "", ""
	case a == Stop && st == "paused", a == Start && st == "available":
		return false, Unchanged, "already " + st
	case a == Stop && st == "pausing", a == Start && st == "resuming":
		return false, Unchanged, "already " + st
	}
	return false, Failed, fmt.Sprintf("Redshift cluster is %s; can be %s only when %s", st,
		map[Action]string{Start: "resumed", Stop: "paused"}[a], map[Action]string{Start: "paused", Stop: "available"}[a])
}

func (w *redshiftWorker) act(ctx context.Context, res Result, st resState) Result {
	id := aws.String(res.ID)
	op := w.k.op(w.r.action).Op
	var after string
	err := w.r.call(ctx, w.k.Service, func() error {
		if w.r.action == Start {
			out, err := w.c.ResumeCluster(ctx, &redshift.ResumeClusterInput{ClusterIdentifier: id})
			if err == nil && out.Cluster != nil {
				after = aws.ToString(out.Cluster.ClusterStatus)
			}
			return err
		}
		out, err := w.c.PauseCluster(ctx, &redshift.PauseClusterInput{ClusterIdentifier: id})
		if err == nil && out.Cluster != nil {
			after = aws.ToString(out.Cluster.ClusterStatus)
		}
		return err
	})
	if err == nil {
		res.After, res.Outcome = after, Changed
		return res
	}
	res.After = res.Before
	var apiErr smithy.APIError
	switch kind := awsclient.Classify(err); {
	case kind == awsclient.KindNotFound:
		res.Outcome, res.Message = Failed, w.k.notFound(res.Region)
	case kind == awsclient.KindWrongState:
		res.Outcome = Failed
		res.Message = fmt.Sprintf("Redshift cluster cannot be %s in its current state: %s",
			map[Action]string{Start: "resumed", Stop: "paused"}[w.r.action], apiMessage(err))
	case kind == awsclient.KindInvalidInput && errors.As(err, &apiErr):
		// e.g. a node type that cannot pause: the config must change.
		res.Outcome, res.Message = Unsupported, "Redshift refused "+op+": "+awsclient.Message(err)
	default:
		res.Outcome, res.Message = Failed, failure(err, op)
	}
	return res
}

// settle fails a resume that ends paused again (twice in a row, as for
// RDS).
func (w *redshiftWorker) settle(a Action, st resState) (progress, string) {
	switch {
	case st.Name == w.k.Target[a]:
		return reached, ""
	case a == Start && st.Name == "paused":
		return fellBack, "resumed, then fell back to paused"
	}
	return moving, ""
}
