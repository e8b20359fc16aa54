package startstop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
)

// rdsIDs is the syntax of an RDS identifier. RDS stores it lower case
// but accepts any case; awsutils has never refused one, RDS says what is
// wrong with it.
const rdsIDs = "the identifier: a letter, then up to 62 letters, digits or hyphens"

var dbInstanceKind = kind{
	Type:         DBInstance,
	Noun:         "DB instance",
	Sid:          "DBInstances",
	IDs:          rdsIDs,
	CheckID:      anyID,
	ARN:          "arn:{partition}:rds:{region}:{account}:db:{id}",
	Service:      "rds",
	Start:        call{"StartDBInstance", []string{"rds:StartDBInstance"}},
	Stop:         call{"StopDBInstance", []string{"rds:StopDBInstance"}},
	Describe:     call{"DescribeDBInstances", []string{"rds:DescribeDBInstances"}},
	Target:       map[Action]string{Start: "available", Stop: "stopped"},
	Chunk:        rdsChunk,
	NotFound:     " (an Aurora, Neptune or DocumentDB cluster goes under " + string(DBCluster) + ")",
	Select:       dbInstanceSelect,
	TagCondition: "rds:db-tag/{key}",
	Doc: doc{
		Start: "`StartDBInstance`",
		Stop:  "`StopDBInstance` (AWS starts it again after 7 days); a member of an Aurora, Neptune or DocumentDB cluster is refused (`unsupported`): list the cluster",
	},
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return &dbInstanceWorker{rdsWorker{r: r, c: awsclient.RDS(cfg), k: k}}
	},
}

var dbClusterKind = kind{
	Type:         DBCluster,
	Noun:         "DB cluster",
	Sid:          "DBClusters",
	IDs:          rdsIDs,
	CheckID:      anyID,
	ARN:          "arn:{partition}:rds:{region}:{account}:cluster:{id}",
	Service:      "rds",
	Start:        call{"StartDBCluster", []string{"rds:StartDBCluster"}},
	Stop:         call{"StopDBCluster", []string{"rds:StopDBCluster"}},
	Describe:     call{"DescribeDBClusters", []string{"rds:DescribeDBClusters"}},
	Target:       map[Action]string{Start: "available", Stop: "stopped"},
	Chunk:        rdsChunk,
	NotFound:     " (a DB instance goes under " + string(DBInstance) + ")",
	Select:       dbClusterSelect,
	TagCondition: "rds:cluster-tag/{key}",
	Doc: doc{
		Start: "`StartDBCluster`: Aurora, Neptune and DocumentDB (the same RDS API)",
		Stop:  "`StopDBCluster`, its instances with it (AWS starts it again after 7 days)",
	},
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return &dbClusterWorker{rdsWorker{r: r, c: awsclient.RDS(cfg), k: k}}
	},
}

// rdsChunk is the most identifiers per describe filter.
const rdsChunk = 100

// rdsAPI is the part of the RDS client the workers use.
type rdsAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	StartDBInstance(context.Context, *rds.StartDBInstanceInput, ...func(*rds.Options)) (*rds.StartDBInstanceOutput, error)
	StopDBInstance(context.Context, *rds.StopDBInstanceInput, ...func(*rds.Options)) (*rds.StopDBInstanceOutput, error)
	StartDBCluster(context.Context, *rds.StartDBClusterInput, ...func(*rds.Options)) (*rds.StartDBClusterOutput, error)
	StopDBCluster(context.Context, *rds.StopDBClusterInput, ...func(*rds.Options)) (*rds.StopDBClusterOutput, error)
}

// rdsWorker is what the DB instance and DB cluster workers share: the
// client, the answer to a refused start or stop, and the wait.
type rdsWorker struct {
	r *runner
	c rdsAPI
	k *kind
}

// dbInstanceWorker starts and stops DB instances.
type dbInstanceWorker struct{ rdsWorker }

// dbClusterWorker starts and stops DB clusters.
type dbClusterWorker struct{ rdsWorker }

// replicaOf is a DB instance's source, if it is a read replica.
type replicaOf string

// listed maps RDS's lower-case identifiers back to ids as listed: RDS
// identifiers are case-insensitive and stored lower case.
func listed(ids []string) map[string][]string {
	m := map[string][]string{}
	for _, id := range ids {
		m[strings.ToLower(id)] = append(m[strings.ToLower(id)], id)
	}
	return m
}

