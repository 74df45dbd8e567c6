package adversary

import (
	"github.com/renderswarm/renderswarm/job"
)

// Pricing bounds for the inflater's tests.
const (
	// referenceSamplesPerSecond is what one core of the reference machine
	// traces with the built-in renderer (volunteer/speed.go): 1 CU is one
	// second of it.
	referenceSamplesPerSecond = 0.8e6
	// priceHeadroom covers a render's fixed costs (parsing, building the
	// scene) and a loaded machine.
	priceHeadroom = 100
	// minPrice is the least a task's price bound is, in milli-CU.
	minPrice = 1000
)

// PriceCeiling is the most a result of a task of m may be paid, in
// milli-CU, under the rule "a claim is capped at 2× the publisher's own
// price of the task" (DESIGN.md §6), for the built-in renderer: twice a
// generous bound of that price — the task's samples at the reference
// speed, times priceHeadroom, and never under minPrice. The publisher's
// own price is not visible from outside yet; when it is, tests should read
// it instead.
func PriceCeiling(m job.Manifest) int64 {
	tile := m.TileRect(0).Size()
	samples := float64(tile.X*tile.Y) * float64(max(m.Samples, 1))
	price := int64(samples / referenceSamplesPerSecond * priceHeadroom * 1000)
	return 2 * max(price, minPrice)
}
