package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/consentgate/consentgate/internal/httpapi"
)

func init() {
	// The media types the document names beside JSON and text.
	openapi3filter.RegisterBodyDecoder("application/schema+json", openapi3filter.JSONBodyDecoder)
}

// loadDocument loads openapi.json with kin-openapi and validates it as
// the OpenAPI version it declares (3.1: its schemas are JSON Schema
// 2020-12).
func loadDocument(t testing.TB) *openapi3.T {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI %s document: %v", doc.OpenAPI, err)
	}
	return doc
}

var (
	strictOnce sync.Once
	strictDoc  *openapi3.T
	strictErr  error
)

// strictDocument is the document as the tests hold the server to it:
// every object schema that lists its properties and says nothing of
// others is closed (additionalProperties: false), so that an answer
// carrying a field the document does not describe fails. (The document
// itself leaves them open, so that a client generated from it accepts
// fields added later.)
func strictDocument(t testing.TB) *openapi3.T {
	t.Helper()
	strictOnce.Do(func() {
		b, err := os.ReadFile("openapi.json")
		if err != nil {
			strictErr = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			strictErr = err
			return
		}
		seen := map[*openapi3.Schema]bool{}
		var closeSchema func(s *openapi3.SchemaRef, inAllOf bool)
		closeSchema = func(sr *openapi3.SchemaRef, inAllOf bool) {
			if sr == nil || sr.Value == nil || seen[sr.Value] {
				return
			}
			s := sr.Value
			seen[s] = true
			if !inAllOf && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
				no := false
				s.AdditionalProperties.Has = &no
			}
			for _, p := range s.Properties {
				closeSchema(p, false)
			}
			closeSchema(s.Items, false)
			closeSchema(s.AdditionalProperties.Schema, false)
			for _, x := range s.AnyOf {
				closeSchema(x, false)
			}
			for _, x := range s.OneOf {
				closeSchema(x, false)
			}
			for _, x := range s.AllOf {
				closeSchema(x, true)
			}
		}
		for _, c := range doc.Components.Schemas {
			closeSchema(c, false)
		}
		for _, pi := range doc.Paths.Map() {
			for _, op := range pi.Operations() {
				for _, r := range op.Responses.Map() {
					if r.Value == nil {
						continue
					}
					for _, mt := range r.Value.Content {
						closeSchema(mt.Schema, false)
					}
				}
			}
		}
		strictDoc = doc
	})
	if strictErr != nil {
		t.Fatalf("openapi.json: %v", strictErr)
	}
	return strictDoc
}

// responseChecker finds the operation a request was routed to the way
// the server routes it (a ServeMux over the served routes, so that the
// tile path's {path...} matches as it does there) and validates the
// response against it with openapi3filter.
type responseChecker struct {
	doc *openapi3.T
	mux *http.ServeMux
	ops map[string]string // served pattern → the document's path
}

var wildcard = regexp.MustCompile(`\{(\w+)\.\.\.\}`)

func newResponseChecker(t testing.TB, srv *httpapi.Server) *responseChecker {
	c := &responseChecker{doc: strictDocument(t), mux: http.NewServeMux(), ops: map[string]string{}}
	for _, r := range srv.Routes() {
		pattern := r.Method + " " + r.Path
		c.ops[pattern] = wildcard.ReplaceAllString(r.Path, "{$1}")
		c.mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	}
	return c
}

