package s3upload

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, yml string
		want      Config
		wantErr   string
	}{
		{"empty", "", Config{}, ""},
		{"region", "region_name: ap-northeast-1\n", Config{Region: "ap-northeast-1"}, ""},
		{"keys", "region_name: us-east-1\naccess_key_id: AKIA1\nsecret_access_key: s3cr3t\n",
			Config{Region: "us-east-1", AccessKeyID: "AKIA1", SecretAccessKey: "s3cr3t"}, ""},
		{"null key", "region_name: r\naccess_key_id:\nsecret_access_key:\n", Config{Region: "r"}, ""},
		{"unknown", "region_name: r\nbucket: b\n", Config{}, `f.yml:2: unknown key "bucket"`},
		{"dup", "region_name: r\nregion_name: s\n", Config{}, `f.yml:2: key "region_name" given twice`},
		{"list", "- a\n", Config{}, "f.yml:1: want a mapping"},
		{"not string", "region_name: [a]\n", Config{}, "f.yml:1: region_name must be a string"},
		{"half keys", "access_key_id: AK\n", Config{}, "must be given together"},
		{"bad yaml", "region_name: : :\n", Config{}, "f.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig("f.yml", []byte(tt.yml))
			if !testbed.WantErr(t, err, tt.wantErr) {
				return
			}
			tt.want.Path = "f.yml"
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// aws_s3_upload.yml read as the original's PyYAML safe_load reads it. The
// values in want are what PyYAML's yaml.safe_load gives for region_name,
// access_key_id and secret_access_key (in the release docs/NOTES.md names).
func TestParseConfigAnchorsAndMerges(t *testing.T) {
	tests := []struct {
		name, yml string
		want      Config
		warn      string // a warning LoadConfig gives, if any
		wantErr   string
	}{
		{"merge of a helper key", ".defaults: &d\n  region_name: ap-northeast-1\n<<: *d\n",
			Config{Region: "ap-northeast-1"}, "f.yml:1: .defaults: not a setting (it holds anchors); ignored", ""},
		{"written key wins over merged", "<<: {region_name: us-east-1}\nregion_name: eu-west-1\n", Config{Region: "eu-west-1"}, "", ""},
		{"earlier mapping of a merge list wins", "<<: [{region_name: us-east-1}, {region_name: eu-west-1, access_key_id: AK, secret_access_key: SK}]\n",
			Config{Region: "us-east-1", AccessKeyID: "AK", SecretAccessKey: "SK"}, "", ""},
		{"alias to a scalar", "region_name: &r ap-northeast-3\naccess_key_id: AK\nsecret_access_key: *r\n",
			Config{Region: "ap-northeast-3", AccessKeyID: "AK", SecretAccessKey: "ap-northeast-3"}, "", ""},
		{"quoted << is a key", "\"<<\": {region_name: x}\n", Config{}, "", `f.yml:1: unknown key "<<"`},
		{"YAML 1.1 boolean", "region_name: no\n", Config{}, "", "f.yml:1: region_name must be a string"},
		{"undefined alias", "region_name: r\naccess_key_id: *ak\n", Config{}, "", "f.yml:2: malformed YAML: unknown anchor 'ak' referenced"},
		{"merge of a scalar", "<<: x\n", Config{}, "", "f.yml:1: <<: want a mapping or a list of mappings to merge, found a scalar"},
		{"unanchored unknown key", "region_name: r\nbucket: {a: 1}\n", Config{}, "", `f.yml:2: unknown key "bucket"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.yml")
			if err := os.WriteFile(p, []byte(tt.yml), 0o600); err != nil {
				t.Fatal(err)
			}
			got, warns, err := parseConfig("f.yml", []byte(tt.yml))
			if !testbed.WantErr(t, err, tt.wantErr) {
				return
			}
			tt.want.Path = "f.yml"
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if (tt.warn == "") != (len(warns) == 0) || (tt.warn != "" && (len(warns) != 1 || warns[0] != tt.warn)) {
				t.Errorf("warnings %q, want %q", warns, tt.warn)
			}
			if _, lw, err := LoadConfig(p); err != nil || len(lw) != len(warns) {
				t.Errorf("LoadConfig: warnings %q, err %v", lw, err)
			}
		})
	}
}

func TestConfigNeverShowsSecret(t *testing.T) {
	c := Config{Path: "x", Region: "r", AccessKeyID: "AK", SecretAccessKey: "very-secret"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String()} {
		if strings.Contains(s, "very-secret") {
			t.Fatalf("secret shown: %s", s)
		}
	}
	_, err := ParseConfig("f.yml", []byte("secret_access_key: [very-secret]\n"))
	if err == nil || strings.Contains(err.Error(), "very-secret") {
		t.Fatalf("error %v", err)
	}
}

func TestLoadConfigWarnsOnReadableKeys(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(p, []byte("region_name: r\naccess_key_id: AK\nsecret_access_key: SK\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, warns, err := LoadConfig(p)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "chmod 600") {
		t.Fatalf("warnings %v, err %v", warns, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, warns, err = LoadConfig(p); err != nil || len(warns) != 0 {
		t.Fatalf("warnings %v, err %v", warns, err)
	}
	if _, _, err := LoadConfig(filepath.Join(dir, "missing.yml")); err == nil {
		t.Fatal("missing file: no error")
	}
}
