package s3upload

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one of Count parts of the source tree: the files whose
// relative path hashes to Index. Count processes with Index 0..Count-1,
// run at once on the same tree, take every file exactly once, with no
// coordinator: each walks the whole tree and handles only its own files.
// The zero Shard takes every file.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// From names the environment variable Index came from (ParseShard's
	// "auto"), for the report; "" when it was given.
	From string `json:"from,omitempty"`
}

// ShardIndexEnv are the variables ParseShard's "auto" reads, in order: the
// array index of an AWS Batch array job, then of a Kubernetes indexed Job.
var ShardIndexEnv = []string{"AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"}

// ParseShard reads "K/N" (K from 0) or "auto/N", which takes K from the
// first of ShardIndexEnv that getenv finds set. Errors are *OptionError
// with Field "Shard".
func ParseShard(s string, getenv func(string) string) (Shard, error) {
	bad := func(reason string) (Shard, error) {
		return Shard{}, &OptionError{Field: "Shard", Value: strconv.Quote(s), Reason: reason}
	}
	k, n, ok := strings.Cut(s, "/")
	if !ok {
		return bad("want K/N (K from 0 to N-1) or auto/N")
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return bad("N must be a whole number of shards, 1 or more")
	}
	var sh Shard
	sh.Count = count
	if k == "auto" {
		for _, name := range ShardIndexEnv {
			if v := getenv(name); v != "" {
				k, sh.From = v, name
				break
			}
		}
		if sh.From == "" {
			return bad("auto: neither " + strings.Join(ShardIndexEnv, " nor ") + " is set")
		}
	}
	if sh.Index, err = strconv.Atoi(k); err != nil {
		if sh.From != "" {
			return bad(sh.From + "=" + strconv.Quote(k) + " is not a number")
		}
		return bad("K must be a number from 0 to N-1, or auto")
	}
	if r := sh.check(); r != "" {
		return bad(r)
	}
	return sh, nil
}

// check is why Validate refuses s, or "".
func (s Shard) check() string {
	switch {
	case s.Count < 0:
		return "count must not be negative (0: no sharding)"
	case s.Count == 0 && s.Index != 0:
		return "an index needs a count"
	case s.Count > 0 && (s.Index < 0 || s.Index >= s.Count):
		return "index " + strconv.Itoa(s.Index) + " is out of range: want 0 to " + strconv.Itoa(s.Count-1)
	}
	return ""
}

// String is K/N.
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// takes reports whether the file at rel belongs to this shard: FNV-1a
// (64 bit) of the "/"-separated relative path, modulo Count. It depends on
// nothing but the path, so every process and every run agrees.
func (s Shard) takes(rel string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(rel))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}
