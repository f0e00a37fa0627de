// Package faults is fault injection for the crash and concurrency tests,
// which cannot time a kill or another command between two steps
// microseconds apart: named points in the code where a process ends as a
// crash would ($CONSENTGATE_TEST_CRASH) or waits for the test
// ($CONSENTGATE_TEST_PAUSE; the first time it is reached). Unset, a point
// costs an environment lookup.
package faults

import (
	"bufio"
	"fmt"
	"os"
	"sync"
)

var paused sync.Map // the points paused at already: each pauses once

// Point is where a crash or a pause may be asked for.
func Point(name string) {
	if os.Getenv("CONSENTGATE_TEST_CRASH") == name {
		os.Exit(137)
	}
	if os.Getenv("CONSENTGATE_TEST_PAUSE") == name {
		if _, again := paused.LoadOrStore(name, true); again {
			return
		}
		// Say so, then wait for a line on standard input: the test reads
		// the first, and writes the second when it is done.
		fmt.Fprintf(os.Stderr, "consentgate: paused at %s\n", name)
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
}
