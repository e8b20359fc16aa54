package testbed

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

// Mixed is a config key, "mixed", that lists resources of every start/stop
// type in moto: two EC2 instances in a group with hibernate: true, the
// second of which cannot hibernate (see HibernationRefusal), an instance
// of an Auto Scaling group (refused), a PostgreSQL DB instance, a Neptune
// cluster and, as a DB instance, its member (refused).
type Mixed struct {
	Instances   []string // the two hibernating instances
	NoHibernate string   // Instances[1]
	Member      string   // the Auto Scaling group web's instance
	DB          string   // pg-mixed
	Cluster     string   // graph-mixed, Neptune
	ClusterDB   string   // graph-mixed-a, its member
	Config      string   // the config file's content
}

// StartMixed creates the resources of Mixed in a moto account of their own,
// behind a proxy that refuses to hibernate x.NoHibernate
// (HibernationRefusal): the client environment of p reaches them.
func StartMixed(t testing.TB) (m *Moto, x *Mixed, p *FaultProxy) {
	t.Helper()
	m = StartMotoAccount(t)
	x = CreateMixed(t, m)
	p = StartFaultProxy(t, m.Endpoint, Faults{})
	p.Refuse(HibernationRefusal(x.NoHibernate))
	return m, x, p
}

// CreateMixed creates the resources of Mixed in m.
func CreateMixed(t testing.TB, m *Moto) *Mixed {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	x := &Mixed{Instances: RunInstances(t, ec2c, 2), DB: "pg-mixed", Cluster: "graph-mixed", ClusterDB: "graph-mixed-a"}
	x.NoHibernate = x.Instances[1]
	x.Member = m.ScalingClients(t).CreateAutoScalingGroup(t, "web", 1, 1, 1)[0]
	CreateDBInstance(t, rdsc, x.DB)
	m.CreateNeptuneCluster(t, x.Cluster, x.ClusterDB)
	x.Config = fmt.Sprintf(`region_name: %s
mixed:
  - type: ec2.instance
    hibernate: true
    ids: [%s, %s]
  - type: ec2.instance
    ids: [%s]
  - type: rds.db_instance
    ids: [%s, %s]
  - type: rds.db_cluster
    ids: [%s]
`, Region, x.Instances[0], x.Instances[1], x.Member, x.DB, x.ClusterDB, x.Cluster)
	return x
}

// HibernationRefusal answers a hibernating StopInstances that names id as
// EC2 does for an instance not configured for hibernation (moto ignores
// Hibernate): UnsupportedHibernationConfiguration, naming no instance.
func HibernationRefusal(id string) Refusal {
	return Refusal{
		Ops: []string{"StopInstances"},
		Match: func(form url.Values) bool {
			return form.Get("Hibernate") == "true" && slices.Contains(ResourceIDs(form), id)
		},
		Code:    "UnsupportedHibernationConfiguration",
		Message: "For hibernation, the instance must be configured for hibernation. Check the requirements.",
	}
}

// State is moto's state of every resource of x, for comparing before and
// after.
func (x *Mixed) State(t testing.TB, m *Moto) map[string]string {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	s := InstanceStates(t, ec2c, append(slices.Clone(x.Instances), x.Member)...)
	s[x.DB] = DBInstanceStatus(t, rdsc, x.DB)
	s[x.ClusterDB] = DBInstanceStatus(t, rdsc, x.ClusterDB)
	s[x.Cluster] = DBClusterStatus(t, rdsc, x.Cluster)
	return s
}
