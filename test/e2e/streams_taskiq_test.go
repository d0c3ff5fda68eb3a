package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTaskiqRedisStream runs taskiq with taskiq-redis's stream broker,
// unmodified (test/python/taskiq_app.py), on rafka: a worker runs every
// task sent with .kiq(); a worker killed in the middle of a task leaves it
// pending, and another worker claims it (XAUTOCLAIM under its Redis lock,
// in a MULTI) after the idle time and runs it again.
func TestTaskiqRedisStream(t *testing.T) {
	python := venvPython(t)
	if out, err := exec.Command(python, "-c", "import taskiq_redis").CombinedOutput(); err != nil {
		skipOrFail(t, "%s cannot import taskiq_redis (pip install -r test/python/requirements.txt): %v\n%s", python, err, out)
	}
	ts := startServer(t)
	stream, group := newTopic(t, 2), uniqueName(t, "tq")
	appDir, err := filepath.Abs(filepath.Join("..", "python"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tasks.log")
	_, port, _ := net.SplitHostPort(ts.addr)
	env := append(os.Environ(), "TASKIQ_URL=redis://127.0.0.1:"+port, "TASKIQ_STREAM="+stream,
		"TASKIQ_GROUP="+group, "TASKIQ_OUT="+out)
	c := ts.dial(t)

	// worker starts `taskiq worker` in its own process group; the test's
	// end kills what is left of it.
	worker := func(name, slowSeconds string) *exec.Cmd {
		cmd := exec.Command(python, "-m", "taskiq", "worker", "--app-dir", appDir, "--workers", "1",
			"--log-level", "WARNING", "taskiq_app:broker")
		cmd.Env = append(slices.Clone(env), "TASKIQ_WORKER="+name, "TASKIQ_SLOW_SECONDS="+slowSeconds)
		cmd.Dir = appDir
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("taskiq worker: %v", err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("worker %s's output:\n%s", name, log.String())
			}
		})
		return cmd
	}
	lines := func() []string {
		b, _ := os.ReadFile(out)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	pending := func() int64 { return c.do("XPENDING", stream, group).Elems[0].Num }

	// The worker's start creates the group from the stream's start.
	first := worker("first", "3600")
	waitFor(t, 60*time.Second, "the worker's XGROUP CREATE", func() bool {
		return len(c.do("XINFO", "GROUPS", stream).Elems) == 1
	})
	// kick sends record tasks first..first+count-1 with .kiq(), then the
	// slow task if asked.
	kick := func(first, count int, slow ...string) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		args := append([]string{filepath.Join(appDir, "taskiq_app.py"), "kick", fmt.Sprint(first), fmt.Sprint(count)}, slow...)
		cmd := exec.CommandContext(ctx, python, args...)
		cmd.Env, cmd.Dir = env, appDir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kick: %v\n%s", err, b)
		}
	}
	const tasks = 20
	kick(0, tasks, "slow")

	// Every record task runs and is acked; the slow one starts and stays
	// pending on the first worker.
	waitFor(t, 60*time.Second, "every task run and acked but the slow one", func() bool {
		return len(lines()) == tasks+1 && pending() == 1
	})
	started := time.Now()
	for i := range tasks {
		if n := slices.Index(lines(), fmt.Sprintf("record %d on=first", i)); n < 0 {
			t.Errorf("record %d did not run once on the first worker: %q", i, lines())
		}
	}
	if !slices.Contains(lines(), "slow-start 0 on=first") {
		t.Fatalf("the slow task did not start on the first worker: %q", lines())
	}

	// Killed mid-task: the task runs again on another worker. taskiq-redis
	// claims idle entries (XAUTOCLAIM, idle_timeout 2 s) after a read that
	// got new ones, so one more task is sent once the slow one is idle.
	if err := syscall.Kill(-first.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	worker("second", "0")
	waitFor(t, 60*time.Second, "the second worker's XREADGROUP", func() bool {
		return len(c.do("XINFO", "CONSUMERS", stream, group).Elems) == 2
	})
	time.Sleep(time.Until(started.Add(2500 * time.Millisecond)))
	kick(tasks, 1)
	waitFor(t, 60*time.Second, "the slow task run again on the second worker, and acked", func() bool {
		return slices.Contains(lines(), "slow-done 0 on=second") && pending() == 0
	})
	got := lines()
	if len(got) != tasks+4 || !slices.Contains(got, "slow-start 0 on=second") || !slices.Contains(got, fmt.Sprintf("record %d on=second", tasks)) {
		t.Errorf("task lines: %q", got)
	}
	if slices.Contains(got, "slow-done 0 on=first") {
		t.Errorf("the killed worker finished the slow task: %q", got)
	}
}
