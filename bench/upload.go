package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/bench/internal/measure"
	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/bench/internal/s3check"
	"github.com/awsutils/awsutils/bench/internal/workload"
	"github.com/awsutils/awsutils/internal/testbed"
)

// allTools are the upload contenders, in the order of the first round.
var allTools = []string{
	report.ToolAwsutils, report.ToolAwsutilsRemove, report.ToolS5cmd, report.ToolS5cmdMove,
	report.ToolAWSCLI, report.ToolRclone, report.ToolPutLoop,
}

// w4Tools are the only contenders on W4 (100,000 files): it measures
// memory and walk cost, and the issue compares awsutils with s5cmd there.
var w4Tools = []string{report.ToolAwsutils, report.ToolS5cmd}

// server is the versitygw the upload part runs against.
type server struct {
	endpoint  string
	accessKey string
	secretKey string
	dataDir   string
	cmd       *exec.Cmd
	done      chan struct{}
}

// startVersity starts versitygw (posix backend in a fresh folder,
// --keep-alive) on a free loopback port. It runs in its own process group
// and dies with the bench (parent-death signal) if the bench is killed.
func startVersity(root, dataDir string) (*server, error) {
	bin, err := testbed.ToolPath(".bin/versitygw")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	key := make([]byte, 20)
	_, _ = crand.Read(key)
	s := &server{accessKey: "BENCH" + strings.ToUpper(hex.EncodeToString(key[:6])), secretKey: hex.EncodeToString(key), dataDir: dataDir}
	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := testbed.FreePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		log, err := os.Create(filepath.Join(filepath.Dir(dataDir), "versitygw.log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--port", addr, "--quiet", "--keep-alive", "posix", dataDir)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "ROOT_ACCESS_KEY=" + s.accessKey, "ROOT_SECRET_KEY=" + s.secretKey}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			log.Close()
			return nil, fmt.Errorf("start versitygw: %w", err)
		}
		log.Close()
		s.cmd, s.done, s.endpoint = cmd, make(chan struct{}), "http://"+addr
		go func() { _ = cmd.Wait(); close(s.done) }()
		if lastErr = s.waitReady(addr, 30*time.Second); lastErr == nil {
			return s, nil
		}
		s.stop()
	}
	return nil, lastErr
}

func (s *server) waitReady(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(s.dataDir), "versitygw.log"))
			return fmt.Errorf("versitygw exited before listening on %s: %s", addr, strings.TrimSpace(string(b)))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not listen on %s within %s", addr, timeout)
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// s3Client is the harness's own client, for creating the bucket and
// listing what each run left.
func (s *server) s3Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: testbed.Region, AccessKeyID: s.accessKey, SecretAccessKey: s.secretKey})
	if err != nil {
		return nil, err
	}
	return awsclient.S3(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.endpoint)
		o.UsePathStyle = true
	}), nil
}

// contender is one way of uploading a tree.
type contender struct {
	name    string
	removes bool // works on a copy and must leave no source file
	argv    func(src, bucket, prefix string) []string
	env     []string
}

