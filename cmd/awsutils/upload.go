package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/s3upload"
)

func uploadCommand() command {
	return command{name: "upload", summary: "upload a folder tree to S3, optionally removing verified sources", run: runUpload}
}

const uploadUsage = `usage: awsutils upload [flags] SRC_DIR s3://BUCKET[/PREFIX]
       awsutils upload --plan s3://BUCKET/MANIFEST-PREFIX/ [flags] SRC_DIR s3://BUCKET[/PREFIX]
       awsutils upload --batch s3://BUCKET/.../manifest.json#K [flags] SRC_DIR s3://BUCKET[/PREFIX]
       awsutils upload --summary s3://BUCKET/.../manifest.json

Uploads every file under SRC_DIR to s3://BUCKET/PREFIX/<path relative to
SRC_DIR>, checking each object's CRC32. With --remove-src a file is deleted
only after its object is verified in S3 and only if it did not change
meanwhile.

Globs (--include/--exclude, repeatable) match the path relative to SRC_DIR:
a pattern with "/" matches the whole path ("logs/**/*.gz"), one without
matches a file or folder name at any depth ("*.tmp"); "**" crosses folders.

--shard K/N uploads only the files whose path hashes to shard K of N (K
from 0); N processes, one per K, upload every file exactly once.
--shard auto/N takes K from AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX.

--plan walks SRC_DIR once and writes batches to S3, uploading nothing; it
prints the manifest's URL. --batch uploads one planned batch (with SRC_DIR
and destination as planned); --summary adds up the batches' reports.

Exit status: 0 all done, 1 some file failed or was left by an interrupt, 2 usage or config error.

flags:
`

// parseS3URL splits s3://bucket/prefix.
func parseS3URL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("destination %q: want s3://BUCKET[/PREFIX]", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("destination %q: no bucket", s)
	}
	return bucket, prefix, nil
}

