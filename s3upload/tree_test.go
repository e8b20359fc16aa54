package s3upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// oddNames are legal Linux names that once lost data or escaped a filter:
// every byte but "/" and NUL belongs to the name.
func oddNames() map[string][]byte {
	files := map[string][]byte{}
	for i, rel := range []string{
		`back\slash.txt`,
		"d/x.txt", `d\x.txt`, "logs/a", `logs\a`, // once one key for two files
		"new\nline.txt", "dir\nname/f.txt", "tab\tname.txt",
		"pct%41.txt", "plus+sign.txt", "hash#tag.txt", "question?.txt", "amp&eq=.txt", "semi;colon:.txt",
		"caf\u00e9.txt", "cafe\u0301.txt", // NFC and NFD: two names, two keys
		strings.Repeat("n", 251) + ".txt", strings.Repeat("日", 85), // 255 bytes each
		"trailing space ", "dir with trailing space /f", " leading space",
	} {
		files[rel] = []byte(strings.Repeat(string(rune('a'+i%26)), 10+i))
	}
	return files
}

func TestOddNamesRoundTrip(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		for _, concurrency := range []int{1, 0} {
			src := t.TempDir()
			files := oddNames()
			if s.Name == "moto" {
				// moto answers 404 to a key with a newline (S3 and
				// versitygw store it; docs/NOTES.md names the release).
				for rel := range files {
					if strings.Contains(rel, "\n") {
						delete(files, rel)
					}
				}
			}
			writeTree(t, src, files)
			prefix := "names" + string(rune('0'+concurrency))
			rep, err := Run(context.Background(), s.Config, Options{
				Src: src, Bucket: s.Bucket, Prefix: prefix, RemoveSrc: true, PruneEmptyDirs: true, Concurrency: concurrency,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Totals.Removed != len(files) {
				t.Fatalf("concurrency %d: totals %+v, %v", concurrency, rep.Totals, rep.Files)
			}
			got := testbed.Objects(t, s.Config, s.Bucket)
			mine := map[string][]byte{}
			for k, v := range got {
				if strings.HasPrefix(k, prefix+"/") {
					mine[k] = v
				}
			}
			compare(t, mine, prefix, files)
			if left, _ := os.ReadDir(src); len(left) != 0 {
				t.Errorf("source not emptied: %d entries left", len(left))
			}
			if n := openUnder(t, src); n != 0 {
				t.Errorf("%d descriptors under the source folder still open after the run", n)
			}
		}
	})
}

func TestExcludeMatchesNamesWithNewlines(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{
		"a\nb/secret.tmp": []byte("tmp"), "cache/sub\ndir/f.bin": []byte("cache"), "keep\n.txt": []byte("keep"),
	})
	rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, Exclude: []string{"*.tmp", "cache/**"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Removed != 1 || rep.Totals.Excluded != 1 || !rep.OK() {
		t.Fatalf("totals %+v, %v", rep.Totals, rep.Files)
	}
	got := testbed.Objects(t, cfg, bucket)
	if len(got) != 1 || string(got["keep\n.txt"]) != "keep" {
		t.Errorf("bucket holds %v", got)
	}
	for _, rel := range []string{"a\nb/secret.tmp", "cache/sub\ndir/f.bin"} {
		if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
			t.Errorf("excluded %q: %v", rel, err)
		}
	}
}

