package perf

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Row is one measure: sselab's figure and, for a comparison, the
// reference's, measured in the same runs.
type Row struct {
	// Name says what was measured, such as "SSE-KMS PUT 4 KiB".
	Name string
	// Unit and Decimals format the figures.
	Unit     string
	Decimals int
	// Sselab and Ref are the figures per run; Ref is empty when the
	// measure is not a comparison.
	Sselab, Ref Series
	// Target, if set, applies to the run-by-run ratio Sselab/Ref, or to
	// Sselab itself when there is no Ref.
	Target *Target
}

// Ratio returns Sselab/Ref run by run.
func (r Row) Ratio() Series { return Ratios(r.Sselab, r.Ref) }

// Checked returns the series the target applies to.
func (r Row) Checked() Series {
	if len(r.Ref) == 0 {
		return r.Sselab
	}
	return r.Ratio()
}

// Verdict says whether the target is met: "met", "missed" or "".
func (r Row) Verdict() string {
	switch {
	case r.Target == nil:
		return ""
	case r.Target.Met(r.Checked()):
		return "met"
	}
	return "**missed**"
}

// Section is one of P1 to P4.
type Section struct {
	// ID is "P1" to "P4"; Title names the section.
	ID, Title string
	// Method says what was measured, how, and against what.
	Method string
	// SselabName and RefName head the columns, such as "sselab up" and
	// "bare minio server".
	SselabName, RefName string
	// Rows are the measures.
	Rows []Row
	// Notes are observations printed after the tables.
	Notes []string
}

// Report is everything a harness run measured.
type Report struct {
	// Command is how the harness was run.
	Command string
	// Started and Took are when the run started and how long it took.
	Started time.Time
	Took    time.Duration
	// Runs, Duration and Workers are the harness's settings.
	Runs     int
	Duration time.Duration
	Workers  int
	// Machine describes the machine.
	Machine Machine
	// Sections are the measures, in order.
	Sections []Section
	// Problems are measures that could not be taken.
	Problems []string
	// Kept are sections of an earlier report that this run did not
	// measure; see Keep.
	Kept []Kept
}

// Kept is a section of an earlier report, kept as it was written.
type Kept struct {
	// ID is the section's, such as "P1".
	ID string
	// Summary are its rows of the summary table, Body its text from its
	// heading on, both as written.
	Summary []string
	Body    string
}

// keptMark starts the line that tells a kept section apart.
const keptMark = "> Kept from the run of "

// Keep takes from old, an earlier report, every section this report has
// not measured, so that a run of some measures (perf -only) updates them
// without losing the others. Each kept section says which run measured
// it.
func (r *Report) Keep(old []byte) {
	measured := map[string]bool{}
	for _, s := range r.Sections {
		measured[s.ID] = true
	}
	text := string(old)
	from := "an earlier run"
	if _, rest, ok := strings.Cut(text, " on "); ok && strings.HasPrefix(text, "# sselab performance") {
		if date, _, ok := strings.Cut(rest, " ("); ok && len(date) < 40 {
			from = date
		}
	}
	summary := map[string][]string{}
	bodies := map[string]string{}
	var order []string
	for _, chunk := range strings.Split(text, "\n## ") {
		heading, _, _ := strings.Cut(chunk, "\n")
		if heading == "Summary" {
			for _, line := range strings.Split(chunk, "\n") {
				if id, ok := rowID(line); ok {
					summary[id] = append(summary[id], line)
				}
			}
			continue
		}
		id, _, _ := strings.Cut(heading, " ")
		if !isSectionID(id) || measured[id] {
			continue
		}
		body := "## " + strings.TrimRight(chunk, "\n")
		if !strings.Contains(body, keptMark) {
			h, rest, _ := strings.Cut(body, "\n")
			body = h + "\n\n" + keptMark + from + ": this run did not measure it again.\n" + rest
		}
		bodies[id] = body
		order = append(order, id)
	}
	for _, id := range order {
		r.Kept = append(r.Kept, Kept{ID: id, Summary: summary[id], Body: bodies[id]})
	}
}

// rowID returns the section ID of a row of the summary table.
func rowID(line string) (string, bool) {
	cells := strings.Split(line, "|")
	if len(cells) < 3 {
		return "", false
	}
	id := strings.TrimSpace(cells[1])
	return id, isSectionID(id)
}

