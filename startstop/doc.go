// Package startstop starts and stops the resources listed under keys of an
// aws_resource_start_stop.yml, the config file of the original Python
// toolkit, unchanged, or reports their state (Status). What each resource
// type means, from its YAML name to its IAM actions and its worker, is one
// entry of the registry (registry.go).
//
// One call, Run, does a whole request: it plans (an unknown key fails
// before anything is touched), starts or stops EC2 instances in batches of
// 200 whose answer (each instance's state before and after) is the report,
// describes a batch only when the API refuses it (an instance pending,
// stopping, terminated or missing) and then acts only on the instances
// that can, describes the other types (RDS, Auto Scaling groups, ECS
// services, Redshift clusters) first and acts with bounded parallelism on
// those not already in or moving to the wanted state, and
// returns a Report with one Result per resource. A bad id costs only
// itself, and so does an instance the role may not touch (a refused batch
// is split until it is alone, and its reason decoded when STS lets the
// role decode it). A DB instance that is a member of an Aurora, Neptune or
// DocumentDB cluster, or an EC2 instance of an Auto Scaling group, is
// reported as unsupported instead of aborting the run (or being replaced
// by its group), and when the role may not describe EC2 instances (the
// original's IAM policy) the instances are started or stopped anyway.
package startstop
