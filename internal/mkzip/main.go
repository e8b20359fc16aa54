// Command mkzip writes a reproducible Lambda deployment zip (see
// internal/packaging): bootstrap first with mode 0755, config files with mode
// 0644, every entry dated 1980-01-01, so the same inputs give the same bytes.
//
//	go run ./internal/mkzip -o dist/startstop-arm64.zip bootstrap=build/bootstrap aws_resource_start_stop.yml=my.yml
//
// An argument without "=" is stored under its base name.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/awsutils/awsutils/internal/packaging"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("mkzip", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("o", "", "the zip to write (required)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkzip -o OUT.zip NAME=PATH|PATH ...")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	var files []packaging.File
	for _, a := range fl.Args() {
		name, p, ok := strings.Cut(a, "=")
		if !ok {
			name, p = filepath.Base(a), a
		}
		files = append(files, packaging.File{Name: name, Path: p})
	}
	if err := packaging.WriteFile(*out, files); err != nil {
		fmt.Fprintf(stderr, "mkzip: writing %s: %v\n", *out, err)
		return 1
	}
	return 0
}
