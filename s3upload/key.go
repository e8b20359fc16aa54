package s3upload

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on the UTF-8 length of an object key.
const maxKeyLen = 1024

// Key is THE object key for the file at rel (a path relative to the source
// folder, its folders separated by "/" or the OS separator) under prefix:
// prefix + "/" + rel, or rel alone when prefix is empty. Every other byte is
// part of a name and kept as it is: on Linux a backslash is an ordinary
// name byte, so distinct files never share a key. Trailing slashes of
// prefix never produce "//". Paths that could name something outside the
// source folder (absolute, "..", ".") or that S3 cannot store (empty
// segments, invalid UTF-8, too long) are refused, so a key is never built
// from them.
func Key(prefix, rel string) (string, error) {
	rel = filepath.ToSlash(rel)
	if rel == "" {
		return "", errors.New("empty relative path")
	}
	if strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("absolute path %q", rel)
	}
	if err := checkSegments(rel); err != nil {
		return "", fmt.Errorf("path %q: %w", rel, err)
	}
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" {
		if err := checkSegments(strings.TrimLeft(prefix, "/")); err != nil {
			return "", fmt.Errorf("prefix %q: %w", prefix, err)
		}
	}
	key := rel
	if prefix != "" {
		key = prefix + "/" + rel
	}
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("path %q is not valid UTF-8, which S3 keys must be", rel)
	}
	if len(key) > maxKeyLen {
		return "", fmt.Errorf("key for %q is %d bytes; S3 allows %d", rel, len(key), maxKeyLen)
	}
	return key, nil
}

func checkSegments(p string) error {
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return errors.New("empty path segment")
		case ".", "..":
			return fmt.Errorf("%q segment", seg)
		}
	}
	return nil
}
