package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// Flag annotations the help reads.
const (
	// argAnnotation names a flag's argument, where its usage text has no
	// `quoted` name for it (as for --dir).
	argAnnotation = "sselab-arg"
	// sectionAnnotation puts a flag under a heading of its own.
	sectionAnnotation = "sselab-section"
)

// Layout of the flag list.
const (
	flagIndent = 2   // before each flag
	usageCol   = 29  // where the descriptions start
	lineWidth  = 100 // where they wrap
)

// flagList lists the flags of fs for a help text, in the order they were
// defined, each with its argument's name and its description, wrapped;
// flags with a section annotation follow under their heading. A flag's
// default, where it has one that is not its zero value, ends its
// description.
func flagList(fs *pflag.FlagSet) string {
	var (
		order    []string
		sections = map[string][]*pflag.Flag{}
	)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		sec := ""
		if a := f.Annotations[sectionAnnotation]; len(a) > 0 {
			sec = a[0]
		}
		if _, ok := sections[sec]; !ok {
			order = append(order, sec)
		}
		sections[sec] = append(sections[sec], f)
	})
	var b strings.Builder
	for _, sec := range order {
		if sec == "" {
			b.WriteString("Flags:\n")
		} else {
			b.WriteString("\n" + sec + ":\n")
		}
		for _, f := range sections[sec] {
			b.WriteString(flagLine(f))
		}
	}
	return b.String()
}

// flagLine formats one flag: "  --name ARG   description", the
// description wrapped at lineWidth and starting on a line of its own
// when the name is too long.
func flagLine(f *pflag.Flag) string {
	arg, usage := pflag.UnquoteUsage(f)
	if a := f.Annotations[argAnnotation]; len(a) > 0 {
		arg = a[0]
	}
	if f.Value.Type() == "bool" {
		arg = ""
	}
	head := strings.Repeat(" ", flagIndent) + "--" + f.Name
	if arg != "" {
		head += " " + arg
	}
	if d := f.DefValue; !zeroDefault(f) {
		usage += " (default " + d + ")"
	}
	pad := strings.Repeat(" ", usageCol)
	var b strings.Builder
	line := head
	if len(head) >= usageCol-1 {
		b.WriteString(head + "\n")
		line = pad
	} else {
		line += strings.Repeat(" ", usageCol-len(head))
	}
	start := len(line)
	for _, w := range strings.Fields(usage) {
		if len(line) > start && len(line)+1+len(w) > lineWidth {
			b.WriteString(line + "\n")
			line, start = pad, usageCol
		}
		if len(line) > start {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// zeroDefault reports whether the flag's default is its zero value,
// which the help does not show.
func zeroDefault(f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return true
	}
	return false
}
