// Command rafkabench measures rafka side by side with its baselines (see
// package rafka/test/bench); make bench runs it.
package main

import (
	"os"

	"rafka/test/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:])) }