// check validates one response (its status, headers and body) against
// the document; a request no route serves must be answered by the
// document's Error.
func (c *responseChecker) check(req *http.Request, resp *http.Response, body []byte) error {
	_, pattern := c.mux.Handler(req)
	path, ok := c.ops[pattern]
	if !ok {
		if resp.StatusCode < 400 {
			return fmt.Errorf("%s %s: %d from no route the server lists", req.Method, req.URL.Path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return nil // (the server's own 404 and 405 until they answer JSON)
		}
		return c.doc.Components.Schemas["Error"].Value.VisitJSON(decodeJSON(body), openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse())
	}
	pi := c.doc.Paths.Value(path)
	if pi == nil || pi.GetOperation(req.Method) == nil {
		return fmt.Errorf("%s %s is served but not in openapi.json", req.Method, path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route:   &routers.Route{Spec: c.doc, Path: path, PathItem: pi, Method: req.Method, Operation: pi.GetOperation(req.Method)},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d %s: %w", req.Method, req.URL, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return nil
}

func decodeJSON(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

// TestOpenAPIDocument is the document's linter (CI runs it with go test):
// it is valid OpenAPI by kin-openapi, and complete by the project's own
// rules: servers; every operation has an operationId (unique), a
// summary, a schema for each answer and error it documents, its 4xx
// answers (401 and 403 behind a token), and every list its page
// parameters.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadDocument(t)
	if len(doc.Servers) == 0 {
		t.Error("the document names no servers")
	}
	ids := map[string]string{}
	for path, pi := range doc.Paths.Map() {
		for method, op := range pi.Operations() {
			name := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", name)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", name, other, op.OperationID)
			}
			ids[op.OperationID] = name
			if op.Summary == "" {
				t.Errorf("%s has no summary", name)
			}
			has4xx := false
			for code, r := range op.Responses.Map() {
				if strings.HasPrefix(code, "4") {
					has4xx = true
				}
				if r.Value == nil {
					t.Errorf("%s %s: unresolved", name, code)
					continue
				}
				if len(r.Value.Content) == 0 && code != "204" {
					t.Errorf("%s %s documents no content", name, code)
				}
				for mt, m := range r.Value.Content {
					if m.Schema == nil || m.Schema.Value == nil {
						t.Errorf("%s %s %s has no schema", name, code, mt)
						continue
					}
					if s := m.Schema.Value; s.Type.Is("object") && len(s.Properties) == 0 && s.AdditionalProperties.Schema == nil && len(s.AllOf) == 0 && len(s.OneOf) == 0 && len(s.AnyOf) == 0 {
						t.Errorf("%s %s %s is a bare object: describe it", name, code, mt)
					}
				}
			}
			if !has4xx && (len(op.Parameters) > 0 || len(pi.Parameters) > 0 || op.RequestBody != nil) {
				t.Errorf("%s documents no 4xx answer", name)
			}
			authed := op.Security == nil && len(doc.Security) > 0 || op.Security != nil && len(*op.Security) > 0
			if authed {
				for _, code := range []string{"401", "403"} {
					if op.Responses.Value(code) == nil {
						t.Errorf("%s is behind a token but documents no %s", name, code)
					}
				}
			}
			if op.Extensions["x-list"] != nil || slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value != nil && p.Value.Name == "cursor" }) {
				for _, want := range []string{"limit", "cursor"} {
					if !slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value != nil && p.Value.Name == want }) {
						t.Errorf("%s is a list without %s", name, want)
					}
				}
			}
		}
	}
}

// TestResponseCheckerRefuses: the check every test's answers go through
// fails an answer the document does not describe: an undocumented
// status, a field it does not list, a missing required field, a wrong
// media type.
func TestResponseCheckerRefuses(t *testing.T) {
	w := newWorld(t)
	c := newResponseChecker(t, w.srv)
	req, _ := http.NewRequest("GET", w.url+"/v1/policies", nil)
	for _, bad := range []struct {
		status int
		ct     string
		body   string
	}{
		{418, "application/json", `{"error":{"code":"x","message":"y"}}`},
		{200, "application/json", `{"policies":[],"extra":1}`},
		{200, "application/json", `{"next":"x"}`},
		{200, "text/plain", `{"policies":[]}`},
		{401, "application/json", `{"message":"no"}`},
	} {
		resp := &http.Response{StatusCode: bad.status, Header: http.Header{"Content-Type": {bad.ct}, "X-Content-Type-Options": {"nosniff"}, "Cache-Control": {"no-store"}}}
		if err := c.check(req, resp, []byte(bad.body)); err == nil {
			t.Errorf("%d %s %s passed", bad.status, bad.ct, bad.body)
		}
	}
	ok := http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"}, "Cache-Control": {"no-store"}}
	if err := c.check(req, &http.Response{StatusCode: 200, Header: ok}, []byte(`{"policies":[],"next":"x"}`)); err != nil {
		t.Errorf("a documented answer: %v", err)
	}
	ok.Del("Cache-Control")
	if err := c.check(req, &http.Response{StatusCode: 200, Header: ok}, []byte(`{"policies":[]}`)); err == nil {
		t.Errorf("an authenticated answer without Cache-Control: no-store passed")
	}
}
