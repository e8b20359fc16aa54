package s3upload

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/testbed"
)

// BenchmarkMakePlan plans a tree of 20,000 small files in 100 folders
// against versitygw and reports the plan's time per 10,000 files
// (docs/NOTES.md has the figure):
//
//	AWSUTILS_INTEGRATION=1 go test -run '^$' -bench MakePlan -benchtime 3x ./s3upload
func BenchmarkMakePlan(b *testing.B) {
	v := testbed.StartVersity(b)
	cfg, bucket := v.Config(b), v.Bucket(b)
	src := b.TempDir()
	const n = 20000
	files := make(map[string][]byte, n)
	for i := range n {
		files[fmt.Sprintf("d%02d/f%05d.dat", i%100, i)] = []byte("x")
	}
	testbed.WriteFiles(b, src, files)
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		start := time.Now()
		p, err := MakePlan(context.Background(), cfg, Options{Src: src, Bucket: bucket, BatchFiles: 1000})
		if err != nil || p.Files != n {
			b.Fatalf("%v %+v", err, p)
		}
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N)/(n/10000), "s/10k-files")
}
