package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
	"unsafe"
)

// killGrace is how long the command may take to exit after a forwarded
// signal before it is killed.
const killGrace = 30 * time.Second

// exitCommandNotRun is the exit code when the command cannot be started,
// as in a shell.
const exitCommandNotRun = 127

// runCommand runs argv with env, passing stdin, stdout and stderr through,
// and returns its exit code (128+n if it died of signal n) and whether a
// signal was forwarded to it. Signals received on sigs are forwarded to it;
// if it is still running killGrace after the first one, it is killed.
//
// When stdin is not a terminal the command gets its own process group:
// signals go to the whole group and whatever is left of the group when the
// command exits is killed. With a terminal the command stays in the
// harness's (foreground) group so that it can use the terminal; then signals
// go to the command alone.
func runCommand(argv []string, env []string, sigs <-chan os.Signal) (code int, signaled bool, err error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = os.Stdin
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	ownGroup := !isTerminal(os.Stdin)
	if ownGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		return exitCommandNotRun, false, fmt.Errorf("start command %q: %w", argv[0], err)
	}
	// target is what signals are sent to: the group or the process.
	target := cmd.Process.Pid
	if ownGroup {
		target = -target
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var killTimer <-chan time.Time
	for {
		select {
		case sig := <-sigs:
			signaled = true
			logf("forwarding %v to the command", sig)
			if err := syscall.Kill(target, sig.(syscall.Signal)); err != nil && !errors.Is(err, syscall.ESRCH) {
				logf("forward %v: %v", sig, err)
			}
			if killTimer == nil {
				killTimer = time.After(killGrace)
			}
		case <-killTimer:
			logf("command still running %s after the signal; killing it", killGrace)
			if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				logf("kill command: %v", err)
			}
		case err := <-done:
			if ownGroup {
				// Leftovers of the command (e.g. test binaries of a killed
				// `go test`) must not outlive it.
				if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
					logf("kill the command's process group: %v", err)
				}
			}
			code, err := exitCodeOf(cmd.ProcessState, err)
			return code, signaled, err
		}
	}
}

// exitCodeOf turns the result of exec.Cmd.Wait into a shell-style exit code.
func exitCodeOf(state *os.ProcessState, waitErr error) (int, error) {
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return exitHarnessError, fmt.Errorf("wait for command: %w", waitErr)
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return signalExitCode(ws.Signal()), nil
	}
	return state.ExitCode(), nil
}

// signalExitCode is the shell's exit code for death by sig: 128+n.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitHarnessError
}

// setParentDeathSignal asks the kernel to send sig to the harness when its
// parent exits (prctl PR_SET_PDEATHSIG). If the parent is already gone (the
// harness was re-parented to init), sig is raised at once.
func setParentDeathSignal(sig syscall.Signal) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); errno != 0 {
		return fmt.Errorf("set parent death signal: %w", errno)
	}
	if os.Getppid() == 1 {
		return syscall.Kill(os.Getpid(), sig)
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
