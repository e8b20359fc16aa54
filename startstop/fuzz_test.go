package startstop

import (
	"strings"
	"testing"
)

// The original's example (original, in config_test.go) and its event and
// name forms seed the corpora; the properties are: no panic, one-line errors, and
// whatever parses is consistent. The anchor and merge seeds include alias
// cycles and documents built to expand exponentially: Parse must finish
// them quickly (every go test runs the seeds) with an error or a result.

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		original,
		strings.Replace(original, "ec2.instance", "ec2.instanse", 1),
		strings.Replace(original, "ids: [my-postgres]", "ids: []", 1),
		"region_name: [x\n",
		"region_name: eu-west-1\nk:\n  - type: ec2.instance\n    region: us-east-1\n    ids:\n      - i-01234567\n      - i-01234567\n",
		"k: 1\n", "", "---\n- a\n", "k:\n  - {type: rds.db_instance, ids: [1, 2.5, true]}\n",
		// Anchors, aliases and merge keys, as PyYAML reads them.
		"x-ids: &ids [i-0123456789abcdef0, i-0fedcba9876543210]\n.d: &d {type: ec2.instance}\nk:\n  - <<: *d\n    ids: *ids\n",
		".a: &a {type: rds.db_instance}\n.b: &b {region: eu-west-1}\nk:\n  - <<: [*a, *b]\n    ids: [&p pg1, pg2]\nj:\n  - {<<: *a, ids: [*p, on]}\n",
		"k:\n  - &g {type: ec2.instance, ids: [i-01234567]}\nj: [*g, *g]\n<<: {m: [*g]}\n",
		"k: [*nope]\n", "a: &a 1\nb: &a 2\n", "k: &k [*k]\n", "k:\n  - &m {type: ec2.instance, <<: *m, ids: [i-01234567]}\n",
		"k:\n  - <<: [1]\n", "<<: *x\n", "x: &x {k: [{type: rds.db_cluster, ids: [c]}]}\n<<: [*x, *x]\n",
		// Billion laughs: every level aliases the last one ten times.
		"a: &a [i-01234567, i-01234567, i-01234567, i-01234567, i-01234567]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"g: &g {type: ec2.instance, ids: *a}\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\nk: [*g, *g, *g, *g, *g, *g, *g, *g]\n",
		"n0: &n0 {type: ec2.instance, ids: [i-01234567]}\nn1: &n1 {<<: [*n0, *n0, *n0, *n0]}\nn2: &n2 {<<: [*n1, *n1, *n1, *n1]}\nk: [*n2, {<<: [*n2, *n1]}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("c.yml", data)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "c.yml") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if len(c.Keys) == 0 {
			t.Fatal("parsed a config without keys")
		}
		for _, w := range c.Warnings {
			if strings.Contains(w, "\n") || !strings.HasPrefix(w, "c.yml:") {
				t.Fatalf("warning is not one line naming the file: %q", w)
			}
		}
		for _, s := range c.skipped {
			if _, err := c.Lookup(s.name); err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "c.yml:") {
				t.Fatalf("asking for ignored key %q: %v", s.name, err)
			}
		}
		for _, k := range c.Keys {
			if k.Name == "" || k.Name == "region_name" || len(k.Groups) == 0 {
				t.Fatalf("bad key %+v", k)
			}
			for _, g := range k.Groups {
				if !g.Type.valid() || len(g.IDs) == 0 {
					t.Fatalf("bad group %+v", g)
				}
				for _, id := range g.IDs {
					if id == "" || (g.Type == EC2Instance && !ec2ID.MatchString(id)) {
						t.Fatalf("bad id %q in %+v", id, g)
					}
				}
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"action": "start", "configKey": "dev-env"}`,
		`{"action": "stop", "configKey": ["dev-env", "batch-servers"]}`,
		`{"action": "status", "configKey": "dev-env"}`,
		`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
		`{"action": "restart", "configKey": "k"}`, `{"action": "stop", "configKey": []}`,
		`{"action": 1}`, `[]`, `null`, `"x"`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseEvent(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if r.Action != Start && r.Action != Stop && r.Action != Status {
			t.Fatalf("action %q", r.Action)
		}
		if len(r.Keys) == 0 {
			t.Fatal("no keys")
		}
	})
}

func FuzzFromFunctionName(f *testing.F) {
	for _, s := range []string{"ec2_start_dev-env", "ec2_stop_batch_servers", "ec2_stop_", "ec2_restart_x", "my-function", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := FromFunctionName(name)
		if err != nil {
			return
		}
		if len(r.Keys) != 1 || r.Keys[0] == "" {
			t.Fatalf("%q: keys %q", name, r.Keys)
		}
		// The name is exactly the convention, so it round-trips.
		if got := "ec2_" + string(r.Action) + "_" + r.Keys[0]; got != name {
			t.Fatalf("%q parsed as %s, which names %q", name, r, got)
		}
	})
}
