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
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The walk never resolves a path below Src twice. Every folder is opened
// relative to the folder that listed it (openat with O_NOFOLLOW), every
// file is opened, checked and removed relative to its open folder, and
// what is opened must be what was listed (device and inode). A folder or
// file swapped for a symlink, a FIFO or another file after it was listed is
// skipped and reported; nothing outside Src is read, and no unlink or rmdir
// can land outside it. Followed symlinks (FollowSymlinks) are resolved
// through an os.Root on Src, which refuses any target outside it.

// fileID is what identifies a file or folder on this machine.
type fileID struct{ dev, ino uint64 }

func idOfStat(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), uint64(st.Ino)} }

// dir is an open folder of the source tree. It stays open while the walk
// lists it and while any file in it or any folder below it is in flight:
// each holds a reference. When the last goes, the folder is closed and, if
// the run removed something in it, pruned (rmdir relative to its parent,
// which only ever removes an empty folder).
type dir struct {
	f      *os.File
	fd     int
	rel    string // relative to Src, "/"-separated; "" for Src itself
	name   string // its name in parent
	parent *dir
	// underLink: reached through a followed folder link. Nothing in it is
	// removed or pruned, since that would delete the link target's files.
	underLink bool
	refs      atomic.Int32
	// emptied: the run removed a file or pruned a folder in it.
	emptied atomic.Bool
	pruner  *pruner // nil unless PruneEmptyDirs
}

func (d *dir) hold() { d.refs.Add(1) }

// release drops one reference; the last closes the folder, prunes it if
// the run emptied it and releases its parent.
func (d *dir) release() {
	if d.refs.Add(-1) != 0 {
		return
	}
	_ = d.f.Close()
	if d.parent == nil {
		return
	}
	if d.pruner != nil && d.emptied.Load() && !d.underLink {
		d.pruner.rmdir(d)
	}
	d.parent.release()
}

// pruner removes the folders a run emptied, never Src itself, and collects
// what went wrong as warnings.
type pruner struct {
	src      string
	mu       sync.Mutex
	warnings []string
}

func (p *pruner) rmdir(d *dir) {
	err := unix.Unlinkat(d.parent.fd, d.name, unix.AT_REMOVEDIR)
	switch {
	case err == nil:
		d.parent.emptied.Store(true)
	case errors.Is(err, unix.ENOENT), isNotEmpty(err):
	default:
		p.mu.Lock()
		p.warnings = append(p.warnings, fmt.Sprintf("prune %s: %s", displayPath(p.src, d.rel), err))
		p.mu.Unlock()
	}
}

func (p *pruner) taken() []string {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.warnings
}

// item is one thing the walk found under the source folder.
type item struct {
	dir  *dir   // the open folder that lists it (nil for skip and fail items)
	name string // its name in dir
	rel  string // relative to Src, "/"-separated
	path string // for the report: Src joined with rel
	// viaRoot is set for a followed symlink: the path inside Src's root to
	// open, and target is the link's content when it was listed.
	viaRoot, target string
	link            bool // a followed symlink (removal deletes the link)
	// id and size are what the walk saw; the file opened must be id.
	id   fileID
	size int64
	// skip or fail: report the item with this message instead of uploading.
	skip, fail string
}

// done releases the item's folder.
func (it item) done() {
	if it.dir != nil {
		it.dir.release()
	}
}

// walker lists the source tree lazily: one folder at a time, in batches, so
// memory stays flat however many files there are.
type walker struct {
	src  string
	root *os.Root // Src, for resolving followed links inside it
	top  *dir
	// bases are Src's absolute path as given and with links resolved: an
	// absolute link target under one of them is inside Src.
	bases    []string
	filter   filter
	follow   bool
	pruner   *pruner
	excluded atomic.Int64 // files left out by include/exclude
	// shard takes only its share of the files; others counts the rest.
	shard  Shard
	others atomic.Int64
	// planned, when set, is the list of files to take (a planned batch)
	// instead of a listing of the tree.
	planned []batchFile
}

const readDirBatch = 256

func newWalker(src string, f filter, follow, prune bool) (*walker, error) {
	root, err := os.OpenRoot(src)
	if err != nil {
		return nil, err
	}
	topf, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, err
	}
	w := &walker{src: src, root: root, filter: f, follow: follow}
	if prune {
		w.pruner = &pruner{src: src}
	}
	w.top = &dir{f: topf, fd: int(topf.Fd()), pruner: w.pruner}
	w.top.hold()
	if abs, err := filepath.Abs(src); err == nil {
		w.bases = append(w.bases, abs)
	}
	if real, err := filepath.EvalSymlinks(src); err == nil {
		if real, err = filepath.Abs(real); err == nil {
			w.bases = append(w.bases, real)
		}
	}
	return w, nil
}

