// Package awsclient is the one place where awsutils builds AWS configuration
// and service clients, so that both jobs resolve regions, credentials,
// endpoints and retries the same way.
//
// Endpoints follow the SDK's standard settings (AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_RDS, or
// endpoint_url in the shared config file), so one binary talks to AWS or to a
// local emulator. Options.Endpoint and Options.Endpoints name endpoints in
// code instead and win over those settings, so that a program (a test, the
// benchmarks) can reach several servers at once without touching the process
// environment. S3 switches to path-style addressing whenever a custom
// endpoint is set, because virtual-host names such as bucket.127.0.0.1 do not
// resolve.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// DefaultMaxAttempts is high enough that a burst of throttling
// (RequestLimitExceeded, Throttling, SlowDown) is absorbed by backoff instead
// of failing a resource or a file; the SDK's default of 3 is not.
const DefaultMaxAttempts = 10

// Options say how to reach AWS. The zero value means: region and credentials
// from the environment and the default credential chain.
type Options struct {
	// Region, typically region_name from a job's YAML. Empty means the
	// environment (AWS_REGION, AWS_DEFAULT_REGION, profile).
	Region string
	// Profile names a profile of the shared config and credentials files,
	// as the AWS CLI's --profile does; it wins over AWS_PROFILE. Empty
	// means AWS_PROFILE, else the default profile.
	Profile string
	// Static keys from a job's YAML. Both empty means the default chain.
	AccessKeyID     string
	SecretAccessKey string
	// MaxAttempts per API call including the first; 0 means AWS_MAX_ATTEMPTS
	// from the environment or DefaultMaxAttempts.
	MaxAttempts int
	// MaxConnsPerHost bounds the HTTP connections per endpoint, open and
	// kept idle; it must be at least the concurrency of the caller, whose
	// requests beyond it wait for a connection. 0 keeps 64 idle and bounds
	// none: start/stop runs many accounts and regions at once against
	// one endpoint.
	MaxConnsPerHost int
	// Endpoint is the base URL of every service, e.g. a local emulator's
	// http://127.0.0.1:4566. It wins over AWS_ENDPOINT_URL,
	// AWS_ENDPOINT_URL_<SERVICE> and endpoint_url in the shared config;
	// empty leaves those in charge.
	Endpoint string
	// Endpoints are base URLs for single services, keyed by the service id
	// of AWS_ENDPOINT_URL_<SERVICE> in lower case ("s3", "ec2", "rds",
	// "sts", "ecs", "redshift"; Auto Scaling's is "autoscaling"); an entry
	// wins over Endpoint and over the same settings.
	Endpoints map[string]string
}

// services are the service ids Options.Endpoints may name: those awsclient
// builds clients for.
var services = []string{"autoscaling", "ec2", "ecs", "rds", "redshift", "s3", "sqs", "sts"}

// endpoints carries Options.Endpoint and Options.Endpoints from Load to the
// client constructors inside aws.Config.ConfigSources, which the SDK keeps
// for "additional configuration to be loaded by clients"; the SDK's own
// resolution ignores a source of this type.
type endpoints struct {
	all string
	by  map[string]string
}

// endpointFor is the endpoint Load was given for service, if any.
func endpointFor(cfg aws.Config, service string) *string {
	for _, src := range cfg.ConfigSources {
		if e, ok := src.(endpoints); ok {
			if v := e.by[service]; v != "" {
				return aws.String(v)
			}
			if e.all != "" {
				return aws.String(e.all)
			}
		}
	}
	return nil
}

// ErrNoRegion is returned when no region is configured anywhere.
var ErrNoRegion = errors.New("no AWS region: set region_name in the config file, --region, or AWS_REGION")

