// Command aslcheck runs asl-validator (installed by scripts/tools.sh) on the
// upload state machine's definition as deploy/template.yaml deploys it; `make
// asl`, part of `make test`'s lint step, runs it from the module root.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/awsutils/awsutils/internal/statemachine"
)

// sampleFunction stands for the function's ARN, which only CloudFormation
// knows; asl-validator checks Resource ARNs, not parameters, but a real
// shape keeps the definition what Step Functions would see.
const sampleFunction = "arn:aws:lambda:us-east-1:123456789012:function:awsutils-s3upload"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aslcheck:", err)
		os.Exit(1)
	}
}

func run() error {
	tmpl, err := os.ReadFile(statemachine.TemplateFile)
	if err != nil {
		return fmt.Errorf("%w (run from the module root, as make does)", err)
	}
	def, err := statemachine.Definition(tmpl, map[string]string{"UploadFunctionArn": sampleFunction})
	if err != nil {
		return err
	}
	validator, err := filepath.Abs(".bin/asl-validator")
	if err != nil {
		return err
	}
	if _, err := os.Stat(validator); err != nil {
		return fmt.Errorf("%s is not installed; run `make tools`", validator)
	}
	dir, err := os.MkdirTemp("", "aslcheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, statemachine.Resource+".asl.json")
	if err := os.WriteFile(path, def, 0o644); err != nil {
		return err
	}
	cmd := exec.Command(validator, "--json-path", path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("asl-validator: %s of %s is invalid (%v)", statemachine.Resource, statemachine.TemplateFile, err)
	}
	return nil
}
