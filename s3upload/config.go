package s3upload

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlerr"

	"github.com/awsutils/awsutils/awsclient"
)

// ConfigFile is the original name of the upload job's optional config file.
const ConfigFile = "aws_s3_upload.yml"

// Config is aws_s3_upload.yml: a region and optional static keys. Its String
// and LogValue never show the secret.
type Config struct {
	Path            string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
}

// LoadConfig reads an aws_s3_upload.yml. Warnings are problems worth telling
// the user that do not stop the job, e.g. keys in a file others can read.
func LoadConfig(path string) (cfg Config, warnings []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err = ParseConfig(path, data)
	if err != nil {
		return Config{}, nil, err
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o044 != 0 {
			warnings = append(warnings, fmt.Sprintf("%s holds access keys and is readable by group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path))
		}
	}
	return cfg, warnings, nil
}

// ParseConfig parses the content of an aws_s3_upload.yml; name is used in
// errors, which say file:line.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := Config{Path: name}
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, yamlerr.Syntax(name, err)
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("%s:%d: want a mapping of region_name, access_key_id, secret_access_key", name, root.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return Config{}, fmt.Errorf("%s:%d: key %q given twice", name, k.Line, k.Value)
		}
		seen[k.Value] = true
		var dst *string
		switch k.Value {
		case "region_name":
			dst = &cfg.Region
		case "access_key_id":
			dst = &cfg.AccessKeyID
		case "secret_access_key":
			dst = &cfg.SecretAccessKey
		default:
			return Config{}, fmt.Errorf("%s:%d: unknown key %q (want region_name, access_key_id, secret_access_key)", name, k.Line, k.Value)
		}
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!null") {
			// Never echo the value: it may be the secret.
			return Config{}, fmt.Errorf("%s:%d: %s must be a string", name, v.Line, k.Value)
		}
		if v.Tag == "!!str" {
			*dst = v.Value
		}
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return Config{}, fmt.Errorf("%s: access_key_id and secret_access_key must be given together", name)
	}
	return cfg, nil
}

// ClientOptions are the awsclient options this config asks for.
func (c Config) ClientOptions() awsclient.Options {
	return awsclient.Options{Region: c.Region, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
}

func (c Config) redactedSecret() string {
	if c.SecretAccessKey == "" {
		return ""
	}
	return "REDACTED"
}

// String shows the config with the secret redacted.
func (c Config) String() string {
	return fmt.Sprintf("{path: %q, region_name: %q, access_key_id: %q, secret_access_key: %q}",
		c.Path, c.Region, c.AccessKeyID, c.redactedSecret())
}

// GoString keeps %#v from printing the secret too.
func (c Config) GoString() string { return "s3upload.Config" + c.String() }

// LogValue keeps slog from printing the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("path", c.Path),
		slog.String("region_name", c.Region),
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", c.redactedSecret()),
	)
}