// close closes the root on Src; every item the walk sent is done by then.
func (w *walker) close() error { return w.root.Close() }

// run sends every item to out and closes it. It stops early when ctx is
// done; every item sent holds a reference on its folder that the receiver
// must release (item.done).
func (w *walker) run(ctx context.Context, out chan<- item) {
	defer close(out)
	if w.planned != nil {
		w.runPlanned(ctx, out)
		return
	}
	var st unix.Stat_t
	var ancestors []fileID
	if unix.Fstat(w.top.fd, &st) == nil {
		ancestors = append(ancestors, idOfStat(&st))
	}
	w.list(ctx, w.top, ancestors, out)
	w.top.release()
}

func (w *walker) send(ctx context.Context, out chan<- item, it item) bool {
	if it.dir != nil {
		it.dir.hold()
	}
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		it.done()
		return false
	}
}

// note reports a skip or failure for rel, unless the filters leave rel out
// (then it only counts as excluded).
func (w *walker) note(ctx context.Context, out chan<- item, rel string, it item) bool {
	if !w.filter.takes(rel) {
		w.excluded.Add(1)
		return true
	}
	it.rel, it.path = rel, displayPath(w.src, rel)
	return w.send(ctx, out, it)
}

// list walks one open folder. ancestors are the folders above it (and
// itself), to recognise a followed link that loops back.
func (w *walker) list(ctx context.Context, d *dir, ancestors []fileID, out chan<- item) bool {
	for {
		names, err := d.f.Readdirnames(readDirBatch)
		for _, name := range names {
			if ctx.Err() != nil {
				return false
			}
			if !w.entry(ctx, d, name, ancestors, out) {
				return false
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			return true
		}
		if err != nil {
			rel := d.rel
			return w.send(ctx, out, item{rel: rel, path: displayPath(w.src, rel), fail: "cannot read folder: " + errMsg(err)})
		}
	}
}

func joinRel(dirRel, name string) string {
	if dirRel == "" {
		return name
	}
	return dirRel + "/" + name
}

// displayPath is Src joined with rel, as the report shows it.
func displayPath(src, rel string) string {
	if rel == "" {
		return src
	}
	return filepath.Join(src, filepath.FromSlash(rel))
}

func (w *walker) entry(ctx context.Context, d *dir, name string, ancestors []fileID, out chan<- item) bool {
	rel := joinRel(d.rel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return true // vanished since it was listed
		}
		return w.note(ctx, out, rel, item{fail: "stat: " + err.Error()})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && !w.shard.takes(rel) {
		w.others.Add(1)
		return true
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if w.filter.excluded(rel) {
			return true
		}
		return w.subdir(ctx, d, name, rel, idOfStat(&st), ancestors, out)
	case unix.S_IFREG:
		if !w.filter.takes(rel) {
			w.excluded.Add(1)
			return true
		}
		return w.send(ctx, out, item{dir: d, name: name, rel: rel, path: displayPath(w.src, rel), id: idOfStat(&st), size: st.Size})
	case unix.S_IFLNK:
		if w.filter.excluded(rel) {
			return true
		}
		if !w.follow {
			return w.note(ctx, out, rel, item{skip: "symlink not followed (use --follow-symlinks)"})
		}
		return w.symlink(ctx, d, name, rel, ancestors, out)
	default:
		return w.note(ctx, out, rel, item{skip: "not a regular file (" + kindOfStat(st.Mode) + "); skipped"})
	}
}

// subdir opens the folder name of d, which the listing saw as id, and walks
// it. A folder swapped for a link or another folder since is skipped.
func (w *walker) subdir(ctx context.Context, d *dir, name, rel string, id fileID, ancestors []fileID, out chan<- item) bool {
	hook(atOpen, displayPath(w.src, rel))
	fd, err := openAt(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return true
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			return w.note(ctx, out, rel, item{skip: "folder replaced after it was listed (now not a folder); skipped"})
		}
		return w.note(ctx, out, rel, item{fail: "cannot read folder: " + err.Error()})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || idOfStat(&st) != id {
		unix.Close(fd)
		return w.note(ctx, out, rel, item{skip: "folder replaced after it was listed; skipped"})
	}
	child := &dir{f: os.NewFile(uintptr(fd), displayPath(w.src, rel)), fd: fd, rel: rel, name: name, parent: d,
		underLink: d.underLink, pruner: w.pruner}
	return w.descend(ctx, child, id, ancestors, out)
}

// descend walks child, a folder just opened below its parent.
func (w *walker) descend(ctx context.Context, child *dir, id fileID, ancestors []fileID, out chan<- item) bool {
	child.parent.hold()
	child.hold()
	defer child.release()
	return w.list(ctx, child, append(ancestors[:len(ancestors):len(ancestors)], id), out)
}

// openAt opens name relative to the folder fd without following a final
// symlink, and without blocking on a FIFO or taking a terminal.
func openAt(fd int, name string, flags int) (int, error) {
	for {
		nfd, err := unix.Openat(fd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return nfd, err
		}
	}
}

// inside resolves a followed link's content to a path inside Src's root,
// or "" if it points outside. A relative target is resolved from the
// link's own place (rel); an absolute one must lie under Src.
func (w *walker) inside(rel, target string) string {
	if !filepath.IsAbs(target) {
		return rel
	}
	t := filepath.Clean(target)
	for _, b := range w.bases {
		if t == b {
			return "."
		}
		if strings.HasPrefix(t, b+string(filepath.Separator)) {
			return filepath.ToSlash(t[len(b)+1:])
		}
	}
	return ""
}

// escapes recognises os.Root's refusal of a path that leads outside it; the
// os package reports it with an unexported error whose text is the only
// handle (a test pins it).
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func (w *walker) symlink(ctx context.Context, d *dir, name, rel string, ancestors []fileID, out chan<- item) bool {
	skip := func(msg string) bool { return w.note(ctx, out, rel, item{skip: msg}) }
	target, err := readlinkAt(d.fd, name)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return true
		}
		return skip("symlink: " + err.Error())
	}
	via := w.inside(rel, target)
	if via == "" {
		return skip("symlink points outside the source folder; refused")
	}
	fi, err := w.root.Stat(via)
	switch {
	case escapes(err):
		return skip("symlink points outside the source folder; refused")
	case errors.Is(err, unix.ELOOP):
		return skip("symlink loop; skipped")
	case errors.Is(err, fs.ErrNotExist):
		return skip("broken symlink; skipped")
	case err != nil:
		return skip("symlink: " + errMsg(err))
	}
	st, _ := statT(fi)
	if st == nil {
		return skip("symlink: no file identity")
	}
	id := fileID{uint64(st.Dev), uint64(st.Ino)}
	switch {
	case fi.IsDir():
		for _, a := range ancestors {
			if a == id {
				return skip("symlink loop; skipped")
			}
		}
		f, err := w.root.OpenFile(via, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != nil {
			return skip("symlink: " + errMsg(err))
		}
		var got unix.Stat_t
		fd := int(f.Fd())
		if err := unix.Fstat(fd, &got); err != nil || idOfStat(&got) != id {
			f.Close()
			return skip("symlink target replaced after it was listed; skipped")
		}
		child := &dir{f: f, fd: fd, rel: rel, name: name, parent: d, underLink: true, pruner: w.pruner}
		return w.descend(ctx, child, id, ancestors, out)
	case fi.Mode().IsRegular():
		if !w.filter.takes(rel) {
			w.excluded.Add(1)
			return true
		}
		return w.send(ctx, out, item{dir: d, name: name, rel: rel, path: displayPath(w.src, rel),
			viaRoot: via, target: target, link: true, id: id, size: fi.Size()})
	default:
		return skip("symlink to a non-regular file (" + kindOf(fi.Mode().Type()) + "); skipped")
	}
}

