// Package workload generates the benchmark's upload workloads: directory
// trees whose file names, sizes and contents follow only from the workload
// name, a scale and a seed, so every run and every machine uploads the same
// bytes.
//
// A tree is written once under its own folder with a manifest beside it
// (never inside it, or the manifest would be uploaded too); a later run
// whose plan matches the manifest and whose files are all present with the
// right sizes reuses the tree.
package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MiB is 2^20 bytes.
const MiB = 1 << 20

// File is one file of a workload, Path relative to the tree's root with /
// separators.
type File struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Plan is a workload's files in a fixed order.
type Plan struct {
	Name  string  `json:"name"`
	Scale float64 `json:"scale"`
	Seed  uint64  `json:"seed"`
	Files []File  `json:"files"`
}

// Bytes is the total size of the plan's files.
func (p Plan) Bytes() int64 {
	var n int64
	for _, f := range p.Files {
		n += f.Size
	}
	return n
}

// Sizes maps each file's path to its size.
func (p Plan) Sizes() map[string]int64 {
	m := make(map[string]int64, len(p.Files))
	for _, f := range p.Files {
		m[f.Path] = f.Size
	}
	return m
}

// Descriptions say what each workload is, for the report.
var Descriptions = map[string]string{
	"W1": "5,000 files of 4 KiB in 50 folders",
	"W2": "8 files of 64 MiB",
	"W3": "about 2,000 files, log-normal sizes (median 64 KiB), 4 of 20-100 MiB, 2 % empty, depth 4",
	"W4": "100,000 files of 1 KiB in 500 folders",
}

// Names lists the workloads in report order.
var Names = []string{"W1", "W2", "W3", "W4"}

// scaled is n*scale rounded, at least min(1, n).
func scaled(n int, scale float64) int {
	v := int(math.Round(float64(n) * scale))
	if v < 1 && n > 0 {
		v = 1
	}
	return v
}

// New makes the plan of workload name (W1..W4) at scale (1 is the full
// size; the smoke run uses a fraction) from seed.
func New(name string, scale float64, seed uint64) (Plan, error) {
	if !(scale > 0) || scale > 1 {
		return Plan{}, fmt.Errorf("workload %s: scale %v, want 0 < scale <= 1", name, scale)
	}
	// Each workload draws from its own stream, so adding one never
	// changes another's files.
	h := sha256.Sum256([]byte(name))
	rng := rand.New(rand.NewPCG(seed, uint64(h[0])<<56|uint64(h[1])<<48|uint64(h[2])<<40|uint64(h[3])))
	p := Plan{Name: name, Scale: scale, Seed: seed}
	switch name {
	case "W1":
		p.Files = flat(scaled(5000, scale), scaled(50, scale), 4<<10)
	case "W2":
		n := scaled(8, scale)
		for i := range n {
			p.Files = append(p.Files, File{Path: fmt.Sprintf("big-%02d.bin", i), Size: 64 * MiB})
		}
	case "W3":
		p.Files = mixed(rng, scaled(2000, scale), scale)
	case "W4":
		p.Files = flat(scaled(100000, scale), scaled(500, scale), 1<<10)
	default:
		return Plan{}, fmt.Errorf("unknown workload %q; want one of %s", name, strings.Join(Names, ", "))
	}
	return p, nil
}

// flat spreads n files of size bytes evenly over dirs folders.
func flat(n, dirs int, size int64) []File {
	files := make([]File, 0, n)
	for i := range n {
		files = append(files, File{Path: fmt.Sprintf("d%03d/f%06d.dat", i%dirs, i), Size: size})
	}
	return files
}

