package blender

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
)

// zeroTimes rewrites, in place, the digits of the OpenEXR header's string
// attributes that hold times (Cycles writes "cycles.<view layer>.render_time"
// and "….synchronization_time" whatever the stamp settings): with them
// zeroed, two renders of the same frame that give the same pixels give the
// same file, byte for byte. Lengths do not change, so the offset table
// stays valid.
func zeroTimes(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, exrMagic) || len(b) < 8 {
		return errors.New("not an OpenEXR file")
	}
	changed := false
	i := 8
	for range 4096 {
		name, n := cstring(b, i)
		if n < 0 {
			return errors.New("truncated header")
		}
		i += n
		if name == "" {
			break // the header's end
		}
		typ, n := cstring(b, i)
		if n < 0 || i+n+4 > len(b) {
			return errors.New("truncated header")
		}
		i += n
		size := int(binary.LittleEndian.Uint32(b[i:]))
		i += 4
		if size < 0 || i+size > len(b) {
			return errors.New("truncated header")
		}
		if l := strings.ToLower(name); typ == "string" && (strings.Contains(l, "time") || strings.Contains(l, "date")) {
			for k := i; k < i+size; k++ {
				if b[k] >= '1' && b[k] <= '9' {
					b[k], changed = '0', true
				}
			}
		}
		i += size
	}
	if !changed {
		return nil
	}
	return os.WriteFile(path, b, 0o644)
}

// cstring reads the NUL-terminated string at b[i:] and how many bytes it
// took with its NUL, or -1.
func cstring(b []byte, i int) (string, int) {
	if i >= len(b) {
		return "", -1
	}
	j := bytes.IndexByte(b[i:], 0)
	if j < 0 || j > 255 {
		return "", -1
	}
	return string(b[i : i+j]), j + 1
}