func readlinkAt(fd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// open opens the file the walk listed, without following a symlink put in
// its place and without blocking on anything that is not a regular file,
// and checks it is the one listed. skip is set, and the file nil, when it
// is not.
func (w *walker) open(it item) (f *os.File, skip string, err error) {
	hook(atOpen, it.path)
	if it.viaRoot != "" {
		f, err = w.root.OpenFile(it.viaRoot, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if errors.Is(err, unix.ENXIO) {
			return nil, "symlink target replaced by a socket after it was listed; skipped", nil
		}
		if escapes(err) {
			return nil, "symlink now points outside the source folder; refused", nil
		}
	} else {
		var fd int
		fd, err = openAt(it.dir.fd, it.name, unix.O_RDONLY)
		switch {
		case errors.Is(err, unix.ELOOP):
			return nil, "replaced by a symlink after it was listed; skipped", nil
		case errors.Is(err, unix.ENXIO):
			return nil, "replaced by a socket after it was listed; skipped", nil
		case err == nil:
			f = os.NewFile(uintptr(fd), it.path)
		}
	}
	if err != nil {
		return nil, "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, "replaced by a " + kindOfStat(st.Mode) + " after it was listed; skipped", nil
	}
	if idOfStat(&st) != it.id {
		f.Close()
		return nil, "replaced by another file after it was listed; skipped", nil
	}
	return f, "", nil
}

func kindOfStat(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "device"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFDIR:
		return "folder"
	}
	return fmt.Sprintf("mode %o", mode)
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
