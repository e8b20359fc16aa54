package s3upload

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlnode"

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
	cfg, warnings, err = parseConfig(path, data)
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
	cfg, _, err := parseConfig(name, data)
	return cfg, err
}

// parseConfig reads the file as the original's PyYAML safe_load did
// (anchors, aliases, merge keys; see internal/yamlnode). A key that is not
// a setting but holds an anchor is there for others to use, so it is
// ignored with a warning; any other unknown key is an error.
func parseConfig(name string, data []byte) (Config, []string, error) {
	cfg := Config{Path: name}
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil, nil
	}
	doc, err := yamlnode.Parse(name, data)
	if err != nil {
		return Config{}, nil, err
	}
	if doc.Root == nil {
		return cfg, nil, nil
	}
	root := yamlnode.Resolve(doc.Root)
	if root.Kind != yaml.MappingNode {
		return Config{}, nil, fmt.Errorf("%s:%d: want a mapping of region_name, access_key_id, secret_access_key", name, root.Line)
	}
	if k, _ := yamlnode.Repeated(root); k != nil {
		return Config{}, nil, fmt.Errorf("%s:%d: key %q given twice", name, k.Line, yamlnode.Resolve(k).Value)
	}
	pairs, err := doc.Pairs(root)
	if err != nil {
		return Config{}, nil, err
	}
	var warnings []string
	for _, p := range pairs {
		k, v := yamlnode.Resolve(p.Key), yamlnode.Resolve(p.Value)
		var dst *string
		switch k.Value {
		case "region_name":
			dst = &cfg.Region
		case "access_key_id":
			dst = &cfg.AccessKeyID
		case "secret_access_key":
			dst = &cfg.SecretAccessKey
		default:
			if holdsAnchor(p.Value) {
				warnings = append(warnings, fmt.Sprintf("%s:%d: %s: not a setting (it holds anchors); ignored", name, p.Key.Line, k.Value))
				continue
			}
			return Config{}, nil, fmt.Errorf("%s:%d: unknown key %q (want region_name, access_key_id, secret_access_key)", name, p.Key.Line, k.Value)
		}
		if tag := yamlnode.Tag(v); v.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!null") {
			// Never echo the value: it may be the secret.
			return Config{}, nil, fmt.Errorf("%s:%d: %s must be a string", name, p.Value.Line, k.Value)
		}
		if yamlnode.Tag(v) == "!!str" {
			*dst = v.Value
		}
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return Config{}, nil, fmt.Errorf("%s: access_key_id and secret_access_key must be given together", name)
	}
	return cfg, warnings, nil
}

// holdsAnchor says whether v, or an entry of it, is anchored.
func holdsAnchor(v *yaml.Node) bool {
	if v.Kind == yaml.AliasNode {
		return false
	}
	if v.Anchor != "" {
		return true
	}
	for _, c := range v.Content {
		if c.Kind != yaml.AliasNode && c.Anchor != "" {
			return true
		}
	}
	return false
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