// TestSwapsAfterListing changes the tree at the moment a listed file or
// folder is about to be opened: nothing outside SRC may reach S3 or be
// removed, whatever is swapped in, with or without --follow-symlinks.
func TestSwapsAfterListing(t *testing.T) {
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	const secret = "outside-secret"

	type tree struct{ src, outside string }
	// subToOutside moves the folder sub away and puts a link to the
	// outside folder in its place.
	subToOutside := func(t *testing.T, tr tree) {
		if err := os.Rename(filepath.Join(tr.src, "sub"), filepath.Join(tr.src, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(tr.outside, filepath.Join(tr.src, "sub")); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		follow []bool
		// at is the path (relative to src) whose opening triggers swap.
		at   string
		swap func(t *testing.T, tr tree)
		// want is the start of the swapped entry's message.
		want string
		// gone, when set, is the relative path that must be removed.
		gone string
	}{
		{
			name: "file becomes symlink to outside", follow: []bool{false, true}, at: "sub/f.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "sub/f.txt"), func(p string) error { return os.Symlink(filepath.Join(tr.outside, "secret.txt"), p) })
			},
			want: "skipped: replaced by a symlink after it was listed",
		},
		{
			name: "file becomes symlink to /proc/self/environ", follow: []bool{false, true}, at: "sub/f.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "sub/f.txt"), func(p string) error { return os.Symlink("/proc/self/environ", p) })
			},
			want: "skipped: replaced by a symlink after it was listed",
		},
		{
			name: "folder becomes symlink to outside before it is opened", follow: []bool{false, true}, at: "sub",
			swap: subToOutside,
			want: "skipped: folder replaced after it was listed",
		},
		{
			// The folder is open and listed; its files are read and removed
			// where they were listed, never through the new link.
			name: "folder becomes symlink to outside while its files are in flight", follow: []bool{false, true}, at: "sub/f.txt",
			swap: subToOutside,
			want: "removed", gone: "moved/f.txt",
		},
		{
			name: "followed link retargeted to outside", follow: []bool{true}, at: "link.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "link.txt"), func(p string) error { return os.Symlink(filepath.Join(tr.outside, "secret.txt"), p) })
			},
			want: "skipped: symlink now points outside the source folder",
		},
		{
			name: "file becomes FIFO", follow: []bool{false, true}, at: "sub/f.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "sub/f.txt"), func(p string) error { return syscall.Mkfifo(p, 0o644) })
			},
			want: "skipped: replaced by a named pipe after it was listed",
		},
		{
			name: "file becomes socket", follow: []bool{false}, at: "sub/f.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "sub/f.txt"), func(p string) error {
					l, err := net.Listen("unix", p)
					if err == nil {
						t.Cleanup(func() { l.Close() })
					}
					return err
				})
			},
			want: "skipped: replaced by a socket after it was listed",
		},
		{
			name: "file replaced by another file", follow: []bool{false}, at: "sub/f.txt",
			swap: func(t *testing.T, tr tree) {
				replace(t, filepath.Join(tr.src, "sub/f.txt"), func(p string) error { return os.WriteFile(p, []byte("newer"), 0o644) })
			},
			want: "skipped: replaced by another file after it was listed",
		},
	}
	for _, tc := range cases {
		for _, follow := range tc.follow {
			name := tc.name
			if follow {
				name += " (follow)"
			}
			t.Run(name, func(t *testing.T) {
				outside := t.TempDir()
				writeTree(t, outside, map[string][]byte{"secret.txt": []byte(secret), "f.txt": []byte(secret)})
				tr := tree{src: t.TempDir(), outside: outside}
				writeTree(t, tr.src, map[string][]byte{"sub/f.txt": []byte("inside f"), "sub/g.txt": []byte("inside g"), "kept/real.txt": []byte("real")})
				// The link's target is excluded, so this run never removes
				// it: otherwise a slow walk could list the link after its
				// target was uploaded and removed, and find it broken.
				if err := os.Symlink("kept/real.txt", filepath.Join(tr.src, "link.txt")); err != nil {
					t.Fatal(err)
				}
				at := filepath.Join(tr.src, tc.at)
				var once sync.Once
				setHook(t, func(st stage, p string) {
					if st == atOpen && p == at {
						once.Do(func() { tc.swap(t, tr) })
					}
				})
				prefix := strings.ReplaceAll(name, " ", "-")
				rep, err := Run(context.Background(), cfg, Options{
					Src: tr.src, Bucket: bucket, Prefix: prefix, RemoveSrc: true, PruneEmptyDirs: true, FollowSymlinks: follow, Concurrency: 1,
					Exclude: []string{"kept/**"},
				})
				if err != nil {
					t.Fatal(err)
				}
				var msg string
				for _, f := range rep.Files {
					if f.Path == at {
						msg = string(f.Result) + ": " + f.Message
					}
				}
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("%s: %q, want %q; report %v", tc.at, msg, tc.want, rep.Files)
				}
				for k, b := range testbed.Objects(t, cfg, bucket) {
					if strings.HasPrefix(k, prefix+"/") && (bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("AWS_"))) {
						t.Errorf("object %s holds a file from outside SRC", k)
					}
				}
				for _, rel := range []string{"secret.txt", "f.txt"} {
					if b, err := os.ReadFile(filepath.Join(outside, rel)); err != nil || string(b) != secret {
						t.Errorf("outside file %s: %q, %v", rel, b, err)
					}
				}
				if n := openUnder(t, tr.src); n != 0 {
					t.Errorf("%d descriptors under the source folder still open after the run", n)
				}
				if tc.gone != "" {
					if _, err := os.Lstat(filepath.Join(tr.src, tc.gone)); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s not removed: %v", tc.gone, err)
					}
				}
			})
		}
	}
}

// openUnder counts this process's open descriptors for dir or anything
// under it.
func openUnder(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var n int
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil &&
			(target == dir || strings.HasPrefix(target, dir+"/")) {
			n++
		}
	}
	return n
}

