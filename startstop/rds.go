package startstop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
)

// rdsChunk is the most identifiers per describe filter.
const rdsChunk = 100

// rdsAPI is the part of the RDS client the actor uses.
type rdsAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	StartDBInstance(context.Context, *rds.StartDBInstanceInput, ...func(*rds.Options)) (*rds.StartDBInstanceOutput, error)
	StopDBInstance(context.Context, *rds.StopDBInstanceInput, ...func(*rds.Options)) (*rds.StopDBInstanceOutput, error)
	StartDBCluster(context.Context, *rds.StartDBClusterInput, ...func(*rds.Options)) (*rds.StartDBClusterOutput, error)
	StopDBCluster(context.Context, *rds.StopDBClusterInput, ...func(*rds.Options)) (*rds.StopDBClusterOutput, error)
}

type rdsState struct {
	status    string
	cluster   string // a DB instance's cluster, if it is a member
	replicaOf string // a DB instance's source, if it is a read replica
}

func (r *runner) rds(ctx context.Context, c rdsAPI, b Batch) {
	var wg sync.WaitGroup
	for ids := range chunks(b.IDs, rdsChunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.rdsChunk(ctx, c, b.Type, b.Region, ids)
		}()
	}
	wg.Wait()
}

// describeRDS describes ids by filter, so ids that do not exist are absent
// instead of failing the call. Keys are lower case: RDS identifiers are
// case-insensitive and stored lower case.
func (r *runner) describeRDS(ctx context.Context, c rdsAPI, t Type, ids []string) (map[string]rdsState, error) {
	states := map[string]rdsState{}
	var marker *string
	for {
		var next *string
		err := r.call(ctx, "rds", func() error {
			if t == DBInstance {
				out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{
					Filters:    []rdstypes.Filter{{Name: aws.String("db-instance-id"), Values: ids}},
					MaxRecords: aws.Int32(100), Marker: marker,
				})
				if err != nil {
					return err
				}
				for _, db := range out.DBInstances {
					states[strings.ToLower(aws.ToString(db.DBInstanceIdentifier))] = rdsState{
						status:    aws.ToString(db.DBInstanceStatus),
						cluster:   aws.ToString(db.DBClusterIdentifier),
						replicaOf: aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier),
					}
				}
				next = out.Marker
				return nil
			}
			out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{
				Filters:    []rdstypes.Filter{{Name: aws.String("db-cluster-id"), Values: ids}},
				MaxRecords: aws.Int32(100), Marker: marker,
			})
			if err != nil {
				return err
			}
			for _, cl := range out.DBClusters {
				states[strings.ToLower(aws.ToString(cl.DBClusterIdentifier))] = rdsState{status: aws.ToString(cl.Status)}
			}
			next = out.Marker
			return nil
		})
		if err != nil {
			return nil, err
		}
		if aws.ToString(next) == "" {
			return states, nil
		}
		marker = next
	}
}

func describeOp(t Type) string {
	if t == DBInstance {
		return "DescribeDBInstances"
	}
	return "DescribeDBClusters"
}

func actOp(t Type, a Action) string {
	verb := "Start"
	if a == Stop {
		verb = "Stop"
	}
	if t == DBInstance {
		return verb + "DBInstance"
	}
	return verb + "DBCluster"
}

func noun(t Type) string {
	if t == DBInstance {
		return "DB instance"
	}
	return "DB cluster"
}

