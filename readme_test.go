package memerr_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README commands and code must not rot: every Go block is the text of a
// compiled file, and every shell command is either run here or run by
// .ci/run.

var fence = regexp.MustCompile("(?s)```(go|sh)\n(.*?)```")

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	return string(b)
}

// marked returns the lines between "README:begin name" and "README:end" in
// file, with their common indentation removed.
func marked(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "README:begin "+name+"\n")
	require.GreaterOrEqual(t, i, 0, "marker %q in %s", name, file)
	s = s[i+len("README:begin "+name+"\n"):]
	j := strings.Index(s, "README:end")
	require.GreaterOrEqual(t, j, 0)
	s = s[:strings.LastIndexByte(s[:j], '\n')+1]
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for k, l := range lines {
		if len(l) >= indent {
			lines[k] = l[indent:]
		}
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n"
}

func TestReadmeGoBlocksAreCompiledCode(t *testing.T) {
	blocks := map[string]bool{}
	for _, m := range fence.FindAllStringSubmatch(readme(t), -1) {
		if m[1] == "go" {
			blocks[m[2]] = true
		}
	}
	for _, name := range []string{"first-example", "memerrtest", "customvendor", "stream"} {
		code := marked(t, "examples/readme/readme.go", name)
		assert.True(t, blocks[code], "README has no Go block equal to examples/readme/readme.go %q:\n%s", name, code)
		delete(blocks, code)
	}
	code := marked(t, "fleet/example_test.go", "fleet")
	assert.True(t, blocks[code], "README has no Go block equal to fleet/example_test.go's:\n%s", code)
	delete(blocks, code)
	assert.Empty(t, blocks, "every Go block in README.md must be kept in examples/readme/readme.go or fleet/example_test.go")
}

func TestReadmeShellCommands(t *testing.T) {
	ci, err := os.ReadFile(".ci/run")
	require.NoError(t, err)
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)

	var cli [][]string
	installCLI := false
	for _, m := range fence.FindAllStringSubmatch(readme(t), -1) {
		if m[1] != "sh" {
			continue
		}
		for _, line := range strings.Split(m[2], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			switch {
			case line == "go run ./examples/quickstart" || line == "go test ./...":
				assert.Contains(t, string(ci), "\n"+line+"\n", ".ci/run must run the README command %q", line)
			case strings.HasPrefix(line, "go get "):
				assert.Contains(t, string(gomod), "module "+strings.TrimPrefix(line, "go get ")+"\n")
			case line == "go install ./cmd/memerr":
				installCLI = true // the build below compiles the same package
			case strings.HasPrefix(line, "go run ./cmd/memerr "):
				cli = append(cli, strings.Fields(strings.TrimPrefix(line, "go run ./cmd/memerr ")))
			default:
				t.Errorf("README command %q is run neither by this test nor by .ci/run", line)
			}
		}
	}
	require.NotEmpty(t, cli)
	assert.True(t, installCLI, "README tells how to install the CLI")

	bin := filepath.Join(t.TempDir(), "memerr")
	build := exec.Command("go", "build", "-o", bin, "./cmd/memerr")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the CLI: %s", out)
	for _, args := range cli {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
			assert.NotEmpty(t, stdout.String())
		})
	}
}
