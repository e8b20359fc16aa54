package s3upload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// aws_s3_upload.yml read as the original's PyYAML safe_load reads it. The
// values in want are what PyYAML 6.0.3's yaml.safe_load gives for region_name,
// access_key_id and secret_access_key.
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
