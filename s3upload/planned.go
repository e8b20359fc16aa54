package s3upload

import (
	"cmp"
	"context"
	"errors"
	"os"
	slashpath "path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// runPlanned sends the files of a planned batch as the walk would have
// listed them: each folder on the way is opened relative to its parent
// (openat with O_NOFOLLOW), each file is looked up relative to its open
// folder, so a folder swapped for a symlink since planning is never
// followed, and what the run opens must be what this lookup saw (device
// and inode), as in a walk. The files go in path order, so that the
// folders open at once are only those on the way to the current file.
func (w *walker) runPlanned(ctx context.Context, out chan<- item) {
	files := slices.SortedFunc(slices.Values(w.planned), func(a, b batchFile) int { return cmp.Compare(a.Path, b.Path) })
	stack := []*dir{w.top}
	defer func() {
		for i := len(stack) - 1; i > 0; i-- {
			stack[i].release()
		}
		w.top.release()
	}()
	gone := func(rel, msg string) bool {
		return w.send(ctx, out, item{rel: rel, path: displayPath(w.src, rel), skip: msg})
	}
	for i, f := range files {
		if ctx.Err() != nil {
			return
		}
		if i > 0 && f.Path == files[i-1].Path {
			continue
		}
		dirRel, name := slashpath.Split(f.Path)
		dirRel = strings.TrimSuffix(dirRel, "/")
		for len(stack) > 1 && !under(dirRel, stack[len(stack)-1].rel) {
			stack[len(stack)-1].release()
			stack = stack[:len(stack)-1]
		}
		ok := true
		for d := stack[len(stack)-1]; d.rel != dirRel; d = stack[len(stack)-1] {
			rest := strings.TrimPrefix(dirRel, d.rel)
			rest = strings.TrimPrefix(rest, "/")
			seg, _, _ := strings.Cut(rest, "/")
			rel := joinRel(d.rel, seg)
			hook(atOpen, displayPath(w.src, rel))
			fd, err := openAt(d.fd, seg, unix.O_RDONLY|unix.O_DIRECTORY)
			if err != nil {
				ok = false
				switch {
				case errors.Is(err, unix.ENOENT):
					gone(f.Path, "gone since it was planned (folder "+rel+" no longer exists); skipped")
				case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
					gone(f.Path, "folder "+rel+" replaced by a non-folder since it was planned; skipped")
				default:
					w.send(ctx, out, item{rel: f.Path, path: displayPath(w.src, f.Path), fail: "cannot open folder " + rel + ": " + err.Error()})
				}
				break
			}
			child := &dir{f: os.NewFile(uintptr(fd), displayPath(w.src, rel)), fd: fd, rel: rel, name: seg, parent: d, pruner: w.pruner}
			d.hold()
			child.hold()
			stack = append(stack, child)
		}
		if !ok {
			continue
		}
		d := stack[len(stack)-1]
		var st unix.Stat_t
		if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				gone(f.Path, "gone since it was planned; skipped")
			} else {
				w.send(ctx, out, item{rel: f.Path, path: displayPath(w.src, f.Path), fail: "stat: " + err.Error()})
			}
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			gone(f.Path, "no longer a regular file (now a "+kindOfStat(st.Mode)+"); skipped")
			continue
		}
		if !w.send(ctx, out, item{dir: d, name: name, rel: f.Path, path: displayPath(w.src, f.Path), id: idOfStat(&st), size: st.Size}) {
			return
		}
	}
}

// under reports whether the folder rel is base or below it.
func under(rel, base string) bool {
	return base == "" || rel == base || strings.HasPrefix(rel, base+"/")
}
