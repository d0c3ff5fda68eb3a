package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// microPackages are the packages whose Go benchmarks are run.
var microPackages = []string{"./arrowenc", "./server"}

// benchMicro runs the Go micro-benchmarks of the hot paths and keeps their
// lines for the report.
func (b *bench) benchMicro(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args := append([]string{"test", "-run", "xxx", "-bench", ".", "-benchmem", "-count", "1"}, microPackages...)
	if b.opts.scale < 1 {
		args = append(args, "-benchtime", "100ms")
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	b.micro = parseBenchOutput(out.Bytes())
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", goCmd, strings.Join(args, " "), err, out.String())
	}
	if len(b.micro) == 0 {
		return fmt.Errorf("no benchmark lines in:\n%s", out.String())
	}
	return nil
}

// parseBenchOutput reads `go test -bench` output: "pkg:" lines name the
// package of the Benchmark lines that follow.
func parseBenchOutput(out []byte) []microResult {
	var res []microResult
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "pkg:" {
			pkg = f[1]
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue // not a result line (another line printed into it)
		}
		m := microResult{pkg: pkg, name: f[0], iterations: f[1]}
		for i := 2; i+1 < len(f); i += 2 {
			m.metrics = append(m.metrics, [2]string{f[i], f[i+1]})
		}
		res = append(res, m)
	}
	return res
}
