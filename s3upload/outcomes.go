package s3upload

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Outcome codes of outcomes/<k>.json, one byte per planned file.
const (
	codeNone     = '-' // no outcome: not started (remaining)
	codeUploaded = 'U'
	codeRemoved  = 'R'
	codeKept     = 'K'
	codeFailed   = 'F'
	codeSkipped  = 'S'
	// codeDone is a skip that says an earlier run did the work: the file
	// is gone since planning, or its object is already there.
	codeDone = 'D'
)

// outcomes is outcomes/<k>.json: the outcome of each planned file, in the
// batch's order, and the bytes each one sent.
type outcomes struct {
	Codes string  `json:"codes"`
	Bytes []int64 `json:"bytes"`
}

// outcomeLog records what a batch run did to each planned file, so that a
// rerun's report counts what an earlier attempt did (a retry finds the
// files the first attempt removed gone: they were removed, not skipped).
type outcomeLog struct {
	index map[string]int // report path -> position in the batch
	codes []byte
	bytes []int64
	prev  *outcomes // an earlier run's, if any
}

func newOutcomeLog(src string, files []batchFile) *outcomeLog {
	l := &outcomeLog{index: make(map[string]int, len(files)), codes: make([]byte, len(files)), bytes: make([]int64, len(files))}
	for i, f := range files {
		l.codes[i] = codeNone
		if _, dup := l.index[displayPath(src, f.Path)]; !dup {
			l.index[displayPath(src, f.Path)] = i
		}
	}
	return l
}

// note records f's outcome.
func (l *outcomeLog) note(f File) {
	i, ok := l.index[f.Path]
	if !ok {
		return
	}
	c := byte(codeSkipped)
	switch f.Result {
	case Uploaded:
		c = codeUploaded
	case Removed:
		c = codeRemoved
	case Kept:
		c = codeKept
	case Failed:
		c = codeFailed
	case Skipped:
		if strings.HasPrefix(f.Message, "gone since it was planned") || strings.HasPrefix(f.Message, "unchanged in S3") {
			c = codeDone
		}
	}
	l.codes[i] = c
	if c == codeUploaded || c == codeRemoved || c == codeKept {
		l.bytes[i] = f.Size
	}
}

// merged is the outcomes of all runs so far and their totals: a file this
// run found done takes the earlier run's outcome when that one did the
// work; Remaining and the timing are this run's.
func (l *outcomeLog) merged(this Totals) (outcomes, Totals) {
	t := this
	t.Uploaded, t.Removed, t.Kept, t.Failed, t.Skipped, t.Bytes = 0, 0, 0, 0, 0, 0
	codes := make([]byte, len(l.codes))
	bytes := make([]int64, len(l.codes))
	for i, c := range l.codes {
		b := l.bytes[i]
		if p := l.prev; p != nil && (c == codeDone || c == codeNone) {
			if pc := p.Codes[i]; pc == codeUploaded || pc == codeRemoved || pc == codeKept {
				c, b = pc, p.Bytes[i]
			}
		}
		codes[i], bytes[i] = c, b
		t.Bytes += b
		switch c {
		case codeUploaded:
			t.Uploaded++
		case codeRemoved:
			t.Removed++
		case codeKept:
			t.Kept++
		case codeFailed:
			t.Failed++
		case codeSkipped, codeDone:
			t.Skipped++
		}
	}
	// Entries the run reported that are not planned files (none today)
	// and skips the walk reported keep this run's count.
	t.Files = this.Files
	return outcomes{Codes: string(codes), Bytes: bytes}, t
}

// readOutcomes reads an earlier run's outcomes of batch b, or nil when
// there are none that fit (n files).
func readOutcomes(ctx context.Context, client *s3.Client, b *BatchRef, n int) *outcomes {
	bucket, folder, _ := b.location()
	var o outcomes
	found, err := getJSON(ctx, client, bucket, folder+outcomesDir+strconv.Itoa(b.Index)+".json", &o)
	if err != nil || !found || len(o.Codes) != n || len(o.Bytes) != n {
		return nil
	}
	return &o
}
