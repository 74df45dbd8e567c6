package publisher

import (
	"fmt"
	"image"
	"testing"

	"github.com/ipfs/go-cid"
)

// The cache of decoded deliveries holds at most maxDecodedPixels, oldest
// dropped first, gives back exactly what was put, and forgets a dropped
// lease.
func TestDecodedDeliveriesBounded(t *testing.T) {
	var c decoded
	side := 1024 // a mebipixel each
	key := func(i int) decodedKey { return decodedKey{cid.Undef, fmt.Sprint("lease", i)} }
	imgs := map[int]image.Image{}
	total := maxDecodedPixels/(side*side) + 5
	for i := range total {
		imgs[i] = image.NewNRGBA(image.Rect(0, 0, side, side))
		c.put(key(i), imgs[i])
		if c.pixels > maxDecodedPixels {
			t.Fatalf("after %d puts the cache holds %d pixels, over %d", i+1, c.pixels, maxDecodedPixels)
		}
	}
	for i := range total {
		got, ok := c.get(key(i))
		if old := i < total-maxDecodedPixels/(side*side); ok == old || ok && got != imgs[i] {
			t.Errorf("lease %d: held %v (image the one put: %v); want held only among the newest", i, ok, got == imgs[i])
		}
	}
	c.drop(key(total - 1))
	if _, ok := c.get(key(total - 1)); ok {
		t.Error("a dropped lease is still held")
	}
	c.put(key(-1), image.NewNRGBA(image.Rect(0, 0, 8193, 2048))) // larger than the bound alone
	if _, ok := c.get(key(-1)); ok {
		t.Error("an image over the bound was held")
	}
	for i := range 1000 { // many puts and drops: the order list stays small
		c.put(key(1000+i), image.NewNRGBA(image.Rect(0, 0, 1, 1)))
		c.drop(key(1000 + i))
	}
	if len(c.order) > 2*len(c.imgs)+65 {
		t.Errorf("order names %d results for %d held", len(c.order), len(c.imgs))
	}
}
