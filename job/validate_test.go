package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestValidate(t *testing.T) {
	if err := testManifest(t).Validate(); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	sha, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	for _, tc := range []struct {
		name   string
		change func(*Manifest)
		msg    string
	}{
		{"version", func(m *Manifest) { m.Version = 2 }, "format version"},
		{"no publisher", func(m *Manifest) { m.Publisher = "" }, "publisher"},
		{"created", func(m *Manifest) { m.Created = 0 }, "created"},
		{"title control", func(m *Manifest) { m.Title = "a\nb" }, "unprintable"},
		{"title long", func(m *Manifest) { m.Title = strings.Repeat("a", MaxTitleLen+1) }, "title longer"},
		{"renderer upper", func(m *Manifest) { m.Renderer.Name = "Blender" }, "renderer name"},
		{"renderer empty", func(m *Manifest) { m.Renderer.Name = "" }, "renderer name"},
		{"version empty", func(m *Manifest) { m.Renderer.Version = "" }, "renderer version"},
		{"version space", func(m *Manifest) { m.Renderer.Version = "4.2 LTS" }, "renderer version"},
		{"scene not asset", func(m *Manifest) { m.Scene.Asset = cid.NewCidV1(cid.Raw, sha) }, "scene asset"},
		{"scene undefined", func(m *Manifest) { m.Scene.Asset = cid.Undef }, "scene asset"},
		{"main empty", func(m *Manifest) { m.Scene.Main = "" }, "empty"},
		{"main absolute", func(m *Manifest) { m.Scene.Main = "/etc/passwd" }, "absolute"},
		{"main dotdot", func(m *Manifest) { m.Scene.Main = "../x.blend" }, "leaves the scene"},
		{"main unclean", func(m *Manifest) { m.Scene.Main = "a/./b.pov" }, "not a clean path"},
		{"main backslash", func(m *Manifest) { m.Scene.Main = `a\b.pov` }, `contains \`},
		{"main drive", func(m *Manifest) { m.Scene.Main = `C:x.pov` }, `contains \`},
		{"no frames", func(m *Manifest) { m.Frames = FrameSpec{} }, "no frames"},
		{"width 0", func(m *Manifest) { m.Width = 0 }, "resolution"},
		{"height big", func(m *Manifest) { m.Height = MaxSide + 1 }, "resolution"},
		{"tiles negative", func(m *Manifest) { m.Tiles = -1 }, "tiles"},
		{"tiles too many", func(m *Manifest) { m.Tiles = MaxTiles + 1 }, "tiles"},
		{"tiles over height", func(m *Manifest) { m.Height = 8; m.Tiles = 9 }, "tiles"},
		{"too many tasks", func(m *Manifest) { m.Frames, _ = ParseFrameSpec("0-9999"); m.Tiles = 11 }, "tasks"},
		{"samples", func(m *Manifest) { m.Samples = MaxSamples + 1 }, "samples"},
		{"seed", func(m *Manifest) { m.Seed = -1 }, "seed"},
		{"output", func(m *Manifest) { m.Output = "exr" }, "output format"},
		{"profile", func(m *Manifest) { m.Profile = "ssim" }, "profile"},
		{"builtin tolerant", func(m *Manifest) { m.Renderer.Name = BuiltinRenderer }, "deterministic"},
		{"replicas 0", func(m *Manifest) { m.Replicas = 0 }, "replicas"},
		{"replicas 6", func(m *Manifest) { m.Replicas = 6 }, "replicas"},
		{"seconds", func(m *Manifest) { m.Limits.MaxSecondsPerFrame = 0 }, "max seconds"},
		{"memory", func(m *Manifest) { m.Limits.MaxMemoryMiB = 1 }, "max memory"},
		{"deadline", func(m *Manifest) { m.Deadline = m.Created }, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest(t)
			tc.change(&m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrInvalidManifest mentioning %q", err, tc.msg)
			}
			if _, err := m.Marshal(); err == nil {
				t.Fatal("Marshal accepted an invalid manifest")
			}
		})
	}
}

func TestDefaultProfile(t *testing.T) {
	for r, want := range map[string]string{
		"builtin": ProfileExact, "blender": ProfileCyclesCPU, "povray": ProfilePOVRay, "other": ProfileExact,
	} {
		if got := DefaultProfile(r); got != want {
			t.Errorf("DefaultProfile(%s) = %s, want %s", r, got, want)
		}
	}
}

func TestFirstFrames(t *testing.T) {
	m := testManifest(t)
	for spec, ok := range map[string]bool{"": true, "1": true, "1,6,11": true, "2": false, "1-246x5": false} {
		m.First = FrameSpec{}
		if spec != "" {
			m.First, _ = ParseFrameSpec(spec)
		}
		b, err := m.Marshal()
		if (err == nil) != ok {
			t.Errorf("first %q: err = %v, want ok=%v", spec, err, ok)
			continue
		}
		if err != nil {
			continue
		}
		back, err := UnmarshalManifest(b)
		if err != nil || !back.First.Equal(m.First) {
			t.Errorf("first %q: round trip gave %q, %v", spec, back.First, err)
		}
	}
}
