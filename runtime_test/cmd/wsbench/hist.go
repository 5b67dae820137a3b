//go:build linux

package main

// A log-linear latency histogram in the manner of HdrHistogram: values
// below 128 ns are exact, above that each power of two is split into 64
// buckets, so a quantile is within 1/64 (1.6 %) of the true value. It is
// small enough to keep one per connection (no sharing on the hot path) and
// to send between processes as its non-empty buckets.

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

const (
	histSubBits = 6 // 64 buckets per power of two
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub
)

type hist struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max int64
	sum      float64
}

func histIndex(v int64) int {
	if v < 2*histSub {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return shift*histSub + int(v>>shift)
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	m := int64(i - shift*histSub)
	return m<<shift + (1<<shift)/2
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
	h.counts[histIndex(v)]++
}

func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// quantile returns the value at quantile q (0 < q ≤ 1), by nearest rank.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(histValue(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// wireHist is a hist as JSON: its non-empty buckets.
type wireHist struct {
	Buckets [][2]uint64 `json:"buckets"` // index, count
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Sum     float64     `json:"sum"`
}

func (h *hist) wire() wireHist {
	w := wireHist{Min: h.min, Max: h.max, Sum: h.sum}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return w
}

func (w wireHist) hist() *hist {
	h := &hist{min: w.Min, max: w.Max, sum: w.Sum}
	for _, b := range w.Buckets {
		if b[0] < histBuckets {
			h.counts[b[0]] += b[1]
			h.n += b[1]
		}
	}
	return h
}

// quantileOf returns the q quantile of xs by nearest rank (0: the least).
func quantileOf(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(q * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
