package startstop

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/awsutils/awsutils/awsclient"
)

// lane is where a call goes: AWS limits request rates per account, region
// and service, so each lane has a concurrency bound of its own
// (docs/NOTES.md: other accounts and regions).
type lane struct {
	service, account, region string
}

type laneKey struct{}

// withLane makes the calls made under ctx count against account's and
// region's bounds.
func withLane(ctx context.Context, account, region string) context.Context {
	return context.WithValue(ctx, laneKey{}, lane{account: account, region: region})
}

// bound is the semaphore of svc in ctx's lane.
func (r *runner) bound(svc string, ctx context.Context) chan struct{} {
	l, _ := ctx.Value(laneKey{}).(lane)
	l.service = svc
	r.semMu.Lock()
	defer r.semMu.Unlock()
	sem, ok := r.sem[l]
	if !ok {
		n := r.opts.Concurrency
		if s, _ := serviceOf(svc); s.Limit > 0 {
			n = min(n, s.Limit)
		}
		sem = make(chan struct{}, n)
		r.sem[l] = sem
	}
	return sem
}

// roleKey names one set of assumed-role credentials.
type roleKey struct{ role, externalID string }

// assumed is a role's credentials for the run, or why it could not be
// assumed.
type assumed struct {
	creds *aws.CredentialsCache
	err   error
}

// assumeRoles assumes each role the plan names once, all at the same time,
// so that a role that cannot be assumed is known before anything is
// touched. The credentials are cached for the run and refreshed by the
// cache when the run outlives them.
func (r *runner) assumeRoles(ctx context.Context, plan *Plan) {
	keys := map[roleKey]bool{}
	for _, b := range plan.Batches {
		if b.Role != "" {
			keys[roleKey{b.Role, b.ExternalID}] = true
		}
	}
	for _, s := range plan.Selectors {
		if s.Role != "" {
			keys[roleKey{s.Role, s.ExternalID}] = true
		}
	}
	for k := range r.roles {
		delete(keys, k) // assumed already
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			p := stscreds.NewAssumeRoleProvider(r.assumeAPI(), k.role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "awsutils"
				if k.externalID != "" {
					o.ExternalID = aws.String(k.externalID)
				}
			})
			a := &assumed{creds: aws.NewCredentialsCache(p)}
			err := r.call(withLane(ctx, "", r.cfg.Region), "sts", func() error {
				_, err := a.creds.Retrieve(ctx)
				return err
			})
			if err != nil {
				a.err = fmt.Errorf("AssumeRole %s: %s", k.role, failure(err, "AssumeRole"))
			}
			mu.Lock()
			r.roles[k] = a
			mu.Unlock()
		})
	}
	wg.Wait()
}

// assumeAPI is the STS client roles are assumed with (a fake in unit
// tests).
func (r *runner) assumeAPI() stscreds.AssumeRoleAPIClient {
	if r.stsAPI != nil {
		return r.stsAPI
	}
	return awsclient.STS(r.cfg)
}

// configFor is the AWS config for calls in region through role ("": the
// caller's own credentials), or why role could not be assumed.
func (r *runner) configFor(role, externalID, region string) (aws.Config, error) {
	cfg := awsclient.WithRegion(r.cfg, region)
	if role == "" {
		return cfg, nil
	}
	a := r.roles[roleKey{role, externalID}]
	if a == nil {
		return cfg, fmt.Errorf("AssumeRole %s: not assumed", role)
	}
	if a.err != nil {
		return cfg, a.err
	}
	cfg.Credentials = a.creds
	return cfg, nil
}
