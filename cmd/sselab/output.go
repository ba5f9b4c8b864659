package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ANSI styles for colorize.
const (
	colorRed    = "\x1b[31m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorBold   = "\x1b[1m"
	colorReset  = "\x1b[0m"
)

// colorize returns s in the given ANSI style when w is a terminal and
// NO_COLOR is unset or empty (https://no-color.org), else s unchanged.
func colorize(w io.Writer, s, color string) string {
	if !useColor(isTerminal(w), os.Getenv("NO_COLOR")) || color == "" {
		return s
	}
	return color + s + colorReset
}

// useColor decides whether to colour output: only on a terminal, and only
// if NO_COLOR is empty; any non-empty value, even "0", disables colour.
func useColor(terminal bool, noColor string) bool {
	return terminal && noColor == ""
}

// writeJSON writes v as indented JSON followed by a newline: the --json
// form of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// humanBytes is n in B, KiB, MiB, GiB or TiB, for people.
func humanBytes(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/(1<<10), "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1<<10 {
			break
		}
		v, unit = v/(1<<10), u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
