package main

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"time"
)

func main() {
	vals := []int64{0, 1, -1, 2, 9, 10, 99, 100, 999, 1000, 1001, 1100, 1500, 9999,
		999999, 1000000, 1000001, 1500000, -2000000, 999999999, 1000000000, 1000000001,
		1500000000, 59999999999, 60000000000, 60000000001, 3599999999999, 3600000000000,
		3723500000000, 86400000000000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1,
		math.MaxInt64 - 1, -999, -1000, -1000000, -1000000000, -3600000000000}
	// Powers of ten and their neighbours, both signs.
	p := int64(1)
	for i := 0; i <= 18; i++ {
		vals = append(vals, p, p-1, p+1, -p, -p+1, -p-1)
		if i < 18 {
			p *= 10
		}
	}
	r := rand.New(rand.NewSource(19))
	for i := 0; i < 120; i++ {
		v := r.Int63()
		switch i % 4 {
		case 1:
			v >>= uint(r.Intn(63))
		case 2:
			v = -(v >> uint(r.Intn(63)))
		case 3:
			v = -v
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		s := time.Duration(v).String()
		s = strings.ReplaceAll(s, "\u00b5", "\\xc2\\xb5")
		lit := fmt.Sprintf("%d", v)
		if v == math.MinInt64 {
			lit = "INT64_MIN"
		} else if v == math.MaxInt64 {
			lit = "INT64_MAX"
		} else if v > math.MaxInt32 || v < math.MinInt32 {
			lit = fmt.Sprintf("INT64_C(%d)", v)
		}
		fmt.Printf("    {%s, \"%s\"},\n", lit, s)
	}
}
