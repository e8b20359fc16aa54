package startstop

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's types table from the registry")

// The types tables of README.md and README.ja.md lie between these lines.
const (
	typesBegin = "<!-- types table: from startstop's registry (go test ./startstop -run TestREADMETypes -update-readme) -->"
	typesEnd   = "<!-- end of types table -->"
)

// typesTable is README.md's types table, from the registry.
func typesTable() string {
	var b strings.Builder
	b.WriteString("| `type` | ids | start | stop | saved for the start | IAM on the resource | IAM on `*` | group fields |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, k := range registry {
		saved := k.Doc.Saved
		if saved == "" {
			saved = "nothing"
		}
		fields := "—"
		if len(k.Fields) > 0 {
			var fs []string
			for _, f := range k.Fields {
				fs = append(fs, "`"+f.Name+"` ("+f.Want+"): "+f.Doc)
			}
			fields = strings.Join(fs, "; ")
		}
		b.WriteString("| `" + string(k.Type) + "` | " + k.IDs + " | " + k.Doc.Start + " | " + k.Doc.Stop + " | " + saved +
			" | " + ticks(distinct(append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...))) + " on `" + k.arn("aws", "REGION", "ACCOUNT", "ID") + "`" +
			" | " + ticks(anywhere(&k)) + " | " + fields + " |\n")
	}
	return b.String()
}

// anywhere are the IAM actions k needs on "*".
func anywhere(k *kind) []string {
	as := append([]string(nil), k.Describe.IAM...)
	for _, g := range k.Also {
		as = append(as, g.IAM...)
	}
	return as
}

// distinct is s without repeats, in order (start and stop may share an
// action, e.g. autoscaling:UpdateAutoScalingGroup).
func distinct(s []string) []string {
	var out []string
	for _, a := range s {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func ticks(s []string) string { return "`" + strings.Join(s, "`, `") + "`" }

// readmeTable returns the types table of a README and the file around it.
func readmeTable(t *testing.T, name string) (before, table, after string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, typesBegin), strings.Index(s, typesEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no types table between %q and %q", name, typesBegin, typesEnd)
	}
	i += len(typesBegin) + 1
	return s[:i], s[i:j], s[j:]
}

// TestREADMETypes checks the types tables against the registry: README.md's
// is the registry's (rewrite it with -update-readme); README.ja.md's has one
// row per registered type, no other, each naming the type's start and stop
// calls and every IAM action it needs.
func TestREADMETypes(t *testing.T) {
	before, got, after := readmeTable(t, "README.md")
	want := typesTable()
	if *updateREADME {
		if err := os.WriteFile(filepath.Join("..", "README.md"), []byte(before+want+after), 0o644); err != nil {
			t.Fatal(err)
		}
		got = want
	}
	if got != want {
		t.Errorf("README.md's types table is not the registry's (go test ./startstop -run TestREADMETypes -update-readme):\n got:\n%s\nwant:\n%s", got, want)
	}
	_, ja, _ := readmeTable(t, "README.ja.md")
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(ja), "\n")[2:] {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			t.Errorf("README.ja.md: types table row %q", line)
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
	}
	for _, k := range registry {
		row, ok := rows[string(k.Type)]
		if !ok {
			t.Errorf("README.ja.md: no row for %s in the types table", k.Type)
			continue
		}
		delete(rows, string(k.Type))
		need := append([]string{k.Start.Op, k.Stop.Op}, anywhere(&k)...)
		need = append(append(need, k.Start.IAM...), k.Stop.IAM...)
		for _, f := range k.Fields {
			need = append(need, "`"+f.Name+"`")
		}
		for _, s := range need {
			if !strings.Contains(row, s) {
				t.Errorf("README.ja.md: the row of %s does not name %s", k.Type, s)
			}
		}
	}
	for typ := range rows {
		t.Errorf("README.ja.md: types table row for %q, which is not a registered type", typ)
	}
}
