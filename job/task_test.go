package job

import (
	"bytes"
	"encoding/json"
	"image"
	"strings"
	"testing"
)

func TestTasksAndTiles(t *testing.T) {
	m := testManifest(t)
	m.Frames, _ = ParseFrameSpec("3,1")
	m.First = FrameSpec{}
	m.Width, m.Height, m.Tiles = 100, 10, 3
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	tasks := m.Tasks(id)
	if len(tasks) != 6 || m.TaskCount() != 6 {
		t.Fatalf("tasks = %v", tasks)
	}
	if tasks[0] != (Task{Job: id, Frame: 1, Tile: 0}) || tasks[5] != (Task{Job: id, Frame: 3, Tile: 2}) {
		t.Fatalf("tasks out of order: %v", tasks)
	}
	// The bands cover the frame exactly, top to bottom, without overlap.
	want := []image.Rectangle{image.Rect(0, 0, 100, 3), image.Rect(0, 3, 100, 6), image.Rect(0, 6, 100, 10)}
	for i, r := range want {
		if got := m.TileRect(i); got != r {
			t.Errorf("TileRect(%d) = %v, want %v", i, got, r)
		}
	}
	if !m.TileRect(3).Empty() || !m.TileRect(-1).Empty() {
		t.Error("TileRect outside the tiles is not empty")
	}
	if !m.HasTask(id, tasks[3]) || m.HasTask(id, Task{Job: id, Frame: 2}) || m.HasTask(id, Task{Job: id, Frame: 1, Tile: 3}) {
		t.Error("HasTask is wrong")
	}
	m.Tiles = 0
	if got := m.TileRect(0); got != image.Rect(0, 0, 100, 10) {
		t.Errorf("whole-frame TileRect = %v", got)
	}
}

func TestTaskText(t *testing.T) {
	id, err := testManifest(t).ID()
	if err != nil {
		t.Fatal(err)
	}
	task := Task{Job: id, Frame: 17, Tile: 2}
	s := task.String()
	if s != id.String()+"/17/2" {
		t.Fatalf("String = %s", s)
	}
	back, err := ParseTask(s)
	if err != nil || back != task {
		t.Fatalf("ParseTask(%s) = %v, %v", s, back, err)
	}
	b, err := json.Marshal(map[string]Task{"t": task})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]Task
	if err := json.Unmarshal(b, &out); err != nil || out["t"] != task {
		t.Fatalf("JSON round trip: %v, %v", out, err)
	}
	asset := testManifest(t).Scene.Asset.String()
	for _, bad := range []string{
		"", id.String(), id.String() + "/17", id.String() + "/17/2/1", id.String() + "/017/2",
		id.String() + "/-1/0", id.String() + "/1/64", id.String() + "/+1/0", asset + "/1/0",
		"x/1/0", id.String() + "/99999999/0",
	} {
		if _, err := ParseTask(bad); err == nil {
			t.Errorf("ParseTask(%q) accepted", bad)
		}
	}
}

func TestCommitment(t *testing.T) {
	salt, err := NewSalt(bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	var d PixelDigest
	copy(d[:], bytes.Repeat([]byte{0xab}, 32))
	c := Commit(salt, d)
	// sha256(0x09*32 ‖ 0xab*32), computed independently.
	const want = "8efb04c3d71b7228a5176439b0cd1546578593f6feae80ec11dd2a7b310357db"
	if c.String() != want {
		t.Fatalf("commitment = %s, want %s", c, want)
	}
	if !c.Opens(salt, d) {
		t.Fatal("commitment does not open with its own salt and digest")
	}
	other := d
	other[0] ^= 1
	otherSalt := salt
	otherSalt[31] ^= 1
	if c.Opens(salt, other) || c.Opens(otherSalt, d) {
		t.Fatal("commitment opens with another digest or salt")
	}
	if _, err := NewSalt(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Fatal("NewSalt accepted a short reader")
	}
	s1, _ := NewSalt(nil)
	s2, _ := NewSalt(nil)
	if s1 == s2 {
		t.Fatal("two random salts are equal")
	}

	text, _ := c.MarshalText()
	var back Commitment
	if err := back.UnmarshalText(text); err != nil || back != c {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	for _, bad := range []string{"", "ab", strings.ToUpper(string(text)), string(text[:63]) + "g"} {
		if err := back.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
}

// ResultDigest leaves PNG-only results as they were and binds every byte
// of an extra file: an EXR changed after the commitment does not open it.
func TestResultDigestBindsExtras(t *testing.T) {
	var d PixelDigest
	d[0] = 7
	if ResultDigest(d, nil) != d {
		t.Fatal("a result without extras changed its digest")
	}
	exr := []byte("v/1\x01 half float pixels")
	a := ResultDigest(d, map[string][]byte{"exr": exr})
	if a == d {
		t.Fatal("extras did not change the digest")
	}
	tampered := append([]byte{}, exr...)
	tampered[len(tampered)-1] ^= 1
	if ResultDigest(d, map[string][]byte{"exr": tampered}) == a {
		t.Error("a changed EXR gives the same digest")
	}
	var salt Salt
	if !Commit(salt, a).Opens(salt, ResultDigest(d, map[string][]byte{"exr": exr})) {
		t.Error("the honest result does not open its commitment")
	}
	if Commit(salt, a).Opens(salt, ResultDigest(d, map[string][]byte{"exr": tampered})) {
		t.Error("a tampered EXR opens the commitment")
	}
}
