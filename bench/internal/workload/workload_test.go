package workload

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestNewShapes(t *testing.T) {
	tests := []struct {
		name      string
		files     int
		bytes     int64
		maxFolder int // distinct top folders
	}{
		{"W1", 5000, 5000 * 4 << 10, 50},
		{"W2", 8, 8 * 64 * MiB, 0},
		{"W4", 100000, 100000 << 10, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.name, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Files) != tt.files || p.Bytes() != tt.bytes {
				t.Fatalf("%d files, %d bytes; want %d, %d", len(p.Files), p.Bytes(), tt.files, tt.bytes)
			}
			dirs := map[string]bool{}
			for _, f := range p.Files {
				if d, _, ok := strings.Cut(f.Path, "/"); ok {
					dirs[d] = true
				}
			}
			if len(dirs) != tt.maxFolder {
				t.Errorf("%d folders, want %d", len(dirs), tt.maxFolder)
			}
		})
	}
}

func TestW3IsRealistic(t *testing.T) {
	p, err := New("W3", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 2000 {
		t.Fatalf("%d files, want 2000", len(p.Files))
	}
	var sizes []int64
	large, empty, maxDepth := 0, 0, 0
	for _, f := range p.Files {
		switch {
		case f.Size >= 20*MiB:
			large++
			if f.Size > 100*MiB {
				t.Errorf("%s is %d bytes, more than 100 MiB", f.Path, f.Size)
			}
		case f.Size == 0:
			empty++
		default:
			sizes = append(sizes, f.Size)
		}
		maxDepth = max(maxDepth, strings.Count(f.Path, "/"))
	}
	slices.Sort(sizes)
	med := sizes[len(sizes)/2]
	if large != 4 || empty != 40 || maxDepth != 4 || med < 48<<10 || med > 88<<10 {
		t.Errorf("large %d, empty %d, depth %d, median %d; want 4, 40, 4, about 64 KiB", large, empty, maxDepth, med)
	}
	if mib := p.Bytes() / MiB; mib < 200 || mib > 1000 {
		t.Errorf("total %d MiB, want a few hundred", mib)
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := New("W3", 0.5, 7)
	b, _ := New("W3", 0.5, 7)
	c, _ := New("W3", 0.5, 8)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different plans")
	}
	if a.Digest() == c.Digest() {
		t.Error("different seeds, same plan")
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale float64
	}{{"W9", 1}, {"W1", 0}, {"W1", 1.5}} {
		if _, err := New(tc.name, tc.scale, 1); err == nil {
			t.Errorf("New(%q, %v): no error", tc.name, tc.scale)
		}
	}
}

func TestMaterializeReuseAndCopy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	p, err := New("W3", 0.02, 1) // 40 files, one large one
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Materialize(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	left, err := Remaining(tree.Root)
	if err != nil || len(left) != len(p.Files) {
		t.Fatalf("%d files written (%v), want %d", len(left), err, len(p.Files))
	}
	first := filepath.Join(tree.Root, filepath.FromSlash(p.Files[0].Path))
	b1, _ := os.ReadFile(first)

	// A second run reuses the tree: the file is not rewritten.
	info1, _ := os.Stat(first)
	if _, err := Materialize(dir, p); err != nil {
		t.Fatal(err)
	}
	info2, _ := os.Stat(first)
	if !info2.ModTime().Equal(info1.ModTime()) {
		t.Error("a matching tree was written again")
	}

	// A damaged tree is written anew, with the same bytes.
	if err := os.Remove(first); err != nil {
		t.Fatal(err)
	}
	if _, err := Materialize(dir, p); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(first); string(b1) != string(b2) {
		t.Error("regenerated contents differ")
	}

	cp := filepath.Join(t.TempDir(), "copy")
	if err := LinkCopy(tree, cp); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cp, filepath.FromSlash(p.Files[0].Path))); err != nil {
		t.Fatal(err)
	}
	if left, _ := Remaining(cp); len(left) != len(p.Files)-1 {
		t.Errorf("copy has %d files after one removal, want %d", len(left), len(p.Files)-1)
	}
	if _, err := os.Stat(first); err != nil {
		t.Error("removing from the copy removed the original")
	}
}
