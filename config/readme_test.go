package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMESettings: README's settings table has one row per declared
// setting, with its flags, its file key, its default (a zero default is
// described in words: none, off, 0) and its environment variable, and no
// row for a setting that does not exist.
func TestREADMESettings(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const header = "| Flag | `rafka` key | Default | Meaning |"
	text := string(readme)
	start := strings.Index(text, header)
	if start < 0 {
		t.Fatalf("README has no settings table (%q)", header)
	}
	table := text[start:]
	table = table[:strings.Index(table, "\n\n")]
	flagRE := regexp.MustCompile("`--?([a-z-]+)`")
	rows := map[string][]string{} // file key -> cells
	for _, line := range strings.Split(table, "\n")[2:] {
		cells := strings.Split(line, "|")
		cells = cells[1 : len(cells)-1]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 {
			t.Errorf("row with %d cells: %s", len(cells), line)
			continue
		}
		key := strings.Trim(cells[1], "`")
		if key == "" {
			continue // a command-line option, not a setting (--config, --version, --ready-file)
		}
		if _, dup := rows[key]; dup {
			t.Errorf("two rows for %s", key)
		}
		rows[key] = cells
	}
	for _, d := range declared() {
		cells, ok := rows[d.key]
		if !ok {
			t.Errorf("no README row for %s (--%s)", d.key, d.flags[0])
			continue
		}
		delete(rows, d.key)
		var flags []string
		for _, m := range flagRE.FindAllStringSubmatch(cells[0], -1) {
			flags = append(flags, m[1])
		}
		if strings.Join(flags, ",") != strings.Join(append(d.flags[1:], d.flags[0]), ",") &&
			strings.Join(flags, ",") != strings.Join(d.flags, ",") {
			t.Errorf("%s: README flags %v, declared %v", d.key, flags, d.flags)
		}
		if d.def != "" && !strings.HasPrefix(cells[2], "`"+d.def+"`") {
			t.Errorf("%s: README default %q, declared %q", d.key, cells[2], d.def)
		}
		if d.env != "" && !strings.Contains(cells[2], "`$"+d.env+"`") {
			t.Errorf("%s: README default %q does not name $%s", d.key, cells[2], d.env)
		}
	}
	for key := range rows {
		t.Errorf("README row for %s, which is not a setting", key)
	}
}