func (r *runner) rdsChunk(ctx context.Context, c rdsAPI, t Type, region string, ids []string) {
	result := func(id string) Result { return Result{Type: t, ID: id, Region: region} }
	states, err := r.describeRDS(ctx, c, t, ids)
	denied := false
	if err != nil {
		switch awsclient.Classify(err) {
		case awsclient.KindAccessDenied:
			denied = true
			r.note(fmt.Sprintf("rds:%s is not allowed in %s, so %ss were %s without checking their state first (%s)",
				describeOp(t), region, noun(t), pastTense(r.action), awsclient.Code(err)))
		case awsclient.KindCanceled:
			return
		default:
			for _, id := range ids {
				res := result(id)
				res.Outcome, res.Message = Failed, failure(err, describeOp(t))
				r.set(res)
			}
			return
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var changed []Result
	for _, id := range ids {
		res := result(id)
		var st rdsState
		if !denied {
			var ok bool
			st, ok = states[strings.ToLower(id)]
			if !ok {
				res.Outcome, res.Message = Failed, notFound(t, region)
				r.set(res)
				continue
			}
			res.Before = st.status
			if st.cluster != "" {
				res.After, res.Outcome = st.status, Unsupported
				res.Message = fmt.Sprintf("member of cluster %s; list the cluster under %s", st.cluster, DBCluster)
				r.set(res)
				continue
			}
			do, outcome, msg := decideRDS(t, r.action, st.status)
			if !do {
				res.After, res.Outcome, res.Message = st.status, outcome, msg
				r.set(res)
				continue
			}
		}
		if r.opts.DryRun {
			res.After, res.Outcome = target(t, r.action), Planned
			res.Message = "dry run: would call " + actOp(t, r.action) + " (RDS has no dry run; permissions not checked)"
			r.set(res)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.rdsAct(ctx, c, res, st)
			if r.opts.Wait && res.Outcome == Changed && !denied {
				mu.Lock()
				changed = append(changed, res)
				mu.Unlock()
				return
			}
			r.set(res)
		}()
	}
	wg.Wait()
	if len(changed) > 0 {
		r.rdsWait(ctx, c, t, changed)
	}
	if denied && r.opts.Wait {
		r.note(fmt.Sprintf("could not wait for %ss in %s: rds:%s is not allowed", noun(t), region, describeOp(t)))
	}
}

func notFound(t Type, region string) string {
	if t == DBInstance {
		return "DB instance not found in " + region + " (an Aurora cluster goes under " + string(DBCluster) + ")"
	}
	return "DB cluster not found in " + region + " (a DB instance goes under " + string(DBInstance) + ")"
}

// decideRDS says whether to call start/stop for a DB instance or cluster
// with status st, and if not, its outcome.
func decideRDS(t Type, a Action, st string) (act bool, o Outcome, msg string) {
	switch {
	case a == Start && st == "stopped", a == Stop && st == "available":
		return true, "", ""
	case a == Start && st == "available", a == Stop && st == "stopped":
		return false, Unchanged, "already " + st
	case a == Start && st == "starting", a == Stop && st == "stopping":
		return false, Unchanged, "already " + st
	case a == Start && st == "inaccessible-encryption-credentials-recoverable" && t == DBCluster:
		return true, "", ""
	}
	return false, Failed, fmt.Sprintf("%s is %s; can be %s only when %s", noun(t), st, pastTense(a), map[Action]string{Start: "stopped", Stop: "available"}[a])
}

func (r *runner) rdsAct(ctx context.Context, c rdsAPI, res Result, st rdsState) Result {
	op := actOp(res.Type, r.action)
	id := aws.String(res.ID)
	var after string
	err := r.call(ctx, "rds", func() error {
		switch {
		case res.Type == DBInstance && r.action == Start:
			out, err := c.StartDBInstance(ctx, &rds.StartDBInstanceInput{DBInstanceIdentifier: id})
			if err == nil && out.DBInstance != nil {
				after = aws.ToString(out.DBInstance.DBInstanceStatus)
			}
			return err
		case res.Type == DBInstance:
			out, err := c.StopDBInstance(ctx, &rds.StopDBInstanceInput{DBInstanceIdentifier: id})
			if err == nil && out.DBInstance != nil {
				after = aws.ToString(out.DBInstance.DBInstanceStatus)
			}
			return err
		case r.action == Start:
			out, err := c.StartDBCluster(ctx, &rds.StartDBClusterInput{DBClusterIdentifier: id})
			if err == nil && out.DBCluster != nil {
				after = aws.ToString(out.DBCluster.Status)
			}
			return err
		default:
			out, err := c.StopDBCluster(ctx, &rds.StopDBClusterInput{DBClusterIdentifier: id})
			if err == nil && out.DBCluster != nil {
				after = aws.ToString(out.DBCluster.Status)
			}
			return err
		}
	})
	if err == nil {
		res.After, res.Outcome = after, Changed
		return res
	}
	res.After = res.Before
	kind := awsclient.Classify(err)
	var apiErr smithy.APIError
	isAPI := errors.As(err, &apiErr)
	switch {
	case kind == awsclient.KindCanceled, kind == awsclient.KindThrottled, kind == awsclient.KindAccessDenied:
		res.Outcome, res.Message = Failed, failure(err, op)
	case kind == awsclient.KindNotFound:
		res.Outcome, res.Message = Failed, notFound(res.Type, res.Region)
	case st.replicaOf != "" && isAPI:
		res.Outcome = Unsupported
		res.Message = fmt.Sprintf("read replica of %s; RDS refused %s: %s", st.replicaOf, op, awsclient.Message(err))
	case kind == awsclient.KindWrongState:
		res.Outcome = Failed
		res.Message = fmt.Sprintf("%s cannot be %s in its current state: %s", noun(res.Type), pastTense(r.action), apiMessage(err))
	case isAPI && apiErr.ErrorFault() != smithy.FaultServer:
		// RDS refuses some resources outright (engines and configurations
		// that cannot be stopped): the config must change, not a retry.
		res.Outcome, res.Message = Unsupported, "RDS refused "+op+": "+awsclient.Message(err)
	default:
		res.Outcome, res.Message = Failed, failure(err, op)
	}
	return res
}

// apiMessage is the AWS error's own message, or the error.
func apiMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorMessage() != "" {
		return apiErr.ErrorMessage()
	}
	return awsclient.Message(err)
}

// rdsWait polls until each changed resource reached the target status. A
// start that ends stopped again (two polls in a row), or with its
// encryption key inaccessible, failed.
func (r *runner) rdsWait(ctx context.Context, c rdsAPI, t Type, changed []Result) {
	want := target(t, r.action)
	pending := map[string]*Result{}
	for i := range changed {
		pending[strings.ToLower(changed[i].ID)] = &changed[i]
	}
	wctx, cancel := context.WithTimeout(ctx, r.opts.WaitTimeout)
	defer cancel()
	fellBack := map[string]int{}
	for len(pending) > 0 && sleep(wctx, r.opts.PollInterval) {
		var ids []string
		for _, res := range pending {
			ids = append(ids, res.ID)
		}
		states, err := r.describeRDS(wctx, c, t, ids)
		if err != nil {
			continue
		}
		for k, res := range pending {
			st, ok := states[k]
			if !ok {
				continue
			}
			res.After = st.status
			switch {
			case st.status == want:
				res.Message = "reached " + want
			case strings.HasPrefix(st.status, "inaccessible-encryption-credentials"):
				res.Outcome = Failed
				res.Message = noun(t) + " is " + st.status + " (check the KMS key its storage is encrypted with)"
			case r.action == Start && st.status == "stopped":
				// Once could be the describe lagging behind the start.
				if fellBack[k]++; fellBack[k] < 2 {
					continue
				}
				res.Outcome = Failed
				res.Message = "started, then fell back to stopped"
			default:
				fellBack[k] = 0
				continue
			}
			r.set(*res)
			delete(pending, k)
		}
	}
	why := fmt.Sprintf("did not reach %s within %s", want, r.opts.WaitTimeout)
	if ctx.Err() != nil {
		why = "did not reach " + want + " before deadline"
	}
	for _, res := range pending {
		res.Outcome = Failed
		res.Message = fmt.Sprintf("%s (last seen %s)", why, state(res.After))
		r.set(*res)
	}
}
