package assets

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

func TestValidateInfo(t *testing.T) {
	ok := func() metainfo.Info {
		return metainfo.Info{Name: "n", PieceLength: 64 << 10, Pieces: make([]byte, 20), Files: []metainfo.FileInfo{
			{Length: 20, Path: []string{"a", "b"}}, {Length: 5, Path: []string{"c"}}, {Length: 0, Path: []string{"e"}},
		}}
	}
	for _, tc := range []struct {
		name string
		edit func(*metainfo.Info)
		good bool
	}{
		{"fine", func(*metainfo.Info) {}, true},
		{"dotdot", func(i *metainfo.Info) { i.Files[0].Path = []string{"..", "b"} }, false},
		{"dot", func(i *metainfo.Info) { i.Files[0].Path = []string{".", "b"} }, false},
		{"absolute", func(i *metainfo.Info) { i.Files[0].Path = []string{"/etc", "b"} }, false},
		{"backslash", func(i *metainfo.Info) { i.Files[0].Path = []string{`..\b`} }, false},
		{"emptyPath", func(i *metainfo.Info) { i.Files[0].Path = nil }, false},
		{"emptyComponent", func(i *metainfo.Info) { i.Files[0].Path = []string{"a", ""} }, false},
		{"utf8Variant", func(i *metainfo.Info) { i.Files[0].PathUtf8 = []string{"..", "x"} }, false},
		{"duplicate", func(i *metainfo.Info) { i.Files[1].Path = []string{"a", "b"} }, false},
		{"fileIsDir", func(i *metainfo.Info) { i.Files[1].Path = []string{"a"} }, false},
		{"singleFileDotdot", func(i *metainfo.Info) { i.Files = nil; i.Length = 25; i.Name = ".." }, false},
		{"singleFile", func(i *metainfo.Info) { i.Files = nil; i.Length = 25; i.Name = "f.blend" }, true},
		{"pieceCount", func(i *metainfo.Info) { i.Pieces = make([]byte, 40) }, false},
		{"singleChunkPieces", func(i *metainfo.Info) { i.PieceLength = 16 << 10; i.Pieces = make([]byte, 40) }, false},
		{"negative", func(i *metainfo.Info) { i.Files[1].Length = -5 }, false},
		{"symlink", func(i *metainfo.Info) { i.Files[1].Attr = "l"; i.Files[1].SymlinkPath = []string{"/etc/passwd"} }, false},
		{"emptyFileInTheMiddle", func(i *metainfo.Info) { i.Files[1], i.Files[2] = i.Files[2], i.Files[1] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := ok()
			tc.edit(&info)
			err := validateInfo(&info)
			if tc.good && err != nil {
				t.Fatal(err)
			}
			if !tc.good && !errors.Is(err, ErrUnsafeInfo) {
				t.Fatalf("err = %v, want ErrUnsafeInfo", err)
			}
		})
	}
}

// FuzzValidateInfo feeds arbitrary info dictionaries, as a peer could send
// them, to validateInfo. Whatever it accepts must be storable: every file
// path local to the root and distinct, and the accepted info must survive
// a bencode round trip and still be accepted.
func FuzzValidateInfo(f *testing.F) {
	seed := func(i metainfo.Info) {
		b, err := bencode.Marshal(i)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(metainfo.Info{Name: "n", PieceLength: 64 << 10, Pieces: make([]byte, 20), Files: []metainfo.FileInfo{{Length: 9, Path: []string{"a", "b"}}}})
	seed(metainfo.Info{Name: "n", PieceLength: 64 << 10, Pieces: make([]byte, 20), Files: []metainfo.FileInfo{{Length: 9, Path: []string{"..", "b"}}}})
	seed(metainfo.Info{Name: "f", PieceLength: 64 << 10, Pieces: make([]byte, 20), Length: 3})
	f.Add([]byte("d4:name2:..12:piece lengthi65536e6:pieces20:aaaaaaaaaaaaaaaaaaaa6:lengthi3ee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var info metainfo.Info
		if err := bencode.Unmarshal(data, &info); err != nil {
			return
		}
		if validateInfo(&info) != nil {
			return
		}
		seen := map[string]bool{}
		root := filepath.FromSlash("/store/data/x")
		for _, fi := range info.UpvertedFiles() {
			rel := relPath(&info, &fi)
			if !filepath.IsLocal(rel) {
				t.Fatalf("accepted path %q escapes the root", rel)
			}
			full := filepath.Join(root, rel)
			if r, err := filepath.Rel(root, full); err != nil || r != rel {
				t.Fatalf("accepted path %q does not stay under the root", rel)
			}
			if seen[rel] {
				t.Fatalf("accepted duplicate path %q", rel)
			}
			seen[rel] = true
		}
		again, err := bencode.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		var info2 metainfo.Info
		if err := bencode.Unmarshal(again, &info2); err != nil {
			t.Fatal(err)
		}
		if err := validateInfo(&info2); err != nil {
			t.Fatalf("round trip turned an accepted info into a rejected one: %v", err)
		}
	})
}