// contenders lists those cfg asks for whose tools are installed, with a
// note for each one left out; a required one that cannot run is an error.
func (b *bench) contenders(ctx context.Context, srv *server, home string) ([]contender, error) {
	base := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + srv.accessKey, "AWS_SECRET_ACCESS_KEY=" + srv.secretKey,
		"AWS_REGION=" + testbed.Region, "AWS_DEFAULT_REGION=" + testbed.Region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	sdkEnv := append(append([]string(nil), base...), "AWS_CONFIG_FILE=/dev/null", "AWS_ENDPOINT_URL="+srv.endpoint)

	// The AWS CLI needs path-style addressing for a local endpoint, which
	// only its config file can say.
	awsConfig := filepath.Join(home, "aws-config")
	if err := os.WriteFile(awsConfig, []byte("[default]\nregion = "+testbed.Region+"\ns3 =\n  addressing_style = path\n"), 0o600); err != nil {
		return nil, err
	}
	rcloneConfig := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(rcloneConfig, nil, 0o600); err != nil {
		return nil, err
	}
	s5 := s5cmdPath(b.cfg.Root)
	dst := func(bucket, prefix string) string { return "s3://" + bucket + "/" + prefix }

	type candidate struct {
		contender
		tool    string // the program that must exist
		missing string // why it cannot run, if so
	}
	var cands []candidate
	uploadOK := hasCommand(ctx, b.awsutils, "upload")
	why := ""
	if !uploadOK {
		why = "`awsutils upload` does not exist in this build"
	}
	cands = append(cands,
		candidate{contender: contender{name: report.ToolAwsutils, env: sdkEnv,
			argv: func(src, bucket, prefix string) []string {
				return []string{b.awsutils, "upload", src, dst(bucket, prefix)}
			}}, tool: b.awsutils, missing: why},
		candidate{contender: contender{name: report.ToolAwsutilsRemove, env: sdkEnv, removes: true,
			argv: func(src, bucket, prefix string) []string {
				return []string{b.awsutils, "upload", "--remove-src", src, dst(bucket, prefix)}
			}}, tool: b.awsutils, missing: why},
		candidate{contender: contender{name: report.ToolS5cmd, env: base,
			argv: func(src, bucket, prefix string) []string {
				return []string{s5, "--endpoint-url", srv.endpoint, "cp", src + "/*", dst(bucket, prefix) + "/"}
			}}, tool: s5},
		candidate{contender: contender{name: report.ToolS5cmdMove, env: base, removes: true,
			argv: func(src, bucket, prefix string) []string {
				return []string{s5, "--endpoint-url", srv.endpoint, "mv", src + "/*", dst(bucket, prefix) + "/"}
			}}, tool: s5},
		candidate{contender: contender{name: report.ToolAWSCLI,
			env: append(append([]string(nil), base...), "AWS_CONFIG_FILE="+awsConfig, "AWS_PAGER="),
			argv: func(src, bucket, prefix string) []string {
				return []string{awsCLIPath, "s3", "cp", "--recursive", "--endpoint-url", srv.endpoint, src, dst(bucket, prefix) + "/"}
			}}, tool: awsCLIPath},
		// rclone takes its remote from RCLONE_CONFIG_<NAME>_* variables;
		// AWS_CA_BUNDLE must not be set for it (LoadCustomCABundleError),
		// and the base environment never carries it.
		candidate{contender: contender{name: report.ToolRclone,
			env: append(append([]string(nil), base...), "RCLONE_CONFIG="+rcloneConfig,
				"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
				"RCLONE_CONFIG_BENCH_ENDPOINT="+srv.endpoint, "RCLONE_CONFIG_BENCH_REGION="+testbed.Region,
				"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+srv.accessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+srv.secretKey,
				"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true"),
			argv: func(src, bucket, prefix string) []string {
				return []string{rclonePath, "copy", src, "bench:" + bucket + "/" + prefix}
			}}, tool: rclonePath},
		candidate{contender: contender{name: report.ToolPutLoop, env: sdkEnv,
			argv: func(src, bucket, prefix string) []string {
				return []string{b.putloop, "-workers", "64", src, dst(bucket, prefix)}
			}}, tool: b.putloop},
	)
	var out []contender
	for _, c := range cands {
		if b.cfg.Tools != nil && !contains(b.cfg.Tools, c.name) {
			continue
		}
		if c.missing == "" {
			if _, err := os.Stat(c.tool); err != nil {
				c.missing = c.tool + " is not installed (scripts/bench-peers.sh installs it)"
			}
		}
		if c.missing != "" {
			if contains(b.cfg.Required, c.name) {
				return nil, fmt.Errorf("contender %s cannot run: %s", c.name, c.missing)
			}
			b.note("%s left out: %s", c.name, c.missing)
			continue
		}
		out = append(out, c.contender)
	}
	return out, nil
}

// serverDir is where versitygw keeps objects: tmpfs (/dev/shm) when it has
// room for the largest run (W2's 512 MiB, W4's 100,000 small files), so
// that the server's disk writeback, which moves figures by a factor of
// two from one round to the next on this machine's disk, does not decide
// which client looks faster; else a folder under tmp.
func serverDir(tmp string) (dir, storage string, err error) {
	const need = 2 << 30
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && int64(st.Bavail)*int64(st.Bsize) >= need {
		if dir, err := os.MkdirTemp("/dev/shm", "awsutils-bench-"); err == nil {
			return dir, "tmpfs (/dev/shm)", nil
		}
	}
	dir = filepath.Join(tmp, "versitygw")
	return dir, "a folder on the work disk (" + tmp + ")", os.MkdirAll(dir, 0o755)
}