func runUpload(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("upload", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, uploadUsage)
		printFlags(stderr, fs)
	}
	var (
		opts     s3upload.Options
		cfgPath  = fs.String("config", "", "config file (region_name, access keys); default ./"+s3upload.ConfigFile+" if present")
		profile  = profileFlag(fs)
		output   = fs.String("output", "text", "report format: text or json")
		quiet    = fs.Bool("quiet", false, "no progress bar; text report lists only files that did not upload cleanly")
		partSize = fs.String("part-size", "8MiB", "multipart part size (e.g. 16MiB); grown to stay within 10,000 parts")
		mpThresh = fs.String("multipart-threshold", "100MiB", "files this large or larger go up in parts (5MiB to 5GiB)")
	)
	fs.BoolVar(&opts.RemoveSrc, "remove-src", false, "delete each source file once its object is verified and if it did not change")
	fs.IntVar(&opts.Concurrency, "concurrency", 0, "files in flight; 0 follows the path (grows with the round trip, backs off on throttling)")
	fs.StringArrayVar(&opts.Include, "include", nil, "upload only files matching this glob (repeatable)")
	fs.StringArrayVar(&opts.Exclude, "exclude", nil, "leave out files and folders matching this glob (repeatable)")
	fs.BoolVar(&opts.SkipUnchanged, "skip-unchanged", false, "do not upload a file whose object has the same size and CRC32")
	fs.BoolVar(&opts.PruneEmptyDirs, "prune-empty-dirs", false, "with --remove-src: remove folders emptied by the run (never SRC_DIR)")
	fs.BoolVar(&opts.FollowSymlinks, "follow-symlinks", false, "upload what symlinks point to (inside SRC_DIR only); removal deletes the link")
	fs.StringVar(&opts.StorageClass, "storage-class", "", "storage class, e.g. STANDARD_IA, INTELLIGENT_TIERING")
	fs.StringVar(&opts.SSE, "sse", "", "server-side encryption: AES256, aws:kms or aws:kms:dsse")
	fs.StringVar(&opts.SSEKMSKeyID, "sse-kms-key-id", "", "KMS key for SSE-KMS (implies --sse aws:kms)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "list what would be uploaded; upload and delete nothing")
	fs.BoolVar(&opts.NoMetadata, "no-metadata", false, "do not store the files' mtime, mode and owner as object metadata")
	var (
		shard      = fs.String("shard", "", "upload only shard K of N of the files (K/N, K from 0, or auto/N)")
		plan       = fs.String("plan", "", "write a plan of batches to this s3://BUCKET/PREFIX/ instead of uploading")
		batch      = fs.String("batch", "", "upload batch K of a plan: s3://BUCKET/.../manifest.json#K")
		summary    = fs.String("summary", "", "add up the reports of a plan's batches: s3://BUCKET/.../manifest.json")
		batchBytes = fs.String("batch-bytes", "16GiB", "with --plan: at most this many bytes per batch")
	)
	fs.IntVar(&opts.BatchFiles, "batch-files", s3upload.DefaultBatchFiles, "with --plan: at most this many files per batch")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "awsutils upload: %v; run `awsutils upload --help`\n", err)
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "awsutils upload: "+format+"\n", a...)
		return exitUsage
	}
	if *summary != "" {
		if fs.NArg() != 0 {
			return usageErr("--summary takes no SRC_DIR or destination")
		}
		return runSummary(ctx, *summary, *cfgPath, *profile, *output, stdout, stderr)
	}
	if fs.NArg() != 2 {
		return usageErr("want SRC_DIR and s3://BUCKET[/PREFIX]; run `awsutils upload --help`")
	}
	if *plan != "" && *batch != "" {
		return usageErr("--plan and --batch do not go together: plan first, then run the batches")
	}
	opts.ManifestPrefix = *plan
	if *shard != "" {
		sh, err := s3upload.ParseShard(*shard, os.Getenv)
		if err != nil {
			return usageErr("--shard %s", strings.TrimPrefix(err.Error(), s3upload.ErrInvalid.Error()+": Shard "))
		}
		opts.Shard = sh
	}
	if *batch != "" {
		ref, err := s3upload.ParseBatchRef(*batch)
		if err != nil {
			return usageErr("--batch %s", strings.TrimPrefix(err.Error(), s3upload.ErrInvalid.Error()+": Batch "))
		}
		opts.Batch = &ref
	}
	opts.Src = fs.Arg(0)
	var err error
	if opts.Bucket, opts.Prefix, err = parseS3URL(fs.Arg(1)); err != nil {
		return usageErr("%v", err)
	}
	if *output != "text" && *output != "json" {
		return usageErr("--output %q: want text or json", *output)
	}
	if opts.PartSize, err = parseSize(*partSize); err != nil {
		return usageErr("--part-size: %v", err)
	}
	if opts.MultipartThreshold, err = parseSize(*mpThresh); err != nil {
		return usageErr("--multipart-threshold: %v", err)
	}
	if opts.BatchBytes, err = parseSize(*batchBytes); err != nil {
		return usageErr("--batch-bytes: %v", err)
	}
	// s3upload checks the options; this only says which flag was wrong.
	if err := opts.Validate(); err != nil {
		return usageErr("%s", optionMessage(fs, opts, fs.Arg(1), err))
	}

	var cfg s3upload.Config
	path := *cfgPath
	if path == "" {
		if _, err := os.Stat(s3upload.ConfigFile); err == nil {
			path = s3upload.ConfigFile
		}
	}
	if path != "" {
		var warnings []string
		if cfg, warnings, err = s3upload.LoadConfig(path); err != nil {
			return usageErr("%v", err)
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "awsutils upload: warning: %s\n", w)
		}
	}
	clientOpts := cfg.ClientOptions()
	clientOpts.MaxConnsPerHost = opts.Connections()
	clientOpts.Profile = *profile
	awsCfg, err := awsclient.Load(ctx, clientOpts)
	if err != nil {
		return usageErr("%v", err)
	}

	if *plan != "" {
		return runPlan(ctx, awsCfg, opts, fs, fs.Arg(1), *output, stdout, stderr)
	}

	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && !*quiet && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
		opts.Progress = func(p s3upload.Progress) {
			if p.Listed || p.BytesFound > 0 {
				bar.ChangeMax64(max(p.BytesFound, 1))
			}
			bar.Describe(fmt.Sprintf("%d/%d files", p.Files, p.FilesFound))
			_ = bar.Set64(p.Bytes)
		}
	}

	// The report streams: each file's line (or JSON object) is written
	// when the file is done, so memory stays flat however many files
	// there are, and a long run shows its progress in its output.
	out := &reportWriter{w: bufio.NewWriterSize(stdout, 64<<10), json: *output == "json", quiet: *quiet,
		bucket: opts.Bucket, bar: bar}
	opts.OnFile = out.file
	if out.json {
		out.begin(opts)
	}
	rep, err := s3upload.Run(ctx, awsCfg, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if !errors.Is(err, s3upload.ErrInvalid) {
			fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
			return exitFailed
		}
		return usageErr("%s", optionMessage(fs, opts, fs.Arg(1), err))
	}
	if err = out.end(rep); err != nil {
		fmt.Fprintf(stderr, "awsutils upload: write report: %v\n", err)
		return exitFailed
	}
	// Files left for later count as a failure here, unlike in the Lambda
	// (where the next scheduled run continues): a person or cron job that
	// interrupted the run must not read it as done.
	if !rep.OK() || rep.Totals.Remaining > 0 {
		return exitFailed
	}
	return exitOK
}

