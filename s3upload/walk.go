package s3upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// item is one thing the walk found under the source folder.
type item struct {
	path string // the path as walked; may pass through followed folder links
	rel  string // relative to the source folder, "/"-separated
	open string // what to read: path, or a followed link's resolved target
	// link: path itself is a followed symlink (removal deletes the link).
	link bool
	// underLink: reached through a followed folder link; never removed,
	// since deleting it would delete a file of the link's target.
	underLink bool
	// skip or fail: report the item with this message instead of uploading.
	skip, fail string
}

// walker lists the source tree lazily: one folder at a time, in batches, so
// memory stays flat however many files there are.
type walker struct {
	src     string // as given
	realSrc string // with symlinks resolved, for the "inside SRC" check
	filter  filter
	follow  bool
	// excluded counts files left out by include/exclude.
	excluded int64
}

const readDirBatch = 256

func newWalker(src string, f filter, follow bool) (*walker, error) {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return nil, err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, err
	}
	return &walker{src: src, realSrc: real, filter: f, follow: follow}, nil
}

type dirID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (dirID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirID{}, false
	}
	return dirID{uint64(st.Dev), uint64(st.Ino)}, true
}

// run sends every item to out and closes it. It stops early when ctx is
// done.
func (w *walker) run(ctx context.Context, out chan<- item) {
	defer close(out)
	fi, err := os.Stat(w.src)
	if err != nil {
		return
	}
	id, _ := idOf(fi)
	w.dir(ctx, w.src, "", false, []dirID{id}, out)
}

func (w *walker) send(ctx context.Context, out chan<- item, it item) bool {
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// dir walks one folder. ancestors are the folders above it (and itself),
// to recognise a followed link that loops back.
func (w *walker) dir(ctx context.Context, path, rel string, underLink bool, ancestors []dirID, out chan<- item) bool {
	f, err := os.Open(path)
	if err != nil {
		return w.send(ctx, out, item{path: path, rel: rel, fail: "cannot read folder: " + errMsg(err)})
	}
	defer f.Close()
	for {
		entries, err := f.ReadDir(readDirBatch)
		for _, e := range entries {
			if ctx.Err() != nil {
				return false
			}
			if !w.entry(ctx, path, rel, e, underLink, ancestors, out) {
				return false
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(entries) == 0) {
			return true
		}
		if err != nil {
			return w.send(ctx, out, item{path: path, rel: rel, fail: "cannot read folder: " + errMsg(err)})
		}
	}
}

func (w *walker) entry(ctx context.Context, dir, dirRel string, e fs.DirEntry, underLink bool, ancestors []dirID, out chan<- item) bool {
	p := filepath.Join(dir, e.Name())
	rel := e.Name()
	if dirRel != "" {
		rel = dirRel + "/" + e.Name()
	}
	typ := e.Type()
	switch {
	case typ.IsDir():
		if w.filter.excluded(rel) {
			return true
		}
		fi, err := e.Info()
		if err != nil {
			return true // vanished meanwhile
		}
		id, _ := idOf(fi)
		return w.dir(ctx, p, rel, underLink, append(ancestors[:len(ancestors):len(ancestors)], id), out)
	case typ.IsRegular():
		if !w.filter.takes(rel) {
			w.excluded++
			return true
		}
		return w.send(ctx, out, item{path: p, rel: rel, open: p, underLink: underLink})
	case typ&fs.ModeSymlink != 0:
		if w.filter.excluded(rel) {
			return true
		}
		if !w.follow {
			if !w.filter.takes(rel) {
				w.excluded++
				return true
			}
			return w.send(ctx, out, item{path: p, rel: rel, skip: "symlink not followed (use --follow-symlinks)"})
		}
		return w.symlink(ctx, p, rel, underLink, ancestors, out)
	default:
		if !w.filter.takes(rel) {
			w.excluded++
			return true
		}
		return w.send(ctx, out, item{path: p, rel: rel, skip: "not a regular file (" + kindOf(typ) + "); skipped"})
	}
}

func (w *walker) symlink(ctx context.Context, p, rel string, underLink bool, ancestors []dirID, out chan<- item) bool {
	skip := func(msg string) bool {
		if !w.filter.takes(rel) {
			w.excluded++
			return true
		}
		return w.send(ctx, out, item{path: p, rel: rel, skip: msg})
	}
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "too many links") {
			return skip("symlink loop; skipped")
		}
		return skip("broken symlink; skipped")
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return skip("symlink: " + errMsg(err))
	}
	// The target must stay inside SRC: a link to /proc/self/environ would
	// otherwise upload the Lambda function's credentials.
	if target != w.realSrc && !strings.HasPrefix(target, w.realSrc+string(filepath.Separator)) {
		return skip("symlink points outside the source folder; refused")
	}
	fi, err := os.Stat(target)
	if err != nil {
		return skip("broken symlink; skipped")
	}
	switch {
	case fi.IsDir():
		if w.filter.excluded(rel) {
			return true
		}
		id, ok := idOf(fi)
		if ok {
			for _, a := range ancestors {
				if a == id {
					return w.send(ctx, out, item{path: p, rel: rel, skip: "symlink loop; skipped"})
				}
			}
		}
		return w.dir(ctx, p, rel, true, append(ancestors[:len(ancestors):len(ancestors)], id), out)
	case fi.Mode().IsRegular():
		if !w.filter.takes(rel) {
			w.excluded++
			return true
		}
		return w.send(ctx, out, item{path: p, rel: rel, open: target, link: true, underLink: underLink})
	default:
		return skip("symlink to a non-regular file (" + kindOf(fi.Mode().Type()) + "); skipped")
	}
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeIrregular != 0:
		return "irregular file"
	}
	return fmt.Sprintf("mode %v", m)
}

// errMsg is an OS error without the path the report already shows.
func errMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
