package kafkacluster

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

// DefaultVersion is the Kafka release the tests use.
const DefaultVersion = "4.3.1"

// packageDir is where pom.xml and log4j2.properties live, relative to the
// repository root.
const packageDir = "test/kafkacluster"

// FetchConfig says which Kafka to fetch and where to cache it.
type FetchConfig struct {
	// Root is the repository root (see RepoRoot).
	Root string
	// CacheDir receives libs/ and the bookkeeping files; empty means
	// .cache/kafka/<version> under Root.
	CacheDir string
	// Version is the Kafka release (Maven version of kafka_2.13); empty
	// means DefaultVersion.
	Version string
	// Logf receives progress messages; nil discards them.
	Logf func(format string, args ...any)
}

// Distribution is a fetched Kafka release, ready to start.
type Distribution struct {
	// Version is the Kafka release.
	Version string
	// Libs is the directory with the Kafka jars.
	Libs string
	// Log4jFile is the brokers' log4j2 configuration.
	Log4jFile string
}

// DefaultCacheDir is the jar cache for version under the repository root.
func DefaultCacheDir(root, version string) string {
	return filepath.Join(root, ".cache", "kafka", version)
}

// RepoRoot returns the nearest directory at or above the working directory
// that holds a go.mod file.
func RepoRoot() (string, error) {
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

// Fetch makes sure the jars of cfg.Version are in cfg.CacheDir/libs,
// fetching them with Maven (through test/kafkacluster/pom.xml) if the cache
// lacks a matching completion marker. Concurrent fetches into one cache
// wait for each other.
func Fetch(ctx context.Context, cfg FetchConfig) (Distribution, error) {
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir(cfg.Root, cfg.Version)
	}
	cacheDir, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return Distribution{}, fmt.Errorf("resolve Kafka cache directory: %w", err)
	}
	f := fetcher{
		pom:      filepath.Join(cfg.Root, packageDir, "pom.xml"),
		cacheDir: cacheDir,
		version:  cfg.Version,
		logf:     orDiscard(cfg.Logf),
	}
	libs, err := f.ensure(ctx)
	if err != nil {
		return Distribution{}, err
	}
	return Distribution{
		Version:   cfg.Version,
		Libs:      libs,
		Log4jFile: filepath.Join(cfg.Root, packageDir, "log4j2.properties"),
	}, nil
}

// fetcher fetches one Kafka version into one cache.
type fetcher struct {
	// pom is the path of test/kafkacluster/pom.xml.
	pom string
	// cacheDir receives libs/ and the bookkeeping files.
	cacheDir string
	// version is the Kafka version passed to Maven as kafka.version.
	version string
	// logf receives progress messages.
	logf func(format string, args ...any)
}

// ensure makes sure the jars are in cacheDir/libs and returns that
// directory.
func (cfg fetcher) ensure(ctx context.Context) (string, error) {
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
	unlock, err := cfg.lock(ctx, filepath.Join(cfg.cacheDir, lockName))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have completed the fetch while we waited.
	if cacheComplete(cfg.cacheDir, stamp) {
		return libs, nil
	}

	if err := cfg.fetchWithMaven(ctx); err != nil {
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
func (cfg fetcher) fetchWithMaven(ctx context.Context) error {
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

	cfg.logf("fetching Apache Kafka %s with Maven into %s", cfg.version, cfg.cacheDir)
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
	cfg.logf("fetched Apache Kafka %s in %s", cfg.version, time.Since(start).Round(time.Millisecond))
	return nil
}

// lock takes an exclusive flock on path, polling so that ctx can cancel
// the wait, and returns the function that releases it.
func (cfg fetcher) lock(ctx context.Context, path string) (func(), error) {
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
			cfg.logf("waiting for another fetch into the same cache (%s)", path)
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