// isSectionID reports whether s names a section: "P" and a digit, then
// letters or digits, as in "P1" or "P3b".
func isSectionID(s string) bool {
	if len(s) < 2 || s[0] != 'P' || s[1] < '0' || s[1] > '9' {
		return false
	}
	for _, c := range s[2:] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// busy reports whether the machine looked busy: a 1-minute load average
// above a quarter of the cores before or after the run.
func (r Report) busy() bool {
	for _, l := range []string{r.Machine.LoadAvg, r.Machine.LoadEnd} {
		var one float64
		if _, err := fmt.Sscanf(l, "%g", &one); err == nil && one > float64(r.Machine.Cores)/4 {
			return true
		}
	}
	return false
}

// WriteMarkdown writes the report as docs/PERFORMANCE.md.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# sselab performance\n\n")
	p("Generated by `%s` on %s (%s), in one run on one machine. ", r.Command, r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	p("Each measure was taken %d times; in each run sselab and its references were measured one right after the other, in rotating order, each server in a session of its own, and ratios are taken run by run so that slow drifts of the machine cancel. ", r.Runs)
	p("Figures are the median with the range (min–max) in parentheses. S3 and KES load: %d workers, %v per phase. Re-run the command to refresh this file.\n\n", r.Workers, r.Duration)
	if len(r.Kept) > 0 {
		var ids []string
		for _, k := range r.Kept {
			ids = append(ids, k.ID)
		}
		p("This run measured only some sections; %s are kept from the runs that measured them, as each says, on the machine of that run.\n\n", strings.Join(ids, ", "))
	}
	if r.busy() {
		p("> **Noisy figures.** The machine was busy (load average %s at the start, %s at the end, on %d cores): other work competed for the CPU, so these figures are rough. Re-measure on a quiet machine before drawing conclusions.\n\n", r.Machine.LoadAvg, r.Machine.LoadEnd, r.Machine.Cores)
	}

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPU | %s, %d logical cores |\n", r.Machine.CPU, r.Machine.Cores)
	if r.Machine.Governor != "" {
		p("| CPU governor | %s |\n", r.Machine.Governor)
	}
	p("| Memory | %s |\n| OS | %s |\n| Go | %s (harness and sselab) |\n", r.Machine.Memory, r.Machine.OS, r.Machine.Go)
	p("| MinIO | %s |\n| KES | %s (embedded in sselab; the `kes` CLI built from the same module) |\n", r.Machine.MinIO, r.Machine.KES)
	p("| Load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n", r.Machine.LoadAvg, r.Machine.LoadEnd)

	p("## Summary\n\n| | measure | sselab | reference | ratio | target | |\n|---|---|---|---|---|---|---|\n")
	var rows, bodies []idText
	for _, s := range r.Sections {
		for _, line := range s.summaryRows() {
			rows = append(rows, idText{s.ID, line})
		}
		bodies = append(bodies, idText{s.ID, s.markdown(r.Runs)})
	}
	for _, k := range r.Kept {
		for _, line := range k.Summary {
			rows = append(rows, idText{k.ID, line + "\n"})
		}
		bodies = append(bodies, idText{k.ID, k.Body + "\n\n"})
	}
	for _, row := range sortByID(rows) {
		p("%s", row.text)
	}
	for _, pr := range r.Problems {
		p("\nNot measured: %s\n", pr)
	}
	p("\n")
	for _, body := range sortByID(bodies) {
		p("%s", body.text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// idText is a piece of the report and the section it belongs to.
type idText struct{ id, text string }

// sortByID orders pieces by section, P1 before P3 before P3b, keeping
// the order within a section.
func sortByID(ts []idText) []idText {
	slices.SortStableFunc(ts, func(a, b idText) int { return strings.Compare(a.id, b.id) })
	return ts
}

// summaryRows writes the section's rows that have a target, as rows of
// the summary table.
func (s Section) summaryRows() []string {
	var lines []string
	for _, row := range s.Rows {
		if row.Target == nil {
			continue
		}
		ref, ratio := "", ""
		if len(row.Ref) > 0 {
			ref, ratio = row.Ref.Format(row.Decimals, row.Unit), row.Ratio().Format(2, "")
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", s.ID, row.Name, row.Sselab.Format(row.Decimals, row.Unit), ref, ratio, row.Target, row.Verdict()))
	}
	return lines
}

// markdown writes the section, with every one of its runs.
func (s Section) markdown(runs int) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## %s %s\n\n", s.ID, s.Title)
	if s.Method != "" {
		p("%s\n\n", s.Method)
	}
	hasRef := false
	for _, row := range s.Rows {
		hasRef = hasRef || len(row.Ref) > 0
	}
	if hasRef {
		p("| measure | %s | %s | ratio | target | |\n|---|---|---|---|---|---|\n", s.SselabName, s.RefName)
	} else {
		p("| measure | %s | | target | |\n|---|---|---|---|---|\n", s.SselabName)
	}
	for _, row := range s.Rows {
		target := ""
		if row.Target != nil {
			target = row.Target.String()
		}
		if hasRef {
			ref, ratio := "", ""
			if len(row.Ref) > 0 {
				ref, ratio = row.Ref.Format(row.Decimals, row.Unit), row.Ratio().Format(2, "")
			}
			p("| %s | %s | %s | %s | %s | %s |\n", row.Name, row.Sselab.Format(row.Decimals, row.Unit), ref, ratio, target, row.Verdict())
		} else {
			p("| %s | %s | | %s | %s |\n", row.Name, row.Sselab.Format(row.Decimals, row.Unit), target, row.Verdict())
		}
	}
	p("\n<details><summary>Every run</summary>\n\n")
	p("| measure |")
	for i := range runs {
		p(" run %d |", i+1)
	}
	p("\n|---|%s\n", strings.Repeat("---|", runs))
	for _, row := range s.Rows {
		p("| %s |", row.Name)
		for i := range runs {
			p(" %s |", runCell(row, i))
		}
		p("\n")
	}
	p("\n</details>\n\n")
	for _, n := range s.Notes {
		p("- %s\n", n)
	}
	if len(s.Notes) > 0 {
		p("\n")
	}
	return b.String()
}

// runCell writes run i of row: "sselab / ref = ratio", or the one value.
func runCell(row Row, i int) string {
	f := func(s Series) string {
		if i >= len(s) {
			return "–"
		}
		return fmt.Sprintf("%.*f", row.Decimals, s[i])
	}
	if len(row.Ref) == 0 {
		return f(row.Sselab)
	}
	if i >= len(row.Sselab) || i >= len(row.Ref) || row.Ref[i] == 0 {
		return f(row.Sselab) + " / " + f(row.Ref)
	}
	return fmt.Sprintf("%s / %s = %.2f", f(row.Sselab), f(row.Ref), row.Sselab[i]/row.Ref[i])
}
