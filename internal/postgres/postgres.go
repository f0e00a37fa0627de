// Package postgres implements the storage contract on PostgreSQL (pgx), for
// platforms whose consent store outgrows one file: the same behaviour as
// the SQLite store, proven by the same contract suite, with bulk imports
// through COPY.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a consentgate store in PostgreSQL.
type DB struct {
	pool *pgxpool.Pool
	keys store.Keys

	subjectGroup store.Group[consent.SubjectEvent]
	consentGroup store.Group[consent.Event]
}

var _ store.Store = (*DB)(nil)

// Open connects to a postgres:// DSN and brings the schema up to date
// (migrations run under an advisory lock, so several processes may start
// at once); keys gives subjects the keys their log entries' salts derive
// from.
func Open(ctx context.Context, dsn string, keys store.Keys) (*DB, error) {
	return OpenWith(ctx, dsn, keys, store.OpenOptions{Create: true})
}

// OpenWith connects as o says: without o.Create a database without
// consentgate's schema is store.ErrNoStore; read-only, every transaction
// is read-only and the schema is never migrated (store.ErrOutdated).
func OpenWith(ctx context.Context, dsn string, keys store.Keys, o store.OpenOptions) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if o.BusyTimeout > 0 {
		// A write waiting for another's lock (the log's advisory lock, held
		// by a long import) gives up, and the caller hears ErrBusy.
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = fmt.Sprint(o.BusyTimeout.Milliseconds())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, keys: keys}
	db.subjectGroup.Commit = func(ctx context.Context, b [][]consent.SubjectEvent) ([]int, error) {
		return classified(groupCommit(ctx, db, b, subjectValues, subjectLog, db.ImportSubjectEvents))
	}
	db.consentGroup.Commit = func(ctx context.Context, b [][]consent.Event) ([]int, error) {
		return classified(groupCommit(ctx, db, b, consentValues, consentLog, db.ImportConsentEvents))
	}
	if err := db.migrate(ctx, o); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// migrate applies the migrations the schema lacks, under an advisory lock
