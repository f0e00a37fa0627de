package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// TestStoreBeforeNotedPolicy: a schema made before consent events noted a
// policy version is outdated for a read-only session and migrated by a
// writing one; its rows read as noting nothing and its log verifies as it
// was, beside events noting a version.
func TestStoreBeforeNotedPolicy(t *testing.T) {
	ctx := context.Background()
	ks := freshKeys(t)
	admin, schema, url := freshSchema(t)
	s, err := postgres.Open(ctx, url, ks)
	if err != nil {
		t.Fatal(err)
	}
	var evs []consent.Event
	for i := range 700 {
		evs = append(evs, consent.Event{Subject: fmt.Sprint("u", i%70), Purpose: "p", State: policy.State(1 + i%2), At: timestamp.Time(i), Source: "settings"})
	}
	if _, err := s.AddConsentEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The schema as the consentgate before left it.
	s = reopenOlder(t, admin, url, ks, `ALTER TABLE `+schema+`.consent_events DROP COLUMN policy, DROP COLUMN notice`,
		`DELETE FROM `+schema+`.schema_migrations WHERE version = 'migrations/0007_consent_policy.sql'`)
	if _, err := s.AddConsentEvents(ctx, []consent.Event{{Subject: "u1", Purpose: "p", State: policy.Denied, At: 9000, Source: "api",
		Policy: "v1", Notice: "https://example.com/v1"}}); err != nil {
		t.Fatal(err)
	}
	all, err := ks.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil); err != nil || rep.Leaves["consent"] != 701 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	h, err := s.ConsentHistory(ctx, "u1")
	if err != nil || len(h) < 2 || h[0].Policy != "" || h[len(h)-1].Policy != "v1" || h[len(h)-1].Notice != "https://example.com/v1" {
		t.Fatalf("history %+v %v", h, err)
	}
	// A version edited in the row is caught.
	if _, err := admin.Exec(ctx, `UPDATE `+schema+`.consent_events SET policy = 'v0' WHERE policy = 'v1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil); err == nil {
		t.Fatal("an edited version verifies")
	}
}
