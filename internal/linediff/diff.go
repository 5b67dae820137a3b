// Package linediff compares golden files for the tests of duplex's packages:
// one line diff, in the house's (-want +got) form, instead of a copy in
// every package.
package linediff

import "strings"

// Diff returns a line diff of want and got, "-" lines from want and "+"
// lines from got, with up to 2 lines of context around each change; ""
// when they are equal.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	a, b := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	// lcs[i][j]: length of the longest common subsequence of a[i:], b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', b[j]})
			j++
		default:
			lines = append(lines, line{'-', a[i]})
			i++
		}
	}
	const context = 2
	var sb strings.Builder
	last := -1
	for k, l := range lines {
		near := false
		for d := -context; d <= context; d++ {
			if n := k + d; n >= 0 && n < len(lines) && lines[n].op != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if last >= 0 && k != last+1 {
			sb.WriteString("  ...\n")
		}
		last = k
		sb.WriteByte(l.op)
		sb.WriteByte(' ')
		sb.WriteString(strings.TrimSuffix(l.text, "\n"))
		sb.WriteByte('\n')
	}
	return sb.String()
}
