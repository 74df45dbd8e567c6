package volunteer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/work"
)

// readExtras reads the extra outputs a job asks for (Manifest.Extras) from
// a render's result: they are committed to with the PNG and delivered with
// it in one bundle.
func readExtras(res render.Result, want []string) (map[string][]byte, error) {
	if len(want) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(want))
	for _, ext := range want {
		p, ok := res.Extras[ext]
		if !ok {
			return nil, fmt.Errorf("renderer output: no %s file", ext)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("renderer output: %w", err)
		}
		out[ext] = b
	}
	return out, nil
}

// writeBundle writes the delivery bundle of a PNG and its extras into dir
// and returns its path.
func writeBundle(dir string, png []byte, extras map[string][]byte) (string, error) {
	path := filepath.Join(dir, "result.bundle")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := work.WriteBundle(f, png, extras); err != nil {
		f.Close()
		return "", fmt.Errorf("bundling the result: %w", err)
	}
	return path, f.Close()
}
