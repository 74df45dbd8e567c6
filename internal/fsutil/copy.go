// Package fsutil holds the small file-system helpers that more than one
// package needs.
package fsutil

import (
	"io"
	"os"
	"path/filepath"
)

// CopyFile copies src to the new file dst (0644), creating dst's
// directories; it never overwrites an existing dst.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return CreateFrom(dst, in)
}

// CreateFrom writes what r holds to the new file dst (0644), creating
// dst's directories; it never overwrites an existing dst.
func CreateFrom(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
