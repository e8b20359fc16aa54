package s3upload

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on the UTF-8 length of an object key.
const maxKeyLen = 1024

// Key is THE object key for the file at rel (a path relative to the source
// folder, with "/" or the OS separator) under prefix: prefix + "/" + rel, or
// rel alone when prefix is empty. Trailing slashes of prefix never produce
// "//". Paths that could name something outside the source folder (absolute,
// "..", ".") or that S3 cannot store (empty segments, invalid UTF-8, too
// long) are refused, so a key is never built from them.
func Key(prefix, rel string) (string, error) {
	rel = strings.ReplaceAll(rel, `\`, "/")
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