// uploadFlags are the flags that set s3upload.Options fields, by field.
var uploadFlags = map[string]string{
	"PartSize": "part-size", "MultipartThreshold": "multipart-threshold", "SSE": "sse",
	"SSEKMSKeyID": "sse-kms-key-id", "Include": "include", "Exclude": "exclude",
	"Shard": "shard", "Batch": "batch", "ManifestPrefix": "plan", "BatchFiles": "batch-files",
	"BatchBytes": "batch-bytes", "FollowSymlinks": "follow-symlinks", "Manifest": "summary",
}

// optionMessage names an option s3upload refused (an
// *s3upload.OptionError) as the argument or flag it came from, with the
// value as written.
func optionMessage(fs *pflag.FlagSet, opts s3upload.Options, dest string, err error) string {
	var oe *s3upload.OptionError
	if !errors.As(err, &oe) {
		return err.Error()
	}
	switch oe.Field {
	case "Src":
		return fmt.Sprintf("SRC_DIR %s is not a readable folder", opts.Src)
	case "Prefix":
		return fmt.Sprintf("destination %q: %s", dest, oe.Reason)
	case "Concurrency":
		return "--concurrency must not be negative (0 follows the path)"
	}
	name, ok := uploadFlags[oe.Field]
	if !ok {
		return err.Error()
	}
	value := oe.Value
	if f := fs.Lookup(name); f.Value.Type() == "string" && f.Value.String() != "" {
		value = f.Value.String() // sizes as written, not in bytes
	}
	return fmt.Sprintf("--%s %s: %s", name, value, oe.Reason)
}

// parseSize reads a byte count with an optional KiB/MiB/GiB (or K/M/G)
// suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(num, &n); err != nil || n <= 0 || fmt.Sprint(n) != num {
		return 0, fmt.Errorf("%q is not a size like 16MiB", s)
	}
	return n * mult, nil
}

// reportWriter writes the upload report as files finish: text lines, or
// one JSON document whose "files" array is written element by element.
type reportWriter struct {
	w      *bufio.Writer
	json   bool
	quiet  bool
	bucket string
	bar    *progressbar.ProgressBar // set when a person watches: each line shows at once
	n      int                      // files written to the JSON array
	err    error
}

// begin writes the JSON document up to the files array; its fields mirror
// s3upload.Report's.
func (r *reportWriter) begin(opts s3upload.Options) {
	head, _ := json.Marshal(struct {
		Src    string `json:"src"`
		Bucket string `json:"bucket"`
		Prefix string `json:"prefix"`
		DryRun bool   `json:"dryRun,omitempty"`
	}{opts.Src, opts.Bucket, opts.Prefix, opts.DryRun})
	r.w.Write(head[:len(head)-1])
	r.w.WriteString(`,"files":[`)
}

