// Command pack writes one release archive reproducibly: the same files
// give the same bytes, whoever builds them and whenever. Entries are in
// the order given, owned by root, with fixed modes and every timestamp
// set to -mtime (SOURCE_DATE_EPOCH); gzip headers carry no name or time.
// A name ending in .zip makes a zip archive (Windows), anything else a
// gzipped tar.
//
//	go run ./dist/pack -o renderswarm-1.0.0-linux-amd64.tar.gz -mtime 1700000000 \
//	    -dir renderswarm-1.0.0-linux-amd64 renderswarm=/tmp/b/renderswarm README.md=README.md
//
// It is part of dist/build and imports only the standard library.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// file is one archive entry: its name inside the archive's folder and
// the file it is read from.
type file struct {
	name, src string
	mode      int64
}

func main() {
	out := flag.String("o", "", "archive to write (.zip or .tar.gz)")
	mtime := flag.Int64("mtime", 0, "timestamp of every entry, seconds since 1970 (SOURCE_DATE_EPOCH)")
	dir := flag.String("dir", "", "folder the archive's entries are in")
	flag.Parse()
	if *out == "" || *dir == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pack -o ARCHIVE -mtime EPOCH -dir FOLDER NAME=FILE...")
		os.Exit(2)
	}
	var files []file
	for _, a := range flag.Args() {
		name, src, ok := strings.Cut(a, "=")
		if !ok || name == "" || src == "" {
			fmt.Fprintf(os.Stderr, "pack: %q is not NAME=FILE\n", a)
			os.Exit(2)
		}
		fi, err := os.Stat(src)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pack:", err)
			os.Exit(1)
		}
		// Only two modes: executables and the rest.
		mode := int64(0o644)
		if fi.Mode()&0o111 != 0 || strings.HasSuffix(name, ".exe") {
			mode = 0o755
		}
		files = append(files, file{name: *dir + "/" + name, src: src, mode: mode})
	}
	if err := write(*out, files, time.Unix(*mtime, 0).UTC()); err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
}

// write writes the archive to a temporary file and renames it into place.
func write(out string, files []file, mtime time.Time) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	if strings.HasSuffix(out, ".zip") {
		err = writeZip(f, files, mtime)
	} else {
		err = writeTarGz(f, files, mtime)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(out+".tmp", out)
}

func writeTarGz(w io.Writer, files []file, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(b)), Mode: f.mode,
			ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return errors.Join(tw.Close(), gz.Close())
}

func writeZip(w io.Writer, files []file, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(f.mode))
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := zf.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}
