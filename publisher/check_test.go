package publisher

import (
	"image"
	"testing"
)

// A check replica is paid for its crop, not for the task: an inflated
// claim gets at most the crop's share of what a whole render earns.
func TestCheckReplicaPaidItsShare(t *testing.T) {
	j := &pubJob{price: 1000}
	j.costs.Cap = claimCap(j.price)
	j.costs.Pay(1500) // the whole render's claim: the median
	tile, crop := image.Rect(0, 0, 16, 16), image.Rect(4, 4, 8, 8)
	if got := j.payCheck(1<<40, crop, tile); got != 1500/16 {
		t.Errorf("an inflated check claim was paid %d mCU, want the crop's share %d", got, 1500/16)
	}
	if got := j.payCheck(50, crop, tile); got != 50 {
		t.Errorf("an honest check claim of 50 mCU was paid %d", got)
	}
	if got := j.payCheck(-5, crop, tile); got != 0 {
		t.Errorf("a negative claim was paid %d", got)
	}
}
