package builtin

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

const demoScene = "../../examples/builtin/demo.scene"

// BenchmarkDemoFrame renders the middle frame of the demo scene at its
// default settings and reports samples per second per core: per CPU-second
// where the OS reports CPU time (immune to other load on the machine),
// else per wall-second divided by the cores.
func BenchmarkDemoFrame(b *testing.B) {
	r := New()
	info, err := r.Inspect(b.Context(), demoScene)
	if err != nil {
		b.Fatal(err)
	}
	task := render.Task{
		SceneDir: filepath.Dir(demoScene), SceneFile: filepath.Base(demoScene),
		Frame: (info.FrameStart + info.FrameEnd) / 2, Width: info.Width, Height: info.Height,
		OutputDir: b.TempDir(),
	}
	start := time.Now()
	cpu0, haveCPU := cpuTime()
	for b.Loop() {
		if _, err := r.Render(b.Context(), task, nil); err != nil {
			b.Fatal(err)
		}
	}
	samples := float64(b.N) * float64(info.Width*info.Height*info.Samples)
	if cpu1, _ := cpuTime(); haveCPU {
		b.ReportMetric(samples/(cpu1-cpu0).Seconds(), "samples/cpu-s")
	}
	b.ReportMetric(samples/time.Since(start).Seconds()/float64(runtime.NumCPU()), "samples/s/core")
}

// BenchmarkDemoAnimation renders every frame of the demo animation, as
// `renderswarm render examples/builtin/demo.scene` does.
func BenchmarkDemoAnimation(b *testing.B) {
	r := New()
	info, err := r.Inspect(b.Context(), demoScene)
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	cpu0, haveCPU := cpuTime()
	for b.Loop() {
		for f := info.FrameStart; f <= info.FrameEnd; f++ {
			_, err := r.Render(b.Context(), render.Task{
				SceneDir: filepath.Dir(demoScene), SceneFile: filepath.Base(demoScene),
				Frame: f, Width: info.Width, Height: info.Height, OutputDir: out,
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(info.FrameEnd-info.FrameStart+1), "frames")
	if cpu1, _ := cpuTime(); haveCPU {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	}
}
