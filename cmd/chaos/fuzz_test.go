package main

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzSplitCommand: -client-cmd's splitter never panics, gives at least
// one word or an error, and what it splits survives the replay line:
// joinCommand's quoting splits back to the same words.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		"./client", `go run ./cmd/l402-mutant "double pay"`, `a 'b c' "d\"e" f\ g`, "a | b", "a; b", `$(x)`,
		"`x`", `'unclosed`, `"unclosed`, `trail\`, "", "   ", "#x y", `"a\qb"`, "a\tb\nc", `''`, `"" x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitCommand(s)
		if err != nil {
			return
		}
		if len(words) == 0 {
			t.Fatalf("splitCommand(%q): no words and no error", s)
		}
		if !utf8.ValidString(s) {
			return // quoting is checked on text
		}
		line := joinCommand(words)
		again, err := splitCommand(line)
		if err != nil {
			t.Fatalf("splitCommand(%q) = %q, whose replay form %q does not split: %v", s, words, line, err)
		}
		if !slices.Equal(words, again) {
			t.Fatalf("splitCommand(%q) = %q; its replay form %q splits to %q", s, words, line, again)
		}
	})
}
