// Package jsnum reproduces the JavaScript number rules Clerk's code applies
// to cookie values (Number.parseInt, Number(), String(n), truthiness), so
// that a cookie is read the way @clerk/backend reads it.
package jsnum

import (
	"math"
	"strconv"
	"strings"
)

// Truthy is JavaScript's truthiness of a decoded JSON value.
func Truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0 && !math.IsNaN(v)
	}
	return true
}

// ParseInt is Number.parseInt(s) || 0: leading whitespace, an optional
// sign, then decimal digits; anything else is 0.
func ParseInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	digits := 0
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			break
		}
		if n > (math.MaxInt64-9)/10 {
			break
		}
		n = n*10 + int64(ch-'0')
		digits++
	}
	if digits == 0 {
		return 0
	}
	if neg {
		return -n
	}
	return n
}

// Number is Number(s) || 0 for the redirect counter.
func Number(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0
	}
	return f
}

// Format writes a number as JavaScript's String(n) does for the
// small counts here.
func Format(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
