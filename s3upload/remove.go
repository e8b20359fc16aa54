package s3upload

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

func statT(fi fs.FileInfo) (*syscall.Stat_t, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// remove deletes the source of a verified object, but only if it is still
// the file that was read: same inode, size, mtime and ctime. Otherwise it is
// kept ("changed during upload"). For a followed symlink the link is
// removed, never its target; a file reached through a followed folder link
// is never removed, since that would delete a file of the target folder.
func (u *uploader) remove(it item, f File, before fingerprint) File {
	done := func(r Result, msg string) File {
		f.Result = r
		if msg != "" {
			if f.Message != "" {
				msg = f.Message + "; " + msg
			}
			f.Message = msg
		}
		return f
	}
	if it.underLink {
		return done(Kept, "reached through a symlinked folder; source not removed")
	}
	after, err := os.Stat(it.open)
	if err != nil {
		return done(Kept, "changed during upload (gone: "+errMsg(err)+"); source kept")
	}
	if fingerprintOf(after) != before {
		return done(Kept, "changed during upload; source kept")
	}
	if it.link {
		// The link must still lead to the file that was read.
		if target, err := filepath.EvalSymlinks(it.path); err != nil || target != it.open {
			return done(Kept, "symlink changed during upload; link kept")
		}
		if fi, err := os.Lstat(it.path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return done(Kept, "symlink changed during upload; kept")
		}
	}
	if err := os.Remove(it.path); err != nil {
		return done(Failed, "verified in S3, but removing the source failed: "+errMsg(err))
	}
	return done(Removed, "")
}