func (r *reportWriter) file(f s3upload.File) {
	if r.err != nil {
		return
	}
	if r.json {
		b, err := json.Marshal(f)
		if err != nil {
			r.err = err
			return
		}
		if r.n > 0 {
			r.w.WriteByte(',')
		}
		r.n++
		r.w.WriteString("\n  ")
		r.w.Write(b)
		return
	}
	if r.quiet && f.Clean() {
		return
	}
	if r.bar != nil {
		_ = r.bar.Clear()
	}
	r.w.WriteString(f.Line(r.bucket))
	if r.bar != nil {
		r.err = r.w.Flush()
	}
}

// end writes the totals (text) or closes the JSON document.
func (r *reportWriter) end(rep *s3upload.Report) error {
	if r.err != nil {
		return r.err
	}
	if !r.json {
		if err := rep.Summary(r.w); err != nil {
			return err
		}
		return r.w.Flush()
	}
	tail, err := json.Marshal(struct {
		Totals   s3upload.Totals     `json:"totals"`
		Stopped  string              `json:"stopped,omitempty"`
		Warnings []string            `json:"warnings,omitempty"`
		Shard    *s3upload.Shard     `json:"shard,omitempty"`
		Batch    *s3upload.BatchInfo `json:"batch,omitempty"`
	}{rep.Totals, rep.Stopped, rep.Warnings, rep.Shard, rep.Batch})
	if err != nil {
		return err
	}
	r.w.WriteString("\n],")
	r.w.Write(tail[1:])
	r.w.WriteByte('\n')
	return r.w.Flush()
}

// runPlan writes a plan and prints its manifest's URL and size.
func runPlan(ctx context.Context, awsCfg aws.Config, opts s3upload.Options, fs *pflag.FlagSet, dest, output string, stdout, stderr io.Writer) int {
	p, err := s3upload.MakePlan(ctx, awsCfg, opts)
	if err != nil {
		if errors.Is(err, s3upload.ErrInvalid) {
			fmt.Fprintf(stderr, "awsutils upload: %s\n", optionMessage(fs, opts, dest, err))
			return exitUsage
		}
		fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
		return exitFailed
	}
	if output == "json" {
		writeJSON(stdout, p)
	} else {
		for _, f := range p.Problems {
			fmt.Fprint(stdout, f.Line(""))
		}
		dry := ""
		if p.DryRun {
			dry = " [dry run: nothing written]"
		}
		fmt.Fprintf(stdout, "%s\n%d batches, %d files, %d bytes planned in %.2fs%s\n", p.Manifest, p.Batches, p.Files, p.Bytes, p.Seconds, dry)
	}
	if err := p.Err(); err != nil {
		fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// runSummary prints what a plan's batches did.
func runSummary(ctx context.Context, manifest, cfgPath, profile, output string, stdout, stderr io.Writer) int {
	var cfg s3upload.Config
	if cfgPath == "" {
		if _, err := os.Stat(s3upload.ConfigFile); err == nil {
			cfgPath = s3upload.ConfigFile
		}
	}
	if cfgPath != "" {
		var err error
		if cfg, _, err = s3upload.LoadConfig(cfgPath); err != nil {
			fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
			return exitUsage
		}
	}
	clientOpts := cfg.ClientOptions()
	clientOpts.Profile = profile
	awsCfg, err := awsclient.Load(ctx, clientOpts)
	if err != nil {
		fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
		return exitUsage
	}
	s, err := s3upload.Summarize(ctx, awsCfg, manifest)
	if err != nil {
		fmt.Fprintf(stderr, "awsutils upload: --summary %s\n", strings.TrimPrefix(err.Error(), s3upload.ErrInvalid.Error()+": Manifest "))
		if errors.Is(err, s3upload.ErrInvalid) {
			return exitUsage
		}
		return exitFailed
	}
	if output == "json" {
		writeJSON(stdout, s)
	} else {
		fmt.Fprintf(stdout, "%d of %d batches reported: %d uploaded, %d removed, %d kept, %d skipped, %d failed, %d remaining; %d bytes\n",
			s.Reported, s.Batches, s.Uploaded, s.Removed, s.Kept, s.Skipped, s.Failed, s.Remaining, s.Bytes)
	}
	if err := s.Err(); err != nil {
		fmt.Fprintf(stderr, "awsutils upload: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
