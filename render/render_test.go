package render

import (
	"errors"
	"testing"
)

func TestParseResolution(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w, h int
		ok   bool
	}{
		{"320x180", 320, 180, true}, {"1x1", 1, 1, true}, {"16384x16384", 16384, 16384, true},
		{"16385x10", 0, 0, false}, {"0x10", 0, 0, false}, {"-5x10", 0, 0, false},
		{"320", 0, 0, false}, {"320X180", 0, 0, false}, {"x", 0, 0, false}, {"3.5x2", 0, 0, false},
	} {
		w, h, err := ParseResolution(tc.in)
		if (err == nil) != tc.ok || w != tc.w || h != tc.h {
			t.Errorf("ParseResolution(%q) = %d, %d, %v", tc.in, w, h, err)
		}
	}
}

func TestTaskValidate(t *testing.T) {
	good := Task{SceneFile: "s", OutputDir: "o", Width: 10, Height: 8, Frame: 3}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid task: %v", err)
	}
	if r := good.Region(); r != (Rect{0, 0, 10, 8}) {
		t.Errorf("Region = %v, want the whole frame", r)
	}
	border := good
	border.Border = &Rect{X0: 2, Y0: 1, X1: 10, Y1: 8}
	if err := border.Validate(); err != nil || border.Region().Dx() != 8 || border.Region().Dy() != 7 {
		t.Errorf("border task: %v, region %v", err, border.Region())
	}
	for name, mod := range map[string]func(*Task){
		"no scene":        func(t *Task) { t.SceneFile = "" },
		"no output":       func(t *Task) { t.OutputDir = "" },
		"zero height":     func(t *Task) { t.Height = 0 },
		"wide":            func(t *Task) { t.Width = MaxSide + 1 },
		"samples":         func(t *Task) { t.Samples = -1 },
		"threads":         func(t *Task) { t.Threads = MaxThreads + 1 },
		"frame":           func(t *Task) { t.Frame = -2 },
		"border past":     func(t *Task) { t.Border = &Rect{X0: 0, Y0: 0, X1: 11, Y1: 8} },
		"border negative": func(t *Task) { t.Border = &Rect{X0: -1, Y0: 0, X1: 5, Y1: 8} },
		"border inverted": func(t *Task) { t.Border = &Rect{X0: 5, Y0: 0, X1: 4, Y1: 8} },
	} {
		task := good
		mod(&task)
		if err := task.Validate(); !errors.Is(err, ErrTaskInvalid) {
			t.Errorf("%s: err = %v, want ErrTaskInvalid", name, err)
		}
	}
}
