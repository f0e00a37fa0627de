package store

// Rows is what database/sql's and pgx's query results both offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// A List is a query that the SQL stores run as it is, with the scan of one
// row: one definition of each listing for both. Its parameters, if any,
// are $1, $2, … (both SQLite and PostgreSQL take them), as its doc says.
type List[T any] struct {
	Query string
	scan  func(r Rows, v *T) error
}

// Collect scans every row.
func (l List[T]) Collect(rows Rows) ([]T, error) {
	var out []T
	for rows.Next() {
		var v T
		if err := l.scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// The listings of the storage contract.
var (
	PolicyList = List[Policy]{
		`SELECT version, effective_from, source, digest, published_at, forced FROM policies ORDER BY effective_from, published_at, version`,
		func(r Rows, p *Policy) error {
			return r.Scan(&p.Version, (*int64)(&p.EffectiveFrom), &p.Source, &p.Digest, (*int64)(&p.PublishedAt), &p.Forced)
		}}
	ExportList = List[Export]{
		`SELECT id, created_at, purpose, recipient, as_of, status, manifest, subjects, data_digest, dir, manifest_path, owner, lease_until FROM exports ORDER BY created_at, id`,
		func(r Rows, e *Export) error {
			return r.Scan(&e.ID, (*int64)(&e.CreatedAt), &e.Purpose, &e.Recipient, (*int64)(&e.AsOf), &e.Status, &e.Manifest, &e.Subjects, &e.DataDigest,
				&e.Dir, &e.ManifestPath, &e.Owner, (*int64)(&e.LeaseUntil))
		}}
	// LoggedExportList is the exports logged whose files were not yet
	// renamed into place (a crash, or one in progress).
	LoggedExportList = List[Export]{
		`SELECT id, created_at, purpose, recipient, as_of, status, manifest, subjects, data_digest, dir, manifest_path, owner, lease_until FROM exports WHERE status = 'logged' OR data_digest IS NULL ORDER BY created_at, id`,
		ExportList.scan}
	ImpactMarkList = List[ImpactMark]{
		`SELECT seq, export_id, subject, status, note, at FROM impact_marks ORDER BY seq`,
		func(r Rows, m *ImpactMark) error {
			return r.Scan(&m.Seq, &m.ExportID, &m.Subject, &m.Status, &m.Note, (*int64)(&m.At))
		}}
	ErasureList = List[Erasure]{
		`SELECT seq, subject, salt, at, rows_digest FROM erasures ORDER BY seq`,
		func(r Rows, e *Erasure) error {
			return r.Scan(&e.Seq, &e.Subject, &e.Salt, (*int64)(&e.At), &e.RowsDigest)
		}}
	NoticeList = List[Notice]{
		`SELECT seq, id, export_id, recipient, issued_at, deadline, body FROM notices ORDER BY seq`,
		scanNotice}
	// NoticesAfterList takes the recipient ($1), the Seq after which ($2)
	// and the most to list ($3).
	NoticesAfterList = List[Notice]{
		`SELECT seq, id, export_id, recipient, issued_at, deadline, body FROM notices WHERE recipient = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		scanNotice}
	NoticeAnswerList = List[NoticeAnswer]{
		`SELECT seq, notice_id, status, note, by, at FROM notice_answers ORDER BY seq`,
		func(r Rows, a *NoticeAnswer) error {
			return r.Scan(&a.Seq, &a.NoticeID, &a.Status, &a.Note, &a.By, (*int64)(&a.At))
		}}
	LineageRunList = List[LineageRun]{
		`SELECT seq, export_id, namespace, job, run_id, at, producer FROM lineage_runs ORDER BY seq`,
		func(r Rows, l *LineageRun) error {
			return r.Scan(&l.Seq, &l.ExportID, &l.Namespace, &l.Job, &l.RunID, (*int64)(&l.At), &l.Producer)
		}}
	CheckpointList = List[Checkpoint]{
		`SELECT size, note, at FROM checkpoints ORDER BY size`,
		func(r Rows, c *Checkpoint) error {
			return r.Scan(&c.Size, &c.Note, (*int64)(&c.At))
		}}
	TokenList = List[Token]{
		`SELECT hash, role, subject, created_at, coalesce(revoked_at, 0) FROM tokens ORDER BY created_at, hash`,
		func(r Rows, t *Token) error {
			return r.Scan(&t.Hash, &t.Role, &t.Subject, (*int64)(&t.CreatedAt), (*int64)(&t.RevokedAt))
		}}
	DeliveryList = List[Delivery]{
		// A notices destination ("notices:RECIPIENT:…") counts its
		// recipient's notices; any other, the consent events.
		`SELECT destination, delivered, CASE WHEN destination LIKE 'notices:%'
			THEN (SELECT count(*) FROM notices n WHERE n.seq > delivered AND substr(destination, 1, length(n.recipient) + 9) = 'notices:' || n.recipient || ':')
			ELSE (SELECT count(*) FROM consent_events WHERE seq > delivered) END, updated_at FROM deliveries ORDER BY destination`,
		func(r Rows, d *Delivery) error {
			return r.Scan(&d.Destination, &d.Delivered, &d.Pending, (*int64)(&d.UpdatedAt))
		}}
)

func scanNotice(r Rows, n *Notice) error {
	return r.Scan(&n.Seq, &n.ID, &n.ExportID, &n.Recipient, (*int64)(&n.IssuedAt), (*int64)(&n.Deadline), &n.Body)
}

// Distinct returns the distinct subjects of a slice, in first-seen order:
// whose log keys a write needs.
func Distinct[E any](evs []E, subject func(*E) string) []string {
	seen := make(map[string]struct{}, len(evs))
	var out []string
	for i := range evs {
		s := subject(&evs[i])
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
