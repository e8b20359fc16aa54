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

Uploads every file under SRC_DIR to s3://BUCKET/PREFIX/<path relative to
SRC_DIR>, checking each object's CRC32. With --remove-src a file is deleted
only after its object is verified in S3 and only if it did not change
meanwhile.

Globs (--include/--exclude, repeatable) match the path relative to SRC_DIR:
a pattern with "/" matches the whole path ("logs/**/*.gz"), one without
matches a file or folder name at any depth ("*.tmp"); "**" crosses folders.

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
	if fs.NArg() != 2 {
		return usageErr("want SRC_DIR and s3://BUCKET[/PREFIX]; run `awsutils upload --help`")
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
	if f := fs.Lookup(name); f.Value.Type() == "string" {
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
		Totals   s3upload.Totals `json:"totals"`
		Stopped  string          `json:"stopped,omitempty"`
		Warnings []string        `json:"warnings,omitempty"`
	}{rep.Totals, rep.Stopped, rep.Warnings})
	if err != nil {
		return err
	}
	r.w.WriteString("\n],")
	r.w.Write(tail[1:])
	r.w.WriteByte('\n')
	return r.w.Flush()
}