// Load resolves an aws.Config from opts and the environment.
func Load(ctx context.Context, opts Options) (aws.Config, error) {
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		// Never include either value: one of them is a secret.
		return aws.Config{}, errors.New("access_key_id and secret_access_key must be given together")
	}
	byService := map[string]string{}
	for k, v := range opts.Endpoints {
		k = strings.ToLower(k)
		if !slices.Contains(services, k) {
			return aws.Config{}, fmt.Errorf("endpoint for unknown service %q: want one of %s", k, strings.Join(services, ", "))
		}
		if v != "" {
			byService[k] = v
		}
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
		if v, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && v > 0 {
			attempts = v
		}
	}
	conns, bounded := opts.MaxConnsPerHost, opts.MaxConnsPerHost > 0
	if !bounded {
		conns = 64
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithAppID("awsutils"),
		config.WithHTTPClient(httpClient(conns, bounded)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 20 * time.Second
				// The client-side retry quota (500 tokens) runs dry under
				// sustained throttling and then fails calls that backoff
				// would have carried through; the server's throttling is
				// the rate limit that matters.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" {
		loaders = append(loaders, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		// The SDK's "failed to get shared config profile, x" does not say
		// where it looked, which is what the user has to check.
		files := []string{config.DefaultSharedConfigFilename(), config.DefaultSharedCredentialsFilename()}
		for i, env := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
			if v := os.Getenv(env); v != "" {
				files[i] = v
			}
		}
		return aws.Config{}, fmt.Errorf("profile %q not found in %s or %s", missing.Profile, files[0], files[1])
	}
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	if opts.Endpoint != "" || len(byService) > 0 {
		cfg.ConfigSources = append(cfg.ConfigSources, endpoints{all: opts.Endpoint, by: byService})
	}
	if opts.Endpoint != "" {
		// Also where the SDK keeps AWS_ENDPOINT_URL, so that a client
		// built without this package's constructors still leaves AWS.
		cfg.BaseEndpoint = aws.String(opts.Endpoint)
	}
	return cfg, nil
}

func httpClient(conns int, bounded bool) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = conns * 2
		t.MaxIdleConnsPerHost = conns
		if bounded {
			// A request that finds no idle connection waits for one
			// rather than dialing: a connection is back in the pool only
			// a moment after its response was read, and the next
			// request, started at once, would otherwise open another,
			// which then closes above MaxIdleConnsPerHost (churn).
			t.MaxConnsPerHost = conns
		}
		t.IdleConnTimeout = 90 * time.Second
		// A small PUT's headers and in-memory body then leave in one
		// write: with net/http's 4 KiB default a 4 KiB file takes two
		// writes, and the server two reads (docs/NOTES.md).
		t.WriteBufferSize = 16 << 10
	}).WithDialerOptions(func(d *net.Dialer) {
		d.KeepAlive = 30 * time.Second
	})
}

// The constructors set an endpoint given to Load after the SDK resolved its
// own (environment, shared config), which is what makes it win.

// EC2 returns an EC2 client for cfg.
func EC2(cfg aws.Config) *ec2.Client {
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		if e := endpointFor(cfg, "ec2"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// AutoScaling returns an Auto Scaling client for cfg.
func AutoScaling(cfg aws.Config) *autoscaling.Client {
	return autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) {
		if e := endpointFor(cfg, "autoscaling"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// RDS returns an RDS client for cfg.
func RDS(cfg aws.Config) *rds.Client {
	return rds.NewFromConfig(cfg, func(o *rds.Options) {
		if e := endpointFor(cfg, "rds"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// ECS returns an ECS client for cfg.
func ECS(cfg aws.Config) *ecs.Client {
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) {
		if e := endpointFor(cfg, "ecs"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// Redshift returns a Redshift client for cfg.
func Redshift(cfg aws.Config) *redshift.Client {
	return redshift.NewFromConfig(cfg, func(o *redshift.Options) {
		if e := endpointFor(cfg, "redshift"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// SQS returns an SQS client for cfg.
func SQS(cfg aws.Config) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if e := endpointFor(cfg, "sqs"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// STS returns an STS client for cfg.
func STS(cfg aws.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if e := endpointFor(cfg, "sts"); e != nil {
			o.BaseEndpoint = e
		}
	})
}

// S3 returns an S3 client for cfg, path-style when a custom endpoint is set.
func S3(cfg aws.Config, optFns ...func(*s3.Options)) *s3.Client {
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		if e := endpointFor(cfg, "s3"); e != nil {
			o.BaseEndpoint = e
		}
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			o.UsePathStyle = true
		}
	}}, optFns...)
	return s3.NewFromConfig(cfg, fns...)
}

// WithRegion returns a copy of cfg for another region, keeping credentials,
// endpoints and retry settings.
func WithRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	if region != "" {
		c.Region = region
	}
	return c
}
