package work

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A result with extra outputs (job.Manifest.Extras) is delivered as one
// body, a bundle: a zip of stored entries "image.png" (the verified image)
// and "image.EXT" for every extra, nothing else. A task without extras
// delivers its PNG alone, as before bundles existed.

// BundleImage is the bundle entry of the verified PNG.
const BundleImage = "image.png"

// ErrBadBundle is wrapped by every error ReadBundle returns.
var ErrBadBundle = errors.New("malformed result bundle")

// WriteBundle writes a bundle of the PNG and the extras (extension ->
// content) to w.
func WriteBundle(w io.Writer, png []byte, extras map[string][]byte) error {
	zw := zip.NewWriter(w)
	add := func(name string, b []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return err
	}
	if err := add(BundleImage, png); err != nil {
		return err
	}
	names := make([]string, 0, len(extras))
	for ext := range extras {
		names = append(names, ext)
	}
	slices.Sort(names)
	for _, ext := range names {
		if err := add("image."+ext, extras[ext]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// ReadBundle opens a delivered bundle that must hold the PNG and exactly
// the extras named (extensions), each at most maxEntry bytes; it returns
// the PNG and the extras by extension.
func ReadBundle(data []byte, extras []string, maxEntry int64) (png []byte, files map[string][]byte, err error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	want := map[string]string{BundleImage: ""}
	for _, ext := range extras {
		want["image."+ext] = ext
	}
	files = map[string][]byte{}
	for _, f := range zr.File {
		ext, ok := want[f.Name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: unexpected entry %q", ErrBadBundle, f.Name)
		}
		delete(want, f.Name)
		if f.Method != zip.Store || f.UncompressedSize64 > uint64(maxEntry) {
			return nil, nil, fmt.Errorf("%w: entry %q not stored or over %d bytes", ErrBadBundle, f.Name, maxEntry)
		}
		r, err := f.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
		}
		b, err := io.ReadAll(io.LimitReader(r, maxEntry+1))
		r.Close()
		if err != nil || int64(len(b)) > maxEntry {
			return nil, nil, fmt.Errorf("%w: entry %q: %v", ErrBadBundle, f.Name, err)
		}
		if f.Name == BundleImage {
			png = b
		} else {
			files[ext] = b
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		slices.Sort(missing)
		return nil, nil, fmt.Errorf("%w: missing %v", ErrBadBundle, missing)
	}
	return png, files, nil
}
