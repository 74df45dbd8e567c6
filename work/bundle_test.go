package work

import (
	"archive/zip"
	"bytes"
	"errors"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBundle(&buf, []byte("png"), map[string][]byte{"exr": []byte("exr")}); err != nil {
		t.Fatal(err)
	}
	png, files, err := ReadBundle(buf.Bytes(), []string{"exr"}, 1<<20)
	if err != nil || string(png) != "png" || string(files["exr"]) != "exr" || len(files) != 1 {
		t.Fatalf("got %q %q %v", png, files, err)
	}
}

// A bundle with a missing, unexpected, oversized or traversing entry is
// refused.
func TestBundleRefusesWhatWasNotAskedFor(t *testing.T) {
	mk := func(entries ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			f, _ := zw.CreateHeader(&zip.FileHeader{Name: e, Method: zip.Store})
			f.Write(bytes.Repeat([]byte{1}, 10))
		}
		zw.Close()
		return buf.Bytes()
	}
	for name, data := range map[string][]byte{
		"no exr":      mk("image.png"),
		"no png":      mk("image.exr"),
		"extra entry": mk("image.png", "image.exr", "notes.txt"),
		"traversal":   mk("image.png", "image.exr", "../image.exr"),
		"duplicate":   mk("image.png", "image.exr", "image.exr"),
		"not a zip":   []byte("PNG..."),
	} {
		if _, _, err := ReadBundle(data, []string{"exr"}, 1<<20); !errors.Is(err, ErrBadBundle) {
			t.Errorf("%s: err = %v, want ErrBadBundle", name, err)
		}
	}
	if _, _, err := ReadBundle(mk("image.png", "image.exr"), []string{"exr"}, 5); !errors.Is(err, ErrBadBundle) {
		t.Errorf("oversized entry: err = %v", err)
	}
}
