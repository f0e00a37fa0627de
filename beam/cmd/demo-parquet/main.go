// Command demo-parquet writes the records of the tour's world (`consentgate
// demo`: posts.jsonl, messages.jsonl) as one Parquet file, the shape a
// data lake holds them in, for the Beam README's Parquet run: one schema
// for both — id, kind, author, to and mentions (LIST columns of subject
// ids), created_at (a TIMESTAMP column), text, likes — in row groups of
// 10,000 rows. The demo's deliberately broken lines (not JSON, a creation
// time that is not a time) have no such row and are left out.
//
//	demo-parquet --out world.parquet [--out s3://bucket/world.parquet] posts.jsonl messages.jsonl
//
// Each --out gets the same bytes; an object-store URL is written through
// Beam's filesystem package, with the settings consentgate-beam takes
// (beam/README.md).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	"github.com/parquet-go/parquet-go"
)

// row is one record of the world.
type row struct {
	ID        string    `parquet:"id" json:"id"`
	Kind      string    `parquet:"kind" json:"kind"`
	Author    string    `parquet:"author" json:"author"`
	To        []string  `parquet:"to,list" json:"to"`
	Mentions  []string  `parquet:"mentions,list" json:"mentions"`
	CreatedAt time.Time `parquet:"created_at,timestamp(microsecond)" json:"-"`
	Created   string    `parquet:"-" json:"created_at"`
	Text      string    `parquet:"text" json:"text"`
	Likes     int64     `parquet:"likes" json:"likes"`
}

const rowsPerGroup = 10000

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var outs list
	flag.Var(&outs, "out", "the Parquet `FILE` to write, a path or an object-store URL (repeat: the same bytes to each)")
	flag.Parse()
	if len(outs) == 0 || flag.NArg() == 0 {
		fail(fmt.Errorf("usage: demo-parquet --out FILE [--out FILE…] INPUT.jsonl…"))
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf, parquet.Compression(&parquet.Snappy))
	var n, left int
	for _, in := range flag.Args() {
		f, err := os.Open(in)
		if err != nil {
			fail(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var r row
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				left++
				continue
			}
			if r.CreatedAt, err = time.Parse(time.RFC3339Nano, r.Created); err != nil {
				left++
				continue
			}
			if _, err := w.Write([]row{r}); err != nil {
				fail(err)
			}
			if n++; n%rowsPerGroup == 0 {
				if err := w.Flush(); err != nil {
					fail(err)
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			fail(fmt.Errorf("%s: %w", in, err))
		}
	}
	if err := w.Close(); err != nil {
		fail(err)
	}
	ctx := context.Background()
	for _, out := range outs {
		fs, err := filesystem.New(ctx, out)
		if err != nil {
			fail(err)
		}
		if err := filesystem.Write(ctx, fs, out, buf.Bytes()); err != nil {
			fail(fmt.Errorf("%s: %w", out, err))
		}
	}
	fmt.Printf("wrote %d rows (%d bytes) to %s; %d lines left out\n", n, buf.Len(), strings.Join(outs, " and "), left)
}

func fail(err error) {
	msg := err.Error()
	if strings.Contains(msg, "Invalid region") && os.Getenv("AWS_REGION") == "" {
		// Beam's S3 filesystem, unlike consentgate, assumes no region.
		msg += " (set AWS_REGION, e.g. AWS_REGION=us-east-1)"
	}
	fmt.Fprintln(os.Stderr, "demo-parquet:", msg)
	os.Exit(1)
}
