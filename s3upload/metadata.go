package s3upload

import (
	"io/fs"
	"strconv"
)

// The user metadata each object carries (unless Options.NoMetadata), in the
// names and formats the tools that restore POSIX metadata from S3 read:
//
//   - rclone: "mtime" (seconds since the epoch with 9 decimals, what its S3
//     backend reads as the modification time), and "mode" (octal st_mode),
//     "uid" and "gid" (decimal), what its local backend applies with
//     --metadata;
//   - S3 File Gateway, DataSync and FSx/File Cache data repositories:
//     "file-mtime" (nanoseconds since the epoch with an "ns" suffix),
//     "file-permissions" (octal st_mode, file type included, with a
//     leading 0), "file-owner" and "file-group" (decimal uid and gid).
//
// Values are built with strconv: this runs for every file.
const (
	metaMtime     = "mtime"
	metaMode      = "mode"
	metaUID       = "uid"
	metaGID       = "gid"
	metaFileMtime = "file-mtime"
	metaFilePerm  = "file-permissions"
	metaFileOwner = "file-owner"
	metaFileGroup = "file-group"
)

// fileMetadata is the user metadata for the file fi describes.
func fileMetadata(fi fs.FileInfo) map[string]string {
	m := make(map[string]string, 8)
	m[metaMtime] = mtimeValue(fi)
	m[metaFileMtime] = strconv.FormatInt(fi.ModTime().UnixNano(), 10) + "ns"
	if st, ok := statT(fi); ok {
		mode := strconv.FormatUint(uint64(st.Mode), 8)
		uid := strconv.FormatUint(uint64(st.Uid), 10)
		gid := strconv.FormatUint(uint64(st.Gid), 10)
		m[metaMode], m[metaUID], m[metaGID] = mode, uid, gid
		m[metaFilePerm], m[metaFileOwner], m[metaFileGroup] = "0"+mode, uid, gid
	}
	return m
}

// mtimeValue is rclone's form of the file's mtime: seconds, a dot, nine
// digits of nanoseconds.
func mtimeValue(fi fs.FileInfo) string {
	t := fi.ModTime()
	ns := strconv.Itoa(t.Nanosecond())
	const zeros = "000000000"
	return strconv.FormatInt(t.Unix(), 10) + "." + zeros[len(ns):] + ns
}
