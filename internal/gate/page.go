package gate

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/consentgate/consentgate/internal/impact"
)

// The page sizes of a list: DefaultLimit items when the request names
// none, at most MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageRequest asks for one page of a list: at most Limit items (0:
// DefaultLimit), after the Cursor a previous page gave (none: from the
// start).
type PageRequest struct {
	Limit  int
	Cursor string
}

// Page is one page of a list, in the list's order; Next, when not empty,
// is the cursor of the page after it.
type Page[T any] struct {
	Items []T
	Next  string
}

// ParsePage reads a page request as a front end receives it, as text
// (limit "" for the default); a limit out of 1…MaxLimit is invalid.
func ParsePage(limit, cursor string) (PageRequest, error) {
	pr := PageRequest{Limit: DefaultLimit, Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLimit {
			return PageRequest{}, Errorf(Invalid, NoHint, "limit %q: expected a whole number from 1 to %d", limit, MaxLimit)
		}
		pr.Limit = n
	}
	if _, _, err := decodeCursor(cursor); err != nil {
		return PageRequest{}, err
	}
	return pr, nil
}

// Paginate gives the page of items that req asks for; key names an item
// uniquely within the list. The cursor is opaque to clients: it holds
// the last item's position and key, so that a page resumes after that
// item even when items were added before it meanwhile (they are not
// repeated; one added before the cursor is not shown either).
func Paginate[T any](items []T, req PageRequest, key func(T) string) (Page[T], error) {
	limit := req.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	start := 0
	if req.Cursor != "" {
		offset, last, err := decodeCursor(req.Cursor)
		if err != nil {
			return Page[T]{}, err
		}
		switch {
		case offset >= 1 && offset <= len(items) && key(items[offset-1]) == last:
			start = offset
		default:
			start = -1
			for i, it := range items {
				if key(it) == last {
					start = i + 1
					break
				}
			}
			if start < 0 {
				return Page[T]{}, Errorf(Invalid, NoHint, "the cursor names an item the list no longer holds: start again without it")
			}
		}
	}
	end := min(start+limit, len(items))
	out := Page[T]{Items: items[start:end]}
	if out.Items == nil {
		out.Items = []T{}
	}
	if end < len(items) {
		out.Next = encodeCursor(end, key(items[end-1]))
	}
	return out, nil
}

func encodeCursor(offset int, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + key))
}

func decodeCursor(c string) (int, string, error) {
	if c == "" {
		return 0, "", nil
	}
	bad := Errorf(Invalid, NoHint, "cursor %.40q: not a cursor this list gave", c)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	o, key, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(o)
	if !ok || err != nil || n < 1 {
		return 0, "", bad
	}
	return n, key, nil
}

// The keys that name an item of each list uniquely, for Paginate.
var (
	ExportKey       = func(e ExportInfo) string { return e.ID }
	PolicyKey       = func(p PolicyInfo) string { return p.Version }
	ConsentEventKey = func(e ConsentEvent) string { return strconv.FormatInt(e.Seq, 10) }
	ReportKey       = func(e ReportEntry) string { return e.ExportID }
	NoticeKey       = func(n Notice) string { return n.ID }
	AftermathKey    = func(a Aftermath) string { return a.ExportID }
	ImpactKey       = func(it impact.Item) string { return it.ExportID + "\x00" + it.Subject }
)
