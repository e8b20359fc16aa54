package s3upload

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// BenchmarkUploadSmallFiles uploads BENCH_FILES (default 5,000) files of
// 4 KiB to versitygw through a delay line of BENCH_RTT (default 50ms; 0:
// straight), for CPU and heap profiles of the request path and the
// limiter's climb (logged with -v); BENCH_HEAP names a heap profile
// written when half the files are done:
//
//	AWSUTILS_INTEGRATION=1 BENCH_RTT=50ms go test -run '^$' -bench UploadSmallFiles -benchtime 1x -cpuprofile cpu.out ./s3upload
func BenchmarkUploadSmallFiles(b *testing.B) {
	n := 5000
	if v, err := fmt.Sscan(os.Getenv("BENCH_FILES"), &n); v != 1 || err != nil {
		n = 5000
	}
	rtt := 50 * time.Millisecond
	if v := os.Getenv("BENCH_RTT"); v != "" {
		var err error
		if rtt, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	v := testbed.StartVersity(b)
	opts := v.Options()
	opts.MaxConnsPerHost = MaxInFlight
	if rtt > 0 {
		opts.Endpoint = testbed.StartDelayLine(b, v.Endpoint, rtt).Endpoint
	}
	cfg, err := awsclient.Load(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	bucket := v.Bucket(b)
	src := b.TempDir()
	files := make(map[string][]byte, n)
	data := make([]byte, 4096)
	for i := range n {
		files[fmt.Sprintf("d%02d/f%05d.dat", i%50, i)] = data
	}
	testbed.WriteFiles(b, src, files)
	start := time.Now()
	traceLimiter = func(limit, inFlight int, rate float64) {
		b.Logf("%6.3fs bound %d in flight %d rate %.0f/s", time.Since(start).Seconds(), limit, inFlight, rate)
	}
	defer func() { traceLimiter = nil }()
	paths := []struct {
		name string
		sdk  bool
	}{{"direct", false}, {"sdk", true}}
	if p := os.Getenv("BENCH_PATH"); p != "" {
		paths = slices.DeleteFunc(paths, func(x struct {
			name string
			sdk  bool
		}) bool {
			return x.name != p
		})
	}
	// Rounds alternate between the paths, so that a busy spell of the
	// machine falls on both.
	rates := map[string][]float64{}
	b.ResetTimer()
	for i := range b.N {
		for _, path := range paths {
			start = time.Now()
			var peak uint64
			heapAt := os.Getenv("BENCH_HEAP")
			progress := func(p Progress) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse+ms.StackInuse)
				if heapAt != "" && p.Files >= int64(n/2) {
					if f, err := os.Create(heapAt); err == nil {
						_ = pprof.WriteHeapProfile(f)
						f.Close()
					}
					heapAt = ""
				}
			}
			rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, Prefix: fmt.Sprint(path.name, i), Progress: progress, sdkPut: path.sdk})
			if err != nil || !rep.OK() {
				b.Fatalf("%v %+v", err, rep.Totals)
			}
			rate := float64(n) / time.Since(start).Seconds()
			rates[path.name] = append(rates[path.name], rate)
			b.Logf("%s round %d: %.0f files/s, highest bound %d, peak heap+stacks %.1f MiB", path.name, i, rate, rep.Totals.InFlight, float64(peak)/(1<<20))
		}
	}
	for name, r := range rates {
		slices.Sort(r)
		b.ReportMetric(r[len(r)/2], name+"-files/s")
	}
}
