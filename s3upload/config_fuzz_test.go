package s3upload

import (
	"strings"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"region_name: ap-northeast-1\n",
		"region_name: ap-northeast-1\naccess_key_id: AKIDEXAMPLE\nsecret_access_key: wJalrXUtnFEMI/K7MDENG\n",
		"region_name: ap-northeast-1\naccess_key_id: AKIDEXAMPLE\n",
		"region: x\n", "region_name: [x\n", "- a\n", "", "secret_access_key: s3cr3t-value\nbogus: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("u.yml", data)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "u.yml") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			// A secret must not leak through an error about its own line.
			if i := strings.Index(string(data), "secret_access_key:"); i >= 0 {
				v := strings.TrimSpace(strings.SplitN(string(data[i+len("secret_access_key:"):]), "\n", 2)[0])
				if len(v) >= 8 && strings.Contains(msg, v) {
					t.Fatalf("error shows the secret: %q", msg)
				}
			}
			return
		}
		if cfg.SecretAccessKey != "" && len(cfg.SecretAccessKey) >= 4 && strings.Contains(cfg.String(), cfg.SecretAccessKey) {
			t.Fatalf("String() shows the secret: %q", cfg.String())
		}
	})
}
