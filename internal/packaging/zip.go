// Package packaging writes Lambda deployment zips that are byte-for-byte
// reproducible: the same inputs give the same archive, whatever the files'
// timestamps, owners or the order they were named in. `make package` uses it
// through internal/mkzip; the tests here also check what `make package`
// builds.
package packaging

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Epoch is the modification time of every entry. 1980-01-01 is the earliest
// time an MS-DOS zip timestamp can hold, so readers show the same date
// whichever timestamp field they use.
var Epoch = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Bootstrap is the name provided.al2023 executes.
const Bootstrap = "bootstrap"

// File is one entry: Name inside the archive, its contents read from Path.
type File struct {
	Name string
	Path string
}

// Mode is the permission an entry gets: Lambda runs bootstrap, so it must be
// executable; everything else only needs to be readable by the runtime user.
func Mode(name string) fs.FileMode {
	if name == Bootstrap {
		return 0o755
	}
	return 0o644
}

// Write writes files to w as a zip with bootstrap first and the rest sorted
// by name, each with Epoch as its time and Mode(name) as its permission.
// Names must be plain file names at the archive root, as Lambda looks for
// bootstrap and the config files there.
func Write(w io.Writer, files []File) error {
	if len(files) == 0 {
		return errors.New("packaging: no files to zip")
	}
	files = slices.Clone(files)
	seen := map[string]bool{}
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return err
		}
		if seen[f.Name] {
			return fmt.Errorf("packaging: %q given twice", f.Name)
		}
		seen[f.Name] = true
	}
	slices.SortFunc(files, func(a, b File) int {
		if (a.Name == Bootstrap) != (b.Name == Bootstrap) {
			if a.Name == Bootstrap {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	zw := zip.NewWriter(w)
	for _, f := range files {
		if err := add(zw, f); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("packaging: finish zip: %w", err)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("packaging: bad entry name %q", name)
	case strings.ContainsAny(name, `/\`) || path.Base(name) != name:
		return fmt.Errorf("packaging: entry %q must be a plain file name at the zip's root", name)
	}
	return nil
}

func add(zw *zip.Writer, f File) error {
	src, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("packaging: %s: %w", f.Name, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("packaging: %s: %w", f.Name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("packaging: %s: %s is not a regular file", f.Name, f.Path)
	}
	h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: Epoch}
	h.SetMode(Mode(f.Name))
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("packaging: %s: %w", f.Name, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		return fmt.Errorf("packaging: %s: read %s: %w", f.Name, f.Path, err)
	}
	return nil
}

// WriteFile writes the zip to out through a temporary file in the same
// folder, so an interrupted build never leaves a half-written zip behind.
func WriteFile(out string, files []File) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return fmt.Errorf("packaging: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := Write(tmp, files); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("packaging: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("packaging: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("packaging: %w", err)
	}
	return nil
}