// replace puts something else at p by creating it beside p and renaming
// it over p, as a writer that swaps files does.
func replace(t *testing.T, p string, create func(tmp string) error) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), ".swap")
	if err := create(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestShrunkFileFailsAtOnce: a file truncated after its checksum was read
// fails with that message at the first attempt and stays on disk.
func TestShrunkFileFailsAtOnce(t *testing.T) {
	v := testbed.StartVersity(t)
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{})
	cfg := p.Config(t, v.Env(), awsclient.Options{MaxAttempts: 10})
	bucket := v.Bucket(t)
	for _, size := range []int{1 << 20, 12 << 20} {
		src := t.TempDir()
		path := filepath.Join(src, "shrinks.bin")
		writeTree(t, src, map[string][]byte{"shrinks.bin": randBytes(size)})
		setHook(t, func(st stage, name string) {
			if st == atSummed {
				if err := os.Truncate(path, 1000); err != nil {
					t.Error(err)
				}
			}
		})
		p.ResetStats()
		rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, MultipartThreshold: 5 << 20, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Totals.Failed != 1 || len(rep.Files) != 1 || !strings.Contains(rep.Files[0].Message, "shrank while it was read") {
			t.Fatalf("size %d: totals %+v, %v", size, rep.Totals, rep.Files)
		}
		if n := p.Stats().Ops["PutObject"] + p.Stats().Ops["UploadPart"]; n > 1 {
			t.Errorf("size %d: %d PUTs sent for a file that shrank; want at most 1", size, n)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != 1000 {
			t.Errorf("size %d: source %v, %v", size, fi, err)
		}
		if n := testbed.MultipartUploads(t, cfg, bucket); n != 0 {
			t.Errorf("%d multipart uploads left", n)
		}
	}
	if got := testbed.Objects(t, cfg, bucket); len(got) != 0 {
		t.Errorf("bucket holds %d objects", len(got))
	}
}

// TestVerifyPaths: a PutObject response that echoes the CRC32 read is the
// proof (no HeadObject); one that echoes another CRC32 fails the file and
// keeps it; without an echo a HeadObject must show the file's CRC32, so an
// object overwritten by someone else between the PUT and the HEAD keeps
// the source, unless the bucket is versioned: the HEAD then asks for the
// version this run wrote, which is still there.
func TestVerifyPaths(t *testing.T) {
	m := testbed.StartMoto(t)
	p := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
	cfg := p.Config(t, m.Env(), awsclient.Options{})
	c := awsclient.S3(m.Config(t))
	const crcHeader = "X-Amz-Checksum-Crc32"
	cases := []struct {
		name      string
		echo      func(h http.Header) // edits the PutObject response
		overwrite bool                // someone else writes the key after the PUT
		versioned bool
		want      Result
		msg       string
		heads     int
	}{
		{name: "echo", want: Removed},
		{name: "echo differs", echo: func(h http.Header) { h.Set(crcHeader, "AAAAAA==") }, want: Failed, msg: "upload: checksum mismatch"},
		{name: "no echo", echo: func(h http.Header) { h.Del(crcHeader) }, want: Removed, heads: 1},
		{name: "no echo, overwritten", echo: func(h http.Header) { h.Del(crcHeader) }, overwrite: true, want: Failed, msg: "verify: S3 reports CRC32", heads: 1},
		{name: "no echo, overwritten, versioned", echo: func(h http.Header) { h.Del(crcHeader) }, overwrite: true, versioned: true, want: Removed, heads: 1},
		{name: "echo, overwritten", overwrite: true, want: Removed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bucket := m.Bucket(t)
			if tc.versioned {
				if _, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
					Bucket: aws.String(bucket), VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
				}); err != nil {
					t.Fatal(err)
				}
			}
			p.RewriteResponses(func(op string, h http.Header) {
				if op == "PutObject" && tc.echo != nil {
					tc.echo(h)
				}
			})
			defer p.RewriteResponses(nil)
			src := t.TempDir()
			writeTree(t, src, map[string][]byte{"a.txt": []byte("mine")})
			setHook(t, func(st stage, key string) {
				if st == atStored && tc.overwrite {
					if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{
						Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("MINE"), // same size, other bytes
						ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
					}); err != nil {
						t.Error(err)
					}
				}
			})
			p.ResetStats()
			rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true})
			if err != nil {
				t.Fatal(err)
			}
			f := rep.Files[0]
			if f.Result != tc.want || !strings.HasPrefix(f.Message, tc.msg) {
				t.Errorf("%s %q, want %s %q", f.Result, f.Message, tc.want, tc.msg)
			}
			if n := p.Stats().Ops["HeadObject"]; n != tc.heads {
				t.Errorf("%d HeadObject calls, want %d", n, tc.heads)
			}
			_, statErr := os.Stat(filepath.Join(src, "a.txt"))
			if removed := errors.Is(statErr, os.ErrNotExist); removed != (tc.want == Removed) {
				t.Errorf("source removed %v (%v), result %s", removed, statErr, f.Result)
			}
			if !tc.versioned {
				return
			}
			vs, err := c.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, ver := range vs.Versions {
				out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: ver.Key, VersionId: ver.VersionId})
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				_, _ = b.ReadFrom(out.Body)
				out.Body.Close()
				found = found || b.String() == "mine"
			}
			if !found {
				t.Errorf("the removed file's version is not in the bucket (%d versions)", len(vs.Versions))
			}
		})
	}
}