// mixed is the realistic tree: log-normal sizes around a 64 KiB median
// (sigma 1.2, capped at 16 MiB), a few large files of 20-100 MiB, about 2 %
// empty files, at depths 0 to 4.
func mixed(rng *rand.Rand, n int, scale float64) []File {
	// The folder tree: 4 top folders, 3 children each, to depth 4.
	dirs := []string{""}
	level := []string{""}
	for depth := 1; depth <= 4; depth++ {
		var next []string
		for _, parent := range level {
			fan := 3
			if depth == 1 {
				fan = 4
			}
			for j := range fan {
				next = append(next, path.Join(parent, fmt.Sprintf("l%d-%c", depth, 'a'+j)))
			}
		}
		dirs = append(dirs, next...)
		level = next
	}
	large := scaled(4, scale)
	empty := scaled(40, scale)
	files := make([]File, 0, n)
	for i := range n {
		var size int64
		switch {
		case i < large:
			size = (20 + rng.Int64N(81)) * MiB
		case i < large+empty:
			size = 0
		default:
			v := math.Exp(math.Log(64<<10) + 1.2*rng.NormFloat64())
			size = int64(min(max(v, 1), 16*MiB))
		}
		dir := dirs[rng.IntN(len(dirs))]
		files = append(files, File{Path: path.Join(dir, fmt.Sprintf("file-%05d.bin", i)), Size: size})
	}
	// The order files are written in should not group the large ones.
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	return files
}

// Tree is a workload written to disk.
type Tree struct {
	Plan Plan
	// Root is the folder that is uploaded.
	Root string
}

// manifest is the file beside the tree that records what it holds.
func manifestPath(dir string) string { return filepath.Join(dir, "manifest.json") }

// Materialize writes plan under dir/src (dir is the workload's own folder,
// e.g. bench/work/W1-1), reusing a tree that already matches.
func Materialize(dir string, plan Plan) (Tree, error) {
	root := filepath.Join(dir, "src")
	t := Tree{Plan: plan, Root: root}
	want, err := json.Marshal(plan)
	if err != nil {
		return t, err
	}
	if have, err := os.ReadFile(manifestPath(dir)); err == nil && string(have) == string(want) && matches(root, plan) {
		return t, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return t, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return t, err
	}
	for i, f := range plan.Files {
		if err := writeFile(filepath.Join(root, filepath.FromSlash(f.Path)), f.Size, plan.Seed, plan.Name, i); err != nil {
			return t, fmt.Errorf("workload %s: %w", plan.Name, err)
		}
	}
	// The manifest goes last: a tree cut short by an interrupt has none
	// and is written anew next time.
	if err := os.WriteFile(manifestPath(dir), want, 0o644); err != nil {
		return t, err
	}
	return t, nil
}

// matches checks that every planned file exists with its size and that
// nothing else does (a removal run on the tree itself would show here).
func matches(root string, plan Plan) bool {
	sizes := plan.Sizes()
	seen := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		want, ok := sizes[filepath.ToSlash(rel)]
		if !ok {
			return errors.New("extra file")
		}
		info, err := d.Info()
		if err != nil || info.Size() != want {
			return errors.New("size differs")
		}
		seen++
		return nil
	})
	return err == nil && seen == len(plan.Files)
}

// writeFile fills a file with bytes from a ChaCha8 stream keyed by the
// seed, the workload and the file's index: incompressible, and different
// in every file.
func writeFile(p string, size int64, seed uint64, name string, index int) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	var key [32]byte
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%s/%d", seed, name, index))
	copy(key[:], h[:])
	src := rand.NewChaCha8(key)
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, src, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LinkCopy makes dst a copy of the tree made of hard links: instant, no
// extra disk, and removing a file from it leaves the original in place,
// which is what a removal run needs.
func LinkCopy(t Tree, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, f := range t.Plan.Files {
		from := filepath.Join(t.Root, filepath.FromSlash(f.Path))
		to := filepath.Join(dst, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Link(from, to); err != nil {
			return err
		}
	}
	return nil
}

// Remaining lists the regular files left under dir, sorted.
func Remaining(dir string) ([]string, error) {
	var left []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(left)
	return left, err
}

// Digest is a short fingerprint of a plan, for the report.
func (p Plan) Digest() string {
	h := sha256.New()
	for _, f := range p.Files {
		fmt.Fprintf(h, "%s\x00%d\n", f.Path, f.Size)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