// uploads runs every upload workload against a versitygw of its own.
func (b *bench) uploads(ctx context.Context) error {
	srvDir, storage, err := serverDir(b.tmp)
	if err != nil {
		return err
	}
	defer os.RemoveAll(srvDir)
	b.meta.ServerStorage = storage
	b.logf("versitygw keeps objects in %s", storage)
	srv, err := startVersity(b.cfg.Root, filepath.Join(srvDir, "data"))
	if err != nil {
		return err
	}
	defer srv.stop()
	home := filepath.Join(b.tmp, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	client, err := srv.s3Client(ctx)
	if err != nil {
		return err
	}
	const bucket = "bench"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	cs, err := b.contenders(ctx, srv, home)
	if err != nil {
		return err
	}
	for _, wl := range b.cfg.Workloads {
		if err := b.uploadWorkload(ctx, srv, client, bucket, wl, cs, home); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) uploadWorkload(ctx context.Context, srv *server, client *s3.Client, bucket, wl string, all []contender, home string) error {
	plan, err := workload.New(wl, b.cfg.Scale, b.cfg.Seed)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.cfg.WorkDir, fmt.Sprintf("%s-scale%g-seed%d", wl, b.cfg.Scale, b.cfg.Seed))
	b.logf("%s: preparing %d files, %.1f MiB under %s", wl, len(plan.Files), float64(plan.Bytes())/(1<<20), dir)
	tree, err := workload.Materialize(dir, plan)
	if err != nil {
		return err
	}
	b.meta.Workloads = append(b.meta.Workloads, report.WorkloadInfo{
		Name: wl, Description: workload.Descriptions[wl], Files: len(plan.Files), Bytes: plan.Bytes(), Digest: plan.Digest(),
	})
	var cs []contender
	for _, c := range all {
		if wl == "W4" && !contains(w4Tools, c.name) {
			continue
		}
		cs = append(cs, c)
	}
	want := plan.Sizes()
	copyDir := filepath.Join(b.tmp, "copy")
	rounds := b.cfg.Warmup + b.cfg.Reps
	for round := range rounds {
		// A fresh seeded order each round, so that no contender always
		// runs first or always follows the same one. (Rotating the order
		// keeps neighbours together: the PUT loop then always ran right
		// after rclone and lost a third of its speed to it in every round.)
		order := rand.New(rand.NewPCG(b.cfg.Seed, uint64(round))).Perm(len(cs))
		for _, i := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := cs[i]
			prefix := fmt.Sprintf("%s/%s/r%d", wl, c.name, round)
			src := tree.Root
			if c.removes {
				if err := workload.LinkCopy(tree, copyDir); err != nil {
					return fmt.Errorf("copy %s for %s: %w", wl, c.name, err)
				}
				src = copyDir
			}
			row := report.Row{
				Section: report.SectionUpload, Workload: wl, Tool: c.name, Rep: round - b.cfg.Warmup + 1,
				Warmup: round < b.cfg.Warmup, Files: len(plan.Files), Bytes: plan.Bytes(),
			}
			u, runErr := b.runner.Run(ctx, measure.Command{Argv: c.argv(src, bucket, prefix), Env: c.env, Dir: home})
			row.Wall, row.CPU, row.MaxRSS = u.Wall.Seconds(), u.CPU.Seconds(), u.MaxRSS
			if runErr != nil {
				row.Error = runErr.Error()
			} else if _, verr := s3check.Verify(ctx, client, bucket, prefix, want); verr != nil {
				row.Error = "verify: " + verr.Error()
			} else {
				row.Verified = true
			}
			if c.removes && runErr == nil {
				left, lerr := workload.Remaining(copyDir)
				switch {
				case lerr != nil:
					row.Error, row.Verified = "check sources: "+lerr.Error(), false
				case len(left) > 0:
					row.Error, row.Verified = fmt.Sprintf("%d source files left after removal, e.g. %s", len(left), left[0]), false
				}
			}
			b.add(row)
			tag := ""
			if row.Warmup {
				tag = " (warm-up)"
			}
			status := "verified"
			if !row.Verified {
				status = "FAILED: " + firstLine(row.Error)
			}
			b.logf("%s %-11s round %d/%d%s: %6.2f s %8.0f files/s %7.1f MiB/s cpu %5.2f s rss %5.1f MiB  %s",
				wl, c.name, round+1, rounds, tag, row.Wall, row.FilesPerSec(), row.MiBPerSec(), row.CPU, float64(row.MaxRSS)/(1<<20), status)
			// Clear up outside the measured time: the objects straight from
			// the server's posix folder (much faster than deleting them
			// through S3), the removal copy, and dirty pages, so the next
			// run does not pay for this one's writeback.
			cleanErr := errors.Join(os.RemoveAll(filepath.Join(srv.dataDir, bucket, wl, c.name, fmt.Sprintf("r%d", round))), os.RemoveAll(copyDir))
			if cleanErr != nil {
				return cleanErr
			}
			syscall.Sync()
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}
