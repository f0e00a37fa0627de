package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPagination: every list answers pages of ?limit= items, each with
// the next page's cursor while more remain, and together exactly the
// list; a limit out of 1…1000 and a cursor the list did not give are 400,
// never ignored.
func TestPagination(t *testing.T) {
	w := newWorld(t)
	for i := range 5 {
		publish(t, w.g, strings.Replace(strings.Replace(testPolicy, `version: "v1"`, fmt.Sprintf(`version: "v%d"`, i+2), 1),
			"effective_from: 2020-01-01T00:00:00Z", fmt.Sprintf("effective_from: 202%d-01-01T00:00:00Z", i+1), 1))
	}
	for _, state := range []string{"denied", "granted", "denied", "granted", "denied"} {
		w.json("operator", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","recipient":"third_party","state":"`+state+`"}`, 201)
	}
	// pages reads a list whole, limit items a page, and the number of pages.
	pages := func(path, field string, limit int) ([]any, int) {
		var all []any
		cursor, n := "", 0
		for {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			q := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			v := w.json("admin", "GET", q, "", 200)
			items, _ := v[field].([]any)
			if len(items) > limit {
				t.Fatalf("%s: %d items, limit %d", q, len(items), limit)
			}
			all = append(all, items...)
			n++
			next, _ := v["next"].(string)
			if next == "" {
				return all, n
			}
			if len(items) != limit {
				t.Fatalf("%s: a page of %d before the last, limit %d", q, len(items), limit)
			}
			cursor = next
		}
	}
	for _, c := range []struct {
		path, field string
		want        int
	}{
		{"/v1/policies", "policies", 6},
		{"/v1/subjects/ana/consents/history", "events", 5},
		{"/v1/exports", "exports", 0},
		{"/v1/impact", "items", 0},
		{"/v1/notices", "notices", 0},
		{"/v1/subjects/ana/report", "exports", 0},
		{"/v1/subjects/ana/notices", "after_opt_out", 0},
	} {
		whole, one := pages(c.path, c.field, 1000)
		if len(whole) != c.want || one != 1 {
			t.Errorf("%s: %d items in %d pages, want %d in one", c.path, len(whole), one, c.want)
		}
		for _, limit := range []int{1, 2, 4} {
			got, n := pages(c.path, c.field, limit)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(whole)
			if string(a) != string(b) || c.want > 0 && n != (c.want+limit-1)/limit {
				t.Errorf("%s by %d: %d pages of %s, want %s", c.path, limit, n, a, b)
			}
		}
		// Without a limit, the default: the whole of these short lists.
		if v := w.json("admin", "GET", c.path, "", 200); v["next"] != nil {
			t.Errorf("%s: a next page under the default limit: %v", c.path, v["next"])
		}
		for _, bad := range []string{"limit=0", "limit=1001", "limit=-1", "limit=ten", "cursor=x", "cursor=" + url.QueryEscape("MTpub3RoZXJl")} {
			code, b := w.do("admin", "GET", c.path+"?"+bad, "")
			if code != http.StatusBadRequest || !strings.Contains(string(b), `"invalid"`) {
				t.Errorf("%s?%s: %d %s, want 400", c.path, bad, code, b)
			}
		}
	}
	// The default and the largest limit are the document's.
	doc := loadDocument(t)
	limit := doc.Components.Parameters["Limit"].Value.Schema.Value
	if *limit.Max != 1000 || *limit.Min != 1 || limit.Default != float64(100) {
		t.Errorf("openapi.json's limit: %v…%v default %v", *limit.Min, *limit.Max, limit.Default)
	}
}
