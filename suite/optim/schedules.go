package optim

import (
	"fmt"
	"strings"
)

// ScheduleSource says where each family of p(t) comes from: the paper's
// text, the official code (JustNobody0204/Submission-ICLR2023), or the
// suite itself. `rst train -h` prints it beside --schedule.
var ScheduleSource = []struct{ Family, Source string }{
	{"constant:A", "paper (docs/PAPER.md §2) and official code"},
	{"piecewise:A,B", "paper (docs/PAPER.md §2); official names piecewise1:B = piecewise:0,B, piecewise2:B = piecewise:1,B, piecewise3:A = piecewise:A,0.5"},
	{"linear:A,B", "paper (docs/PAPER.md §2), with A the change over the whole run [suite's parametrisation]"},
	{"linear1:M, linear2:B", "paper's linear groups 1 and 2; the official code's names"},
	{"cos1, cos2, sin1, sin2", "paper's trigonometric schedules as the suite reconstructs them (the official code has no trigonometric schedule)"},
	{"table:V1,...,Vn and expr:E", "suite additions"},
}

// ScheduleFamilies is the one-line list of schedule families for errors.
const ScheduleFamilies = "families: constant, piecewise, linear, linear1, linear2, cos1, cos2, sin1, sin2, table, expr; official aliases piecewise1, piecewise2, piecewise3"

// ScheduleHelp is ScheduleSource as flag help text.
func ScheduleHelp() string {
	var b strings.Builder
	b.WriteString("p(t) of rst/grst, e.g. constant:0.5, piecewise:0,0.5, cos1. Families and their source:")
	for _, s := range ScheduleSource {
		fmt.Fprintf(&b, "\n  %s: %s", s.Family, s.Source)
	}
	return b.String()
}

// scheduleAliases are the official code's schedule names that take one
// number, with the suite's spelling of the same function.
var scheduleAliases = map[string]func(arg string) string{
	"piecewise1": func(b string) string { return "piecewise:0," + b },        // SGD, then SAM from b·T on
	"piecewise2": func(b string) string { return "piecewise:1," + b },        // SAM, then SGD from b·T on
	"piecewise3": func(a string) string { return "piecewise:" + a + ",0.5" }, // a, then 1 − a from T/2 on
}

// CanonicalSchedule rewrites an official alias (piecewise1:B, piecewise2:B,
// piecewise3:A) into the suite's spelling; any other spec is returned
// unchanged. linear1:M and linear2:B are the suite's names too.
func CanonicalSchedule(spec string) string {
	name, arg, ok := strings.Cut(strings.TrimSpace(spec), ":")
	f, alias := scheduleAliases[strings.ToLower(strings.TrimSpace(name))]
	arg = strings.TrimSpace(arg)
	if !alias || !ok || arg == "" || strings.Contains(arg, ",") {
		return spec
	}
	return f(arg)
}

// checkAlias explains a malformed official alias, which CanonicalSchedule
// leaves as it is.
func checkAlias(spec string) error {
	name, _, _ := strings.Cut(strings.TrimSpace(spec), ":")
	name = strings.ToLower(strings.TrimSpace(name))
	if _, alias := scheduleAliases[name]; alias && CanonicalSchedule(spec) == spec {
		what := map[string]string{"piecewise1": "b_p (= piecewise:0,B)", "piecewise2": "b_p (= piecewise:1,B)", "piecewise3": "a_p (= piecewise:A,0.5)"}[name]
		return fmt.Errorf("schedule %q: the official name %s takes one number, %s", spec, name, what)
	}
	return nil
}
