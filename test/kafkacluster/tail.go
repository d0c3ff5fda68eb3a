package kafkacluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// tailReadLimit is how much of the end of a file printTail reads at most.
const tailReadLimit = 256 << 10

// printTail writes the last n lines of the file at path to w.
func printTail(w io.Writer, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(w, "(cannot read %s: %v)\n", path, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		fmt.Fprintf(w, "(cannot read %s: %v)\n", path, err)
		return
	}
	offset := max(info.Size()-tailReadLimit, 0)
	data := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(data, offset); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(w, "(cannot read %s: %v)\n", path, err)
		return
	}
	for _, line := range lastLines(data, n) {
		fmt.Fprintf(w, "%s\n", line)
	}
}

// lastLines returns the last n lines of data, without line terminators. A
// final line break does not start another line.
func lastLines(data []byte, n int) [][]byte {
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 || n <= 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
