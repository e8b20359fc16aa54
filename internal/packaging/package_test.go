package packaging

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// functions are the zips `make package` must build, with the config file
// each may carry.
var functions = []struct{ name, config string }{
	{"startstop", "aws_resource_start_stop.yml"},
	{"s3upload", "aws_s3_upload.yml"},
}

var arches = []struct {
	name    string
	machine elf.Machine
}{
	{"arm64", elf.EM_AARCH64},
	{"x86_64", elf.EM_X86_64},
}

// runPackage runs scripts/package.sh (what `make package` runs) from the
// module root with env added; VERSION and COMMIT are fixed so that a commit
// by someone else between two builds cannot change the stamp.
func runPackage(t *testing.T, env ...string) (string, error) {
	t.Helper()
	return packageScript(env...)
}

// packageScript is runPackage for callers without a test (a build shared
// by several tests).
func packageScript(env ...string) (string, error) {
	root, err := testbed.Root()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("scripts/package.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test", "COMMIT=0123456789abcdef")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustPackage(t *testing.T, env ...string) {
	t.Helper()
	if out, err := runPackage(t, env...); err != nil {
		t.Fatalf("package.sh %v: %v\n%s", env, err, out)
	}
}

// entries reads a zip: entry names in order, and each entry's bytes.
func entries(t *testing.T, path string) ([]string, map[string][]byte, *zip.Reader) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var names []string
	data := map[string][]byte{}
	for _, f := range r.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
	}
	return names, data, r
}

