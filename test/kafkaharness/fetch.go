package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Names inside the cache directory.
const (
	// libsName is the directory with the Kafka jars.
	libsName = "libs"
	// partialName is where Maven copies the jars before they are moved to
	// libsName, so that an interrupted fetch never looks complete.
	partialName = "libs.partial"
	// markerName is written after a complete fetch; it holds fetchStamp.
	markerName = "libs.complete"
	// lockName serialises concurrent fetches into the same cache.
	lockName = ".lock"
	// mvnLogName keeps Maven's output of the last fetch.
	mvnLogName = "mvn.log"
)

// fetchConfig says which Kafka to fetch and where to cache it.
type fetchConfig struct {
	// pom is the path of test/kafkaharness/pom.xml.
	pom string
	// cacheDir receives libs/ and the bookkeeping files.
	cacheDir string
	// version is the Kafka version passed to Maven as kafka.version.
	version string
}

// repoRoot returns the nearest directory at or above the working directory
// that holds a go.mod file.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod in the working directory or above")
		}
		dir = parent
	}
}

// fetchStamp is the content of the completion marker: it names the version
// and the pom it was fetched with, so that changing either fetches again.
func fetchStamp(version string, pom []byte) string {
	sum := sha256.Sum256(pom)
	return fmt.Sprintf("kafka_2.13 %s\npom sha256 %s\n", version, hex.EncodeToString(sum[:]))
}

// ensureKafka makes sure the jars for cfg.version are in cfg.cacheDir/libs,
// fetching them with Maven if the cache lacks a matching completion marker,
// and returns the libs directory.
func ensureKafka(ctx context.Context, cfg fetchConfig) (string, error) {
	libs := filepath.Join(cfg.cacheDir, libsName)
	pom, err := os.ReadFile(cfg.pom)
	if err != nil {
		return "", fmt.Errorf("read Maven pom: %w", err)
	}
	stamp := fetchStamp(cfg.version, pom)
	if cacheComplete(cfg.cacheDir, stamp) {
		return libs, nil
	}

	if err := os.MkdirAll(cfg.cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create Kafka cache: %w", err)
	}
	unlock, err := lockDir(ctx, filepath.Join(cfg.cacheDir, lockName))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another harness may have completed the fetch while we waited.
	if cacheComplete(cfg.cacheDir, stamp) {
		return libs, nil
	}

	if err := fetchWithMaven(ctx, cfg); err != nil {
		return "", err
	}
	if err := os.RemoveAll(libs); err != nil {
		return "", fmt.Errorf("remove old Kafka jars: %w", err)
	}
	if err := os.Rename(filepath.Join(cfg.cacheDir, partialName), libs); err != nil {
		return "", fmt.Errorf("move fetched Kafka jars into place: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(cfg.cacheDir, markerName), []byte(stamp)); err != nil {
		return "", fmt.Errorf("write Kafka cache marker: %w", err)
	}
	return libs, nil
}

// cacheComplete reports whether cacheDir holds a completed fetch with the
// given stamp.
func cacheComplete(cacheDir, stamp string) bool {
	got, err := os.ReadFile(filepath.Join(cacheDir, markerName))
	if err != nil || string(got) != stamp {
		return false
	}
	info, err := os.Stat(filepath.Join(cacheDir, libsName))
	return err == nil && info.IsDir()
}

// fetchWithMaven copies Kafka and its runtime dependencies into
// cacheDir/libs.partial. Maven's output goes to cacheDir/mvn.log and is
// printed only when Maven fails.
func fetchWithMaven(ctx context.Context, cfg fetchConfig) error {
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return fmt.Errorf("fetch Kafka %s: Maven is needed: %w", cfg.version, err)
	}
	partial := filepath.Join(cfg.cacheDir, partialName)
	// Remove the leftovers of an interrupted fetch, and the marker of a
	// different version or pom.
	for _, p := range []string{partial, filepath.Join(cfg.cacheDir, markerName)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("clean Kafka cache: %w", err)
		}
	}
	logPath := filepath.Join(cfg.cacheDir, mvnLogName)
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create Maven log: %w", err)
	}
	defer logFile.Close()

	logf("fetching Apache Kafka %s with Maven into %s", cfg.version, cfg.cacheDir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, mvn, "-B", "-q", "-f", cfg.pom,
		"dependency:copy-dependencies",
		"-DoutputDirectory="+partial,
		"-Dkafka.version="+cfg.version)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("fetch Kafka %s: interrupted: %w", cfg.version, ctx.Err())
		}
		fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n", logPath)
		printTail(os.Stderr, logPath, 40)
		return fmt.Errorf("fetch Kafka %s with Maven: %w", cfg.version, err)
	}
	jar := filepath.Join(partial, "kafka_2.13-"+cfg.version+".jar")
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("fetch Kafka %s: Maven finished but the broker jar is missing: %w", cfg.version, err)
	}
	logf("fetched Apache Kafka %s in %s", cfg.version, time.Since(start).Round(time.Millisecond))
	return nil
}

// lockDir takes an exclusive flock on path, polling so that ctx can cancel
// the wait, and returns the function that releases it.
func lockDir(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open Kafka cache lock: %w", err)
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock Kafka cache: %w", err)
		}
		if !waited {
			logf("waiting for another fetch into the same cache (%s)", path)
			waited = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock Kafka cache: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return func() {
		// Closing the file releases the lock.
		f.Close()
	}, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// over path.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
