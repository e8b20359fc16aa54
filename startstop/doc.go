// Package startstop starts and stops the EC2 instances, RDS DB instances and
// Aurora DB clusters listed under keys of an aws_resource_start_stop.yml,
// the config file of the original Python toolkit, unchanged.
//
// One call, Run, does a whole request: it plans (an unknown key fails
// before anything is touched), describes each resource first, acts only on
// those not already in or moving to the wanted state, batches EC2 calls,
// runs RDS calls with bounded parallelism, and returns a Report with one
// Result per resource. A bad id costs only itself, a DB instance that is a
// member of an Aurora cluster is reported as unsupported instead of
// aborting the run, and when the role may not describe EC2 instances (the
// original's IAM policy) the instances are started or stopped anyway.
package startstop
