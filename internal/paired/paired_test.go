package paired

import (
	"testing"
	"time"
)

func TestMedianRatio(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	for _, c := range []struct {
		a, b []time.Duration
		want float64
	}{
		{ms(2, 3, 10), ms(1, 1, 1), 3},          // odd: the middle ratio, not the mean (5)
		{ms(2, 4, 6, 100), ms(2, 2, 2, 2), 2.5}, // even: the mean of the middle two
		{ms(1, 1), ms(0, 2), 0.5},               // a zero baseline round is left out
		{nil, nil, 0},
	} {
		if got := MedianRatio(c.a, c.b); got != c.want {
			t.Errorf("MedianRatio(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
