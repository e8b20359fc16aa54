package s3upload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// TestFilesThatChangeAreKept: real writers append to and rewrite files
// while a --remove-src run uploads them through a 100 ms latency proxy.
// None of the changed files is deleted (a writer never finds its file
// gone), each is reported kept or failed with the reason, and the files no
// one touched are removed.
func TestFilesThatChangeAreKept(t *testing.T) {
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{Latency: 100 * time.Millisecond, Logf: func(string, ...any) {}})
	cfg := p.Config(t, v.Env(), awsclient.Options{})
	src := t.TempDir()
	var changing, still []string
	for i := range 12 {
		rel := fmt.Sprintf("f%02d.log", i)
		if err := os.WriteFile(filepath.Join(src, rel), []byte(strings.Repeat("x", 4096)), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			changing = append(changing, rel)
		} else {
			still = append(still, rel)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var vanished atomic.Int32
	// writes counts each writer's completed writes, so that the test can
	// wait for one to land while its file is in flight instead of hoping
	// the scheduler runs the writer in time.
	writes := map[string]*atomic.Int64{}
	for _, rel := range changing {
		writes[rel] = new(atomic.Int64)
	}
	for i, rel := range changing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(src, rel)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				var err error
				if i%2 == 0 { // appender, like a log writer
					var f *os.File
					if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err == nil {
						_, err = f.WriteString("more\n")
						f.Close()
					}
				} else { // rewriter, same size each time: only mtime/ctime tell
					var f *os.File
					if f, err = os.OpenFile(path, os.O_WRONLY, 0); err == nil {
						_, err = f.WriteAt([]byte(fmt.Sprintf("%04d", n%10000)), 0)
						f.Close()
					}
				}
				if err != nil {
					vanished.Add(1)
					t.Errorf("writer of %s: %v (deleted while being written?)", rel, err)
					return
				}
				writes[rel].Add(1)
			}
		}()
	}
	// Once a changing file is stored (read more than 100 ms earlier, the
	// proxy's latency, so that even a coarse file clock has moved on), its
	// writer writes at least once more before the removal decision.
	setHook(t, func(at stage, key string) {
		if w, ok := writes[key]; ok && at == atStored {
			for n := w.Load(); w.Load() == n && vanished.Load() == 0; {
				time.Sleep(time.Millisecond)
			}
		}
	})
	rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, Concurrency: 4})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]File{}
	for _, f := range rep.Files {
		rel, _ := filepath.Rel(src, f.Path)
		results[rel] = f
	}
	for _, rel := range changing {
		if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
			t.Errorf("%s was being written and is gone: %v", rel, err)
		}
		f := results[rel]
		if f.Result == Removed || (f.Result == Uploaded && f.Message == "") {
			t.Errorf("%s: reported %s %q, want kept or failed with the reason", rel, f.Result, f.Message)
		}
	}
	for _, rel := range still {
		if f := results[rel]; f.Result != Removed {
			t.Errorf("%s: %s %q, want removed", rel, f.Result, f.Message)
		}
	}
	t.Logf("%d files changed during the run: %d kept, %d failed (read while growing), none deleted; %d untouched files removed",
		len(changing), rep.Totals.Kept, rep.Totals.Failed, rep.Totals.Removed)
}
