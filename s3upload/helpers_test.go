package s3upload

import (
	"bytes"
	"crypto/rand"
	"maps"
	"os"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// writeTree writes files (relative path -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	testbed.WriteFiles(t, dir, files)
}

// sampleTree is a nested tree with empty files, Unicode and space names.
func sampleTree() map[string][]byte {
	return map[string][]byte{
		"top.txt":                     []byte("top\n"),
		"empty.bin":                   {},
		"a/b/c/deep.csv":              []byte("x,y\n1,2\n"),
		"a/b/empty":                   {},
		"a/with space/file name.json": []byte(`{"k": "v"}`),
		"日本語/ファイル.txt":                []byte("こんにちは\n"),
		"a/random.bin":                randBytes(300 << 10),
	}
}

// sampleSrc writes sampleTree and extra into a new folder and returns the
// folder and the files written there.
func sampleSrc(t *testing.T, extra map[string][]byte) (src string, files map[string][]byte) {
	t.Helper()
	files = sampleTree()
	maps.Copy(files, extra)
	src = t.TempDir()
	writeTree(t, src, files)
	return src, files
}

// treeBytes is the size of all files of a tree written by writeTree.
func treeBytes(files map[string][]byte) int64 {
	var n int64
	for _, b := range files {
		n += int64(len(b))
	}
	return n
}

// compare checks that want (relative path -> content) is exactly what the
// bucket holds under prefix.
func compare(t *testing.T, got map[string][]byte, prefix string, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("bucket holds %d objects, want %d", len(got), len(want))
	}
	for rel, data := range want {
		key, _ := Key(prefix, rel)
		b, ok := got[key]
		if !ok {
			t.Errorf("missing object %q", key)
			continue
		}
		if !bytes.Equal(b, data) {
			t.Errorf("object %q: %d bytes differ from the source's %d", key, len(b), len(data))
		}
	}
}

func byResult(rep *Report) map[Result][]string {
	m := map[Result][]string{}
	for _, f := range rep.Files {
		m[f.Result] = append(m[f.Result], f.Path)
	}
	return m
}

// setHook sets testHook for the life of t. Every run in the process calls
// it, so tests that set it must not be parallel (t.Parallel); parallel
// tests run only after them.
func setHook(t *testing.T, fn func(at stage, name string)) {
	t.Helper()
	testHook = fn
	t.Cleanup(func() { testHook = nil })
}