// (several processes may start at once); an up-to-date schema is seen
// without taking it.
func (s *DB) migrate(ctx context.Context, o store.OpenOptions) error {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	if !exists && !o.Create {
		return store.ErrNoStore
	}
	if exists {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ANY($1)`, names).Scan(&n); err != nil {
			return err
		}
		if n == len(names) {
			return nil
		}
		if o.ReadOnly {
			return fmt.Errorf("%w (%d schema migrations to apply)", store.ErrOutdated, len(names)-n)
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7261943)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		sort.Strings(names)
		for _, name := range names {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, _ := migrations.ReadFile(name)
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations(version) VALUES ($1)`, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the pool.
func (s *DB) Close() error {
	s.subjectGroup.Close()
	s.consentGroup.Close()
	s.pool.Close()
	return nil
}

// PublishPolicy implements store.Store.
func (s *DB) PublishPolicy(ctx context.Context, p store.Policy) (added bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var digest string
		err := tx.QueryRow(ctx, `SELECT digest FROM policies WHERE version = $1 FOR UPDATE`, p.Version).Scan(&digest)
		switch {
		case err == nil && digest == p.Digest:
			return nil
		case err == nil:
			return fmt.Errorf("policy version %q: %w with different content (published versions are immutable; give the new one its own version label)", p.Version, store.ErrExists)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO policies(version, effective_from, source, digest, published_at, forced) VALUES ($1,$2,$3,$4,$5,$6)`,
			p.Version, int64(p.EffectiveFrom), p.Source, p.Digest, int64(p.PublishedAt), p.Forced)
		if err != nil {
			return err
		}
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		if _, err := appendLog(ctx, tx, [][]byte{translog.PolicyLeaf(&p)}); err != nil {
			return err
		}
		added = true
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // published meanwhile by another process
		return s.PublishPolicy(ctx, p)
	}
	return added, err
}

// Policies implements store.Store.
func (s *DB) Policies(ctx context.Context) ([]store.Policy, error) {
	return list(ctx, s.pool, store.PolicyList)
}

const importChunk = 50_000

// logLock is the advisory lock every writer that appends to the log holds
// for its transaction (every write of subject events, consent events,
// policies, manifests and impact marks). Leaves are appended one
// transaction at a time, and sequence numbers are taken one transaction at
// a time, so they commit in order: consent events are the outbox, and a
// reader's cursor never passes a number a slower transaction has yet to
// commit.
const logLock = 7261944

func lockLog(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(logLock))
	return err
}

// importEvents copies what seq yields into a temporary table a chunk at a
// time and moves new rows into table in order, all in one transaction
// under logLock, appending their leaves. While the server inserts a chunk,
// its keys are fetched and its leaves derived on the other core for the
// sequence numbers the rows will get if all are new (read from the
// sequence: under logLock nobody else takes numbers); when some were
// already stored, the new rows are read back instead.
func importEvents[E any](ctx context.Context, pool *pgxpool.Pool, seq iter.Seq2[E, error],
	values func(e *E, now int64) []any, keys store.Keys, l logKind) (read, added int, err error) {
	table, cols, now := l.table, l.written, int64(timestamp.Now())
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tmp := "import_" + table
		colList := strings.Join(cols, ", ")
		// The same columns, no constraints, no defaults (so no sequence
		// numbers are taken), and the order of the input.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+tmp+` ON COMMIT DROP AS SELECT `+colList+`, 0::bigint AS ord FROM `+table+` WITH NO DATA`); err != nil {
			return err
		}
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		chunk := make([][]any, 0, importChunk)
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			var last int64
			var called bool
			if err := tx.QueryRow(ctx, `SELECT last_value, is_called FROM `+table+`_seq_seq`).Scan(&last, &called); err != nil {
				return err
			}
			first := last
			if called {
				first = last + 1
			}
			size, err := (&logQ{q: tx}).LogSize(ctx)
			if err != nil {
				return err
			}
			type derived struct {
				keys   map[string][]byte
				leaves [][]byte
				pre    *translog.Prepared
				err    error
			}
			ch := make(chan derived, 1)
			go func() {
				var d derived
				if keys == nil {
					d.err = errors.New("the store was opened without subject keys (--keys)")
					ch <- d
					return
				}
				subjects := store.Distinct(chunk, func(r *[]any) string { return (*r)[0].(string) })
				if d.keys, d.err = keys.SubjectKeys(ctx, subjects, true); d.err == nil {
					d.leaves = l.fromValues(chunk, func(i int) int64 { return first + int64(i) }, d.keys)
					d.pre = translog.Prepare(size, d.leaves)
				}
				ch <- d
			}()
			// The fast path: COPY straight into the table, which works
			// when no event of the chunk is stored yet (an import into an
			// empty or growing store); a duplicate fails it, and the
			// chunk goes through the temporary table, skipping duplicates.
			var tag pgconn.CommandTag
			if _, err := tx.Exec(ctx, `SAVEPOINT chunk`); err != nil {
				<-ch
				return err
			}
			copied, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(len(chunk), func(i int) ([]any, error) { return chunk[i][:len(cols)], nil }))
			var pe *pgconn.PgError
			switch {
			case err == nil:
				if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT chunk`); err != nil {
					<-ch
					return err
				}
				tag = pgconn.NewCommandTag("COPY " + strconv.FormatInt(copied, 10))
			case errors.As(err, &pe) && pe.Code == "23505":
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT chunk`); err != nil {
					<-ch
					return err
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, append(append([]string{}, cols...), "ord"), pgx.CopyFromRows(chunk)); err != nil {
					<-ch
					return err
				}
				tag, err = tx.Exec(ctx, `INSERT INTO `+table+` (`+colList+`) SELECT `+colList+` FROM `+tmp+` ORDER BY ord ON CONFLICT DO NOTHING`)
				if err != nil {
					<-ch
					return err
				}
				if _, err := tx.Exec(ctx, `TRUNCATE `+tmp); err != nil {
					<-ch
					return err
				}
			default:
				<-ch
				return err
			}
			d := <-ch
			if d.err != nil {
				return d.err
			}
			n := int(tag.RowsAffected())
			added += n
			if n > 0 {
				var top int64
				if err := tx.QueryRow(ctx, `SELECT max(seq) FROM `+table).Scan(&top); err != nil {
					return err
				}
				if n != len(chunk) || top != first+int64(n)-1 {
					// Some were stored already: log the rows that are new.
					rows, err := tx.Query(ctx, `SELECT `+l.cols+` FROM `+table+` WHERE seq >= $1 ORDER BY seq`, first)
					if err != nil {
						return err
					}
					if d.leaves, err = l.fromRows(rows, d.keys); err != nil {
						return err
					}
					d.pre = nil
				}
				if _, err := appendLogPrepared(ctx, tx, d.leaves, d.pre); err != nil {
					return err
				}
			}
			chunk = chunk[:0]
			return nil
		}
		for e, err := range seq {
			if err != nil {
				return err
			}
			chunk = append(chunk, append(values(&e, now), int64(read)))
			read++
			if len(chunk) == importChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	if err != nil {
		return 0, 0, err
	}
	return read, added, nil
}

// ImportSubjectEvents implements store.Store.
func (s *DB) ImportSubjectEvents(ctx context.Context, evs iter.Seq2[consent.SubjectEvent, error]) (int, int, error) {
	return importEvents(ctx, s.pool, evs, subjectValues, s.keys, subjectLog)
}

// ImportConsentEvents implements store.Store.
func (s *DB) ImportConsentEvents(ctx context.Context, evs iter.Seq2[consent.Event, error]) (int, int, error) {
	return importEvents(ctx, s.pool, evs, consentValues, s.keys, consentLog)
}

// AddSubjectEvents implements store.Store.
func (s *DB) AddSubjectEvents(ctx context.Context, evs []consent.SubjectEvent) (int, error) {
	return s.subjectGroup.Add(ctx, evs)
}

// AddConsentEvents implements store.Store.
func (s *DB) AddConsentEvents(ctx context.Context, evs []consent.Event) (int, error) {
	return s.consentGroup.Add(ctx, evs)
}

// smallGroup is the most events a group stores with one multi-row INSERT
// (the server's single writes) instead of the import's COPY.
const smallGroup = 500

// smallInsert stores a small group of events in one transaction with one
// INSERT … ON CONFLICT DO NOTHING RETURNING seq, key: fewer round trips
// than an import for the few events a group of single writes holds. The
// returned keys say which events were new, and their leaves derive from
// the values written with the sequence numbers returned.
func (s *DB) smallInsert(ctx context.Context, l logKind, rows [][]any, sizes []int) ([]int, error) {
	keys, err := s.subjectKeys(ctx, store.Distinct(rows, func(r *[]any) string { return (*r)[0].(string) }))
	if err != nil {
		return nil, err
	}
	w := len(l.written)
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + l.table + ` (` + strings.Join(l.written, ", ") + `) VALUES `)
	args := make([]any, 0, w*len(rows))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(",")
		}
		q.WriteString("(")
		for c := range w {
			if c > 0 {
				q.WriteString(",")
			}
			fmt.Fprintf(&q, "$%d", w*i+c+1)
		}
		q.WriteString(")")
		args = append(args, r...)
	}
	q.WriteString(` ON CONFLICT DO NOTHING RETURNING seq, key`)
	out := make([]int, len(sizes))
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		clear(out)
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		res, err := tx.Query(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		seqOf := map[string]int64{} // key → sequence number of the new rows
		for res.Next() {
			var seq int64
			var key []byte
			if err := res.Scan(&seq, &key); err != nil {
				res.Close()
				return err
			}
			seqOf[string(key)] = seq
		}
		res.Close()
		if err := res.Err(); err != nil || len(seqOf) == 0 {
			return err
		}
		// The new rows in sequence order, each once, and who wrote them.
		var fresh [][]any
		first := 0
		for b, n := range sizes {
			for _, r := range rows[first : first+n] {
				k := string(r[w-1].([]byte))
				if _, ok := seqOf[k]; ok {
					fresh = append(fresh, r)
					out[b]++
					seqOf[k] = -seqOf[k] // counted; the same event twice counts once
				}
			}
			first += n
		}
		seq := func(i int) int64 { return -seqOf[string(fresh[i][w-1].([]byte))] }
		slices.SortFunc(fresh, func(a, b []any) int {
			return cmp.Compare(-seqOf[string(a[w-1].([]byte))], -seqOf[string(b[w-1].([]byte))])
		})
		_, err = appendLog(ctx, tx, l.fromValues(fresh, seq, keys))
		return err
	})
	return out, err
}

// groupCommit stores concurrent callers' batches together: a small group
// with one INSERT (smallInsert), a large one with one import (one
// transaction, one log append, one commit). When some events of a large
// group were stored already, the new rows (sequence numbers above the
// table's maximum before the import: appends hold logLock) tell each
// caller how many of its own were new.
func groupCommit[E any](ctx context.Context, db *DB, batches [][]E, values func(e *E, now int64) []any, l logKind,
	imp func(context.Context, iter.Seq2[E, error]) (int, int, error)) ([]int, error) {
	now := int64(timestamp.Now())
	sizes := make([]int, len(batches))
	var rows [][]any
	for i, b := range batches {
		sizes[i] = len(b)
		for j := range b {
			rows = append(rows, values(&b[j], now))
		}
	}
	if len(rows) <= smallGroup {
		return db.smallInsert(ctx, l, rows, sizes)
	}
	var before int64
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM `+l.table).Scan(&before); err != nil {
		return nil, err
	}
	all := func(yield func(E, error) bool) {
		for _, b := range batches {
			for _, e := range b {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
	read, added, err := imp(ctx, all)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(batches))
	if added == read {
		copy(out, sizes)
		return out, nil
	}
	// Another process may have committed between reading the maximum and
	// the import taking the lock; should it have stored one of these very
	// events at that moment, the caller counts it as new (it is stored
	// once either way).
	res, err := db.pool.Query(ctx, `SELECT key FROM `+l.table+` WHERE seq > $1`, before)
	if err != nil {
		return nil, err
	}
	fresh := map[string]bool{}
	for res.Next() {
		var k []byte
		if err := res.Scan(&k); err != nil {
			res.Close()
			return nil, err
		}
		fresh[string(k)] = true
	}
	res.Close()
	first := 0
	for i, n := range sizes {
		for _, r := range rows[first : first+n] {
			if k := string(r[len(r)-1].([]byte)); fresh[k] {
				out[i]++
				delete(fresh, k) // the same event twice counts once
			}
		}
		first += n
	}
	return out, res.Err()
}

// ConsentAfter implements store.Store.
func (s *DB) ConsentAfter(ctx context.Context, after int64, limit int) ([]consent.Event, error) {
	var out []consent.Event
	err := s.scanConsent(ctx, `WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{after, limit}, func(r *store.ConsentRow) error {
		out = append(out, r.Event())
		return nil
	})
	return out, err
}

// Delivered implements store.Store.
func (s *DB) Delivered(ctx context.Context, destination string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT delivered FROM deliveries WHERE destination = $1`, destination).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Deliveries implements store.Store.
func (s *DB) Deliveries(ctx context.Context) ([]store.Delivery, error) {
	return list(ctx, s.pool, store.DeliveryList)
}

// SetDelivered implements store.Store.
func (s *DB) SetDelivered(ctx context.Context, destination string, seq int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO deliveries(destination, delivered, updated_at) VALUES ($1,$2,$3)
		ON CONFLICT(destination) DO UPDATE SET delivered = GREATEST(deliveries.delivered, excluded.delivered), updated_at = excluded.updated_at`,
		destination, seq, int64(timestamp.Now()))
	return err
}

// SubjectHistory implements store.Store.
func (s *DB) SubjectHistory(ctx context.Context, subject string) ([]consent.SubjectEvent, error) {
	var out []consent.SubjectEvent
	err := s.scanSubjects(ctx, `WHERE subject = $1 ORDER BY at, seq`, []any{subject}, func(r *store.SubjectRow) error {
		e, err := r.Event()
		out = append(out, e)
		return err
	})
	return out, err
}

// ConsentHistory implements store.Store.
func (s *DB) ConsentHistory(ctx context.Context, subject string) ([]consent.Event, error) {
	var out []consent.Event
	err := s.scanConsent(ctx, `WHERE subject = $1 ORDER BY at, seq`, []any{subject}, func(r *store.ConsentRow) error {
		out = append(out, r.Event())
		return nil
	})
	return out, err
}

// ScanSubjects implements store.Store.
func (s *DB) ScanSubjects(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*store.SubjectRow) error) error {
	if subjects == nil { // every subject: one COPY, in the table's order
		return s.copySubjects(ctx, fn)
	}
	return s.scanSubjects(ctx, `WHERE at <= $1 AND subject = ANY($2) ORDER BY seq`, []any{int64(asOf), subjects}, fn)
}

// ScanConsent implements store.Store.
func (s *DB) ScanConsent(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*store.ConsentRow) error) error {
	if subjects == nil {
		return s.copyConsent(ctx, asOf, fn)
	}
	return s.scanConsent(ctx, `WHERE at <= $1 AND subject = ANY($2) ORDER BY seq`, []any{int64(asOf), subjects}, fn)
}

func (s *DB) scanSubjects(ctx context.Context, where string, args []any, fn func(*store.SubjectRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+subjectCols+` FROM subject_events `+where, args...)
	if err != nil {
		return err
	}
	return eachSubject(rows, fn)
}

// subjectCols are the columns eachSubject scans.
const subjectCols = `seq, subject, at, region_set, region, attrs`

func eachSubject(rows pgx.Rows, fn func(*store.SubjectRow) error) error {
	defer rows.Close()
	var r store.SubjectRow
	var at int64
	for rows.Next() {
		if err := rows.Scan(&r.Seq, &r.Subject, &at, &r.RegionSet, &r.Region, &r.Attrs); err != nil {
			return err
		}
		r.At = timestamp.Time(at)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *DB) scanConsent(ctx context.Context, where string, args []any, fn func(*store.ConsentRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+consentCols+` FROM consent_events `+where, args...)
	if err != nil {
		return err
	}
	return eachConsent(rows, fn)
}

// consentCols are the columns eachConsent scans.
const consentCols = `seq, subject, purpose, recipient, state, at, source, policy, notice`

func eachConsent(rows pgx.Rows, fn func(*store.ConsentRow) error) error {
	defer rows.Close()
	var r store.ConsentRow
	var at int64
	var st int16
	for rows.Next() {
		if err := rows.Scan(&r.Seq, &r.Subject, &r.Purpose, &r.Recipient, &st, &at, &r.Source, &r.Policy, &r.Notice); err != nil {
			return err
		}
		r.At, r.State = timestamp.Time(at), policy.State(st)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EventCounts implements store.Store.
func (s *DB) EventCounts(ctx context.Context) (subjects, consent int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce((SELECT max(seq) FROM subject_events), 0), coalesce((SELECT max(seq) FROM consent_events), 0)`).Scan(&subjects, &consent)
	return subjects, consent, err
}

// SubjectNumber implements store.Store.
func (s *DB) SubjectNumber(ctx context.Context, subject string) (int64, bool, error) {
	var n *int64
	err := s.pool.QueryRow(ctx, `SELECT min(seq) FROM subject_events WHERE subject = $1`, subject).Scan(&n)
	if err != nil || n == nil {
		return 0, false, err
	}
	return *n, true, nil
}

// ImpactMarks implements store.Store.
func (s *DB) ImpactMarks(ctx context.Context) ([]store.ImpactMark, error) {
	return list(ctx, s.pool, store.ImpactMarkList)
}

// Exports implements store.Store.
func (s *DB) Exports(ctx context.Context) ([]store.Export, error) {
	return list(ctx, s.pool, store.ExportList)
}

// list runs one of the store's listings, with its parameters.
func list[T any](ctx context.Context, pool *pgxpool.Pool, l store.List[T], args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, l.Query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return l.Collect(rows)
}

// classified passes a result on with its error in the store's terms
// (Condition) when it has one.
func classified[T any](v T, err error) (T, error) {
	if c := Condition(err); c != nil {
		return v, fmt.Errorf("%w: %v", c, err)
	}
	return v, err
}

// Condition maps what PostgreSQL answers a write with to the store's
// sentinels: store.ErrBusy when a lock was not had within the busy timeout
// (or the transaction lost a race it may retry), store.ErrFull when the
// server's disk is full; nil for anything else.
func Condition(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "55P03", "40001", "40P01": // lock_not_available, serialization_failure, deadlock_detected
			return store.ErrBusy
		case "53100": // disk_full
			return store.ErrFull
		}
	}
	return nil
}
