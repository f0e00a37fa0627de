// Command duckdb-export runs the benchmark export of SPEC §10 twice over, in
// turn: once as `consentgate export`, once as the DuckDB SQL join a data
// engineer would write instead (issue 17). It checks that the two outputs
// are byte-identical and prints each run's wall time, MB/s of input, CPU
// seconds and peak resident set, both commands measured the same way: a
// child process, timed from outside, its rusage read when it ends.
//
// It is a module of its own so that the core never pulls in DuckDB (cgo and
// a prebuilt library of some 60 MB). From this directory:
//
//	go run . -pairs 3
//
// The world is the one internal/export's benchmarks generate and import
// ($TMPDIR/consentgate-bench-v2-1000000-2000000/; run
// `go test -run XXX -bench 'LoadView/subjects=1000000' -benchtime 1x ./internal/export/`
// in the core once to make it). Its store is copied first, so the exports
// logged here leave it as it was.
package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	_ "embed"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/consentgate/consentgate/internal/demo"
)

// asOf is the benchmark's as-of time.
const asOf = demo.ScaleAsOf

func main() {
	world := flag.String("world", filepath.Join(os.TempDir(), "consentgate-bench-v2-1000000-2000000"), "the generated world's `DIR`")
	bin := flag.String("consentgate", "", "the consentgate `BINARY` (default: built from the core module, ..)")
	pairs := flag.Int("pairs", 3, "rounds of consentgate (without and with --rejects) and DuckDB, in turn")
	threads := flag.Int("threads", 2, "DuckDB threads and consentgate --workers")
	work := flag.String("work", "", "working `DIR` (default a new temporary directory, removed at the end)")
	child := flag.String("duckdb-child", "", "internal: run the DuckDB export into `OUT` and exit")
	flag.Parse()
	if *child != "" {
		if err := duckExport(*world, *child, *threads); err != nil {
			fmt.Fprintln(os.Stderr, "duckdb:", err)
			os.Exit(1)
		}
		return
	}
	if err := compare(*world, *bin, *work, *pairs, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "duckdb-export:", err)
		os.Exit(1)
	}
}

// run is one timed child process.
type run struct {
	wall, cpu time.Duration
	rssMB     float64
}

func runChild(name string, args ...string) (run, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssMB: float64(ru.Maxrss) / 1024}, nil
}

func compare(world, bin, work string, pairs, threads int) error {
	in := filepath.Join(world, "records.jsonl")
	st, err := os.Stat(in)
	if err != nil {
		return fmt.Errorf("%v (generate the world first: see the package comment)", err)
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "duckdb-export-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	if bin == "" {
		bin = filepath.Join(work, "consentgate")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/consentgate")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ../cmd/consentgate: %v\n%s", err, out)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := demo.CopyScaleStore(world, filepath.Join(work, "store")); err != nil {
		return err
	}
	if err := prepareTables(world, filepath.Join(work, "tables")); err != nil {
		return err
	}
	cgOut, duckOut := filepath.Join(work, "consentgate.jsonl"), filepath.Join(work, "duckdb.jsonl")
	cgArgs := func(rejects bool) []string {
		a := demo.ScaleExportArgs(filepath.Join(work, "store", "store.db"), in, cgOut, threads)
		if rejects {
			a = append(a, "--rejects", filepath.Join(work, "consentgate.rejects.jsonl"))
		}
		return a
	}
	duckArgs := []string{"-world", filepath.Join(work, "tables"), "-threads", fmt.Sprint(threads), "-duckdb-child", duckOut}
	os.Symlink(in, filepath.Join(work, "tables", "records.jsonl"))

	// One warm-up of each: the store's first open after the copy, the
	// file cache.
	if _, err := runChild(bin, cgArgs(true)...); err != nil {
		return err
	}
	if _, err := runChild(self, duckArgs...); err != nil {
		return err
	}
	names := []string{"consentgate export --rejects", "consentgate export", "DuckDB SQL join"}
	runs := make([][]run, len(names))
	fmt.Printf("input %s: %.1f MB; %d threads/workers; %d pairs, in turn; %s\n", in, float64(st.Size())/1e6, threads, pairs, loadAverage())
	for p := 0; p < pairs; p++ {
		for i := range names {
			var r run
			if i < 2 {
				r, err = runChild(bin, cgArgs(i == 0)...)
			} else {
				r, err = runChild(self, duckArgs...)
			}
			if err != nil {
				return err
			}
			if i == 2 {
				same, a, b, err := sameFiles(cgOut, duckOut)
				if err != nil {
					return err
				}
				if !same {
					return fmt.Errorf("%s: the outputs differ: consentgate sha256 %s, DuckDB %s", names[i], a, b)
				}
			}
			runs[i] = append(runs[i], r)
			fmt.Printf("run %d  %-30s %6.2f s  %6.1f MB/s  %5.2f CPU-s  %6.0f MB RSS\n", p+1, names[i],
				r.wall.Seconds(), float64(st.Size())/1e6/r.wall.Seconds(), r.cpu.Seconds(), r.rssMB)
		}
		fmt.Printf("run %d  DuckDB's output byte-identical to consentgate's; %s\n", p+1, loadAverage())
	}
	med := func(rs []run) run {
		ws, cs, ms := make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs))
		for i, r := range rs {
			ws[i], cs[i], ms[i] = r.wall.Seconds(), r.cpu.Seconds(), r.rssMB
		}
		m := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
		return run{wall: time.Duration(m(ws) * 1e9), cpu: time.Duration(m(cs) * 1e9), rssMB: m(ms)}
	}
	d := med(runs[2])
	fmt.Println("medians:")
	for i, name := range names {
		r := med(runs[i])
		fmt.Printf("  %-30s %6.2f s  %6.1f MB/s  %5.2f CPU-s  %6.0f MB RSS", name, r.wall.Seconds(),
			float64(st.Size())/1e6/r.wall.Seconds(), r.cpu.Seconds(), r.rssMB)
		if i < 2 {
			fmt.Printf("  DuckDB/consentgate: %.2f× wall, %.2f× CPU", d.wall.Seconds()/r.wall.Seconds(), d.cpu.Seconds()/r.cpu.Seconds())
		}
		fmt.Println()
	}
	return nil
}

