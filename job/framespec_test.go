package job

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseFrameSpec(t *testing.T) {
	for _, tc := range []struct {
		in     string
		frames []int
		norm   string
	}{
		{"1-5", []int{1, 2, 3, 4, 5}, "1-5"},
		{"0", []int{0}, "0"},
		{"1-12x5", []int{1, 6, 11}, "1-11x5"},
		{"1,5,9-12", []int{1, 5, 9, 10, 11, 12}, "1,5,9-12"},
		{" 9-12 , 1,5 ", []int{1, 5, 9, 10, 11, 12}, "1,5,9-12"},
		{"3,3,2-4", []int{2, 3, 4}, "2-4"},
		{"7-7", []int{7}, "7"},
		{"1-3x10", []int{1}, "1"},
		{"1,3", []int{1, 3}, "1,3"},
		{"1,2,4,6,8", []int{1, 2, 4, 6, 8}, "1-2,4-8x2"},
		{"010", []int{10}, "10"},
		{"9999999-10000000", []int{9999999, 10000000}, "9999999-10000000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			fs, err := ParseFrameSpec(tc.in)
			if err != nil {
				t.Fatalf("ParseFrameSpec(%q): %v", tc.in, err)
			}
			if got := fs.Frames(); !slices.Equal(got, tc.frames) {
				t.Fatalf("Frames = %v, want %v", got, tc.frames)
			}
			if fs.Len() != len(tc.frames) {
				t.Fatalf("Len = %d, want %d", fs.Len(), len(tc.frames))
			}
			if fs.String() != tc.norm {
				t.Fatalf("String = %q, want %q", fs.String(), tc.norm)
			}
			if !fs.Contains(tc.frames[0]) || fs.Contains(-1) {
				t.Fatalf("Contains is wrong for %v", tc.frames)
			}
		})
	}
}

func TestParseFrameSpecLarge(t *testing.T) {
	fs, err := ParseFrameSpec("1-250x5")
	if err != nil {
		t.Fatal(err)
	}
	if fs.Len() != 50 || fs.Frames()[49] != 246 || fs.String() != "1-246x5" {
		t.Fatalf("1-250x5: len %d, last %d, string %q", fs.Len(), fs.Frames()[49], fs)
	}
	fs, err = ParseFrameSpec("0-99999")
	if err != nil || fs.Len() != MaxFrames {
		t.Fatalf("exactly MaxFrames: len %d, err %v", fs.Len(), err)
	}
}

func TestParseFrameSpecRejects(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"5-1", "runs backwards"},
		{"abc", "not a non-negative whole number"},
		{"", "empty"},
		{"   ", "empty"},
		{"1-", "missing range end"},
		{"-5", "missing frame"},
		{"1-10x0", "step must be at least 1"},
		{"1-10x", "missing step"},
		{"x0", "needs a range"},
		{"5x2", "needs a range"},
		{"1,,2", "empty item"},
		{"1,", "empty item"},
		{"1-2-3", "not a non-negative whole number"},
		{"+5", "not a non-negative whole number"},
		{"1.5", "not a non-negative whole number"},
		{"10000001", "larger than 10000000"},
		{"99999999999999999999999", "larger than"},
		{"0-100000", "more than 100000 frames"},
		{"0-10000000", "more than 100000 frames"},
		{"1-60000,1-60000", "more than 100000 frames"},
		{strings.Repeat("1,", 3000) + "1", "longer than 4096 bytes"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseFrameSpec(tc.in)
			if err == nil {
				t.Fatalf("ParseFrameSpec(%q) accepted", tc.in)
			}
			if !errors.Is(err, ErrBadFrameSpec) {
				t.Errorf("error %v does not wrap ErrBadFrameSpec", err)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.msg)
			}
		})
	}
}

func TestFrameSpecText(t *testing.T) {
	var fs FrameSpec
	if err := fs.UnmarshalText([]byte("3,1-2")); err != nil {
		t.Fatal(err)
	}
	b, err := fs.MarshalText()
	if err != nil || string(b) != "1-3" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	if _, err := (FrameSpec{}).MarshalText(); err == nil {
		t.Fatal("empty spec marshalled")
	}
	if err := fs.UnmarshalText([]byte("3-1")); err == nil {
		t.Fatal("UnmarshalText accepted 3-1")
	}
}

func FuzzParseFrameSpec(f *testing.F) {
	for _, s := range []string{"1-250", "1-250x5", "1,5,9-12", "5-1", "x0", "", "0-99999", "1,2,4,6,8,9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := ParseFrameSpec(s)
		if err != nil {
			if !errors.Is(err, ErrBadFrameSpec) {
				t.Fatalf("error %v does not wrap ErrBadFrameSpec", err)
			}
			return
		}
		frames := fs.Frames()
		if len(frames) == 0 || len(frames) > MaxFrames || !slices.IsSorted(frames) {
			t.Fatalf("bad frames for %q: %d frames", s, len(frames))
		}
		if frames[0] < 0 || frames[len(frames)-1] > MaxFrameNumber {
			t.Fatalf("frame out of range for %q", s)
		}
		back, err := ParseFrameSpec(fs.String())
		if err != nil {
			t.Fatalf("String %q of %q does not parse: %v", fs.String(), s, err)
		}
		if !back.Equal(fs) || back.String() != fs.String() {
			t.Fatalf("String %q of %q re-parses to different frames", fs.String(), s)
		}
	})
}