// checkStaticELF fails t unless bin is a stripped, statically linked Linux
// executable for machine: no program interpreter and no shared libraries,
// which is what provided.al2023 needs from a Go bootstrap.
func checkStaticELF(t *testing.T, what string, bin []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s: not ELF: %v", what, err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", what, f.Machine, machine)
	}
	if f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC || f.OSABI != elf.ELFOSABI_NONE {
		t.Errorf("%s: class %v type %v OS ABI %v, want a 64-bit Linux executable", what, f.Class, f.Type, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has a %v program header: dynamically linked", what, p.Type)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(libs) != 0 {
		t.Errorf("%s: needs shared libraries %v", what, libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s: has a symbol table: not built with -ldflags -s", what)
	}
}

// TestPackage builds every function for both architectures with configs,
// then again into another folder, and checks the zips' contents, the
// binaries and that the two builds are byte for byte the same.
func TestPackage(t *testing.T) {
	testbed.Require(t)
	tmp := t.TempDir()
	startstopConf := filepath.Join(tmp, "aws_resource_start_stop.yml")
	uploadConf := filepath.Join(tmp, "upload-settings.yml")
	if err := os.WriteFile(startstopConf, []byte("region_name: ap-northeast-1\ndev-env:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(uploadConf, []byte("region_name: ap-northeast-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	confs := map[string]string{"startstop": startstopConf, "s3upload": uploadConf}

	first, second := filepath.Join(tmp, "dist1"), filepath.Join(tmp, "dist2")
	mustPackage(t, "DIST="+first, "CONFIG="+startstopConf, "UPLOAD_CONFIG="+uploadConf)
	// A later build sees different file times on every input, as a fresh
	// clone would.
	later := time.Now().Add(time.Hour)
	for _, p := range confs {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	mustPackage(t, "DIST="+second, "ARCH=all", "STARTSTOP_CONFIG="+startstopConf, "CONFIG="+uploadConfAs(t, tmp, uploadConf))

	for _, fn := range functions {
		for _, a := range arches {
			zipName := fn.name + "-" + a.name + ".zip"
			t.Run(zipName, func(t *testing.T) {
				p := filepath.Join(first, zipName)
				names, data, r := entries(t, p)
				if want := []string{"bootstrap", fn.config}; !equal(names, want) {
					t.Fatalf("%s holds %v, want %v", zipName, names, want)
				}
				for _, f := range r.File {
					if want := Mode(f.Name); f.Mode() != want {
						t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), want)
					}
					if !f.Modified.Equal(Epoch) {
						t.Errorf("%s: time %v, want %v", f.Name, f.Modified, Epoch)
					}
				}
				conf, err := os.ReadFile(confs[fn.name])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(data[fn.config], conf) {
					t.Errorf("%s in %s differs from the given file", fn.config, zipName)
				}
				checkStaticELF(t, zipName+": bootstrap", data["bootstrap"], a.machine)

				again, err := os.ReadFile(filepath.Join(second, zipName))
				if err != nil {
					t.Fatal(err)
				}
				orig, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(orig, again) {
					t.Errorf("%s: two builds of the same source differ", zipName)
				}
			})
		}
	}
}

// uploadConfAs copies the upload config under the name CONFIG routes by.
func uploadConfAs(t *testing.T, tmp, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "routed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "aws_s3_upload.yml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestPackageWithoutConfig: the default build carries bootstrap and nothing
// else, and that bootstrap, unzipped as Lambda unzips it, starts under the
// Runtime Interface Emulator and reaches its handler.
func TestPackageWithoutConfig(t *testing.T) {
	testbed.Require(t)
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skipf("no Lambda architecture matches this machine (%s)", runtime.GOARCH)
	}
	dist := filepath.Join(t.TempDir(), "dist")
	mustPackage(t, "DIST="+dist, "ARCH="+arch)
	for _, fn := range functions {
		t.Run(fn.name, func(t *testing.T) {
			zipName := fn.name + "-" + arch + ".zip"
			names, data, r := entries(t, filepath.Join(dist, zipName))
			if want := []string{"bootstrap"}; !equal(names, want) {
				t.Fatalf("%s holds %v, want %v", zipName, names, want)
			}
			// Unzip with the recorded mode: if the zip lost the executable
			// bit, the emulator cannot start bootstrap.
			task := t.TempDir()
			bin := filepath.Join(task, "bootstrap")
			if err := os.WriteFile(bin, data["bootstrap"], r.File[0].Mode().Perm()); err != nil {
				t.Fatal(err)
			}
			fnc := testbed.StartLambda(t, bin, map[string]string{
				"AWS_LAMBDA_FUNCTION_NAME": "packaging-smoke",
				"AWS_REGION":               "us-east-1",
				"AWS_ACCESS_KEY_ID":        "testing",
				"AWS_SECRET_ACCESS_KEY":    "testing",
				// Nothing listens here: the function must not reach AWS.
				"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := fnc.Invoke(ctx, `{}`)
			var fe *testbed.FunctionError
			// An empty event may well be refused; what must not happen is the
			// runtime failing to start or run the binary.
			if errors.As(err, &fe) && strings.HasPrefix(fe.Type, "Runtime.") {
				t.Fatalf("bootstrap from %s did not run: %v", zipName, err)
			} else if err != nil && !errors.As(err, &fe) {
				t.Fatalf("invoke %s: %v", zipName, err)
			}
		})
	}
}

// TestPackageBadSettings: mistakes are refused before anything is built,
// with a line naming the setting.
func TestPackageBadSettings(t *testing.T) {
	testbed.Require(t)
	tmp := t.TempDir()
	other := filepath.Join(tmp, "settings.yml")
	if err := os.WriteFile(other, []byte("region_name: us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(tmp, "dist")
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"arch", []string{"ARCH=sparc"}, "ARCH=sparc: want arm64, x86_64 or all"},
		{"config name", []string{"CONFIG=" + other}, "must be aws_resource_start_stop.yml or aws_s3_upload.yml"},
		{"missing config", []string{"STARTSTOP_CONFIG=" + filepath.Join(tmp, "nope.yml")}, "nope.yml: not found"},
		{"two configs", []string{"UPLOAD_CONFIG=" + other, "CONFIG=" + uploadConfAs(t, tmp, other)}, "two config files for s3upload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runPackage(t, append(tt.env, "DIST="+dist)...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("package.sh %v: %v, want exit status 2\n%s", tt.env, err, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not say %q", out, tt.want)
			}
			if _, err := os.Stat(dist); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused run created %s", dist)
			}
		})
	}
}