// describe describes ids by filter, so ids that do not exist are absent
// instead of failing the call.
func (w *dbInstanceWorker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	as := listed(ids)
	states := map[string]resState{}
	in := &rds.DescribeDBInstancesInput{
		Filters:    []rdstypes.Filter{{Name: aws.String("db-instance-id"), Values: ids}},
		MaxRecords: aws.Int32(100),
	}
	for {
		var out *rds.DescribeDBInstancesOutput
		err := w.r.call(ctx, "rds", func() (err error) {
			out, err = w.c.DescribeDBInstances(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, db := range out.DBInstances {
			st := resState{Name: aws.ToString(db.DBInstanceStatus), extra: replicaOf(aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier))}
			if cl := aws.ToString(db.DBClusterIdentifier); cl != "" {
				st.Unsupported = fmt.Sprintf("member of cluster %s; list the cluster under %s", cl, DBCluster)
			}
			for _, id := range as[strings.ToLower(aws.ToString(db.DBInstanceIdentifier))] {
				states[id] = st
			}
		}
		if aws.ToString(out.Marker) == "" {
			return states, nil
		}
		in.Marker = out.Marker
	}
}

// describe describes ids by filter, as for DB instances.
func (w *dbClusterWorker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	as := listed(ids)
	states := map[string]resState{}
	in := &rds.DescribeDBClustersInput{
		Filters:    []rdstypes.Filter{{Name: aws.String("db-cluster-id"), Values: ids}},
		MaxRecords: aws.Int32(100),
	}
	for {
		var out *rds.DescribeDBClustersOutput
		err := w.r.call(ctx, "rds", func() (err error) {
			out, err = w.c.DescribeDBClusters(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cl := range out.DBClusters {
			for _, id := range as[strings.ToLower(aws.ToString(cl.DBClusterIdentifier))] {
				states[id] = resState{Name: aws.ToString(cl.Status)}
			}
		}
		if aws.ToString(out.Marker) == "" {
			return states, nil
		}
		in.Marker = out.Marker
	}
}

func (w *dbInstanceWorker) decide(a Action, st resState) (bool, Outcome, string) {
	return decideRDS(w.k, a, st.Name)
}

// decide also starts a cluster whose KMS key became usable again: RDS
// starts such a cluster to recover it.
func (w *dbClusterWorker) decide(a Action, st resState) (bool, Outcome, string) {
	if a == Start && st.Name == "inaccessible-encryption-credentials-recoverable" {
		return true, "", ""
	}
	return decideRDS(w.k, a, st.Name)
}

// decideRDS says whether to call start/stop for a DB instance or cluster
// with status st, and if not, its outcome.
func decideRDS(k *kind, a Action, st string) (act bool, o Outcome, msg string) {
	switch {
	case a == Start && st == "stopped", a == Stop && st == "available":
		return true, "", ""
	case a == Start && st == "available", a == Stop && st == "stopped":
		return false, Unchanged, "already " + st
	case a == Start && st == "starting", a == Stop && st == "stopping":
		return false, Unchanged, "already " + st
	}
	return false, Failed, fmt.Sprintf("%s is %s; can be %s only when %s", k.Noun, st, pastTense(a), map[Action]string{Start: "stopped", Stop: "available"}[a])
}

func (w *dbInstanceWorker) act(ctx context.Context, res Result, st resState) Result {
	id := aws.String(res.ID)
	return w.answer(ctx, res, st, func() (after string, err error) {
		if w.r.action == Start {
			out, err := w.c.StartDBInstance(ctx, &rds.StartDBInstanceInput{DBInstanceIdentifier: id})
			if err == nil && out.DBInstance != nil {
				after = aws.ToString(out.DBInstance.DBInstanceStatus)
			}
			return after, err
		}
		out, err := w.c.StopDBInstance(ctx, &rds.StopDBInstanceInput{DBInstanceIdentifier: id})
		if err == nil && out.DBInstance != nil {
			after = aws.ToString(out.DBInstance.DBInstanceStatus)
		}
		return after, err
	})
}

func (w *dbClusterWorker) act(ctx context.Context, res Result, st resState) Result {
	id := aws.String(res.ID)
	return w.answer(ctx, res, st, func() (after string, err error) {
		if w.r.action == Start {
			out, err := w.c.StartDBCluster(ctx, &rds.StartDBClusterInput{DBClusterIdentifier: id})
			if err == nil && out.DBCluster != nil {
				after = aws.ToString(out.DBCluster.Status)
			}
			return after, err
		}
		out, err := w.c.StopDBCluster(ctx, &rds.StopDBClusterInput{DBClusterIdentifier: id})
		if err == nil && out.DBCluster != nil {
			after = aws.ToString(out.DBCluster.Status)
		}
		return after, err
	})
}

// answer makes the start or stop call f within the RDS bound and turns its
// answer into res's outcome.
func (w *rdsWorker) answer(ctx context.Context, res Result, st resState, f func() (string, error)) Result {
	r := w.r
	op := w.k.op(r.action).Op
	var after string
	err := r.call(ctx, "rds", func() (err error) {
		after, err = f()
		return err
	})
	if err == nil {
		res.After, res.Outcome = after, Changed
		return res
	}
	res.After = res.Before
	kind := awsclient.Classify(err)
	var apiErr smithy.APIError
	isAPI := errors.As(err, &apiErr)
	source, _ := st.extra.(replicaOf)
	switch {
	case kind == awsclient.KindCanceled, kind == awsclient.KindThrottled, kind == awsclient.KindAccessDenied:
		res.Outcome, res.Message = Failed, failure(err, op)
	case kind == awsclient.KindNotFound:
		res.Outcome, res.Message = Failed, w.k.notFound(res.Region)
	case source != "" && isAPI:
		res.Outcome = Unsupported
		res.Message = fmt.Sprintf("read replica of %s; RDS refused %s: %s", source, op, awsclient.Message(err))
	case kind == awsclient.KindWrongState:
		res.Outcome = Failed
		res.Message = fmt.Sprintf("%s cannot be %s in its current state: %s", w.k.Noun, pastTense(r.action), apiMessage(err))
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

// settle fails a start that ends stopped again (twice in a row: once could
// be the describe lagging behind the start), or a resource whose
// encryption key became inaccessible.
func (w *rdsWorker) settle(a Action, st resState) (progress, string) {
	switch {
	case st.Name == w.k.Target[a]:
		return reached, ""
	case strings.HasPrefix(st.Name, "inaccessible-encryption-credentials"):
		return broke, w.k.Noun + " is " + st.Name + " (check the KMS key its storage is encrypted with)"
	case a == Start && st.Name == "stopped":
		return fellBack, "started, then fell back to stopped"
	}
	return moving, ""
}
