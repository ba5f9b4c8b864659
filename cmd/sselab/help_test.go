package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestHelpListsEveryFlag asks every command for its help and checks that
// the help names each flag the command takes, with a name for its
// argument rather than a Go type, and that no marker is left over.
func TestHelpListsEveryFlag(t *testing.T) {
	t.Parallel()
	goTypes := []string{"string", "int", "duration", "stringArray", "bool", "float64"}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t.Context(), []string{"--help"}, new(strings.Builder), new(strings.Builder))
			var help *helpRequest
			if !errors.As(err, &help) {
				t.Fatalf("%s --help: got %v, want a help request", c.name, err)
			}
			text := c.help(help.flags)
			if strings.Contains(text, flagsMarker) || !strings.HasPrefix(text, "Usage: sselab "+c.name) {
				t.Errorf("help of %s:\n%s", c.name, text)
			}
			if help.flags == nil {
				return
			}
			help.flags.VisitAll(func(f *pflag.Flag) {
				line := ""
				for _, l := range strings.Split(text, "\n") {
					if strings.HasPrefix(strings.TrimSpace(l), "--"+f.Name+" ") || strings.TrimSpace(l) == "--"+f.Name {
						line = l
					}
				}
				if line == "" {
					t.Errorf("help of %s does not list --%s", c.name, f.Name)
					return
				}
				for _, typ := range goTypes {
					if strings.HasPrefix(strings.TrimSpace(line), "--"+f.Name+" "+typ+" ") {
						t.Errorf("help of %s names the argument of --%s by its Go type: %q", c.name, f.Name, line)
					}
				}
			})
		})
	}
}

func TestFlagLine(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("x")
	var s string
	var b bool
	var n int
	fs.StringVar(&s, "short", "", "takes a `FILE` to read")
	fs.StringVar(&s, "a-very-long-flag-name-indeed", "", "its `ARG` goes on the next line")
	fs.BoolVar(&b, "switch", false, "no argument")
	fs.IntVar(&n, "count", 8, "`N` workers")
	fs.StringVar(&s, "wrapped", "", strings.Repeat("word ", 30)+"`W`")
	got := flagList(fs)
	want := `Flags:
  --short FILE               takes a FILE to read
  --a-very-long-flag-name-indeed ARG
                             its ARG goes on the next line
  --switch                   no argument
  --count N                  N workers (default 8)
  --wrapped W                word word word word word word word word word word word word word word
                             word word word word word word word word word word word word word word
                             word word W
`
	if got != want {
		t.Errorf("flagList:\n%s\nwant:\n%s", got, want)
	}
}