// loadAverage says how busy the machine is (Linux's /proc/loadavg), for
// the reader to judge the wall times by.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

// sameFiles reports whether two files hold the same bytes, with their
// SHA-256 digests.
func sameFiles(a, b string) (bool, string, string, error) {
	sum := func(path string) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	x, err := sum(a)
	if err != nil {
		return false, "", "", err
	}
	y, err := sum(b)
	if err != nil {
		return false, "", "", err
	}
	return x == y, x, y, nil
}

// prepareTables writes the subject and consent events the store was
// imported from (the world's subjects.jsonl and consent.jsonl) as Parquet
// tables, typed, each row numbered in file order: the warehouse tables a
// data engineer would join against. This is not timed, as the store's
// import is not.
func prepareTables(world, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		fmt.Sprintf(`COPY (SELECT row_number() OVER () AS seq, subject, "at"::TIMESTAMPTZ AS ts, region, attributes->>'tier' AS tier
			FROM read_json(%s, format = 'newline_delimited', columns = {subject: 'VARCHAR', "at": 'VARCHAR', region: 'VARCHAR', attributes: 'JSON'}))
			TO %s (FORMAT parquet)`, quote(filepath.Join(world, "subjects.jsonl")), quote(filepath.Join(dir, "subjects.parquet"))),
		fmt.Sprintf(`COPY (SELECT row_number() OVER () AS seq, subject, purpose, recipient, state, "at"::TIMESTAMPTZ AS ts
			FROM read_json(%s, format = 'newline_delimited', columns = {subject: 'VARCHAR', purpose: 'VARCHAR', recipient: 'VARCHAR', state: 'VARCHAR', "at": 'VARCHAR'}))
			TO %s (FORMAT parquet)`, quote(filepath.Join(world, "consent.jsonl")), quote(filepath.Join(dir, "consent.parquet"))),
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%v\n%s", err, q)
		}
	}
	return nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// The export as one SQL statement (export.sql) after a few settings, the
// policy compiled by hand into macros and the two state tables
// (prelude.sql).
var (
	//go:embed prelude.sql
	preludeSQL string
	//go:embed export.sql
	exportSQL string
)

// duckExport is the export as one DuckDB SQL statement over the tables of
// prepareTables and the records file in dir, the kept lines written to out
// as they were read, in input order.
func duckExport(dir, out string, threads int) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the macros live in the connection
	q := strings.NewReplacer("{threads}", fmt.Sprint(threads), "{asof}", asOf,
		"{subjects}", quote(filepath.Join(dir, "subjects.parquet")), "{consent}", quote(filepath.Join(dir, "consent.parquet")),
		"{records}", quote(filepath.Join(dir, "records.jsonl")), "{out}", quote(out)).Replace(preludeSQL + exportSQL)
	if p := os.Getenv("DUCKDB_PROFILE"); p != "" { // the query's profile, to read
		q = "PRAGMA enable_profiling = 'query_tree';\nSET profiling_output = " + quote(p) + ";\n" + q
	}
	if _, err := db.Exec(q); err != nil {
		return err
	}
	return nil
}
