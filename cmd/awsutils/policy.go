package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/awsutils/awsutils/internal/iam"
	"github.com/awsutils/awsutils/s3upload"
	"github.com/awsutils/awsutils/startstop"
)

func policyCommand() command {
	return command{name: "policy", summary: "print the least-privilege IAM policy for a config file or an upload destination", run: runPolicy}
}

const policyUsage = `usage: awsutils policy --config aws_resource_start_stop.yml [flags]
       awsutils policy --upload s3://BUCKET[/PREFIX] [--plans s3://BUCKET/MANIFEST-PREFIX/] [flags]
       awsutils policy --config FILE --member-account HUB_ROLE_ARN

Prints an IAM policy that allows exactly what awsutils needs: start/stop only
on the ARNs the config lists (plus the describe calls, which need "*"), or
uploads only into the given bucket and prefix; --plans adds reading and
writing the plans of planned batches there (upload --plan, --batch,
--summary). Both --config and --upload together print one policy for both
jobs. Tag selectors get start/stop on resources with those tags only; groups
with role_arn get sts:AssumeRole on exactly those roles. With
--member-account, prints for each role_arn of the config the policy that
role needs in its account and a trust policy trusting exactly HUB_ROLE_ARN
(the role awsutils runs as), by role ARN.

flags:
`

func runPolicy(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "awsutils policy"
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	config := fs.String("config", "", "start/stop config file whose resources the policy allows")
	upload := fs.String("upload", "", "upload destination s3://BUCKET[/PREFIX] the policy allows")
	plans := fs.String("plans", "", "where planned batches live, s3://BUCKET/MANIFEST-PREFIX/ (upload --plan's)")
	kmsKey := fs.String("sse-kms-key-id", "", "ARN of the KMS key uploads are encrypted with, if any")
	partition := fs.String("partition", "aws", "ARN partition: aws, aws-cn or aws-us-gov")
	account := fs.String("account-id", "", "account id to put in ARNs (default any: *)")
	function := fs.String("function-name", "", "Lambda function name: adds writing to its own log group")
	member := fs.String("member-account", "", "hub role ARN: print the member roles' policies and trust policies instead")
	if code, done := parseArgs(fs, args, stdout, stderr, text(policyUsage)); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q; run `%s --help`\n", name, fs.Arg(0), name)
		return exitUsage
	}
	if *member != "" {
		return memberPolicies(name, *config, *upload, *member, *partition, stdout, stderr)
	}
	if *config == "" && *upload == "" {
		fmt.Fprintf(stderr, "%s: give --config FILE and/or --upload s3://BUCKET[/PREFIX]\n", name)
		return exitUsage
	}
	doc := iam.New()
	acct := firstOf(*account, "*")
	if *config != "" {
		conf, err := startstop.Load(*config)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitUsage
		}
		doc.Merge(startstop.Policy(conf, startstop.PolicyOptions{Partition: *partition, AccountID: *account}))
	}
	if *upload != "" {
		bucket, prefix, err := parseS3URL(*upload)
		if err != nil {
			fmt.Fprintf(stderr, "%s: --upload: %v\n", name, err)
			return exitUsage
		}
		doc.Merge(s3upload.Policy(*partition, bucket, prefix, *kmsKey))
	}
	if *plans != "" {
		bucket, prefix, err := s3upload.ParseS3URL(*plans)
		if err != nil {
			fmt.Fprintf(stderr, "%s: --plans %s: %v\n", name, *plans, err)
			return exitUsage
		}
		doc.Merge(s3upload.PlanPolicy(*partition, bucket, prefix))
	}
	if *function != "" {
		doc.Merge(iam.LambdaLogs(*partition, acct, *function))
	}
	b, err := doc.JSON()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailed
	}
	_, _ = stdout.Write(b)
	return exitOK
}

// memberPolicies prints what each member account's role needs.
func memberPolicies(name, config, upload, hub, partition string, stdout, stderr io.Writer) int {
	switch {
	case config == "":
		fmt.Fprintf(stderr, "%s: --member-account needs --config FILE\n", name)
		return exitUsage
	case upload != "":
		fmt.Fprintf(stderr, "%s: --member-account and --upload: uploads run in one account; give one of them\n", name)
		return exitUsage
	case !startstop.IsRoleARN(hub):
		fmt.Fprintf(stderr, "%s: --member-account %q: want the hub role's ARN, arn:aws:iam::123456789012:role/NAME\n", name, hub)
		return exitUsage
	}
	conf, err := startstop.Load(config)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	members := startstop.MemberPolicies(conf, startstop.PolicyOptions{Partition: partition}, hub)
	if len(members) == 0 {
		fmt.Fprintf(stderr, "%s: --member-account: no group of %s names role_arn\n", name, config)
		return exitUsage
	}
	b, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailed
	}
	_, _ = stdout.Write(append(b, '\n'))
	return exitOK
}
