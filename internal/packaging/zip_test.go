package packaging

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeInputs writes name->content files under dir with the given mtime and
// returns them as Files in the given order.
func writeInputs(t *testing.T, dir string, mtime time.Time, perm fs.FileMode, order []string, content map[string]string) []File {
	t.Helper()
	var files []File
	for _, name := range order {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content[name]), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: name, Path: p})
	}
	return files
}

func zipBytes(t *testing.T, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, files); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestWriteLayout(t *testing.T) {
	content := map[string]string{
		"bootstrap":                   "\x7fELF not really",
		"aws_resource_start_stop.yml": "region_name: ap-northeast-1\n",
		"aws_s3_upload.yml":           "region_name: ap-northeast-1\n",
	}
	files := writeInputs(t, t.TempDir(), time.Now(), 0o600,
		[]string{"aws_s3_upload.yml", "bootstrap", "aws_resource_start_stop.yml"}, content)
	b := zipBytes(t, files)

	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		mode fs.FileMode
	}{
		{"bootstrap", 0o755},
		{"aws_resource_start_stop.yml", 0o644},
		{"aws_s3_upload.yml", 0o644},
	}
	if len(r.File) != len(want) {
		t.Fatalf("zip has %d entries, want %d", len(r.File), len(want))
	}
	for i, w := range want {
		f := r.File[i]
		if f.Name != w.name {
			t.Errorf("entry %d is %q, want %q", i, f.Name, w.name)
		}
		if f.Mode() != w.mode {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), w.mode)
		}
		if !f.Modified.Equal(Epoch) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, Epoch)
		}
		if f.Method != zip.Deflate {
			t.Errorf("%s: method %d, want deflate", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if string(got) != content[w.name] {
			t.Errorf("%s: content %q, want %q", f.Name, got, content[w.name])
		}
	}
}

// TestWriteReproducible: the input files' times, permissions and the order
// they are named in must not reach the zip.
func TestWriteReproducible(t *testing.T) {
	content := map[string]string{"bootstrap": strings.Repeat("binary", 1000), "aws_s3_upload.yml": "region_name: us-east-1\n"}
	a := zipBytes(t, writeInputs(t, t.TempDir(), time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), 0o600,
		[]string{"bootstrap", "aws_s3_upload.yml"}, content))
	b := zipBytes(t, writeInputs(t, t.TempDir(), time.Now(), 0o777,
		[]string{"aws_s3_upload.yml", "bootstrap"}, content))
	if !bytes.Equal(a, b) {
		t.Fatal("two zips of the same contents differ")
	}
	content["aws_s3_upload.yml"] = "region_name: us-west-2\n"
	c := zipBytes(t, writeInputs(t, t.TempDir(), time.Now(), 0o644,
		[]string{"bootstrap", "aws_s3_upload.yml"}, content))
	if bytes.Equal(a, c) {
		t.Fatal("zips of different contents are equal")
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(ok, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"none", nil, "no files"},
		{"duplicate", []File{{"bootstrap", ok}, {"bootstrap", ok}}, `"bootstrap" given twice`},
		{"subfolder", []File{{"bootstrap", ok}, {"conf/a.yml", ok}}, "plain file name"},
		{"backslash", []File{{`conf\a.yml`, ok}}, "plain file name"},
		{"dotdot", []File{{"..", ok}}, "bad entry name"},
		{"empty name", []File{{"", ok}}, "bad entry name"},
		{"missing", []File{{"bootstrap", filepath.Join(dir, "nope")}}, "no such file"},
		{"folder", []File{{"bootstrap", dir}}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(io.Discard, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestWriteFileLeavesNothingOnError: a failed build must not leave a zip
// (or a temporary file) that a later deploy could pick up.
func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f.zip")
	err := WriteFile(out, []File{{"bootstrap", filepath.Join(dir, "missing")}})
	if err == nil {
		t.Fatal("WriteFile succeeded with a missing input")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("WriteFile left %v behind", entries)
	}

	in := filepath.Join(dir, "bin")
	if err := os.WriteFile(in, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(out, []File{{"bootstrap", in}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("zip mode %v, want 0644", st.Mode().Perm())
	}
}
