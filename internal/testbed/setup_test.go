package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyToolsScript puts scripts/tools.sh into an empty tree, so that a test of
// its failure messages cannot touch the project's own .venv or .bin.
func copyToolsScript(t *testing.T) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "scripts", "tools.sh")
	if err := os.WriteFile(script, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestToolsScriptSaysWhatToDo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		integration bool
		env         []string
		want        string
	}{
		{"missing python", false, []string{"PYTHON=python-that-does-not-exist"}, "not found: install Python 3.9+"},
		{"failed pip install", true, []string{"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2"}, "check that PyPI is reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.integration {
				Require(t)
			}
			script := copyToolsScript(t)
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("tools.sh succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(script)), ".venv")); err == nil {
				t.Error("a failed install left a half-made .venv behind")
			}
		})
	}
}

func TestServerThatDiesSaysSo(t *testing.T) {
	p, err := startProcess("fake-server", baseEnv(), "", "sh", "-c", "echo 'OSError: [Errno 98] Address already in use' >&2; exit 1")
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitTCP("127.0.0.1:9", 5*time.Second)
	if err == nil {
		t.Fatal("waitTCP succeeded for a process that exited")
	}
	for _, want := range []string{"fake-server exited before listening", "if the port was taken, run again", "Address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
