package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func encode(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestThumbnail(t *testing.T) {
	small := encode(t, 100, 50)
	if got, err := Thumbnail(small, ThumbSize); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("a small image was changed: %v", err)
	}
	for _, tc := range []struct{ w, h, tw, th int }{{640, 360, 160, 90}, {360, 640, 90, 160}} {
		got, err := Thumbnail(encode(t, tc.w, tc.h), ThumbSize)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != tc.tw || b.Dy() != tc.th {
			t.Fatalf("%dx%d -> %v, want %dx%d", tc.w, tc.h, b, tc.tw, tc.th)
		}
		if c := color.NRGBAModel.Convert(img.At(3, 3)).(color.NRGBA); c.R < 199 || c.R > 200 || c.A != 200 {
			t.Fatalf("colour %+v, want the source's", c)
		}
	}
	if _, err := Thumbnail([]byte("not a png"), ThumbSize); err == nil {
		t.Fatal("garbage thumbnailed")
	}
}
