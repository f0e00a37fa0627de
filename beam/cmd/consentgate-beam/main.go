// Command consentgate-beam runs the export as an Apache Beam pipeline over a
// snapshot file; `consentgate export finalize --dir DIR` then assembles and
// logs it. Locally it runs on Beam's prism runner; --runner and the
// runner's flags submit it to Flink, Spark or Dataflow (see beam/README.md).
//
// Its flags are consentgate export's, but for one: the records' id field is
// --id-field, because --id is Beam's own flag (the id a runner gives each
// worker process it starts from this same binary). Every other flag of ours
// is checked against Beam's by the README test (TestReadme).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/consentgate/consentgate/beam/pipeline"
	"github.com/consentgate/consentgate/internal/record"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var c pipeline.Config
	var inputs, subjects list
	flag.Var(&inputs, "in", "an input `FILE` or glob, a path or an object-store URL (s3://bucket/key, gs://…); JSON Lines, or Parquet by the .parquet extension (repeat, in order)")
	flag.StringVar(&c.InFormat, "in-format", "", "read every input as `FORMAT`: jsonl or parquet (default: by extension)")
	flag.StringVar(&c.Snapshot, "snapshot", "", "the snapshot `FILE`, a path or an object-store URL (consentgate snapshot --as-of T --out FILE)")
	flag.StringVar(&c.Purpose, "purpose", "", "the `PURPOSE`")
	flag.StringVar(&c.Recipient, "recipient", "", "the `RECIPIENT`")
	flag.StringVar(&c.OutDir, "out-dir", "", "the `DIR` for the shards, a folder or an object-store prefix (s3://bucket/shards/); consentgate export finalize --dir reads it")
	flag.BoolVar(&c.Rejects, "rejects", true, "write rejects shards")
	flag.StringVar(&c.Fields.ID, "id-field", "", "`FIELD` holding the record id (dotted path): consentgate export's --id, renamed because --id is Beam's worker id")
	flag.StringVar(&c.Fields.Time, "time", "", "`FIELD` holding the creation time (dotted path)")
	flag.StringVar(&c.Fields.Category, "category-field", "", "`FIELD` holding the category (dotted path)")
	flag.StringVar(&c.Fields.FixedCategory, "category", "", "one `CATEGORY` for every record")
	flag.Var(&subjects, "subject", "`ROLE=FIELD`: a field holding a subject id or a list of them (repeat)")
	flag.IntVar(&c.BatchesPerShard, "batches-per-shard", 16, "batches of 4 MiB per shard")
	flag.Parse()
	beam.Init() // in worker mode (--worker --id=…, started by a runner) this runs the worker and exits
	// Driver mode: --id is only ever given by a runner to a worker, so here
	// it is someone's consentgate export habit; refuse it rather than let
	// Beam swallow it and export without the id field.
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "id" {
			fail(fmt.Errorf("--id is Beam's worker id, not the records' id field: give --id-field %s (consentgate export's --id)", f.Value))
		}
	})
	ctx := context.Background()
	for _, in := range inputs {
		m, err := pipeline.Expand(ctx, in)
		if err != nil {
			fail(fmt.Errorf("--in %w", err))
		}
		c.Inputs = append(c.Inputs, m...)
	}
	for _, s := range subjects {
		f, err := record.ParseSubjectFlag(s)
		if err != nil {
			fail(err)
		}
		c.Fields.Subjects = append(c.Fields.Subjects, f)
	}
	if c.Snapshot == "" || c.OutDir == "" || c.Purpose == "" || c.Recipient == "" || len(c.Inputs) == 0 {
		fail(fmt.Errorf("--in, --snapshot, --purpose, --recipient and --out-dir are required"))
	}
	err := pipeline.Run(ctx, c, func(ctx context.Context, p *beam.Pipeline) error { return beamx.Run(ctx, p) })
	if err != nil {
		fail(err)
	}
	fmt.Printf("shards in %s; finish with: consentgate export finalize --dir %s --out FILE --rejects FILE\n", c.OutDir, c.OutDir)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "consentgate-beam:", err)
	os.Exit(1)
}