// TestKeyClaimGuard: two files that would share a key (which Key's
// one-to-one mapping rules out, so the items are made by hand here) never
// both reach S3: the second fails and is kept.
func TestKeyClaimGuard(t *testing.T) {
	src := t.TempDir()
	w, err := newWalker(src, filter{}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	opts := Options{Src: src, Bucket: "b", DryRun: true}
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	u := newUploader(aws.Config{Region: "us-east-1"}, &opts, w, nil)
	mk := func(ino uint64) item {
		return item{dir: w.top, name: "x", rel: "d/x", path: filepath.Join(src, "d/x"), id: fileID{1, ino}}
	}
	for i, tc := range []struct {
		it   item
		want Result
		msg  string
	}{
		{mk(7), Skipped, "dry run"},
		{mk(7), Skipped, "listed twice"},
		{mk(8), Failed, "another file of this run has the same key"},
	} {
		got := u.file(context.Background(), tc.it).file
		if got.Result != tc.want || !strings.HasPrefix(got.Message, tc.msg) {
			t.Errorf("%d: %s %q, want %s %q", i, got.Result, got.Message, tc.want, tc.msg)
		}
	}
}

// TestBodyStopsOnShrink: the request body of a file that ends early stops
// the request with a *shrunkError instead of a short body the SDK would
// retry.
func TestBodyStopsOnShrink(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "b")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancelCause(context.Background())
	b := &body{SectionReader: io.NewSectionReader(f, 50, 200), base: 50, size: 250, stop: stop}
	_, err = new(bytes.Buffer).ReadFrom(b)
	var se *shrunkError
	if !errors.As(err, &se) || se.at != 100 || se.size != 250 {
		t.Fatalf("read error %v", err)
	}
	if !errors.As(shrunk(ctx, errors.New("transport")), &se) {
		t.Errorf("context cause %v", context.Cause(ctx))
	}
}

// TestInFlightFollowsTheRoundTrip: through a delay line of 150 ms, a run
// left to follow the path keeps more files in flight than the 128 it
// starts with (after the first full window of a far path it jumps,
// however busy the machine), and the delay line sees
// that many connections at once; a fixed Concurrency stays fixed. Neither
// assertion depends on speed; the climb itself is tested on simulated
// paths (limit_test.go).
func TestInFlightFollowsTheRoundTrip(t *testing.T) {
	v := testbed.StartVersity(t)
	for _, tc := range []struct {
		concurrency, files int
		check              func(inFlight, peakConns int) bool
	}{
		{0, 400, func(n, peak int) bool { return n >= 2*startInFlight && peak > startInFlight }},
		{16, 64, func(n, peak int) bool { return n == 16 && peak <= 16+DefaultLargeFiles*DefaultPartConcurrency }},
	} {
		src := t.TempDir()
		files := map[string][]byte{}
		for i := range tc.files {
			files[fmt.Sprintf("d%d/f%03d", i%8, i)] = []byte("data")
		}
		writeTree(t, src, files)
		// A line and a client of its own: another run's idle connections
		// would count as open.
		line := testbed.StartDelayLine(t, v.Endpoint, 150*time.Millisecond)
		opts := v.Options()
		opts.Endpoint, opts.MaxConnsPerHost = line.Endpoint, MaxInFlight
		cfg, err := awsclient.Load(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: v.Bucket(t), RemoveSrc: true, Concurrency: tc.concurrency})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Totals.Removed != len(files) || !tc.check(rep.Totals.InFlight, line.Peak()) {
			t.Errorf("concurrency %d: in flight %d, %d connections at once; totals %+v", tc.concurrency, rep.Totals.InFlight, line.Peak(), rep.Totals)
		}
	}
}
