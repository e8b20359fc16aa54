package s3upload

import (
	"errors"
	"hash/maphash"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func statT(fi fs.FileInfo) (*syscall.Stat_t, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// fingerprint is what must not change between reading a file and removing
// it.
type fingerprint struct {
	size         int64
	mtime, ctime time.Time
	dev, ino     uint64
}

func fingerprintOf(fi fs.FileInfo) fingerprint {
	fp := fingerprint{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := statT(fi); ok {
		fp.dev, fp.ino = uint64(st.Dev), uint64(st.Ino)
		fp.ctime = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	}
	return fp
}

func fingerprintOfStat(st *unix.Stat_t) fingerprint {
	return fingerprint{
		size:  st.Size,
		mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
		dev:   uint64(st.Dev), ino: uint64(st.Ino),
	}
}

// remove deletes the source of a verified object, but only if it is still
// the file that was read: same inode, size, mtime and ctime, looked up in
// the folder the walk listed. Otherwise it is kept ("changed during
// upload"). The unlink is relative to that open folder, so it can never
// land outside Src whatever was renamed meanwhile. For a followed symlink
// the link is removed, never its target, and only while it still leads to
// the file that was read; a file reached through a followed folder link is
// never removed, since that would delete a file of the target folder.
func (u *uploader) remove(o outcome) outcome {
	o.file = u.removeFile(o.remove.it, o.file, o.remove.before)
	o.remove = nil
	return o
}

func (u *uploader) removeFile(it item, f File, before fingerprint) File {
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
	if it.dir.underLink {
		return done(Kept, "reached through a symlinked folder; source not removed")
	}
	if it.link {
		if target, err := readlinkAt(it.dir.fd, it.name); err != nil || target != it.target {
			return done(Kept, "symlink changed during upload; link kept")
		}
		fi, err := u.walk.root.Stat(it.viaRoot)
		if err != nil || fingerprintOf(fi) != before {
			return done(Kept, "changed during upload; link kept")
		}
	} else {
		var st unix.Stat_t
		if err := unix.Fstatat(it.dir.fd, it.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return done(Kept, "changed during upload (gone: "+err.Error()+"); source kept")
		}
		if fingerprintOfStat(&st) != before {
			return done(Kept, "changed during upload; source kept")
		}
	}
	if err := unix.Unlinkat(it.dir.fd, it.name, 0); err != nil {
		return done(Failed, "verified in S3, but removing the source failed: "+err.Error())
	}
	it.dir.emptied.Store(true)
	return done(Removed, "")
}

// claims are the keys this run has given to files. The key mapping is
// one-to-one by construction (Key keeps every name byte); this guard
// makes sure of it at run time, so that no two files ever share a key
// whatever the tree holds: the second file fails and is kept. A key is
// held as a 64-bit hash with the file's identity, so memory stays small;
// a hash collision between two distinct keys would fail a file, never
// lose one.
type claims struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]fileID
}

type claim int

const (
	claimed        claim = iota // the key is the file's now
	claimedBySame               // the same file was listed twice
	claimedByOther              // another file has the key
)

func newClaims() *claims { return &claims{seed: maphash.MakeSeed(), m: map[uint64]fileID{}} }

func (c *claims) claim(key string, id fileID) claim {
	h := maphash.String(c.seed, key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[h]; ok {
		if prev == id {
			return claimedBySame
		}
		return claimedByOther
	}
	c.m[h] = id
	return claimed
}
